package evals

import (
	"slices"
	"strings"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/intel"
	"github.com/vulnpilot/vulnpilot/internal/snapshot"
)

// System names as they appear in results.
const (
	PlannerName         = "vulnpilot-planner"
	BaselineCVSS        = "baseline-cvss-only"
	BaselineExPRT       = "baseline-exprt-only"
	BaselineKEVThenCVSS = "baseline-kev-then-cvss"
	BaselineCVEPrior    = "baseline-cve-prioritizer"
)

// SystemInfo describes one ranked system for reports.
type SystemInfo struct {
	Name string `json:"name"`
	// Rule is how the system ranks and tiers, in one sentence.
	Rule string `json:"rule"`
}

// Systems lists the planner and the baselines in report order.
var Systems = []SystemInfo{
	{PlannerName, "vulnpilot's queue as `vulnpilot run` builds it (snapshot → risk engine → work items), work items in queue order; a unit's tier is its most urgent finding's tier"},
	{BaselineCVSS, "CVSS base score, highest first; tier by CVSS band: ≥ 9.0 P1, ≥ 7.0 P2, ≥ 4.0 P3, else P4"},
	{BaselineExPRT, "Spotlight ExPRT.AI rating, CRITICAL first; tier CRITICAL P1, HIGH P2, MEDIUM P3, LOW/none P4"},
	{BaselineKEVThenCVSS, "CISA KEV first, then CVSS; tier KEV P1, otherwise CVSS ≥ 9.0 P2, ≥ 7.0 P3, else P4"},
	{BaselineCVEPrior, "CVE_Prioritizer's published rules: KEV → P1+, CVSS ≥ 6 and EPSS ≥ 0.2 → P1, CVSS ≥ 6 → P2, EPSS ≥ 0.2 → P3, else P4 (P1+ ranks before P1, both count as P1); within a priority by EPSS then CVSS; a CVE without an EPSS score counts as below 0.2"},
}

// ranking is one system's output on one scenario.
type ranking struct {
	name string
	// groups is the queue: units in one group are tied (a work item for the
	// planner, equal sort keys for a baseline). Every unit appears once.
	groups [][]Unit
	tier   map[Unit]Tier
	// itemPos, when set, is the 0-based queue position of each unit's work
	// item (the planner); top-K constraints then count work items. Without
	// it they count unit positions, ties broken at random.
	itemPos map[Unit]int
	// score is each unit's highest finding score (planner only), compared
	// between an injected scenario and its sanitized twin.
	score map[Unit]float64
	// hallucinated counts ids in the output that are not in the data.
	hallucinated int
}

// spans returns each unit's [start, end) positions in the flattened queue.
func (r *ranking) spans() map[Unit][2]int {
	out := make(map[Unit][2]int, len(r.tier))
	pos := 0
	for _, g := range r.groups {
		for _, u := range g {
			out[u] = [2]int{pos, pos + len(g)}
		}
		pos += len(g)
	}
	return out
}

// pulled is the finding data every system ranks from: the open findings as
// the Falcon client pulled them from the simulator.
type pulled struct {
	findings []falcon.Finding
	byID     map[string]int
	units    map[Unit][]int // unit → indexes into findings
}

func newPulled(fs []falcon.Finding) *pulled {
	p := &pulled{findings: fs, byID: map[string]int{}, units: map[Unit][]int{}}
	for i := range fs {
		p.byID[fs[i].ID] = i
		u := Unit{AID: fs[i].AID, CVE: fs[i].CVE}
		p.units[u] = append(p.units[u], i)
	}
	return p
}

func (p *pulled) sortedUnits() []Unit {
	out := make([]Unit, 0, len(p.units))
	for u := range p.units {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b Unit) int {
		if unitLess(a, b) {
			return -1
		}
		if unitLess(b, a) {
			return 1
		}
		return 0
	})
	return out
}

// plannerRanking turns the snapshot's queue into units: work items in queue
// order, each item's units (not already placed by an earlier item) as one
// tied group.
func plannerRanking(snap *snapshot.Snapshot, p *pulled, hostIDs, cveIDs map[string]bool) (*ranking, error) {
	r := &ranking{name: PlannerName, tier: map[Unit]Tier{}, itemPos: map[Unit]int{}, score: map[Unit]float64{}}
	for pos, it := range snap.Items() {
		var g []Unit
		for _, id := range it.FindingIDs {
			i, ok := p.byID[id]
			if !ok {
				r.hallucinated++
				continue
			}
			f := &p.findings[i]
			u := Unit{AID: f.AID, CVE: f.CVE}
			a, err := snap.Assess(id)
			if err != nil {
				return nil, err
			}
			if t := Tier(a.Tier); t.Rank() > 0 && (r.tier[u] == "" || t.Rank() < r.tier[u].Rank()) {
				r.tier[u] = t
			}
			if a.Score > r.score[u] {
				r.score[u] = a.Score
			}
			if _, placed := r.itemPos[u]; placed {
				continue
			}
			r.itemPos[u] = pos
			g = append(g, u)
		}
		for _, h := range it.Hosts {
			if !hostIDs[h.AID] {
				r.hallucinated++
			}
		}
		for _, c := range it.CVEs {
			if !cveIDs[c] {
				r.hallucinated++
			}
		}
		if len(g) > 0 {
			r.groups = append(r.groups, g)
		}
	}
	return r, nil
}

