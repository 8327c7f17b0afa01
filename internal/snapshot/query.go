package snapshot

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/fql"
	"github.com/vulnpilot/vulnpilot/internal/plan"
	"github.com/vulnpilot/vulnpilot/internal/risk"
)

// Queries over an assessed snapshot, for the risk tools: FQL selection of
// open findings (Spotlight's field names plus computed ones such as tier and
// business_unit), the work items of a selection, threat-active CVEs with the
// hosts exposed to each, and exposure aggregates. Everything here reads the
// immutable snapshot, so it is safe for concurrent use.

// FieldDoc documents one field of the snapshot's FQL schema.
type FieldDoc struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"` // string, number, time, bool
	Wildcard bool   `json:"wildcard,omitempty"`
	Range    bool   `json:"range,omitempty"`
	Computed bool   `json:"computed,omitempty"` // vulnpilot's, not a Spotlight field
	Doc      string `json:"doc"`
	Example  string `json:"example"`
}

// Field indexes of findingSchema; the order is fieldDocs'.
const (
	qfAID = iota
	qfStatus
	qfConfidence
	qfVulnID
	qfCVEID
	qfCVEKEV
	qfCVEExprt
	qfCVEExploit
	qfCVESeverity
	qfCVEBaseScore
	qfCVERemLevel
	qfCVECWEs
	qfHostname
	qfHostPlatform
	qfHostProductType
	qfHostCrit
	qfHostRoles
	qfHostExposure
	qfHostTags
	qfHostGroups
	qfSuppressed
	qfSuppReason
	qfCreated
	qfUpdated
	qfRemIDs
	qfProduct
	qfVendor
	qfTier
	qfScore
	qfDue
	qfOverdue
	qfBU
	qfTeam
	qfKEV
	qfRansomware
	qfAlerted
	qfActors
	qfEPSS
)

