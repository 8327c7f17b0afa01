package risk

import (
	"encoding/json"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/intel"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGoldenExplanations pins the full explanation of reference findings:
// any change to scoring or wording shows up as a diff to review.
func TestGoldenExplanations(t *testing.T) {
	e := mustEngine(nil)
	for _, tc := range []struct {
		name string
		in   *Input
		tier Tier
	}{
		{"kev_internet_dc", kevDCInput(), P1},
		{"cvss98_no_exploit_isolated_workstation", isolatedWorkstationInput(), P4},
		{"kev_internal_dc", kevInternalDCInput(), P1},
		{"kev_stale_controlled_workstation", staleControlledKEVWorkstationInput(), P4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.Assess(tc.in)
			if a.Tier != tc.tier {
				t.Fatalf("tier %s, want %s", a.Tier, tc.tier)
			}
			js, err := json.MarshalIndent(a, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got := string(js) + "\n\n" + Explain(a)
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("explanation differs from %s (go test -run Golden -update to accept):\n%s", path, got)
			}
		})
	}
}

// randomInput draws an input over every branch the engine has.
func randomInput(r *rand.Rand) *Input {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	created := now.Add(-time.Duration(r.IntN(400*24)) * time.Hour)
	f := &falcon.Finding{
		ID: "f", AID: "a", CVE: "CVE-2024-1", Status: pick("open", "open", "open", "reopen", "expired", "closed"),
		Confidence: pick("confirmed", "potential", ""), Created: created,
		App: falcon.App{Product: "P"},
		Host: falcon.HostFacet{
			ProductTypeDesc:  pick("Domain Controller", "Server", "Workstation", "", "Router"),
			AssetCriticality: pick("Critical", "High", "Noncritical", "Unassigned", "", "weird"),
			InternetExposure: pick("Yes", "No", "Pending", ""),
			ManagedBy:        pick("Falcon sensor", ""),
			LastSeen:         now.Add(-time.Duration(r.IntN(60*24)) * time.Hour),
		},
		CVEInfo: falcon.CVEFacet{
			BaseScore:     float64(r.IntN(101)) / 10,
			Vector:        pick("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:L/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N", "", "AV:N/AC:L/Au:N/C:C/I:C/A:C"),
			ExprtRating:   pick("CRITICAL", "HIGH", "MEDIUM", "LOW", ""),
			ExploitStatus: []int{0, 30, 60, 90}[r.IntN(4)],
			IsCISAKEV:     r.IntN(5) == 0,
		},
	}
	if r.IntN(2) == 0 {
		f.RemediationIDs = []string{"r"}
	}
	if r.IntN(4) == 0 {
		f.CVEInfo.Actors = []string{"X"}
	}
	if r.IntN(5) == 0 {
		f.Suppression = falcon.Suppression{Suppressed: true, Reason: pick("ACCEPT_RISK", "COMPENSATING_CONTROL", "FALSE_POSITIVE", "OTHER")}
	}
	in := &Input{Finding: f, Now: now}
	if r.IntN(5) == 0 {
		in.KEV = &KEVFact{CatalogVersion: "c", DateAdded: now.Add(-time.Duration(r.IntN(800*24)) * time.Hour), Ransomware: r.IntN(2) == 0}
	}
	if r.IntN(3) > 0 {
		in.EPSS = &EPSSFact{Score: r.Float64(), Percentile: r.Float64(), ModelVersion: "v", ScoreDate: "d"}
	} else if r.IntN(2) == 0 {
		in.Prior = &PriorFact{Model: "model v1", Probability: r.Float64() / 2}
	}
	for range r.IntN(3) {
		in.Alerts = append(in.Alerts, AlertFact{ID: "al", Name: "n", Severity: r.IntN(100), Created: now.Add(-time.Duration(r.IntN(90*24)) * time.Hour),
			Status: pick("new", "in_progress", "closed"), Match: pick("cve", "product")})
	}
	if r.IntN(4) == 0 {
		in.Intel = &IntelFact{Reports: []string{"CSA-1: t"}}
		if r.IntN(2) == 0 {
			in.Intel.Actors = []string{"Y"}
		}
	}
	if r.IntN(2) == 0 {
		in.Host = &falcon.Host{ProductTypeDesc: pick("Server", ""), LastSeen: now.Add(-time.Duration(r.IntN(60*24)) * time.Hour)}
	}
	return in
}

