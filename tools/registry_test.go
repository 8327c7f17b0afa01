package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vulnpilot/vulnpilot/internal/governance"
)

func TestEveryToolDeclaresEverything(t *testing.T) {
	all := All()
	if len(all) != 11 {
		t.Fatalf("%d tools; this issue declares 7 falcon + 4 risk", len(all))
	}
	if err := checkDeclarations(all); err != nil {
		t.Fatal(err)
	}
	for _, tool := range all {
		a := tool.Annotations
		for name, h := range map[string]Hint{"ReadOnly": a.ReadOnly, "Destructive": a.Destructive, "Idempotent": a.Idempotent, "OpenWorld": a.OpenWorld} {
			if h != Yes && h != No {
				t.Errorf("%s: %s hint is %s; every hint must be set explicitly", tool.Name, name, h)
			}
		}
		if !strings.HasPrefix(tool.Name, tool.Toolset+"_") {
			t.Errorf("%s: name does not start with its toolset %q", tool.Name, tool.Toolset)
		}
		if len(tool.FalconScopes) == 0 {
			t.Errorf("%s: Falcon API scopes undocumented", tool.Name)
		}
		var schema map[string]any
		if err := json.Unmarshal(tool.InputSchema(), &schema); err != nil || schema["type"] != "object" || schema["additionalProperties"] != false {
			t.Errorf("%s: schema %s", tool.Name, tool.InputSchema())
		}
	}
}

func TestDeclarationChecksRejectImplicitAnnotations(t *testing.T) {
	type noArgs struct{}
	h := func(context.Context, *Deps, noArgs) (*Result, error) { return &Result{Summary: "x"}, nil }
	bad := []Tool{
		newTool(Meta{Name: "x_partial", Title: "t", Description: "d", Toolset: "x", Scope: governance.RiskRead,
			Annotations: Annotations{ReadOnly: Yes, Idempotent: Yes}}, h),
		newTool(Meta{Name: "x_contradiction", Title: "t", Description: "d", Toolset: "x", Scope: governance.RiskRead,
			Annotations: Annotations{ReadOnly: Yes, Destructive: Yes, Idempotent: Yes, OpenWorld: No}}, h),
		newTool(Meta{Name: "x_scope", Title: "t", Description: "d", Toolset: "x", Scope: "root",
			Annotations: readOnlyLocal}, h),
	}
	err := checkDeclarations(bad)
	for _, w := range []string{"x_partial: annotations not set: Destructive, OpenWorld", "x_contradiction: a read-only tool cannot be destructive", `x_scope: scope "root" is not a governance scope`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("declaration error %v lacks %q", err, w)
		}
	}
}

// toolSnap is a tool as an MCP client lists it.
type toolSnap struct {
	Name        string          `json:"name"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"inputSchema"`
	Annotations map[string]any  `json:"annotations"`
	Meta        map[string]any  `json:"_meta"`
}

// SnapOf is the snapshot form of a tool; mcpserver's tests check that the
// MCP listing matches it.
func snapOf(tool Tool) toolSnap {
	return toolSnap{
		Name: tool.Name, Title: tool.Title, Description: tool.Description, InputSchema: tool.InputSchema(),
		Annotations: map[string]any{"title": tool.Title, "readOnlyHint": tool.Annotations.ReadOnly.Bool(),
			"destructiveHint": tool.Annotations.Destructive.Bool(), "idempotentHint": tool.Annotations.Idempotent.Bool(),
			"openWorldHint": tool.Annotations.OpenWorld.Bool()},
		Meta: map[string]any{"vulnpilot/toolset": tool.Toolset, "vulnpilot/scope": string(tool.Scope)},
	}
}

