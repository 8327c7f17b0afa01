package falconsim

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/fql"
)

// indexTestSnapshots returns a snapshot of a generated tenant and a twin
// sharing its records with an empty cache, for comparing the indexed
// queries with full scans. A third of the findings have their times cut to
// the hour, so that many share a second (ties are where orders differ).
func indexTestSnapshots(t *testing.T) (indexed, plain *snapshot) {
	t.Helper()
	db := mustDB(t)
	ten, err := Generate(GenerateOptions{Hosts: 160, Seed: 7, FindingsPerHost: 25}, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := ten.Resolve(db); err != nil {
		t.Fatal(err)
	}
	for i := range ten.Findings {
		if i%3 == 0 {
			f := &ten.Findings[i]
			f.Created = f.Created.Truncate(time.Hour)
			f.Updated = f.Updated.Truncate(time.Hour)
		}
	}
	s, err := buildSnapshot(ten)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.findings) < 2000 {
		t.Fatalf("generated tenant has %d findings; the test needs at least 2000", len(s.findings))
	}
	p := snapshotFields(s)
	p.cache = newQueryCache()
	return s, &p
}

// plainFindings is the findings collection without indexes: every query
// scans the whole tenant, as before the indexes existed. It keeps the name,
// so after tokens (which fingerprint it) are comparable.
func plainFindings() *collection {
	c := *findingsCollection
	c.indexes = nil
	return &c
}

type indexCase struct {
	filter string
	sort   sortSpec
	limit  int
}

// randomIndexCases builds filters that bound created_timestamp and/or
// updated_timestamp in every way FQL allows (and some that only look like
// they do: inside ORs), at times taken from the records so that bounds fall
// exactly on populated seconds.
func randomIndexCases(s *snapshot, rng *rand.Rand, n int) []indexCase {
	at := func(field string) string {
		f := &s.findings[rng.IntN(len(s.findings))]
		v := f.created
		if field == "updated_timestamp" {
			v = f.updated
		}
		v += int64([]int{0, 0, 0, -1, 1, 3600}[rng.IntN(6)])
		return time.Unix(v, 0).UTC().Format(time.RFC3339)
	}
	cmpOps := []string{">", ">=", "<", "<="}
	bound := func(field string) string {
		switch rng.IntN(6) {
		case 0:
			return fmt.Sprintf("%s:'%s'", field, at(field)) // equality
		case 1:
			return fmt.Sprintf("%s:['%s','%s']", field, at(field), at(field))
		case 2: // a shard: [lo, hi)
			a, b := at(field), at(field)
			if a > b {
				a, b = b, a
			}
			return fmt.Sprintf("%s:>='%s'+%s:<'%s'", field, a, field, b)
		}
		return fmt.Sprintf("%s:%s'%s'", field, cmpOps[rng.IntN(4)], at(field))
	}
	users := []string{"", "status:'open'", "status:['open','reopen']", "cve.severity:'CRITICAL'",
		"(status:'closed',cve.is_cisa_kev:true)", "suppression_info.is_suppressed:false+cve.base_score:>=7"}
	sorts := []sortSpec{{}, {}, {field: "created_timestamp"}, {field: "created_timestamp", desc: true},
		{field: "updated_timestamp"}, {field: "updated_timestamp", desc: true}, {field: "cve.base_score", desc: true},
		{field: "cve.id"}, {field: "closed_timestamp"}}
	out := make([]indexCase, 0, n)
	for range n {
		var parts []string
		if u := users[rng.IntN(len(users))]; u != "" {
			parts = append(parts, "("+u+")")
		}
		switch rng.IntN(8) {
		case 0:
			parts = append(parts, bound("created_timestamp"), bound("updated_timestamp"))
		case 1:
			parts = append(parts, bound("updated_timestamp"))
		case 2: // not conjunctive: no index may be used
			parts = append(parts, "("+bound("created_timestamp")+",status:'reopen')")
		case 3:
			parts = append(parts, "created_timestamp:>='1970-01-01T00:00:00Z'") // the client's match-all
		case 4: // nothing matches
			parts = append(parts, "created_timestamp:>'2099-01-01'", bound("updated_timestamp"))
		default:
			parts = append(parts, bound("created_timestamp"))
		}
		filter := parts[0]
		for _, p := range parts[1:] {
			filter += "+" + p
		}
		out = append(out, indexCase{filter: filter, sort: sorts[rng.IntN(len(sorts))], limit: 1 + rng.IntN(400)})
	}
	return out
}

