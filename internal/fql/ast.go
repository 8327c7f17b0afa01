package fql

import (
	"strings"
)

// Node is a parsed (or built) FQL expression: *AndNode, *OrNode or
// *Comparison. Its String() is the canonical form, which Parse maps back to an
// equal Node. Every Node is also an Expr, so parsed user filters can be
// combined with built ones.
type Node interface {
	Expr
	isNode()
}

// Op is a comparison operator.
type Op int

// Operators. Equality covers exact values, wildcard patterns, value lists and
// null; Negate on the Comparison turns it into "none of".
const (
	OpEq Op = iota
	OpGT
	OpGE
	OpLT
	OpLE
	OpText // ~ : case-, space- and punctuation-insensitive text match
)

func (o Op) String() string {
	switch o {
	case OpEq:
		return ""
	case OpGT:
		return ">"
	case OpGE:
		return ">="
	case OpLT:
		return "<"
	case OpLE:
		return "<="
	case OpText:
		return "~"
	}
	return "?"
}

func (o Op) isRange() bool { return o >= OpGT && o <= OpLE }

// AndNode matches when every child matches ('+'). An AndNode with no
// children is the empty filter and matches everything.
type AndNode struct{ Children []Node }

// OrNode matches when any child matches (',').
type OrNode struct{ Children []Node }

// Comparison is one field test.
type Comparison struct {
	Field  string
	Negate bool // field:!v, field:!['a','b'] — true when no value matches
	Op     Op
	List   bool // field:['a','b']
	Values []Literal
	Offset int // byte offset of the field name in the parsed filter
}

// Literal is one value as written.
type Literal struct {
	// Text is the unescaped value. For a wildcard pattern it is the segments
	// joined by '*' (for display only; Pattern is authoritative).
	Text   string
	Quoted bool
	Null   bool // bare null: the field has no value
	// Pattern is non-nil when the quoted value has unescaped '*': the literal
	// text between the wildcards (so 'a*b' is ["a", "b"] and '*' is ["", ""]).
	Pattern []string
	Offset  int // byte offset of the value in the parsed filter
}

func (*AndNode) isNode()    {}
func (*OrNode) isNode()     {}
func (*Comparison) isNode() {}

// invalidRendering is what a malformed expression renders as: it must fail to
// parse (so a filter cannot silently widen into "match everything") and must
// not echo any caller data.
const invalidRendering = "<invalid FQL expression>"

func (n *AndNode) String() string {
	var b strings.Builder
	n.render(&b)
	return b.String()
}

func (n *OrNode) String() string {
	var b strings.Builder
	n.render(&b)
	return b.String()
}

func (c *Comparison) String() string {
	var b strings.Builder
	c.render(&b)
	return b.String()
}

func render(b *strings.Builder, n Node) {
	switch n := n.(type) {
	case *AndNode:
		n.render(b)
	case *OrNode:
		n.render(b)
	case *Comparison:
		n.render(b)
	default:
		b.WriteString(invalidRendering)
	}
}

// renderChildren drops children that render empty (empty groups add no
// constraint), so output never has dangling operators.
func renderChildren(b *strings.Builder, kids []Node, sep byte) int {
	n := 0
	for _, k := range kids {
		if k == nil || isEmptyGroup(k) {
			continue
		}
		if n > 0 {
			b.WriteByte(sep)
		}
		render(b, k)
		n++
	}
	return n
}

func (n *AndNode) render(b *strings.Builder) {
	if n == nil {
		return
	}
	renderChildren(b, n.Children, '+')
}

// OR groups always carry their parentheses, so an OR can be dropped into an
// AND (or anywhere) without changing meaning; the canonical form of "a,b" is
// therefore "(a,b)".
func (n *OrNode) render(b *strings.Builder) {
	if n == nil {
		return
	}
	live := 0
	for _, k := range n.Children {
		if k != nil && !isEmptyGroup(k) {
			live++
		}
	}
	switch live {
	case 0:
		return
	case 1:
		renderChildren(b, n.Children, ',')
		return
	}
	b.WriteByte('(')
	renderChildren(b, n.Children, ',')
	b.WriteByte(')')
}