var fieldDocs = []FieldDoc{
	{Name: "aid", Kind: "string", Doc: "Falcon host id (agent id)", Example: "aid:'9c1f…'"},
	{Name: "status", Kind: "string", Doc: "finding status; the snapshot holds open and reopen findings", Example: "status:'reopen'"},
	{Name: "confidence", Kind: "string", Doc: "confirmed or potential", Example: "confidence:'confirmed'"},
	{Name: "vulnerability_id", Kind: "string", Doc: "vulnerability id (the CVE id for CVEs)", Example: "vulnerability_id:'CVE-2024-3400'"},
	{Name: "cve.id", Kind: "string", Wildcard: true, Doc: "CVE id", Example: "cve.id:['CVE-2024-3400','CVE-2023-4966']"},
	{Name: "cve.is_cisa_kev", Kind: "bool", Doc: "Spotlight's own CISA KEV flag", Example: "cve.is_cisa_kev:true"},
	{Name: "cve.exprt_rating", Kind: "string", Doc: "CrowdStrike ExPRT rating: LOW, MEDIUM, HIGH, CRITICAL", Example: "cve.exprt_rating:['HIGH','CRITICAL']"},
	{Name: "cve.exploit_status", Kind: "number", Range: true, Doc: "0 unproven, 30 available, 60 easily accessible, 90 actively used", Example: "cve.exploit_status:>=60"},
	{Name: "cve.severity", Kind: "string", Doc: "CVSS severity: LOW, MEDIUM, HIGH, CRITICAL", Example: "cve.severity:'CRITICAL'"},
	{Name: "cve.base_score", Kind: "number", Range: true, Doc: "CVSS base score 0–10", Example: "cve.base_score:>=9"},
	{Name: "cve.remediation_level", Kind: "string", Doc: "O official fix, T temporary fix, W workaround, U unavailable", Example: "cve.remediation_level:'O'"},
	{Name: "cve.cwes", Kind: "string", Doc: "CWE ids", Example: "cve.cwes:'CWE-787'"},
	{Name: "host_info.hostname", Kind: "string", Wildcard: true, Doc: "host name", Example: "host_info.hostname:'web-*'"},
	{Name: "host_info.platform_name", Kind: "string", Doc: "Windows, Linux, Mac", Example: "host_info.platform_name:'Linux'"},
	{Name: "host_info.product_type_desc", Kind: "string", Doc: "Workstation, Server, Domain Controller", Example: "host_info.product_type_desc:'Server'"},
	{Name: "host_info.asset_criticality", Kind: "string", Doc: "Critical, High, Noncritical, Unassigned", Example: "host_info.asset_criticality:['Critical','High']"},
	{Name: "host_info.asset_roles", Kind: "string", Doc: "asset roles", Example: "host_info.asset_roles:'Database Server'"},
	{Name: "host_info.internet_exposure", Kind: "string", Doc: "Yes, No, Pending", Example: "host_info.internet_exposure:'Yes'"},
	{Name: "host_info.tags", Kind: "string", Wildcard: true, Doc: "Falcon grouping tags", Example: "host_info.tags:'FalconGroupingTags/bu-*'"},
	{Name: "host_info.groups", Kind: "string", Wildcard: true, Doc: "host group names", Example: "host_info.groups:'PCI'"},
	{Name: "suppression_info.is_suppressed", Kind: "bool", Doc: "suppressed by a Spotlight rule", Example: "suppression_info.is_suppressed:false"},
	{Name: "suppression_info.reason", Kind: "string", Doc: "suppression reason", Example: "suppression_info.reason:'ACCEPT_RISK'"},
	{Name: "created_timestamp", Kind: "time", Range: true, Doc: "first detection; relative times such as now-7d are resolved at the assessment time", Example: "created_timestamp:>='now-7d'"},
	{Name: "updated_timestamp", Kind: "time", Range: true, Doc: "last update", Example: "updated_timestamp:<'2024-10-01'"},
	{Name: "apps.remediation.ids", Kind: "string", Doc: "remediation ids", Example: "apps.remediation.ids:'7d0c…'"},
	{Name: "product", Kind: "string", Wildcard: true, Computed: true, Doc: "vulnerable product name and version", Example: "product:'*Chrome*'"},
	{Name: "vendor", Kind: "string", Wildcard: true, Computed: true, Doc: "vendor of the vulnerable product", Example: "vendor:'Microsoft*'"},
	{Name: "tier", Kind: "string", Computed: true, Doc: "vulnpilot tier P1 (most urgent) to P4", Example: "tier:['P1','P2']"},
	{Name: "score", Kind: "number", Range: true, Computed: true, Doc: "vulnpilot risk score 0–100", Example: "score:>=70"},
	{Name: "due", Kind: "time", Range: true, Computed: true, Doc: "SLA due date of the finding's tier", Example: "due:<='now+7d'"},
	{Name: "overdue", Kind: "bool", Computed: true, Doc: "past its SLA due date", Example: "overdue:true"},
	{Name: "business_unit", Kind: "string", Wildcard: true, Computed: true, Doc: "from the FalconGroupingTags/bu-<name> tag", Example: "business_unit:'payments'"},
	{Name: "team", Kind: "string", Wildcard: true, Computed: true, Doc: "from the FalconGroupingTags/team-<name> tag", Example: "team:'web'"},
	{Name: "kev", Kind: "bool", Computed: true, Doc: "in the CISA KEV catalog vulnpilot loaded", Example: "kev:true"},
	{Name: "kev_ransomware", Kind: "bool", Computed: true, Doc: "KEV says it is used in ransomware campaigns", Example: "kev_ransomware:true"},
	{Name: "alerted", Kind: "bool", Computed: true, Doc: "a live Falcon alert on the host names the CVE or involves the product", Example: "alerted:true"},
	{Name: "intel_actors", Kind: "string", Wildcard: true, Computed: true, Doc: "adversaries Falcon Intelligence ties to the CVE", Example: "intel_actors:'*BEAR'"},
	{Name: "epss", Kind: "number", Range: true, Computed: true, Doc: "FIRST EPSS probability 0–1, when an EPSS feed is loaded", Example: "epss:>=0.1"},
}

