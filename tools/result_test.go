package tools

import (
	"strings"
	"testing"
	"unicode"
)

func TestClean(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 10, "plain"},
		{"a  b", 10, "a b"},
		{" a ", 10, "a"},
		{"a\tb", 10, "a b"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven chr!", 10, "eleven ch…"},
		{"  spaced \n\t out  ", 40, "spaced out"},
		{"a\x1b[31mred\x07", 20, "a[31mred"},
		{"right\u202eto\u200bleft\ufeff", 20, "righttoleft"},
		{"abcdefghij", 5, "abcd…"},
		{"ééééé", 5, "ééééé"},
		{"éééééé", 5, "éééé…"},
		{"bad\xffutf8", 20, "badutf8"},
		{"", 5, ""},
	}
	for _, tc := range tests {
		if got := clean(tc.in, tc.max); got != tc.want {
			t.Errorf("clean(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
	hostile := clean(hostileAlert+strings.Repeat("x", 1000), 300)
	for _, r := range hostile {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			t.Fatalf("control or format character %U survived", r)
		}
	}
	if n := len([]rune(hostile)); n > 300 {
		t.Fatalf("%d runes", n)
	}
}

func TestCursorBinding(t *testing.T) {
	c := cursor{Tool: "risk_prioritize", Query: queryDigest("tier:'P1'"), Gen: 3, Off: 10}
	s := c.encode()
	got, err := decodeCursor(s, "risk_prioritize", queryDigest("tier:'P1'"))
	if err != nil || got.Off != 10 || got.Gen != 3 {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	tests := []struct {
		raw, tool, query, want string
	}{
		{s, "risk_threat_active", queryDigest("tier:'P1'"), "issued by risk_prioritize, not risk_threat_active"},
		{s, "risk_prioritize", queryDigest("tier:'P2'"), "belongs to a different query"},
		{"%%%", "risk_prioritize", "", "not a cursor this server issued"},
		{cursor{Tool: "risk_prioritize", Off: -5}.encode(), "risk_prioritize", "", "not a cursor this server issued"},
	}
	for _, tc := range tests {
		if _, err := decodeCursor(tc.raw, tc.tool, tc.query); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("decodeCursor: %v, want %q", err, tc.want)
		}
	}
}
