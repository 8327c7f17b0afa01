package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/governance"
)

// Server configures `vulnpilot serve` (the MCP server). Flags override the
// environment, which overrides the file (see ApplyEnv).
type Server struct {
	// Transport is "stdio" (Claude Desktop and other local clients) or
	// "http" (streamable HTTP at /mcp with bearer tokens).
	Transport string `yaml:"transport"`
	// Addr is the HTTP listen address (default 127.0.0.1:8765).
	Addr string `yaml:"addr"`
	// TLSCert and TLSKey enable HTTPS; both or neither.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// PublicURL is the URL clients use to reach the server (e.g.
	// https://mcp.example.com); its host is allowed in Host headers and it is
	// the OAuth resource identifier. Empty: the listen address.
	PublicURL string `yaml:"public_url"`
	// AllowedHosts are extra Host header values to accept (loopback names
	// are always accepted).
	AllowedHosts []string `yaml:"allowed_hosts"`
	// AllowedOrigins are browser origins (scheme://host[:port]) allowed to
	// call the server; a request with any other Origin is refused. Loopback
	// origins are always allowed.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// Refresh is how often the risk snapshot is rebuilt; 0 disables refresh.
	Refresh time.Duration `yaml:"refresh"`
	// Scope is an FQL filter ANDed to the snapshot's pull (default: run.filter).
	Scope string `yaml:"scope"`
	// Toolsets, Tools, ExcludeTools and ReadOnly select the tools served
	// (see `vulnpilot serve -h` for the precedence).
	Toolsets     []string `yaml:"toolsets"`
	Tools        []string `yaml:"tools"`
	ExcludeTools []string `yaml:"exclude_tools"`
	ReadOnly     bool     `yaml:"read_only"`
	// Stdio is the identity a stdio session runs as.
	Stdio StdioIdentity `yaml:"stdio"`
	// Roles override or extend the built-in roles (role → scopes).
	Roles map[string][]string `yaml:"roles"`
	// Tokens are the HTTP bearer tokens, stored as SHA-256 hashes.
	Tokens []ServerToken `yaml:"tokens"`
	// OAuth, when it names an authorization server, makes the server publish
	// OAuth 2.0 protected-resource metadata (RFC 9728).
	OAuth OAuth `yaml:"oauth"`
}

// StdioIdentity is the local identity of stdio sessions.
type StdioIdentity struct {
	Name string `yaml:"name"`
	Role string `yaml:"role"`
}

// ServerToken is one HTTP bearer token: who holds it, their role, and the
// token's hex SHA-256 (`vulnpilot serve --hash-token` prints it).
type ServerToken struct {
	Name   string `yaml:"name"`
	Role   string `yaml:"role"`
	SHA256 string `yaml:"sha256"`
}

// OAuth describes the authorization server clients should use.
type OAuth struct {
	AuthorizationServers []string `yaml:"authorization_servers"`
	ScopesSupported      []string `yaml:"scopes_supported"`
	Documentation        string   `yaml:"documentation"`
}

// Transports are the accepted values of server.transport.
var Transports = []string{"stdio", "http"}

// Server defaults.
const (
	DefaultServerAddr    = "127.0.0.1:8765"
	DefaultServerRefresh = 15 * time.Minute
	DefaultStdioName     = "local"
	DefaultStdioRole     = governance.RoleAnalyst
	MinServerRefresh     = time.Minute
	MaxServerRefresh     = 7 * 24 * time.Hour
)

// WithDefaults fills the unset fields. YAML cannot tell "0" from "absent",
// so a zero Refresh means the default and "never refresh" is written as a
// negative duration (refresh: -1s, or --refresh 0 on the command line); it
// becomes 0 here.
func (s Server) WithDefaults() Server {
	if s.Transport == "" {
		s.Transport = "stdio"
	}
	if s.Addr == "" {
		s.Addr = DefaultServerAddr
	}
	switch {
	case s.Refresh == 0:
		s.Refresh = DefaultServerRefresh
	case s.Refresh < 0:
		s.Refresh = 0
	}
	if s.Stdio.Name == "" {
		s.Stdio.Name = DefaultStdioName
	}
	if s.Stdio.Role == "" {
		s.Stdio.Role = DefaultStdioRole
	}
	return s
}

