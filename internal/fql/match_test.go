package fql

import (
	"math/rand"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFoldEq(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"open", "OPEN", true},
		{"Straße", "STRASSE", false}, // simple folding only, like strings.EqualFold
		{"k", "\u212a", true},        // Kelvin sign folds to k; byte lengths differ
		{"ΣΊΣΥΦΟΣ", "σίσυφος", true},
		{"\xff", "\xfe", false}, // both U+FFFD to EqualFold, but different bytes
		{"\xff", "\xff", true},
		{"\xff", "\uFFFD", false},
		{"a", "ab", false},
		{"", "", true},
	}
	for _, tt := range tests {
		if got := foldEq(tt.a, tt.b); got != tt.want {
			t.Errorf("foldEq(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestGlobFold(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"a*", "abc", true},
		{"*c", "abc", true},
		{"a*c", "abc", true},
		{"a*c", "ac", true},
		{"a*c", "ab", false},
		{"*b*", "abc", true},
		{"*", "", true},
		{"a*a", "a", false}, // prefix and suffix may not overlap
		{"a*b*a", "aba", true},
		{"a*b*a", "abba", true},
		{"a*b*a", "aab", false},
		{"*k*", "x\u212ay", true},
		{"*\u212a", "xK", true},
		{"FalconGroupingTags/*", "falcongroupingtags/BU-finance", true},
	}
	for _, tt := range tests {
		if got := globFold(strings.Split(tt.pattern, "*"), tt.s); got != tt.want {
			t.Errorf("globFold(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// TestMatchersAgainstReference compares the allocation-free matchers with
// obviously-correct but slow references on random valid UTF-8.
func TestMatchersAgainstReference(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	alphabet := []string{"a", "A", "b", "B", "k", "K", "\u212a", "σ", "Σ", "ς", "ß", "*", " ", "-", "1"}
	gen := func(max int) string {
		var b strings.Builder
		for range r.Intn(max + 1) {
			b.WriteString(alphabet[r.Intn(len(alphabet))])
		}
		return b.String()
	}
	for range 20000 {
		a, b := gen(5), gen(5)
		if got, want := foldEq(a, b), strings.EqualFold(a, b); got != want {
			t.Fatalf("foldEq(%q, %q) = %v, EqualFold = %v", a, b, got, want)
		}
		pat := gen(5)
		if !strings.Contains(pat, "*") {
			pat += "*"
		}
		segs := strings.Split(pat, "*")
		quoted := make([]string, len(segs))
		for i, s := range segs {
			quoted[i] = regexp.QuoteMeta(s)
		}
		re := regexp.MustCompile(`(?is)\A` + strings.Join(quoted, ".*") + `\z`)
		s := gen(7)
		if got, want := globFold(segs, s), re.MatchString(s); got != want {
			t.Fatalf("globFold(%q, %q) = %v, regexp = %v", pat, s, got, want)
		}
		key := textKey(a)
		if len(key) > 0 {
			hay := string(textKey(s))
			if got, want := textContains(s, key), strings.Contains(hay, string(key)); got != want {
				t.Fatalf("textContains(%q, %q) = %v, want %v", s, string(key), got, want)
			}
		}
	}
}

func TestTextContains(t *testing.T) {
	tests := []struct {
		s, q string
		want bool
	}{
		{"Remote Code-Execution", "code execution", true},
		{"Remote Code-Execution", "codeexec", true},
		{"Remote Code-Execution", "remote-code", true},
		{"Remote Code-Execution", "execute", false},
		{"liblzma (XZ)", "lzma xz", true},
		{"", "a", false},
	}
	for _, tt := range tests {
		if got := textContains(tt.s, textKey(tt.q)); got != tt.want {
			t.Errorf("textContains(%q, %q) = %v, want %v", tt.s, tt.q, got, tt.want)
		}
	}
	if !utf8.ValidString(string(textKey("ünï"))) {
		t.Fatal("textKey produced invalid runes")
	}
}
