package fql

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCompileMatch(t *testing.T) {
	s := testSchema()
	base := map[string]any{
		"aid":                "abc123",
		"cve.id":             "CVE-2024-3094",
		"cve.base_score":     9.8,
		"cve.severity":       "CRITICAL",
		"cve.is_cisa_kev":    true,
		"status":             "open",
		"created_timestamp":  testNow.Add(-3 * 24 * time.Hour),
		"host_info.tags":     []string{"FalconGroupingTags/bu-finance", "SensorGroupingTags/prod"},
		"host_info.hostname": "WEB-01.corp",
		"cve.description":    "Remote code-execution in XZ Utils (liblzma).",
	}
	r := rec(t, s, base)
	tests := []struct {
		filter string
		want   bool
	}{
		{``, true},
		{`   `, true},
		{`status:'open'`, true},
		{`status:"open"`, true},
		{`status:open`, true},
		{`status:'OPEN'`, true}, // case-insensitive
		{`status:'closed'`, false},
		{`status:!'closed'`, true},
		{`status:!'open'`, false},
		{`!status:'open'`, false},
		{`status:['closed','open']`, true},
		{`status:['closed','reopen']`, false},
		{`status:!['closed','reopen']`, true},
		{`status:!['closed','open']`, false},
		{`cve.base_score:>=7`, true},
		{`cve.base_score:>9.8`, false},
		{`cve.base_score:>=9.8`, true},
		{`cve.base_score:<9.8`, false},
		{`cve.base_score:<=9.8`, true},
		{`cve.base_score:9.8`, true},
		{`cve.base_score:'9.8'`, true},
		{`cve.base_score:!9.8`, false},
		{`cve.is_cisa_kev:true`, true},
		{`cve.is_cisa_kev:TRUE`, true},
		{`cve.is_cisa_kev:false`, false},
		{`cve.is_cisa_kev:'true'`, true},
		{`created_timestamp:>now-7d`, true},
		{`created_timestamp:>'now-2d'`, false},
		{`created_timestamp:<now+1d`, true},
		{`created_timestamp:>'2025-06-12'`, true},
		{`created_timestamp:>'2025-06-13T00:00:00Z'`, false},
		{`created_timestamp:>='2025-06-12T12:00:00Z'`, true},
		{`created_timestamp:'2025-06-12T14:00:00+02:00'`, true},
		{`created_timestamp:>'2025-06-12T12:00:00.5Z'`, false},
		{`closed_timestamp:null`, true},
		{`closed_timestamp:!null`, false},
		{`status:null`, false},
		{`status:!null`, true},
		{`host_info.tags:'FalconGroupingTags/bu-finance'`, true},
		{`host_info.tags:'SensorGroupingTags/prod'`, true}, // any value of a multi-valued field
		{`host_info.tags:'FalconGroupingTags/bu-hr'`, false},
		{`host_info.tags:!'SensorGroupingTags/prod'`, false}, // negation: no value may equal
		{`host_info.tags:!'SensorGroupingTags/dev'`, true},
		{`host_info.tags:'FalconGroupingTags/*'`, true},
		{`host_info.tags:*'*bu-fin*'`, true},
		{`host_info.tags:'*/PROD'`, true},
		{`host_info.tags:'*/dev'`, false},
		{`host_info.tags:!'*/prod'`, false},
		{`host_info.hostname:'web-*.corp'`, true},
		{`host_info.hostname:'web-*.corp*'`, true},
		{`host_info.hostname:'*'`, true},
		{`host_info.hostname:'web\*'`, false}, // escaped star is literal
		{`cve.id:'CVE-2024-*'`, true},
		{`cve.id:['CVE-2023-*','CVE-2024-3*']`, true},
		{`cve.description:~'xz utils'`, true},
		{`cve.description:~'code execution'`, true},
		{`cve.description:~'liblzma)'`, true},
		{`cve.description:~'openssl'`, false},
		{`cve.description:!~'openssl'`, true},
		{`cve.severity:'CRITICAL'+status:'open'`, true},
		{`cve.severity:'LOW'+status:'open'`, false},
		{`cve.severity:'LOW',status:'open'`, true},
		{`cve.severity:'LOW',status:'closed'`, false},
		// AND binds tighter than OR.
		{`status:'closed'+cve.severity:'LOW',cve.is_cisa_kev:true`, true},
		{`status:'closed'+(cve.severity:'LOW',cve.is_cisa_kev:true)`, false},
		{`cve.is_cisa_kev:true,status:'closed'+cve.severity:'LOW'`, true},
		{`(cve.is_cisa_kev:true,status:'closed')+cve.severity:'LOW'`, false},
		{` ( status : 'open' + cve.base_score : >= 7 ) , aid : 'zzz' `, true},
		{`STATUS:'open'`, true},
	}
	for _, tt := range tests {
		f := mustCompile(t, tt.filter)
		if got := f.Match(r); got != tt.want {
			t.Errorf("%q: Match = %v, want %v (canonical %q)", tt.filter, got, tt.want, f.String())
		}
		if got := f.NewMatcher().Match(r); got != tt.want {
			t.Errorf("%q: Matcher.Match = %v, want %v", tt.filter, got, tt.want)
		}
	}
}

