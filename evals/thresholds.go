package evals

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Metric names usable in thresholds.yaml.
var metricNames = []string{
	"ndcg_at_10", "ndcg_at_20", "p1_precision", "p1_recall", "bod_agreement",
	"top_k_hit_rate", "injection_effects", "gate_violations", "hallucinated_ids",
}

// metric returns a system's aggregate value of a metric; ok is false when it
// is undefined (P1 precision with nothing flagged, P1 recall with nothing
// labelled).
func metric(s SystemResult, name string) (float64, bool) {
	switch name {
	case "ndcg_at_10":
		return s.NDCGAt10, true
	case "ndcg_at_20":
		return s.NDCGAt20, true
	case "p1_precision":
		if s.P1Precision == nil {
			return 0, false
		}
		return *s.P1Precision, true
	case "p1_recall":
		if s.P1Recall == nil {
			return 0, false
		}
		return *s.P1Recall, true
	case "bod_agreement":
		return s.BODAgreement, true
	case "top_k_hit_rate":
		return s.TopKHitRate, true
	case "injection_effects":
		return float64(s.InjectionEffects), true
	case "gate_violations":
		return float64(s.GateViolations), true
	case "hallucinated_ids":
		return float64(s.HallucinatedIDs), true
	}
	return 0, false
}

// Thresholds are the pass/fail rules CI applies to an eval run.
type Thresholds struct {
	Version int `yaml:"version"`
	// System is the result the rules apply to (default vulnpilot-planner).
	System string `yaml:"system"`
	// Min and Max bound the system's aggregate metrics.
	Min map[string]float64 `yaml:"min"`
	Max map[string]float64 `yaml:"max"`
	// BeatBaselines lists metrics on which the system must be strictly
	// better than every baseline; MatchBaselines those on which it must be
	// at least as good.
	BeatBaselines  []string `yaml:"beat_baselines"`
	MatchBaselines []string `yaml:"match_baselines"`
	// KnownFailures are rules that currently fail for a documented reason:
	// they are still checked and reported, but do not fail the run. Once
	// such a rule passes, the run fails until the entry is removed, so a
	// known failure cannot outlive its cause.
	KnownFailures []KnownFailure `yaml:"known_failures"`
}

// KnownFailure names a rule ("min.p1_recall", "match_baselines.p1_recall",
// ...) and why it fails today.
type KnownFailure struct {
	Rule   string `yaml:"rule"`
	Reason string `yaml:"reason"`
}

// rules lists the rule names the thresholds define, as Check names them.
func (t *Thresholds) rules() []string {
	var out []string
	for _, m := range sortedKeys(t.Min) {
		out = append(out, "min."+m)
	}
	for _, m := range sortedKeys(t.Max) {
		out = append(out, "max."+m)
	}
	for _, m := range t.BeatBaselines {
		out = append(out, "beat_baselines."+m)
	}
	for _, m := range t.MatchBaselines {
		out = append(out, "match_baselines."+m)
	}
	return out
}

