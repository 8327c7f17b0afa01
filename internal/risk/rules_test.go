package risk

import (
	"strings"
	"testing"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
)

// internalHost is a managed, internal host of the given role and
// criticality, with a patch, EPSS 0 and a local, partial-impact vector: its
// score stays low, so the tier shows which rule applied.
func internalHost(role, crit string) *Input {
	in := baseInput()
	in.Finding.Host.ProductTypeDesc = role
	in.Finding.Host.AssetCriticality = crit
	in.Finding.Host.InternetExposure = "No"
	return in
}

const (
	totalImpactVector   = "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"
	partialImpactVector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"
)

func withKEV(in *Input) { in.KEV = &KEVFact{CatalogVersion: "2025.08.25"} }

func withActor(in *Input) { in.Intel = &IntelFact{Actors: []string{"FANCY BEAR"}} }

func withControl(in *Input) {
	in.Finding.Suppression = falcon.Suppression{Suppressed: true, Reason: "COMPENSATING_CONTROL"}
}

func withStale(days int) func(*Input) {
	return func(in *Input) {
		in.Finding.Host.LastSeen = now.AddDate(0, 0, -days)
		in.Host = &falcon.Host{LastSeen: now.AddDate(0, 0, -days)}
	}
}

func withDetection(in *Input) {
	in.Alerts = []AlertFact{{ID: "ldt:7", Name: "Exploit attempt", Status: "new", Match: "cve", Created: now.Add(-time.Hour)}}
}

func all(mods ...func(*Input)) func(*Input) {
	return func(in *Input) {
		for _, m := range mods {
			m(in)
		}
	}
}

// policyWith returns the default policy changed by mod.
func policyWith(mod func(*Policy)) *Policy {
	p := DefaultPolicy()
	mod(p)
	return p
}

func evidenceByRef(a Assessment, ref string) (Evidence, bool) {
	for _, ev := range a.Evidence {
		if ev.Ref == ref {
			return ev, true
		}
	}
	return Evidence{}, false
}

