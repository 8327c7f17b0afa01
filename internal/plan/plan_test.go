package plan

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/risk"
)

const (
	aid1 = "0123456789abcdef0123456789abcdef"
	rem1 = "7bba2e543744a92962be7afeb6484858"
)

// TestGoldenKeys pins the dedupe keys. If this fails, every open ticket
// would be created again under a new key: change keyVersion deliberately
// and plan a migration instead of editing these values.
func TestGoldenKeys(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{HostKey(aid1, rem1), "wi-h-a4b83cc210774ae0"},
		{FleetKey(rem1), "wi-f-9cda16020dc7e691"},
		{MitigateKey(aid1, "CVE-2021-44228"), "wi-m-4488bb29ae7231c0"},
		// Case and surrounding space do not matter.
		{HostKey(" 0123456789ABCDEF0123456789ABCDEF", "7BBA2E543744A92962BE7AFEB6484858 "), "wi-h-a4b83cc210774ae0"},
		{FleetKey("7BBA2E543744a92962be7afeb6484858"), "wi-f-9cda16020dc7e691"},
		{MitigateKey("0123456789ABCDEF0123456789abcdef", "cve-2021-44228"), "wi-m-4488bb29ae7231c0"},
	} {
		if tc.got != tc.want {
			t.Errorf("key = %s, want %s", tc.got, tc.want)
		}
	}
	// The kinds never collide for the same ids.
	if HostKey(aid1, rem1) == MitigateKey(aid1, rem1) {
		t.Error("host and mitigate keys collide")
	}
}

var due0 = time.Date(2025, 9, 10, 0, 0, 0, 0, time.UTC)

func member(id, aid, cve, rem string, score float64, tier risk.Tier, dueDays int) Member {
	m := Member{FindingID: id, AID: aid, Hostname: "host-" + aid, CVE: cve, RemediationID: rem, Score: score, Tier: tier,
		Due: due0.AddDate(0, 0, dueDays), Host: HostRef{AID: aid, Hostname: "host-" + aid}}
	if rem != "" {
		m.Remediation = &falcon.Remediation{ID: rem, Title: "Update " + rem, Action: "Install", Reference: "KB1", Link: "https://example.invalid/" + rem}
	}
	return m
}

func build(opts Options, ms []Member) []WorkItem {
	b := NewBuilder(opts)
	for _, m := range ms {
		b.Add(m)
	}
	return b.Items()
}

func TestHostItemsAndAggregates(t *testing.T) {
	items := build(Options{}, []Member{
		member("f1", "a1", "CVE-2024-1", "r1", 50, risk.P2, 10),
		member("f2", "a1", "CVE-2024-2", "r1", 80, risk.P3, 30), // higher score, worse tier (e.g. suppressed)
		member("f3", "a1", "CVE-2024-3", "r1", 20, risk.P1, 2),  // best tier, earliest due
		member("f4", "a2", "CVE-2024-1", "r1", 10, risk.P4, 100),
	})
	if len(items) != 2 {
		t.Fatalf("%d items, want 2", len(items))
	}
	it := items[0]
	if it.Kind != KindHost || it.Key != HostKey("a1", "r1") || it.Score != 80 || it.Tier != risk.P1 || !it.Due.Equal(due0.AddDate(0, 0, 2)) || it.TopFinding != "f2" {
		t.Fatalf("item = %+v", it)
	}
	if !reflect.DeepEqual(it.FindingIDs, []string{"f1", "f2", "f3"}) || !reflect.DeepEqual(it.CVEs, []string{"CVE-2024-1", "CVE-2024-2", "CVE-2024-3"}) {
		t.Fatalf("ids %v cves %v", it.FindingIDs, it.CVEs)
	}
	if it.Remediation != (Remediation{ID: "r1", Title: "Update r1", Action: "Install", Reference: "KB1", Link: "https://example.invalid/r1"}) {
		t.Fatalf("remediation %+v", it.Remediation)
	}
	if len(it.Hosts) != 1 || it.Hosts[0].AID != "a1" || it.Hosts[0].Hostname != "host-a1" {
		t.Fatalf("hosts %+v", it.Hosts)
	}
	if items[1].Key != HostKey("a2", "r1") || items[1].Tier != risk.P4 {
		t.Fatalf("second item %+v", items[1])
	}
}

