package fql

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Value is one value of a record's field.
type Value struct {
	S string  // String and Bool ("true"/"false") fields
	N float64 // Number fields; Time fields as Unix seconds
}

// Record exposes one record's values for the field at schema index i
// (multi-valued fields such as tags return several). Implementations append
// to dst and return it, so matching allocates nothing per record. The
// returned slice is only read, and only until the next Lookup.
type Record interface {
	Lookup(i int, dst []Value) []Value
}

// Filter is a compiled filter. It is immutable and safe for concurrent use.
type Filter struct {
	canon  Node   // typed canonical form
	root   *cnode // nil: matches everything
	schema *Schema
	fields []string
	pool   sync.Pool // *[]Value scratch buffers for Match
}

const initialBuf = 16

// Compile parses filter and checks it against s: every field must exist, and
// each operator and value must suit the field. Relative times (now-7d) are
// resolved against now. An empty filter matches everything. Errors are
// *SyntaxError or *FieldError.
func Compile(filter string, s *Schema, now time.Time) (*Filter, error) {
	if s == nil {
		return nil, errors.New("fql: Compile needs a schema")
	}
	n, err := Parse(filter)
	if err != nil {
		return nil, err
	}
	c := &compiler{s: s, now: now, seen: map[string]bool{}}
	canon, root, err := c.node(n)
	if err != nil {
		return nil, err
	}
	if canon == nil {
		canon = &AndNode{}
	}
	f := &Filter{canon: canon, root: root, schema: s}
	for name := range c.seen {
		f.fields = append(f.fields, name)
	}
	slices.Sort(f.fields)
	f.pool.New = func() any {
		b := make([]Value, 0, initialBuf)
		return &b
	}
	return f, nil
}

// Match reports whether r satisfies the filter. A nil Filter matches
// everything.
func (f *Filter) Match(r Record) bool {
	if f == nil || f.root == nil {
		return true
	}
	bp := f.pool.Get().(*[]Value)
	ok := f.root.eval(r, bp)
	f.pool.Put(bp)
	return ok
}

// String is the canonical, typed form: strings quoted, numbers and bools
// bare, times as quoted RFC3339 UTC (relative times resolved), OR groups
// parenthesised. Compiling it again yields the same filter.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.canon.String()
}

// Fields lists the fields the filter references, sorted.
func (f *Filter) Fields() []string {
	if f == nil {
		return nil
	}
	return slices.Clone(f.fields)
}

// Matcher is a single-goroutine matcher with its own scratch buffer, for hot
// loops that want to skip the pool Filter.Match uses.
type Matcher struct {
	f   *Filter
	buf []Value
}

// NewMatcher returns a Matcher for f. It must not be shared between
// goroutines.
func (f *Filter) NewMatcher() *Matcher {
	return &Matcher{f: f, buf: make([]Value, 0, initialBuf)}
}

// Match is Filter.Match without the shared pool.
func (m *Matcher) Match(r Record) bool {
	if m.f == nil || m.f.root == nil {
		return true
	}
	return m.f.root.eval(r, &m.buf)
}

type nodeType uint8

const (
	typLeaf nodeType = iota
	typAnd
	typOr
)

// cnode is a compiled node. Leaves keep only what their kind needs.
type cnode struct {
	typ  nodeType
	kids []*cnode

	idx   int
	neg   bool
	op    Op
	kind  Kind
	null  bool       // a null item: matches when the field has no value
	strs  []string   // String/Bool equality (case-insensitive)
	pats  [][]string // wildcard patterns
	texts [][]rune   // ~ keys: lowercased letters and digits
	nums  []float64  // Number/Time equality
	bound float64    // range operand
}

func (n *cnode) eval(r Record, bp *[]Value) bool {
	switch n.typ {
	case typAnd:
		for _, k := range n.kids {
			if !k.eval(r, bp) {
				return false
			}
		}
		return true
	case typOr:
		for _, k := range n.kids {
			if k.eval(r, bp) {
				return true
			}
		}
		return false
	}
	buf := *bp
	vals := r.Lookup(n.idx, buf[:0])
	if cap(vals) > cap(buf) {
		// Grow our own buffer rather than keep vals: a Record that ignored
		// dst and returned its own storage must never be appended to.
		*bp = make([]Value, 0, cap(vals))
	}
	hit := n.null && len(vals) == 0
	for i := 0; !hit && i < len(vals); i++ {
		hit = n.test(&vals[i])
	}
	return hit != n.neg
}

