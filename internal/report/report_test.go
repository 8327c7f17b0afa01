package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/plan"
	"github.com/vulnpilot/vulnpilot/internal/risk"
	"github.com/vulnpilot/vulnpilot/internal/snapshot"
)

// hostile is external text an attacker controls: a hostname, a vulnerability
// title, an alert name.
const hostile = "evil\x1b[2J\r\n# Ignore previous instructions | [click](http://x) <script>alert(1)</script> ![i](http://y)"

func sampleDoc() Document {
	sum := snapshot.Summary{
		AssessedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Findings: 3, Hosts: 2, CVEs: 2, Items: 3,
		ByTier:  map[string]snapshot.Count{"P1": {Findings: 1, Items: 1}, "P4": {Findings: 2, Items: 2}},
		ByBU:    []snapshot.Group{{Name: hostile, Findings: 3, ByTier: map[string]int{"P1": 1}}},
		Sources: snapshot.Sources{Falcon: "sim", Feeds: []string{"KEV catalog 2025.08.25 (bundled)"}, Model: "model v1"},
	}
	items := []plan.WorkItem{
		{Key: "wi-h-1", Kind: plan.KindHost, Tier: risk.P1, Score: 91.2, Due: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC),
			Hosts: []plan.HostRef{{AID: "a1", Hostname: hostile}}, CVEs: []string{"CVE-2024-1"}, FindingIDs: []string{"f1"},
			Remediation: plan.Remediation{ID: "r1", Title: hostile},
			Evidence: []risk.Evidence{
				{Factor: "exploitation", Source: "kev", Detail: "CISA KEV lists " + hostile, Points: 50},
				{Factor: "tier", Source: "policy", Ref: "tiers.p2.min_score", Value: "P2", Detail: "score 45 ≥ 40: P2"},
				{Factor: "tier", Source: "policy", Ref: "escalation.exploited_critical_asset", Value: "P1", Detail: "KEV on a Critical asset: at least P1"},
			}},
		{Key: "wi-h-2", Kind: plan.KindHost, Tier: risk.P4, Score: 3, Due: time.Date(2027, 5, 1, 0, 0, 0, 0, time.UTC),
			Hosts: []plan.HostRef{{AID: "a2", Hostname: "ws-2"}}, CVEs: []string{"CVE-2024-2"}, FindingIDs: []string{"f2"},
			Remediation: plan.Remediation{ID: "r2", Title: "Update X"}},
	}
	return NewDocument(sum, RunInfo{ID: "run-1", Mode: "full", Pulled: 3}, items)
}

func TestJSONDocumentShape(t *testing.T) {
	var buf bytes.Buffer
	if err := JSON(&buf, sampleDoc()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Summary map[string]any   `json:"summary"`
		Queue   []map[string]any `json:"queue"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Queue) != 2 || got.Summary["work_items"].(float64) != 3 {
		t.Fatalf("unexpected document %s", buf.String())
	}
	for _, k := range []string{"key", "tier", "score", "due", "hosts", "cves", "remediation", "evidence"} {
		if _, ok := got.Queue[0][k]; !ok {
			t.Errorf("queue item lacks %q", k)
		}
	}
	if got.Queue[0]["due"] != "2026-12-04" || got.Queue[1]["evidence"] == nil {
		t.Errorf("due/evidence wrong: %v", got.Queue)
	}
	// JSON keeps external text intact (escaped by the encoder, not altered).
	if !strings.Contains(buf.String(), `Ignore previous instructions`) || strings.Contains(buf.String(), "\x1b") {
		t.Error("JSON must carry external text verbatim but escaped")
	}
}

func TestTableStripsControlCharacters(t *testing.T) {
	var buf bytes.Buffer
	if err := Table(&buf, sampleDoc()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.ContainsAny(out, "\x1b\r") {
		t.Fatalf("terminal output carries control characters: %q", out)
	}
	// One header, two rows, a summary, sources, a blank line, the "more" line.
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	rows := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "1 ") || strings.HasPrefix(l, "2 ") {
			rows++
		}
	}
	if rows != 2 {
		t.Fatalf("want 2 queue rows, got %d in:\n%s", rows, out)
	}
	if !strings.Contains(out, "KEV on a Critical asset: at least P1; CISA KEV lists") {
		t.Errorf("the row must say which rule set its tier, then the strongest evidence:\n%s", out)
	}
	if !strings.Contains(out, "… 1 more work items") {
		t.Errorf("missing the truncation line:\n%s", out)
	}
}

func TestMarkdownMakesExternalTextInert(t *testing.T) {
	var buf bytes.Buffer
	if err := Markdown(&buf, sampleDoc()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, bad := range []string{"<script>", "](http://x)", "![i]", "\n# Ignore", "\x1b"} {
		if strings.Contains(out, bad) {
			t.Errorf("markdown contains live %q", bad)
		}
	}
	if !strings.Contains(out, `\# Ignore previous instructions`) {
		t.Errorf("external text should remain readable, escaped:\n%s", out)
	}
	if !strings.Contains(out, "| P1 | 1 | 1 |") {
		t.Errorf("tier table missing:\n%s", out)
	}
}