// TestIndexedQueriesMatchFullScans runs many random range filters and sorts
// through the indexed collection and through full scans and requires the
// same totals, orders, pages and after tokens, byte for byte.
func TestIndexedQueriesMatchFullScans(t *testing.T) {
	s, p := indexTestSnapshots(t)
	plain := plainFindings()
	rng := rand.New(rand.NewPCG(11, 12))
	var narrowed, sortFree, withMatches, bitmap, direct int
	for k, tc := range randomIndexCases(s, rng, 600) {
		f, err := s.compile(findingsCollection, tc.filter)
		if err != nil {
			t.Fatalf("case %d: compile %q: %v", k, tc.filter, err)
		}
		name := fmt.Sprintf("case %d: filter %q sort %+v limit %d", k, tc.filter, tc.sort, tc.limit)
		if pl := s.plan(findingsCollection, f, tc.sort.field, true); pl.field != "" {
			if len(pl.recs) < len(s.findings) {
				narrowed++
			}
			if pl.field == tc.sort.field {
				sortFree++
			}
			if useBitmap(len(pl.recs), len(s.findings)) {
				bitmap++
			} else {
				direct++
			}
		}
		// Half the cases ask for the total first, half for a page first:
		// either order must leave the same caches behind.
		if k%2 == 0 {
			if got, want := s.total(findingsCollection, tc.filter, f), p.total(plain, tc.filter, f); got != want {
				t.Fatalf("%s: total %d, full scan %d", name, got, want)
			}
		}
		got := pageAll(t, s, findingsCollection, tc, f)
		want := pageAll(t, p, plain, tc, f)
		if !slices.Equal(got.pages, want.pages) {
			t.Fatalf("%s: pages differ:\n indexed   %v\n full scan %v", name, got.pages, want.pages)
		}
		if !slices.Equal(got.items, want.items) {
			t.Fatalf("%s: items differ (%d vs %d)", name, len(got.items), len(want.items))
		}
		order := s.ordered(findingsCollection, tc.filter, f, tc.sort)
		if wantOrder := p.ordered(plain, tc.filter, f, tc.sort); !slices.Equal(order, wantOrder) {
			t.Fatalf("%s: ordered differs (%d vs %d)", name, len(order), len(wantOrder))
		}
		if len(order) > 0 {
			withMatches++
		}
		// A well-formed token the server never issued (a resumed or edited
		// cursor) must be answered the same way too.
		fp := fingerprint(findingsCollection.name, tc.filter, tc.sort.field, strconv.FormatBool(tc.sort.desc))
		forged := afterToken{sorted: tc.sort.field != "", pos: rng.IntN(len(s.findings) + 1), done: rng.IntN(50), fp: fp}.encode()
		a, errA := s.afterPage(findingsCollection, tc.filter, f, tc.sort, forged, tc.limit, nil)
		b, errB := p.afterPage(plain, tc.filter, f, tc.sort, forged, tc.limit, nil)
		if fmt.Sprint(errA) != fmt.Sprint(errB) || !slices.Equal(a.items, b.items) || a.after != b.after || a.total != b.total {
			t.Fatalf("%s: forged token %q: indexed %v %v %q %d, full scan %v %v %q %d", name, forged,
				errA, a.items, a.after, a.total, errB, b.items, b.after, b.total)
		}
	}
	t.Logf("%d findings; %d narrowed, %d without a sort, %d through a bitmap, %d directly, %d with matches",
		len(s.findings), narrowed, sortFree, bitmap, direct, withMatches)
	// The comparison only means something if the indexes were used, cut
	// the scans short, spared sorts, and took both ways of evaluating a
	// run, on cases that match something.
	if narrowed < 300 || sortFree < 80 || bitmap < 100 || direct < 100 || withMatches < 300 {
		t.Fatalf("too few cases exercised the indexes: %d narrowed, %d without a sort, %d through a bitmap, %d directly, %d with matches",
			narrowed, sortFree, bitmap, direct, withMatches)
	}
}

type pagedResult struct {
	pages []string // per page: count, total, after token
	items []int32
}