var findingSchema = func() *fql.Schema {
	fields := make([]fql.Field, len(fieldDocs))
	for i, d := range fieldDocs {
		k := fql.String
		switch d.Kind {
		case "number":
			k = fql.Number
		case "time":
			k = fql.Time
		case "bool":
			k = fql.Bool
		}
		fields[i] = fql.Field{Name: d.Name, Kind: k, Wildcard: d.Wildcard, Range: d.Range}
	}
	return fql.NewSchema(fields...)
}()

// FindingSchema is the FQL schema of Select: Spotlight's field names for
// what Spotlight reports, plus vulnpilot's computed fields.
func FindingSchema() *fql.Schema { return findingSchema }

// FindingFields documents FindingSchema's fields (a copy).
func FindingFields() []FieldDoc { return slices.Clone(fieldDocs) }

// record adapts finding i to fql.Record.
type record struct {
	s *Snapshot
	i int32
}

func appendStr(dst []fql.Value, v string) []fql.Value {
	if v == "" {
		return dst
	}
	return append(dst, fql.Value{S: v})
}

func appendStrs(dst []fql.Value, vs []string) []fql.Value {
	for _, v := range vs {
		dst = append(dst, fql.Value{S: v})
	}
	return dst
}

func appendBool(dst []fql.Value, b bool) []fql.Value {
	if b {
		return append(dst, fql.Value{S: "true"})
	}
	return append(dst, fql.Value{S: "false"})
}

func (r *record) Lookup(field int, dst []fql.Value) []fql.Value {
	s := r.s
	c := &s.findings[r.i]
	h := &s.hosts[c.host]
	cv := &s.cves[c.cve]
	switch field {
	case qfAID:
		return appendStr(dst, h.aid)
	case qfStatus:
		return appendStr(dst, statuses[c.status])
	case qfConfidence:
		if c.potent {
			return appendStr(dst, "potential")
		}
		return appendStr(dst, "confirmed")
	case qfVulnID, qfCVEID:
		return appendStr(dst, cv.facet.ID)
	case qfCVEKEV:
		return appendBool(dst, cv.facet.IsCISAKEV)
	case qfCVEExprt:
		return appendStr(dst, cv.facet.ExprtRating)
	case qfCVEExploit:
		return append(dst, fql.Value{N: float64(cv.facet.ExploitStatus)})
	case qfCVESeverity:
		return appendStr(dst, cv.facet.Severity)
	case qfCVEBaseScore:
		return append(dst, fql.Value{N: cv.facet.BaseScore})
	case qfCVERemLevel:
		return appendStr(dst, cv.facet.RemediationLevel)
	case qfCVECWEs:
		return appendStrs(dst, cv.facet.CWEs)
	case qfHostname:
		return appendStr(dst, h.facet.Hostname)
	case qfHostPlatform:
		return appendStr(dst, h.facet.Platform)
	case qfHostProductType:
		return appendStr(dst, h.facet.ProductTypeDesc)
	case qfHostCrit:
		return appendStr(dst, h.facet.AssetCriticality)
	case qfHostRoles:
		return appendStrs(dst, h.facet.AssetRoles)
	case qfHostExposure:
		return appendStr(dst, h.facet.InternetExposure)
	case qfHostTags:
		return appendStrs(dst, h.facet.Tags)
	case qfHostGroups:
		return appendStrs(dst, h.facet.Groups)
	case qfSuppressed:
		return appendBool(dst, c.reason >= 0)
	case qfSuppReason:
		if c.reason >= 0 {
			return appendStr(dst, s.reasons[c.reason])
		}
		return dst
	case qfCreated:
		return append(dst, fql.Value{N: float64(c.created)})
	case qfUpdated:
		return append(dst, fql.Value{N: float64(c.updated)})
	case qfRemIDs:
		if c.rem >= 0 {
			return appendStrs(dst, s.rems[c.rem].ids)
		}
		return dst
	case qfProduct:
		a := &s.apps[c.app]
		if a.ProductVersion != "" {
			return appendStr(dst, a.ProductVersion)
		}
		return appendStr(dst, a.Product)
	case qfVendor:
		return appendStr(dst, s.apps[c.app].Vendor)
	case qfTier:
		return appendStr(dst, string(tiers[c.tier]))
	case qfScore:
		return append(dst, fql.Value{N: c.score})
	case qfDue:
		return append(dst, fql.Value{N: float64(c.due)})
	case qfOverdue:
		return appendBool(dst, c.overdue)
	case qfBU:
		return appendStr(dst, h.ref.BusinessUnit)
	case qfTeam:
		return appendStr(dst, h.ref.Team)
	case qfKEV:
		return appendBool(dst, cv.kev != nil)
	case qfRansomware:
		return appendBool(dst, cv.kev != nil && cv.kev.Ransomware)
	case qfAlerted:
		return appendBool(dst, c.alerts)
	case qfActors:
		if cv.intel != nil {
			return appendStrs(dst, cv.intel.Actors)
		}
		return dst
	case qfEPSS:
		if cv.epss != nil {
			return append(dst, fql.Value{N: cv.epss.Score})
		}
		return dst
	}
	return dst
}

