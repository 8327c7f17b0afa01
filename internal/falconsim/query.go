package falconsim

import (
	"cmp"
	"container/list"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/vulnpilot/vulnpilot/internal/fql"
)

// lru is a small least-recently-used map. Not safe for concurrent use; the
// queryCache lock guards it.
type lru[V any] struct {
	max   int
	ll    *list.List
	items map[string]*list.Element
}

type lruEntry[V any] struct {
	key string
	val V
}

func newLRU[V any](max int) *lru[V] {
	return &lru[V]{max: max, ll: list.New(), items: make(map[string]*list.Element)}
}

func (c *lru[V]) get(k string) (V, bool) {
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*lruEntry[V]).val, true
	}
	var zero V
	return zero, false
}

func (c *lru[V]) put(k string, v V) {
	if e, ok := c.items[k]; ok {
		e.Value.(*lruEntry[V]).val = v
		c.ll.MoveToFront(e)
		return
	}
	c.items[k] = c.ll.PushFront(&lruEntry[V]{key: k, val: v})
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.items, old.Value.(*lruEntry[V]).key)
	}
}

// queryCache holds per-snapshot query results: compiled filters, totals per
// filter and sorted match lists per (filter, sort). A snapshot swap drops it.
type queryCache struct {
	mu      sync.Mutex
	filters *lru[*fql.Filter]
	totals  *lru[int]
	orders  *lru[[]int32]
	// inflight holds the match lists being computed, so that concurrent
	// requests for the same list (a stream's two probes, retries) wait for
	// one computation instead of each scanning the tenant.
	inflight map[string]*flight
}

type flight struct {
	done chan struct{}
	val  []int32
	ok   bool // false: the computation panicked
}

func newQueryCache() *queryCache {
	return &queryCache{filters: newLRU[*fql.Filter](256), totals: newLRU[int](1024), orders: newLRU[[]int32](16),
		inflight: make(map[string]*flight)}
}

// order returns the cached match list for key, computing it once.
func (c *queryCache) order(key string, compute func() []int32) []int32 {
	c.mu.Lock()
	if v, ok := c.orders.get(key); ok {
		c.mu.Unlock()
		return v
	}
	if fl, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		<-fl.done
		if fl.ok {
			return fl.val
		}
		return compute() // the first computation panicked: try again, uncached
	}
	fl := &flight{done: make(chan struct{})}
	c.inflight[key] = fl
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if fl.ok {
			c.orders.put(key, fl.val)
		}
		delete(c.inflight, key)
		c.mu.Unlock()
		close(fl.done)
	}()
	fl.val = compute()
	fl.ok = true
	return fl.val
}

func (c *queryCache) putTotal(key string, n int) {
	c.mu.Lock()
	c.totals.put(key, n)
	c.mu.Unlock()
}

// collection is one filterable, sortable set of records (findings, hosts,
// alerts...) of a snapshot.
type collection struct {
	name   string
	schema *fql.Schema
	sorts  map[string]sortKeyFunc
	// size is the number of records; at(i) is the i'th record's position in
	// the snapshot's own slice (identity for findings; managed hosts map).
	size func(s *snapshot) int
	rec  func(s *snapshot) recordCursor
	// indexes order the records by range fields; a filter that bounds one
	// of them is evaluated only on that field's range.
	indexes []rangeIndex
}

// rangeIndex is the records of a collection sorted by one numeric field
// (ties by position), for a field whose FQL value and sort key are both
// float64(val): a filter bounding the field can only match one contiguous
// run of the order, and a query sorted by the field reads the run in order
// instead of sorting its matches. The field must be single-valued and
// always present, so that the run holds every record the filter can match.
type rangeIndex struct {
	field string // FQL field and sort field
	perm  func(s *snapshot) []int32
}