func (n *cnode) test(v *Value) bool {
	switch n.op {
	case OpEq:
		switch n.kind {
		case String, Bool:
			for _, s := range n.strs {
				if foldEq(v.S, s) {
					return true
				}
			}
			for _, p := range n.pats {
				if globFold(p, v.S) {
					return true
				}
			}
		default:
			for _, x := range n.nums {
				if v.N == x {
					return true
				}
			}
		}
		return false
	case OpGT:
		return v.N > n.bound
	case OpGE:
		return v.N >= n.bound
	case OpLT:
		return v.N < n.bound
	case OpLE:
		return v.N <= n.bound
	case OpText:
		for _, t := range n.texts {
			if textContains(v.S, t) {
				return true
			}
		}
	}
	return false
}

type compiler struct {
	s    *Schema
	now  time.Time
	seen map[string]bool
}

// node compiles n, returning its typed canonical form and matcher; both are
// nil for a group that adds no constraint.
func (c *compiler) node(n Node) (Node, *cnode, error) {
	switch n := n.(type) {
	case *AndNode:
		return c.group(n.Children, typAnd)
	case *OrNode:
		return c.group(n.Children, typOr)
	case *Comparison:
		return c.comparison(n)
	case nil:
		return nil, nil, nil
	}
	return nil, nil, fmt.Errorf("fql: unsupported node type %T", n)
}

func (c *compiler) group(kids []Node, typ nodeType) (Node, *cnode, error) {
	var canon []Node
	var comp []*cnode
	for _, k := range kids {
		kc, km, err := c.node(k)
		if err != nil {
			return nil, nil, err
		}
		if km == nil {
			continue
		}
		canon = append(canon, kc)
		comp = append(comp, km)
	}
	switch len(comp) {
	case 0:
		return nil, nil, nil
	case 1:
		return canon[0], comp[0], nil
	}
	if typ == typAnd {
		return &AndNode{Children: canon}, &cnode{typ: typAnd, kids: comp}, nil
	}
	return &OrNode{Children: canon}, &cnode{typ: typOr, kids: comp}, nil
}

func (c *compiler) comparison(x *Comparison) (Node, *cnode, error) {
	idx, ok := c.s.Index(x.Field)
	if !ok {
		return nil, nil, &FieldError{Field: x.Field, Allowed: c.s.Names(), Reason: ReasonUnknown, Offset: x.Offset}
	}
	f := c.s.Field(idx)
	rangeable := func(f Field) bool { return f.Range && (f.Kind == Number || f.Kind == Time) }
	switch {
	case x.Op.isRange() && !rangeable(f):
		return nil, nil, &FieldError{Field: x.Field, Allowed: c.s.namesWhere(rangeable), Reason: ReasonRange, Offset: x.Offset}
	case x.Op == OpText && f.Kind != String:
		return nil, nil, &FieldError{Field: x.Field, Allowed: c.s.namesWhere(func(f Field) bool { return f.Kind == String }), Reason: ReasonText, Offset: x.Offset}
	case len(x.Values) == 0:
		return nil, nil, &FieldError{Field: x.Field, Reason: ReasonEmptyList, Offset: x.Offset}
	}
	c.seen[x.Field] = true
	out := &Comparison{Field: x.Field, Negate: x.Negate, Op: x.Op, List: x.List, Offset: x.Offset}
	leaf := &cnode{typ: typLeaf, idx: idx, neg: x.Negate, op: x.Op, kind: f.Kind}
	for _, v := range x.Values {
		lit, err := c.value(f, x.Op, v, leaf)
		if err != nil {
			return nil, nil, err
		}
		out.Values = append(out.Values, lit)
	}
	return out, leaf, nil
}