// Selection is the open findings of a snapshot matching one filter. It is
// immutable once built (its work items are computed once, on first use) and
// safe for concurrent use.
type Selection struct {
	s      *Snapshot
	filter string // canonical; "" selects every open finding
	idx    []int32

	itemsOnce sync.Once
	items     []plan.WorkItem
	itemIdx   map[string]int
}

// Select compiles filter against FindingSchema (relative times resolve at
// the assessment time) and returns the open findings it matches. Errors are
// *fql.SyntaxError or *fql.FieldError, whose messages list what is allowed.
func (s *Snapshot) Select(filter string) (*Selection, error) {
	f, err := fql.Compile(filter, findingSchema, s.opts.Now)
	if err != nil {
		return nil, err
	}
	sel := &Selection{s: s, filter: f.String()}
	m := f.NewMatcher()
	r := &record{s: s}
	sel.idx = make([]int32, 0, 64)
	for i := range s.findings {
		if !s.findings[i].open() {
			continue
		}
		r.i = int32(i)
		if m.Match(r) {
			sel.idx = append(sel.idx, int32(i))
		}
	}
	return sel, nil
}

// Filter is the selection's canonical filter ("" for everything).
func (sel *Selection) Filter() string { return sel.filter }

// Snapshot is the snapshot the selection reads.
func (sel *Selection) Snapshot() *Snapshot { return sel.s }

// Len is the number of matched findings.
func (sel *Selection) Len() int { return len(sel.idx) }

// FindingIDs returns the ids of the matched findings from offset, at most n.
func (sel *Selection) FindingIDs(offset, n int) []string {
	out := []string{}
	for k := offset; k < len(sel.idx) && len(out) < n; k++ {
		out = append(out, sel.s.findings[sel.idx[k]].id)
	}
	return out
}

// Items is the selection's remediation queue, most urgent first: the
// snapshot's own queue when the filter selects everything, otherwise a
// queue planned over just the matched findings (a remediation spanning
// enough of the selected hosts is still one fleet item). The slice is
// shared: do not modify it.
func (sel *Selection) Items() []plan.WorkItem {
	sel.itemsOnce.Do(func() {
		s := sel.s
		if sel.filter == "" {
			sel.items, sel.itemIdx = s.items, s.itemIdx
			return
		}
		o := s.opts.Plan
		o.SizeHint = len(sel.idx)
		pb := plan.NewBuilder(o)
		for _, i := range sel.idx {
			pb.Add(s.member(int(i)))
		}
		sel.items = pb.Items()
		sel.itemIdx = make(map[string]int, len(sel.items))
		for i, it := range sel.items {
			sel.itemIdx[it.Key] = i
		}
	})
	return sel.items
}

// Top returns items [offset, offset+n) of the queue, each with the evidence
// of its top finding (highest points first).
func (sel *Selection) Top(offset, n int) []plan.WorkItem {
	items := sel.Items()
	if offset >= len(items) || n <= 0 {
		return []plan.WorkItem{}
	}
	end := min(offset+n, len(items))
	out := make([]plan.WorkItem, 0, end-offset)
	for _, it := range items[offset:end] {
		out = append(out, sel.s.explained(it))
	}
	return out
}

