package falconsim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"
)

// snapshot is an immutable, compact view of a tenant that handlers read
// without locks. A mutation (a host action) builds a new snapshot sharing
// everything it does not change and swaps it in atomically; the query caches
// hang off the snapshot, so a swap also invalidates them.
type snapshot struct {
	gen uint64
	cid string
	now time.Time // the tenant's present: FQL relative times and online state use it

	strs     []string // interned strings; strID indexes it
	strsJSON [][]byte // strs[i] as a JSON string literal, escaped once
	aidJSON  [][]byte // hosts[i].h.AID as a JSON string literal
	cveJSON  [][]byte // cves[i].c.ID as a JSON string literal

	hosts     []hostRec
	hostByAID map[string]int32

	cves    []cveRec
	cveByID map[string]int32

	rems    []remRec
	remByID map[string]int32

	findings    []findingRec
	findingByID map[string]int32
	remRefs     []int32 // findingRec.remOff/remN index this

	alerts      []alertRec
	alertByID   map[string]int32
	alertByHost map[int32][]int32

	intel      []intelRec
	intelByCVE map[string]int32

	// managed lists the hosts the Hosts API serves, in tenant order.
	managed []int32

	// Pre-rendered JSON shared by every finding that references the entity:
	// a page of 5000 findings mostly copies these.
	hostFacetJSON [][]byte // host_info facet per host
	cveFacetJSON  [][]byte // cve facet per CVE
	remJSON       [][]byte // remediation entity per remediation

	evalOnce sync.Once
	evalByID map[string]int32 // evaluation-logic id -> finding, built on first use

	// findingOrders index the findings by time; snapshots sharing the
	// findings share them.
	findingOrders *findingOrders

	cache *queryCache
}

// findingOrders are the findings sorted by created_timestamp and by
// updated_timestamp (ties by position), each built on first use: streams
// shard by created_timestamp and incremental pulls filter on
// updated_timestamp.
type findingOrders struct {
	created, updated lazyOrder
}

func (s *snapshot) findingsByCreated() []int32 {
	return s.findingOrders.created.get(len(s.findings), func(i int32) int64 { return s.findings[i].created })
}

func (s *snapshot) findingsByUpdated() []int32 {
	return s.findingOrders.updated.get(len(s.findings), func(i int32) int64 { return s.findings[i].updated })
}

type strID uint32

// interner dedupes strings while a snapshot is built.
type interner struct {
	strs []string
	ids  map[string]strID
}

func newInterner() *interner {
	in := &interner{ids: make(map[string]strID)}
	in.id("") // strID 0 is always ""
	return in
}

func (in *interner) id(s string) strID {
	if id, ok := in.ids[s]; ok {
		return id
	}
	id := strID(len(in.strs))
	in.strs = append(in.strs, s)
	in.ids[s] = id
	return id
}

func (s *snapshot) str(id strID) string { return s.strs[id] }

type hostRec struct {
	h        Host // the tenant's record (slices shared, never mutated)
	status   string
	groupIDs []string
	// deterministic details the tenant format does not carry
	agentVersion, systemManufacturer, systemProduct, mac, serial, kernel string
	modified                                                             int64
}

type cveRec struct {
	c     CVE
	types []string
}

type remRec struct{ r Remediation }

const (
	statusOpen uint8 = iota
	statusClosed
	statusReopen
	statusExpired
)

var findingStatusNames = [...]string{"open", "closed", "reopen", "expired"}

type findingRec struct {
	id                       string
	host                     int32
	cve                      int32
	created, updated, closed int64 // Unix seconds; closed 0 = not closed
	vendor, product          strID
	nameVersion              strID // "product version" as Falcon's product_name_version
	reason                   strID // suppression reason
	remOff                   uint32
	remN                     uint16
	status                   uint8
	suppressed               bool
	potential                bool // confidence "potential" (default "confirmed")
}

type alertRec struct {
	a    Alert
	host int32
}