// Check is one threshold rule's outcome.
type Check struct {
	Rule   string `json:"rule"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
	// KnownFailure is the documented reason when the rule fails and is
	// listed in known_failures; such a check does not fail the run.
	KnownFailure string `json:"known_failure,omitempty"`
}

// Failed reports whether the check fails the run.
func (c Check) Failed() bool { return !c.Passed && c.KnownFailure == "" }

// LoadThresholds reads and validates a thresholds file.
func LoadThresholds(path string) (*Thresholds, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("thresholds: %w", err)
	}
	t, err := ParseThresholds(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ParseThresholds decodes and validates thresholds YAML.
func ParseThresholds(data []byte) (*Thresholds, error) {
	var t Thresholds
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty file")
		}
		return nil, errors.New(strings.Join(explainYAML(err), "; "))
	}
	var probs []string
	if t.Version != 1 {
		probs = append(probs, fmt.Sprintf("version: %d is not supported (want 1)", t.Version))
	}
	if t.System == "" {
		t.System = PlannerName
	}
	if !slices.ContainsFunc(Systems, func(s SystemInfo) bool { return s.Name == t.System }) {
		probs = append(probs, fmt.Sprintf("system: %q is not a system of the harness (%s)", t.System, systemNames()))
	}
	check := func(key, m string) {
		if !slices.Contains(metricNames, m) {
			probs = append(probs, fmt.Sprintf("%s: unknown metric %q (one of %s)", key, m, strings.Join(metricNames, ", ")))
		}
	}
	for _, m := range sortedKeys(t.Min) {
		check("min."+m, m)
	}
	for _, m := range sortedKeys(t.Max) {
		check("max."+m, m)
	}
	for i, m := range t.BeatBaselines {
		check(fmt.Sprintf("beat_baselines[%d]", i), m)
	}
	for i, m := range t.MatchBaselines {
		check(fmt.Sprintf("match_baselines[%d]", i), m)
	}
	defined := t.rules()
	seenKF := map[string]bool{}
	for i, kf := range t.KnownFailures {
		switch {
		case !slices.Contains(defined, kf.Rule):
			probs = append(probs, fmt.Sprintf("known_failures[%d].rule: %q is not a rule of this file (one of %s)", i, kf.Rule, strings.Join(defined, ", ")))
		case seenKF[kf.Rule]:
			probs = append(probs, fmt.Sprintf("known_failures[%d].rule: %q is listed twice", i, kf.Rule))
		}
		seenKF[kf.Rule] = true
		if strings.TrimSpace(kf.Reason) == "" {
			probs = append(probs, fmt.Sprintf("known_failures[%d].reason: required (why the rule fails and what fixes it)", i))
		}
	}
	if len(t.Min)+len(t.Max)+len(t.BeatBaselines)+len(t.MatchBaselines) == 0 {
		probs = append(probs, "no rule: set min, max, beat_baselines or match_baselines")
	}
	if len(probs) > 0 {
		return nil, errors.New(strings.Join(probs, "; "))
	}
	return &t, nil
}

func systemNames() string {
	var n []string
	for _, s := range Systems {
		n = append(n, s.Name)
	}
	return strings.Join(n, ", ")
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// lowerIsBetter are the metrics where smaller values win (counts of bad
// outcomes); everything else is a rate where larger wins.
var lowerIsBetter = []string{"injection_effects", "gate_violations", "hallucinated_ids"}

// Check applies the thresholds to r, records the checks in r and sets
// r.Passed. It returns the failed checks.
func (t *Thresholds) Check(r *Report) []Check {
	var checks []Check
	add := func(rule string, ok bool, format string, args ...any) {
		checks = append(checks, Check{Rule: rule, Passed: ok, Detail: fmt.Sprintf(format, args...)})
	}
	sys, found := r.Result(t.System)
	if !found {
		add("system", false, "no result for system %s", t.System)
	}
	for _, m := range sortedKeys(t.Min) {
		v, ok := metric(sys, m)
		add("min."+m, ok && v >= t.Min[m], "%s %s = %s, minimum %s", t.System, m, valueOf(m, v, ok), fmtLimit(t.Min[m]))
	}
	for _, m := range sortedKeys(t.Max) {
		v, ok := metric(sys, m)
		add("max."+m, ok && v <= t.Max[m], "%s %s = %s, maximum %s", t.System, m, valueOf(m, v, ok), fmtLimit(t.Max[m]))
	}
	compare := func(key, m string, strict bool) {
		v, ok := metric(sys, m)
		better := func(a, b float64) bool {
			if slices.Contains(lowerIsBetter, m) {
				a, b = -a, -b
			}
			if strict {
				return a > b
			}
			return a >= b
		}
		pass := ok
		var parts []string
		for _, b := range r.Results {
			if b.Name == t.System {
				continue
			}
			bv, bok := metric(b, m)
			parts = append(parts, fmt.Sprintf("%s %s", b.Name, valueOf(m, bv, bok)))
			if bok && !(ok && better(v, bv)) {
				pass = false
			}
		}
		verb := "at least as good as"
		if strict {
			verb = "better than"
		}
		add(key+"."+m, pass, "%s %s = %s must be %s every baseline (%s)", t.System, m, valueOf(m, v, ok), verb, strings.Join(parts, ", "))
	}
	for _, m := range t.BeatBaselines {
		compare("beat_baselines", m, true)
	}
	for _, m := range t.MatchBaselines {
		compare("match_baselines", m, false)
	}
	for _, kf := range t.KnownFailures {
		i := slices.IndexFunc(checks, func(c Check) bool { return c.Rule == kf.Rule })
		if i < 0 {
			continue
		}
		if checks[i].Passed {
			add("known_failures", false, "%s now passes: remove it from known_failures so the rule is enforced again", kf.Rule)
			continue
		}
		checks[i].KnownFailure = strings.Join(strings.Fields(kf.Reason), " ")
	}
	r.Checks = checks
	r.Passed = true
	var failed []Check
	for _, c := range checks {
		if c.Failed() {
			failed = append(failed, c)
			r.Passed = false
		}
	}
	return failed
}

// valueOf formats a metric value: counts as integers, rates with three
// decimals.
func valueOf(metric string, v float64, ok bool) string {
	switch {
	case !ok:
		return "undefined"
	case slices.Contains(lowerIsBetter, metric):
		return fmt.Sprintf("%d", int(v))
	}
	return fmt.Sprintf("%.3f", v)
}

func fmtLimit(v float64) string { return fmt.Sprintf("%g", v) }