// sortedOrder returns the positions 0..n-1 sorted by float64(val(i)), ties
// by position: the order the sort comparator in ordered produces.
func sortedOrder(n int, val func(i int32) int64) []int32 {
	perm := make([]int32, n)
	if n == 0 {
		return perm
	}
	lo, hi := val(0), val(0)
	for i := 1; i < n; i++ {
		v := val(int32(i))
		lo, hi = min(lo, v), max(hi, v)
	}
	// Within ±2^53 float64 conversion preserves order and equality, so the
	// int64 values can be sorted directly; packed with the position into one
	// uint64 they sort without a comparison callback.
	const exact = 1 << 53
	if lo >= -exact && hi <= exact && uint64(hi-lo) < 1<<32 {
		packed := make([]uint64, n)
		for i := range packed {
			packed[i] = uint64(val(int32(i))-lo)<<32 | uint64(i)
		}
		slices.Sort(packed)
		for k, p := range packed {
			perm[k] = int32(uint32(p))
		}
		return perm
	}
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(a, b int32) int {
		if c := cmp.Compare(float64(val(a)), float64(val(b))); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return perm
}

// lazyOrder is a sortedOrder built on first use.
type lazyOrder struct {
	once sync.Once
	perm []int32
}

func (o *lazyOrder) get(n int, val func(i int32) int64) []int32 {
	o.once.Do(func() { o.perm = sortedOrder(n, val) })
	return o.perm
}

// span returns the run perm[a:b] of records whose key lies within lo..hi;
// perm is sorted by key.
func span(perm []int32, key func(i int32) float64, lo, hi fql.Bound) (a, b int) {
	b = len(perm)
	if lo.Set {
		a = sort.Search(len(perm), func(k int) bool {
			v := key(perm[k])
			return v > lo.Value || (lo.Inclusive && v == lo.Value)
		})
	}
	if hi.Set {
		b = sort.Search(len(perm), func(k int) bool {
			v := key(perm[k])
			return v > hi.Value || (!hi.Inclusive && v == hi.Value)
		})
	}
	return a, max(a, b)
}

// scanPlan is the records a query examines: nil recs means every record by
// position; otherwise recs is a run of the index on field, in its order.
type scanPlan struct {
	recs  []int32
	field string
}

// sortCostFactor is the cost of sorting a match list, per element,
// relative to evaluating the filter on one record; it decides between
// reading a field's whole order (no sort) and a narrower run of another
// index that then needs a sort.
const sortCostFactor = 2

// plan picks the cheapest way to find f's matches. sorted says the caller
// needs them in sortField's order ("" = by position, which a run yields
// through matchBitmap without sorting); otherwise any order will do. The
// plan holds every record f can match, so evaluating f on its records finds
// exactly the matches a full scan finds.
func (s *snapshot) plan(col *collection, f *fql.Filter, sortField string, sorted bool) scanPlan {
	n := col.size(s)
	best, cost := scanPlan{}, n
	if sorted && sortField != "" {
		cost += sortCostFactor * n
	}
	for _, ix := range col.indexes {
		lo, hi, bounded := f.Range(ix.field)
		if !bounded && !(sorted && sortField == ix.field) {
			continue
		}
		recs := ix.perm(s)
		if bounded {
			key := col.sorts[ix.field].key
			a, b := span(recs, func(i int32) float64 { return key(s, i).n }, lo, hi)
			recs = recs[a:b]
		}
		c := len(recs) + n/64
		if sorted && sortField != "" && sortField != ix.field {
			c += sortCostFactor * len(recs)
		}
		if c < cost {
			best, cost = scanPlan{recs: recs, field: ix.field}, c
		}
	}
	return best
}

// matches returns f's matches among the planned records: in the plan's
// order, or by position when byPosition is set.
func (s *snapshot) matches(col *collection, f *fql.Filter, p scanPlan, byPosition bool) []int32 {
	cur := col.rec(s)
	m := f.NewMatcher()
	size := col.size(s)
	if p.field == "" {
		out := make([]int32, 0, min(size, 1<<16))
		for i := 0; i < size; i++ {
			cur.seek(int32(i))
			if m.Match(cur) {
				out = append(out, int32(i))
			}
		}
		return out
	}
	if !useBitmap(len(p.recs), size) {
		out := make([]int32, 0, min(len(p.recs), 1<<16))
		for _, i := range p.recs {
			cur.seek(i)
			if m.Match(cur) {
				out = append(out, i)
			}
		}
		if byPosition {
			slices.Sort(out)
		}
		return out
	}
	set, n := s.matchBitmap(col, f, p.recs)
	out := make([]int32, 0, n)
	if byPosition {
		for w, word := range set {
			for word != 0 {
				out = append(out, int32(w<<6|bits.TrailingZeros64(word)))
				word &= word - 1
			}
		}
		return out
	}
	for _, i := range p.recs {
		if set[i>>6]&(1<<(i&63)) != 0 {
			out = append(out, i)
		}
	}
	return out
}

// countMatches counts f's matches among the planned records.
func (s *snapshot) countMatches(col *collection, f *fql.Filter, p scanPlan) int {
	cur := col.rec(s)
	m := f.NewMatcher()
	n := 0
	switch {
	case p.field == "":
		size := col.size(s)
		for i := 0; i < size; i++ {
			cur.seek(int32(i))
			if m.Match(cur) {
				n++
			}
		}
	case useBitmap(len(p.recs), col.size(s)):
		_, n = s.matchBitmap(col, f, p.recs)
	default:
		for _, i := range p.recs {
			cur.seek(i)
			if m.Match(cur) {
				n++
			}
		}
	}
	return n
}

// useBitmap says whether to evaluate recs (an index run, scattered over
// the records) in position order through a bitmap of the collection's
// size: records are then read in memory order instead of hopping, several
// times faster on a large tenant, for the price of clearing and scanning
// size/64 words.
func useBitmap(recs, size int) bool { return recs >= 1024 && recs >= size/128 }

// matchBitmap evaluates f on recs in position order and returns the
// matches as a bitmap over positions, with their count.
func (s *snapshot) matchBitmap(col *collection, f *fql.Filter, recs []int32) ([]uint64, int) {
	set := make([]uint64, (col.size(s)+63)/64)
	for _, i := range recs {
		set[i>>6] |= 1 << (i & 63)
	}
	cur := col.rec(s)
	m := f.NewMatcher()
	n := 0
	for w, word := range set {
		for word != 0 {
			t := bits.TrailingZeros64(word)
			word &= word - 1
			cur.seek(int32(w<<6 | t))
			if m.Match(cur) {
				n++
			} else {
				set[w] &^= 1 << t
			}
		}
	}
	return set, n
}

// recordCursor is an fql.Record that can be pointed at record i without
// allocating.
type recordCursor interface {
	fql.Record
	seek(i int32)
}

type sortKey struct {
	n float64
	s string
}

type sortKeyFunc struct {
	str bool
	key func(s *snapshot, i int32) sortKey
}

// sortSpec is a parsed sort parameter: "field|asc", "field.desc" or "field".
type sortSpec struct {
	field string
	desc  bool
}

func parseSort(raw string, col *collection, defaultDesc bool) (sortSpec, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return sortSpec{}, nil
	}
	field, dir := raw, ""
	if i := strings.LastIndexByte(raw, '|'); i >= 0 {
		field, dir = raw[:i], raw[i+1:]
	} else if strings.HasSuffix(raw, ".asc") || strings.HasSuffix(raw, ".desc") {
		i := strings.LastIndexByte(raw, '.')
		field, dir = raw[:i], raw[i+1:]
	}
	if _, ok := col.sorts[field]; !ok {
		names := make([]string, 0, len(col.sorts))
		for n := range col.sorts {
			names = append(names, n)
		}
		slices.Sort(names)
		return sortSpec{}, fmt.Errorf("invalid sort %s: unknown sort field; allowed fields: %s (append |asc or |desc)", quoteForMsg(raw), strings.Join(names, ", "))
	}
	switch strings.ToLower(dir) {
	case "":
		return sortSpec{field: field, desc: defaultDesc}, nil
	case "asc":
		return sortSpec{field: field}, nil
	case "desc":
		return sortSpec{field: field, desc: true}, nil
	}
	return sortSpec{}, fmt.Errorf("invalid sort %s: direction must be asc or desc", quoteForMsg(raw))
}