func TestMitigateItemsAndDuplicates(t *testing.T) {
	// The same CVE on the same host for two apps: two findings, one CVE.
	ms := []Member{
		member("f1", "a1", "CVE-2024-9", "", 30, risk.P3, 60),
		member("f2", "a1", "cve-2024-9", "", 45, risk.P2, 14),
		member("f3", "a1", "CVE-2024-8", "", 10, risk.P4, 180),
		member("f4", "a1", "CVE-2024-9", "r9", 30, risk.P3, 60),
		member("f5", "a1", "CVE-2024-9", "r9", 31, risk.P3, 60),
		member("f5", "a1", "CVE-2024-9", "r9", 31, risk.P3, 60), // the same finding added twice
	}
	ms[1].Overdue = true
	items := build(Options{}, ms)
	if len(items) != 3 {
		t.Fatalf("%d items: %+v", len(items), items)
	}
	m := items[0]
	if m.Kind != KindMitigate || m.Key != MitigateKey("a1", "CVE-2024-9") || m.Remediation.ID != "" || !m.Overdue || m.Score != 45 ||
		!reflect.DeepEqual(m.CVEs, []string{"CVE-2024-9"}) || !reflect.DeepEqual(m.FindingIDs, []string{"f1", "f2"}) {
		t.Fatalf("mitigate item %+v", m)
	}
	if m.Remediation.Title != "Mitigate CVE-2024-9 (no remediation available)" {
		t.Errorf("title %q", m.Remediation.Title)
	}
	h := items[1]
	if h.Kind != KindHost || !reflect.DeepEqual(h.CVEs, []string{"CVE-2024-9"}) || !reflect.DeepEqual(h.FindingIDs, []string{"f4", "f5"}) {
		t.Fatalf("host item %+v", h)
	}
}

func TestFleetThreshold(t *testing.T) {
	mk := func(hosts int) []Member {
		var ms []Member
		for i := range hosts {
			aid := fmt.Sprintf("a%02d", i)
			ms = append(ms, member("f"+aid, aid, "CVE-2024-1", "R-FLEET", float64(10+i), risk.P3, 60-i))
			ms = append(ms, member("g"+aid, aid, "CVE-2024-2", "r-fleet", 5, risk.P4, 180))
		}
		ms = append(ms, member("solo", "a00", "CVE-2024-3", "r-solo", 99, risk.P1, 3))
		return ms
	}
	t.Run("below threshold: host items", func(t *testing.T) {
		items := build(Options{}, mk(9))
		if len(items) != 10 {
			t.Fatalf("%d items", len(items))
		}
		for _, it := range items {
			if it.Kind != KindHost {
				t.Fatalf("kind %s", it.Kind)
			}
		}
	})
	t.Run("at threshold: one fleet item", func(t *testing.T) {
		items := build(Options{}, mk(10))
		if len(items) != 2 {
			t.Fatalf("%d items", len(items))
		}
		f := items[1]
		if f.Kind != KindFleet || f.Key != FleetKey("r-fleet") || len(f.Hosts) != 10 || len(f.FindingIDs) != 20 ||
			!reflect.DeepEqual(f.CVEs, []string{"CVE-2024-1", "CVE-2024-2"}) || f.Score != 19 || f.TopFinding != "fa09" ||
			!f.Due.Equal(due0.AddDate(0, 0, 51)) || f.Remediation.ID != "r-fleet" {
			t.Fatalf("fleet item %+v", f)
		}
		if f.Hosts[0].Hostname != "host-a00" || f.Hosts[9].Hostname != "host-a09" {
			t.Fatalf("hosts not sorted: %+v", f.Hosts)
		}
		if items[0].Kind != KindHost || items[0].Key != HostKey("a00", "r-solo") {
			t.Fatalf("solo item %+v", items[0])
		}
	})
	t.Run("custom threshold and disabled", func(t *testing.T) {
		if items := build(Options{FleetMinHosts: 3}, mk(3)); len(items) != 2 || items[1].Kind != KindFleet {
			t.Fatalf("threshold 3: %d items", len(items))
		}
		if items := build(Options{FleetMinHosts: -1}, mk(30)); len(items) != 31 {
			t.Fatalf("disabled: %d items", len(items))
		}
	})
}

