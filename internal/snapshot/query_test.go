package snapshot

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/fql"
)

var (
	querySnapOnce sync.Once
	querySnap     *Snapshot
)

// querySnapshot is one generated tenant shared by the query tests.
func querySnapshot(t *testing.T) *Snapshot {
	t.Helper()
	querySnapOnce.Do(func() { querySnap, _ = buildGenerated(t, 80, 11) })
	if querySnap == nil {
		t.Fatal("snapshot build failed in an earlier test")
	}
	return querySnap
}

// bruteForce returns the open finding ids for which keep is true.
func bruteForce(s *Snapshot, keep func(i int) bool) []string {
	var out []string
	for i := range s.findings {
		if s.findings[i].open() && keep(i) {
			out = append(out, s.findings[i].id)
		}
	}
	return out
}

func TestSelectMatchesBruteForce(t *testing.T) {
	s := querySnapshot(t)
	now := s.Now()
	tests := []struct {
		filter string
		keep   func(i int) bool
	}{
		{"", func(int) bool { return true }},
		{"tier:'P1'", func(i int) bool { return s.findings[i].tier == 1 }},
		{"tier:['P1','P2']+score:>=50", func(i int) bool { return s.findings[i].tier <= 2 && s.findings[i].score >= 50 }},
		{"kev:true", func(i int) bool { return s.cves[s.findings[i].cve].kev != nil }},
		{"alerted:true", func(i int) bool { return s.findings[i].alerts }},
		{"overdue:false", func(i int) bool { return !s.findings[i].overdue }},
		{"host_info.platform_name:'Linux',host_info.internet_exposure:'Yes'", func(i int) bool {
			h := s.hosts[s.findings[i].host].facet
			return h.Platform == "Linux" || h.InternetExposure == "Yes"
		}},
		{"created_timestamp:>='now-30d'", func(i int) bool { return s.findings[i].created >= now.AddDate(0, 0, -30).Unix() }},
		{"cve.base_score:>=9+!cve.exprt_rating:'LOW'", func(i int) bool {
			cv := s.cves[s.findings[i].cve].facet
			return cv.BaseScore >= 9 && cv.ExprtRating != "LOW"
		}},
	}
	// business_unit from the first host that has one.
	for _, h := range s.hosts {
		if h.ref.BusinessUnit != "" {
			bu := h.ref.BusinessUnit
			tests = append(tests, struct {
				filter string
				keep   func(i int) bool
			}{"business_unit:'" + bu + "'", func(i int) bool { return s.hosts[s.findings[i].host].ref.BusinessUnit == bu }})
			break
		}
	}
	nonEmpty := 0
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			sel, err := s.Select(tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			want := bruteForce(s, tc.keep)
			got := sel.FindingIDs(0, 1<<30)
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("matched %d findings, brute force %d", len(got), len(want))
			}
			if len(got) > 0 {
				nonEmpty++
			}
		})
	}
	if nonEmpty < len(tests)-2 {
		t.Fatalf("only %d of %d filters matched anything: the fixture does not exercise the fields", nonEmpty, len(tests))
	}
	all, _ := s.Select("")
	if all.Len() != s.Summary().Findings || len(all.Items()) != len(s.Items()) {
		t.Fatalf("empty filter: %d findings / %d items, summary %d / %d", all.Len(), len(all.Items()), s.Summary().Findings, len(s.Items()))
	}
	// The whole-tenant breakdown agrees with the snapshot's own summary.
	b, sum := all.Breakdown(-1), s.Summary()
	if b.Hosts != sum.Hosts || b.CVEs != sum.CVEs || b.Overdue != sum.Overdue || b.KEV != sum.KEVFindings || b.Alerted != sum.ThreatActive {
		t.Fatalf("breakdown %+v vs summary %+v", b, sum)
	}
	if !reflect.DeepEqual(b.ByBU, sum.ByBU) || !reflect.DeepEqual(b.ByTier, sum.ByTier) {
		t.Fatalf("by business unit / tier differ:\n%+v\n%+v", b.ByBU, sum.ByBU)
	}
}