// compile returns the compiled filter for col, cached per snapshot.
func (s *snapshot) compile(col *collection, filter string) (*fql.Filter, error) {
	key := col.name + "\x00" + filter
	s.cache.mu.Lock()
	f, ok := s.cache.filters.get(key)
	s.cache.mu.Unlock()
	if ok {
		return f, nil
	}
	f, err := fql.Compile(filter, col.schema, s.now)
	if err != nil {
		return nil, err
	}
	s.cache.mu.Lock()
	s.cache.filters.put(key, f)
	s.cache.mu.Unlock()
	return f, nil
}

// total counts col's records matching f (cached per filter).
func (s *snapshot) total(col *collection, filter string, f *fql.Filter) int {
	key := col.name + "\x00" + filter
	s.cache.mu.Lock()
	n, ok := s.cache.totals.get(key)
	s.cache.mu.Unlock()
	if ok {
		return n
	}
	if filter == "" {
		n = col.size(s)
	} else {
		n = s.countMatches(col, f, s.plan(col, f, "", false))
	}
	s.cache.putTotal(key, n)
	return n
}

// ordered returns the positions of col's records matching f, sorted by sp
// (ties by position), cached per (filter, sort). Computing it also caches
// the filter's total.
func (s *snapshot) ordered(col *collection, filter string, f *fql.Filter, sp sortSpec) []int32 {
	key := col.name + "\x00" + filter + "\x00" + sp.field + "\x00" + strconv.FormatBool(sp.desc)
	return s.cache.order(key, func() []int32 {
		out := s.computeOrdered(col, filter, f, sp)
		s.cache.putTotal(col.name+"\x00"+filter, len(out))
		return out
	})
}

