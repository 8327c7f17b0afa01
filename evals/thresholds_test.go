package evals

import (
	"strings"
	"testing"
)

func TestParseThresholdsErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"empty", "", "empty file"},
		{"version", "version: 2\nmin: {ndcg_at_10: 0.5}\n", "version: 2 is not supported"},
		{"unknown metric", "version: 1\nmin: {ndcg_at_30: 0.5}\n", `min.ndcg_at_30: unknown metric "ndcg_at_30"`},
		{"unknown field", "version: 1\nminimum: {ndcg_at_10: 0.5}\n", `unknown field "minimum" in the thresholds file`},
		{"unknown system", "version: 1\nsystem: gpt\nmin: {ndcg_at_10: 0.5}\n", `system: "gpt" is not a system of the harness`},
		{"no rule", "version: 1\n", "no rule"},
		{"known failure of an undefined rule", "version: 1\nmin: {ndcg_at_10: 0.5}\nknown_failures:\n  - {rule: min.p1_recall, reason: x}\n",
			`known_failures[0].rule: "min.p1_recall" is not a rule of this file (one of min.ndcg_at_10)`},
		{"known failure without a reason", "version: 1\nmin: {ndcg_at_10: 0.5}\nknown_failures:\n  - {rule: min.ndcg_at_10}\n",
			"known_failures[0].reason: required"},
		{"bad beat metric", "version: 1\nbeat_baselines: [speed]\n", `beat_baselines[0]: unknown metric "speed"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseThresholds([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func f(v float64) *float64 { return &v }

func testReport() *Report {
	return &Report{Results: []SystemResult{
		{Name: PlannerName, NDCGAt20: 0.9, P1Recall: f(0.5), P1Precision: nil, HallucinatedIDs: 0, TopKHitRate: 1},
		{Name: BaselineCVSS, NDCGAt20: 0.7, P1Recall: f(0.5), P1Precision: f(0.2), HallucinatedIDs: 2},
		{Name: BaselineKEVThenCVSS, NDCGAt20: 0.9, P1Recall: f(0.4), P1Precision: f(0.3), HallucinatedIDs: 0},
	}}
}

func TestThresholdChecks(t *testing.T) {
	tests := []struct {
		name       string
		yaml       string
		failed     []string // rules that fail the run
		known      []string // rules reported as known failures
		detailHas  string
		passedRule string
	}{
		{"min passes and fails", "version: 1\nmin: {ndcg_at_20: 0.5, top_k_hit_rate: 1.01}\n", []string{"min.top_k_hit_rate"}, nil, "minimum 1.01", "min.ndcg_at_20"},
		{"undefined metric fails a min", "version: 1\nmin: {p1_precision: 0.1}\n", []string{"min.p1_precision"}, nil, "p1_precision = undefined", ""},
		{"beat is strict: a tie fails", "version: 1\nbeat_baselines: [ndcg_at_20]\n", []string{"beat_baselines.ndcg_at_20"}, nil, "baseline-kev-then-cvss 0.900", ""},
		{"match accepts a tie", "version: 1\nmatch_baselines: [p1_recall]\n", nil, nil, "", "match_baselines.p1_recall"},
		{"lower is better for counts", "version: 1\nmatch_baselines: [hallucinated_ids]\nmax: {hallucinated_ids: 0}\n", nil, nil, "", "match_baselines.hallucinated_ids"},
		{"known failure that still fails", "version: 1\nmin: {top_k_hit_rate: 1.01}\nknown_failures:\n  - {rule: min.top_k_hit_rate, reason: \"a documented cause\"}\n",
			nil, []string{"min.top_k_hit_rate"}, "", ""},
		{"known failure that now passes fails the run", "version: 1\nmin: {ndcg_at_20: 0.5}\nknown_failures:\n  - {rule: min.ndcg_at_20, reason: \"fixed since\"}\n",
			[]string{"known_failures"}, nil, "min.ndcg_at_20 now passes", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th, err := ParseThresholds([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			r := testReport()
			failed := th.Check(r)
			var got []string
			for _, c := range failed {
				got = append(got, c.Rule)
			}
			if strings.Join(got, ",") != strings.Join(tt.failed, ",") {
				t.Fatalf("failed rules %v, want %v (checks %+v)", got, tt.failed, r.Checks)
			}
			if r.Passed != (len(tt.failed) == 0) {
				t.Errorf("Passed = %v", r.Passed)
			}
			var known []string
			all := ""
			for _, c := range r.Checks {
				all += c.Detail + "\n"
				if c.KnownFailure != "" {
					known = append(known, c.Rule)
				}
				if c.Rule == tt.passedRule && !c.Passed {
					t.Errorf("%s should pass: %s", c.Rule, c.Detail)
				}
			}
			if strings.Join(known, ",") != strings.Join(tt.known, ",") {
				t.Errorf("known failures %v, want %v", known, tt.known)
			}
			if !strings.Contains(all, tt.detailHas) {
				t.Errorf("details do not mention %q:\n%s", tt.detailHas, all)
			}
		})
	}
}
