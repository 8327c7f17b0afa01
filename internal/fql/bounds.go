package fql

// Bound is one side of the interval a filter confines a field to. The zero
// Bound is no bound. Time values are Unix seconds, as in Value.N.
type Bound struct {
	Value     float64
	Inclusive bool // the interval contains Value itself
	Set       bool // false: unbounded on this side
}

// Range returns the interval that the filter's top-level AND confines field
// to: every comparison on field that the whole filter requires (directly,
// or through parenthesised ANDs) narrows it. Range comparisons (> >= < <=)
// bound one side; an equality (field:x, or a list field:[x,y]) bounds both,
// inclusively, by its smallest and largest value. Comparisons inside an OR,
// negations and null tests do not count. ok is false when no comparison
// bounds field that way, or field is unknown or not a Number or Time field;
// an empty interval (lo above hi) is returned as such, with ok true.
//
// The interval holds each value a comparison tests, so for a single-valued
// field a matching record's value lies in it; for a multi-valued field the
// comparisons may be met by different values. A caller (an index) may use it
// to skip records outside the interval, and must still Match the rest.
func (f *Filter) Range(field string) (lo, hi Bound, ok bool) {
	if f == nil || f.root == nil || f.schema == nil {
		return Bound{}, Bound{}, false
	}
	idx, known := f.schema.Index(field)
	if !known {
		return Bound{}, Bound{}, false
	}
	if k := f.schema.Field(idx).Kind; k != Number && k != Time {
		return Bound{}, Bound{}, false
	}
	var r rangeAcc
	r.walk(f.root, idx)
	return r.lo, r.hi, r.ok
}

type rangeAcc struct {
	lo, hi Bound
	ok     bool
}

// walk visits the nodes every match must satisfy: the root and, through
// ANDs, their children. An OR's children are each optional, so it stops
// there.
func (r *rangeAcc) walk(n *cnode, idx int) {
	switch n.typ {
	case typAnd:
		for _, k := range n.kids {
			r.walk(k, idx)
		}
		return
	case typOr:
		return
	}
	if n.idx != idx || n.neg || n.null {
		return
	}
	switch n.op {
	case OpGT:
		r.raiseLo(Bound{Value: n.bound, Set: true})
	case OpGE:
		r.raiseLo(Bound{Value: n.bound, Inclusive: true, Set: true})
	case OpLT:
		r.lowerHi(Bound{Value: n.bound, Set: true})
	case OpLE:
		r.lowerHi(Bound{Value: n.bound, Inclusive: true, Set: true})
	case OpEq:
		if len(n.nums) == 0 {
			return
		}
		mn, mx := n.nums[0], n.nums[0]
		for _, x := range n.nums[1:] {
			mn, mx = min(mn, x), max(mx, x)
		}
		r.raiseLo(Bound{Value: mn, Inclusive: true, Set: true})
		r.lowerHi(Bound{Value: mx, Inclusive: true, Set: true})
	}
}

// raiseLo keeps the tighter lower bound; at equal values exclusive is
// tighter.
func (r *rangeAcc) raiseLo(b Bound) {
	r.ok = true
	if !r.lo.Set || b.Value > r.lo.Value || (b.Value == r.lo.Value && !b.Inclusive) {
		r.lo = b
	}
}

func (r *rangeAcc) lowerHi(b Bound) {
	r.ok = true
	if !r.hi.Set || b.Value < r.hi.Value || (b.Value == r.hi.Value && !b.Inclusive) {
		r.hi = b
	}
}