func pageAll(t *testing.T, s *snapshot, col *collection, tc indexCase, f *fql.Filter) pagedResult {
	t.Helper()
	var out pagedResult
	after := ""
	for n := 0; ; n++ {
		res, err := s.afterPage(col, tc.filter, f, tc.sort, after, tc.limit, nil)
		if err != nil {
			t.Fatalf("filter %q sort %+v: page %d: %v", tc.filter, tc.sort, n, err)
		}
		out.pages = append(out.pages, fmt.Sprintf("%d/%d/%s", len(res.items), res.total, res.after))
		out.items = append(out.items, res.items...)
		if res.after == "" {
			return out
		}
		if n > len(s.findings) {
			t.Fatalf("filter %q: paging does not end", tc.filter)
		}
		after = res.after
	}
}

// TestShardedPullThroughIndex replays what internal/falcon's sharded stream
// sends (two limit-1 probes, then created_timestamp shards sorted
// ascending) and checks that the shards partition the filter's matches,
// each in created order.
func TestShardedPullThroughIndex(t *testing.T) {
	s, p := indexTestSnapshots(t)
	plain := plainFindings()
	const user = "status:['open','reopen']"
	got := shardedPull(t, s, findingsCollection, user, 7, 250)
	want := shardedPull(t, p, plain, user, 7, 250)
	if !slices.Equal(got, want) {
		t.Fatalf("sharded pull: indexed %d findings, full scan %d, or a different order", len(got), len(want))
	}
	f, _ := s.compile(findingsCollection, user)
	all := p.ordered(plain, user, f, sortSpec{})
	if len(got) != len(all) || len(all) < 1000 {
		t.Fatalf("sharded pull delivered %d findings; the filter matches %d (need at least 1000)", len(got), len(all))
	}
	sorted := slices.Clone(got)
	slices.Sort(sorted)
	if !slices.Equal(sorted, all) {
		t.Fatal("the shards do not partition the filter's matches")
	}
}

// shardedPull returns the positions a sharded stream receives, shard by
// shard.
func shardedPull(t *testing.T, s *snapshot, col *collection, user string, shards, limit int) []int32 {
	t.Helper()
	probe := func(desc bool) int64 {
		tc := indexCase{filter: user, sort: sortSpec{field: "created_timestamp", desc: desc}, limit: 1}
		f, err := s.compile(col, user)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.afterPage(col, tc.filter, f, tc.sort, "", 1, nil)
		if err != nil || len(res.items) != 1 {
			t.Fatalf("probe: %v, %d items", err, len(res.items))
		}
		return s.findings[res.items[0]].created
	}
	lo, hi := probe(false), probe(true)+1
	var out []int32
	for k := range shards {
		a := lo + (hi-lo)*int64(k)/int64(shards)
		b := lo + (hi-lo)*int64(k+1)/int64(shards)
		filter := "(" + user + ")"
		if k > 0 {
			filter += "+created_timestamp:>='" + time.Unix(a, 0).UTC().Format(time.RFC3339) + "'"
		}
		if k < shards-1 {
			filter += "+created_timestamp:<'" + time.Unix(b, 0).UTC().Format(time.RFC3339) + "'"
		}
		f, err := s.compile(col, filter)
		if err != nil {
			t.Fatal(err)
		}
		items := pageAll(t, s, col, indexCase{filter: filter, sort: sortSpec{field: "created_timestamp"}, limit: limit}, f).items
		for j := 1; j < len(items); j++ {
			if x, y := s.findings[items[j-1]].created, s.findings[items[j]].created; x > y || (x == y && items[j-1] > items[j]) {
				t.Fatalf("shard %d out of created order at %d", k, j)
			}
		}
		out = append(out, items...)
	}
	return out
}

func TestSortedOrder(t *testing.T) {
	tests := []struct {
		name string
		vals []int64
		want []int32
	}{
		{"empty", nil, []int32{}},
		{"ties by position", []int64{5, 3, 5, 3, 1}, []int32{4, 1, 3, 0, 2}},
		{"negative", []int64{-1, -1 << 40, 0}, []int32{1, 0, 2}},
		{"span too wide to pack", []int64{1 << 40, 0, 1 << 40, -(1 << 40)}, []int32{3, 1, 0, 2}},
		// Beyond 2^53 distinct int64 values convert to one float64: the
		// order must treat them as ties, like the sort comparator does.
		{"beyond float64 precision", []int64{1<<60 + 1, 1 << 60, 5}, []int32{2, 0, 1}},
		{"extremes", []int64{math.MaxInt64, math.MinInt64, 0}, []int32{1, 2, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sortedOrder(len(tt.vals), func(i int32) int64 { return tt.vals[i] })
			if !slices.Equal(got, tt.want) {
				t.Errorf("sortedOrder(%v) = %v, want %v", tt.vals, got, tt.want)
			}
		})
	}
}

