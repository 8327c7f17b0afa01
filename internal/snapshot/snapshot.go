// Package snapshot is the assessed state of a tenant at one moment: every
// open finding pulled from Falcon, enriched (KEV, EPSS or the exploitation
// model, alerts on the host, Falcon Intelligence), scored by the risk engine
// and grouped into work items. It keeps findings in a compact, interned form
// so a million of them fit in a few hundred megabytes, and it rebuilds a
// finding's full explanation on demand instead of storing one per finding.
package snapshot

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/exploitmodel"
	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/intel"
	"github.com/vulnpilot/vulnpilot/internal/plan"
	"github.com/vulnpilot/vulnpilot/internal/risk"
)

// Source is the Falcon API surface a snapshot needs; *falcon.Client
// implements it.
type Source interface {
	StreamFindings(ctx context.Context, q falcon.FindingQuery, fn func(*falcon.Finding) error) error
	GetHosts(ctx context.Context, aids []string) ([]falcon.Host, error)
	StreamAlerts(ctx context.Context, filter string, fn func(*falcon.Alert) error) error
	IntelForCVEs(ctx context.Context, cves []string) (map[string]falcon.IntelVuln, error)
}

// Options configure a build.
type Options struct {
	Engine *risk.Engine
	Feeds  *intel.Feeds
	// Model is the exploitation model used as the prior when EPSS is unknown;
	// nil disables it.
	Model *exploitmodel.Model
	Plan  plan.Options
	// Now is the assessment clock (SLA due dates, staleness).
	Now time.Time
	// AlertsLookback bounds which alerts count as live.
	AlertsLookback time.Duration
	// SkipHosts and SkipIntel leave out the Hosts and Intel look-ups (for API
	// clients without those scopes); the evidence then says so.
	SkipHosts, SkipIntel bool
	// Progress, when set, is called as findings arrive.
	Progress func(fetched, total int64)
	// Labels describe where the data came from, for the summary.
	FalconLabel string
	PolicyLabel string
}

// Snapshot is an assessed tenant. It is immutable once built and safe for
// concurrent readers.
type Snapshot struct {
	opts Options

	findings []compact
	byID     map[string]int32
	hosts    []hostEntry
	hostIdx  map[string]int32
	cves     []cveEntry
	cveIdx   map[string]int32
	apps     []falcon.App
	appIdx   map[falcon.App]int32
	rems     []remSet
	remIdx   map[string]int32
	reasons  []string

	alertsByHost map[string][]falcon.Alert
	notes        []string // degraded inputs (no host details, no intel), for the summary

	items   []plan.WorkItem
	itemIdx map[string]int
	summary Summary
	timings []Timing
}

// Timing is how long one phase of Finish took.
type Timing struct {
	Phase    string        `json:"phase"`
	Duration time.Duration `json:"duration_ns"`
}

// Timings are the durations of the enrichment, scoring and planning phases.
func (s *Snapshot) Timings() []Timing { return s.timings }

func (s *Snapshot) timed(phase string, fn func() error) error {
	t0 := time.Now()
	err := fn()
	s.timings = append(s.timings, Timing{phase, time.Since(t0)})
	return err
}

// compact is one finding, with repeated data interned.
type compact struct {
	id      string
	host    int32
	cve     int32
	app     int32
	rem     int32 // index into rems; -1: no remediation
	reason  int16 // suppression reason index; -1: not suppressed
	status  uint8
	potent  bool // confidence "potential"
	created int64
	updated int64

	// results
	score   float64
	tier    uint8 // 1..4
	overdue bool
	due     int64
	alerts  bool // a live alert on the host is tied to this finding
}

type hostEntry struct {
	aid    string
	facet  falcon.HostFacet
	detail *falcon.Host
	ref    plan.HostRef // derived once in Finish (business unit, team)
}

type cveEntry struct {
	facet falcon.CVEFacet
	kev   *risk.KEVFact
	epss  *risk.EPSSFact
	prior *risk.PriorFact
	intel *risk.IntelFact
	// first app seen with the CVE: the model's vendor/product features
	vendor, product string
}

// remSet is a finding's remediation ids and entities, shared by every
// finding with the same set.
type remSet struct {
	ids      []string
	entities []falcon.Remediation
}

var statuses = []string{"", "open", "reopen", "closed", "expired"}

func statusCode(s string) uint8 {
	if i := slices.Index(statuses, strings.ToLower(s)); i > 0 {
		return uint8(i)
	}
	return 0
}

func (c *compact) open() bool { return c.status != 3 && c.status != 4 }