func TestMultiValuedNegationWithNoValues(t *testing.T) {
	s := testSchema()
	r := rec(t, s, map[string]any{"status": "open"}) // no tags at all
	for filter, want := range map[string]bool{
		`host_info.tags:'x'`:         false,
		`host_info.tags:!'x'`:        true,
		`host_info.tags:!['x','y']`:  true,
		`host_info.tags:null`:        true,
		`host_info.tags:['x',null]`:  true,
		`host_info.tags:!['x',null]`: false,
		`cve.base_score:>0`:          false,
		`cve.base_score:<0`:          false,
	} {
		if got := mustCompile(t, filter).Match(r); got != want {
			t.Errorf("%q: Match = %v, want %v", filter, got, want)
		}
	}
}

func TestCompileCanonicalString(t *testing.T) {
	tests := []struct{ in, want string }{
		{``, ``},
		{`status:open`, `status:'open'`},
		{`status:"o'pen"`, `status:'o\'pen'`},
		{`cve.base_score:'7.0'`, `cve.base_score:7`},
		{`cve.base_score:>=7.50`, `cve.base_score:>=7.5`},
		{`cve.is_cisa_kev:TRUE`, `cve.is_cisa_kev:true`},
		{`created_timestamp:>now-7d`, `created_timestamp:>'2025-06-08T12:00:00Z'`},
		{`created_timestamp:>now+12h`, `created_timestamp:>'2025-06-16T00:00:00Z'`},
		{`created_timestamp:<='2024-01-02'`, `created_timestamp:<='2024-01-02T00:00:00Z'`},
		{`created_timestamp:>'2024-01-02T03:04:05+02:00'`, `created_timestamp:>'2024-01-02T01:04:05Z'`},
		{`!status:closed`, `status:!'closed'`},
		{`status:open,status:closed`, `(status:'open',status:'closed')`},
		{`((status:open))`, `status:'open'`},
		{`host_info.tags:*'*a\*b*'`, `host_info.tags:'*a\*b*'`},
		{`cve.description:~"x y"`, `cve.description:~'x y'`},
	}
	for _, tt := range tests {
		f := mustCompile(t, tt.in)
		if got := f.String(); got != tt.want {
			t.Errorf("Compile(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		// Idempotent: the canonical form compiles to itself.
		if again := mustCompile(t, f.String()).String(); again != f.String() {
			t.Errorf("canonical %q recompiles to %q", f.String(), again)
		}
	}
}

func TestFields(t *testing.T) {
	f := mustCompile(t, `status:open+(cve.id:'CVE-1',status:closed)+cve.base_score:>1`)
	want := []string{"cve.base_score", "cve.id", "status"}
	if got := f.Fields(); !slices.Equal(got, want) {
		t.Fatalf("Fields() = %v, want %v", got, want)
	}
	if got := mustCompile(t, "").Fields(); len(got) != 0 {
		t.Fatalf("Fields() of empty filter = %v", got)
	}
}

func TestCompileFieldErrors(t *testing.T) {
	tests := []struct {
		filter     string
		wantField  string
		wantReason string
		wantOffset int
		wantMsg    string
	}{
		{`host.name:'x'`, "host.name", ReasonUnknown, 0,
			`unknown FQL field "host.name"; allowed fields: aid, closed_timestamp, created_timestamp, cve.base_score, cve.description, cve.exprt_rating_count, cve.id, cve.is_cisa_kev, cve.severity, host_info.hostname, host_info.tags, status`},
		{`status:open+cve.id:>'CVE-1'`, "cve.id", ReasonRange, 12,
			`FQL field "cve.id" does not support range comparisons; fields that do: closed_timestamp, created_timestamp, cve.base_score`},
		{`cve.exprt_rating_count:>=2`, "cve.exprt_rating_count", ReasonRange, 0,
			`does not support range comparisons; fields that do: closed_timestamp, created_timestamp, cve.base_score`},
		{`status:'open*'`, "status", ReasonWildcard, 7,
			`FQL field "status" does not support wildcards; fields that do: cve.id, host_info.hostname, host_info.tags`},
		{`cve.base_score:~'7'`, "cve.base_score", ReasonText, 0,
			`FQL field "cve.base_score" does not support text match (~); fields that do: aid, cve.description`},
		{`cve.base_score:high`, "cve.base_score", `expects a number, got "high"`, 15,
			`FQL field "cve.base_score" expects a number, got "high"`},
		{`cve.base_score:'NaN'`, "cve.base_score", `expects a number, got "NaN"`, 15, `expects a number`},
		{`cve.is_cisa_kev:yes`, "cve.is_cisa_kev", `expects true or false, got "yes"`, 16, `expects true or false`},
		{`created_timestamp:>'last week'`, "created_timestamp", `expects a time (RFC3339, YYYY-MM-DD, or relative like now-7d), got "last week"`, 19, `expects a time`},
		{`created_timestamp:>now-7y`, "created_timestamp", `expects a time (RFC3339, YYYY-MM-DD, or relative like now-7d), got "now-7y"`, 19, `got "now-7y"`},
		{`created_timestamp:>now-9999999999d`, "created_timestamp", `expects a time (RFC3339, YYYY-MM-DD, or relative like now-7d), got "now-9999999999d"`, 19, `expects a time`},
		{`cve.description:~'!!!'`, "cve.description", `text match value "!!!" has no letters or digits`, 17, `no letters or digits`},
	}
	for _, tt := range tests {
		_, err := Compile(tt.filter, testSchema(), testNow)
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%q: err = %v, want *FieldError", tt.filter, err)
			continue
		}
		if fe.Field != tt.wantField || fe.Reason != tt.wantReason || fe.Offset != tt.wantOffset {
			t.Errorf("%q: got {%q %q @%d}, want {%q %q @%d}", tt.filter, fe.Field, fe.Reason, fe.Offset, tt.wantField, tt.wantReason, tt.wantOffset)
		}
		if !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("%q: error %q does not contain %q", tt.filter, err, tt.wantMsg)
		}
	}
}