// ApplyEnv applies VULNPILOT_MCP_* variables: TRANSPORT, ADDR, TOOLSETS,
// TOOLS, EXCLUDE_TOOLS (comma-separated), READ_ONLY (true/false), REFRESH
// (a duration). A malformed value is an error naming the variable.
func (s *Server) ApplyEnv(env Env) error {
	get := func(name string) (string, bool) {
		v, ok := env(name)
		return strings.TrimSpace(v), ok && strings.TrimSpace(v) != ""
	}
	if v, ok := get("VULNPILOT_MCP_TRANSPORT"); ok {
		s.Transport = v
	}
	if v, ok := get("VULNPILOT_MCP_ADDR"); ok {
		s.Addr = v
	}
	if v, ok := get("VULNPILOT_MCP_TOOLSETS"); ok {
		s.Toolsets = SplitList(v)
	}
	if v, ok := get("VULNPILOT_MCP_TOOLS"); ok {
		s.Tools = SplitList(v)
	}
	if v, ok := get("VULNPILOT_MCP_EXCLUDE_TOOLS"); ok {
		s.ExcludeTools = SplitList(v)
	}
	var errs []error
	if v, ok := get("VULNPILOT_MCP_READ_ONLY"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("VULNPILOT_MCP_READ_ONLY: %q is not true or false", v))
		}
		s.ReadOnly = b
	}
	if v, ok := get("VULNPILOT_MCP_REFRESH"); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("VULNPILOT_MCP_REFRESH: %q is not a duration such as 15m", v))
		} else if d == 0 {
			d = -1
		}
		s.Refresh = d
	}
	return errors.Join(errs...)
}

// SplitList splits a comma-separated list, dropping blanks.
func SplitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Validate checks a Server after WithDefaults; errors name the field
// (server.<field>) and what is allowed. Role and token checks need the role
// table, so Validate builds it: the result is what the server runs with.
func (s Server) Validate() (*governance.Roles, *governance.Tokens, error) {
	var errs []error
	if !slices.Contains(Transports, s.Transport) {
		errs = append(errs, fmt.Errorf("server.transport: %q is not one of %s", s.Transport, strings.Join(Transports, ", ")))
	}
	if host, port, err := net.SplitHostPort(s.Addr); err != nil {
		errs = append(errs, fmt.Errorf("server.addr: %q is not host:port (e.g. 127.0.0.1:8765)", s.Addr))
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		errs = append(errs, fmt.Errorf("server.addr: port %q is not a number 0–65535", port))
	} else if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		errs = append(errs, fmt.Errorf("server.addr: host %q must be an IP address or localhost", host))
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		errs = append(errs, errors.New("server.tls_cert and server.tls_key: give both (HTTPS) or neither (HTTP)"))
	}
	if s.Refresh != 0 && (s.Refresh < MinServerRefresh || s.Refresh > MaxServerRefresh) {
		errs = append(errs, fmt.Errorf("server.refresh: %s is out of range %s–%s (or 0 to never refresh)", s.Refresh, MinServerRefresh, MaxServerRefresh))
	}
	if s.PublicURL != "" {
		u, err := url.Parse(s.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("server.public_url: %q must be an http(s) URL without query, e.g. https://mcp.example.com", s.PublicURL))
		}
	}
	for i, o := range s.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("server.allowed_origins[%d]: %q must be scheme://host[:port], e.g. https://claude.ai", i, o))
		}
	}
	for i, h := range s.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/ ") {
			errs = append(errs, fmt.Errorf("server.allowed_hosts[%d]: %q must be a host name or host:port", i, h))
		}
	}
	for i, as := range s.OAuth.AuthorizationServers {
		u, err := url.Parse(as)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("server.oauth.authorization_servers[%d]: %q must be an https issuer URL", i, as))
		}
	}
	if len(s.OAuth.AuthorizationServers) > 0 && s.PublicURL == "" {
		errs = append(errs, errors.New("server.public_url: required when server.oauth.authorization_servers is set (it is the OAuth resource identifier)"))
	}
	roles, err := governance.NewRoles(s.Roles)
	if err != nil {
		errs = append(errs, prefixLines("server.", err))
		return nil, nil, errors.Join(errs...)
	}
	if _, err := roles.Identity(s.Stdio.Name, s.Stdio.Role, "stdio"); err != nil {
		errs = append(errs, fmt.Errorf("server.stdio: %w", err))
	}
	entries := make([]governance.TokenEntry, len(s.Tokens))
	for i, t := range s.Tokens {
		entries[i] = governance.TokenEntry{Name: t.Name, Role: t.Role, SHA256: t.SHA256}
		if strings.TrimSpace(t.Name) == "" {
			errs = append(errs, fmt.Errorf("server.tokens[%d]: name is empty (who holds the token?)", i))
		}
	}
	tokens, err := governance.NewTokens(roles, entries)
	if err != nil {
		errs = append(errs, prefixLines("server.", err))
	}
	if s.Transport == "http" && len(s.Tokens) == 0 {
		errs = append(errs, errors.New("server.tokens: the http transport needs at least one token (create one with `vulnpilot serve --new-token`)"))
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return roles, tokens, nil
}

// prefixLines prefixes every line of a joined error.
func prefixLines(prefix string, err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return errors.New(strings.Join(lines, "\n"))
}
