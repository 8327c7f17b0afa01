package fql

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Expr is a buildable filter expression. Builder functions return Nodes
// (*Comparison, *AndNode, *OrNode) or, for invalid input, an expression whose
// String() is a fixed marker that never parses — so a mistake fails closed
// instead of silently widening the filter. Use Build to get the error.
type Expr interface{ String() string }

// badExpr carries a builder error through And/Or to Build.
type badExpr struct{ err error }

func (*badExpr) String() string { return invalidRendering }

// Quote renders v as a single-quoted FQL value. \ and ' are escaped, and so
// is '*': a value from a hostname or tag must never act as a wildcard.
func Quote(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteByte('\'')
	writeEscaped(&b, v)
	b.WriteByte('\'')
	return b.String()
}

func writeEscaped(b *strings.Builder, v string) {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\', '\'', '*':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
}

func fieldErr(field, reason string) Expr {
	return &badExpr{&FieldError{Field: field, Reason: reason}}
}

func checkField(field string) error {
	if !validFieldName(field) {
		return &FieldError{Field: field, Reason: ReasonName}
	}
	return nil
}

// Eq is field:'v'. Strings are quoted and escaped; numbers and bools are bare;
// time.Time is quoted RFC3339 in UTC; nil is null (the field has no value).
func Eq(field string, value any) Expr { return eq(field, value, false) }

// NotEq is field:!'v' — true when no value of the field equals v.
func NotEq(field string, value any) Expr { return eq(field, value, true) }

func eq(field string, value any, neg bool) Expr {
	if err := checkField(field); err != nil {
		return &badExpr{err}
	}
	lit, err := literalOf(field, value)
	if err != nil {
		return &badExpr{err}
	}
	return &Comparison{Field: field, Negate: neg, Values: []Literal{lit}}
}

// In is field:['a','b'] — any of the values.
func In(field string, values ...string) Expr { return in(field, values, false) }

// NotIn is field:!['a','b'] — none of the values.
func NotIn(field string, values ...string) Expr { return in(field, values, true) }

func in(field string, values []string, neg bool) Expr {
	if err := checkField(field); err != nil {
		return &badExpr{err}
	}
	if len(values) == 0 {
		return fieldErr(field, ReasonEmptyList)
	}
	lits := make([]Literal, len(values))
	for i, v := range values {
		if v == "" {
			return fieldErr(field, "has an empty value in its value list")
		}
		lits[i] = Literal{Text: v, Quoted: true}
	}
	return &Comparison{Field: field, Negate: neg, List: true, Values: lits}
}

// Cmp is a range comparison; op is one of > >= < <=. value is a number, a
// time.Time, or a string (for example "now-7d").
func Cmp(field, op string, value any) Expr {
	if err := checkField(field); err != nil {
		return &badExpr{err}
	}
	var o Op
	switch op {
	case ">":
		o = OpGT
	case ">=":
		o = OpGE
	case "<":
		o = OpLT
	case "<=":
		o = OpLE
	default:
		return fieldErr(field, fmt.Sprintf("cannot use operator %q; range operators are >, >=, <, <=", op))
	}
	switch value.(type) {
	case nil, bool:
		return fieldErr(field, fmt.Sprintf("cannot compare with %s %v; use a number, time or string", op, value))
	}
	lit, err := literalOf(field, value)
	if err != nil {
		return &badExpr{err}
	}
	return &Comparison{Field: field, Op: o, Values: []Literal{lit}}
}

// Match is a wildcard match: only '*' in pattern is special, every other
// character is matched literally.
func Match(field, pattern string) Expr {
	if err := checkField(field); err != nil {
		return &badExpr{err}
	}
	if pattern == "" {
		return fieldErr(field, "has an empty pattern")
	}
	lit := Literal{Text: pattern, Quoted: true}
	if strings.Contains(pattern, "*") {
		lit.Pattern = strings.Split(pattern, "*")
	}
	return &Comparison{Field: field, Values: []Literal{lit}}
}

// Text is field:~'text', Falcon's case-, space- and punctuation-insensitive
// text match.
func Text(field, text string) Expr {
	if err := checkField(field); err != nil {
		return &badExpr{err}
	}
	if text == "" {
		return fieldErr(field, "has an empty text match value")
	}
	return &Comparison{Field: field, Op: OpText, Values: []Literal{{Text: text, Quoted: true}}}
}

// And joins expressions with '+'. nil and empty operands are dropped; an OR
// operand keeps its parentheses.
func And(exprs ...Expr) Expr { return group(exprs, true) }

// Or joins expressions with ',' inside parentheses: (a,b).
func Or(exprs ...Expr) Expr { return group(exprs, false) }