func TestFieldErrorNoFieldsDo(t *testing.T) {
	s := NewSchema(Field{Name: "status", Kind: String})
	_, err := Compile(`status:>1`, s, testNow)
	if err == nil || err.Error() != `FQL field "status" does not support range comparisons; no fields do` {
		t.Fatalf("err = %v", err)
	}
}

func TestCompileNilSchema(t *testing.T) {
	if _, err := Compile("a:1", nil, testNow); err == nil {
		t.Fatal("want error for nil schema")
	}
}

func TestSchema(t *testing.T) {
	s := testSchema()
	names := s.Names()
	if !slices.IsSorted(names) || len(names) != s.Len() {
		t.Fatalf("Names() = %v", names)
	}
	names[0] = "mutated"
	if s.Names()[0] == "mutated" {
		t.Fatal("Names() exposes internal slice")
	}
	if i, ok := s.Index("cve.base_score"); !ok || i != 2 || s.Field(i).Kind != Number {
		t.Fatalf("Index(cve.base_score) = %d, %v", i, ok)
	}
	if _, ok := s.Index("nope"); ok {
		t.Fatal("Index(nope) found")
	}
	for _, bad := range [][]Field{
		{{Name: "Bad"}},
		{{Name: "a"}, {Name: "a"}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewSchema(%v) did not panic", bad)
				}
			}()
			NewSchema(bad...)
		}()
	}
}

// growingRecord returns more values than the initial buffer holds, and a
// sharingRecord ignores dst and returns its own slice: neither may break
// matching, and the shared slice must never be written to.
type sharingRecord struct{ tags []Value }

func (r *sharingRecord) Lookup(i int, dst []Value) []Value {
	if i == 8 { // host_info.tags
		return r.tags
	}
	return dst
}