func TestSpan(t *testing.T) {
	keys := []float64{1, 2, 2, 2, 3, 5} // perm is the identity
	perm := []int32{0, 1, 2, 3, 4, 5}
	key := func(i int32) float64 { return keys[i] }
	inc := func(v float64) fql.Bound { return fql.Bound{Value: v, Inclusive: true, Set: true} }
	exc := func(v float64) fql.Bound { return fql.Bound{Value: v, Set: true} }
	tests := []struct {
		name   string
		lo, hi fql.Bound
		a, b   int
	}{
		{"unbounded", fql.Bound{}, fql.Bound{}, 0, 6},
		{">=2", inc(2), fql.Bound{}, 1, 6},
		{">2", exc(2), fql.Bound{}, 4, 6},
		{"<2", fql.Bound{}, exc(2), 0, 1},
		{"<=2", fql.Bound{}, inc(2), 0, 4},
		{"=2", inc(2), inc(2), 1, 4},
		{"between keys", inc(3.5), exc(4.5), 5, 5},
		{"below all", fql.Bound{}, exc(1), 0, 0},
		{"above all", exc(5), fql.Bound{}, 6, 6},
		{"empty interval", inc(3), inc(2), 4, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := span(perm, key, tt.lo, tt.hi)
			if a != tt.a || b != tt.b {
				t.Errorf("span = [%d,%d), want [%d,%d)", a, b, tt.a, tt.b)
			}
		})
	}
}

// pullReplay replays the queries of a findings stream against a snapshot:
// only the simulator's query work (filtering, ordering, paging), not JSON
// rendering or TLS, which do not depend on how the stream is cut.
type pullReplay struct {
	s        *snapshot
	col      *collection
	user     string
	pageSize int
	parallel int
	buf      []int32
	requests int
	served   int
}

func (r *pullReplay) page(filter string, sp sortSpec, after string, limit int) pageResult {
	f, err := r.s.compile(r.col, filter)
	if err != nil {
		panic(err)
	}
	res, err := r.s.afterPage(r.col, filter, f, sp, after, limit, r.buf)
	if err != nil {
		panic(err)
	}
	r.requests++
	return res
}

// sequential is a single unsorted stream (FindingQuery.Parallel 1).
func (r *pullReplay) sequential() {
	after := ""
	for {
		res := r.page(r.user, sortSpec{}, after, r.pageSize)
		r.served += len(res.items)
		if res.after == "" {
			return
		}
		after = res.after
	}
}

type replayShard struct {
	lo, hi     int64 // created_timestamp [lo, hi); 0: open
	spanHi     int64
	splittable bool
}

func rfc(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }

func (r *pullReplay) shardFilter(sh replayShard) string {
	f := "(" + r.user + ")"
	if sh.lo != 0 {
		f += "+created_timestamp:>='" + rfc(sh.lo) + "'"
	}
	if sh.hi != 0 {
		f += "+created_timestamp:<'" + rfc(sh.hi) + "'"
	}
	return f
}

// bounds cuts [lo, hi] into n ranges at whole seconds, as
// internal/falcon's splitRange does.
func bounds(lo, hi int64, n int) []int64 {
	span := hi + 1 - lo
	if n < 2 || span < 2 {
		return nil
	}
	n = int(min(int64(n), span))
	out := make([]int64, 0, n-1)
	for i := 1; i < n; i++ {
		out = append(out, lo+span*int64(i)/int64(n))
	}
	return out
}

func (r *pullReplay) cut(lo, hi, spanHi int64, at []int64) []replayShard {
	out := make([]replayShard, 0, len(at)+1)
	for i := 0; i <= len(at); i++ {
		sh := replayShard{lo: lo, hi: hi, spanHi: spanHi, splittable: true}
		if i > 0 {
			sh.lo = at[i-1]
		}
		if i < len(at) {
			sh.hi, sh.spanHi = at[i], at[i]-1
		}
		out = append(out, sh)
	}
	return out
}