// value checks one literal against the field, records it in leaf and returns
// its typed canonical literal.
func (c *compiler) value(f Field, op Op, v Literal, leaf *cnode) (Literal, error) {
	valueErr := func(reason string) error {
		return &FieldError{Field: f.Name, Reason: reason, Offset: v.Offset}
	}
	if v.Null {
		leaf.null = true
		return Literal{Text: "null", Null: true, Offset: v.Offset}, nil
	}
	if v.Pattern != nil && op == OpEq && !(f.Kind == String && f.Wildcard) {
		return Literal{}, &FieldError{Field: f.Name, Reason: ReasonWildcard, Offset: v.Offset,
			Allowed: c.s.namesWhere(func(f Field) bool { return f.Kind == String && f.Wildcard })}
	}
	if !v.Null && v.Pattern == nil && v.Text == "" {
		return Literal{}, valueErr("has an empty value")
	}
	switch f.Kind {
	case String:
		out := Literal{Text: v.Text, Quoted: true, Pattern: v.Pattern, Offset: v.Offset}
		switch {
		case op == OpText:
			key := textKey(v.Text)
			if len(key) == 0 {
				return Literal{}, valueErr(fmt.Sprintf("text match value %q has no letters or digits", v.Text))
			}
			leaf.texts = append(leaf.texts, key)
		case v.Pattern != nil:
			leaf.pats = append(leaf.pats, slices.Clone(v.Pattern))
		default:
			leaf.strs = append(leaf.strs, v.Text)
		}
		return out, nil
	case Bool:
		var b string
		switch {
		case strings.EqualFold(v.Text, "true"):
			b = "true"
		case strings.EqualFold(v.Text, "false"):
			b = "false"
		default:
			return Literal{}, valueErr(fmt.Sprintf("expects true or false, got %q", v.Text))
		}
		leaf.strs = append(leaf.strs, b)
		return Literal{Text: b, Offset: v.Offset}, nil
	case Number:
		x, err := strconv.ParseFloat(v.Text, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return Literal{}, valueErr(fmt.Sprintf("expects a number, got %q", v.Text))
		}
		leaf.record(op, x)
		return Literal{Text: formatNumber(x), Offset: v.Offset}, nil
	case Time:
		t, ok := parseTime(v.Text, c.now)
		if !ok {
			return Literal{}, valueErr(fmt.Sprintf("expects a time (RFC3339, YYYY-MM-DD, or relative like now-7d), got %q", v.Text))
		}
		leaf.record(op, unixSeconds(t))
		return Literal{Text: formatTime(t), Quoted: true, Offset: v.Offset}, nil
	}
	return Literal{}, valueErr(fmt.Sprintf("has unsupported kind %v", f.Kind))
}

func (n *cnode) record(op Op, x float64) {
	if op == OpEq {
		n.nums = append(n.nums, x)
		return
	}
	n.bound = x
}

func unixSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999", // no zone: UTC, as Falcon assumes
	"2006-01-02T15:04",
	"2006-01-02",
}

// parseTime accepts RFC3339, zone-less date-times and dates (UTC), and
// now, now-7d, now+12h (units s m h d w) relative to now.
func parseTime(s string, now time.Time) (time.Time, bool) {
	if len(s) >= 3 && strings.EqualFold(s[:3], "now") {
		return parseRelative(s[3:], now)
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func parseRelative(s string, now time.Time) (time.Time, bool) {
	now = now.UTC()
	if s == "" {
		return now, true
	}
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') || len(s) > 11 {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(s[1:len(s)-1], 10, 64)
	if err != nil || n < 0 || s[1] == '+' || s[1] == '-' {
		return time.Time{}, false
	}
	var unit int64
	switch s[len(s)-1] | 0x20 {
	case 's':
		unit = 1
	case 'm':
		unit = 60
	case 'h':
		unit = 3600
	case 'd':
		unit = 86400
	case 'w':
		unit = 7 * 86400
	default:
		return time.Time{}, false
	}
	// At most 9 digits (len check), so n*unit cannot overflow int64.
	off := n * unit
	if s[0] == '-' {
		off = -off
	}
	return time.Unix(now.Unix()+off, int64(now.Nanosecond())).UTC(), true
}

// textKey is the ~ normal form: lowercased letters and digits only, since
// Falcon's text match ignores case, spaces and punctuation.
func textKey(s string) []rune {
	var out []rune
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			out = append(out, unicode.ToLower(r))
		}
	}
	return out
}
