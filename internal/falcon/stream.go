package falcon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// shardSort orders the findings of a planned shard, so that after its first
// page everything older than the last finding's second is known to be
// delivered and the rest can be split off.
const shardSort = "created_timestamp|asc"

// shard is one disjoint part of a findings query.
type shard struct {
	cur     Cursor
	exclude map[string]struct{} // cur.Exclude as a set
	// lo and hi bound created_timestamp (zero: open on that side); spanHi
	// is the newest populated second known, for splitting an open top.
	// Only shards the stream planned have ranges; resumed cursors are never
	// split.
	lo, hi     time.Time
	spanHi     time.Time
	splittable bool
}

func newShard(cur Cursor) shard {
	sh := shard{cur: cur}
	if len(cur.Exclude) > 0 {
		sh.exclude = make(map[string]struct{}, len(cur.Exclude))
		for _, id := range cur.Exclude {
			sh.exclude[id] = struct{}{}
		}
	}
	return sh
}

// planShards decides the initial shards: the resume cursors, a single
// sequential query, or created_timestamp ranges from two probes (the oldest
// and newest finding). The ranges cover the filter exactly: the first is
// open below and the last open above, so findings that appear while
// streaming are not lost to a boundary. A shard that turns out to hold more
// than its first page splits the rest of its range while streaming (see
// runShard), so the initial cut only needs to give every worker a start.
func (c *Client) planShards(ctx context.Context, q FindingQuery) ([]shard, error) {
	switch {
	case len(q.Resume) > 0:
		out := make([]shard, len(q.Resume))
		for i, cur := range q.Resume {
			out[i] = newShard(cur)
		}
		return out, nil
	case q.After != "" || q.Sort != "" || q.Parallel == 1:
		return []shard{newShard(Cursor{Filter: q.Filter, After: q.After, Sort: q.Sort})}, nil
	}
	// Both probes at once: one round trip instead of two.
	type probe struct {
		fs   []Finding
		meta pageMeta
		err  error
	}
	probeCh := make(chan probe, 1)
	go func() {
		var buf bytes.Buffer
		fs, meta, _, err := c.fetchFindingsPageRetry(ctx, newFindingsDecoder(&c.stats.badTimestamps, nil), &buf,
			q.Filter, nil, "created_timestamp|desc", 1, "")
		probeCh <- probe{fs, meta, err}
	}()
	var buf bytes.Buffer
	first, meta, _, err := c.fetchFindingsPageRetry(ctx, newFindingsDecoder(&c.stats.badTimestamps, nil), &buf,
		q.Filter, nil, shardSort, 1, "")
	newest := <-probeCh
	if err == nil {
		err = newest.err
	}
	if err != nil {
		return nil, probeErr(err)
	}
	if meta.Total == 0 && len(first) == 0 {
		return nil, nil
	}
	whole := []shard{newShard(Cursor{Filter: q.Filter})}
	last := newest.fs
	if meta.Total <= int64(q.PageSize) || len(first) == 0 || len(last) == 0 ||
		first[0].Created.IsZero() || last[0].Created.IsZero() {
		return whole, nil
	}
	pages := (meta.Total + int64(q.PageSize) - 1) / int64(q.PageSize)
	bounds := splitRange(first[0].Created, last[0].Created, int(min(pages, int64(q.Parallel))))
	parts, ok, err := rangeShards(q.Filter, time.Time{}, time.Time{}, last[0].Created.UTC().Truncate(time.Second), bounds)
	if err != nil {
		return nil, err
	}
	if !ok {
		c.log.LogAttrs(ctx, slog.LevelDebug, "falcon: filter not parsed by internal/fql; streaming without shards")
		return whole, nil
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "falcon: findings sharded",
		slog.Int64("total", meta.Total), slog.Int("shards", len(parts)), slog.Int("parallel", q.Parallel))
	return parts, nil
}

// rangeShards cuts [lo, hi) (zero: open) at bounds into sorted, splittable
// shards. ok is false when the user's filter cannot be combined safely.
func rangeShards(user string, lo, hi, spanHi time.Time, bounds []time.Time) ([]shard, bool, error) {
	out := make([]shard, 0, len(bounds)+1)
	for i := 0; i <= len(bounds); i++ {
		part := shard{lo: lo, hi: hi, spanHi: spanHi, splittable: true}
		if i > 0 {
			part.lo = bounds[i-1]
		}
		if i < len(bounds) {
			part.hi = bounds[i]
			part.spanHi = bounds[i].Add(-time.Second)
		}
		f, ok, err := shardFilter(user, part.lo, part.hi)
		if err != nil || !ok {
			return nil, false, err
		}
		part.cur = Cursor{Filter: f, Sort: shardSort}
		out = append(out, part)
	}
	return out, true, nil
}