type intelRec struct {
	v   IntelVuln
	cve int32 // -1 when the tenant has no CVE record for it
}

// addID indexes record i of the tenant's list by its id field, which must
// be present and unique.
func addID(index map[string]int32, list string, i int, field, id string) error {
	if id == "" {
		return fmt.Errorf("%s[%d].%s is empty", list, i, field)
	}
	if _, dup := index[id]; dup {
		return fmt.Errorf("%s[%d].%s %q is a duplicate", list, i, field, id)
	}
	index[id] = int32(i)
	return nil
}

// buildSnapshot indexes a tenant. It rejects data the simulator cannot serve
// faithfully (missing ids, dangling references) with errors naming the field.
func buildSnapshot(t *Tenant) (*snapshot, error) {
	if t == nil {
		return nil, fmt.Errorf("tenant is nil")
	}
	if t.CID == "" {
		return nil, fmt.Errorf("tenant.cid is empty: a resolved tenant has a customer id")
	}
	s := &snapshot{
		cid:         t.CID,
		now:         t.Now.UTC(),
		hostByAID:   make(map[string]int32, len(t.Hosts)),
		cveByID:     make(map[string]int32, len(t.CVEs)),
		remByID:     make(map[string]int32, len(t.Remediations)),
		findingByID: make(map[string]int32, len(t.Findings)),
		alertByID:   make(map[string]int32, len(t.Alerts)),
		alertByHost: make(map[int32][]int32),
		intelByCVE:  make(map[string]int32, len(t.Intel)),
	}
	if s.now.IsZero() {
		return nil, fmt.Errorf("tenant.now is zero: a resolved tenant has a present time")
	}
	in := newInterner()

	s.hosts = make([]hostRec, len(t.Hosts))
	for i, h := range t.Hosts {
		if err := addID(s.hostByAID, "hosts", i, "aid", h.AID); err != nil {
			return nil, err
		}
		s.hosts[i] = newHostRec(h)
		if h.Managed {
			s.managed = append(s.managed, int32(i))
		}
	}
	s.cves = make([]cveRec, len(t.CVEs))
	for i, c := range t.CVEs {
		if err := addID(s.cveByID, "cves", i, "id", c.ID); err != nil {
			return nil, err
		}
		s.cves[i] = cveRec{c: c, types: []string{"Vulnerability"}}
	}
	s.rems = make([]remRec, len(t.Remediations))
	for i, r := range t.Remediations {
		if err := addID(s.remByID, "remediations", i, "id", r.ID); err != nil {
			return nil, err
		}
		s.rems[i] = remRec{r: r}
	}

	s.findings = make([]findingRec, len(t.Findings))
	for i := range t.Findings {
		f := &t.Findings[i]
		rec, err := s.indexFinding(in, i, f)
		if err != nil {
			return nil, err
		}
		s.findings[i] = rec
	}

	s.alerts = make([]alertRec, len(t.Alerts))
	for i, a := range t.Alerts {
		if a.ID == "" {
			return nil, fmt.Errorf("alerts[%d].id is empty: resolve the tenant first", i)
		}
		if err := addID(s.alertByID, "alerts", i, "id", a.ID); err != nil {
			return nil, err
		}
		h, ok := s.hostByAID[a.AID]
		if !ok {
			return nil, fmt.Errorf("alerts[%d].aid %q names no host in hosts", i, a.AID)
		}
		s.alertByHost[h] = append(s.alertByHost[h], int32(i))
		s.alerts[i] = alertRec{a: a, host: h}
	}

	s.intel = make([]intelRec, len(t.Intel))
	for i, v := range t.Intel {
		if err := addID(s.intelByCVE, "intel", i, "cve", v.CVE); err != nil {
			return nil, err
		}
		c, ok := s.cveByID[v.CVE]
		if !ok {
			c = -1
		}
		s.intel[i] = intelRec{v: v, cve: c}
	}
	s.strs = in.strs
	s.strsJSON = make([][]byte, len(s.strs))
	for i, v := range s.strs {
		s.strsJSON[i] = appendJSONString(nil, v)
	}
	s.aidJSON = make([][]byte, len(s.hosts))
	for i := range s.hosts {
		s.aidJSON[i] = appendJSONString(nil, s.hosts[i].h.AID)
	}
	s.cveJSON = make([][]byte, len(s.cves))
	for i := range s.cves {
		s.cveJSON[i] = appendJSONString(nil, s.cves[i].c.ID)
	}

	s.hostFacetJSON = make([][]byte, len(s.hosts))
	for i := range s.hosts {
		s.hostFacetJSON[i] = s.renderHostFacet(int32(i))
	}
	s.cveFacetJSON = make([][]byte, len(s.cves))
	for i := range s.cves {
		s.cveFacetJSON[i] = s.renderCVEFacet(int32(i))
	}
	s.remJSON = make([][]byte, len(s.rems))
	for i := range s.rems {
		s.remJSON[i] = s.renderRemediation(int32(i))
	}
	s.findingOrders = &findingOrders{}
	s.cache = newQueryCache()
	return s, nil
}