func TestSelectErrorsSayWhatIsAllowed(t *testing.T) {
	s := querySnapshot(t)
	tests := []struct {
		filter string
		want   []string
	}{
		{"host.name:'x'", []string{`unknown FQL field "host.name"; allowed fields: `, "business_unit", "tier", "cve.id"}},
		{"tier:>'P1'", []string{`FQL field "tier" does not support range comparisons; fields that do: `, "score"}},
		{"score:'high'", []string{`"score"`, "number"}},
		{"tier:'P1'+(", []string{"FQL syntax error"}},
	}
	for _, tc := range tests {
		_, err := s.Select(tc.filter)
		var fe *fql.FieldError
		var se *fql.SyntaxError
		if err == nil || !(errors.As(err, &fe) || errors.As(err, &se)) {
			t.Fatalf("%s: want an fql error, got %v", tc.filter, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.filter, err, w)
			}
		}
	}
}

func TestSelectionItemsCoverMatchedFindings(t *testing.T) {
	s := querySnapshot(t)
	sel, err := s.Select("tier:['P1','P2']")
	if err != nil {
		t.Fatal(err)
	}
	if sel.Len() == 0 {
		t.Fatal("fixture has no P1/P2 findings")
	}
	items := sel.Items()
	seen := map[string]bool{}
	for k, it := range items {
		for _, id := range it.FindingIDs {
			if seen[id] {
				t.Fatalf("finding %s in two items", id)
			}
			seen[id] = true
		}
		if k > 0 {
			p := items[k-1]
			if p.Tier.Rank() > it.Tier.Rank() || p.Tier == it.Tier && p.Score < it.Score {
				t.Fatalf("queue out of order at %d", k)
			}
		}
	}
	want := sel.FindingIDs(0, 1<<30)
	if len(seen) != len(want) {
		t.Fatalf("items cover %d findings, selection has %d", len(seen), len(want))
	}
	for _, id := range want {
		if !seen[id] {
			t.Fatalf("matched finding %s not in any item", id)
		}
	}
	top := sel.Top(0, 3)
	if len(top) == 0 || len(top[0].Evidence) == 0 {
		t.Fatal("Top does not explain items")
	}
	if got, ok := sel.Item(items[0].Key); !ok || got.Key != items[0].Key || len(got.Evidence) == 0 {
		t.Fatal("Item lookup failed")
	}
	if _, ok := sel.Item("wi-nope"); ok {
		t.Fatal("unknown key found")
	}
	if len(sel.Top(len(items), 5)) != 0 {
		t.Fatal("Top past the end is not empty")
	}
	b := sel.Breakdown(2)
	if b.Findings != sel.Len() || b.Items != len(items) || b.ByTier["P3"].Findings != 0 || len(b.ByBU) > 2 {
		t.Fatalf("breakdown %+v", b)
	}
	if b.ByTier["P1"].Findings+b.ByTier["P2"].Findings != sel.Len() {
		t.Fatalf("tier counts %+v", b.ByTier)
	}
}