// Builder accumulates findings (from Falcon or from the incremental cache)
// before Build scores them.
type Builder struct {
	mu sync.Mutex
	s  *Snapshot
}

// NewBuilder starts an empty snapshot.
func NewBuilder(opts Options) (*Builder, error) {
	if opts.Engine == nil {
		return nil, errors.New("snapshot: Options.Engine is required")
	}
	if opts.Feeds == nil {
		return nil, errors.New("snapshot: Options.Feeds is required (KEV at least)")
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now().UTC()
	}
	if opts.AlertsLookback <= 0 {
		opts.AlertsLookback = 30 * 24 * time.Hour
	}
	return &Builder{s: &Snapshot{
		opts:    opts,
		byID:    map[string]int32{},
		hostIdx: map[string]int32{},
		cveIdx:  map[string]int32{},
		appIdx:  map[falcon.App]int32{},
		remIdx:  map[string]int32{},
	}}, nil
}

// Add adds or replaces a finding (same id: the later one wins). It is safe
// for concurrent use.
func (b *Builder) Add(f *falcon.Finding) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.s
	c := compact{
		id:      f.ID,
		host:    s.internHost(f),
		cve:     s.internCVE(f),
		app:     s.internApp(f.App),
		rem:     s.internRem(f),
		reason:  -1,
		status:  statusCode(f.Status),
		potent:  strings.EqualFold(f.Confidence, "potential"),
		created: f.Created.Unix(),
		updated: f.Updated.Unix(),
	}
	if f.Suppression.Suppressed {
		c.reason = s.internReason(f.Suppression.Reason)
	}
	if i, ok := s.byID[f.ID]; ok {
		s.findings[i] = c
		return
	}
	s.byID[f.ID] = int32(len(s.findings))
	s.findings = append(s.findings, c)
}

// Grow pre-sizes the builder for n more findings (a pull's announced
// total), sparing a million-finding pull the rehashing and copying of
// growing maps and slices.
func (b *Builder) Grow(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.s
	if n <= 0 || s == nil || len(s.findings)+n <= cap(s.findings) {
		return
	}
	s.findings = slices.Grow(s.findings, n)
	if len(s.byID) == 0 {
		s.byID = make(map[string]int32, n)
	}
}

// Remove marks a finding closed (an incremental pull saw it close).
func (b *Builder) Remove(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i, ok := b.s.byID[id]; ok {
		b.s.findings[i].status = 3
	}
}

// Len is the number of findings added (open or not).
func (b *Builder) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.s.findings)
}

func (s *Snapshot) internHost(f *falcon.Finding) int32 {
	if i, ok := s.hostIdx[f.AID]; ok {
		// Later records carry the newer host facet.
		if f.Host.Hostname != "" {
			s.hosts[i].facet = f.Host
		}
		return i
	}
	i := int32(len(s.hosts))
	s.hostIdx[f.AID] = i
	s.hosts = append(s.hosts, hostEntry{aid: f.AID, facet: f.Host})
	return i
}

func (s *Snapshot) internCVE(f *falcon.Finding) int32 {
	id := f.CVE
	if id == "" {
		id = f.CVEInfo.ID
	}
	if i, ok := s.cveIdx[id]; ok {
		if s.cves[i].facet.ID == "" && f.CVEInfo.ID != "" {
			s.cves[i].facet = f.CVEInfo
		}
		return i
	}
	i := int32(len(s.cves))
	s.cveIdx[id] = i
	facet := f.CVEInfo
	if facet.ID == "" {
		facet.ID = id
	}
	s.cves = append(s.cves, cveEntry{facet: facet, vendor: f.App.Vendor, product: f.App.Product})
	return i
}

func (s *Snapshot) internApp(a falcon.App) int32 {
	if i, ok := s.appIdx[a]; ok {
		return i
	}
	i := int32(len(s.apps))
	s.appIdx[a] = i
	s.apps = append(s.apps, a)
	return i
}

func (s *Snapshot) internRem(f *falcon.Finding) int32 {
	if len(f.RemediationIDs) == 0 && len(f.Remediations) == 0 {
		return -1
	}
	ids := f.RemediationIDs
	if len(ids) == 0 {
		for _, r := range f.Remediations {
			ids = append(ids, r.ID)
		}
	}
	key := ids[0] // the common case: one remediation, no allocation
	if len(ids) > 1 {
		key = strings.Join(ids, "\x00")
	}
	if i, ok := s.remIdx[key]; ok {
		if len(s.rems[i].entities) == 0 && len(f.Remediations) > 0 {
			s.rems[i].entities = f.Remediations
		}
		return i
	}
	i := int32(len(s.rems))
	s.remIdx[key] = i
	s.rems = append(s.rems, remSet{ids: slices.Clone(ids), entities: f.Remediations})
	return i
}