func (s *snapshot) indexFinding(in *interner, i int, f *Finding) (findingRec, error) {
	if f.ID == "" {
		return findingRec{}, fmt.Errorf("findings[%d].id is empty: resolve the tenant first", i)
	}
	if _, dup := s.findingByID[f.ID]; dup {
		return findingRec{}, fmt.Errorf("findings[%d].id %q is a duplicate", i, f.ID)
	}
	h, ok := s.hostByAID[f.AID]
	if !ok {
		return findingRec{}, fmt.Errorf("findings[%d].aid %q names no host in hosts", i, f.AID)
	}
	c, ok := s.cveByID[f.CVE]
	if !ok {
		return findingRec{}, fmt.Errorf("findings[%d].cve %q has no entry in cves: resolve the tenant first", i, f.CVE)
	}
	if f.Created.IsZero() {
		return findingRec{}, fmt.Errorf("findings[%d].created is zero", i)
	}
	rec := findingRec{
		id:      f.ID,
		host:    h,
		cve:     c,
		created: f.Created.Unix(),
		updated: f.Updated.Unix(),
		vendor:  in.id(f.Vendor),
		product: in.id(f.Product),
		reason:  in.id(f.SuppressionReason),
	}
	if f.Updated.IsZero() {
		rec.updated = rec.created
	}
	if f.Closed != nil && !f.Closed.IsZero() {
		rec.closed = f.Closed.Unix()
	}
	nv := f.Product
	if f.ProductVersion != "" {
		nv += " " + f.ProductVersion
	}
	rec.nameVersion = in.id(nv)
	switch f.Status {
	case "", "open":
		rec.status = statusOpen
	case "closed":
		rec.status = statusClosed
	case "reopen":
		rec.status = statusReopen
	case "expired":
		rec.status = statusExpired
	default:
		return findingRec{}, fmt.Errorf("findings[%d].status %q is not one of open, closed, reopen, expired", i, f.Status)
	}
	switch f.Confidence {
	case "", "confirmed":
	case "potential":
		rec.potential = true
	default:
		return findingRec{}, fmt.Errorf("findings[%d].confidence %q is not one of confirmed, potential", i, f.Confidence)
	}
	rec.suppressed = f.Suppressed
	if len(f.RemediationIDs) > 0xFFFF {
		return findingRec{}, fmt.Errorf("findings[%d].remediation_ids has %d entries; at most 65535 are allowed", i, len(f.RemediationIDs))
	}
	rec.remOff = uint32(len(s.remRefs))
	for _, rid := range f.RemediationIDs {
		r, ok := s.remByID[rid]
		if !ok {
			return findingRec{}, fmt.Errorf("findings[%d].remediation_ids: %q has no entry in remediations", i, rid)
		}
		s.remRefs = append(s.remRefs, r)
	}
	rec.remN = uint16(len(f.RemediationIDs))
	s.findingByID[f.ID] = int32(i)
	return rec, nil
}