func (s *snapshot) computeOrdered(col *collection, filter string, f *fql.Filter, sp sortSpec) []int32 {
	p := s.plan(col, f, sp.field, true)
	if p.field != "" && p.field == sp.field {
		if !sp.desc {
			return s.matches(col, f, p, false)
		}
		// Descending is the ascending list with its runs of equal keys
		// reversed as blocks (ties stay by ascending position); the
		// ascending list is often wanted too (a stream's two probes).
		asc := s.ordered(col, filter, f, sortSpec{field: sp.field})
		key := col.sorts[sp.field].key
		out := make([]int32, 0, len(asc))
		for end := len(asc); end > 0; {
			start := end - 1
			v := key(s, asc[start]).n
			for start > 0 && key(s, asc[start-1]).n == v {
				start--
			}
			out = append(out, asc[start:end]...)
			end = start
		}
		return out
	}
	out := s.matches(col, f, p, sp.field == "")
	if sp.field == "" {
		return out
	}
	sk := col.sorts[sp.field]
	keys := make([]sortKey, len(out))
	for k, i := range out {
		keys[k] = sk.key(s, i)
	}
	idx := make([]int32, len(out))
	for k := range idx {
		idx[k] = int32(k)
	}
	cmp := func(a, b int32) int {
		ka, kb := &keys[a], &keys[b]
		var c int
		if sk.str {
			c = strings.Compare(ka.s, kb.s)
		} else if ka.n < kb.n {
			c = -1
		} else if ka.n > kb.n {
			c = 1
		}
		if sp.desc {
			c = -c
		}
		if c == 0 {
			c = int(out[a]) - int(out[b])
		}
		return c
	}
	slices.SortFunc(idx, cmp)
	sorted := make([]int32, len(out))
	for k, j := range idx {
		sorted[k] = out[j]
	}
	return sorted
}

// afterToken is the decoded Spotlight pagination token. For unsorted
// queries pos is the raw record position the next scan starts at and done
// how many records were already returned; for sorted queries pos indexes
// the cached sorted match list.
type afterToken struct {
	sorted bool
	pos    int
	done   int
	fp     uint32 // fingerprint of (collection, filter, sort)
}

var errBadAfter = errors.New("invalid after token: pass the meta.pagination.after value of the previous page, with the same filter and sort")

func fingerprint(parts ...string) uint32 {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum32()
}

