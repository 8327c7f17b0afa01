package plan

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/risk"
)

// Member is one assessed, open finding to plan.
type Member struct {
	FindingID string
	AID       string
	Hostname  string
	CVE       string
	// Remediation is the remediation entity when known; nil: none (or only
	// its id is known, see RemediationID).
	Remediation *falcon.Remediation
	// RemediationID groups the finding; empty (and Remediation nil) means no
	// remediation: the finding becomes a mitigation item.
	RemediationID string
	Score         float64
	Tier          risk.Tier
	Due           time.Time
	Overdue       bool
	Host          HostRef
	// Evidence is optional (nil at scale): when set on the finding that tops
	// an item, the item carries it, highest points first.
	Evidence []risk.Evidence
}

// Options tune the grouping.
type Options struct {
	// FleetMinHosts is how many distinct hosts one remediation must span for
	// its findings to form a single fleet item instead of one item per host.
	// 0 means the default, 10; a negative value disables fleet items.
	FleetMinHosts int
	// SizeHint is the expected number of members (0: unknown); it only
	// pre-sizes memory.
	SizeHint int
}

// DefaultFleetMinHosts is the fleet threshold when Options leave it 0.
const DefaultFleetMinHosts = 10

// Builder groups members into work items. Add members, then call Items; a
// Builder is not safe for concurrent use.
//
// Grouping rules:
//   - a finding with a remediation joins the host item (aid, remediation id);
//   - when one remediation spans at least FleetMinHosts distinct hosts, all
//     its findings form one fleet item (remediation id) instead;
//   - a finding without a remediation joins the mitigation item (aid, CVE);
//   - the same CVE found on one host for several apps (several findings) is
//     listed once in CVEs, while every finding id is kept;
//   - item score = max, tier = best, due = earliest, overdue = any.
type Builder struct {
	fleetMin int

	hostIdx map[string]int32 // normalised aid → hosts
	hosts   []HostRef
	lastAID string // members usually arrive host by host: skip the map then
	lastH   int32

	remIdx map[string]int32 // normalised remediation id → rems
	rems   []remInfo

	cveIdx map[string]int32 // normalised CVE → cves
	cves   []string

	groupIdx map[groupKey]int32
	groups   []group

	members  []memberRec
	evidence map[int32][]risk.Evidence // by member index, only when given
}

type remInfo struct {
	id     string
	entity *falcon.Remediation
	hosts  int32 // distinct hosts (= host groups) using it
}

// groupKey is a host item (host, rem, -1) or a mitigation item (host, -1, cve).
type groupKey struct {
	host int32
	rem  int32
	cve  int32
}

type group struct {
	key groupKey
	agg
}

// agg is the running aggregate of an item's members.
type agg struct {
	score    float64
	due      int64 // unix seconds; noDue when no member has one
	top      int32 // index in members of the top finding
	tierRank int8
	overdue  bool
}

// memberRec is what a member costs to keep: one string and a few numbers.
type memberRec struct {
	findingID string
	score     float64
	due       int64 // unix seconds; noDue when unknown
	cve       int32
	group     int32
	tierRank  int8
}

// NewBuilder returns an empty builder.
func NewBuilder(opts Options) *Builder {
	fm := opts.FleetMinHosts
	if fm == 0 {
		fm = DefaultFleetMinHosts
	}
	n := max(opts.SizeHint, 0)
	return &Builder{
		fleetMin: fm,
		hostIdx:  make(map[string]int32, n/50+16),
		remIdx:   make(map[string]int32, 64),
		cveIdx:   make(map[string]int32, 64),
		groupIdx: make(map[groupKey]int32, n/4+16),
		members:  make([]memberRec, 0, n),
		lastH:    -1,
	}
}

const noDue = int64(1<<63 - 1)