// TestScoreAgreesWithAssess checks the fast path against the explained path
// on many random inputs, and the points invariants on each.
func TestScoreAgreesWithAssess(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	policies := []*Policy{DefaultPolicy(), func() *Policy {
		p := DefaultPolicy()
		p.Escalation.BODFloor = true
		p.Escalation.KEV = "none"
		return p
	}(), func() *Policy {
		p := DefaultPolicy()
		p.Escalation.ExploitedCriticalAsset, p.Escalation.IntelActor = "none", "P3"
		p.Demotion = DemotionPolicy{CompensatingControlFloor: 2, StaleHost: 3}
		return p
	}()}
	tiers := map[Tier]int{}
	for _, p := range policies {
		e := mustEngine(p)
		for i := 0; i < 3000; i++ {
			in := randomInput(r)
			q := e.Score(in)
			a := e.Assess(in)
			if q.Score != a.Score || q.Tier != a.Tier || q.SLADays != a.SLADays || !q.Due.Equal(a.Due) || q.Overdue != a.Overdue ||
				q.Likelihood != a.Likelihood || q.Confidence != a.Confidence || q.Suppressed != a.Suppressed || q.NotScored != a.NotScored {
				t.Fatalf("input %d: Score %+v != Assess %+v", i, q, a)
			}
			tiers[a.Tier]++
			if a.NotScored != "" {
				continue
			}
			sum, exp := 0.0, 0.0
			for _, f := range a.Factors {
				sum += f.Points
				if f.Value < 0 || f.Value > 1 {
					t.Fatalf("input %d: factor %s value %v out of [0,1]", i, f.Name, f.Value)
				}
			}
			for _, ev := range a.Evidence {
				if ev.Factor == FactorExploitation {
					exp += ev.Points
				}
				if ev.Detail == "" || ev.Source == "" {
					t.Fatalf("input %d: incomplete evidence %+v", i, ev)
				}
			}
			if math.Abs(sum-a.Score) > 1e-6 || math.Abs(exp-a.Factors[0].Points) > 1e-6 {
				t.Fatalf("input %d: points %v / %v vs score %v / %v", i, sum, exp, a.Score, a.Factors[0].Points)
			}
			if a.Score < 0 || a.Score > 100 || a.Confidence < 0 || a.Confidence > 1 {
				t.Fatalf("input %d: out of range %+v", i, q)
			}
			if (a.Tier != a.BOD.Tier) != (a.Deviation != "") {
				t.Fatalf("input %d: tier %s bod %s deviation %q", i, a.Tier, a.BOD.Tier, a.Deviation)
			}
			if p.Escalation.BODFloor && !a.Suppressed && a.Tier.Rank() > a.BOD.Tier.Rank() {
				t.Fatalf("input %d: bod_floor violated: %s vs %s", i, a.Tier, a.BOD.Tier)
			}
			// A live tied detection is P1 whatever the control, staleness
			// or score says, unless the risk is accepted.
			live := false
			for _, al := range in.Alerts {
				live = live || !strings.EqualFold(al.Status, "closed")
			}
			if live && !a.Suppressed && a.Tier != P1 {
				t.Fatalf("input %d: live detection but tier %s", i, a.Tier)
			}
			if !a.Suppressed && a.Tier.Rank() > a.BOD.Tier.Rank() && a.Tier != a.BOD.Tier && !strings.Contains(a.Deviation, "more lenient") {
				t.Fatalf("input %d: deviation %q does not say more lenient", i, a.Deviation)
			}
		}
	}
	for _, tier := range []Tier{P1, P2, P3, P4, ""} {
		if tiers[tier] == 0 {
			t.Errorf("random inputs never produced tier %q: %v", tier, tiers)
		}
	}
}

func TestFactsFromFeeds(t *testing.T) {
	k, err := intel.BundledKEV()
	if err != nil {
		t.Fatal(err)
	}
	e, err := intel.ParseEPSS([]byte("#model_version:v2025.03.14,score_date:2025-06-01T12:55:00Z\ncve,epss,percentile\nCVE-2025-48384,0.5,0.9\n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	kf, ef := FeedFacts(&intel.Feeds{KEV: k, EPSS: e}, "CVE-2025-48384")
	if kf == nil || kf.CatalogVersion != "2025.08.25" || !kf.DateAdded.Equal(time.Date(2025, 8, 25, 0, 0, 0, 0, time.UTC)) || kf.VulnerabilityName != "Git Link Following Vulnerability" {
		t.Fatalf("kev fact %+v", kf)
	}
	if ef == nil || ef.Score != 0.5 || ef.ModelVersion != "v2025.03.14" || ef.ScoreDate != "2025-06-01" {
		t.Fatalf("epss fact %+v", ef)
	}
	kf, ef = FeedFacts(&intel.Feeds{KEV: k}, "CVE-1999-0001")
	if kf != nil || ef != nil {
		t.Fatalf("unknown CVE: %+v %+v", kf, ef)
	}
	iv := IntelFactFrom(&falcon.IntelVuln{Actors: []falcon.IntelActor{{ID: "1", Name: "FANCY BEAR"}}, Reports: []falcon.IntelReport{{SerialID: "CSA-1", Title: "T"}}})
	if iv.Actors[0] != "FANCY BEAR" || iv.Reports[0] != "CSA-1: T" || IntelFactFrom(&falcon.IntelVuln{}) != nil {
		t.Fatalf("intel fact %+v", iv)
	}
	af := AlertFactFrom(falcon.Alert{ID: "c:1", DisplayName: "D", Name: "N", Status: "New"}, "cve")
	if af.Name != "D" || af.Status != "new" || af.Match != "cve" {
		t.Fatalf("alert fact %+v", af)
	}
}