// TestAssetEscalationFloors: exploitation (KEV or an Intel adversary) on the
// assets that matter most forces a minimum tier, each rule its own key.
func TestAssetEscalationFloors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy *Policy
		in     *Input
		mod    func(*Input)
		tier   Tier
		ref    string // the rule whose evidence is checked ("" none may raise the tier)
		detail string // in that rule's evidence; it raised the tier unless this says "(already met)"
	}{
		{"kev on internal critical DC", nil, internalHost("Domain Controller", "Critical"), withKEV, P1,
			"escalation.exploited_critical_asset", "the CVE is in CISA KEV and the host is a Critical domain controller: at least P1, raised from P2"},
		{"kev on noncritical DC", nil, internalHost("Domain Controller", "Noncritical"), withKEV, P1,
			"escalation.exploited_critical_asset", "the host is a domain controller: at least P1"},
		{"kev on critical workstation", nil, internalHost("Workstation", "Critical"), withKEV, P1,
			"escalation.exploited_critical_asset", "the CVE is in CISA KEV and the asset is Critical"},
		{"intel actor on critical server", nil, internalHost("Server", "Critical"), withActor, P1,
			"escalation.exploited_critical_asset", `Falcon Intelligence ties "FANCY BEAR" to the CVE and the asset is Critical`},
		{"spotlight actors count too", nil, internalHost("Server", "Critical"), func(in *Input) { in.Finding.CVEInfo.Actors = []string{"WIZARD SPIDER"} }, P1,
			"escalation.exploited_critical_asset", `"WIZARD SPIDER"`},
		{"kev total impact on high server", nil, internalHost("Server", "High"), all(withKEV, func(in *Input) { in.Finding.CVEInfo.Vector = totalImpactVector }), P1,
			"escalation.exploited_high_asset", "technical impact total), and the asset is High-criticality: at least P1"},
		{"actor total impact on high workstation", nil, internalHost("Workstation", "High"), all(withActor, func(in *Input) { in.Finding.CVEInfo.Vector = totalImpactVector }), P1,
			"escalation.exploited_high_asset", `Falcon Intelligence ties "FANCY BEAR" to the CVE, its exploitation gives total control`},
		{"kev partial impact on high server stays at the kev floor", nil, internalHost("Server", "High"), all(withKEV, func(in *Input) { in.Finding.CVEInfo.Vector = partialImpactVector }), P2,
			"escalation.kev", "the CVE is in CISA KEV: at least P2 (already met)"},
		{"kev without a vector on high server: impact unknown", nil, internalHost("Server", "High"), all(withKEV, func(in *Input) { in.Finding.CVEInfo.Vector = "" }), P2,
			"escalation.kev", "(already met)"},
		{"kev on noncritical workstation", nil, internalHost("Workstation", "Noncritical"), withKEV, P2, "escalation.kev", ""},
		{"actor on noncritical workstation", nil, internalHost("Workstation", "Noncritical"), withActor, P2,
			"escalation.intel_actor", `Falcon Intelligence ties "FANCY BEAR" to the CVE: at least P2, raised from`},
		{"intel reports without actors are no floor", nil, internalHost("Workstation", "Noncritical"), func(in *Input) { in.Intel = &IntelFact{Reports: []string{"CSA-1: x"}} }, P4, "", ""},
		{"critical asset rule disabled", policyWith(func(p *Policy) { p.Escalation.ExploitedCriticalAsset = "none" }),
			internalHost("Domain Controller", "Critical"), withKEV, P2, "escalation.kev", "(already met)"},
		{"high asset rule set to P2", policyWith(func(p *Policy) { p.Escalation.ExploitedHighAsset = "P2" }),
			internalHost("Server", "High"), all(withKEV, func(in *Input) { in.Finding.CVEInfo.Vector = totalImpactVector }), P2, "escalation.exploited_high_asset", "at least P2 (already met)"},
		{"intel actor rule disabled", policyWith(func(p *Policy) { p.Escalation.IntelActor = "none" }),
			internalHost("Workstation", "Noncritical"), withActor, P3, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.mod(tc.in)
			e := mustEngine(tc.policy)
			a := e.Assess(tc.in)
			if a.Tier != tc.tier {
				t.Fatalf("tier %s (score %v), want %s; evidence %+v", a.Tier, a.Score, tc.tier, a.Evidence)
			}
			if q := e.Score(tc.in); q.Tier != a.Tier {
				t.Fatalf("Score tier %s, Assess %s", q.Tier, a.Tier)
			}
			if tc.ref == "" {
				for _, ev := range a.Evidence {
					if strings.Contains(ev.Detail, "raised from") {
						t.Fatalf("no rule should raise the tier: %+v", ev)
					}
				}
				return
			}
			ev, ok := evidenceByRef(a, tc.ref)
			raised := !strings.Contains(tc.detail, "(already met)")
			if !ok || ev.Source != SourcePolicy || ev.Points != 0 || strings.Contains(ev.Detail, "raised from") != raised {
				t.Fatalf("no policy evidence %s (raised %v): %+v", tc.ref, raised, a.Evidence)
			}
			if !strings.Contains(ev.Detail, tc.detail) {
				t.Fatalf("evidence %q lacks %q", ev.Detail, tc.detail)
			}
		})
	}
}