func (t afterToken) encode() string {
	kind := "u"
	if t.sorted {
		kind = "s"
	}
	raw := fmt.Sprintf("v1.%s.%d.%d.%08x", kind, t.pos, t.done, t.fp)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeAfter(tok string) (afterToken, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return afterToken{}, errBadAfter
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 5 || parts[0] != "v1" || (parts[1] != "u" && parts[1] != "s") {
		return afterToken{}, errBadAfter
	}
	pos, err1 := strconv.Atoi(parts[2])
	done, err2 := strconv.Atoi(parts[3])
	fp, err3 := strconv.ParseUint(parts[4], 16, 32)
	if err1 != nil || err2 != nil || err3 != nil || pos < 0 || done < 0 {
		return afterToken{}, errBadAfter
	}
	return afterToken{sorted: parts[1] == "s", pos: pos, done: done, fp: uint32(fp)}, nil
}

// pageResult is one page of positions plus the pagination to report.
type pageResult struct {
	items []int32
	total int
	after string // "" on the last page
}

// afterPage runs a cursor-paginated query: each page continues where the
// previous token left off instead of filtering from the start.
func (s *snapshot) afterPage(col *collection, filter string, f *fql.Filter, sp sortSpec, after string, limit int, buf []int32) (pageResult, error) {
	fp := fingerprint(col.name, filter, sp.field, strconv.FormatBool(sp.desc))
	tok := afterToken{sorted: sp.field != "", fp: fp}
	if after != "" {
		t, err := decodeAfter(after)
		if err != nil || t.fp != fp || t.sorted != tok.sorted {
			return pageResult{}, errBadAfter
		}
		tok = t
	}
	if tok.sorted {
		order := s.ordered(col, filter, f, sp)
		res := pageResult{total: s.total(col, filter, f), items: buf[:0]}
		if tok.pos > len(order) {
			return pageResult{}, errBadAfter
		}
		end := min(tok.pos+limit, len(order))
		res.items = append(res.items, order[tok.pos:end]...)
		if end < len(order) {
			res.after = afterToken{sorted: true, pos: end, fp: fp}.encode()
		}
		return res, nil
	}
	size := col.size(s)
	if tok.pos > size {
		return pageResult{}, errBadAfter
	}
	if filter != "" && s.plan(col, f, "", true).field != "" {
		// An index narrows the scan: page through the filter's match list
		// (in position order) exactly as the scan below would.
		order := s.ordered(col, filter, f, sortSpec{})
		total := s.total(col, filter, f)
		k, _ := slices.BinarySearch(order, int32(tok.pos))
		end := min(k+limit, len(order))
		res := pageResult{total: total, items: append(buf[:0], order[k:end]...)}
		next := size // where the scan would stop: after the limit'th match, or the end
		if end-k == limit {
			next = int(order[end-1]) + 1
		}
		done := tok.done + len(res.items)
		if done < total && next < size {
			res.after = afterToken{pos: next, done: done, fp: fp}.encode()
		}
		return res, nil
	}
	total := s.total(col, filter, f)
	res := pageResult{total: total, items: buf[:0]}
	cur := col.rec(s)
	i := tok.pos
	for ; i < size && len(res.items) < limit; i++ {
		cur.seek(int32(i))
		if filter == "" || f.Match(cur) {
			res.items = append(res.items, int32(i))
		}
	}
	done := tok.done + len(res.items)
	if done < total && i < size {
		res.after = afterToken{pos: i, done: done, fp: fp}.encode()
	}
	return res, nil
}

// filterError renders an FQL compile error for a 400 reply; it names the
// allowed fields for unknown ones.
func filterError(err error) string {
	var fe *fql.FieldError
	var se *fql.SyntaxError
	switch {
	case errors.As(err, &fe):
		return "Invalid filter: " + fe.Error()
	case errors.As(err, &se):
		return "Invalid filter: " + se.Error()
	}
	return "Invalid filter: " + err.Error()
}

// parseLimit reads the limit query parameter.
func parseLimit(raw string, def, max int) (int, error) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("invalid limit %s: must be an integer between 1 and %d", quoteForMsg(raw), max)
	}
	return n, nil
}

func parseOffset(raw string) (int, error) {
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid offset %s: must be a non-negative integer", quoteForMsg(raw))
	}
	return n, nil
}

// queryIDs reads a multi-valued ids parameter (repeated, or comma-separated).
func queryIDs(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// appendMsaPaging renders msa.Paging {limit, offset, total}.
func appendMsaPaging(b []byte, limit, offset, total int) []byte {
	o := beginObj(b)
	o.int("limit", int64(limit))
	o.int("offset", int64(offset))
	o.int("total", int64(total))
	return o.end()
}