// Item returns the selection's work item with the given key, explained.
func (sel *Selection) Item(key string) (plan.WorkItem, bool) {
	sel.Items()
	i, ok := sel.itemIdx[key]
	if !ok {
		return plan.WorkItem{}, false
	}
	return sel.s.explained(sel.items[i]), true
}

// Breakdown is the aggregate view of a selection.
type Breakdown struct {
	Findings  int              `json:"findings"`
	Hosts     int              `json:"hosts"`
	CVEs      int              `json:"cves"`
	Items     int              `json:"work_items"`
	Overdue   int              `json:"overdue"`
	KEV       int              `json:"kev"`
	Alerted   int              `json:"alerted"`
	ByTier    map[string]Count `json:"by_tier"`
	ByBU      []Group          `json:"by_business_unit"`
	BUsTotal  int              `json:"business_units"`
	Truncated bool             `json:"-"`
}

// Breakdown aggregates the selection by tier and business unit (the top
// maxBU units, most P1 first).
func (sel *Selection) Breakdown(maxBU int) Breakdown {
	s := sel.s
	b := Breakdown{ByTier: map[string]Count{}}
	// Count per host in flat arrays first, then fold hosts into business
	// units: a map look-up per host instead of per finding.
	type hostAgg struct {
		tiers   [5]int32
		overdue int32
	}
	perHost := make([]hostAgg, len(s.hosts))
	seenHost := make([]bool, len(s.hosts))
	cves := make([]bool, len(s.cves))
	var tierCount [5]int
	for _, i := range sel.idx {
		c := &s.findings[i]
		h := &perHost[c.host]
		h.tiers[c.tier]++
		tierCount[c.tier]++
		if !seenHost[c.host] {
			seenHost[c.host] = true
			b.Hosts++
		}
		if !cves[c.cve] {
			cves[c.cve] = true
			b.CVEs++
		}
		if c.overdue {
			b.Overdue++
			h.overdue++
		}
		if s.cves[c.cve].kev != nil {
			b.KEV++
		}
		if c.alerts {
			b.Alerted++
		}
	}
	b.Findings = len(sel.idx)
	for t, n := range tierCount {
		if n > 0 {
			b.ByTier[string(tiers[t])] = Count{Findings: n}
		}
	}
	bu := map[string]*Group{}
	for hi := range perHost {
		if !seenHost[hi] {
			continue
		}
		name := s.hosts[hi].ref.BusinessUnit
		if name == "" {
			name = "(none)"
		}
		g := bu[name]
		if g == nil {
			g = &Group{Name: name, ByTier: map[string]int{}}
			bu[name] = g
		}
		h := &perHost[hi]
		for t, n := range h.tiers {
			if n > 0 {
				g.ByTier[string(tiers[t])] += int(n)
				g.Findings += int(n)
			}
		}
		g.Overdue += int(h.overdue)
	}
	items := sel.Items()
	b.Items = len(items)
	for _, it := range items {
		cnt := b.ByTier[string(it.Tier)]
		cnt.Items++
		b.ByTier[string(it.Tier)] = cnt
	}
	b.ByBU = sortedGroups(bu)
	b.BUsTotal = len(b.ByBU)
	if maxBU >= 0 && len(b.ByBU) > maxBU {
		b.ByBU = b.ByBU[:maxBU]
		b.Truncated = true
	}
	return b
}

// Threat signals of ThreatActive.
const (
	SignalKEV       = "kev"            // in the CISA KEV catalog
	SignalIntel     = "intel"          // Falcon Intelligence ties actors or reports to it
	SignalAlert     = "alert"          // a live alert on an affected host is tied to it
	SignalExploited = "exploit_status" // Spotlight says actively used (exploit_status 90)
)

// ThreatSignals lists the signals in the order ThreatCVE.Signals uses.
var ThreatSignals = []string{SignalKEV, SignalIntel, SignalAlert, SignalExploited}

// ThreatCVE is a CVE in the selection with live exploitation signals, and
// the hosts exposed to it.
type ThreatCVE struct {
	CVE           string
	Name          string // KEV vulnerability name, else Spotlight's CVE name
	Signals       []string
	KEV           *risk.KEVFact
	Intel         *risk.IntelFact
	ExploitStatus int
	BaseScore     float64
	Findings      int
	Alerted       int // findings with a tied live alert
	BestTier      risk.Tier
	MaxScore      float64
	Hosts         []ExposedHost // every exposed host, highest score first
}

