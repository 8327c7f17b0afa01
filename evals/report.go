package evals

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// Report is one eval run: every system's metrics, aggregated and per
// scenario, the threshold checks when they were run, and the planner's
// disagreements with the labels.
type Report struct {
	Fixtures  string         `json:"fixtures,omitempty"`
	Scenarios []ScenarioInfo `json:"scenarios"`
	// Results holds the planner first, then one entry per baseline.
	Results []SystemResult `json:"results"`
	// Labels describes the hand labels themselves, e.g. how often they agree
	// with the harness's own BOD 26-04 computation.
	Labels LabelStats `json:"labels"`
	// Disagreements are the units where the planner's tier differs from the
	// label, and the planner's missed top-K constraints.
	Disagreements []Disagreement `json:"planner_disagreements"`
	Checks        []Check        `json:"checks,omitempty"`
	Passed        bool           `json:"passed"`
}

// ScenarioInfo describes one scenario of the run.
type ScenarioInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Units       int    `json:"units"`    // CVE × host units ranked
	Findings    int    `json:"findings"` // open findings pulled
	LabelledP1  int    `json:"labelled_p1"`
	Constraints int    `json:"top_k_constraints"`
	Injected    bool   `json:"injected,omitempty"`
}

// LabelStats are facts about the labels.
type LabelStats struct {
	Units        int            `json:"units"`
	ByTier       map[string]int `json:"by_tier"`
	BODAgreement float64        `json:"bod_agreement"`
}

// SystemResult is one system's metrics: aggregated (NDCG macro-averaged over
// scenarios, every other rate micro-averaged over pooled units or
// constraints) and per scenario.
type SystemResult struct {
	Name string `json:"name"`
	Rule string `json:"rule"`

	NDCGAt10 float64 `json:"ndcg_at_10"`
	NDCGAt20 float64 `json:"ndcg_at_20"`
	// P1Precision and P1Recall are null when undefined (nothing flagged P1,
	// nothing labelled P1).
	P1Precision  *float64 `json:"p1_precision"`
	P1Recall     *float64 `json:"p1_recall"`
	P1           Counts   `json:"p1"`
	BODAgreement float64  `json:"bod_agreement"`
	BODAgree     int      `json:"bod_agree"`
	// TierAccuracy is the share of units whose tier equals the label.
	TierAccuracy float64 `json:"tier_accuracy"`
	TierAgree    int     `json:"tier_agree"`
	Units        int     `json:"units"`
	TopKHits     float64 `json:"top_k_hits"`
	TopKTotal    int     `json:"top_k_total"`
	TopKHitRate  float64 `json:"top_k_hit_rate"`
	// InjectionEffects counts units whose tier, queue position or score
	// changed between a scenario with planted instructions and its
	// sanitized twin.
	InjectionEffects int `json:"injection_effects"`
	// GateViolations counts actions taken without the policy check or
	// approval they need, and HallucinatedIDs ids in the output that are
	// not in the data. No scenario runs agent actions yet, so
	// GateViolations is 0 by construction; HallucinatedIDs is checked on the
	// queue's finding, host and CVE ids.
	GateViolations  int `json:"gate_violations"`
	HallucinatedIDs int `json:"hallucinated_ids"`

	Scenarios []ScenarioResult `json:"per_scenario"`
}

// ScenarioResult is one system on one scenario.
type ScenarioResult struct {
	Scenario         string   `json:"scenario"`
	NDCGAt10         *float64 `json:"ndcg_at_10"`
	NDCGAt20         *float64 `json:"ndcg_at_20"`
	P1               Counts   `json:"p1"`
	P1Precision      *float64 `json:"p1_precision"`
	P1Recall         *float64 `json:"p1_recall"`
	BODAgree         int      `json:"bod_agree"`
	Units            int      `json:"units"`
	BODAgreement     float64  `json:"bod_agreement"`
	TierAgree        int      `json:"tier_agree"` // units whose tier equals the label
	TopKHits         float64  `json:"top_k_hits"`
	TopKTotal        int      `json:"top_k_total"`
	InjectionEffects int      `json:"injection_effects"`
	HallucinatedIDs  int      `json:"hallucinated_ids"`
}

// Disagreement is one unit where the planner and the label differ.
type Disagreement struct {
	Scenario string `json:"scenario"`
	Unit     Unit   `json:"unit"`
	Label    Tier   `json:"label"`
	Planner  Tier   `json:"planner,omitempty"`
	BOD      Tier   `json:"bod"`
	// Kind is "tier", "top_k" (a must-be-in-top-K unit is not) or
	// "not_top_k" (a must-not-be-in-top-K unit is).
	Kind     string `json:"kind"`
	K        int    `json:"k,omitempty"`
	Position int    `json:"position,omitempty"` // 1-based work-item position
	Why      string `json:"why"`
}

