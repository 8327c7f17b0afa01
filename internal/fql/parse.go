package fql

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Parse parses filter into its AST without a schema: it checks syntax only.
// An empty (or all-whitespace) filter yields an empty *AndNode, which matches
// everything. Errors are *SyntaxError.
func Parse(filter string) (Node, error) {
	if len(filter) > MaxFilterLen {
		return nil, &SyntaxError{Filter: filter, Offset: MaxFilterLen,
			Msg: fmt.Sprintf("filter is longer than %d bytes", MaxFilterLen)}
	}
	p := &parser{src: filter}
	p.skipWS()
	if p.eof() {
		return &AndNode{}, nil
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	p.skipWS()
	if !p.eof() {
		if p.peek() == ')' {
			return nil, p.errAt(p.pos, "unexpected ')' without a matching '('")
		}
		return nil, p.errAt(p.pos, "expected '+', ',' or end of filter, found "+p.found())
	}
	return n, nil
}

type parser struct {
	src   string
	pos   int
	depth int
}

func (p *parser) eof() bool  { return p.pos >= len(p.src) }
func (p *parser) peek() byte { return p.src[p.pos] }

func (p *parser) skipWS() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) errAt(off int, msg string) *SyntaxError {
	return &SyntaxError{Filter: p.src, Offset: off, Msg: msg}
}

// found describes the next character for an error message.
func (p *parser) found() string {
	if p.eof() {
		return "end of filter"
	}
	r, n := utf8.DecodeRuneInString(p.src[p.pos:])
	if r == utf8.RuneError && n == 1 {
		return fmt.Sprintf("invalid UTF-8 byte 0x%02x", p.src[p.pos])
	}
	return fmt.Sprintf("%q", r)
}