func group(exprs []Expr, and bool) Expr {
	var kids []Node
	for _, e := range exprs {
		n, err := asNode(e)
		if err != nil {
			return &badExpr{err}
		}
		if n == nil || isEmptyGroup(n) {
			continue
		}
		kids = append(kids, n)
	}
	switch {
	case len(kids) == 1:
		return kids[0]
	case and:
		return &AndNode{Children: flatten[*AndNode](kids)}
	case len(kids) == 0:
		// An empty OR is dropped like an empty AND: it adds no constraint.
		return &OrNode{}
	default:
		return &OrNode{Children: flatten[*OrNode](kids)}
	}
}

// asNode turns any Expr into a Node. Foreign Expr implementations are
// re-parsed rather than pasted in, so they cannot inject unbalanced syntax.
func asNode(e Expr) (Node, error) {
	switch e := e.(type) {
	case nil:
		return nil, nil
	case *badExpr:
		return nil, e.err
	case *Comparison:
		if e == nil {
			return nil, nil
		}
		return e, validateNode(e)
	case *AndNode:
		if e == nil {
			return nil, nil
		}
		return e, validateNode(e)
	case *OrNode:
		if e == nil {
			return nil, nil
		}
		return e, validateNode(e)
	}
	if v := reflect.ValueOf(e); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, nil
	}
	n, err := Parse(e.String())
	if err != nil {
		return nil, fmt.Errorf("fql: expression of type %T does not parse: %w", e, err)
	}
	return n, nil
}

// validateNode checks a (possibly hand-built) Node so Build can say which
// field is wrong instead of emitting the invalid marker.
func validateNode(n Node) error {
	switch n := n.(type) {
	case *AndNode:
		for _, k := range n.Children {
			if k == nil {
				continue
			}
			if err := validateNode(k); err != nil {
				return err
			}
		}
	case *OrNode:
		for _, k := range n.Children {
			if k == nil {
				continue
			}
			if err := validateNode(k); err != nil {
				return err
			}
		}
	case *Comparison:
		if err := checkField(n.Field); err != nil {
			return err
		}
		if !n.wellFormed() {
			return &FieldError{Field: n.Field, Reason: "has a malformed comparison (empty value, or an operator that does not fit its values)"}
		}
	default:
		return fmt.Errorf("fql: unsupported node type %T", n)
	}
	return nil
}

// Build renders e, returning an error (a *FieldError naming the field for
// builder mistakes) instead of an unusable string. A nil or empty e builds to
// "", which matches everything.
func Build(e Expr) (string, error) {
	n, err := asNode(e)
	if err != nil {
		return "", err
	}
	if n == nil {
		return "", nil
	}
	s := n.String()
	// Belt and braces: what we hand to Falcon must parse.
	if _, err := Parse(s); err != nil {
		return "", fmt.Errorf("fql: built filter does not parse: %w", err)
	}
	return s, nil
}

// literalOf renders a Go value as a Literal.
func literalOf(field string, value any) (Literal, error) {
	switch v := value.(type) {
	case nil:
		return Literal{Text: "null", Null: true}, nil
	case string:
		if v == "" {
			return Literal{}, &FieldError{Field: field, Reason: "has an empty value"}
		}
		return Literal{Text: v, Quoted: true}, nil
	case bool:
		return Literal{Text: strconv.FormatBool(v)}, nil
	case time.Time:
		return Literal{Text: formatTime(v), Quoted: true}, nil
	case *time.Time:
		if v == nil {
			return Literal{Text: "null", Null: true}, nil
		}
		return Literal{Text: formatTime(*v), Quoted: true}, nil
	case float64:
		return floatLiteral(field, v)
	case float32:
		return floatLiteral(field, float64(v))
	}
	// Named types (type Status string, type Score int ...).
	rv := reflect.ValueOf(value)
	switch rv.Kind() {
	case reflect.String:
		return literalOf(field, rv.String())
	case reflect.Bool:
		return literalOf(field, rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return Literal{Text: strconv.FormatInt(rv.Int(), 10)}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return Literal{Text: strconv.FormatUint(rv.Uint(), 10)}, nil
	case reflect.Float32, reflect.Float64:
		return floatLiteral(field, rv.Float())
	}
	return Literal{}, &FieldError{Field: field, Reason: fmt.Sprintf("has an unsupported value type %T; use a string, number, bool or time.Time", value)}
}

func floatLiteral(field string, f float64) (Literal, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Literal{}, &FieldError{Field: field, Reason: fmt.Sprintf("has a non-finite number %v", f)}
	}
	return Literal{Text: formatNumber(f)}, nil
}

// formatNumber renders f so it re-parses as a bare word: "1e+21" would read as
// "1e" AND "21", so the exponent sign is dropped ("1e21").
func formatNumber(f float64) string {
	return strings.Replace(strconv.FormatFloat(f, 'g', -1, 64), "e+", "e", 1)
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