// TestCompensatingControlLowersFloors: a recorded compensating control
// lowers every escalation floor by one tier and says so, except the
// live-detection floor; an accepted risk stays P4.
func TestCompensatingControlLowersFloors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy *Policy
		in     *Input
		mod    func(*Input)
		tier   Tier
		ref    string
		detail string
	}{
		{"kev floor P2 → P3", nil, internalHost("Workstation", "Noncritical"), all(withKEV, withControl), P3,
			"escalation.kev", "at least P2, lowered to P3 because a compensating control is recorded (Spotlight COMPENSATING_CONTROL; policy demotion.compensating_control_floor), raised from P4"},
		{"critical DC floor P1 → P2", nil, internalHost("Domain Controller", "Critical"), all(withKEV, withControl), P2,
			"escalation.exploited_critical_asset", "at least P1, lowered to P2 because a compensating control is recorded"},
		{"kev internet-facing P1 → P2", nil, internalHost("Workstation", "Noncritical"), all(withKEV, withControl, func(in *Input) { in.Finding.Host.InternetExposure = "Yes" }), P2,
			"escalation.kev_internet_exposed", "lowered to P2"},
		{"actor floor P2 → P3", nil, internalHost("Workstation", "Noncritical"), all(withActor, withControl), P3,
			"escalation.intel_actor", "lowered to P3"},
		{"live detection is not lowered", nil, internalHost("Workstation", "Noncritical"), all(withDetection, withControl), P1,
			"escalation.active_detection", "at least P1, raised from"},
		{"lowering disabled", policyWith(func(p *Policy) { p.Demotion.CompensatingControlFloor = 0 }), internalHost("Workstation", "Noncritical"), all(withKEV, withControl), P2,
			"escalation.kev", "at least P2, raised from"},
		{"accept risk stays P4", nil, internalHost("Domain Controller", "Critical"), all(withKEV, withDetection, func(in *Input) {
			in.Finding.Suppression = falcon.Suppression{Suppressed: true, Reason: "ACCEPT_RISK"}
		}), P4, "escalation.exploited_critical_asset", "at least P1 (overridden: the finding is suppressed)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.mod(tc.in)
			a := mustEngine(tc.policy).Assess(tc.in)
			if a.Tier != tc.tier {
				t.Fatalf("tier %s (score %v), want %s", a.Tier, a.Score, tc.tier)
			}
			ev, ok := evidenceByRef(a, tc.ref)
			if !ok || !strings.Contains(ev.Detail, tc.detail) {
				t.Fatalf("evidence %s = %q (found %v), want it to contain %q", tc.ref, ev.Detail, ok, tc.detail)
			}
			if strings.Contains(tc.detail, "lowered") && ev.Value != string(tc.tier) {
				t.Fatalf("a lowered floor's value is the lowered tier: %+v", ev)
			}
		})
	}
	// A detection on a controlled finding asks for the control's review.
	in := internalHost("Workstation", "Noncritical")
	all(withDetection, withControl)(in)
	a := mustEngine(nil).Assess(in)
	found := false
	for _, ev := range a.Evidence {
		found = found || (ev.Value == "review" && strings.Contains(ev.Detail, "review the control"))
	}
	if !found {
		t.Fatalf("no review evidence: %+v", a.Evidence)
	}
}

