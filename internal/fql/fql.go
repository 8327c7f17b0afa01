// Package fql builds, parses and evaluates CrowdStrike Falcon Query Language
// filters.
//
// Three callers with different needs share it:
//   - the Falcon client builds filters from untrusted values (hostnames, tags,
//     CVE ids), so the builder escapes every value and cannot be made to emit
//     an extra clause;
//   - the MCP tools validate user-written filters against a schema and report
//     errors that name the field and what is allowed;
//   - the offline simulator evaluates filters over millions of records, so a
//     compiled Filter matches without allocating.
//
// Grammar (whitespace is allowed between tokens):
//
//	filter     = [ or ]
//	or         = and { "," and }            // "," is OR
//	and        = term { "+" term }          // "+" is AND and binds tighter
//	term       = "(" or ")" | [ "!" ] comparison
//	comparison = field ":" [ "!" ] [ op ] ( value | "[" value { "," value } "]" )
//	op         = ">" | ">=" | "<" | "<=" | "~" | "*"
//	value      = 'quoted' | "quoted" | bare | null
//
// Inside quotes the escapes \' \" \\ and \* are recognised; an unescaped '*'
// is a wildcard. A bare value is a run of letters, digits and _ . : - / @
// (plus the relative-time form now+1d).
package fql

import (
	"fmt"
	"slices"
	"strings"
)

// MaxFilterLen bounds the input Parse and Compile accept, so a hostile filter
// cannot make the parser or matcher do unbounded work.
const MaxFilterLen = 64 << 10

// MaxDepth bounds parenthesis nesting; the parser is recursive.
const MaxDepth = 32

// Kind is the type of a schema field's values.
type Kind int

// Field kinds.
const (
	String Kind = iota
	Number
	Time
	Bool
)

func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Number:
		return "number"
	case Time:
		return "time"
	case Bool:
		return "bool"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Field describes one filterable property.
type Field struct {
	Name     string
	Kind     Kind
	Wildcard bool // '*' allowed in values
	Range    bool // > >= < <= allowed
}

// Schema is the set of fields a filter may reference. It is immutable once
// built and safe for concurrent use.
type Schema struct {
	fields []Field
	byName map[string]int
	names  []string // sorted
}

// NewSchema builds a schema; Index(name) is the field's position in fields.
// Schemas are static tables written in code, so an invalid or duplicate name
// is a programming error and panics (like regexp.MustCompile).
func NewSchema(fields ...Field) *Schema {
	s := &Schema{
		fields: slices.Clone(fields),
		byName: make(map[string]int, len(fields)),
		names:  make([]string, 0, len(fields)),
	}
	for i, f := range fields {
		if !validFieldName(f.Name) {
			panic(fmt.Sprintf("fql.NewSchema: invalid field name %q (must match %s)", f.Name, fieldNamePattern))
		}
		if _, dup := s.byName[f.Name]; dup {
			panic(fmt.Sprintf("fql.NewSchema: duplicate field %q", f.Name))
		}
		s.byName[f.Name] = i
		s.names = append(s.names, f.Name)
	}
	slices.Sort(s.names)
	return s
}

// Names returns the field names, sorted.
func (s *Schema) Names() []string { return slices.Clone(s.names) }

// Index returns the position of the named field as given to NewSchema.
func (s *Schema) Index(name string) (int, bool) {
	i, ok := s.byName[name]
	return i, ok
}

// Len is the number of fields.
func (s *Schema) Len() int { return len(s.fields) }

// Field returns the i'th field as given to NewSchema.
func (s *Schema) Field(i int) Field { return s.fields[i] }

// namesWhere lists (sorted) the fields satisfying keep; never nil, so a
// FieldError can say "no fields do" rather than omitting the list.
func (s *Schema) namesWhere(keep func(Field) bool) []string {
	out := []string{}
	for _, n := range s.names {
		if keep(s.fields[s.byName[n]]) {
			out = append(out, n)
		}
	}
	return out
}

const fieldNamePattern = `^[a-z_][a-z0-9_.]*$`

func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// SyntaxError reports malformed FQL at a byte offset of the input.
type SyntaxError struct {
	Filter string
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("FQL syntax error at offset %d: %s", e.Offset, e.Msg)
}

// Reasons used in FieldError.Reason. Value errors use a free-form reason
// such as `expects a number, got "abc"`.
const (
	ReasonUnknown   = "unknown field"
	ReasonName      = "is not a valid field name (must match " + fieldNamePattern + ")"
	ReasonRange     = "does not support range comparisons"
	ReasonWildcard  = "does not support wildcards"
	ReasonText      = "does not support text match (~)"
	ReasonEmptyList = "needs at least one value"
)

// FieldError reports a filter that is well-formed but names an unknown field,
// uses an operator the field does not allow, or gives a value of the wrong
// type.
type FieldError struct {
	Field string
	// Allowed lists the schema's fields for ReasonUnknown, and the fields
	// that do support the operator for operator reasons (empty, not nil, when
	// none do). It is nil for value errors.
	Allowed []string
	Reason  string
	// Offset is the byte offset in the filter of the field (or the value for
	// value errors); 0 for errors from the builder.
	Offset int
}

func (e *FieldError) Error() string {
	if e.Reason == ReasonUnknown {
		return fmt.Sprintf("unknown FQL field %q; allowed fields: %s", e.Field, listOrNone(e.Allowed))
	}
	msg := fmt.Sprintf("FQL field %q %s", e.Field, e.Reason)
	if e.Allowed != nil {
		if len(e.Allowed) == 0 {
			return msg + "; no fields do"
		}
		return msg + "; fields that do: " + strings.Join(e.Allowed, ", ")
	}
	return msg
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}