// Add adds one member. Members need no particular order.
func (b *Builder) Add(m Member) {
	h := b.lastH
	if h < 0 || m.AID != b.lastAID {
		aid := normLower(m.AID)
		var ok bool
		if h, ok = b.hostIdx[aid]; !ok {
			h = int32(len(b.hosts))
			b.hostIdx[aid] = h
			ref := m.Host
			ref.AID = aid
			if ref.Hostname == "" {
				ref.Hostname = m.Hostname
			}
			b.hosts = append(b.hosts, ref)
		}
		b.lastAID, b.lastH = m.AID, h
	}
	cveName := normUpper(m.CVE)
	cve, ok := b.cveIdx[cveName]
	if !ok {
		cve = int32(len(b.cves))
		b.cveIdx[cveName] = cve
		b.cves = append(b.cves, cveName)
	}
	remID := m.RemediationID
	if remID == "" && m.Remediation != nil {
		remID = m.Remediation.ID
	}
	remID = normLower(remID)
	gk := groupKey{host: h, rem: -1, cve: -1}
	if remID != "" {
		r, ok := b.remIdx[remID]
		if !ok {
			r = int32(len(b.rems))
			b.remIdx[remID] = r
			b.rems = append(b.rems, remInfo{id: remID})
		}
		if b.rems[r].entity == nil && m.Remediation != nil {
			b.rems[r].entity = m.Remediation
		}
		gk.rem = r
	} else {
		gk.cve = cve
	}
	g, ok := b.groupIdx[gk]
	if !ok {
		g = int32(len(b.groups))
		b.groupIdx[gk] = g
		if len(b.groups) == cap(b.groups) {
			// Double rather than append's 1.25× for large slices: a million
			// members can mean most of a million groups.
			b.groups = slices.Grow(b.groups, max(len(b.groups), 1024))
		}
		b.groups = append(b.groups, group{key: gk, agg: agg{top: -1, due: noDue}})
		if gk.rem >= 0 {
			b.rems[gk.rem].hosts++
		}
	}
	due := noDue
	if !m.Due.IsZero() {
		due = m.Due.Unix()
	}
	idx := int32(len(b.members))
	b.members = append(b.members, memberRec{
		findingID: m.FindingID, score: m.Score, due: due, cve: cve, group: g, tierRank: int8(m.Tier.Rank()),
	})
	if len(m.Evidence) > 0 {
		if b.evidence == nil {
			b.evidence = make(map[int32][]risk.Evidence)
		}
		b.evidence[idx] = m.Evidence
	}
	b.groups[g].merge(b.members, &agg{score: m.Score, due: due, top: idx, tierRank: int8(m.Tier.Rank()), overdue: m.Overdue})
}

// merge folds another aggregate (of the same members slice) into a.
func (a *agg) merge(members []memberRec, o *agg) {
	if o.top < 0 {
		return
	}
	if a.top < 0 {
		*a = *o
		return
	}
	if better(&members[o.top], &members[a.top]) {
		a.top = o.top
	}
	a.score = max(a.score, o.score)
	a.tierRank = min(a.tierRank, o.tierRank)
	a.due = min(a.due, o.due)
	a.overdue = a.overdue || o.overdue
}

// better orders candidate top findings: higher score, then better tier,
// then earlier due, then smaller finding id — deterministic whatever the
// order of Add.
func better(x, y *memberRec) bool {
	if x.score != y.score {
		return x.score > y.score
	}
	if x.tierRank != y.tierRank {
		return x.tierRank < y.tierRank
	}
	if x.due != y.due {
		return x.due < y.due
	}
	return x.findingID < y.findingID
}

// Len is the number of members added.
func (b *Builder) Len() int { return len(b.members) }

