package fql

import (
	"errors"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"testing/quick"
	"time"
	"unicode/utf8"
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{`O'Brien\x`, `'O\'Brien\\x'`},
		{`plain`, `'plain'`},
		{`a*b`, `'a\*b'`},
		{`say "hi"`, `'say "hi"'`},
		{"line\nbreak", "'line\nbreak'"},
		{`\`, `'\\'`},
		{`'`, `'\''`},
		{"ünï€ode", "'ünï€ode'"},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

type status string
type score int

type rawExpr string

func (r rawExpr) String() string { return string(r) }

func TestBuilderString(t *testing.T) {
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("X", 3600))
	tests := []struct {
		name string
		e    Expr
		want string
	}{
		{"eq string", Eq("status", "open"), `status:'open'`},
		{"eq named string", Eq("status", status("open")), `status:'open'`},
		{"eq int", Eq("cve.base_score", 7), `cve.base_score:7`},
		{"eq named int", Eq("cve.base_score", score(9)), `cve.base_score:9`},
		{"eq float", Eq("cve.base_score", 7.5), `cve.base_score:7.5`},
		{"eq big float no plus", Eq("n", 1e21), `n:1e21`},
		{"eq bool", Eq("cve.is_cisa_kev", true), `cve.is_cisa_kev:true`},
		{"eq time utc", Eq("created_timestamp", ts), `created_timestamp:'2023-12-31T23:00:00Z'`},
		{"eq nil is null", Eq("closed_timestamp", nil), `closed_timestamp:null`},
		{"eq string null is quoted", Eq("status", "null"), `status:'null'`},
		{"not eq", NotEq("status", "closed"), `status:!'closed'`},
		{"in", In("status", "open", "reopen"), `status:['open','reopen']`},
		{"not in", NotIn("status", "closed", "x'y"), `status:!['closed','x\'y']`},
		{"cmp ge", Cmp("cve.base_score", ">=", 5), `cve.base_score:>=5`},
		{"cmp time", Cmp("created_timestamp", ">", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)), `created_timestamp:>'2024-01-01T00:00:00Z'`},
		{"cmp relative", Cmp("created_timestamp", ">=", "now-7d"), `created_timestamp:>='now-7d'`},
		{"match", Match("host_info.hostname", "web-*'x"), `host_info.hostname:'web-*\'x'`},
		{"match no star", Match("host_info.hostname", "web"), `host_info.hostname:'web'`},
		{"text", Text("cve.description", "remote code"), `cve.description:~'remote code'`},
		{"and", And(Eq("a", 1), Eq("b", 2)), `a:1+b:2`},
		{"or", Or(Eq("a", 1), Eq("b", 2)), `(a:1,b:2)`},
		{"and parenthesises or", And(Or(Eq("a", 1), Eq("b", 2)), Eq("c", 3)), `(a:1,b:2)+c:3`},
		{"or of ands", Or(And(Eq("a", 1), Eq("b", 2)), Eq("c", 3)), `(a:1+b:2,c:3)`},
		{"nil dropped", And(nil, Eq("a", 1), nil), `a:1`},
		{"empty dropped", And(And(), Or(), Eq("a", 1)), `a:1`},
		{"typed nil dropped", And((*Comparison)(nil), Eq("a", 1)), `a:1`},
		{"nested and flattened", And(And(Eq("a", 1), Eq("b", 2)), Eq("c", 3)), `a:1+b:2+c:3`},
		{"single or", Or(Eq("a", 1)), `a:1`},
		{"empty and", And(), ``},
		{"parsed node composes", And(mustParse(t, "a:1,b:2"), Eq("c", 3)), `(a:1,b:2)+c:3`},
		{"foreign expr reparsed", And(rawExpr("a:1,b:2"), Eq("c", 3)), `(a:1,b:2)+c:3`},
		{"foreign empty dropped", And(rawExpr("  "), Eq("c", 3)), `c:3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			got, err := Build(tt.e)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if got != tt.want {
				t.Errorf("Build() = %q, want %q", got, tt.want)
			}
		})
	}
}