func (s *snapshot) findingRems(f *findingRec) []int32 {
	return s.remRefs[f.remOff : f.remOff+uint32(f.remN)]
}

// pick deterministically chooses one of opts for key.
func pick(key string, opts ...string) string {
	sum := sha256.Sum256([]byte(key))
	return opts[int(sum[0])%len(opts)]
}

func newHostRec(h Host) hostRec {
	r := hostRec{h: h, status: h.Status}
	if r.status == "" {
		r.status = "normal"
	}
	for _, g := range h.Groups {
		r.groupIDs = append(r.groupIDs, groupID(g))
	}
	r.agentVersion = pick(h.AID+"agent", "7.18.18004.0", "7.20.18306.0", "7.22.18512.0")
	r.systemManufacturer = pick(h.AID+"mfr", "VMware, Inc.", "Dell Inc.", "HP", "Lenovo", "Microsoft Corporation")
	r.systemProduct = pick(h.AID+"prod", "VMware Virtual Platform", "PowerEdge R740", "ProLiant DL380 Gen10", "ThinkPad T14", "Virtual Machine")
	sum := sha256.Sum256([]byte(h.AID + "mac"))
	r.mac = fmt.Sprintf("%02x-%02x-%02x-%02x-%02x-%02x", sum[0]&0xFE, sum[1], sum[2], sum[3], sum[4], sum[5])
	r.serial = strings.ToUpper(hex.EncodeToString(sum[6:12]))
	switch h.Platform {
	case "Linux":
		r.kernel = pick(h.AID+"kern", "5.15.0-91-generic", "5.14.0-362.8.1.el9_3.x86_64", "6.1.0-17-amd64")
	case "Mac":
		r.kernel = "23.2.0"
	default:
		r.kernel = pick(h.AID+"kern", "10.0.17763.5206", "10.0.20348.2113", "10.0.19045.3803")
	}
	r.modified = h.LastSeen.Unix()
	return r
}

// groupID is the id Falcon would give a host group; tenants name groups,
// Falcon's APIs carry ids (and Spotlight's host_info carries both).
func groupID(name string) string { return digestHex("host-group", name) }

func (r *hostRec) managedBy() string {
	if r.h.Managed {
		return "Falcon sensor"
	}
	return "Unmanaged"
}

// withHostStatus returns a copy of s with host i's containment status
// changed. Findings and facets are shared; caches start empty.
func (s *snapshot) withHostStatus(i int32, status string, modified int64) *snapshot {
	n := &snapshot{}
	*n = snapshotFields(s)
	n.gen = s.gen + 1
	n.hosts = append([]hostRec(nil), s.hosts...)
	n.hosts[i].status = status
	n.hosts[i].modified = modified
	n.cache = newQueryCache()
	return n
}

// snapshotFields copies the value fields of s without its sync.Once.
func snapshotFields(s *snapshot) snapshot {
	return snapshot{
		gen: s.gen, cid: s.cid, now: s.now, strs: s.strs, strsJSON: s.strsJSON, aidJSON: s.aidJSON, cveJSON: s.cveJSON,
		hosts: s.hosts, hostByAID: s.hostByAID,
		cves: s.cves, cveByID: s.cveByID,
		rems: s.rems, remByID: s.remByID,
		findings: s.findings, findingByID: s.findingByID, remRefs: s.remRefs,
		alerts: s.alerts, alertByID: s.alertByID, alertByHost: s.alertByHost,
		intel: s.intel, intelByCVE: s.intelByCVE,
		managed:       s.managed,
		hostFacetJSON: s.hostFacetJSON, cveFacetJSON: s.cveFacetJSON, remJSON: s.remJSON,
		findingOrders: s.findingOrders,
	}
}
