package fql

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	tests := []struct{ in, canonical string }{
		{``, ``},
		{" \t\n", ``},
		{`status:'open'`, `status:'open'`},
		{`status:"open"`, `status:'open'`},
		{`status:open`, `status:open`},
		{`Status:Open`, `status:Open`},
		{`cve.base_score:>=7`, `cve.base_score:>=7`},
		{`cve.base_score:>7`, `cve.base_score:>7`},
		{`cve.base_score:<=7`, `cve.base_score:<=7`},
		{`cve.base_score:<-1.5`, `cve.base_score:<-1.5`},
		{`cve.is_cisa_kev:true`, `cve.is_cisa_kev:true`},
		{`a:!'x'`, `a:!'x'`},
		{`a : ! 'x'`, `a:!'x'`},
		{`!a:'x'`, `a:!'x'`},
		{`a:['x','y']`, `a:['x','y']`},
		{`a:[ 'x' , "y" , z ]`, `a:['x','y',z]`},
		{`a:!['x']`, `a:!['x']`},
		{`a:~'text'`, `a:~'text'`},
		{`a:!~'text'`, `a:!~'text'`},
		{`a:*'*x*'`, `a:'*x*'`},
		{`a:'x\'y'`, `a:'x\'y'`},
		{`a:"x'y"`, `a:'x\'y'`},
		{`a:"x\"y"`, `a:'x"y'`},
		{`a:'x\\y'`, `a:'x\\y'`},
		{`a:'x\*y'`, `a:'x\*y'`},
		{`a:'*'`, `a:'*'`},
		{`a:null`, `a:null`},
		{`a:!null`, `a:!null`},
		{`a:'null'`, `a:'null'`},
		{`a:NULL`, `a:NULL`}, // only lowercase bare null is null
		{`t:>now-7d`, `t:>now-7d`},
		{`t:>now+1d`, `t:>now+1d`},
		{`t:>now+1d+s:x`, `t:>now+1d+s:x`},
		{`t:>now+s:x`, `t:>now+s:x`},
		{`t:>'2024-01-01T00:00:00Z'`, `t:>'2024-01-01T00:00:00Z'`},
		{`t:>2024-01-01T00:00:00Z`, `t:>2024-01-01T00:00:00Z`},
		{`a:1+b:2`, `a:1+b:2`},
		{`a:1 + b:2`, `a:1+b:2`},
		{`a:1,b:2`, `(a:1,b:2)`},
		{`a:1 , b:2`, `(a:1,b:2)`},
		{`a:1+b:2,c:3`, `(a:1+b:2,c:3)`},
		{`a:1,b:2+c:3`, `(a:1,b:2+c:3)`},
		{`(a:1,b:2)+c:3`, `(a:1,b:2)+c:3`},
		{`((a:1))`, `a:1`},
		{`(a:1+b:2)+c:3`, `a:1+b:2+c:3`},
		{`(a:1,b:2),c:3`, `(a:1,b:2,c:3)`},
		{"a:'multi\nline'", "a:'multi\nline'"},
		{`a:'ünï'`, `a:'ünï'`},
		{`a:x@y.com`, `a:x@y.com`},
		{`a:C:/x`, `a:C:/x`},
	}
	for _, tt := range tests {
		n, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := n.String(); got != tt.canonical {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.canonical)
		}
		again, err := Parse(n.String())
		if err != nil || again.String() != n.String() {
			t.Errorf("canonical %q re-parses to %v, %v", n.String(), again, err)
		}
	}
}

func TestParseAST(t *testing.T) {
	n := mustParse(t, `a:'x'+b:!['y',z],!c:~'w*'`)
	want := &OrNode{Children: []Node{
		&AndNode{Children: []Node{
			&Comparison{Field: "a", Values: []Literal{{Text: "x", Quoted: true, Offset: 2}}},
			&Comparison{Field: "b", Negate: true, List: true, Offset: 6, Values: []Literal{
				{Text: "y", Quoted: true, Offset: 10}, {Text: "z", Offset: 14}}},
		}},
		&Comparison{Field: "c", Negate: true, Op: OpText, Offset: 18, Values: []Literal{
			{Text: "w*", Quoted: true, Pattern: []string{"w", ""}, Offset: 21}}},
	}}
	if !reflect.DeepEqual(n, want) {
		t.Fatalf("Parse AST mismatch:\n got %#v\nwant %#v", n, want)
	}
}