func (s *Snapshot) internReason(r string) int16 {
	if i := slices.Index(s.reasons, r); i >= 0 {
		return int16(i)
	}
	s.reasons = append(s.reasons, r)
	return int16(len(s.reasons) - 1)
}

// Build pulls alerts, findings, host details and intel from src, then
// scores and plans. filter is the Spotlight FQL filter for findings.
func Build(ctx context.Context, src Source, filter string, opts Options) (*Snapshot, error) {
	b, err := NewBuilder(opts)
	if err != nil {
		return nil, err
	}
	if err := b.Pull(ctx, src, filter); err != nil {
		return nil, err
	}
	return b.Finish(ctx, src)
}

// Pull streams findings matching filter from src into the builder.
func (b *Builder) Pull(ctx context.Context, src Source, filter string) error {
	q := falcon.FindingQuery{Filter: filter, OnPage: PageProgress(b.s.opts.Progress)}
	return src.StreamFindings(ctx, q, func(f *falcon.Finding) error {
		b.Add(f)
		return nil
	})
}

// PageProgress adapts a (fetched, total) progress callback to the findings
// stream's per-shard page reports; nil stays nil.
func PageProgress(fn func(fetched, total int64)) func(falcon.PageInfo) {
	if fn == nil {
		return nil
	}
	var mu sync.Mutex
	totals := map[int]int64{}
	return func(pi falcon.PageInfo) {
		mu.Lock()
		totals[pi.Shard] = pi.Total
		var sum int64
		for _, t := range totals {
			sum += t
		}
		mu.Unlock()
		fn(pi.Delivered, sum)
	}
}

// Finish enriches (alerts, host details, intel, KEV, EPSS, model), scores
// every open finding and groups them into work items. The builder must not
// be used afterwards.
func (b *Builder) Finish(ctx context.Context, src Source) (*Snapshot, error) {
	b.mu.Lock()
	s := b.s
	b.s = nil
	b.mu.Unlock()
	if s == nil {
		return nil, errors.New("snapshot: builder already finished")
	}
	for i := range s.hosts {
		h := &s.hosts[i]
		h.ref = plan.HostRefFrom(h.facet, h.aid)
	}
	if src != nil {
		if err := s.timed("falcon context (alerts, hosts, intel)", func() error { return s.fetchContext(ctx, src) }); err != nil {
			return nil, err
		}
	}
	_ = s.timed("enrich (KEV, EPSS, model)", func() error { s.enrichCVEs(); return nil })
	_ = s.timed("score", func() error { s.score(); return nil })
	_ = s.timed("plan", func() error { s.planItems(); return nil })
	_ = s.timed("summarize", func() error { s.summarize(); return nil })
	return s, nil
}

func (s *Snapshot) fetchContext(ctx context.Context, src Source) error {
	since := s.opts.Now.Add(-s.opts.AlertsLookback).UTC().Format(time.RFC3339)
	s.alertsByHost = map[string][]falcon.Alert{}
	err := src.StreamAlerts(ctx, alertFilter(since), func(a *falcon.Alert) error {
		if _, ok := s.hostIdx[a.AID]; ok && liveAlert(a) {
			s.alertsByHost[a.AID] = append(s.alertsByHost[a.AID], *a)
		}
		return nil
	})
	if err != nil {
		var apiErr *falcon.APIError
		if errors.As(err, &apiErr) && apiErr.Status == 403 {
			s.notes = append(s.notes, "alerts not checked: "+apiErr.Error())
		} else {
			return fmt.Errorf("alerts: %w", err)
		}
	}
	if !s.opts.SkipHosts && len(s.hosts) > 0 {
		aids := make([]string, len(s.hosts))
		for i, h := range s.hosts {
			aids[i] = h.aid
		}
		hosts, err := src.GetHosts(ctx, aids)
		if err != nil {
			var apiErr *falcon.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != 403 {
				return fmt.Errorf("host details: %w", err)
			}
			s.notes = append(s.notes, "host details not pulled: "+apiErr.Error())
		}
		for i := range hosts {
			if j, ok := s.hostIdx[hosts[i].AID]; ok {
				s.hosts[j].detail = &hosts[i]
			}
		}
	}
	if !s.opts.SkipIntel && len(s.cves) > 0 {
		ids := make([]string, 0, len(s.cves))
		for _, c := range s.cves {
			if strings.HasPrefix(strings.ToUpper(c.facet.ID), "CVE-") {
				ids = append(ids, c.facet.ID)
			}
		}
		iv, err := src.IntelForCVEs(ctx, ids)
		if err != nil {
			var apiErr *falcon.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != 403 {
				return fmt.Errorf("intel: %w", err)
			}
			s.notes = append(s.notes, "Falcon Intelligence not checked: "+apiErr.Error())
		}
		for cve, v := range iv {
			if i, ok := s.cveIdx[cve]; ok {
				s.cves[i].intel = intelFact(s.cves[i].intel, v)
			}
		}
	}
	return nil
}