// TestToolSnapshots pins every tool's schema and description: a change is
// a visible diff in __toolsnaps__ (refresh with UPDATE_TOOLSNAPS=true), and
// a tool without a snapshot fails.
func TestToolSnapshots(t *testing.T) {
	update := os.Getenv("UPDATE_TOOLSNAPS") == "true"
	names := map[string]bool{}
	for _, tool := range All() {
		names[tool.Name+".snap"] = true
		got, err := json.MarshalIndent(snapOf(tool), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		path := filepath.Join("__toolsnaps__", tool.Name+".snap")
		if update {
			if err := os.MkdirAll("__toolsnaps__", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: no snapshot (%v); run UPDATE_TOOLSNAPS=true go test ./tools/ and review the new file", tool.Name, err)
			continue
		}
		// Compare semantically: key order inside the schema is fixed by
		// the generator, but indentation is not the point.
		var a, b any
		_ = json.Unmarshal(want, &a)
		_ = json.Unmarshal(got, &b)
		if !jsonEqual(a, b) {
			t.Errorf("%s: schema or description changed; if intended, run UPDATE_TOOLSNAPS=true go test ./tools/ and commit the diff.\nwant %s\ngot  %s", tool.Name, want, got)
		}
	}
	entries, _ := os.ReadDir("__toolsnaps__")
	for _, e := range entries {
		if !names[e.Name()] {
			t.Errorf("__toolsnaps__/%s belongs to no tool; delete it", e.Name())
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestToolsMarkdownIsCurrent(t *testing.T) {
	want := Markdown()
	if os.Getenv("UPDATE_TOOLSNAPS") == "true" {
		if err := os.WriteFile("TOOLS.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("TOOLS.md")
	if err != nil || string(got) != want {
		t.Fatalf("tools/TOOLS.md is stale: regenerate it with `vulnpilot tools --markdown > tools/TOOLS.md` (or UPDATE_TOOLSNAPS=true go test ./tools/)")
	}
	// The README carries the same tables (without the generator's comment line).
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, tables, _ := strings.Cut(want, "\n")
	if !strings.Contains(string(readme), strings.TrimSpace(tables)) {
		t.Fatalf("README.md's tool table differs from `vulnpilot tools --markdown`; paste tools/TOOLS.md (minus its first line) into README.md")
	}
	for _, tool := range All() {
		if !strings.Contains(want, "`"+tool.Name+"`") {
			t.Errorf("%s missing from the table", tool.Name)
		}
	}
}

func TestSelectionPrecedence(t *testing.T) {
	type noArgs struct{}
	h := func(context.Context, *Deps, noArgs) (*Result, error) { return &Result{Summary: "x"}, nil }
	mk := func(name, set string, ro Hint) Tool {
		a := Annotations{ReadOnly: ro, Destructive: No, Idempotent: Yes, OpenWorld: No}
		return newTool(Meta{Name: name, Title: name, Description: name, Toolset: set, Scope: governance.RiskRead, Annotations: a}, h)
	}
	// Synthetic tools in the real toolsets, one of them writing.
	all := []Tool{mk("falcon_a", "falcon", Yes), mk("falcon_b", "falcon", Yes), mk("risk_a", "risk", Yes), mk("risk_write", "risk", No)}
	names := func(ts []Tool) string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Name)
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		name string
		sel  Selection
		want string
	}{
		{"default: everything", Selection{}, "falcon_a,falcon_b,risk_a,risk_write"},
		{"all keyword", Selection{Toolsets: []string{"all"}}, "falcon_a,falcon_b,risk_a,risk_write"},
		{"one toolset", Selection{Toolsets: []string{"risk"}}, "risk_a,risk_write"},
		{"tools add to toolsets", Selection{Toolsets: []string{"risk"}, Tools: []string{"falcon_b"}}, "falcon_b,risk_a,risk_write"},
		{"exclude wins over toolsets and tools", Selection{Toolsets: []string{"risk"}, Tools: []string{"falcon_b"}, ExcludeTools: []string{"falcon_b", "risk_a"}}, "risk_write"},
		{"read-only wins over all", Selection{Tools: []string{"risk_write"}, ReadOnly: true}, "falcon_a,falcon_b,risk_a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := selectTools(all, tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			if names(got) != tc.want {
				t.Fatalf("got %s, want %s", names(got), tc.want)
			}
		})
	}
	_, err := selectTools(all, Selection{Toolsets: []string{"tickets"}, Tools: []string{"falcon_z"}, ExcludeTools: []string{"nope"}})
	for _, w := range []string{`toolsets: unknown toolset "tickets"; valid toolsets: all, falcon, risk`,
		`tools: unknown tool "falcon_z"; valid tools: falcon_a, falcon_b, risk_a, risk_write`, `exclude-tools: unknown tool "nope"`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
	// The real registry too.
	r, err := New(Deps{}, Options{Selection: Selection{Toolsets: []string{"risk"}, Tools: []string{"falcon_get_host"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(r.Tools()); got != "falcon_get_host,risk_prioritize,risk_explain,risk_threat_active,risk_exposure_summary" {
		t.Fatalf("registry serves %s", got)
	}
}

func TestCallEnforcesScopesAndAudits(t *testing.T) {
	r, rec := newRegistry(t, Selection{})
	res, _ := callAs(t, r, env.viewer, "falcon_search_hosts", map[string]any{})
	mustFail(t, res, KindPermissionDenied, "tool falcon_search_hosts needs scope hosts:read", `vic has role "viewer"`, "scopes risk:read")
	res, _ = callAs(t, r, env.viewer, "risk_prioritize", map[string]any{"limit": 1})
	mustOK(t, res)
	res, _ = callAs(t, r, governance.Identity{}, "risk_prioritize", nil)
	mustFail(t, res, KindPermissionDenied, "not authenticated")
	if r.Allowed(env.viewer, "falcon_search_hosts") || !r.Allowed(env.viewer, "risk_explain") || r.Allowed(env.analyst, "nope") {
		t.Fatal("Allowed disagrees with the role table")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.events) != 3 {
		t.Fatalf("%d audit events, want 3", len(rec.events))
	}
	ev := rec.events[0]
	if ev.Decision != governance.DecisionDenied || ev.Scope != governance.HostsRead || ev.Identity.Name != "vic" || ev.Action != "tool falcon_search_hosts" {
		t.Fatalf("denied event %+v", ev)
	}
	if ok := rec.events[1]; ok.Decision != governance.DecisionAllowed || ok.Outcome != "ok" || ok.ArgsHash == "" {
		t.Fatalf("allowed event %+v", ok)
	}
	if !slices.Equal(rec.calls, []string{"falcon_search_hosts:permission_denied", "risk_prioritize:ok", "risk_prioritize:permission_denied"}) {
		t.Fatalf("observed %v", rec.calls)
	}
}

func TestUnknownToolListsServedTools(t *testing.T) {
	r, _ := newRegistry(t, Selection{Toolsets: []string{"risk"}})
	res, _ := call(t, r, "falcon_search_hosts", nil)
	mustFail(t, res, KindUnknownTool, `unknown tool "falcon_search_hosts"; this server serves: risk_prioritize, risk_explain`)
}

func TestBadArgumentsSayWhatIsAllowed(t *testing.T) {
	r, _ := newRegistry(t, Selection{})
	tests := []struct {
		tool string
		args string
		want []string
	}{
		{"risk_prioritize", `{"limit": 900}`, []string{"limit: 900 is out of range 1–50"}},
		{"risk_prioritize", `{"limit": "ten"}`, []string{"limit: must be an integer, got a string"}},
		{"risk_prioritize", `{"limit": 2.5}`, []string{"limit: must be an integer, got the number 2.5"}},
		{"risk_prioritize", `{"filtre": "tier:'P1'"}`, []string{`unknown argument "filtre"; allowed: filter, limit, cursor`}},
		{"risk_prioritize", `[1,2]`, []string{"arguments must be a JSON object"}},
		{"risk_prioritize", `{"filter": "host.name:'x'"}`, []string{`filter: unknown FQL field "host.name"; allowed fields: `, "business_unit", "tier"}},
		{"risk_prioritize", `{"filter": "tier:'P1'+("}`, []string{"filter: FQL syntax error", "vulnpilot://guide/fql"}},
		{"risk_prioritize", `{"cursor": "garbage!"}`, []string{"cursor: not a cursor this server issued"}},
		{"risk_explain", `{}`, []string{"id: required"}},
		{"risk_explain", `{"id": ""}`, []string{"id: must not be empty"}},
		{"risk_explain", `{"id": 7}`, []string{"id: must be a string, got the number 7"}},
		{"risk_exposure_summary", `{"group_by": "colour"}`, []string{`group_by: "colour" is not one of business_unit, team, platform, tier, asset_criticality, internet_exposure, product_type`}},
		{"risk_threat_active", `{"signal": "rumour", "hosts_per_cve": 0}`, []string{`signal: "rumour" is not one of any, kev`, "hosts_per_cve: 0 is out of range 1–25"}},
		{"falcon_search_vulnerabilities", `{"filter": "host.name:'x'"}`, []string{`filter: unknown FQL field "host.name"; allowed fields: `, "host_info.platform_name"}},
		{"falcon_search_vulnerabilities", `{"facets": ["cve", "everything"], "limit": 0}`, []string{`facets[1]: "everything" is not one of cve, host_info, remediation, evaluation_logic`, "limit: 0 is out of range 1–100"}},
		{"falcon_search_vulnerabilities", `{"filter": "cve.base_score:'high'"}`, []string{`"cve.base_score"`}},
		{"falcon_search_hosts", `{"filter": "hostname:>'a'"}`, []string{`FQL field "hostname" does not support range comparisons`}},
		{"falcon_intel_for_cve", `{"cves": ["CVE-2024-3400", "log4shell"]}`, []string{`cves[1]: "log4shell" is not valid (expected something like CVE-2024-3400)`}},
		{"falcon_intel_for_cve", `{"cves": []}`, []string{"cves: needs at least 1 item(s), got 0"}},
		{"falcon_get_vulnerabilities", `{"ids": "abc"}`, []string{"ids: must be a list of strings, got a string"}},
		{"falcon_get_host", `{}`, []string{"give exactly one of id (a device id) or hostname"}},
		{"falcon_get_host", `{"id": "xyz"}`, []string{`id: "xyz" is not valid (expected something like a 32-hex-digit Falcon device id (aid))`}},
		{"falcon_get_remediations", `{"ids": []}`, []string{"ids: needs at least 1 item(s), got 0"}},
	}
	for _, tc := range tests {
		t.Run(tc.tool+" "+tc.args, func(t *testing.T) {
			res := r.Call(context.Background(), env.analyst, tc.tool, json.RawMessage(tc.args))
			mustFail(t, res, KindInvalidArguments, tc.want...)
		})
	}
}

func TestDepsMissingAreUnavailable(t *testing.T) {
	r, err := New(Deps{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := r.Call(context.Background(), env.analyst, "falcon_search_hosts", nil)
	mustFail(t, res, KindUnavailable, "not connected to Falcon")
	res = r.Call(context.Background(), env.analyst, "risk_prioritize", nil)
	mustFail(t, res, KindUnavailable, "no risk snapshot")
	empty := NewSnapshots(env.build, nil)
	r, _ = New(Deps{Snapshots: empty}, Options{})
	res = r.Call(context.Background(), env.analyst, "risk_exposure_summary", nil)
	mustFail(t, res, KindUnavailable, "has not been built yet")
}