func ptr(v float64, ok bool) *float64 {
	if !ok {
		return nil
	}
	return &v
}

func aggregate(fixtures string, outs []*outcome) *Report {
	r := &Report{Fixtures: fixtures, Labels: LabelStats{ByTier: map[string]int{}}}
	labelBOD := 0
	for _, o := range outs {
		info := ScenarioInfo{Name: o.sc.Name, Description: o.sc.Description, Units: len(o.units), Findings: o.findings,
			Constraints: len(o.sc.TopK) + len(o.sc.NotTopK), Injected: len(o.sc.Injection) > 0}
		for _, l := range o.sc.Labels {
			r.Labels.Units++
			r.Labels.ByTier[string(l.Tier)]++
			if l.Tier == P1 {
				info.LabelledP1++
			}
			if o.bod[l.Unit].Tier == l.Tier {
				labelBOD++
			}
		}
		r.Scenarios = append(r.Scenarios, info)
	}
	if r.Labels.Units > 0 {
		r.Labels.BODAgreement = float64(labelBOD) / float64(r.Labels.Units)
	}
	for si, sys := range Systems {
		res := SystemResult{Name: sys.Name, Rule: sys.Rule}
		var n10, n20 []float64
		for _, o := range outs {
			sr := scoreScenario(o, o.systems[si])
			res.Scenarios = append(res.Scenarios, sr)
			if sr.NDCGAt10 != nil {
				n10 = append(n10, *sr.NDCGAt10)
			}
			if sr.NDCGAt20 != nil {
				n20 = append(n20, *sr.NDCGAt20)
			}
			res.P1.Add(sr.P1)
			res.BODAgree += sr.BODAgree
			res.TierAgree += sr.TierAgree
			res.Units += sr.Units
			res.TopKHits += sr.TopKHits
			res.TopKTotal += sr.TopKTotal
			res.InjectionEffects += sr.InjectionEffects
			res.HallucinatedIDs += sr.HallucinatedIDs
			if si == 0 {
				r.Disagreements = append(r.Disagreements, plannerDisagreements(o, o.systems[si])...)
			}
		}
		res.NDCGAt10, res.NDCGAt20 = mean(n10), mean(n20)
		res.P1Precision = ptr(res.P1.Precision())
		res.P1Recall = ptr(res.P1.Recall())
		if res.Units > 0 {
			res.BODAgreement = float64(res.BODAgree) / float64(res.Units)
			res.TierAccuracy = float64(res.TierAgree) / float64(res.Units)
		}
		if res.TopKTotal > 0 {
			res.TopKHitRate = res.TopKHits / float64(res.TopKTotal)
		} else {
			res.TopKHitRate = 1
		}
		r.Results = append(r.Results, res)
	}
	r.Passed = true
	return r
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func scoreScenario(o *outcome, rk *ranking) ScenarioResult {
	sr := ScenarioResult{Scenario: o.sc.Name, Units: len(o.units), HallucinatedIDs: rk.hallucinated}
	rels := make([][]int, len(rk.groups), len(rk.groups)+1)
	placed := map[Unit]bool{}
	for i, g := range rk.groups {
		for _, u := range g {
			l, _ := o.sc.Label(u)
			rels[i] = append(rels[i], l.Tier.Relevance())
			placed[u] = true
		}
	}
	// A labelled unit the system left out ranks after everything it
	// returned, so that omitting relevant work cannot raise NDCG.
	var missing []int
	for _, l := range o.sc.Labels {
		if !placed[l.Unit] {
			missing = append(missing, l.Tier.Relevance())
		}
	}
	if len(missing) > 0 {
		rels = append(rels, missing)
	}
	sr.NDCGAt10 = ptr(NDCGAtK(rels, NDCGShort))
	sr.NDCGAt20 = ptr(NDCGAtK(rels, NDCGLong))
	want := map[Unit]Tier{}
	for _, l := range o.sc.Labels {
		want[l.Unit] = l.Tier
		if rk.tier[l.Unit] == l.Tier {
			sr.TierAgree++
		}
		if rk.tier[l.Unit] == o.bod[l.Unit].Tier {
			sr.BODAgree++
		}
	}
	sr.P1 = P1Counts(want, rk.tier)
	sr.P1Precision = ptr(sr.P1.Precision())
	sr.P1Recall = ptr(sr.P1.Recall())
	if sr.Units > 0 {
		sr.BODAgreement = float64(sr.BODAgree) / float64(sr.Units)
	}
	spans := rk.spans()
	for _, c := range o.sc.TopK {
		sr.TopKHits += inTop(rk, spans, c)
		sr.TopKTotal++
	}
	for _, c := range o.sc.NotTopK {
		sr.TopKHits += 1 - inTop(rk, spans, c)
		sr.TopKTotal++
	}
	sr.InjectionEffects = o.injection[rk.name]
	return sr
}

// inTop is the probability that c's unit is within the first c.K entries of
// the queue: work items for the planner, units (ties broken at random) for
// the baselines.
func inTop(rk *ranking, spans map[Unit][2]int, c Rank) float64 {
	if rk.itemPos != nil {
		if pos, ok := rk.itemPos[c.Unit]; ok && pos < c.K {
			return 1
		}
		return 0
	}
	s, ok := spans[c.Unit]
	if !ok {
		return 0
	}
	return InTopK(s[0], s[1], c.K)
}

func plannerDisagreements(o *outcome, rk *ranking) []Disagreement {
	position := func(u Unit) int {
		if p, ok := rk.itemPos[u]; ok {
			return p + 1
		}
		return 0
	}
	var out []Disagreement
	for _, l := range o.sc.Labels {
		if got := rk.tier[l.Unit]; got != l.Tier {
			out = append(out, Disagreement{Scenario: o.sc.Name, Unit: l.Unit, Label: l.Tier, Planner: got,
				BOD: o.bod[l.Unit].Tier, Kind: "tier", Position: position(l.Unit), Why: l.Why})
		}
	}
	spans := rk.spans()
	for _, c := range o.sc.TopK {
		if inTop(rk, spans, c) < 1 {
			l, _ := o.sc.Label(c.Unit)
			out = append(out, Disagreement{Scenario: o.sc.Name, Unit: c.Unit, Label: l.Tier, Planner: rk.tier[c.Unit],
				BOD: o.bod[c.Unit].Tier, Kind: "top_k", K: c.K, Position: position(c.Unit), Why: c.Why})
		}
	}
	for _, c := range o.sc.NotTopK {
		if inTop(rk, spans, c) > 0 {
			l, _ := o.sc.Label(c.Unit)
			out = append(out, Disagreement{Scenario: o.sc.Name, Unit: c.Unit, Label: l.Tier, Planner: rk.tier[c.Unit],
				BOD: o.bod[c.Unit].Tier, Kind: "not_top_k", K: c.K, Position: position(c.Unit), Why: c.Why})
		}
	}
	return out
}

// Result returns the named system's result.
func (r *Report) Result(name string) (SystemResult, bool) {
	i := slices.IndexFunc(r.Results, func(s SystemResult) bool { return s.Name == name })
	if i < 0 {
		return SystemResult{}, false
	}
	return r.Results[i], true
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func f3(v float64) string { return fmt.Sprintf("%.3f", v) }

func f3p(v *float64) string {
	if v == nil {
		return "—"
	}
	return f3(*v)
}

func hits(h float64, total int) string {
	if total == 0 {
		return "—"
	}
	if h == math.Trunc(h) {
		return fmt.Sprintf("%d/%d", int(h), total)
	}
	return fmt.Sprintf("%.2f/%d", h, total)
}

// WriteTable writes the aggregate table and the checks as plain text.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "%d scenarios, %d CVE × host units (%s)\n\n", len(r.Scenarios), r.Labels.Units, r.Fixtures)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tNDCG@10\tNDCG@20\tP1 prec\tP1 recall\ttier=label\tBOD agree\ttop-K\tinjection\tgate viol.\thalluc. ids\t")
	for _, s := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t\n", s.Name, f3(s.NDCGAt10), f3(s.NDCGAt20), f3p(s.P1Precision),
			f3p(s.P1Recall), f3(s.TierAccuracy), f3(s.BODAgreement), hits(s.TopKHits, s.TopKTotal), s.InjectionEffects, s.GateViolations, s.HallucinatedIDs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nLabels agree with the harness's BOD 26-04 tier on %.1f%% of units.\n", 100*r.Labels.BODAgreement)
	return r.writeChecks(w, false)
}

func (r *Report) writeChecks(w io.Writer, md bool) error {
	if len(r.Checks) == 0 {
		return nil
	}
	if md {
		fmt.Fprintf(w, "\n## Thresholds\n\n")
	} else {
		fmt.Fprintf(w, "\nThresholds:\n")
	}
	for _, c := range r.Checks {
		mark, icon := "ok  ", "✅"
		switch {
		case c.KnownFailure != "":
			mark, icon = "KNOWN FAIL", "⚠️ known failure:"
		case !c.Passed:
			mark, icon = "FAIL", "❌"
		}
		detail := c.Detail
		if c.KnownFailure != "" {
			detail += " — " + c.KnownFailure
		}
		if md {
			fmt.Fprintf(w, "- %s %s\n", icon, mdEscape(detail))
		} else {
			fmt.Fprintf(w, "  %s %s\n", mark, detail)
		}
	}
	_, err := fmt.Fprintln(w)
	return err
}

// mdEscape keeps table cells and list items intact whatever the text holds
// (labels and fixture text are data).
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", `\|`)
	return s
}