// probeErr explains a failure of the sharding probes; API errors (bad
// credentials, scope, filter) pass through unchanged.
func probeErr(err error) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) && !apiErr.Temporary() {
		return err
	}
	return fmt.Errorf("falcon: probing the created_timestamp range to shard the findings query failed (nothing was delivered; retry, or set FindingQuery.Parallel to 1 to stream without sharding): %w", err)
}

// pageResult is one fetched page on its way to the consumer.
type pageResult struct {
	shard       int
	after, next string
	findings    []Finding
	total       int64
	// split, when set, replaces the rest of the shard after this page; the
	// consumer registers it once the page is delivered and then closes ack.
	split []shard
	ack   chan struct{}
}

// shardFailure is a worker's terminal error.
type shardFailure struct {
	shard    int
	attempts int
	err      error
}

// shardSet is the growing list of a stream's shards, their delivery state
// and the queue of those not yet started.
type shardSet struct {
	mu      sync.Mutex
	shards  []shard
	after   []string // cursor of each shard's first undelivered page
	done    []bool
	queue   chan int
	pending int // queued or in progress; the queue closes at zero
	closed  bool
	splits  int
}

func newShardSet(initial []shard) *shardSet {
	s := &shardSet{queue: make(chan int, maxShards+len(initial))}
	s.add(initial)
	return s
}

// add registers shards and queues them (unless the queue has closed, when
// they are only recorded, for PageError.Pending).
func (s *shardSet) add(parts []shard) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range parts {
		s.shards = append(s.shards, p)
		s.after = append(s.after, p.cur.After)
		s.done = append(s.done, false)
		if !s.closed {
			s.pending++
			s.queue <- len(s.shards) - 1
		}
	}
}

func (s *shardSet) get(i int) shard {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shards[i]
}

func (s *shardSet) room() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maxShards - len(s.shards)
}

// finish marks one shard's work over; the last closes the queue.
func (s *shardSet) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending--; s.pending == 0 && !s.closed {
		s.closed = true
		close(s.queue)
	}
}

// delivered records that shard i's page was delivered and where it goes on.
func (s *shardSet) delivered(i int, next string) (n int, filter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.after[i] = next
	s.done[i] = next == ""
	return len(s.shards), s.shards[i].cur.Filter
}

// unfinished lists the cursors of shards not delivered to the end, the
// failing one first.
func (s *shardSet) unfinished(failed int) []Cursor {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := func(i int) Cursor {
		c := s.shards[i].cur
		c.After = s.after[i]
		c.Exclude = slices.Clone(c.Exclude)
		return c
	}
	out := []Cursor{cur(failed)}
	for i := range s.shards {
		if !s.done[i] && i != failed {
			out = append(out, cur(i))
		}
	}
	return out
}

