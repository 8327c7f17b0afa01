package fql

import (
	"errors"
	"testing"
)

// FuzzParse: Parse never panics, errors carry an in-range offset, and the
// canonical form re-parses to itself. Filters that parse are also compiled
// and matched, which must not panic either.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`status:'open'+cve.base_score:>=7`,
		`(a:1,b:2)+c:!['x','y']`,
		`host_info.tags:*'*fin*'`,
		`created_timestamp:>now-7d,created_timestamp:<now+1d`,
		`!status:"clo\"sed"`,
		`a:'x\'+b:\'y'`,
	} {
		f.Add(s)
	}
	s := testSchema()
	r := rec(f, s, map[string]any{
		"status": "open", "cve.base_score": 7.5, "host_info.tags": []string{"a", "FalconGroupingTags/x"},
		"cve.description": "remote code", "cve.is_cisa_kev": false, "created_timestamp": testNow,
	})
	f.Fuzz(func(t *testing.T, in string) {
		n, err := Parse(in)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T is not *SyntaxError", in, err)
			}
			if se.Offset < 0 || se.Offset > len(in) {
				t.Fatalf("Parse(%q) offset %d out of range", in, se.Offset)
			}
			return
		}
		canon := n.String()
		if len(canon) <= MaxFilterLen { // escaping can lengthen a filter near the limit
			again, err := Parse(canon)
			if err != nil {
				t.Fatalf("canonical %q of %q does not parse: %v", canon, in, err)
			}
			if got := again.String(); got != canon {
				t.Fatalf("canonical of %q not stable: %q then %q", in, canon, got)
			}
		}
		cf, err := Compile(in, s, testNow)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Compile(%q) error %T %v is not *FieldError", in, err, err)
			}
			return
		}
		got := cf.Match(r)
		typed := cf.String()
		if len(typed) > MaxFilterLen {
			return
		}
		cf2, err := Compile(typed, s, testNow)
		if err != nil {
			t.Fatalf("typed canonical %q of %q does not compile: %v", typed, in, err)
		}
		if cf2.String() != typed {
			t.Fatalf("typed canonical of %q not stable: %q then %q", in, typed, cf2.String())
		}
		if cf2.Match(r) != got {
			t.Fatalf("%q and its canonical %q disagree on the sample record", in, typed)
		}
	})
}

// FuzzQuoteRoundTrip: a quoted value parses back to exactly the original, as
// a single comparison, and an Eq filter on it matches that value.
func FuzzQuoteRoundTrip(f *testing.F) {
	for _, v := range nastyValues {
		f.Add(v)
	}
	s := testSchema()
	f.Fuzz(func(t *testing.T, v string) {
		if v == "" || len(v) > MaxFilterLen/2-32 {
			return
		}
		filter := "host_info.hostname:" + Quote(v)
		n, err := Parse(filter)
		if err != nil {
			t.Fatalf("Parse(%q): %v", filter, err)
		}
		c, ok := n.(*Comparison)
		if !ok || len(c.Values) != 1 || c.List || c.Negate || c.Op != OpEq {
			t.Fatalf("Parse(%q) = %#v, want one equality comparison", filter, n)
		}
		lit := c.Values[0]
		if lit.Text != v || lit.Pattern != nil || !lit.Quoted || lit.Null {
			t.Fatalf("round trip of %q gave %#v", v, lit)
		}
		cf, err := Compile(Eq("host_info.hostname", v).String(), s, testNow)
		if err != nil {
			t.Fatalf("Compile(Eq(%q)): %v", v, err)
		}
		if !cf.Match(rec(t, s, map[string]any{"host_info.hostname": v})) {
			t.Fatalf("Eq(%q) does not match its own value", v)
		}
		if cf.Match(rec(t, s, map[string]any{"host_info.hostname": v + "x"})) {
			t.Fatalf("Eq(%q) matches %q", v, v+"x")
		}
	})
}