// WriteMarkdown writes the aggregate table, the per-scenario tables, the
// planner's disagreements with the labels and the checks.
func (r *Report) WriteMarkdown(w io.Writer) error {
	fmt.Fprintf(w, "# vulnpilot eval\n\n%d scenarios, %d CVE × host units (labels: %s), fixtures `%s`.\n\n",
		len(r.Scenarios), r.Labels.Units, tierMix(r.Labels.ByTier), r.Fixtures)
	fmt.Fprintln(w, "| System | NDCG@10 | NDCG@20 | P1 precision | P1 recall | Tier = label | BOD 26-04 agreement | Top-K hits | Injection effects | Gate violations | Hallucinated ids |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, s := range r.Results {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %d | %d | %d |\n", s.Name, f3(s.NDCGAt10), f3(s.NDCGAt20),
			f3p(s.P1Precision), f3p(s.P1Recall), f3(s.TierAccuracy), f3(s.BODAgreement), hits(s.TopKHits, s.TopKTotal), s.InjectionEffects, s.GateViolations, s.HallucinatedIDs)
	}
	fmt.Fprintf(w, "\nNDCG is averaged over scenarios (macro); P1 precision/recall, BOD agreement and top-K hits pool all units (micro). The hand labels themselves agree with the harness's BOD 26-04 tier on %.1f%% of units.\n",
		100*r.Labels.BODAgreement)
	fmt.Fprintf(w, "\n## Systems\n\n")
	for _, s := range r.Results {
		fmt.Fprintf(w, "- **%s**: %s\n", s.Name, mdEscape(s.Rule))
	}
	fmt.Fprintf(w, "\n## Per scenario\n\nNDCG@10 / NDCG@20, P1 TP/FP/FN, tiers equal to the label, top-K hits.\n\n")
	fmt.Fprint(w, "| Scenario | Units |")
	for _, s := range r.Results {
		fmt.Fprintf(w, " %s |", s.Name)
	}
	fmt.Fprint(w, "\n| --- | ---: |")
	for range r.Results {
		fmt.Fprint(w, " --- |")
	}
	fmt.Fprintln(w)
	for i, sc := range r.Scenarios {
		fmt.Fprintf(w, "| %s | %d |", sc.Name, sc.Units)
		for _, s := range r.Results {
			p := s.Scenarios[i]
			fmt.Fprintf(w, " %s / %s, %d/%d/%d, %d/%d, %s |", f3p(p.NDCGAt10), f3p(p.NDCGAt20), p.P1.TP, p.P1.FP, p.P1.FN,
				p.TierAgree, p.Units, hits(p.TopKHits, p.TopKTotal))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\n## Scenarios\n\n")
	for _, sc := range r.Scenarios {
		inj := ""
		if sc.Injected {
			inj = " Planted instructions: compared with a sanitized twin."
		}
		fmt.Fprintf(w, "- **%s** (%d units, %d findings, %d labelled P1): %s%s\n", sc.Name, sc.Units, sc.Findings, sc.LabelledP1, mdEscape(sc.Description), inj)
	}
	fmt.Fprintf(w, "\n## Where the planner differs from the labels\n\n")
	if len(r.Disagreements) == 0 {
		fmt.Fprintln(w, "Nowhere.")
	} else {
		fmt.Fprintln(w, "| Scenario | Unit | Kind | Label | Planner | BOD 26-04 | Work item # | Label rationale |")
		fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | ---: | --- |")
		for _, d := range r.Disagreements {
			kind := d.Kind
			if d.K > 0 {
				kind = fmt.Sprintf("%s (k=%d)", d.Kind, d.K)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %d | %s |\n", d.Scenario, mdEscape(d.Unit.String()), kind, d.Label, d.Planner, d.BOD, d.Position, mdEscape(d.Why))
		}
	}
	return r.writeChecks(w, true)
}

func tierMix(by map[string]int) string {
	var parts []string
	for _, t := range tierNames {
		parts = append(parts, fmt.Sprintf("%s %d", t, by[t]))
	}
	return strings.Join(parts, ", ")
}
