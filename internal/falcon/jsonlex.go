package falcon

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// lexer is a small pull JSON reader over a complete document in memory. The
// findings hot path decodes Spotlight pages with it straight into Finding,
// which avoids encoding/json's reflection and the intermediate structs (see
// BenchmarkDecode* for the measured difference). It accepts exactly RFC 8259
// JSON; strings are unescaped like encoding/json does (invalid UTF-8 becomes
// U+FFFD, byte by byte).
type lexer struct {
	data    []byte
	pos     int
	scratch []byte
	in      *interner
}

// errSyntax marks a malformed document; callers treat it as a truncated or
// invalid page.
var errSyntax = errors.New("invalid JSON")

func (l *lexer) fail(what string) error {
	if l.pos >= len(l.data) {
		return fmt.Errorf("%w: unexpected end of input after %d bytes (%s)", errSyntax, len(l.data), what)
	}
	return fmt.Errorf("%w at offset %d: %s", errSyntax, l.pos, what)
}

func (l *lexer) ws() {
	// Falcon's JSON is compact: the common case is no whitespace at all.
	if l.pos < len(l.data) && l.data[l.pos] > ' ' {
		return
	}
	for l.pos < len(l.data) {
		switch l.data[l.pos] {
		case ' ', '\t', '\n', '\r':
			l.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it (0 at the end).
func (l *lexer) peek() byte {
	if l.pos < len(l.data) {
		if c := l.data[l.pos]; c > ' ' {
			return c
		}
	}
	l.ws()
	if l.pos >= len(l.data) {
		return 0
	}
	return l.data[l.pos]
}

// null consumes a literal null if it comes next.
func (l *lexer) null() bool {
	if l.peek() == 'n' && l.pos+4 <= len(l.data) && string(l.data[l.pos:l.pos+4]) == "null" {
		l.pos += 4
		return true
	}
	return false
}

// object reads an object, calling fn for each key with the lexer positioned
// at the value; fn must consume the value. A null object calls fn never.
func (l *lexer) object(fn func(key []byte) error) error {
	if l.null() {
		return nil
	}
	if l.peek() != '{' {
		return l.fail("expected an object")
	}
	l.pos++
	if l.peek() == '}' {
		l.pos++
		return nil
	}
	for {
		if l.peek() != '"' {
			return l.fail("expected an object key")
		}
		key, err := l.rawString()
		if err != nil {
			return err
		}
		// Keys are compared while the scratch buffer may be reused by the
		// value, so keep keys that needed unescaping in their own copy.
		if len(l.scratch) > 0 && len(key) > 0 && &key[0] == &l.scratch[0] {
			key = append([]byte(nil), key...)
		}
		if l.peek() != ':' {
			return l.fail("expected ':' after object key")
		}
		l.pos++
		if err := fn(key); err != nil {
			return err
		}
		switch l.peek() {
		case ',':
			l.pos++
		case '}':
			l.pos++
			return nil
		default:
			return l.fail("expected ',' or '}' in object")
		}
	}
}

// array reads an array, calling fn with the lexer positioned at each element.
// A null array calls fn never.
func (l *lexer) array(fn func() error) error {
	if l.null() {
		return nil
	}
	if l.peek() != '[' {
		return l.fail("expected an array")
	}
	l.pos++
	if l.peek() == ']' {
		l.pos++
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		switch l.peek() {
		case ',':
			l.pos++
		case ']':
			l.pos++
			return nil
		default:
			return l.fail("expected ',' or ']' in array")
		}
	}
}

// rawString reads a string token and returns its unescaped bytes, which alias
// either the input or the scratch buffer: valid until the next call.
func (l *lexer) rawString() ([]byte, error) {
	if l.peek() != '"' {
		return nil, l.fail("expected a string")
	}
	l.pos++
	start := l.pos
	for i := plainRun(l.data, l.pos); i < len(l.data); i++ {
		c := l.data[i]
		switch {
		case c == '"':
			l.pos = i + 1
			return l.data[start:i], nil
		case c == '\\' || c >= utf8.RuneSelf:
			l.pos = i
			return l.slowString(start)
		case c < 0x20:
			l.pos = i
			return nil, l.fail("control character in string")
		}
	}
	l.pos = len(l.data)
	return nil, l.fail("unterminated string")
}

// plainRun returns the index of the first byte at or after i that needs a
// look (quote, backslash, control or non-ASCII), checking eight bytes at a
// time: long strings (descriptions, URLs) are most of a page's bytes.
func plainRun(d []byte, i int) int {
	const (
		lsb = 0x0101010101010101
		msb = 0x8080808080808080
	)
	for ; i+8 <= len(d); i += 8 {
		x := binary.LittleEndian.Uint64(d[i:])
		q := x ^ (lsb * '"')
		b := x ^ (lsb * '\\')
		// Per byte: zero quote/backslash, below 0x20, or high bit set.
		special := ((q - lsb) &^ q) | ((b - lsb) &^ b) | (x - lsb*0x20) | x
		if special&msb != 0 {
			return i
		}
	}
	return i
}

// skipString consumes a string token without unescaping it.
func (l *lexer) skipString() error {
	l.pos++ // opening quote
	for i := plainRun(l.data, l.pos); i < len(l.data); i++ {
		switch c := l.data[i]; {
		case c == '"':
			l.pos = i + 1
			return nil
		case c == '\\':
			l.pos = i
			return l.skipStringSlow()
		case c < 0x20:
			l.pos = i
			return l.fail("control character in string")
		}
	}
	l.pos = len(l.data)
	return l.fail("unterminated string")
}

// skipStringSlow validates escapes while skipping; UTF-8 needs no check
// here (invalid bytes are replaced when a string is read, never rejected).
func (l *lexer) skipStringSlow() error {
	for l.pos < len(l.data) {
		switch c := l.data[l.pos]; {
		case c == '"':
			l.pos++
			return nil
		case c == '\\':
			if l.pos+1 >= len(l.data) {
				l.pos = len(l.data)
				return l.fail("unterminated escape")
			}
			switch l.data[l.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				l.pos += 2
			case 'u':
				l.pos += 2
				if _, ok := l.hex4(); !ok {
					return l.fail("bad \\u escape")
				}
			default:
				return l.fail("bad escape in string")
			}
		case c < 0x20:
			return l.fail("control character in string")
		default:
			l.pos++
		}
	}
	return l.fail("unterminated string")
}

// slowString finishes a string that has escapes or non-ASCII bytes.
func (l *lexer) slowString(start int) ([]byte, error) {
	buf := append(l.scratch[:0], l.data[start:l.pos]...)
	for l.pos < len(l.data) {
		c := l.data[l.pos]
		switch {
		case c == '"':
			l.pos++
			l.scratch = buf
			return buf, nil
		case c == '\\':
			if l.pos+1 >= len(l.data) {
				l.pos = len(l.data)
				return nil, l.fail("unterminated escape")
			}
			e := l.data[l.pos+1]
			l.pos += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := l.hex4()
				if !ok {
					return nil, l.fail("bad \\u escape")
				}
				if utf16.IsSurrogate(r) {
					// A high surrogate followed by a low one is one rune;
					// anything else is replaced, as encoding/json does.
					r2 := rune(-1)
					if l.pos+1 < len(l.data) && l.data[l.pos] == '\\' && l.data[l.pos+1] == 'u' {
						save := l.pos
						l.pos += 2
						var ok2 bool
						if r2, ok2 = l.hex4(); !ok2 {
							return nil, l.fail("bad \\u escape")
						}
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							buf = utf8.AppendRune(buf, d)
							continue
						}
						l.pos = save
					}
					r = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r)
			default:
				l.pos -= 2
				return nil, l.fail("bad escape in string")
			}
		case c < 0x20:
			return nil, l.fail("control character in string")
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			l.pos++
		default:
			r, size := utf8.DecodeRune(l.data[l.pos:])
			if r == utf8.RuneError && size == 1 {
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else {
				buf = append(buf, l.data[l.pos:l.pos+size]...)
			}
			l.pos += size
		}
	}
	return nil, l.fail("unterminated string")
}

func (l *lexer) hex4() (rune, bool) {
	if l.pos+4 > len(l.data) {
		return 0, false
	}
	var r rune
	for _, c := range l.data[l.pos : l.pos+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	l.pos += 4
	return r, true
}

// uniqueStr reads a string that is not worth interning (an id that occurs
// once per stream).
func (l *lexer) uniqueStr() (string, error) {
	if l.null() {
		return "", nil
	}
	b, err := l.rawString()
	return string(b), err
}

// str reads a string (null → ""), interned when an interner is attached.
func (l *lexer) str() (string, error) {
	if l.null() {
		return "", nil
	}
	b, err := l.rawString()
	if err != nil {
		return "", err
	}
	if l.in != nil {
		return l.in.get(b), nil
	}
	return string(b), nil
}

// strs reads an array of strings (null → nil).
func (l *lexer) strs() ([]string, error) {
	var out []string
	err := l.array(func() error {
		s, err := l.str()
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// numberToken returns the bytes of a JSON number, validating its grammar.
func (l *lexer) numberToken() ([]byte, error) {
	l.ws()
	start := l.pos
	d := l.data
	i := l.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	default:
		l.pos = i
		return nil, l.fail("expected a number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			l.pos = i
			return nil, l.fail("bad number fraction")
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			l.pos = i
			return nil, l.fail("bad number exponent")
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	l.pos = i
	return d[start:i], nil
}

// float reads a number (null → 0).
func (l *lexer) float() (float64, error) {
	if l.null() {
		return 0, nil
	}
	tok, err := l.numberToken()
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return 0, fmt.Errorf("%w: number %q out of range", errSyntax, tok)
	}
	return f, nil
}

// int reads an integer (null → 0). Like encoding/json into an int, a
// fraction or exponent is an error.
func (l *lexer) int() (int64, error) {
	if l.null() {
		return 0, nil
	}
	tok, err := l.numberToken()
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(tok), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not an integer", errSyntax, tok)
	}
	return n, nil
}

// boolean reads true/false (null → false).
func (l *lexer) boolean() (bool, error) {
	if l.null() {
		return false, nil
	}
	l.ws()
	d := l.data[l.pos:]
	switch {
	case len(d) >= 4 && string(d[:4]) == "true":
		l.pos += 4
		return true, nil
	case len(d) >= 5 && string(d[:5]) == "false":
		l.pos += 5
		return false, nil
	}
	return false, l.fail("expected true or false")
}

// skip consumes any value, validating it.
func (l *lexer) skip() error {
	return l.skipDepth(0)
}

func (l *lexer) skipDepth(depth int) error {
	if depth > 1000 {
		return l.fail("nesting too deep")
	}
	switch c := l.peek(); c {
	case '{':
		return l.object(func([]byte) error { return l.skipDepth(depth + 1) })
	case '[':
		return l.array(func() error { return l.skipDepth(depth + 1) })
	case '"':
		return l.skipString()
	case 't', 'f':
		_, err := l.boolean()
		return err
	case 'n':
		if l.null() {
			return nil
		}
		return l.fail("expected null")
	default:
		_, err := l.numberToken()
		return err
	}
}

// end checks that only whitespace remains.
func (l *lexer) end() error {
	l.ws()
	if l.pos != len(l.data) {
		return l.fail("unexpected data after the document")
	}
	return nil
}

// interner deduplicates the strings of a stream: Spotlight pages repeat the
// same hostnames, product names, CVE descriptions and vectors thousands of
// times, so sharing them saves both allocations and the consumer's memory.
// It is bounded so that a long stream never grows it without limit.
type interner struct {
	m     map[string]string
	bytes int
}

const (
	internMaxLen     = 4 << 10 // longer strings are rare and not worth keeping
	internMaxBytes   = 2 << 20 // reset past this (or internMaxEntries), keeping memory bounded
	internMaxEntries = 32 << 10
)

func newInterner() *interner { return &interner{m: make(map[string]string, 1024)} }

func (in *interner) get(b []byte) string {
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(b) > internMaxLen {
		return s
	}
	if in.bytes+len(s) > internMaxBytes || len(in.m) >= internMaxEntries {
		clear(in.m)
		in.bytes = 0
	}
	in.m[s] = s
	in.bytes += len(s)
	return s
}

// clampInt converts a decoded int64 to int without overflow surprises on
// 32-bit platforms.
func clampInt(n int64) int {
	if n > math.MaxInt {
		return math.MaxInt
	}
	if n < math.MinInt {
		return math.MinInt
	}
	return int(n)
}