// TestStaleHostDemotion: a host not seen for stale_host_days loses one tier
// (never below P4) unless a live detection is tied to the finding.
func TestStaleHostDemotion(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy *Policy
		in     *Input
		mod    func(*Input)
		tier   Tier
		detail string // of the demotion.stale_host evidence ("" none)
	}{
		{"kev workstation P2 → P3", nil, internalHost("Workstation", "Noncritical"), all(withKEV, withStale(104)), P3,
			"host last seen 104 days ago (more than 14 days): tier lowered from P2 to P3; verify the host still exists before spending patch effort"},
		{"kev critical DC P1 → P2", nil, internalHost("Domain Controller", "Critical"), all(withKEV, withStale(48)), P2, "tier lowered from P1 to P2"},
		{"score P1 → P2", nil, baseInput(), all(func(in *Input) { in.Finding.CVEInfo.ExploitStatus = 90 }, withStale(30)), P2, "tier lowered from P1 to P2"},
		{"never below P4", nil, internalHost("Workstation", "Noncritical"), withStale(30), P4, "already P4, the lowest tier; verify the host still exists"},
		{"expired finding", nil, internalHost("Workstation", "Noncritical"), all(withKEV, func(in *Input) { in.Finding.Status = "expired" }), P3,
			"Spotlight reports the finding expired (host not evaluated recently): tier lowered from P2 to P3"},
		{"live detection spares it", nil, internalHost("Workstation", "Noncritical"), all(withDetection, withStale(104)), P1,
			"but a live detection is tied to this finding, so the host is alive and the tier is not lowered"},
		{"closed alert does not spare it", nil, internalHost("Workstation", "Noncritical"), all(withKEV, withStale(104), func(in *Input) {
			in.Alerts = []AlertFact{{ID: "x", Status: "closed", Match: "cve"}}
		}), P3, "tier lowered from P2 to P3"},
		{"within stale_host_days", nil, internalHost("Workstation", "Noncritical"), all(withKEV, withStale(14)), P2, ""},
		{"demotion disabled", policyWith(func(p *Policy) { p.Demotion.StaleHost = 0 }), internalHost("Workstation", "Noncritical"), all(withKEV, withStale(104)), P2, ""},
		{"two tiers", policyWith(func(p *Policy) { p.Demotion.StaleHost = 2 }), internalHost("Domain Controller", "Critical"), all(withKEV, withStale(104)), P3, "tier lowered from P1 to P3"},
		{"bod floor is not lowered", policyWith(func(p *Policy) { p.Escalation.BODFloor = true }), internalHost("Workstation", "Noncritical"), all(withKEV, withStale(104)), P2,
			"tier lowered from P2 to P3"},
		{"with a compensating control too", nil, internalHost("Workstation", "Noncritical"), all(withKEV, withControl, withStale(104)), P4, "tier lowered from P3 to P4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.mod(tc.in)
			e := mustEngine(tc.policy)
			a := e.Assess(tc.in)
			if a.Tier != tc.tier {
				t.Fatalf("tier %s (score %v), want %s; evidence %+v", a.Tier, a.Score, tc.tier, a.Evidence)
			}
			if q := e.Score(tc.in); q.Tier != a.Tier || q.SLADays != a.SLADays {
				t.Fatalf("Score %s/%d, Assess %s/%d", q.Tier, q.SLADays, a.Tier, a.SLADays)
			}
			ev, ok := evidenceByRef(a, "demotion.stale_host")
			if tc.detail == "" {
				if ok {
					t.Fatalf("unexpected stale evidence %+v", ev)
				}
				return
			}
			if !ok || ev.Source != SourcePolicy || ev.Factor != FactorTier || !strings.Contains(ev.Detail, tc.detail) {
				t.Fatalf("stale evidence %q (found %v), want it to contain %q", ev.Detail, ok, tc.detail)
			}
		})
	}
}

// TestAutomatableOutranksUserInteraction: of two bugs with the same CVSS
// score and no exploitation evidence, the automatable one scores higher.
func TestAutomatableOutranksUserInteraction(t *testing.T) {
	e := mustEngine(nil)
	score := func(vector string) Quick {
		in := internalHost("Server", "High")
		in.Finding.CVEInfo.BaseScore = 8.8
		in.Finding.CVEInfo.Vector = vector
		return e.Score(in)
	}
	auto := score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:L/A:N")
	for _, v := range []string{
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", // client-side
		"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", // high complexity
		"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", // authenticated
		"CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", // local
		"", // unknown vector: not assumed automatable
	} {
		if other := score(v); !(auto.Score > other.Score) || !(auto.Likelihood > other.Likelihood) {
			t.Errorf("automatable %v / %v does not outrank %q: %v / %v", auto.Score, auto.Likelihood, v, other.Score, other.Likelihood)
		}
	}
	// Setting the automatable weight to the plain floor removes the gap.
	flat := mustEngine(policyWith(func(p *Policy) { p.Likelihood.CVSSFloorAutomatable = p.Likelihood.CVSSFloor }))
	a, b := internalHost("Server", "High"), internalHost("Server", "High")
	a.Finding.CVEInfo.BaseScore, b.Finding.CVEInfo.BaseScore = 8.8, 8.8
	a.Finding.CVEInfo.Vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:L/A:N"
	b.Finding.CVEInfo.Vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H"
	if sa, sb := flat.Score(a).Score, flat.Score(b).Score; sa != sb {
		t.Fatalf("flat floor: %v vs %v", sa, sb)
	}
}

