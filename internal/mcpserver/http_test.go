package mcpserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vulnpilot/vulnpilot/internal/governance"
	"github.com/vulnpilot/vulnpilot/tools"
)

func startHTTP(t *testing.T, o HTTPOptions) *httptest.Server {
	t.Helper()
	if o.Tokens == nil {
		o.Tokens = env.tokenDB
	}
	h, err := env.srv.Handler(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// TestRoleToolMatrixOverHTTP calls every tool as every role through real
// HTTP with bearer tokens: allowed calls succeed, forbidden ones are tool
// errors naming the missing scope and the role.
func TestRoleToolMatrixOverHTTP(t *testing.T) {
	ts := startHTTP(t, HTTPOptions{Addr: "127.0.0.1:0"})
	ctx := context.Background()
	allowed, denied := 0, 0
	for _, role := range governance.DefaultRoleNames() {
		c := httpClient(t, ts.URL+PathMCP, env.tokens[role])
		id := identity(t, role)
		list, err := c.ListTools(ctx, mcpListReq())
		if err != nil {
			t.Fatal(err)
		}
		listed := map[string]bool{}
		for _, tl := range list.Tools {
			listed[tl.Name] = true
		}
		for _, tool := range tools.All() {
			want := id.Has(tool.Scope)
			if listed[tool.Name] != want {
				t.Errorf("%s: %s listed=%v, allowed=%v", role, tool.Name, listed[tool.Name], want)
			}
			res, err := callTool(ctx, c, tool.Name, env.args[tool.Name])
			if err != nil {
				t.Fatalf("%s %s: %v", role, tool.Name, err)
			}
			txt := strings.Join(texts(res), " ")
			switch {
			case want && res.IsError:
				t.Errorf("%s may call %s but got: %s", role, tool.Name, txt)
			case !want && !res.IsError:
				t.Errorf("%s must not call %s but it succeeded", role, tool.Name)
			case !want:
				denied++
				for _, w := range []string{"permission denied", "needs scope " + string(tool.Scope), `has role "` + role + `"`} {
					if !strings.Contains(txt, w) {
						t.Errorf("%s %s: denial %q lacks %q", role, tool.Name, txt, w)
					}
				}
			default:
				allowed++
			}
		}
	}
	if allowed == 0 || denied == 0 {
		t.Fatalf("matrix exercised %d allowed and %d denied calls", allowed, denied)
	}
	mustNotContainSecrets(t, "server logs", env.logs.String())
}

func TestHTTPAuthentication(t *testing.T) {
	ts := startHTTP(t, HTTPOptions{Addr: "127.0.0.1:0"})
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	tests := []struct {
		name, auth    string
		wantChallenge string
	}{
		{"no header", "", `Bearer realm="vulnpilot"`},
		{"wrong scheme", "Basic " + env.tokens["admin"], `Bearer realm="vulnpilot"`},
		{"unknown token", "Bearer not-a-token", `error="invalid_token"`},
		{"hash instead of token", "Bearer " + governance.HashToken(env.tokens["admin"]), `error="invalid_token"`},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest("POST", ts.URL+PathMCP, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d", tc.name, resp.StatusCode)
		}
		if ch := resp.Header.Get("WWW-Authenticate"); !strings.Contains(ch, tc.wantChallenge) {
			t.Errorf("%s: WWW-Authenticate %q lacks %q", tc.name, ch, tc.wantChallenge)
		}
		if strings.Contains(resp.Header.Get("WWW-Authenticate"), "resource_metadata") {
			t.Errorf("%s: resource_metadata without an authorization server", tc.name)
		}
		mustNotContainSecrets(t, "401 body", string(b))
	}
	mustNotContainSecrets(t, "server logs", env.logs.String())
	if _, err := env.srv.Handler(HTTPOptions{Addr: "127.0.0.1:0"}); err == nil {
		t.Fatal("HTTP without tokens must not start")
	}
}

func TestOAuthProtectedResourceMetadata(t *testing.T) {
	ts := startHTTP(t, HTTPOptions{Addr: "127.0.0.1:0", PublicURL: "https://mcp.example.com",
		OAuth: OAuth{AuthorizationServers: []string{"https://login.example.com"}, ScopesSupported: []string{"vulnpilot"}}})
	req, _ := http.NewRequest("POST", ts.URL+PathMCP, strings.NewReader(`{}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	const meta = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
	if ch := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 401 || !strings.Contains(ch, `resource_metadata="`+meta+`"`) {
		t.Fatalf("401 challenge %q", ch)
	}
	resp, err = http.Get(ts.URL + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
		t.Fatalf("metadata %d %v", resp.StatusCode, err)
	}
	if m["resource"] != "https://mcp.example.com/mcp" || m["authorization_servers"].([]any)[0] != "https://login.example.com" {
		t.Fatalf("metadata %v", m)
	}
}

func TestHostAndOriginChecks(t *testing.T) {
	ts := startHTTP(t, HTTPOptions{Addr: "127.0.0.1:0", AllowedHosts: []string{"mcp.internal"}, AllowedOrigins: []string{"https://app.example.com"}})
	tests := []struct {
		name, host, origin string
		want               int
	}{
		{"loopback", "", "", http.StatusOK},
		{"allowed host", "mcp.internal:8765", "", http.StatusOK},
		{"rebinding host", "evil.example.com", "", http.StatusForbidden},
		{"allowed origin", "", "https://app.example.com", http.StatusOK},
		{"loopback origin", "", "http://localhost:6274", http.StatusOK},
		{"foreign origin", "", "https://evil.example.com", http.StatusForbidden},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest("GET", ts.URL+PathHealth, nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}

func TestHealthAndMetrics(t *testing.T) {
	ts := startHTTP(t, HTTPOptions{Addr: "127.0.0.1:0"})
	c := httpClient(t, ts.URL+PathMCP, env.tokens["viewer"])
	ctx := context.Background()
	if _, err := callTool(ctx, c, "risk_prioritize", map[string]any{"limit": 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := callTool(ctx, c, "falcon_search_hosts", nil); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ts.URL + PathHealth)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if resp.StatusCode != 200 || h["status"] != "ok" || h["snapshot"].(map[string]any)["ready"] != true {
		t.Fatalf("healthz %d %v", resp.StatusCode, h)
	}
	resp, err = http.Get(ts.URL + PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, w := range []string{
		`vulnpilot_mcp_tool_calls_total{outcome="ok",tool="risk_prioritize"}`,
		`vulnpilot_mcp_tool_errors_total{kind="permission_denied",tool="falcon_search_hosts"}`,
		`vulnpilot_mcp_tool_duration_seconds_bucket{tool="risk_prioritize"`,
		`vulnpilot_snapshot_findings`,
		`vulnpilot_mcp_http_refused_total`,
	} {
		if !strings.Contains(string(b), w) {
			t.Errorf("metrics lack %s", w)
		}
	}
}

func TestHealthBeforeFirstSnapshot(t *testing.T) {
	snaps := tools.NewSnapshots(nil, nil)
	reg, _ := tools.New(tools.Deps{Snapshots: snaps}, tools.Options{})
	srv, err := New(Options{Registry: reg, Snapshots: snaps, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := srv.Handler(HTTPOptions{Addr: "127.0.0.1:0", Tokens: env.tokenDB})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1"+PathHealth, nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"starting"`) {
		t.Fatalf("healthz before the snapshot: %d %s", rec.Code, rec.Body)
	}
}