// isEmptyGroup reports whether n adds no constraint: a group (at any depth)
// with no comparisons.
func isEmptyGroup(n Node) bool {
	var kids []Node
	switch n := n.(type) {
	case *AndNode:
		if n == nil {
			return true
		}
		kids = n.Children
	case *OrNode:
		if n == nil {
			return true
		}
		kids = n.Children
	default:
		return false
	}
	for _, k := range kids {
		if k != nil && !isEmptyGroup(k) {
			return false
		}
	}
	return true
}

func (c *Comparison) render(b *strings.Builder) {
	if c == nil || !c.wellFormed() {
		b.WriteString(invalidRendering)
		return
	}
	b.WriteString(c.Field)
	b.WriteByte(':')
	if c.Negate {
		b.WriteByte('!')
	}
	b.WriteString(c.Op.String())
	if c.List {
		b.WriteByte('[')
	}
	for i, v := range c.Values {
		if i > 0 {
			b.WriteByte(',')
		}
		v.render(b)
	}
	if c.List {
		b.WriteByte(']')
	}
}

// wellFormed checks what rendering relies on, so a hand-built Comparison
// cannot render into something that parses differently.
func (c *Comparison) wellFormed() bool {
	if !validFieldName(c.Field) || len(c.Values) == 0 || (!c.List && len(c.Values) != 1) {
		return false
	}
	if c.Op < OpEq || c.Op > OpText || (c.Negate && c.Op.isRange()) || (c.List && c.Op.isRange()) {
		return false
	}
	for _, v := range c.Values {
		if v.Null && c.Op != OpEq {
			return false
		}
		if v.Pattern != nil && (c.Op.isRange() || len(v.Pattern) < 2) {
			return false
		}
		if !v.Null && v.Pattern == nil && v.Text == "" {
			return false
		}
	}
	return true
}

func (l Literal) render(b *strings.Builder) {
	switch {
	case l.Null:
		b.WriteString("null")
	case l.Pattern != nil:
		b.WriteByte('\'')
		for i, seg := range l.Pattern {
			if i > 0 {
				b.WriteByte('*')
			}
			writeEscaped(b, seg)
		}
		b.WriteByte('\'')
	case !l.Quoted && isBareWord(l.Text) && l.Text != "null":
		b.WriteString(l.Text)
	default:
		b.WriteString(Quote(l.Text))
	}
}

// String renders the literal as it appears in canonical FQL.
func (l Literal) String() string {
	var b strings.Builder
	l.render(&b)
	return b.String()
}

func isBareByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == ':' || c == '-' || c == '/' || c == '@'
}

// isBareWord reports whether s re-parses as exactly one bare value.
func isBareWord(s string) bool {
	if s == "" {
		return false
	}
	if n := relPlusLen(s, 0); n == len(s) {
		return true
	}
	for i := 0; i < len(s); i++ {
		if !isBareByte(s[i]) {
			return false
		}
	}
	return true
}

// relPlusLen returns the length of a "now+<digits><unit>" token at s[i:],
// or 0. Only the '+' form needs this: '+' is otherwise AND, while "now-7d" is
// an ordinary bare word.
func relPlusLen(s string, i int) int {
	if len(s)-i < 6 || !strings.EqualFold(s[i:i+3], "now") || s[i+3] != '+' {
		return 0
	}
	j := i + 4
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i+4 || j >= len(s) || !isRelUnit(s[j]) {
		return 0
	}
	j++
	if j < len(s) && isBareByte(s[j]) {
		return 0
	}
	return j - i
}

func isRelUnit(c byte) bool {
	switch c | 0x20 {
	case 's', 'm', 'h', 'd', 'w':
		return true
	}
	return false
}