// sharded follows internal/falcon's planShards and runShard/splitRest: two
// limit-1 probes, Parallel created_timestamp ranges sorted ascending, and a
// dense shard's rest split after its first page while few shards wait.
func (r *pullReplay) sharded() {
	asc := r.page(r.user, sortSpec{field: "created_timestamp"}, "", 1)
	desc := r.page(r.user, sortSpec{field: "created_timestamp", desc: true}, "", 1)
	if len(asc.items) == 0 {
		return
	}
	first, last := r.s.findings[asc.items[0]].created, r.s.findings[desc.items[0]].created
	pages := (asc.total + r.pageSize - 1) / r.pageSize
	queue := r.cut(0, 0, last, bounds(first, last, min(pages, r.parallel)))
	sortAsc := sortSpec{field: "created_timestamp"}
	for len(queue) > 0 {
		sh := queue[0]
		queue = queue[1:]
		filter := r.shardFilter(sh)
		after := ""
		for {
			res := r.page(filter, sortAsc, after, r.pageSize)
			r.served += len(res.items)
			if res.after == "" {
				break
			}
			rest := res.total - len(res.items)
			if after == "" && sh.splittable && rest > r.pageSize && len(queue) < r.parallel {
				at := r.s.findings[res.items[len(res.items)-1]].created
				if sh.lo == 0 || at > sh.lo {
					per := r.pageSize * 3 / 4
					n := min(max((rest+per-1)/per, 2), 2*r.parallel)
					spanHi := max(sh.spanHi, at)
					if b := bounds(at, spanHi, n); len(b) > 0 {
						// The first part would exclude the page's findings
						// of second at on the client; count them once.
						for _, i := range res.items {
							if r.s.findings[i].created >= at {
								r.served--
							}
						}
						queue = append(queue, r.cut(at, sh.hi, spanHi, b)...)
						break
					}
				}
			}
			after = res.after
		}
	}
}

// BenchmarkShardedPull measures the simulator's query work for pulling
// every open finding of a ~200k-finding tenant: one sequential stream,
// and the sharded stream with and without the created_timestamp index.
// Each iteration starts with empty query caches (the index, built once per
// snapshot, is kept; BenchmarkFindingIndexBuild prices it).
func BenchmarkShardedPull(b *testing.B) {
	_, ten, _ := benchServer(b, 4000)
	s, err := buildSnapshot(ten)
	if err != nil {
		b.Fatal(err)
	}
	s.findingsByCreated()
	s.findingsByUpdated()
	plain := plainFindings()
	for _, mode := range []struct {
		name    string
		col     *collection
		sharded bool
	}{
		{"sequential", findingsCollection, false},
		{"sharded/indexed", findingsCollection, true},
		{"sharded/full-scan", plain, true},
	} {
		b.Run(mode.name, func(b *testing.B) {
			var r *pullReplay
			for b.Loop() {
				s.cache = newQueryCache()
				r = &pullReplay{s: s, col: mode.col, user: "status:['open','reopen']", pageSize: 5000, parallel: 4,
					buf: make([]int32, 0, 5000)}
				if mode.sharded {
					r.sharded()
				} else {
					r.sequential()
				}
			}
			b.ReportMetric(float64(r.requests), "requests/op")
			b.ReportMetric(float64(r.served), "findings/op")
		})
	}
}

// BenchmarkFindingIndexBuild prices the once-per-snapshot sort of the
// findings by created_timestamp.
func BenchmarkFindingIndexBuild(b *testing.B) {
	_, ten, _ := benchServer(b, 4000)
	s, err := buildSnapshot(ten)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(s.findings)), "findings")
	for b.Loop() {
		sortedOrder(len(s.findings), func(i int32) int64 { return s.findings[i].created })
	}
}

