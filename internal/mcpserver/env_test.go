package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vulnpilot/vulnpilot/internal/exploitmodel"
	"github.com/vulnpilot/vulnpilot/internal/falconsim"
	"github.com/vulnpilot/vulnpilot/internal/governance"
	"github.com/vulnpilot/vulnpilot/internal/intel"
	"github.com/vulnpilot/vulnpilot/internal/localfalcon"
	"github.com/vulnpilot/vulnpilot/internal/risk"
	"github.com/vulnpilot/vulnpilot/internal/snapshot"
	"github.com/vulnpilot/vulnpilot/tools"
)

// One simulated tenant, snapshot and server for the whole package.
type testEnv struct {
	conn    *localfalcon.Conn
	tenant  *falconsim.Tenant
	snaps   *tools.Snapshots
	roles   *governance.Roles
	srv     *Server
	reg     *tools.Registry
	logs    *syncBuffer
	tokens  map[string]string // role → token
	tokenDB *governance.Tokens
	args    map[string]map[string]any // tool → valid arguments
}

var env *testEnv

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMain(m *testing.M) {
	e, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		os.Exit(1)
	}
	env = e
	code := m.Run()
	e.conn.Close()
	os.Exit(code)
}

func buildFunc(conn *localfalcon.Conn) (tools.BuildFunc, error) {
	eng, err := risk.NewEngine(risk.DefaultPolicy())
	if err != nil {
		return nil, err
	}
	feeds, err := intel.LoadFeeds(context.Background(), "", "")
	if err != nil {
		return nil, err
	}
	model, err := exploitmodel.Bundled()
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (*snapshot.Snapshot, error) {
		return snapshot.Build(ctx, conn.Client, "status:['open','reopen']", snapshot.Options{
			Engine: eng, Feeds: feeds, Model: model, Now: conn.Tenant.Now, FalconLabel: "simulator", PolicyLabel: "built-in"})
	}, nil
}

func setup() (*testEnv, error) {
	ctx := context.Background()
	conn, err := localfalcon.StartGenerated(ctx, falconsim.GenerateOptions{Hosts: 60, Seed: 33}, localfalcon.Options{})
	if err != nil {
		return nil, err
	}
	build, err := buildFunc(conn)
	if err != nil {
		return nil, err
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	snaps := tools.NewSnapshots(build, log)
	if err := snaps.Refresh(ctx); err != nil {
		return nil, err
	}
	metrics := NewMetrics(snaps)
	reg, err := tools.New(tools.Deps{Falcon: conn.Client, Snapshots: snaps, Logger: log}, tools.Options{Observer: metrics})
	if err != nil {
		return nil, err
	}
	srv, err := New(Options{Registry: reg, Snapshots: snaps, PolicyYAML: risk.DefaultPolicyYAML(), PolicyLabel: "built-in", Version: "test", Logger: log, Metrics: metrics})
	if err != nil {
		return nil, err
	}
	roles, _ := governance.NewRoles(nil)
	e := &testEnv{conn: conn, tenant: conn.Tenant, snaps: snaps, roles: roles, srv: srv, reg: reg, logs: logs, tokens: map[string]string{}}
	var entries []governance.TokenEntry
	for _, role := range governance.DefaultRoleNames() {
		tok, _ := governance.NewToken()
		e.tokens[role] = tok
		entries = append(entries, governance.TokenEntry{Name: role + "-user", Role: role, SHA256: governance.HashToken(tok)})
	}
	if e.tokenDB, err = governance.NewTokens(roles, entries); err != nil {
		return nil, err
	}
	st, _ := snaps.Current()
	item := st.Snap.Items()[0]
	var remID string
	for _, f := range conn.Tenant.Findings {
		if len(f.RemediationIDs) > 0 {
			remID = f.RemediationIDs[0]
			break
		}
	}
	e.args = map[string]map[string]any{
		"falcon_search_vulnerabilities": {"limit": 2},
		"falcon_get_vulnerabilities":    {"ids": []string{item.TopFinding}},
		"falcon_search_hosts":           {"limit": 2},
		"falcon_get_host":               {"id": item.Hosts[0].AID},
		"falcon_search_alerts":          {"limit": 2},
		"falcon_intel_for_cve":          {"cves": []string{conn.Tenant.Intel[0].CVE}},
		"falcon_get_remediations":       {"ids": []string{remID}},
		"risk_prioritize":               {"limit": 2},
		"risk_explain":                  {"id": item.Key},
		"risk_threat_active":            {"limit": 2},
		"risk_exposure_summary":         {"limit": 2},
	}
	return e, nil
}

func identity(t *testing.T, role string) governance.Identity {
	t.Helper()
	id, err := env.roles.Identity(role+"-user", role, "test")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// inProcess is an initialized in-process client; calls carry id.
func inProcess(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.NewInProcessClient(env.srv.MCP())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ClientInfo: mcp.Implementation{Name: "test", Version: "1"}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// httpClient is an initialized streamable-HTTP client with a session
// (protocol 2025-11-25) sending the bearer token.
func httpClient(t testing.TB, url, token string) *client.Client {
	t.Helper()
	opts := []transport.StreamableHTTPCOption{}
	if token != "" {
		opts = append(opts, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	}
	tr, err := transport.NewStreamableHTTP(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(tr, client.WithProtocolVersion(mcp.ProtocolVersion20251125))
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ProtocolVersion: mcp.ProtocolVersion20251125, ClientInfo: mcp.Implementation{Name: "test", Version: "1"}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func callTool(ctx context.Context, c *client.Client, name string, args any) (*mcp.CallToolResult, error) {
	return c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
}

// texts returns the text blocks of a result.
func texts(res *mcp.CallToolResult) []string {
	var out []string
	for _, c := range res.Content {
		if tc, ok := mcp.AsTextContent(c); ok {
			out = append(out, tc.Text)
		}
	}
	return out
}

func structured(t testing.TB, res *mcp.CallToolResult) map[string]any {
	t.Helper()
	var raw []byte
	switch {
	case len(res.RawStructuredContent) > 0:
		raw = res.RawStructuredContent
	default:
		b, err := json.Marshal(res.StructuredContent)
		if err != nil {
			t.Fatal(err)
		}
		raw = b
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("structured content is not an object: %s", raw)
	}
	return m
}

func mustNotContainSecrets(t *testing.T, where, s string) {
	t.Helper()
	for role, tok := range env.tokens {
		if strings.Contains(s, tok) {
			t.Fatalf("%s contains the %s bearer token", where, role)
		}
	}
	if strings.Contains(s, falconsim.DemoClientSecret) {
		t.Fatalf("%s contains the Falcon client secret", where)
	}
}

func mcpListReq() mcp.ListToolsRequest { return mcp.ListToolsRequest{} }
