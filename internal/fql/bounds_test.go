package fql

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestRange(t *testing.T) {
	ts := func(s string) float64 {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return float64(v.Unix())
	}
	inc := func(v float64) Bound { return Bound{Value: v, Inclusive: true, Set: true} }
	exc := func(v float64) Bound { return Bound{Value: v, Set: true} }
	none := Bound{}
	mar, apr := ts("2024-03-01T00:00:00Z"), ts("2024-04-01T00:00:00Z")
	tests := []struct {
		name, filter, field string
		lo, hi              Bound
		ok                  bool
	}{
		{"empty filter", ``, "created_timestamp", none, none, false},
		{"other field only", `status:'open'`, "created_timestamp", none, none, false},
		{"lower inclusive", `created_timestamp:>='2024-03-01T00:00:00Z'`, "created_timestamp", inc(mar), none, true},
		{"lower exclusive", `created_timestamp:>'2024-03-01T00:00:00Z'`, "created_timestamp", exc(mar), none, true},
		{"upper exclusive", `created_timestamp:<'2024-04-01T00:00:00Z'`, "created_timestamp", none, exc(apr), true},
		{"upper inclusive", `created_timestamp:<='2024-04-01T00:00:00Z'`, "created_timestamp", none, inc(apr), true},
		{"shard filter",
			`(status:'open',status:'reopen')+created_timestamp:>='2024-03-01T00:00:00Z'+created_timestamp:<'2024-04-01T00:00:00Z'`,
			"created_timestamp", inc(mar), exc(apr), true},
		{"nested AND in parens",
			`status:'open'+(cve.base_score:>=7+(created_timestamp:>='2024-03-01T00:00:00Z'))+created_timestamp:<'2024-04-01T00:00:00Z'`,
			"created_timestamp", inc(mar), exc(apr), true},
		{"parenthesised single range", `((created_timestamp:>'2024-03-01T00:00:00Z'))`, "created_timestamp", exc(mar), none, true},
		{"tightest lower wins", `created_timestamp:>='2024-01-01'+created_timestamp:>='2024-03-01'`, "created_timestamp", inc(mar), none, true},
		{"tightest upper wins", `created_timestamp:<'2024-04-01'+created_timestamp:<'2024-05-01'`, "created_timestamp", none, exc(apr), true},
		{"exclusive beats inclusive at the same lower value",
			`created_timestamp:>='2024-03-01'+created_timestamp:>'2024-03-01'`, "created_timestamp", exc(mar), none, true},
		{"exclusive beats inclusive at the same upper value",
			`created_timestamp:<'2024-04-01'+created_timestamp:<='2024-04-01'`, "created_timestamp", none, exc(apr), true},
		{"equality is a point", `created_timestamp:'2024-03-01T00:00:00Z'`, "created_timestamp", inc(mar), inc(mar), true},
		{"equality list spans min..max", `cve.base_score:[9.8,7,8.1]`, "cve.base_score", inc(7), inc(9.8), true},
		{"equality narrows a range", `cve.base_score:>=5+cve.base_score:7`, "cve.base_score", inc(7), inc(7), true},
		{"contradiction is an empty interval", `cve.base_score:>8+cve.base_score:<3`, "cve.base_score", exc(8), exc(3), true},
		{"number range", `cve.base_score:>7.5`, "cve.base_score", exc(7.5), none, true},
		{"OR at top level", `created_timestamp:>='2024-03-01',status:'open'`, "created_timestamp", none, none, false},
		{"OR of two ranges", `(created_timestamp:>='2024-03-01',created_timestamp:<'2024-01-01')`, "created_timestamp", none, none, false},
		{"OR beside a conjunctive bound",
			`(created_timestamp:<'2024-01-01',status:'open')+created_timestamp:>='2024-03-01'`, "created_timestamp", inc(mar), none, true},
		{"AND inside an OR", `(created_timestamp:>='2024-03-01'+status:'open'),aid:'x'`, "created_timestamp", none, none, false},
		{"negated equality", `created_timestamp:!'2024-03-01'`, "created_timestamp", none, none, false},
		{"negated list", `cve.base_score:![7,8]`, "cve.base_score", none, none, false},
		{"null", `closed_timestamp:null`, "closed_timestamp", none, none, false},
		{"not null", `closed_timestamp:!null`, "closed_timestamp", none, none, false},
		{"equality list with null", `cve.base_score:[7,null]`, "cve.base_score", none, none, false},
		{"other range field", `closed_timestamp:>='2024-03-01'`, "created_timestamp", none, none, false},
		{"relative time", `created_timestamp:>=now-7d`, "created_timestamp", inc(float64(testNow.Add(-7 * 24 * time.Hour).Unix())), none, true},
		{"string field", `status:'open'`, "status", none, none, false},
		{"unknown field", `created_timestamp:>='2024-03-01'`, "no_such_field", none, none, false},
		{"number field without range ops", `cve.exprt_rating_count:3`, "cve.exprt_rating_count", inc(3), inc(3), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustCompile(t, tt.filter)
			lo, hi, ok := f.Range(tt.field)
			if lo != tt.lo || hi != tt.hi || ok != tt.ok {
				t.Errorf("Range(%q) of %q = %+v, %+v, %v; want %+v, %+v, %v", tt.field, tt.filter, lo, hi, ok, tt.lo, tt.hi, tt.ok)
			}
		})
	}
}