func TestOrderIndependence(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var ms []Member
	tiers := []risk.Tier{risk.P1, risk.P2, risk.P3, risk.P4}
	for i := range 2000 {
		aid := fmt.Sprintf("aid%03d", r.IntN(60))
		rem := ""
		if r.IntN(5) > 0 {
			rem = fmt.Sprintf("rem%02d", r.IntN(10)) // popular: fleet items
			if r.IntN(2) == 0 {
				rem = fmt.Sprintf("rare%03d", r.IntN(400)) // rare: host items
			}
		}
		m := member(fmt.Sprintf("f%05d", i), aid, fmt.Sprintf("CVE-2024-%d", r.IntN(300)), rem, float64(r.IntN(1000))/10, tiers[r.IntN(4)], r.IntN(200))
		m.Overdue = r.IntN(10) == 0
		ms = append(ms, m)
	}
	want := build(Options{}, ms)
	kinds := map[string]int{}
	for _, it := range want {
		kinds[it.Kind]++
	}
	if kinds[KindHost] == 0 || kinds[KindFleet] == 0 || kinds[KindMitigate] == 0 {
		t.Fatalf("fixture should produce every kind: %v", kinds)
	}
	for range 3 {
		shuffled := append([]Member(nil), ms...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := build(Options{}, shuffled); !reflect.DeepEqual(got, want) {
			t.Fatal("items depend on the order of Add")
		}
	}
	// Sorted by tier, score desc, due asc, key asc; every finding in exactly one item.
	seen := map[string]bool{}
	for i, it := range want {
		if i > 0 && compareItems(want[i-1], it) > 0 {
			t.Fatalf("items %d and %d out of order", i-1, i)
		}
		for _, id := range it.FindingIDs {
			if seen[id] {
				t.Fatalf("finding %s in two items", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != len(ms) {
		t.Fatalf("%d findings planned, want %d", len(seen), len(ms))
	}
}

func TestSortOrder(t *testing.T) {
	items := build(Options{}, []Member{
		member("a", "h1", "CVE-2024-1", "r1", 50, risk.P2, 5),
		member("b", "h2", "CVE-2024-1", "r1", 90, risk.P2, 5),
		member("c", "h3", "CVE-2024-1", "r1", 10, risk.P1, 9),
		member("d", "h4", "CVE-2024-1", "r1", 50, risk.P2, 1),
		member("e", "h5", "CVE-2024-1", "r1", 50, risk.P2, 1),
	})
	var got []string
	for _, it := range items {
		got = append(got, it.TopFinding)
	}
	// c: P1; b: top score; d/e: same score, earlier due, then key order; a last.
	de := []string{"d", "e"}
	if HostKey("h5", "r1") < HostKey("h4", "r1") {
		de = []string{"e", "d"}
	}
	want := append(append([]string{"c", "b"}, de...), "a")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func TestEvidenceOfTopFinding(t *testing.T) {
	top := member("top", "h", "CVE-2024-1", "r", 80, risk.P1, 3)
	top.Evidence = []risk.Evidence{{Detail: "small", Points: 5}, {Detail: "big", Points: 60}, {Detail: "neg", Points: -10}}
	other := member("other", "h", "CVE-2024-2", "r", 10, risk.P4, 3)
	other.Evidence = []risk.Evidence{{Detail: "other", Points: 99}}
	items := build(Options{}, []Member{other, top})
	ev := items[0].Evidence
	if len(ev) != 3 || ev[0].Detail != "big" || ev[1].Detail != "small" || ev[2].Detail != "neg" {
		t.Fatalf("evidence %+v", ev)
	}
	if top.Evidence[0].Detail != "small" {
		t.Fatal("the member's evidence must not be reordered in place")
	}
}

func TestHostRefFrom(t *testing.T) {
	ref := HostRefFrom(falcon.HostFacet{Hostname: "web01", AssetCriticality: "High",
		Tags: []string{"Other/bu-x", "FalconGroupingTags/env-prod", "falcongroupingtags/BU-Finance", "FalconGroupingTags/team-payments", "FalconGroupingTags/bu-second"}}, "ABC")
	want := HostRef{AID: "abc", Hostname: "web01", AssetCriticality: "High", BusinessUnit: "Finance", Team: "payments"}
	if ref != want {
		t.Fatalf("ref = %+v, want %+v", ref, want)
	}
	if ref := HostRefFrom(falcon.HostFacet{Tags: []string{"SensorGroupingTags/team-sre", "FalconGroupingTags/bu-"}}, "a"); ref.Team != "sre" || ref.BusinessUnit != "" {
		t.Fatalf("ref = %+v", ref)
	}
}

func TestEmptyBuilder(t *testing.T) {
	if items := NewBuilder(Options{}).Items(); len(items) != 0 {
		t.Fatalf("items %v", items)
	}
}

func TestItemsRepeatableAndAddAfter(t *testing.T) {
	b := NewBuilder(Options{FleetMinHosts: 2})
	b.Add(member("f1", "a1", "CVE-2024-1", "r1", 10, risk.P3, 5))
	first := b.Items()
	if again := b.Items(); !reflect.DeepEqual(first, again) {
		t.Fatal("Items is not repeatable")
	}
	b.Add(member("f2", "a2", "CVE-2024-1", "r1", 20, risk.P2, 5))
	items := b.Items()
	if len(items) != 1 || items[0].Kind != KindFleet || len(items[0].Hosts) != 2 || first[0].Kind != KindHost {
		t.Fatalf("after a second host: %+v (first %+v)", items, first)
	}
}