// TestDeviationNamesTheNewRules: the BOD 26-04 deviation sentence names the
// asset floor, the compensating control and the stale host when they decide.
func TestDeviationNamesTheNewRules(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       *Input
		mod      func(*Input)
		tier     Tier
		bod      Tier
		want     string
		contains string
	}{
		{"stricter by the critical asset floor", internalHost("Domain Controller", "Critical"), withActor, P1, P4,
			`P1 is stricter than BOD 26-04's fix on system upgrade: Falcon Intelligence ties "FANCY BEAR" to the CVE and the host is a Critical domain controller.`, ""},
		{"stricter by the high asset floor", internalHost("Server", "High"), all(withKEV, func(in *Input) { in.Finding.CVEInfo.Vector = totalImpactVector }), P1, P2,
			"P1 is stricter than BOD 26-04's 14 days: the CVE is in CISA KEV, its exploitation gives total control (technical impact total), and the asset is High-criticality.", ""},
		{"stricter by a lowered floor", internalHost("Domain Controller", "Critical"), all(withActor, withControl), P2, P4,
			`P2 is stricter than BOD 26-04's fix on system upgrade: Falcon Intelligence ties "FANCY BEAR" to the CVE and the host is a Critical domain controller (a floor of P1, lowered to P2 by the recorded compensating control).`, ""},
		{"stricter, then demoted", internalHost("Domain Controller", "Critical"), all(withActor, withStale(48)), P2, P4,
			`P2 is stricter than BOD 26-04's fix on system upgrade: Falcon Intelligence ties "FANCY BEAR" to the CVE and the host is a Critical domain controller; the host was last seen 48 days ago (more than 14 days), which lowers the tier from P1 to P2 until someone verifies the host still exists.`, ""},
		{"more lenient by the compensating control", internalHost("Workstation", "Noncritical"), all(withKEV, withControl), P3, P2,
			"P3 is more lenient than BOD 26-04's 14 days: the CVE is in CISA KEV (a floor of P2), but a compensating control is recorded (Spotlight COMPENSATING_CONTROL), which lowers that floor to P3.", ""},
		{"more lenient by staleness", internalHost("Workstation", "Noncritical"), all(withKEV, withStale(104)), P3, P2,
			"P3 is more lenient than BOD 26-04's 14 days: the host was last seen 104 days ago (more than 14 days), which lowers the tier from P2 to P3 until someone verifies the host still exists.", ""},
		{"more lenient by both", internalHost("Workstation", "Noncritical"), all(withKEV, withControl, withStale(104)), P4, P2,
			"P4 is more lenient than BOD 26-04's 14 days: the CVE is in CISA KEV (a floor of P2), but a compensating control is recorded (Spotlight COMPENSATING_CONTROL), which lowers that floor to P3; and the host was last seen 104 days ago (more than 14 days), which lowers the tier from P3 to P4 until someone verifies the host still exists.", ""},
		{"more lenient by score and staleness", internalHost("Workstation", "Noncritical"), all(withStale(30), func(in *Input) {
			in.Finding.CVEInfo.Vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
			in.Finding.CVEInfo.ExploitStatus = 90
			in.Finding.Host.InternetExposure = "Yes"
		}), P4, P1, "P4 is more lenient than BOD 26-04's 3 days: the score 37.1 stays below P1's 70 given exploitation likelihood 0.90 (exploit status 90), a Noncritical asset ×0.55 and a workstation ×0.75; and the host was last seen 30 days ago (more than 14 days), which lowers the tier from P3 to P4 until someone verifies the host still exists.", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.mod(tc.in)
			a := mustEngine(nil).Assess(tc.in)
			if a.Tier != tc.tier || a.BOD.Tier != tc.bod {
				t.Fatalf("tier %s bod %s, want %s %s; deviation %q", a.Tier, a.BOD.Tier, tc.tier, tc.bod, a.Deviation)
			}
			if tc.want != "" && a.Deviation != tc.want {
				t.Fatalf("deviation\n got %q\nwant %q", a.Deviation, tc.want)
			}
			if tc.contains != "" && !strings.Contains(a.Deviation, tc.contains) {
				t.Fatalf("deviation %q lacks %q", a.Deviation, tc.contains)
			}
		})
	}
}
