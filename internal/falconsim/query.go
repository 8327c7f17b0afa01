package falconsim

import (
	"container/list"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
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
}

func newQueryCache() *queryCache {
	return &queryCache{filters: newLRU[*fql.Filter](256), totals: newLRU[int](1024), orders: newLRU[[]int32](16)}
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
	size := col.size(s)
	if filter == "" {
		n = size
	} else {
		cur := col.rec(s)
		for i := 0; i < size; i++ {
			cur.seek(int32(i))
			if f.Match(cur) {
				n++
			}
		}
	}
	s.cache.mu.Lock()
	s.cache.totals.put(key, n)
	s.cache.mu.Unlock()
	return n
}

// ordered returns the positions of col's records matching f, sorted by sp
// (ties by position), cached per (filter, sort).
func (s *snapshot) ordered(col *collection, filter string, f *fql.Filter, sp sortSpec) []int32 {
	key := col.name + "\x00" + filter + "\x00" + sp.field + "\x00" + strconv.FormatBool(sp.desc)
	s.cache.mu.Lock()
	out, ok := s.cache.orders.get(key)
	s.cache.mu.Unlock()
	if ok {
		return out
	}
	size := col.size(s)
	cur := col.rec(s)
	out = make([]int32, 0, min(size, 1<<16))
	for i := 0; i < size; i++ {
		cur.seek(int32(i))
		if f.Match(cur) {
			out = append(out, int32(i))
		}
	}
	if sp.field != "" {
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
		out = sorted
	}
	s.cache.mu.Lock()
	s.cache.orders.put(key, out)
	s.cache.mu.Unlock()
	return out
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
	total := s.total(col, filter, f)
	res := pageResult{total: total, items: buf[:0]}
	if tok.sorted {
		order := s.ordered(col, filter, f, sp)
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

// offsetPage runs an offset-paginated query (Hosts, Alerts, Intel).
func (s *snapshot) offsetPage(col *collection, filter string, f *fql.Filter, sp sortSpec, offset, limit int) pageResult {
	order := s.ordered(col, filter, f, sp)
	res := pageResult{total: len(order)}
	if offset < len(order) {
		res.items = order[offset:min(offset+limit, len(order))]
	}
	return res
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