// ExposedHost is a host with an open finding of a threat-active CVE.
type ExposedHost struct {
	AID              string
	Hostname         string
	Platform         string
	AssetCriticality string
	InternetExposure string
	BusinessUnit     string
	FindingID        string // the host's highest-scoring finding of the CVE
	Tier             risk.Tier
	Score            float64
	Due              time.Time
	Alerted          bool
}

// ThreatActive returns the selection's CVEs with at least one live
// exploitation signal (only the given one when signal is not "" or "any"),
// most urgent first: best tier, highest score, most hosts.
func (sel *Selection) ThreatActive(signal string) ([]ThreatCVE, error) {
	if signal != "" && signal != "any" && !slices.Contains(ThreatSignals, signal) {
		return nil, fmt.Errorf("signal %q is not one of any, %s", signal, strings.Join(ThreatSignals, ", "))
	}
	s := sel.s
	type acc struct {
		t     *ThreatCVE
		hosts map[int32]int // host index → position in t.Hosts
	}
	// A CVE without catalog signals is threat-active when any selected
	// finding of it has a tied alert: find those first.
	alerted := make([]bool, len(s.cves))
	for _, i := range sel.idx {
		if c := &s.findings[i]; c.alerts {
			alerted[c.cve] = true
		}
	}
	byCVE := map[int32]*acc{}
	var order []int32
	for _, i := range sel.idx {
		c := &s.findings[i]
		cv := &s.cves[c.cve]
		a := byCVE[c.cve]
		if a == nil {
			sig := cveSignals(cv)
			if alerted[c.cve] {
				sig = addSignal(sig, SignalAlert)
			}
			if len(sig) == 0 {
				byCVE[c.cve] = &acc{} // not threat-active
				continue
			}
			name := cv.facet.Name
			if cv.kev != nil && cv.kev.VulnerabilityName != "" {
				name = cv.kev.VulnerabilityName
			}
			a = &acc{t: &ThreatCVE{
				CVE: cv.facet.ID, Name: name, Signals: sig, KEV: cv.kev, Intel: cv.intel,
				ExploitStatus: cv.facet.ExploitStatus, BaseScore: cv.facet.BaseScore, BestTier: risk.P4,
			}, hosts: map[int32]int{}}
			byCVE[c.cve] = a
			order = append(order, c.cve)
		}
		if a.t == nil {
			continue
		}
		t := a.t
		t.Findings++
		if c.alerts {
			t.Alerted++
		}
		tier := tiers[c.tier]
		if tier.Rank() < t.BestTier.Rank() {
			t.BestTier = tier
		}
		t.MaxScore = max(t.MaxScore, c.score)
		h := &s.hosts[c.host]
		if k, ok := a.hosts[c.host]; ok {
			eh := &t.Hosts[k]
			eh.Alerted = eh.Alerted || c.alerts
			if c.score > eh.Score {
				eh.Score, eh.Tier, eh.FindingID, eh.Due = c.score, tier, c.id, time.Unix(c.due, 0).UTC()
			}
			continue
		}
		a.hosts[c.host] = len(t.Hosts)
		t.Hosts = append(t.Hosts, ExposedHost{
			AID: h.aid, Hostname: h.facet.Hostname, Platform: h.facet.Platform,
			AssetCriticality: h.facet.AssetCriticality, InternetExposure: h.facet.InternetExposure,
			BusinessUnit: h.ref.BusinessUnit, FindingID: c.id, Tier: tier, Score: c.score, Due: time.Unix(c.due, 0).UTC(), Alerted: c.alerts,
		})
	}
	out := make([]ThreatCVE, 0, len(order))
	for _, ci := range order {
		t := byCVE[ci].t
		if signal != "" && signal != "any" && !slices.Contains(t.Signals, signal) {
			continue
		}
		slices.SortFunc(t.Hosts, func(x, y ExposedHost) int {
			return cmp.Or(cmp.Compare(y.Score, x.Score), cmp.Compare(x.Hostname, y.Hostname), cmp.Compare(x.AID, y.AID))
		})
		out = append(out, *t)
	}
	slices.SortFunc(out, func(x, y ThreatCVE) int {
		return cmp.Or(cmp.Compare(x.BestTier.Rank(), y.BestTier.Rank()), cmp.Compare(y.MaxScore, x.MaxScore),
			cmp.Compare(len(y.Hosts), len(x.Hosts)), cmp.Compare(x.CVE, y.CVE))
	})
	return out, nil
}

