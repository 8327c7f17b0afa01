package falconsim

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// The simulator renders every response by appending to a byte slice instead
// of going through encoding/json: a 5000-finding page is a few MB of JSON and
// reflection per finding would dominate the cost of serving it. The helpers
// below produce byte-for-byte what encoding/json.Marshal produces for the same
// Go values (HTML-escaping on, invalid UTF-8 replaced by U+FFFD, U+2028/2029
// escaped, ES6 float formatting), which jsonenc_test.go checks.

const hexDigits = "0123456789abcdef"

// jsonSafe[b] is true for ASCII bytes encoding/json copies unescaped when
// HTML escaping is on.
var jsonSafe = func() [utf8.RuneSelf]bool {
	var t [utf8.RuneSelf]bool
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = true
	}
	for _, b := range []byte{'"', '\\', '<', '>', '&'} {
		t[b] = false
	}
	return t
}()

// appendJSONString appends s as a JSON string literal.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendJSONStringContent(dst, s)
	return append(dst, '"')
}

// appendJSONStringContent appends s escaped, without the quotes, so callers
// can build one literal from several parts without concatenating strings.
func appendJSONStringContent(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if jsonSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// appendJSONFloat appends f the way encoding/json encodes a float64.
// NaN and infinities have no JSON form; they are written as 0 because the
// simulator never produces them from validated data.
func appendJSONFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, '0')
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// falconTimeLayout is how Falcon renders timestamps (UTC, second precision).
const falconTimeLayout = "2006-01-02T15:04:05Z"

// appendJSONTime appends a Falcon timestamp string for Unix seconds. It
// formats the digits itself: time.AppendFormat was a fifth of the cost of a
// Spotlight page.
func appendJSONTime(dst []byte, unix int64) []byte {
	t := time.Unix(unix, 0).UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, falconTimeLayout)
		return append(dst, '"')
	}
	h, mi, sec := t.Clock()
	return append(dst, '"',
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+sec/10), byte('0'+sec%10), 'Z', '"')
}

// jsonObj is a tiny helper for writing objects field by field. The zero
// value is not usable; start with newObj.
type jsonObj struct {
	b     []byte
	first bool
}

func beginObj(b []byte) jsonObj { return jsonObj{b: append(b, '{'), first: true} }

func (o *jsonObj) key(k string) {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

func (o *jsonObj) str(k, v string) {
	o.key(k)
	o.b = appendJSONString(o.b, v)
}

// strOmit writes k only when v is not empty (json ",omitempty").
func (o *jsonObj) strOmit(k, v string) {
	if v != "" {
		o.str(k, v)
	}
}

func (o *jsonObj) int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *jsonObj) float(k string, v float64) {
	o.key(k)
	o.b = appendJSONFloat(o.b, v)
}

func (o *jsonObj) bool(k string, v bool) {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

func (o *jsonObj) time(k string, unix int64) {
	o.key(k)
	o.b = appendJSONTime(o.b, unix)
}

func (o *jsonObj) null(k string) {
	o.key(k)
	o.b = append(o.b, "null"...)
}

// raw writes a pre-rendered JSON value.
func (o *jsonObj) raw(k string, v []byte) {
	o.key(k)
	o.b = append(o.b, v...)
}

func (o *jsonObj) strs(k string, vs []string) {
	o.key(k)
	o.b = appendJSONStrings(o.b, vs)
}

func (o *jsonObj) end() []byte { return append(o.b, '}') }

// appendJSONStrings appends a JSON array of strings; nil and empty slices
// become [] (Falcon sends empty arrays, not null, for list fields). It is
// appendArray spelled out so that appendJSONString inlines: string lists
// are on every render path.
func appendJSONStrings(dst []byte, vs []string) []byte {
	dst = append(dst, '[')
	for i, v := range vs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, v)
	}
	return append(dst, ']')
}

// appendArray appends items as a JSON array, each rendered by each.
func appendArray[T any](dst []byte, items []T, each func(b []byte, it T) []byte) []byte {
	dst = append(dst, '[')
	for i, it := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = each(dst, it)
	}
	return append(dst, ']')
}