func mustParse(t testing.TB, s string) Node {
	t.Helper()
	n, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return n
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name      string
		e         Expr
		wantField string
		wantMsg   string
	}{
		{"uppercase field", Eq("Host.Name", "x"), "Host.Name", `FQL field "Host.Name" is not a valid field name (must match ^[a-z_][a-z0-9_.]*$)`},
		{"injection in field", Eq("a:'x'+b", "x"), "a:'x'+b", `is not a valid field name`},
		{"empty field", In("", "x"), "", `is not a valid field name`},
		{"digit start", Cmp("1a", ">", 1), "1a", `is not a valid field name`},
		{"bad field inside and", And(Eq("ok", 1), Or(Eq("bad name", 1))), "bad name", `is not a valid field name`},
		{"empty string", Eq("status", ""), "status", `FQL field "status" has an empty value`},
		{"empty in", In("status"), "status", ReasonEmptyList},
		{"empty in item", In("status", "a", ""), "status", "empty value"},
		{"bad op", Cmp("cve.base_score", "=>", 1), "cve.base_score", `cannot use operator "=>"`},
		{"bool cmp", Cmp("cve.base_score", ">", true), "cve.base_score", "cannot compare"},
		{"nan", Eq("cve.base_score", math.NaN()), "cve.base_score", "non-finite"},
		{"unsupported type", Eq("status", []string{"a"}), "status", "unsupported value type []string"},
		{"empty pattern", Match("cve.id", ""), "cve.id", "empty pattern"},
		{"hand-built comparison without values", &Comparison{Field: "status"}, "status", "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Build(tt.e)
			if err == nil {
				t.Fatalf("Build = %q, want error", s)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %v is not a *FieldError", err, err)
			}
			if fe.Field != tt.wantField {
				t.Errorf("Field = %q, want %q", fe.Field, tt.wantField)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			// String() must fail closed: never empty (match-all), never parseable.
			str := tt.e.String()
			if str == "" {
				t.Fatalf("String() of invalid expr is empty, which would match everything")
			}
			if _, perr := Parse(str); perr == nil {
				t.Errorf("String() of invalid expr %q parses", str)
			}
		})
	}
}

func TestBuildForeignExprThatDoesNotParse(t *testing.T) {
	_, err := Build(And(Eq("a", 1), rawExpr("a:'x")))
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want wrapped *SyntaxError", err)
	}
}

func TestBuildNil(t *testing.T) {
	s, err := Build(nil)
	if err != nil || s != "" {
		t.Fatalf("Build(nil) = %q, %v; want \"\", nil", s, err)
	}
}