func cveSignals(cv *cveEntry) []string {
	var sig []string
	if cv.kev != nil {
		sig = append(sig, SignalKEV)
	}
	if cv.intel != nil && (len(cv.intel.Actors) > 0 || len(cv.intel.Reports) > 0) {
		sig = append(sig, SignalIntel)
	}
	if cv.facet.ExploitStatus >= 90 {
		sig = append(sig, SignalExploited)
	}
	return sig
}

// addSignal inserts sig keeping ThreatSignals order.
func addSignal(sigs []string, sig string) []string {
	if slices.Contains(sigs, sig) {
		return sigs
	}
	sigs = append(sigs, sig)
	slices.SortFunc(sigs, func(a, b string) int {
		return cmp.Compare(slices.Index(ThreatSignals, a), slices.Index(ThreatSignals, b))
	})
	return sigs
}

// GroupDimensions are the dimensions Exposure can group by.
var GroupDimensions = []string{"business_unit", "team", "platform", "tier", "asset_criticality", "internet_exposure", "product_type"}

// Exposure is the selection's exposure: totals, groups along one dimension
// and how the still-open findings arrived over time.
type Exposure struct {
	GroupBy string          `json:"group_by"`
	Totals  ExposureGroup   `json:"totals"`
	Groups  []ExposureGroup `json:"groups"` // most P1 findings first
	// Weekly counts the still-open findings by the week (Monday, UTC)
	// Spotlight first detected them, oldest first, ending with the week of
	// the assessment. Closed findings are not in a snapshot, so this is the
	// age profile of the backlog, not a closure rate.
	Weekly []WeekCount `json:"opened_per_week"`
	// Age buckets the open findings by days since first detection.
	Age []AgeBucket `json:"age"`
}

// ExposureGroup is one row of an exposure breakdown.
type ExposureGroup struct {
	Name     string         `json:"name"`
	Findings int            `json:"findings"`
	Hosts    int            `json:"hosts"`
	CVEs     int            `json:"cves"`
	ByTier   map[string]int `json:"by_tier"`
	Overdue  int            `json:"overdue"`
	KEV      int            `json:"kev"`
	Alerted  int            `json:"alerted"`
	New7d    int            `json:"new_7d"`
	New30d   int            `json:"new_30d"`
	MaxScore float64        `json:"max_score"`

	hosts map[int32]struct{}
	cves  map[int32]struct{}
}

// WeekCount is the open findings first detected in one week.
type WeekCount struct {
	Week     string         `json:"week"` // YYYY-MM-DD of the Monday
	Findings int            `json:"findings"`
	ByTier   map[string]int `json:"by_tier"`
}

// AgeBucket counts open findings by age.
type AgeBucket struct {
	Age      string `json:"age"`
	Findings int    `json:"findings"`
	Overdue  int    `json:"overdue"`
}

var ageBuckets = []struct {
	label string
	days  int64
}{{"0-7d", 7}, {"8-30d", 30}, {"31-90d", 90}, {"91-180d", 180}, {"181-365d", 365}, {">365d", 1 << 40}}