// alertFilter selects alerts created since the lookback start that are not
// closed.
func alertFilter(since string) string {
	return "created_timestamp:>='" + since + "'+status:!'closed'"
}

func liveAlert(a *falcon.Alert) bool {
	switch strings.ToLower(a.Status) {
	case "closed", "false_positive", "ignored":
		return false
	}
	return true
}

func intelFact(prev *risk.IntelFact, v falcon.IntelVuln) *risk.IntelFact {
	f := &risk.IntelFact{}
	if prev != nil {
		*f = *prev
	}
	for _, a := range v.Actors {
		if a.Name != "" && !slices.Contains(f.Actors, a.Name) {
			f.Actors = append(f.Actors, a.Name)
		}
	}
	for _, r := range v.Reports {
		ref := r.SerialID
		if r.Title != "" {
			ref += ": " + r.Title
		}
		if ref != "" && !slices.Contains(f.Reports, ref) {
			f.Reports = append(f.Reports, ref)
		}
	}
	if len(f.Actors) == 0 && len(f.Reports) == 0 {
		return prev
	}
	return f
}

// enrichCVEs attaches KEV, EPSS, the model prior and Spotlight's own actor
// list to every distinct CVE once.
func (s *Snapshot) enrichCVEs() {
	feeds := s.opts.Feeds
	for i := range s.cves {
		c := &s.cves[i]
		id := c.facet.ID
		if feeds.KEV != nil {
			if e, ok := feeds.KEV.Lookup(id); ok {
				c.kev = &risk.KEVFact{
					CatalogVersion:    feeds.KEV.CatalogVersion,
					DateAdded:         e.Added(),
					DueDate:           e.Due(),
					Ransomware:        e.Ransomware(),
					VulnerabilityName: e.VulnerabilityName,
				}
			}
		}
		if row, ok := feeds.EPSS.Lookup(id); ok {
			c.epss = &risk.EPSSFact{Score: row.EPSS, Percentile: row.Percentile, ModelVersion: feeds.EPSS.ModelVersion, ScoreDate: feeds.EPSS.ScoreDay()}
		} else if s.opts.Model != nil {
			p := s.opts.Model.Predict(exploitmodel.Features{
				CVSSVector:  c.facet.Vector,
				BaseScore:   c.facet.BaseScore,
				CWEs:        c.facet.CWEs,
				Vendor:      c.vendor,
				Product:     c.product,
				Description: c.facet.Description,
				References:  c.facet.References,
			})
			c.prior = &risk.PriorFact{Model: "model " + s.opts.Model.Version(), Probability: p}
		}
		if len(c.facet.Actors) > 0 {
			if c.intel == nil {
				c.intel = &risk.IntelFact{}
			} else {
				cp := *c.intel
				c.intel = &cp
			}
			for _, a := range c.facet.Actors {
				if !slices.Contains(c.intel.Actors, a) {
					c.intel.Actors = append(c.intel.Actors, a)
				}
			}
		}
	}
}

// input fills f and in for finding i without allocating (except for tied
// alerts, which are rare).
func (s *Snapshot) input(i int, f *falcon.Finding, in *risk.Input) {
	c := &s.findings[i]
	h := &s.hosts[c.host]
	cv := &s.cves[c.cve]
	*f = falcon.Finding{
		ID:      c.id,
		AID:     h.aid,
		CVE:     cv.facet.ID,
		Status:  statuses[c.status],
		Created: time.Unix(c.created, 0).UTC(),
		Updated: time.Unix(c.updated, 0).UTC(),
		App:     s.apps[c.app],
		Host:    h.facet,
		CVEInfo: cv.facet,
	}
	if c.potent {
		f.Confidence = "potential"
	}
	if c.rem >= 0 {
		f.RemediationIDs = s.rems[c.rem].ids
		f.Remediations = s.rems[c.rem].entities
	}
	if c.reason >= 0 {
		f.Suppression = falcon.Suppression{Suppressed: true, Reason: s.reasons[c.reason]}
	}
	*in = risk.Input{
		Finding: f,
		KEV:     cv.kev,
		EPSS:    cv.epss,
		Prior:   cv.prior,
		Intel:   cv.intel,
		Host:    h.detail,
		Now:     s.opts.Now,
	}
	if alerts := s.alertsByHost[h.aid]; len(alerts) > 0 {
		in.Alerts = tiedAlerts(alerts, f)
	}
}

