package tools

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/plan"
	"github.com/vulnpilot/vulnpilot/internal/risk"
	"github.com/vulnpilot/vulnpilot/internal/snapshot"
)

// BuildFunc builds a fresh snapshot of the tenant.
type BuildFunc func(ctx context.Context) (*snapshot.Snapshot, error)

// Snapshots holds the current assessed snapshot for the risk tools and
// rebuilds it on demand or on an interval. Readers never wait for a
// rebuild: the new snapshot replaces the old one in one atomic swap, and a
// failed rebuild keeps serving the previous one (results then say so).
type Snapshots struct {
	build BuildFunc
	log   *slog.Logger

	cur     atomic.Pointer[State]
	gen     atomic.Uint64
	refresh sync.Mutex // one rebuild at a time
	started atomic.Pointer[time.Time]

	mu      sync.Mutex
	lastErr error
	errAt   time.Time
	history []HistoryPoint
}

// maxHistory bounds the kept snapshot summaries (4 days at 15 minutes).
const maxHistory = 384

// HistoryPoint is the headline numbers of one past snapshot.
type HistoryPoint struct {
	AssessedAt time.Time      `json:"assessed_at"`
	Findings   int            `json:"findings"`
	Items      int            `json:"work_items"`
	ByTier     map[string]int `json:"by_tier"`
	Overdue    int            `json:"overdue"`
	KEV        int            `json:"kev"`
	Alerted    int            `json:"alerted"`
}

// NewSnapshots returns an empty holder; call Refresh (or Run) to fill it.
func NewSnapshots(build BuildFunc, log *slog.Logger) *Snapshots {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Snapshots{build: build, log: log}
}

// Refresh builds a snapshot and swaps it in. Concurrent calls queue.
func (s *Snapshots) Refresh(ctx context.Context) error {
	if s.build == nil {
		return errors.New("snapshots: no build function")
	}
	s.refresh.Lock()
	defer s.refresh.Unlock()
	t0 := time.Now()
	s.started.Store(&t0)
	s.log.Info("building the risk snapshot")
	snap, err := s.build(ctx)
	if err != nil {
		s.mu.Lock()
		s.lastErr, s.errAt = err, time.Now().UTC()
		s.mu.Unlock()
		s.log.Error("snapshot build failed; still serving the previous one", "err", err)
		return err
	}
	s.Set(snap)
	sum := snap.Summary()
	s.log.Info("risk snapshot ready", "findings", sum.Findings, "work_items", sum.Items, "hosts", sum.Hosts,
		"assessed_at", sum.AssessedAt.Format(time.RFC3339), "took", time.Since(t0).Round(time.Millisecond))
	return nil
}

// Set installs a snapshot (Refresh does this; tests call it directly).
func (s *Snapshots) Set(snap *snapshot.Snapshot) {
	st := &State{Snap: snap, Gen: s.gen.Add(1), Loaded: time.Now().UTC(), cache: map[string]*selEntry{}}
	// Warm the whole-tenant view before swapping in, so the most common
	// question never pays for it on the request path.
	_, _ = st.breakdown("")
	s.cur.Store(st)
	sum := snap.Summary()
	hp := HistoryPoint{AssessedAt: sum.AssessedAt, Findings: sum.Findings, Items: sum.Items, ByTier: map[string]int{},
		Overdue: sum.Overdue, KEV: sum.KEVFindings, Alerted: sum.ThreatActive}
	for t, c := range sum.ByTier {
		hp.ByTier[t] = c.Findings
	}
	s.mu.Lock()
	s.lastErr = nil
	s.history = append(s.history, hp)
	if len(s.history) > maxHistory {
		s.history = append(s.history[:0], s.history[len(s.history)-maxHistory:]...)
	}
	s.mu.Unlock()
}

// Run refreshes every interval until ctx ends; interval ≤ 0 returns at
// once. The first build is the caller's (Refresh), so start-up can report
// it.
func (s *Snapshots) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = s.Refresh(ctx)
		}
	}
}

// Current returns the snapshot being served, or an "unavailable" error
// while the first build is still running (or failed).
func (s *Snapshots) Current() (*State, error) {
	if st := s.cur.Load(); st != nil {
		return st, nil
	}
	s.mu.Lock()
	err := s.lastErr
	s.mu.Unlock()
	if err != nil {
		return nil, unavailable("the risk snapshot could not be built (%s); the server retries on its refresh interval", clean(err.Error(), 300))
	}
	if p := s.started.Load(); p != nil {
		return nil, unavailable("the risk snapshot is still being built (started %s ago); try again shortly", time.Since(*p).Round(time.Second))
	}
	return nil, unavailable("the risk snapshot has not been built yet")
}

// Status is the holder's state, for health checks and results.
type Status struct {
	Ready      bool      `json:"ready"`
	AssessedAt time.Time `json:"assessed_at,omitzero"`
	Loaded     time.Time `json:"loaded_at,omitzero"`
	Findings   int       `json:"findings"`
	LastError  string    `json:"last_refresh_error,omitempty"`
	ErrorAt    time.Time `json:"last_refresh_error_at,omitzero"`
}

// Status reports readiness and the last refresh error.
func (s *Snapshots) Status() Status {
	var st Status
	if cur := s.cur.Load(); cur != nil {
		st.Ready, st.AssessedAt, st.Loaded, st.Findings = true, cur.Snap.Now(), cur.Loaded, cur.Snap.Summary().Findings
	}
	s.mu.Lock()
	if s.lastErr != nil {
		st.LastError, st.ErrorAt = clean(s.lastErr.Error(), 300), s.errAt
	}
	s.mu.Unlock()
	return st
}