func (c *Client) runShards(ctx context.Context, q FindingQuery, initial []shard, fn func(*Finding) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	set := newShardSet(initial)
	facets := newFacetCache()
	// A short queue: the consumer is rarely the bottleneck, and every queued
	// page is memory.
	results := make(chan pageResult, max(1, q.Parallel/2))
	var (
		failOnce sync.Once
		failure  *shardFailure
		wg       sync.WaitGroup
	)
	fail := func(f *shardFailure) {
		failOnce.Do(func() { failure = f })
		cancel()
	}
	for range q.Parallel {
		wg.Go(func() {
			dec := newFindingsDecoder(&c.stats.badTimestamps, facets)
			buf := c.getPageBuf()
			defer c.putPageBuf(buf)
			for i := range set.queue {
				c.runShard(ctx, q, set, i, dec, buf, results, fail)
				set.finish()
			}
		})
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	var delivered int64
	var stopErr error
	for r := range results {
		if stopErr == nil && ctx.Err() == nil {
			stopErr = c.deliver(q, set, &r, &delivered, fn)
			if stopErr != nil {
				cancel()
			}
		}
		if r.ack != nil {
			close(r.ack)
		}
	}
	if set.splits > 0 {
		c.log.LogAttrs(ctx, slog.LevelDebug, "falcon: dense shards split while streaming",
			slog.Int("splits", set.splits), slog.Int("shards", len(set.shards)))
	}
	switch {
	case stopErr != nil:
		return stopErr
	case failure != nil:
		var apiErr *APIError
		if errors.As(failure.err, &apiErr) && !apiErr.Temporary() {
			return failure.err // permanent: resuming would fail the same way
		}
		pending := set.unfinished(failure.shard)
		return &PageError{Shard: failure.shard, Filter: pending[0].Filter, After: pending[0].After,
			Fetched: int(delivered), Attempts: failure.attempts, Pending: pending, Err: failure.err}
	}
	return context.Cause(ctx)
}

// deliver hands one page to fn and records it; a split rides along.
func (c *Client) deliver(q FindingQuery, set *shardSet, r *pageResult, delivered *int64, fn func(*Finding) error) error {
	sh := set.get(r.shard)
	n := 0
	for j := range r.findings {
		f := &r.findings[j]
		if _, skip := sh.exclude[f.ID]; skip {
			continue
		}
		if err := fn(f); err != nil {
			return err
		}
		n++
	}
	*delivered += int64(n)
	if len(r.split) > 0 {
		set.add(r.split)
		set.mu.Lock()
		set.splits++
		set.mu.Unlock()
	}
	shards, filter := set.delivered(r.shard, r.next)
	if q.OnPage != nil {
		q.OnPage(PageInfo{Shard: r.shard, Shards: shards, Filter: filter, After: r.after,
			Next: r.next, Count: n, Total: r.total, Delivered: *delivered})
	}
	return nil
}

// runShard fetches one shard page by page into results. When a planned
// shard's first page shows that more than another page remains, the rest of
// its range is split into parts for all workers: the shard is sorted by
// created_timestamp, so everything before the second T of the page's last
// finding has been fetched; the parts cover [T, hi), the first excluding
// the findings of second T that this page already holds. The shard then
// ends with this page.
func (c *Client) runShard(ctx context.Context, q FindingQuery, set *shardSet, i int, dec *findingsDecoder,
	buf *bytes.Buffer, results chan<- pageResult, fail func(*shardFailure)) {
	sh := set.get(i)
	after := sh.cur.After
	for ctx.Err() == nil {
		fs, meta, attempts, err := c.fetchFindingsPageRetry(ctx, dec, buf, sh.cur.Filter, q.Facets, sh.cur.Sort, q.PageSize, after)
		if err != nil {
			if ctx.Err() == nil {
				fail(&shardFailure{shard: i, attempts: attempts, err: err})
			}
			return
		}
		next := meta.After
		if len(fs) == 0 {
			next = ""
		}
		// Totals are reported so that the latest Total of every shard adds
		// up to the stream's total: without what an exclusion drops, and a
		// split shard as just the page it kept.
		total := max(meta.Total-int64(len(sh.cur.Exclude)), 0)
		r := pageResult{shard: i, after: after, next: next, findings: fs, total: total}
		if after == "" && next != "" && sh.splittable {
			if parts := c.splitRest(q, set, sh, fs, meta.Total); parts != nil {
				r.next, r.split, r.ack = "", parts, make(chan struct{})
				kept := 0
				for k := range fs {
					if _, skip := sh.exclude[fs[k].ID]; !skip {
						kept++
					}
				}
				r.total = int64(kept)
			}
		}
		select {
		case results <- r:
		case <-ctx.Done():
			return
		}
		if r.ack != nil {
			// The parts must be registered before this shard finishes, or
			// the queue could close under them.
			<-r.ack
			return
		}
		if next == "" {
			return
		}
		after = next
	}
}

// splitRest returns the parts that replace the rest of sh after its sorted
// first page fs, or nil when splitting would not help.
func (c *Client) splitRest(q FindingQuery, set *shardSet, sh shard, fs []Finding, total int64) []shard {
	rest := total - int64(len(fs))
	if rest <= int64(q.PageSize) || len(fs) == 0 {
		return nil // one more request finishes it
	}
	if len(set.queue) >= q.Parallel {
		// Enough work is queued for every worker: splitting would only add
		// requests (and server-side work per distinct filter).
		return nil
	}
	lastAt := fs[len(fs)-1].Created
	if lastAt.IsZero() {
		return nil
	}
	at := lastAt.UTC().Truncate(time.Second)
	if !sh.lo.IsZero() && !at.After(sh.lo) {
		return nil // the page did not get past the shard's first second
	}
	// Enough parts to feed every worker; a part that is still dense splits
	// again after its own first page if workers run short.
	per := int64(q.PageSize) * 3 / 4
	n := int(min(max((rest+per-1)/per, 2), int64(2*q.Parallel), int64(set.room())))
	spanHi := sh.spanHi
	if at.After(spanHi) {
		spanHi = at
	}
	bounds := splitRange(at, spanHi, n)
	if n < 2 || len(bounds) == 0 {
		return nil
	}
	parts, ok, err := rangeShards(q.Filter, at, sh.hi, spanHi, bounds)
	if err != nil || !ok {
		return nil
	}
	var seen []string
	for _, f := range fs {
		if !f.Created.Before(at) {
			seen = append(seen, f.ID)
		}
	}
	parts[0] = newShard(Cursor{Filter: parts[0].cur.Filter, Sort: shardSort, Exclude: seen})
	parts[0].lo, parts[0].hi, parts[0].spanHi, parts[0].splittable = at, bounds[0], bounds[0].Add(-time.Second), true
	return parts
}