func TestRecordThatIgnoresDst(t *testing.T) {
	tags := make([]Value, 40, 100)
	for i := range tags {
		tags[i] = Value{S: "t" + string(rune('a'+i%26))}
	}
	tags[39] = Value{S: "target"}
	orig := slices.Clone(tags[:100])
	r := &sharingRecord{tags: tags}
	f := mustCompile(t, `host_info.tags:'target'+status:!'x'+host_info.tags:!'zzz'`)
	for range 3 {
		if !f.Match(r) {
			t.Fatal("no match")
		}
	}
	if !slices.Equal(tags[:100], orig) {
		t.Fatal("matcher wrote into the record's own storage")
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	s := testSchema()
	r := rec(t, s, map[string]any{
		"status": "open", "cve.base_score": 8.1,
		"host_info.tags":     []string{"a", "b", "FalconGroupingTags/bu-finance"},
		"host_info.hostname": "web-01", "cve.description": "remote code execution",
	})
	f := mustCompile(t, benchFilter+`+host_info.hostname:'WEB-*'+cve.description:~'code exec'`)
	if !f.Match(r) {
		t.Fatal("filter does not match the record")
	}
	if a := testing.AllocsPerRun(100, func() { f.Match(r) }); a != 0 {
		t.Errorf("Filter.Match allocates %v per run", a)
	}
	m := f.NewMatcher()
	if a := testing.AllocsPerRun(100, func() { m.Match(r) }); a != 0 {
		t.Errorf("Matcher.Match allocates %v per run", a)
	}
}

const benchFilter = `status:['open','reopen']+cve.base_score:>=7+host_info.tags:'FalconGroupingTags/bu-finance'`

func BenchmarkMatch(b *testing.B) {
	s := testSchema()
	r := rec(b, s, map[string]any{
		"aid": "0123456789abcdef0123456789abcdef", "cve.id": "CVE-2024-3094", "status": "reopen",
		"cve.base_score": 8.8, "cve.severity": "HIGH", "cve.is_cisa_kev": true,
		"created_timestamp": testNow.Add(-48 * time.Hour),
		"host_info.tags":    []string{"SensorGroupingTags/prod", "FalconGroupingTags/dc-east", "FalconGroupingTags/bu-finance"},
	})
	f := mustCompile(b, benchFilter)
	if !f.Match(r) {
		b.Fatal("benchmark filter does not match")
	}
	b.Run("Filter", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f.Match(r)
		}
	})
	b.Run("Matcher", func(b *testing.B) {
		m := f.NewMatcher()
		b.ReportAllocs()
		for b.Loop() {
			m.Match(r)
		}
	})
}

func TestConcurrentMatch(t *testing.T) {
	s := testSchema()
	f := mustCompile(t, benchFilter)
	hit := rec(t, s, map[string]any{"status": "open", "cve.base_score": 9.0,
		"host_info.tags": []string{"x", "y", "z", "FalconGroupingTags/bu-finance"}})
	miss := rec(t, s, map[string]any{"status": "open", "cve.base_score": 9.0, "host_info.tags": []string{"x"}})
	errs := make(chan string, 4)
	for g := range 4 {
		go func() {
			for i := range 2000 {
				r, want := hit, true
				if (i+g)%2 == 1 {
					r, want = miss, false
				}
				if f.Match(r) != want {
					errs <- "wrong result under concurrency"
					return
				}
			}
			errs <- ""
		}()
	}
	for range 4 {
		if e := <-errs; e != "" {
			t.Fatal(e)
		}
	}
}

func TestParseTime(t *testing.T) {
	ok := []struct {
		in   string
		want time.Time
	}{
		{"now", testNow},
		{"NOW", testNow},
		{"now-7d", testNow.AddDate(0, 0, -7)},
		{"now+1d", testNow.AddDate(0, 0, 1)},
		{"now-12h", testNow.Add(-12 * time.Hour)},
		{"now-30m", testNow.Add(-30 * time.Minute)},
		{"now+45s", testNow.Add(45 * time.Second)},
		{"now-2w", testNow.AddDate(0, 0, -14)},
		{"Now-2W", testNow.AddDate(0, 0, -14)},
		{"now-0d", testNow},
		{"now-999999999d", time.Unix(testNow.Unix()-999999999*86400, 0).UTC()},
		{"2024-03-05", time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)},
		{"2024-03-05T06:07", time.Date(2024, 3, 5, 6, 7, 0, 0, time.UTC)},
		{"2024-03-05T06:07:08", time.Date(2024, 3, 5, 6, 7, 8, 0, time.UTC)},
		{"2024-03-05T06:07:08.25", time.Date(2024, 3, 5, 6, 7, 8, 250e6, time.UTC)},
		{"2024-03-05T06:07:08Z", time.Date(2024, 3, 5, 6, 7, 8, 0, time.UTC)},
		{"2024-03-05T06:07:08.5-01:00", time.Date(2024, 3, 5, 7, 7, 8, 500e6, time.UTC)},
	}
	for _, tt := range ok {
		got, valid := parseTime(tt.in, testNow)
		if !valid || !got.Equal(tt.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", tt.in, got, valid, tt.want)
		}
	}
	for _, bad := range []string{"", "now-", "now-7", "now7d", "now--7d", "now-+7d", "now-7dd", "now-7y",
		"now-1234567890d", "now - 7d", "nowish", "2024-13-01", "2024/01/01", "yesterday", "1700000000"} {
		if got, valid := parseTime(bad, testNow); valid {
			t.Errorf("parseTime(%q) = %v, want invalid", bad, got)
		}
	}
}