// History returns the headline numbers of up to n past snapshots, oldest
// first, the current one last.
func (s *Snapshots) History(n int) []HistoryPoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.history
	if len(h) > n {
		h = h[len(h)-n:]
	}
	return append([]HistoryPoint(nil), h...)
}

// State is one served snapshot with its per-filter cache.
type State struct {
	Snap   *snapshot.Snapshot
	Gen    uint64    // increases with every swap; binds cursors
	Loaded time.Time // when it was swapped in

	mu    sync.Mutex
	cache map[string]*selEntry

	// evidence caches the sorted evidence of work items' top findings:
	// constant for a snapshot, and re-deriving it is most of the cost of a
	// queue page.
	evMu     sync.RWMutex
	evidence map[string][]risk.Evidence
}

// maxCachedEvidence bounds the evidence cache (entries, one per finding).
const maxCachedEvidence = 100_000

// explain attaches the evidence of the item's top finding, highest points
// first (as snapshot.Selection.Top does), from the cache when it can.
func (st *State) explain(it plan.WorkItem) plan.WorkItem {
	st.evMu.RLock()
	ev, ok := st.evidence[it.TopFinding]
	st.evMu.RUnlock()
	if !ok {
		a, err := st.Snap.Assess(it.TopFinding)
		if err != nil {
			return it
		}
		ev = slices.Clone(a.Evidence)
		sort.SliceStable(ev, func(i, j int) bool { return ev[i].Points > ev[j].Points })
		st.evMu.Lock()
		if st.evidence == nil || len(st.evidence) >= maxCachedEvidence {
			st.evidence = map[string][]risk.Evidence{}
		}
		st.evidence[it.TopFinding] = ev
		st.evMu.Unlock()
	}
	it.Evidence = ev
	return it
}

// page returns items [off, off+n) of the selection's queue, explained.
func (st *State) page(sel *snapshot.Selection, off, n int) []plan.WorkItem {
	page := pageOf(sel.Items(), off, n)
	out := make([]plan.WorkItem, 0, len(page))
	for _, it := range page {
		out = append(out, st.explain(it))
	}
	return out
}

// maxCachedSelections bounds the per-snapshot filter cache.
const maxCachedSelections = 256

type selEntry struct {
	once  sync.Once
	sel   *snapshot.Selection
	err   error
	ready atomic.Bool // sel and err are set

	bdOnce sync.Once
	bd     snapshot.Breakdown

	memoMu sync.Mutex
	memo   map[string]*memoVal
}

type memoVal struct {
	once sync.Once
	v    any
	err  error
}

// Select returns the selection for filter, computing it once per snapshot
// however many callers ask at the same time.
func (st *State) Select(filter string) (*snapshot.Selection, error) {
	e := st.entry(filter)
	return e.sel, e.err
}

func (st *State) entry(filter string) *selEntry {
	st.mu.Lock()
	e, ok := st.cache[filter]
	if !ok {
		if len(st.cache) >= maxCachedSelections {
			clear(st.cache)
		}
		e = &selEntry{}
		st.cache[filter] = e
	}
	st.mu.Unlock()
	e.once.Do(func() {
		e.sel, e.err = st.Snap.Select(filter)
		e.ready.Store(true)
	})
	return e
}

// breakdown is the cached aggregate of a selection (all business units).
func (st *State) breakdown(filter string) (snapshot.Breakdown, error) {
	e := st.entry(filter)
	if e.err != nil {
		return snapshot.Breakdown{}, e.err
	}
	e.bdOnce.Do(func() { e.bd = e.sel.Breakdown(-1) })
	return e.bd, nil
}

// derived computes fn over the selection of filter once per (filter, key)
// for this snapshot: threat lists and exposure breakdowns are linear in the
// tenant, and models repeat their questions.
func derived[T any](st *State, filter, key string, fn func(*snapshot.Selection) (T, error)) (T, error) {
	var zero T
	e := st.entry(filter)
	if e.err != nil {
		return zero, e.err
	}
	e.memoMu.Lock()
	if e.memo == nil {
		e.memo = map[string]*memoVal{}
	}
	m, ok := e.memo[key]
	if !ok {
		m = &memoVal{}
		e.memo[key] = m
	}
	e.memoMu.Unlock()
	m.once.Do(func() { m.v, m.err = fn(e.sel) })
	if m.err != nil {
		return zero, m.err
	}
	return m.v.(T), nil
}

// findItem looks a work item key up in the snapshot's queue, then in the
// queues of filters already asked for (a filtered queue can group work
// differently, e.g. per host instead of fleet-wide).
func (st *State) findItem(key string) (plan.WorkItem, bool) {
	if it, ok := st.Snap.Item(key); ok {
		return it, true
	}
	st.mu.Lock()
	entries := make([]*selEntry, 0, len(st.cache))
	for _, e := range st.cache {
		entries = append(entries, e)
	}
	st.mu.Unlock()
	for _, e := range entries {
		if !e.ready.Load() || e.sel == nil {
			continue
		}
		if it, ok := e.sel.Item(key); ok {
			return it, true
		}
	}
	return plan.WorkItem{}, false
}