// Items returns the work items, most urgent first: by tier, then score
// (descending), due date (earliest first; none last), then key.
func (b *Builder) Items() []WorkItem {
	// Decide each group's item: host/mitigate groups map to themselves, the
	// groups of a fleet remediation to one shared item.
	type itemRef struct {
		kind  string
		group int32 // representative group
		rem   int32
		agg   agg
	}
	items := make([]itemRef, 0, len(b.groups))
	groupItem := make([]int32, len(b.groups))
	fleetItem := make(map[int32]int32)
	for gi := range b.groups {
		g := &b.groups[gi]
		switch {
		case g.key.rem < 0:
			groupItem[gi] = int32(len(items))
			items = append(items, itemRef{kind: KindMitigate, group: int32(gi), rem: -1, agg: g.agg})
		case b.fleetMin > 0 && int(b.rems[g.key.rem].hosts) >= b.fleetMin:
			it, ok := fleetItem[g.key.rem]
			if !ok {
				it = int32(len(items))
				fleetItem[g.key.rem] = it
				items = append(items, itemRef{kind: KindFleet, group: int32(gi), rem: g.key.rem, agg: agg{top: -1, due: noDue}})
			}
			items[it].agg.merge(b.members, &g.agg)
			groupItem[gi] = it
		default:
			groupItem[gi] = int32(len(items))
			items = append(items, itemRef{kind: KindHost, group: int32(gi), rem: g.key.rem, agg: g.agg})
		}
	}

	// Bucket member indexes by item (counting sort: one int32 per member).
	start := make([]int32, len(items)+1)
	for i := range b.members {
		start[groupItem[b.members[i].group]+1]++
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	order := make([]int32, len(b.members))
	fill := slices.Clone(start[:len(items)])
	for i := range b.members {
		it := groupItem[b.members[i].group]
		order[fill[it]] = int32(i)
		fill[it]++
	}

	// Rank the distinct CVEs once, so items sort them as integers.
	byName := make([]int32, len(b.cves))
	for i := range byName {
		byName[i] = int32(i)
	}
	slices.SortFunc(byName, func(x, y int32) int { return compareCVE(b.cves[x], b.cves[y]) })
	cveRank := make([]int32, len(b.cves))
	for rank, c := range byName {
		cveRank[c] = int32(rank)
	}

	out := make([]WorkItem, len(items))
	var ranks []int32
	for ii := range items {
		ref := &items[ii]
		g := &b.groups[ref.group]
		w := &out[ii]
		w.Kind = ref.kind
		w.Score = ref.agg.score
		w.Tier = tierOf(int(ref.agg.tierRank))
		if ref.agg.due != noDue {
			w.Due = time.Unix(ref.agg.due, 0).UTC()
		}
		w.Overdue = ref.agg.overdue
		top := &b.members[ref.agg.top]
		w.TopFinding = top.findingID
		if ev := b.evidence[ref.agg.top]; len(ev) > 0 {
			w.Evidence = slices.Clone(ev)
			slices.SortStableFunc(w.Evidence, func(x, y risk.Evidence) int { return cmp.Compare(y.Points, x.Points) })
		}
		host := b.hosts[g.key.host]
		switch ref.kind {
		case KindMitigate:
			cve := b.cves[g.key.cve]
			w.Key = MitigateKey(host.AID, cve)
			w.Remediation = Remediation{Title: "Mitigate " + cve + " (no remediation available)"}
		case KindHost:
			w.Key = HostKey(host.AID, b.rems[ref.rem].id)
			w.Remediation = b.remediation(ref.rem)
		case KindFleet:
			w.Key = FleetKey(b.rems[ref.rem].id)
			w.Remediation = b.remediation(ref.rem)
		}
		ms := order[start[ii]:start[ii+1]]
		w.FindingIDs = make([]string, 0, len(ms))
		ranks = ranks[:0]
		var hostSet []int32
		for _, mi := range ms {
			m := &b.members[mi]
			w.FindingIDs = append(w.FindingIDs, m.findingID)
			ranks = append(ranks, cveRank[m.cve])
			if ref.kind == KindFleet {
				hostSet = append(hostSet, b.groups[m.group].key.host)
			}
		}
		slices.Sort(w.FindingIDs)
		w.FindingIDs = slices.Compact(w.FindingIDs)
		slices.Sort(ranks)
		ranks = slices.Compact(ranks)
		w.CVEs = make([]string, len(ranks))
		for i, rk := range ranks {
			w.CVEs[i] = b.cves[byName[rk]]
		}
		if ref.kind == KindFleet {
			slices.Sort(hostSet)
			hostSet = slices.Compact(hostSet)
			w.Hosts = make([]HostRef, len(hostSet))
			for i, h := range hostSet {
				w.Hosts[i] = b.hosts[h]
			}
			slices.SortFunc(w.Hosts, func(x, y HostRef) int {
				return cmp.Or(cmp.Compare(x.Hostname, y.Hostname), cmp.Compare(x.AID, y.AID))
			})
		} else {
			w.Hosts = []HostRef{host}
		}
	}
	slices.SortFunc(out, compareItems)
	return out
}

func (b *Builder) remediation(r int32) Remediation {
	ri := &b.rems[r]
	if e := ri.entity; e != nil {
		title := e.Title
		if title == "" {
			title = "Remediation " + ri.id
		}
		return Remediation{ID: ri.id, Title: title, Action: e.Action, Reference: e.Reference, Link: firstNonEmpty(e.Link, e.VendorURL)}
	}
	return Remediation{ID: ri.id, Title: "Remediation " + ri.id}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func tierOf(rank int) risk.Tier {
	switch rank {
	case 1:
		return risk.P1
	case 2:
		return risk.P2
	case 3:
		return risk.P3
	case 4:
		return risk.P4
	}
	return ""
}

func compareItems(x, y WorkItem) int {
	if c := cmp.Compare(x.Tier.Rank(), y.Tier.Rank()); c != 0 {
		return c
	}
	if c := cmp.Compare(y.Score, x.Score); c != 0 {
		return c
	}
	if c := compareDue(x.Due, y.Due); c != 0 {
		return c
	}
	return cmp.Compare(x.Key, y.Key)
}

// compareDue orders earliest first, unknown (zero) last.
func compareDue(x, y time.Time) int {
	switch {
	case x.Equal(y):
		return 0
	case x.IsZero():
		return 1
	case y.IsZero():
		return -1
	case x.Before(y):
		return -1
	}
	return 1
}

// compareCVE orders CVE ids by year then number (CVE-2024-9999 before
// CVE-2024-10000); other ids sort after, as strings.
func compareCVE(x, y string) int {
	xy, xn, xok := cveParts(x)
	yy, yn, yok := cveParts(y)
	switch {
	case xok && yok:
		return cmp.Or(cmp.Compare(xy, yy), cmp.Compare(xn, yn), cmp.Compare(x, y))
	case xok:
		return -1
	case yok:
		return 1
	}
	return cmp.Compare(x, y)
}

func cveParts(s string) (int, int, bool) {
	if !strings.HasPrefix(s, "CVE-") {
		return 0, 0, false
	}
	y, n, ok := strings.Cut(s[4:], "-")
	if !ok {
		return 0, 0, false
	}
	yi, err1 := strconv.Atoi(y)
	ni, err2 := strconv.Atoi(n)
	return yi, ni, err1 == nil && err2 == nil
}

// HostRefFrom builds a host reference from Spotlight's host facet. Business
// unit and team come from Falcon grouping tags "FalconGroupingTags/bu-<x>"
// and "FalconGroupingTags/team-<x>" (SensorGroupingTags/ is accepted too);
// the first matching tag wins.
func HostRefFrom(h falcon.HostFacet, aid string) HostRef {
	ref := HostRef{AID: normLower(aid), Hostname: h.Hostname, AssetCriticality: h.AssetCriticality}
	for _, t := range h.Tags {
		_, v, ok := strings.Cut(t, "/")
		if !ok {
			continue
		}
		p := t[:len(t)-len(v)-1]
		if !strings.EqualFold(p, "FalconGroupingTags") && !strings.EqualFold(p, "SensorGroupingTags") {
			continue
		}
		switch {
		case ref.BusinessUnit == "" && len(v) > 3 && strings.EqualFold(v[:3], "bu-"):
			ref.BusinessUnit = v[3:]
		case ref.Team == "" && len(v) > 5 && strings.EqualFold(v[:5], "team-"):
			ref.Team = v[5:]
		}
	}
	return ref
}
