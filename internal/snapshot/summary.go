package snapshot

import (
	"sort"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/risk"
)

// Summary aggregates a snapshot for reports and tools.
type Summary struct {
	AssessedAt   time.Time        `json:"assessed_at"`
	Findings     int              `json:"findings"` // open findings assessed
	Suppressed   int              `json:"suppressed"`
	Hosts        int              `json:"hosts"`
	CVEs         int              `json:"cves"`
	Items        int              `json:"work_items"`
	Overdue      int              `json:"overdue_findings"`
	KEVFindings  int              `json:"kev_findings"`
	ThreatActive int              `json:"threat_active_findings"` // a live alert on the host is tied to the finding
	ByTier       map[string]Count `json:"by_tier"`
	ByBU         []Group          `json:"by_business_unit"`
	ByPlatform   []Group          `json:"by_platform"`
	Sources      Sources          `json:"sources"`
	Notes        []string         `json:"notes,omitempty"`
}

// Count is findings and work items in one bucket.
type Count struct {
	Findings int `json:"findings"`
	Items    int `json:"work_items"`
}

// Group is a breakdown row.
type Group struct {
	Name     string         `json:"name"`
	Findings int            `json:"findings"`
	ByTier   map[string]int `json:"by_tier"`
	Overdue  int            `json:"overdue"`
}

// Sources says which data and which components produced the assessment.
type Sources struct {
	Falcon  string   `json:"falcon"`
	Feeds   []string `json:"feeds"`
	Model   string   `json:"exploitation_model"`
	Policy  string   `json:"policy"`
	Planner string   `json:"planner"`
}

func (s *Snapshot) summarize() {
	sum := Summary{
		AssessedAt: s.opts.Now,
		Items:      len(s.items),
		ByTier:     map[string]Count{},
		Notes:      s.notes,
		Sources: Sources{
			Falcon:  s.opts.FalconLabel,
			Feeds:   s.opts.Feeds.DescribeLines(),
			Model:   "not used",
			Policy:  s.opts.PolicyLabel,
			Planner: "deterministic (risk engine + grouping; no LLM)",
		},
	}
	if s.opts.Model != nil {
		sum.Sources.Model = "model " + s.opts.Model.Version() + " (prior when EPSS is unknown)"
	}
	bu := map[string]*Group{}
	plat := map[string]*Group{}
	hosts := map[int32]bool{}
	cves := map[int32]bool{}
	add := func(m map[string]*Group, name string, c *compact) {
		if name == "" {
			name = "(none)"
		}
		g := m[name]
		if g == nil {
			g = &Group{Name: name, ByTier: map[string]int{}}
			m[name] = g
		}
		g.Findings++
		g.ByTier[string(tiers[c.tier])]++
		if c.overdue {
			g.Overdue++
		}
	}
	for i := range s.findings {
		c := &s.findings[i]
		if !c.open() {
			continue
		}
		sum.Findings++
		if c.reason >= 0 {
			sum.Suppressed++
		}
		hosts[c.host] = true
		cves[c.cve] = true
		t := string(tiers[c.tier])
		cnt := sum.ByTier[t]
		cnt.Findings++
		sum.ByTier[t] = cnt
		if c.overdue {
			sum.Overdue++
		}
		if s.cves[c.cve].kev != nil {
			sum.KEVFindings++
		}
		if c.alerts {
			sum.ThreatActive++
		}
		h := &s.hosts[c.host]
		add(bu, h.ref.BusinessUnit, c)
		add(plat, h.facet.Platform, c)
	}
	for _, it := range s.items {
		cnt := sum.ByTier[string(it.Tier)]
		cnt.Items++
		sum.ByTier[string(it.Tier)] = cnt
	}
	sum.Hosts = len(hosts)
	sum.CVEs = len(cves)
	sum.ByBU = sortedGroups(bu)
	sum.ByPlatform = sortedGroups(plat)
	s.summary = sum
}

func sortedGroups(m map[string]*Group) []Group {
	out := make([]Group, 0, len(m))
	for _, g := range m {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		for _, t := range []risk.Tier{risk.P1, risk.P2, risk.P3} {
			if a.ByTier[string(t)] != b.ByTier[string(t)] {
				return a.ByTier[string(t)] > b.ByTier[string(t)]
			}
		}
		if a.Findings != b.Findings {
			return a.Findings > b.Findings
		}
		return a.Name < b.Name
	})
	return out
}

// Summary returns the snapshot's aggregates.
func (s *Snapshot) Summary() Summary { return s.summary }
