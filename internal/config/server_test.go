package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/governance"
)

func TestServerFromFileWithDefaultsAndEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vulnpilot.yaml")
	hash := governance.HashToken("secret-token")
	yaml := `server:
  transport: http
  addr: 127.0.0.1:9000
  toolsets: [risk]
  roles:
    auditor: [risk:read]
  tokens:
    - {name: alice, role: analyst, sha256: ` + hash + `}
    - {name: audit-bot, role: auditor, sha256: ` + governance.HashToken("other") + `}
  oauth:
    authorization_servers: [https://login.example.com]
  public_url: https://mcp.example.com
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, envOf(map[string]string{"HOME": dir}))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Server.WithDefaults()
	if s.Transport != "http" || s.Addr != "127.0.0.1:9000" || s.Refresh != DefaultServerRefresh || s.Stdio.Role != "analyst" {
		t.Fatalf("defaults: %+v", s)
	}
	env := envOf(map[string]string{"VULNPILOT_MCP_TOOLSETS": "falcon, risk", "VULNPILOT_MCP_READ_ONLY": "true", "VULNPILOT_MCP_REFRESH": "5m"})
	if err := s.ApplyEnv(env); err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.Toolsets, "|") != "falcon|risk" || !s.ReadOnly || s.Refresh != 5*time.Minute {
		t.Fatalf("env not applied: %+v", s)
	}
	roles, tokens, err := s.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if tokens.Len() != 2 {
		t.Fatalf("%d tokens", tokens.Len())
	}
	id, ok := tokens.Authenticate("other")
	if !ok || id.Name != "audit-bot" || !id.Has(governance.RiskRead) || id.Has(governance.SpotlightRead) {
		t.Fatalf("custom role token: %+v %v", id, ok)
	}
	if _, ok := roles.Scopes("auditor"); !ok {
		t.Fatal("custom role missing")
	}
}

func TestServerRefreshZeroMeansNever(t *testing.T) {
	s := Server{Refresh: -1}.WithDefaults()
	if s.Refresh != 0 {
		t.Fatalf("refresh %s", s.Refresh)
	}
	s = Server{}
	if err := s.ApplyEnv(envOf(map[string]string{"VULNPILOT_MCP_REFRESH": "0"})); err != nil {
		t.Fatal(err)
	}
	if s.WithDefaults().Refresh != 0 {
		t.Fatal("VULNPILOT_MCP_REFRESH=0 should disable refresh")
	}
	if _, _, err := s.WithDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestServerValidateErrors(t *testing.T) {
	good := governance.HashToken("t")
	tests := []struct {
		name string
		s    Server
		want []string
	}{
		{"transport", Server{Transport: "sse"}, []string{`server.transport: "sse" is not one of stdio, http`}},
		{"addr", Server{Addr: "localhost"}, []string{`server.addr: "localhost" is not host:port`}},
		{"addr host", Server{Addr: "example.com:80"}, []string{`server.addr: host "example.com" must be an IP address or localhost`}},
		{"tls", Server{TLSCert: "c.pem"}, []string{"server.tls_cert and server.tls_key: give both"}},
		{"refresh", Server{Refresh: 10 * time.Second}, []string{"server.refresh: 10s is out of range 1m0s–168h0m0s"}},
		{"http without tokens", Server{Transport: "http"}, []string{"server.tokens: the http transport needs at least one token"}},
		{"bad token", Server{Tokens: []ServerToken{{Name: "a", Role: "analyst", SHA256: "xyz"}}}, []string{"server.tokens[0] (a): sha256 must be 64 hex digits"}},
		{"token role", Server{Tokens: []ServerToken{{Name: "a", Role: "root", SHA256: good}}}, []string{`server.tokens[0] (a): role "root" does not exist; roles: admin, analyst`}},
		{"token name", Server{Tokens: []ServerToken{{Role: "viewer", SHA256: good}}}, []string{"server.tokens[0]: name is empty"}},
		{"stdio role", Server{Stdio: StdioIdentity{Role: "boss"}}, []string{`server.stdio: role "boss" does not exist`}},
		{"role scope", Server{Roles: map[string][]string{"x": {"falcon:all"}}}, []string{`server.roles.x: "falcon:all" is not a scope; allowed: spotlight:read`}},
		{"oauth", Server{OAuth: OAuth{AuthorizationServers: []string{"http://idp"}}}, []string{
			`server.oauth.authorization_servers[0]: "http://idp" must be an https issuer URL`,
			"server.public_url: required when server.oauth.authorization_servers is set"}},
		{"origin", Server{AllowedOrigins: []string{"claude.ai"}}, []string{`server.allowed_origins[0]: "claude.ai" must be scheme://host[:port]`}},
		{"public url", Server{PublicURL: "ftp://x"}, []string{`server.public_url: "ftp://x" must be an http(s) URL`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := tc.s.WithDefaults().Validate()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestServerApplyEnvErrors(t *testing.T) {
	var s Server
	err := s.ApplyEnv(envOf(map[string]string{"VULNPILOT_MCP_READ_ONLY": "maybe", "VULNPILOT_MCP_REFRESH": "often"}))
	if err == nil || !strings.Contains(err.Error(), `VULNPILOT_MCP_READ_ONLY: "maybe" is not true or false`) ||
		!strings.Contains(err.Error(), `VULNPILOT_MCP_REFRESH: "often" is not a duration`) {
		t.Fatalf("err %v", err)
	}
}
