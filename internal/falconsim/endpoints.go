package falconsim

import (
	"net/http"
	"strings"
)

// The query (id list) and entity (records by id) endpoints of the Hosts,
// Alerts, Intel, RTR and Spotlight APIs share their request parsing and
// response shapes; the helpers below are that shared part, so each API
// states only what is its own (limits, defaults, messages, rendering).

// offsetParams reads the limit and offset of an offset-paginated query;
// ok false means a 400 was written.
func (c *call) offsetParams(maxLimit int) (limit, offset int, ok bool) {
	q := c.r.URL.Query()
	limit, err := parseLimit(q.Get("limit"), 100, maxLimit)
	if err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return 0, 0, false
	}
	if offset, err = parseOffset(q.Get("offset")); err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return 0, 0, false
	}
	return limit, offset, true
}

// offsetQuery runs an offset-paginated query over col (Hosts, Alerts,
// Intel): limit and offset from the request, sortRaw and filter as the
// endpoint read them (after its own defaults). It returns every matching
// record in order; ok false means a 400 was written.
func (c *call) offsetQuery(col *collection, maxLimit int, sortRaw, filter string) (order []int32, limit, offset int, ok bool) {
	if limit, offset, ok = c.offsetParams(maxLimit); !ok {
		return nil, 0, 0, false
	}
	sp, err := parseSort(sortRaw, col, false)
	if err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return nil, 0, 0, false
	}
	f, err := c.snap.compile(col, filter)
	if err != nil {
		c.fail(http.StatusBadRequest, filterError(err))
		return nil, 0, 0, false
	}
	return c.snap.ordered(col, filter, f, sp), limit, offset, true
}

// textMatches applies the q parameter (free-text search, case-insensitive):
// the records of order that match accepts for the lower-cased text, or
// order itself without q. order may be a cached list other requests share,
// so matches go to a new slice.
func (c *call) textMatches(order []int32, match func(i int32, text string) bool) []int32 {
	text := strings.ToLower(strings.TrimSpace(c.r.URL.Query().Get("q")))
	if text == "" {
		return order
	}
	kept := make([]int32, 0, len(order))
	for _, i := range order {
		if match(i, text) {
			kept = append(kept, i)
		}
	}
	return kept
}

// replyIDPage replies with the ids of items[offset:offset+limit] and
// msa.Paging over all of items.
func replyIDPage[T any](c *call, items []T, limit, offset int, id func(T) string) {
	var page []T
	if offset < len(items) {
		page = items[offset:min(offset+limit, len(items))]
	}
	b := appendArray(nil, page, func(b []byte, it T) []byte { return appendJSONString(b, id(it)) })
	c.reply(http.StatusOK, appendMsaPaging(nil, limit, offset, len(items)), nil, b, nil)
}

// appendFound renders, as a JSON array in request order, the records of
// ids that find knows; unknown ids are skipped, as Falcon does. n is how
// many were rendered.
func appendFound[T any](ids []string, find func(id string) (T, bool), render func(b []byte, rec T) []byte) (b []byte, n int) {
	b = []byte{'['}
	for _, id := range ids {
		rec, ok := find(id)
		if !ok {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = render(b, rec)
		n++
	}
	return append(b, ']'), n
}

// replyFound replies with what appendFound rendered, or 404 with notFound
// when none of the ids was known.
func (c *call) replyFound(b []byte, n int, notFound string) {
	if n == 0 {
		c.fail(http.StatusNotFound, notFound)
		return
	}
	c.reply(http.StatusOK, nil, nil, b, nil)
}

// inIndex looks ids up in one of the snapshot's id indexes.
func inIndex(m map[string]int32) func(id string) (int32, bool) {
	return func(id string) (int32, bool) {
		i, ok := m[id]
		return i, ok
	}
}