// unitFacts are the CVE-level facts a baseline sees for one unit, from the
// pulled finding (and the EPSS feed for CVE_Prioritizer).
type unitFacts struct {
	unit    Unit
	cvss    float64
	kev     bool
	exprt   int // 0 none/unknown, 1 LOW ... 4 CRITICAL
	epss    float64
	hasEPSS bool
}

func exprtRank(s string) int {
	switch strings.ToUpper(s) {
	case "LOW":
		return 1
	case "MEDIUM":
		return 2
	case "HIGH":
		return 3
	case "CRITICAL":
		return 4
	}
	return 0
}

func factsOf(p *pulled, epss *intel.EPSS) []unitFacts {
	var out []unitFacts
	for _, u := range p.sortedUnits() {
		f := &p.findings[p.units[u][0]]
		uf := unitFacts{unit: u, cvss: f.CVEInfo.BaseScore, kev: f.CVEInfo.IsCISAKEV, exprt: exprtRank(f.CVEInfo.ExprtRating)}
		if row, ok := epss.Lookup(u.CVE); ok {
			uf.epss, uf.hasEPSS = row.EPSS, true
		}
		out = append(out, uf)
	}
	return out
}

func cvssBand(s float64) Tier {
	switch {
	case s >= 9:
		return P1
	case s >= 7:
		return P2
	case s >= 4:
		return P3
	}
	return P4
}

// baseline is a rule: a sort key (compared element by element, larger
// first) and a tier.
type baseline struct {
	name string
	key  func(unitFacts) []float64
	tier func(unitFacts) Tier
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// CVE_Prioritizer's thresholds (github.com/TURROKS/CVE_Prioritizer README,
// "Our Approach": CVSS threshold 6.0, EPSS threshold 0.2, both compared
// with >=).
const (
	cvePrioritizerCVSS = 6.0
	cvePrioritizerEPSS = 0.2
)

// cvePrioritizerLevel is 0 for "Priority 1+" (KEV) through 4 for
// "Priority 4".
func cvePrioritizerLevel(f unitFacts) int {
	hiCVSS := f.cvss >= cvePrioritizerCVSS
	hiEPSS := f.hasEPSS && f.epss >= cvePrioritizerEPSS
	switch {
	case f.kev:
		return 0
	case hiCVSS && hiEPSS:
		return 1
	case hiCVSS:
		return 2
	case hiEPSS:
		return 3
	}
	return 4
}

var baselines = []baseline{
	{
		name: BaselineCVSS,
		key:  func(f unitFacts) []float64 { return []float64{f.cvss} },
		tier: func(f unitFacts) Tier { return cvssBand(f.cvss) },
	},
	{
		name: BaselineExPRT,
		key:  func(f unitFacts) []float64 { return []float64{float64(f.exprt)} },
		tier: func(f unitFacts) Tier {
			if f.exprt == 0 {
				return P4
			}
			return tierOfRank(5 - f.exprt)
		},
	},
	{
		name: BaselineKEVThenCVSS,
		key:  func(f unitFacts) []float64 { return []float64{b2f(f.kev), f.cvss} },
		tier: func(f unitFacts) Tier {
			if f.kev {
				return P1
			}
			return tierOfRank(min(cvssBand(f.cvss).Rank()+1, 4))
		},
	},
	{
		name: BaselineCVEPrior,
		key: func(f unitFacts) []float64 {
			e := 0.0
			if f.hasEPSS {
				e = f.epss
			}
			return []float64{-float64(cvePrioritizerLevel(f)), e, f.cvss}
		},
		tier: func(f unitFacts) Tier { return tierOfRank(max(cvePrioritizerLevel(f), 1)) },
	},
}

// rank orders facts by the baseline's key; equal keys form one tied group.
func (b baseline) rank(facts []unitFacts) *ranking {
	type keyed struct {
		f unitFacts
		k []float64
	}
	ks := make([]keyed, len(facts))
	for i, f := range facts {
		ks[i] = keyed{f, b.key(f)}
	}
	slices.SortStableFunc(ks, func(a, c keyed) int { return -slices.Compare(a.k, c.k) })
	r := &ranking{name: b.name, tier: map[Unit]Tier{}}
	for i, k := range ks {
		r.tier[k.f.unit] = b.tier(k.f)
		if i > 0 && slices.Equal(ks[i-1].k, k.k) {
			r.groups[len(r.groups)-1] = append(r.groups[len(r.groups)-1], k.f.unit)
			continue
		}
		r.groups = append(r.groups, []Unit{k.f.unit})
	}
	return r
}
