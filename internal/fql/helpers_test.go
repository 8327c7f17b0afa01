package fql

import (
	"fmt"
	"testing"
	"time"
)

// testSchema resembles Spotlight's vulnerability filter properties.
func testSchema() *Schema {
	return NewSchema(
		Field{Name: "aid", Kind: String},
		Field{Name: "cve.id", Kind: String, Wildcard: true},
		Field{Name: "cve.base_score", Kind: Number, Range: true},
		Field{Name: "cve.severity", Kind: String},
		Field{Name: "cve.is_cisa_kev", Kind: Bool},
		Field{Name: "status", Kind: String},
		Field{Name: "created_timestamp", Kind: Time, Range: true},
		Field{Name: "closed_timestamp", Kind: Time, Range: true},
		Field{Name: "host_info.tags", Kind: String, Wildcard: true},
		Field{Name: "host_info.hostname", Kind: String, Wildcard: true},
		Field{Name: "cve.description", Kind: String},
		Field{Name: "cve.exprt_rating_count", Kind: Number}, // a number without Range
	)
}

// testRecord holds values per schema index.
type testRecord struct{ vals [][]Value }

func (r *testRecord) Lookup(i int, dst []Value) []Value { return append(dst, r.vals[i]...) }

// rec builds a record from field name → value(s): string, []string, bool,
// int, float64, time.Time.
func rec(t testing.TB, s *Schema, fields map[string]any) *testRecord {
	t.Helper()
	r := &testRecord{vals: make([][]Value, s.Len())}
	for name, v := range fields {
		i, ok := s.Index(name)
		if !ok {
			t.Fatalf("rec: unknown field %q", name)
		}
		switch v := v.(type) {
		case string:
			r.vals[i] = []Value{{S: v}}
		case []string:
			for _, x := range v {
				r.vals[i] = append(r.vals[i], Value{S: x})
			}
		case bool:
			r.vals[i] = []Value{{S: fmt.Sprint(v)}}
		case int:
			r.vals[i] = []Value{{N: float64(v)}}
		case float64:
			r.vals[i] = []Value{{N: v}}
		case time.Time:
			r.vals[i] = []Value{{N: unixSeconds(v)}}
		default:
			t.Fatalf("rec: unsupported %T", v)
		}
	}
	return r
}

var testNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

func mustCompile(t testing.TB, filter string) *Filter {
	t.Helper()
	f, err := Compile(filter, testSchema(), testNow)
	if err != nil {
		t.Fatalf("Compile(%q): %v", filter, err)
	}
	return f
}

// countComparisons counts leaves, so tests can prove a value added no clause.
func countComparisons(n Node) int {
	switch n := n.(type) {
	case *AndNode:
		c := 0
		for _, k := range n.Children {
			c += countComparisons(k)
		}
		return c
	case *OrNode:
		c := 0
		for _, k := range n.Children {
			c += countComparisons(k)
		}
		return c
	case *Comparison:
		return 1
	}
	return 0
}
