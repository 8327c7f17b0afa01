package snapshot

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/exploitmodel"
	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/falconsim"
	"github.com/vulnpilot/vulnpilot/internal/intel"
	"github.com/vulnpilot/vulnpilot/internal/localfalcon"
	"github.com/vulnpilot/vulnpilot/internal/risk"
)

func testOptions(t testing.TB, now time.Time) Options {
	t.Helper()
	eng, err := risk.NewEngine(risk.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	feeds, err := intel.LoadFeeds(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	model, err := exploitmodel.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	return Options{Engine: eng, Feeds: feeds, Model: model, Now: now, FalconLabel: "test"}
}

func buildGenerated(t *testing.T, hosts int, seed int64) (*Snapshot, *falconsim.Tenant) {
	t.Helper()
	ctx := context.Background()
	conn, err := localfalcon.StartGenerated(ctx, falconsim.GenerateOptions{Hosts: hosts, Seed: seed}, localfalcon.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	snap, err := Build(ctx, conn.Client, "status:['open','reopen']", testOptions(t, conn.Tenant.Now))
	if err != nil {
		t.Fatal(err)
	}
	return snap, conn.Tenant
}

func TestBuildCoversEveryOpenFindingOnce(t *testing.T) {
	snap, tenant := buildGenerated(t, 60, 3)
	open := map[string]falconsim.Finding{}
	for _, f := range tenant.Findings {
		if f.Status == "open" || f.Status == "reopen" {
			open[f.ID] = f
		}
	}
	sum := snap.Summary()
	if sum.Findings != len(open) {
		t.Fatalf("summary counts %d open findings, tenant has %d", sum.Findings, len(open))
	}
	seen := map[string]string{}
	for _, it := range snap.Items() {
		for _, id := range it.FindingIDs {
			if prev, dup := seen[id]; dup {
				t.Fatalf("finding %s is in two work items (%s, %s)", id, prev, it.Key)
			}
			seen[id] = it.Key
		}
	}
	if len(seen) != len(open) {
		t.Fatalf("work items cover %d findings, want %d", len(seen), len(open))
	}
	items := snap.Items()
	for i := 1; i < len(items); i++ {
		a, b := items[i-1], items[i]
		if a.Tier.Rank() > b.Tier.Rank() || (a.Tier == b.Tier && a.Score < b.Score) {
			t.Fatalf("queue not ordered at %d: %s %.1f before %s %.1f", i, a.Tier, a.Score, b.Tier, b.Score)
		}
	}
	tiers := 0
	for _, tt := range []string{"P1", "P2", "P3", "P4"} {
		tiers += sum.ByTier[tt].Findings
	}
	if tiers != sum.Findings {
		t.Errorf("tier counts sum to %d, want %d", tiers, sum.Findings)
	}
	if sum.KEVFindings == 0 || sum.Hosts == 0 || sum.CVEs == 0 {
		t.Errorf("implausible summary %+v", sum)
	}
}

// The compact scoring pass and the full explanation must agree exactly:
// the queue is built from the first, the evidence from the second.
func TestQuickScoresMatchFullAssessment(t *testing.T) {
	snap, _ := buildGenerated(t, 40, 5)
	checked := 0
	for _, it := range snap.Items() {
		for _, id := range it.FindingIDs {
			a, err := snap.Assess(id)
			if err != nil {
				t.Fatal(err)
			}
			c := snap.findings[snap.byID[id]]
			if math.Abs(a.Score-c.score) > 1e-9 || a.Tier.Rank() != int(c.tier) || a.Due.Unix() != c.due {
				t.Fatalf("finding %s: assess %.1f %s %v vs quick %.1f P%d %v", id, a.Score, a.Tier, a.Due, c.score, c.tier, time.Unix(c.due, 0))
			}
			var pts float64
			for _, f := range a.Factors {
				pts += f.Points
			}
			if math.Abs(pts-a.Score) > 0.051 {
				t.Fatalf("finding %s: factor points %.2f do not sum to score %.1f", id, pts, a.Score)
			}
			checked++
		}
	}
	if checked < 100 {
		t.Fatalf("only %d findings checked", checked)
	}
}

func TestTopItemsAreExplained(t *testing.T) {
	snap, _ := buildGenerated(t, 60, 3)
	top := snap.Top(5)
	if len(top) != 5 {
		t.Fatalf("Top(5) returned %d", len(top))
	}
	for _, it := range top {
		if len(it.Evidence) == 0 {
			t.Fatalf("item %s has no evidence", it.Key)
		}
		for i := 1; i < len(it.Evidence); i++ {
			if it.Evidence[i-1].Points < it.Evidence[i].Points {
				t.Fatalf("evidence of %s not ordered by points", it.Key)
			}
		}
		got, ok := snap.Item(it.Key)
		if !ok || got.TopFinding != it.TopFinding || len(got.Evidence) != len(it.Evidence) {
			t.Fatalf("Item(%s) disagrees with Top", it.Key)
		}
	}
	if _, err := snap.Assess("no-such-id"); err == nil || !strings.Contains(err.Error(), "no-such-id") {
		t.Errorf("unknown finding error = %v", err)
	}
	if len(snap.Top(0)) != len(snap.Items()) {
		t.Error("Top(0) must return every item")
	}
}

// A finding with a live alert on its host that names its CVE is P1 and
// explained by the alert, whatever else is true of it.
func TestLiveDetectionEscalates(t *testing.T) {
	snap, tenant := buildGenerated(t, 400, 7)
	var tied []string
	for _, a := range tenant.Alerts {
		for _, f := range tenant.Findings {
			if f.AID == a.AID && (f.Status == "open" || f.Status == "reopen") && strings.Contains(a.Name, f.CVE) {
				tied = append(tied, f.ID)
			}
		}
	}
	if len(tied) == 0 {
		t.Fatal("generated tenant has no alert naming an open finding's CVE")
	}
	for _, id := range tied {
		a, err := snap.Assess(id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Tier != risk.P1 {
			t.Errorf("finding %s with a live detection is %s, want P1", id, a.Tier)
		}
		if !slices.ContainsFunc(a.Evidence, func(e risk.Evidence) bool { return e.Source == risk.SourceAlert }) {
			t.Errorf("finding %s: no alert evidence", id)
		}
	}
	if snap.Summary().ThreatActive < len(tied) {
		t.Errorf("summary threat_active %d < %d tied findings", snap.Summary().ThreatActive, len(tied))
	}
}

func TestTiedAlerts(t *testing.T) {
	f := &falcon.Finding{CVE: "CVE-2021-44228", App: falcon.App{Vendor: "Apache", Product: "Apache Log4j"}}
	tests := []struct {
		name  string
		alert falcon.Alert
		want  string
	}{
		{"names the cve", falcon.Alert{Name: "Exploit attempt cve-2021-44228 via JNDI"}, "cve"},
		{"product in cmdline", falcon.Alert{Name: "Suspicious process", Cmdline: "java -cp lib/log4j-core-2.14.1.jar App"}, "product"},
		{"other cve only", falcon.Alert{Name: "Exploit CVE-2021-442289"}, ""},
		{"generic words do not tie", falcon.Alert{Name: "Apache server crashed"}, ""},
		{"glued word is not the product", falcon.Alert{Filename: "mylog4jx.exe"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tiedAlerts([]falcon.Alert{tt.alert}, f)
			switch {
			case tt.want == "" && len(got) != 0:
				t.Fatalf("tied %+v, want none", got)
			case tt.want != "" && (len(got) != 1 || got[0].Match != tt.want):
				t.Fatalf("got %+v, want match %q", got, tt.want)
			}
		})
	}
	if toks := productTokens("Microsoft Windows Server 2019"); len(toks) != 0 {
		t.Errorf("generic product should have no distinctive tokens, got %v", toks)
	}
}