// TestPageBytesHint checks that the buffer estimate for a combined page
// covers the rendered page without overshooting it much, for every facet
// combination, and that appendFindings renders what a plain loop over
// appendFinding does.
func TestPageBytesHint(t *testing.T) {
	s, _ := indexTestSnapshots(t)
	items := make([]int32, 0, 5000)
	for i := 0; i < len(s.findings) && len(items) < 5000; i += 1 + i%3 {
		items = append(items, int32(i))
	}
	for mask := range 16 {
		fc := facets{cve: mask&1 != 0, hostInfo: mask&2 != 0, remediation: mask&4 != 0, evalLogic: mask&8 != 0}
		b := []byte{'['}
		for k, i := range items {
			if k > 0 {
				b = append(b, ',')
			}
			b = s.appendFinding(b, i, fc)
		}
		b = append(b, ']')
		if got := s.appendFindings(nil, items, fc); !bytes.Equal(got, b) {
			t.Fatalf("facets %+v: appendFindings rendered %d bytes, the plain loop %d (or different bytes)", fc, len(got), len(b))
		}
		hint := s.pageBytesHint(items, fc)
		t.Logf("facets %+v: %d bytes, hint %d (%.2f×)", fc, len(b), hint, float64(hint)/float64(len(b)))
		if hint < len(b) || hint > len(b)*2 {
			t.Errorf("facets %+v: hint %d for a %d-byte page; want it between 1× and 2×", fc, hint, len(b))
		}
	}
}

// BenchmarkRenderPage renders 5000-finding pages of a 1M-finding tenant
// with the default facets, in tenant order and in created_timestamp order
// (what sharded streams ask for), with appendFindings and with a plain
// loop over appendFinding: sorted pages hop across memory.
func BenchmarkRenderPage(b *testing.B) {
	_, ten, _ := benchServer(b, 40000) // 25 findings per host
	s, err := buildSnapshot(ten)
	if err != nil {
		b.Fatal(err)
	}
	byCreated := s.findingsByCreated()
	byPosition := make([]int32, len(byCreated))
	for i := range byPosition {
		byPosition[i] = int32(i)
	}
	fc := facets{cve: true, hostInfo: true, remediation: true}
	buf := make([]byte, 0, 32<<20)
	for _, m := range []struct {
		name  string
		order []int32
		plain bool
	}{
		{"tenant-order", byPosition, false},
		{"created-order", byCreated, false},
		{"created-order/plain-loop", byCreated, true},
	} {
		b.Run(m.name, func(b *testing.B) {
			k := 0
			for b.Loop() {
				if k+5000 > len(m.order) {
					k = 0
				}
				items := m.order[k : k+5000]
				k += 5000
				if m.plain {
					buf = append(buf[:0], '[')
					for j, i := range items {
						if j > 0 {
							buf = append(buf, ',')
						}
						buf = s.appendFinding(buf, i, fc)
					}
					buf = append(buf, ']')
				} else {
					buf = s.appendFindings(buf[:0], items, fc)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/5000, "ns/finding")
		})
	}
}

// TestOrderComputesOnce: concurrent requests for one match list (a
// stream's two probes) share one computation, and a computation that
// panics leaves its waiters to compute for themselves rather than see an
// empty list.
func TestOrderComputesOnce(t *testing.T) {
	c := newQueryCache()
	release := make(chan struct{})
	var calls atomic.Int32
	compute := func() []int32 {
		calls.Add(1)
		<-release
		return []int32{3, 1, 2}
	}
	var wg sync.WaitGroup
	results := make([][]int32, 8)
	for k := range results {
		wg.Go(func() { results[k] = c.order("k", compute) })
	}
	// Let the goroutines reach the cache before the computation ends.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		c.mu.Lock()
		_, started := c.inflight["k"]
		c.mu.Unlock()
		if started {
			break
		}
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	for k, r := range results {
		if !slices.Equal(r, []int32{3, 1, 2}) {
			t.Fatalf("result %d = %v", k, r)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("computed %d times, want 1", n)
	}
	if got := c.order("k", func() []int32 { t.Fatal("cached list computed again"); return nil }); !slices.Equal(got, []int32{3, 1, 2}) {
		t.Errorf("cached result = %v", got)
	}

	started, fail := make(chan struct{}), make(chan struct{})
	go func() {
		defer func() { _ = recover() }()
		c.order("p", func() []int32 {
			close(started)
			<-fail
			panic("boom")
		})
	}()
	<-started
	got := make(chan []int32)
	go func() { got <- c.order("p", func() []int32 { return []int32{7} }) }()
	time.Sleep(20 * time.Millisecond)
	close(fail)
	if r := <-got; !slices.Equal(r, []int32{7}) {
		t.Errorf("after a panicked computation the waiter got %v, want its own [7]", r)
	}
}