// Exposure aggregates the selection along groupBy (one of GroupDimensions)
// with the last `weeks` weeks of arrivals (1–104).
func (sel *Selection) Exposure(groupBy string, weeks int) (Exposure, error) {
	if !slices.Contains(GroupDimensions, groupBy) {
		return Exposure{}, fmt.Errorf("group_by %q is not one of %s", groupBy, strings.Join(GroupDimensions, ", "))
	}
	if weeks < 1 || weeks > 104 {
		return Exposure{}, fmt.Errorf("weeks: %d is out of range 1–104", weeks)
	}
	s := sel.s
	now := s.opts.Now.UTC()
	// Monday 00:00 UTC of the assessment week.
	wd := (int(now.Weekday()) + 6) % 7
	lastWeek := time.Date(now.Year(), now.Month(), now.Day()-wd, 0, 0, 0, 0, time.UTC)
	firstWeek := lastWeek.AddDate(0, 0, -7*(weeks-1))
	ex := Exposure{GroupBy: groupBy, Weekly: make([]WeekCount, weeks), Age: make([]AgeBucket, len(ageBuckets))}
	for w := range ex.Weekly {
		ex.Weekly[w] = WeekCount{Week: firstWeek.AddDate(0, 0, 7*w).Format(time.DateOnly), ByTier: map[string]int{}}
	}
	for b := range ex.Age {
		ex.Age[b].Age = ageBuckets[b].label
	}
	total := &ExposureGroup{Name: "all", ByTier: map[string]int{}, hosts: map[int32]struct{}{}, cves: map[int32]struct{}{}}
	groups := map[string]*ExposureGroup{}
	nowUnix := now.Unix()
	for _, i := range sel.idx {
		c := &s.findings[i]
		name := sel.dimension(groupBy, c)
		g := groups[name]
		if g == nil {
			g = &ExposureGroup{Name: name, ByTier: map[string]int{}, hosts: map[int32]struct{}{}, cves: map[int32]struct{}{}}
			groups[name] = g
		}
		ageDays := (nowUnix - c.created) / 86400
		for _, x := range []*ExposureGroup{total, g} {
			x.add(s, c, ageDays)
		}
		for b := range ageBuckets {
			if ageDays <= ageBuckets[b].days {
				ex.Age[b].Findings++
				if c.overdue {
					ex.Age[b].Overdue++
				}
				break
			}
		}
		if w := int((c.created - firstWeek.Unix()) / (7 * 86400)); c.created >= firstWeek.Unix() && w < weeks {
			ex.Weekly[w].Findings++
			ex.Weekly[w].ByTier[string(tiers[c.tier])]++
		}
	}
	ex.Totals = total.finish()
	ex.Groups = make([]ExposureGroup, 0, len(groups))
	for _, g := range groups {
		ex.Groups = append(ex.Groups, g.finish())
	}
	slices.SortFunc(ex.Groups, func(a, b ExposureGroup) int {
		for _, t := range []string{"P1", "P2", "P3"} {
			if c := cmp.Compare(b.ByTier[t], a.ByTier[t]); c != 0 {
				return c
			}
		}
		return cmp.Or(cmp.Compare(b.Findings, a.Findings), cmp.Compare(a.Name, b.Name))
	})
	return ex, nil
}

func (g *ExposureGroup) add(s *Snapshot, c *compact, ageDays int64) {
	g.Findings++
	g.ByTier[string(tiers[c.tier])]++
	g.hosts[c.host] = struct{}{}
	g.cves[c.cve] = struct{}{}
	if c.overdue {
		g.Overdue++
	}
	if s.cves[c.cve].kev != nil {
		g.KEV++
	}
	if c.alerts {
		g.Alerted++
	}
	if ageDays < 7 {
		g.New7d++
	}
	if ageDays < 30 {
		g.New30d++
	}
	g.MaxScore = max(g.MaxScore, c.score)
}

func (g *ExposureGroup) finish() ExposureGroup {
	out := *g
	out.Hosts, out.CVEs = len(g.hosts), len(g.cves)
	out.hosts, out.cves = nil, nil
	return out
}

func (sel *Selection) dimension(dim string, c *compact) string {
	s := sel.s
	h := &s.hosts[c.host]
	var v string
	switch dim {
	case "business_unit":
		v = h.ref.BusinessUnit
	case "team":
		v = h.ref.Team
	case "platform":
		v = h.facet.Platform
	case "tier":
		v = string(tiers[c.tier])
	case "asset_criticality":
		v = h.facet.AssetCriticality
	case "internet_exposure":
		v = h.facet.InternetExposure
	case "product_type":
		v = h.facet.ProductTypeDesc
	}
	if v == "" {
		return "(none)"
	}
	return v
}