func TestRangeNilFilter(t *testing.T) {
	var f *Filter
	if _, _, ok := f.Range("created_timestamp"); ok {
		t.Error("nil Filter: Range ok = true")
	}
}

// TestRangeContainsEveryMatch checks the promise an index relies on: for a
// single-valued field, every record the filter matches has its value inside
// the interval Range returns.
func TestRangeContainsEveryMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := testSchema()
	ops := []string{">", ">=", "<", "<=", "", "!"}
	clause := func() string {
		switch rng.IntN(5) {
		case 0:
			return fmt.Sprintf("status:'%s'", []string{"open", "closed"}[rng.IntN(2)])
		case 1:
			return fmt.Sprintf("cve.base_score:[%d,%d]", rng.IntN(11), rng.IntN(11))
		}
		return fmt.Sprintf("cve.base_score:%s%d", ops[rng.IntN(len(ops))], rng.IntN(11))
	}
	var expr func(depth int) string
	expr = func(depth int) string {
		n := 1 + rng.IntN(3)
		parts := make([]string, n)
		for i := range parts {
			if depth < 2 && rng.IntN(4) == 0 {
				parts[i] = "(" + expr(depth+1) + ")"
			} else {
				parts[i] = clause()
			}
		}
		sep := "+"
		if rng.IntN(4) == 0 {
			sep = ","
		}
		return strings.Join(parts, sep)
	}
	inside := func(v float64, lo, hi Bound) bool {
		if lo.Set && (v < lo.Value || (v == lo.Value && !lo.Inclusive)) {
			return false
		}
		if hi.Set && (v > hi.Value || (v == hi.Value && !hi.Inclusive)) {
			return false
		}
		return true
	}
	bounded, matched := 0, 0
	for range 2000 {
		filter := expr(0)
		f := mustCompile(t, filter)
		lo, hi, ok := f.Range("cve.base_score")
		if !ok {
			continue
		}
		bounded++
		for score := -1.0; score <= 11; score += 0.5 {
			for _, st := range []string{"open", "closed"} {
				r := rec(t, s, map[string]any{"cve.base_score": score, "status": st})
				if !f.Match(r) {
					continue
				}
				matched++
				if !inside(score, lo, hi) {
					t.Fatalf("%q matches base_score %v outside Range %+v..%+v", filter, score, lo, hi)
				}
			}
		}
	}
	if bounded < 200 || matched < 1000 {
		t.Fatalf("too few cases exercised: %d bounded filters, %d matches", bounded, matched)
	}
}