func (p *parser) parseOr() (Node, error) {
	first, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	kids := []Node{first}
	for {
		p.skipWS()
		if p.eof() || p.peek() != ',' {
			break
		}
		if err := p.operand(','); err != nil {
			return nil, err
		}
		n, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &OrNode{Children: flatten[*OrNode](kids)}, nil
}

func (p *parser) parseAnd() (Node, error) {
	first, err := p.parseTerm()
	if err != nil {
		return nil, err
	}
	kids := []Node{first}
	for {
		p.skipWS()
		if p.eof() || p.peek() != '+' {
			break
		}
		if err := p.operand('+'); err != nil {
			return nil, err
		}
		n, err := p.parseTerm()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &AndNode{Children: flatten[*AndNode](kids)}, nil
}

// operand consumes a binary operator and checks that something follows it.
func (p *parser) operand(op byte) error {
	at := p.pos
	p.pos++
	p.skipWS()
	if p.eof() {
		return p.errAt(at, fmt.Sprintf("dangling '%c': expected a comparison after it", op))
	}
	switch c := p.peek(); c {
	case '+', ',', ')':
		return p.errAt(p.pos, fmt.Sprintf("expected a comparison after '%c', found %q", op, rune(c)))
	}
	return nil
}

// flatten merges children of the same group type: (a+b)+c is a+b+c.
func flatten[T interface {
	*AndNode | *OrNode
	Node
}](kids []Node) []Node {
	out := make([]Node, 0, len(kids))
	for _, k := range kids {
		if g, ok := k.(T); ok {
			switch g := any(g).(type) {
			case *AndNode:
				out = append(out, g.Children...)
			case *OrNode:
				out = append(out, g.Children...)
			}
			continue
		}
		out = append(out, k)
	}
	return out
}

func (p *parser) parseTerm() (Node, error) {
	p.skipWS()
	if p.eof() {
		return nil, p.errAt(p.pos, "expected field name or '(', found end of filter")
	}
	switch c := p.peek(); {
	case c == '(':
		open := p.pos
		if p.depth >= MaxDepth {
			return nil, p.errAt(open, fmt.Sprintf("parentheses nested deeper than %d levels", MaxDepth))
		}
		p.depth++
		p.pos++
		p.skipWS()
		if p.eof() {
			return nil, p.errAt(open, "unclosed '('")
		}
		if p.peek() == ')' {
			return nil, p.errAt(open, "empty parentheses")
		}
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		p.skipWS()
		if p.eof() {
			return nil, p.errAt(open, "unclosed '('")
		}
		if p.peek() != ')' {
			return nil, p.errAt(p.pos, "expected '+', ',' or ')', found "+p.found())
		}
		p.pos++
		p.depth--
		return n, nil
	case c == '!':
		bang := p.pos
		p.pos++
		p.skipWS()
		if p.eof() || !isFieldStart(p.peek()) {
			return nil, p.errAt(bang, "'!' before a comparison must be followed by a field name")
		}
		return p.parseComparison(true)
	case isFieldStart(c):
		return p.parseComparison(false)
	case c == ')':
		return nil, p.errAt(p.pos, "unexpected ')' without a matching '('")
	default:
		return nil, p.errAt(p.pos, "expected field name or '(', found "+p.found())
	}
}

func isFieldStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isFieldByte(c byte) bool {
	return isFieldStart(c) || c >= '0' && c <= '9' || c == '.'
}

func (p *parser) parseComparison(negated bool) (Node, error) {
	start := p.pos
	for p.pos < len(p.src) && isFieldByte(p.src[p.pos]) {
		p.pos++
	}
	// Falcon treats property names as lowercase and converts uppercase.
	field := strings.ToLower(p.src[start:p.pos])
	p.skipWS()
	if p.eof() || p.peek() != ':' {
		return nil, p.errAt(p.pos, fmt.Sprintf("expected ':' after field name %q", field))
	}
	p.pos++
	p.skipWS()
	c := &Comparison{Field: field, Negate: negated, Offset: start}
	if !p.eof() && p.peek() == '!' {
		if negated {
			return nil, p.errAt(p.pos, fmt.Sprintf("double negation on field %q", field))
		}
		c.Negate = true
		p.pos++
		p.skipWS()
	}
	opAt := p.pos
	explicitWildcard := false
	if !p.eof() {
		switch p.peek() {
		case '>', '<':
			lt := p.peek() == '<'
			p.pos++
			eq := !p.eof() && p.peek() == '='
			if eq {
				p.pos++
			}
			switch {
			case lt && eq:
				c.Op = OpLE
			case lt:
				c.Op = OpLT
			case eq:
				c.Op = OpGE
			default:
				c.Op = OpGT
			}
		case '~':
			p.pos++
			c.Op = OpText
		case '*':
			p.pos++
			explicitWildcard = true
		}
	}
	if c.Negate && c.Op.isRange() {
		return nil, p.errAt(opAt, fmt.Sprintf("'!' cannot be combined with range operator '%s' on field %q", c.Op, field))
	}
	p.skipWS()
	if p.eof() {
		return nil, p.errAt(p.pos, fmt.Sprintf("expected value for field %q, found end of filter", field))
	}
	if p.peek() == '[' {
		if c.Op.isRange() {
			return nil, p.errAt(p.pos, fmt.Sprintf("range operator '%s' on field %q takes a single value, not a list", c.Op, field))
		}
		vals, err := p.parseList(field, c.Op, explicitWildcard)
		if err != nil {
			return nil, err
		}
		c.List, c.Values = true, vals
		return c, nil
	}
	v, err := p.parseValue(field, c.Op, explicitWildcard)
	if err != nil {
		return nil, err
	}
	c.Values = []Literal{v}
	return c, nil
}

func (p *parser) parseList(field string, op Op, explicitWildcard bool) ([]Literal, error) {
	open := p.pos
	p.pos++
	p.skipWS()
	if !p.eof() && p.peek() == ']' {
		return nil, p.errAt(open, fmt.Sprintf("empty value list for field %q", field))
	}
	var vals []Literal
	for {
		if p.eof() {
			return nil, p.errAt(open, "unclosed '['")
		}
		v, err := p.parseValue(field, op, explicitWildcard)
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
		p.skipWS()
		if p.eof() {
			return nil, p.errAt(open, "unclosed '['")
		}
		switch p.peek() {
		case ']':
			p.pos++
			return vals, nil
		case ',':
			p.pos++
			p.skipWS()
			if !p.eof() && p.peek() == ']' {
				return nil, p.errAt(p.pos, fmt.Sprintf("expected value after ',' in list for field %q", field))
			}
		default:
			return nil, p.errAt(p.pos, "expected ',' or ']' in value list, found "+p.found())
		}
	}
}

func (p *parser) parseValue(field string, op Op, explicitWildcard bool) (Literal, error) {
	if p.eof() {
		return Literal{}, p.errAt(p.pos, fmt.Sprintf("expected value for field %q, found end of filter", field))
	}
	start := p.pos
	switch c := p.peek(); {
	case c == '\'' || c == '"':
		return p.parseQuoted(field, op)
	case isBareByte(c):
		if explicitWildcard {
			return Literal{}, p.errAt(start, fmt.Sprintf("wildcard operator '*' on field %q must be followed by a quoted value", field))
		}
		if n := relPlusLen(p.src, p.pos); n > 0 {
			p.pos += n
		} else {
			for p.pos < len(p.src) && isBareByte(p.src[p.pos]) {
				p.pos++
			}
		}
		text := p.src[start:p.pos]
		if text == "null" {
			if op != OpEq {
				return Literal{}, p.errAt(start, fmt.Sprintf("null cannot be used with operator '%s' on field %q", op, field))
			}
			return Literal{Text: text, Null: true, Offset: start}, nil
		}
		return Literal{Text: text, Offset: start}, nil
	default:
		return Literal{}, p.errAt(start, fmt.Sprintf("expected value for field %q, found %s", field, p.found()))
	}
}

func (p *parser) parseQuoted(field string, op Op) (Literal, error) {
	start := p.pos
	q := p.src[p.pos]
	p.pos++
	var b strings.Builder
	var pattern []string
	for {
		if p.eof() {
			return Literal{}, p.errAt(start, fmt.Sprintf("unterminated quoted value for field %q", field))
		}
		c := p.src[p.pos]
		switch {
		case c == q:
			p.pos++
			lit := Literal{Quoted: true, Offset: start}
			if pattern != nil {
				lit.Pattern = append(pattern, b.String())
				lit.Text = strings.Join(lit.Pattern, "*")
				return lit, nil
			}
			lit.Text = b.String()
			if lit.Text == "" {
				return Literal{}, p.errAt(start, fmt.Sprintf("empty value for field %q", field))
			}
			return lit, nil
		case c == '\\':
			if p.pos+1 >= len(p.src) {
				return Literal{}, p.errAt(start, fmt.Sprintf("unterminated quoted value for field %q", field))
			}
			switch e := p.src[p.pos+1]; e {
			case '\'', '"', '\\', '*':
				b.WriteByte(e)
				p.pos += 2
			default:
				r, _ := utf8.DecodeRuneInString(p.src[p.pos+1:])
				return Literal{}, p.errAt(p.pos, fmt.Sprintf(`invalid escape "\%c" in value for field %q; only \', \", \\ and \* are allowed`, r, field))
			}
		case c == '*':
			if op.isRange() {
				return Literal{}, p.errAt(p.pos, fmt.Sprintf("wildcard '*' cannot be used with range operator '%s' on field %q", op, field))
			}
			pattern = append(pattern, b.String())
			b.Reset()
			p.pos++
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
}
