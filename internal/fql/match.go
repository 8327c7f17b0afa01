package fql

import (
	"unicode"
	"unicode/utf8"
)

// The helpers below compare case-insensitively without allocating. Unlike
// strings.EqualFold they treat each invalid UTF-8 byte as itself, so "\xff"
// and "\xfe" (both U+FFFD to EqualFold) do not match each other.

// foldStep compares the first character of a and b (both non-empty) and
// returns how many bytes each used.
func foldStep(a, b string) (int, int, bool) {
	ca, cb := a[0], b[0]
	if ca < utf8.RuneSelf && cb < utf8.RuneSelf {
		return 1, 1, ca == cb || asciiFoldEq(ca, cb)
	}
	ra, na := utf8.DecodeRuneInString(a)
	rb, nb := utf8.DecodeRuneInString(b)
	if (ra == utf8.RuneError && na == 1) || (rb == utf8.RuneError && nb == 1) {
		return na, nb, na == 1 && nb == 1 && ca == cb
	}
	return na, nb, runeFoldEq(ra, rb)
}

func runeFoldEq(a, b rune) bool {
	if a == b {
		return true
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

func foldEq(a, b string) bool {
	if a == b {
		return true
	}
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if ca, cb := a[i], b[j]; ca|cb < utf8.RuneSelf {
			if ca != cb && !asciiFoldEq(ca, cb) {
				return false
			}
			i, j = i+1, j+1
			continue
		}
		na, nb, ok := foldStep(a[i:], b[j:])
		if !ok {
			return false
		}
		i, j = i+na, j+nb
	}
	return i == len(a) && j == len(b)
}

// asciiFoldEq compares two different ASCII bytes ignoring letter case.
func asciiFoldEq(a, b byte) bool {
	l := a | 0x20
	return l == b|0x20 && l >= 'a' && l <= 'z'
}

// foldPrefix reports whether s starts with p, returning the bytes of s used.
func foldPrefix(s, p string) (int, bool) {
	i, j := 0, 0
	for j < len(p) {
		if i >= len(s) {
			return 0, false
		}
		if cs, cp := s[i], p[j]; cs|cp < utf8.RuneSelf {
			if cs != cp && !asciiFoldEq(cs, cp) {
				return 0, false
			}
			i, j = i+1, j+1
			continue
		}
		ns, np, ok := foldStep(s[i:], p[j:])
		if !ok {
			return 0, false
		}
		i, j = i+ns, j+np
	}
	return i, true
}

func runeLen(s string) int {
	if s[0] < utf8.RuneSelf {
		return 1
	}
	_, n := utf8.DecodeRuneInString(s)
	return n
}

// globFold matches s against a wildcard pattern given as the literal segments
// between '*'s (len(segs) >= 2): s must start with the first, end with the
// last, and contain the middle ones in order. Taking each middle segment's
// leftmost occurrence is optimal, so there is no backtracking.
func globFold(segs []string, s string) bool {
	n, ok := foldPrefix(s, segs[0])
	if !ok {
		return false
	}
	s = s[n:]
	for _, seg := range segs[1 : len(segs)-1] {
		if seg == "" {
			continue
		}
		found := false
		for i := 0; i < len(s); i += runeLen(s[i:]) {
			if n, ok := foldPrefix(s[i:], seg); ok {
				s, found = s[i+n:], true
				break
			}
		}
		if !found {
			return false
		}
	}
	last := segs[len(segs)-1]
	if last == "" {
		return true
	}
	// Case folding can change byte lengths, so try each start rather than
	// slicing off len(last) bytes.
	for i := 0; i < len(s); i += runeLen(s[i:]) {
		if n, ok := foldPrefix(s[i:], last); ok && i+n == len(s) {
			return true
		}
	}
	return false
}

// textContains reports whether the letters and digits of s, lowercased,
// contain key (see textKey) as a contiguous run.
func textContains(s string, key []rune) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if isTextRune(r) && textPrefix(s[i:], key) {
			return true
		}
		i += n
	}
	return false
}

func textPrefix(s string, key []rune) bool {
	k := 0
	for _, r := range s {
		if k == len(key) {
			return true
		}
		if !isTextRune(r) {
			continue
		}
		if unicode.ToLower(r) != key[k] {
			return false
		}
		k++
	}
	return k == len(key)
}

func isTextRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}
