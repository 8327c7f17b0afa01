package risk

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultPolicyValid(t *testing.T) {
	p := DefaultPolicy()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if p.Tiers.P1.MinScore != 70 || p.Tiers.P4.SLADays != 180 || p.Likelihood.KEV != 0.95 || p.Escalation.KEV != "P2" {
		t.Fatalf("defaults not loaded: %+v", p)
	}
	want := EscalationPolicy{ActiveDetection: "P1", KEVInternetExposed: "P1", ExploitedCriticalAsset: "P1", ExploitedHighAsset: "P1", KEV: "P2", IntelActor: "P2"}
	if p.Escalation != want || p.Demotion != (DemotionPolicy{CompensatingControlFloor: 1, StaleHost: 1}) ||
		p.Likelihood.CVSSFloorAutomatable != 0.3 || p.Suppression.CompensatingControl != 0.5 {
		t.Fatalf("new rules' defaults not loaded: %+v %+v", p.Escalation, p.Demotion)
	}
	if DefaultPolicy() == p {
		t.Fatal("DefaultPolicy must return a fresh copy")
	}
}

// Every key of the default policy file is documented by a comment on the
// line(s) just above it.
func TestDefaultPolicyEveryKeyCommented(t *testing.T) {
	sc := bufio.NewScanner(bytes.NewReader(DefaultPolicyYAML()))
	prevComment := false
	line := 0
	keys := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		switch {
		case s == "":
			prevComment = false
		case strings.HasPrefix(s, "#"):
			prevComment = true
		default:
			keys++
			if !prevComment && !strings.Contains(s, "#") {
				t.Errorf("line %d: key %q has no comment", line, s)
			}
			prevComment = false
		}
	}
	if keys < 50 {
		t.Fatalf("only %d keys seen", keys)
	}
}

func TestParsePolicyOverridesOnlyNamedKeys(t *testing.T) {
	p, err := ParsePolicy([]byte("tiers:\n  p1:\n    min_score: 80\nescalation:\n  kev: none\n  exploited_high_asset: P2\ndemotion:\n  stale_host: 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Tiers.P1.MinScore != 80 || p.Tiers.P1.SLADays != 3 || p.Tiers.P2.MinScore != 40 || p.Escalation.KEV != "none" || p.Likelihood.AlertCVE != 0.98 {
		t.Fatalf("override merged wrongly: %+v", p.Tiers)
	}
	if p.Escalation.ExploitedHighAsset != "P2" || p.Escalation.ExploitedCriticalAsset != "P1" || p.Demotion.StaleHost != 0 || p.Demotion.CompensatingControlFloor != 1 {
		t.Fatalf("override merged wrongly: %+v %+v", p.Escalation, p.Demotion)
	}
	if p.Fingerprint() == DefaultPolicy().Fingerprint() {
		t.Error("fingerprint must change with a value")
	}
	if a, b := DefaultPolicy(), DefaultPolicy(); a.Fingerprint() != b.Fingerprint() {
		t.Error("fingerprint must be stable")
	}
	empty, err := ParsePolicy(nil)
	if err != nil || empty.Fingerprint() != DefaultPolicy().Fingerprint() {
		t.Fatalf("empty policy: %v", err)
	}
}

func TestPolicyValidationErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"p1 out of range", "tiers: {p1: {min_score: 120}}", "policy.tiers.p1.min_score: 120 is out of range 0–100"},
		{"not descending", "tiers: {p2: {min_score: 75}}", "policy.tiers.p2.min_score: 75 must be below policy.tiers.p1.min_score (70)"},
		{"p3 not below p2", "tiers: {p3: {min_score: 40}}", "policy.tiers.p3.min_score: 40 must be below policy.tiers.p2.min_score (40)"},
		{"weight above 1", "likelihood: {kev: 1.5}", "policy.likelihood.kev: 1.5 is out of range 0–1"},
		{"nested weight negative", "likelihood: {exploit_status: {available: -0.1}}", "policy.likelihood.exploit_status.available: -0.1 is out of range 0–1"},
		{"multiplier", "criticality: {noncritical: 2}", "policy.criticality.noncritical: 2 is out of range 0–1"},
		{"sla range", "tiers: {p1: {sla_days: 0}}", "policy.tiers.p1.sla_days: 0 is out of range 1–3650"},
		{"sla shrinks", "tiers: {p3: {sla_days: 7}}", "policy.tiers.p3.sla_days: 7 is shorter than policy.tiers.p2.sla_days (14)"},
		{"escalation value", "escalation: {kev: P0}", `policy.escalation.kev: "P0" is not one of P1, P2, P3, P4, none`},
		{"critical asset escalation value", "escalation: {exploited_critical_asset: high}", `policy.escalation.exploited_critical_asset: "high" is not one of P1, P2, P3, P4, none`},
		{"high asset escalation value", "escalation: {exploited_high_asset: P5}", `policy.escalation.exploited_high_asset: "P5" is not one of P1, P2, P3, P4, none`},
		{"intel actor escalation value", "escalation: {intel_actor: yes}", `policy.escalation.intel_actor: "yes" is not one of P1, P2, P3, P4, none`},
		{"demotion negative", "demotion: {stale_host: -1}", "policy.demotion.stale_host: -1 is out of range 0–3 (tiers to lower; 0 disables)"},
		{"demotion too many tiers", "demotion: {compensating_control_floor: 4}", "policy.demotion.compensating_control_floor: 4 is out of range 0–3"},
		{"demotion unknown key", "demotion:\n  unmanaged: 1\n", `line 2: unknown key "unmanaged"`},
		{"automatable floor", "likelihood: {cvss_floor_automatable: 1.2}", "policy.likelihood.cvss_floor_automatable: 1.2 is out of range 0–1"},
		{"stale days", "confidence: {stale_host_days: 0}", "policy.confidence.stale_host_days: 0 is out of range 1–3650"},
		{"labels order", "confidence: {labels: {medium: 0.9}}", "policy.confidence.labels.medium: 0.9 must be below policy.confidence.labels.high (0.75)"},
		{"version", "version: 2", "policy.version: 2 is not supported (want 1)"},
		{"unknown key", "likelihood:\n  kevv: 0.5\n", `line 2: unknown key "kevv"`},
		{"unknown top key", "tier: {}", `line 1: unknown key "tier"`},
		{"p4 has no min_score", "tiers: {p4: {min_score: 1}}", `unknown key "min_score"`},
		{"wrong type", "tiers: {p1: {sla_days: soon}}", "cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
	// All problems are reported at once.
	_, err := ParsePolicy([]byte("likelihood: {kev: 2, epss: -1}"))
	if err == nil || !strings.Contains(err.Error(), "likelihood.kev") || !strings.Contains(err.Error(), "likelihood.epss") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadPolicyFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "policy.yaml")
	os.WriteFile(good, []byte("# stricter P1\ntiers:\n  p1:\n    sla_days: 2\n"), 0o600)
	p, err := LoadPolicy(good)
	if err != nil || p.Tiers.P1.SLADays != 2 {
		t.Fatalf("LoadPolicy: %v %+v", err, p)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("tiers: {p1: {min_score: 120}}"), 0o600)
	if _, err := LoadPolicy(bad); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "policy.tiers.p1.min_score") {
		t.Fatalf("err = %v", err)
	}
	if _, err := LoadPolicy(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewEngine(&Policy{}); err == nil {
		t.Fatal("NewEngine must validate the policy")
	}
}