func (s *Snapshot) score() {
	n := len(s.findings)
	workers := runtime.GOMAXPROCS(0)
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for w := 0; w < workers && w*chunk < n; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var f falcon.Finding
			var in risk.Input
			for i := lo; i < hi; i++ {
				c := &s.findings[i]
				if !c.open() {
					continue
				}
				s.input(i, &f, &in)
				q := s.opts.Engine.Score(&in)
				c.score = q.Score
				c.tier = uint8(q.Tier.Rank())
				c.due = q.Due.Unix()
				c.overdue = q.Overdue
				c.alerts = len(in.Alerts) > 0
			}
		}()
	}
	wg.Wait()
}

var tiers = []risk.Tier{"", risk.P1, risk.P2, risk.P3, risk.P4}

func (s *Snapshot) planItems() {
	pb := plan.NewBuilder(s.opts.Plan)
	for i := range s.findings {
		c := &s.findings[i]
		if !c.open() {
			continue
		}
		pb.Add(s.member(i))
	}
	s.items = pb.Items()
	s.itemIdx = make(map[string]int, len(s.items))
	for i, it := range s.items {
		s.itemIdx[it.Key] = i
	}
}

func (s *Snapshot) member(i int) plan.Member {
	c := &s.findings[i]
	h := &s.hosts[c.host]
	m := plan.Member{
		FindingID: c.id,
		AID:       h.aid,
		Hostname:  h.facet.Hostname,
		CVE:       s.cves[c.cve].facet.ID,
		Score:     c.score,
		Tier:      tiers[c.tier],
		Due:       time.Unix(c.due, 0).UTC(),
		Overdue:   c.overdue,
		Host:      h.ref,
	}
	if c.rem >= 0 {
		rs := &s.rems[c.rem]
		m.RemediationID = rs.ids[0]
		for j := range rs.entities {
			if rs.entities[j].ID == m.RemediationID {
				m.Remediation = &rs.entities[j]
				break
			}
		}
		if m.Remediation == nil {
			m.Remediation = &falcon.Remediation{ID: m.RemediationID}
		}
	}
	return m
}

// Assess returns the full assessment (every factor and its evidence) of the
// finding with the given id.
func (s *Snapshot) Assess(findingID string) (risk.Assessment, error) {
	i, ok := s.byID[findingID]
	if !ok {
		return risk.Assessment{}, fmt.Errorf("unknown finding id %q", findingID)
	}
	if !s.findings[i].open() {
		return risk.Assessment{}, fmt.Errorf("finding %q is %s, not open", findingID, statuses[s.findings[i].status])
	}
	var f falcon.Finding
	var in risk.Input
	s.input(int(i), &f, &in)
	return s.opts.Engine.Assess(&in), nil
}

// Finding returns the finding with the given id as last pulled.
func (s *Snapshot) Finding(id string) (falcon.Finding, bool) {
	i, ok := s.byID[id]
	if !ok {
		return falcon.Finding{}, false
	}
	var f falcon.Finding
	var in risk.Input
	s.input(int(i), &f, &in)
	return f, true
}

// Items is the remediation queue, highest risk first. Items carry evidence
// only after Explain; use Top for explained items.
func (s *Snapshot) Items() []plan.WorkItem { return s.items }

// Item returns the work item with the given dedupe key, explained.
func (s *Snapshot) Item(key string) (plan.WorkItem, bool) {
	i, ok := s.itemIdx[key]
	if !ok {
		return plan.WorkItem{}, false
	}
	return s.explained(s.items[i]), true
}

// Top returns the first n items of the queue (n ≤ 0: all), each with the
// evidence of its top finding.
func (s *Snapshot) Top(n int) []plan.WorkItem {
	if n <= 0 || n > len(s.items) {
		n = len(s.items)
	}
	out := make([]plan.WorkItem, n)
	for i := range out {
		out[i] = s.explained(s.items[i])
	}
	return out
}

func (s *Snapshot) explained(it plan.WorkItem) plan.WorkItem {
	if a, err := s.Assess(it.TopFinding); err == nil {
		ev := slices.Clone(a.Evidence)
		sort.SliceStable(ev, func(i, j int) bool { return ev[i].Points > ev[j].Points })
		it.Evidence = ev
	}
	return it
}

// Now is the snapshot's assessment time.
func (s *Snapshot) Now() time.Time { return s.opts.Now }