// TestPrecedence checks the tree shape: AND binds tighter than OR.
func TestPrecedence(t *testing.T) {
	n := mustParse(t, `a:1,b:2+c:3,d:4`)
	or, ok := n.(*OrNode)
	if !ok || len(or.Children) != 3 {
		t.Fatalf("top = %#v, want OR of 3", n)
	}
	and, ok := or.Children[1].(*AndNode)
	if !ok || len(and.Children) != 2 {
		t.Fatalf("middle = %#v, want AND of 2", or.Children[1])
	}
	n = mustParse(t, `(a:1,b:2)+c:3`)
	and, ok = n.(*AndNode)
	if !ok || len(and.Children) != 2 {
		t.Fatalf("top = %#v, want AND of 2", n)
	}
	if _, ok := and.Children[0].(*OrNode); !ok {
		t.Fatalf("first = %#v, want OR", and.Children[0])
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int
		msg    string
	}{
		{`status`, 6, `expected ':' after field name "status"`},
		{`status:open+cve.id'x'`, 18, `expected ':' after field name "cve.id"`},
		{`status 'x'`, 7, `expected ':' after field name "status"`},
		{`status:`, 7, `expected value for field "status", found end of filter`},
		{`status:+a:1`, 7, `expected value for field "status", found '+'`},
		{`status:''`, 7, `empty value for field "status"`},
		{`status:""`, 7, `empty value for field "status"`},
		{`status:'open`, 7, `unterminated quoted value for field "status"`},
		{`status:'open\`, 7, `unterminated quoted value for field "status"`},
		{`status:"open'`, 7, `unterminated quoted value for field "status"`},
		{`a:'x\ny'`, 4, `invalid escape "\n" in value for field "a"; only \', \", \\ and \* are allowed`},
		{`a:1+`, 3, `dangling '+': expected a comparison after it`},
		{`a:1 , `, 4, `dangling ',': expected a comparison after it`},
		{`a:1++b:2`, 4, `expected a comparison after '+', found '+'`},
		{`a:1+,b:2`, 4, `expected a comparison after '+', found ','`},
		{`+a:1`, 0, `expected field name or '(', found '+'`},
		{`,a:1`, 0, `expected field name or '(', found ','`},
		{`(a:1`, 0, `unclosed '('`},
		{`((a:1)`, 0, `unclosed '('`},
		{`(a:1 b:2)`, 5, `expected '+', ',' or ')', found 'b'`},
		{`a:1)`, 3, `unexpected ')' without a matching '('`},
		{`)`, 0, `unexpected ')' without a matching '('`},
		{`()`, 0, `empty parentheses`},
		{`(a:1+)`, 5, `expected a comparison after '+', found ')'`},
		{`a:1 b:2`, 4, `expected '+', ',' or end of filter, found 'b'`},
		{`a:'x'y`, 5, `expected '+', ',' or end of filter, found 'y'`},
		{`a:[]`, 2, `empty value list for field "a"`},
		{`a:['x'`, 2, `unclosed '['`},
		{`a:['x',]`, 7, `expected value after ',' in list for field "a"`},
		{`a:['x' 'y']`, 7, `expected ',' or ']' in value list, found '\''`},
		{`a:>['x']`, 3, `range operator '>' on field "a" takes a single value, not a list`},
		{`a:!>1`, 3, `'!' cannot be combined with range operator '>' on field "a"`},
		{`a:>'x*'`, 5, `wildcard '*' cannot be used with range operator '>' on field "a"`},
		{`a:>null`, 3, `null cannot be used with operator '>' on field "a"`},
		{`a:~null`, 3, `null cannot be used with operator '~' on field "a"`},
		{`a:*x`, 3, `wildcard operator '*' on field "a" must be followed by a quoted value`},
		{`!!a:1`, 0, `'!' before a comparison must be followed by a field name`},
		{`!a:!1`, 3, `double negation on field "a"`},
		{`!(a:1)`, 0, `'!' before a comparison must be followed by a field name`},
		{`1a:1`, 0, `expected field name or '(', found '1'`},
		{`a:=1`, 2, `expected value for field "a", found '='`},
		{`a:ü`, 2, `expected value for field "a", found 'ü'`},
		{`a:1+now+`, 7, `expected ':' after field name "now"`},
		{"a:1+\xff", 4, `expected field name or '(', found invalid UTF-8 byte 0xff`},
	}
	for _, tt := range tests {
		n, err := Parse(tt.in)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, %v; want *SyntaxError", tt.in, n, err)
			continue
		}
		if se.Offset != tt.offset || se.Msg != tt.msg || se.Filter != tt.in {
			t.Errorf("Parse(%q) error = {@%d %q}, want {@%d %q}", tt.in, se.Offset, se.Msg, tt.offset, tt.msg)
		}
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := Parse(`status:open+cve.id 'x'`)
	want := `FQL syntax error at offset 19: expected ':' after field name "cve.id"`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

func TestParseBounds(t *testing.T) {
	long := strings.Repeat("a:1+", MaxFilterLen/4) + "a:1"
	_, err := Parse(long)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != MaxFilterLen || !strings.Contains(se.Msg, "longer than 65536 bytes") {
		t.Fatalf("long filter: err = %v", err)
	}
	// Exactly at the limit is accepted.
	atLimit := "a:'" + strings.Repeat("x", MaxFilterLen-4) + "'"
	if _, err := Parse(atLimit); err != nil {
		t.Fatalf("filter of exactly %d bytes: %v", len(atLimit), err)
	}

	ok := strings.Repeat("(", MaxDepth) + "a:1" + strings.Repeat(")", MaxDepth)
	if _, err := Parse(ok); err != nil {
		t.Fatalf("depth %d: %v", MaxDepth, err)
	}
	deep := strings.Repeat("(", MaxDepth+1) + "a:1" + strings.Repeat(")", MaxDepth+1)
	_, err = Parse(deep)
	if !errors.As(err, &se) || se.Offset != MaxDepth || se.Msg != "parentheses nested deeper than 32 levels" {
		t.Fatalf("deep filter: err = %v", err)
	}
	// Depth is nesting, not the number of groups.
	wide := strings.Repeat("(a:1)+", 1000) + "(a:1)"
	if _, err := Parse(wide); err != nil {
		t.Fatalf("many sibling groups: %v", err)
	}
}

func TestCanonicalFailsClosedForHandBuiltNodes(t *testing.T) {
	bad := []Node{
		&Comparison{Field: "Bad", Values: []Literal{{Text: "x", Quoted: true}}},
		&Comparison{Field: "a"},
		&Comparison{Field: "a", Values: []Literal{{Text: "x"}, {Text: "y"}}}, // two values, not a list
		&Comparison{Field: "a", Op: OpGT, Negate: true, Values: []Literal{{Text: "1"}}},
		&Comparison{Field: "a", Op: OpGT, Values: []Literal{{Pattern: []string{"a", "b"}}}},
		&Comparison{Field: "a", Values: []Literal{{Text: ""}}},
	}
	for _, n := range bad {
		s := n.String()
		if _, err := Parse(s); err == nil {
			t.Errorf("hand-built %#v renders as parseable %q", n, s)
		}
		if _, err := Build(n); err == nil {
			t.Errorf("Build(%#v) succeeded", n)
		}
	}
	// A bare literal that is not a bare word is quoted, not pasted.
	c := &Comparison{Field: "a", Values: []Literal{{Text: `x'+b:'y`}}}
	if got := c.String(); got != `a:'x\'+b:\'y'` {
		t.Errorf("String() = %q", got)
	}
	c = &Comparison{Field: "a", Values: []Literal{{Text: "null"}}}
	if got := c.String(); got != `a:'null'` {
		t.Errorf("non-null literal text null renders %q", got)
	}
}
