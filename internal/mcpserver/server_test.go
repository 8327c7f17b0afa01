package mcpserver

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vulnpilot/vulnpilot/internal/governance"
	"github.com/vulnpilot/vulnpilot/internal/snapshot"
	"github.com/vulnpilot/vulnpilot/tools"
)

// TestInProcessEveryTool lists the tools over MCP, checks each listing
// against the registry's snapshot in tools/__toolsnaps__, and calls every
// tool against the simulator.
func TestInProcessEveryTool(t *testing.T) {
	c := inProcess(t)
	ctx := governance.WithIdentity(context.Background(), identity(t, governance.RoleAdmin))
	list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Tools) != len(tools.All()) {
		t.Fatalf("listed %d tools, registry has %d", len(list.Tools), len(tools.All()))
	}
	for _, tool := range list.Tools {
		got, _ := json.Marshal(tool)
		want, err := os.ReadFile(filepath.Join("..", "..", "tools", "__toolsnaps__", tool.Name+".snap"))
		if err != nil {
			t.Fatalf("%s: %v", tool.Name, err)
		}
		if !sameJSON(t, got, want) {
			t.Errorf("%s: MCP listing differs from its snapshot\nlisted %s\nsnap   %s", tool.Name, got, want)
		}
	}
	for _, tool := range list.Tools {
		t.Run(tool.Name, func(t *testing.T) {
			args, ok := env.args[tool.Name]
			if !ok {
				t.Fatal("no test arguments for this tool")
			}
			res, err := callTool(ctx, c, tool.Name, args)
			if err != nil {
				t.Fatal(err)
			}
			txt := texts(res)
			if res.IsError {
				t.Fatalf("tool error: %v", txt)
			}
			if len(txt) != 2 || strings.Contains(txt[0], "\n") || !json.Valid([]byte(txt[1])) {
				t.Fatalf("want a one-paragraph summary and the JSON, got %q", txt)
			}
			data := structured(t, res)
			var fromText map[string]any
			_ = json.Unmarshal([]byte(txt[1]), &fromText)
			if !sameJSON(t, mustJSON(data), mustJSON(fromText)) {
				t.Fatal("structured content and JSON text differ")
			}
			if len(txt[1]) > 64<<10 {
				t.Fatalf("result is %d bytes: not compact", len(txt[1]))
			}
			mustNotContainSecrets(t, tool.Name+" result", txt[0]+txt[1])
		})
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return string(mustJSON(x)) == string(mustJSON(y))
}

func TestInProcessBadArgumentsAreToolErrors(t *testing.T) {
	c := inProcess(t)
	ctx := governance.WithIdentity(context.Background(), identity(t, governance.RoleAnalyst))
	tests := []struct {
		tool string
		args any
		want string
	}{
		{"risk_prioritize", map[string]any{"limit": 900}, "limit: 900 is out of range 1–50"},
		{"risk_prioritize", map[string]any{"limit": "many"}, "limit: must be an integer, got a string"},
		{"risk_prioritize", map[string]any{"filter": "cve.id:'CVE-1'+("}, "FQL syntax error"},
		{"falcon_search_vulnerabilities", map[string]any{"filter": "hostname:'x'"}, `unknown FQL field "hostname"; allowed fields:`},
		{"risk_explain", map[string]any{"id": "x"}, `id "x" not found`},
		{"falcon_get_remediations", map[string]any{"ids": []string{"nope"}}, `id "nope" not found`},
		{"falcon_get_vulnerabilities", map[string]any{"ids": []any{1, 2}}, "ids: must be a list of strings"},
	}
	for _, tc := range tests {
		res, err := callTool(ctx, c, tc.tool, tc.args)
		if err != nil {
			t.Fatalf("%s: protocol error %v; bad arguments must be tool errors", tc.tool, err)
		}
		if !res.IsError || !strings.Contains(strings.Join(texts(res), " "), tc.want) {
			t.Errorf("%s %v: got %v, want an error containing %q", tc.tool, tc.args, texts(res), tc.want)
		}
	}
}

func TestListingFollowsRole(t *testing.T) {
	c := inProcess(t)
	for _, role := range governance.DefaultRoleNames() {
		id := identity(t, role)
		list, err := c.ListTools(governance.WithIdentity(context.Background(), id), mcp.ListToolsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, tl := range list.Tools {
			got = append(got, tl.Name)
		}
		for _, tl := range tools.All() {
			if id.Has(tl.Scope) {
				want = append(want, tl.Name)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s sees %v, want %v", role, got, want)
		}
	}
	// No identity: nothing listed, and a call is refused by the registry.
	list, _ := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if len(list.Tools) != 0 {
		t.Fatalf("anonymous sees %d tools", len(list.Tools))
	}
	res, err := callTool(context.Background(), c, "risk_prioritize", nil)
	if err != nil || !res.IsError || !strings.Contains(texts(res)[0], "not authenticated") {
		t.Fatalf("anonymous call: %v %v", texts(res), err)
	}
}

func TestPrompts(t *testing.T) {
	c := inProcess(t)
	ctx := context.Background()
	list, err := c.ListPrompts(ctx, mcp.ListPromptsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Prompts {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	if strings.Join(names, ",") != "prioritize_vulnerabilities,triage_cve,weekly_exposure_brief" {
		t.Fatalf("prompts %v", names)
	}
	res, err := c.GetPrompt(ctx, mcp.GetPromptRequest{Params: mcp.GetPromptParams{Name: "triage_cve", Arguments: map[string]string{"cve": "CVE-2024-3400"}}})
	if err != nil {
		t.Fatal(err)
	}
	tc, ok := mcp.AsTextContent(res.Messages[0].Content)
	if !ok || !strings.Contains(tc.Text, "risk_threat_active") || !strings.Contains(tc.Text, "cve.id:'CVE-2024-3400'") || res.Messages[0].Role != mcp.RoleUser {
		t.Fatalf("prompt %+v", res)
	}
	_, err = c.GetPrompt(ctx, mcp.GetPromptRequest{Params: mcp.GetPromptParams{Name: "triage_cve", Arguments: map[string]string{"cve": "log4shell"}}})
	if err == nil || !strings.Contains(err.Error(), "does not match ^CVE-") {
		t.Fatalf("bad argument: %v", err)
	}
}

func TestResources(t *testing.T) {
	c := inProcess(t)
	viewer := governance.WithIdentity(context.Background(), identity(t, governance.RoleViewer))
	list, err := c.ListResources(viewer, mcp.ListResourcesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Resources) != 3 {
		t.Fatalf("%d resources", len(list.Resources))
	}
	read := func(ctx context.Context, uri string) (string, error) {
		res, err := c.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: uri}})
		if err != nil {
			return "", err
		}
		tc, _ := mcp.AsTextResourceContents(res.Contents[0])
		return tc.Text, nil
	}
	guide, err := read(context.Background(), URIFQLGuide)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range snapshot.FindingFields() {
		if !strings.Contains(guide, "`"+f.Name+"`") {
			t.Errorf("FQL guide lacks field %s", f.Name)
		}
	}
	pol, err := read(viewer, URIPolicy)
	if err != nil || !strings.Contains(pol, "tiers:") {
		t.Fatalf("policy: %v %.100s", err, pol)
	}
	sum, err := read(viewer, URISummary)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(sum), &m); err != nil || m["findings"] == nil || m["by_tier"] == nil {
		t.Fatalf("summary %v %.200s", err, sum)
	}
	if _, err := read(context.Background(), URISummary); err == nil || !strings.Contains(err.Error(), "needs scope risk:read") {
		t.Fatalf("anonymous summary read: %v", err)
	}
}