// nastyValues are the explicit cases for the escaping property.
var nastyValues = []string{
	`x'+cve.id:'CVE-1`,
	`x"+cve.id:"CVE-1`,
	`x\'+cve.id:\'CVE-1`,
	`\`, `\\`, `'`, `''`, `"`, `\'`, `'\`,
	`*`, `**`, `a*b`, `\*`,
	`a,b`, `a+b`, `[a]`, `(a)`, `a:b`, `!a`, `~a`, `>=5`, `null`, `true`, `now+1d`,
	"line\nbreak", "tab\there", "nul\x00byte", "\xff\xfe invalid utf8",
	"ünïcödé", "Σίσυφος", "日本語", "🙂", "K", "ß",
	" leading and trailing ",
}

// TestEscapingProperty: for any string v, Compile(Eq(f, v).String()) matches
// a record whose field is v and does not match one whose field is another
// string. The field allows wildcards, so an unescaped '*' would be caught.
func TestEscapingProperty(t *testing.T) {
	s := testSchema()
	check := func(v, other string) bool {
		if v == "" {
			return true
		}
		built, err := Build(Eq("host_info.hostname", v))
		if err != nil {
			t.Errorf("Build(Eq(%q)): %v", v, err)
			return false
		}
		n := mustParse(t, built)
		if c := countComparisons(n); c != 1 {
			t.Errorf("value %q produced %d comparisons in %q", v, c, built)
			return false
		}
		f, err := Compile(built, s, testNow)
		if err != nil {
			t.Errorf("Compile(%q): %v", built, err)
			return false
		}
		if !f.Match(rec(t, s, map[string]any{"host_info.hostname": v})) {
			t.Errorf("filter %q does not match its own value %q", built, v)
			return false
		}
		if !foldEq(other, v) && f.Match(rec(t, s, map[string]any{"host_info.hostname": other})) {
			t.Errorf("filter %q (value %q) matches different value %q", built, v, other)
			return false
		}
		return true
	}
	for _, v := range nastyValues {
		for _, other := range append(slicesWithout(nastyValues, v), v+"x", "x"+v, strings.ToUpper(v)+"\x00") {
			check(v, other)
		}
	}
	cfg := &quick.Config{
		MaxCount: 2000,
		Rand:     rand.New(rand.NewSource(1)),
		Values: func(args []reflect.Value, r *rand.Rand) {
			args[0] = reflect.ValueOf(nastyString(r))
			args[1] = reflect.ValueOf(nastyString(r))
		},
	}
	if err := quick.Check(check, cfg); err != nil {
		t.Fatal(err)
	}
}

func slicesWithout(xs []string, drop string) []string {
	var out []string
	for _, x := range xs {
		if x != drop {
			out = append(out, x)
		}
	}
	return out
}

// nastyString draws from FQL's special characters, unicode and raw bytes.
func nastyString(r *rand.Rand) string {
	pieces := []string{"'", `"`, `\`, "*", ",", "+", "[", "]", "(", ")", ":", "!", "~", ">", "<", "=",
		" ", "\n", "\t", "a", "B", "z", "0", "9", "-", ".", "null", "now", "ü", "ß", "K", "Σ", "日", "🙂", "\xff", "\x00"}
	n := 1 + r.Intn(12)
	var b strings.Builder
	for range n {
		if r.Intn(8) == 0 {
			b.WriteRune(rune(r.Intn(0x2FFFF)))
			continue
		}
		b.WriteString(pieces[r.Intn(len(pieces))])
	}
	return b.String()
}

func TestInjectionCannotAddClause(t *testing.T) {
	hostile := `x'+cve.id:'CVE-1`
	built, err := Build(And(Eq("host_info.hostname", hostile), Eq("status", "open")))
	if err != nil {
		t.Fatal(err)
	}
	n := mustParse(t, built)
	if c := countComparisons(n); c != 2 {
		t.Fatalf("%q parsed into %d comparisons, want 2", built, c)
	}
	and := n.(*AndNode)
	c := and.Children[0].(*Comparison)
	if c.Field != "host_info.hostname" || c.Values[0].Text != hostile {
		t.Fatalf("first comparison = %+v, want hostname with the hostile value intact", c)
	}
	// Single comparison on its own.
	if c := countComparisons(mustParse(t, Eq("host_info.hostname", hostile).String())); c != 1 {
		t.Fatalf("got %d comparisons, want 1", c)
	}
}

func TestMatchBuilderEscapesAllButStar(t *testing.T) {
	s := testSchema()
	f, err := Compile(Match("host_info.hostname", `web'*\prod`).String(), s, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range map[string]bool{
		`web'01\prod`:  true,
		`WEB'\prod`:    true,
		`web01\prod`:   false,
		`web'01\prodx`: false,
	} {
		if got := f.Match(rec(t, s, map[string]any{"host_info.hostname": v})); got != want {
			t.Errorf("Match(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestQuoteValidUTF8Preserved(t *testing.T) {
	for _, v := range nastyValues {
		q := Quote(v)
		if utf8.ValidString(v) != utf8.ValidString(q) {
			t.Errorf("Quote(%q) changed UTF-8 validity", v)
		}
	}
}