func TestThreatActive(t *testing.T) {
	s := querySnapshot(t)
	sel, _ := s.Select("")
	threats, err := sel.ThreatActive("any")
	if err != nil {
		t.Fatal(err)
	}
	if len(threats) == 0 {
		t.Fatal("fixture has no threat-active CVEs")
	}
	// Every KEV CVE of the selection is listed, with its hosts.
	kevHosts := map[string]map[string]bool{}
	for i := range s.findings {
		c := &s.findings[i]
		if c.open() && s.cves[c.cve].kev != nil {
			id := s.cves[c.cve].facet.ID
			if kevHosts[id] == nil {
				kevHosts[id] = map[string]bool{}
			}
			kevHosts[id][s.hosts[c.host].aid] = true
		}
	}
	got := map[string]ThreatCVE{}
	for k, th := range threats {
		if len(th.Signals) == 0 {
			t.Fatalf("%s listed without a signal", th.CVE)
		}
		if k > 0 && threats[k-1].BestTier.Rank() > th.BestTier.Rank() {
			t.Fatal("threats not ordered by tier")
		}
		hosts := map[string]bool{}
		for _, h := range th.Hosts {
			if hosts[h.AID] {
				t.Fatalf("%s lists host %s twice", th.CVE, h.AID)
			}
			hosts[h.AID] = true
		}
		got[th.CVE] = th
	}
	if len(kevHosts) == 0 {
		t.Fatal("fixture has no KEV findings")
	}
	for cve, hosts := range kevHosts {
		th, ok := got[cve]
		if !ok || !slices.Contains(th.Signals, SignalKEV) || len(th.Hosts) != len(hosts) {
			t.Fatalf("KEV %s: listed %v, signals %v, %d hosts want %d", cve, ok, th.Signals, len(th.Hosts), len(hosts))
		}
	}
	kevOnly, _ := sel.ThreatActive(SignalKEV)
	if len(kevOnly) != len(kevHosts) {
		t.Fatalf("signal kev: %d CVEs, want %d", len(kevOnly), len(kevHosts))
	}
	if _, err := sel.ThreatActive("rumour"); err == nil || !strings.Contains(err.Error(), "not one of any, kev, intel, alert, exploit_status") {
		t.Fatalf("bad signal: %v", err)
	}
}

func TestExposure(t *testing.T) {
	s := querySnapshot(t)
	sel, _ := s.Select("")
	for _, dim := range GroupDimensions {
		ex, err := sel.Exposure(dim, 8)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Totals.Findings != sel.Len() {
			t.Fatalf("%s: totals %d, selection %d", dim, ex.Totals.Findings, sel.Len())
		}
		sum, hosts := 0, 0
		for _, g := range ex.Groups {
			sum += g.Findings
			hosts += g.Hosts
		}
		if sum != ex.Totals.Findings {
			t.Fatalf("%s: groups sum to %d, total %d", dim, sum, ex.Totals.Findings)
		}
		if (dim == "business_unit" || dim == "platform") && hosts != ex.Totals.Hosts {
			t.Fatalf("%s: a host is in one group only, but groups count %d hosts of %d", dim, hosts, ex.Totals.Hosts)
		}
		age := 0
		for _, a := range ex.Age {
			age += a.Findings
		}
		if age != ex.Totals.Findings {
			t.Fatalf("age buckets sum to %d", age)
		}
		if len(ex.Weekly) != 8 || ex.Weekly[7].Week > s.Now().Format(time.DateOnly) {
			t.Fatalf("weekly %v", ex.Weekly)
		}
	}
	ex, _ := sel.Exposure("tier", 4)
	for _, g := range ex.Groups {
		if g.ByTier[g.Name] != g.Findings {
			t.Fatalf("tier group %s counts %v", g.Name, g.ByTier)
		}
	}
	if _, err := sel.Exposure("colour", 8); err == nil || !strings.Contains(err.Error(), "not one of business_unit, team") {
		t.Fatalf("bad group_by: %v", err)
	}
	if _, err := sel.Exposure("tier", 0); err == nil || !strings.Contains(err.Error(), "weeks: 0 is out of range 1–104") {
		t.Fatalf("bad weeks: %v", err)
	}
}

func TestFindingFieldsMatchSchema(t *testing.T) {
	docs := FindingFields()
	if FindingSchema().Len() != len(docs) {
		t.Fatal("schema and docs differ")
	}
	for i, d := range docs {
		if d.Doc == "" || d.Example == "" {
			t.Errorf("%s: undocumented", d.Name)
		}
		if FindingSchema().Field(i).Name != d.Name {
			t.Errorf("field %d: %s vs %s", i, FindingSchema().Field(i).Name, d.Name)
		}
		// Every example must compile against the schema (… abbreviations aside).
		if !strings.Contains(d.Example, "…") {
			if _, err := fql.Compile(d.Example, FindingSchema(), time.Now()); err != nil {
				t.Errorf("%s: example %q: %v", d.Name, d.Example, err)
			}
		}
	}
}
