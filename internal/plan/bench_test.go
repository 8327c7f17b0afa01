//go:build unix

package plan

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/risk"
)

// fleetFixture is a 20,000-host estate with 50 findings per host (1,000,000
// members). CVE popularity is skewed (a few CVEs are everywhere, most are
// rare); each CVE is fixed by one of ~1,700 remediations (about three CVEs
// per remediation, as with cumulative updates), and 10% of CVEs have none.
type fleetFixture struct {
	ids    []string
	aids   []string
	refs   []HostRef
	cves   []string
	rems   []*falcon.Remediation
	member func(i int) Member
}

func newFleetFixture(hosts, perHost int) *fleetFixture {
	r := rand.New(rand.NewPCG(7, 7))
	fx := &fleetFixture{}
	for h := range hosts {
		aid := fmt.Sprintf("%032x", h+1)
		fx.aids = append(fx.aids, aid)
		fx.refs = append(fx.refs, HostRef{AID: aid, Hostname: fmt.Sprintf("host-%05d", h), AssetCriticality: "High", BusinessUnit: "bu", Team: "team"})
	}
	for c := range 5000 {
		fx.cves = append(fx.cves, fmt.Sprintf("CVE-2024-%d", 1000+c))
	}
	for m := range 1700 {
		fx.rems = append(fx.rems, &falcon.Remediation{ID: fmt.Sprintf("%032x", 1<<40+m), Title: fmt.Sprintf("Update %d", m)})
	}
	n := hosts * perHost
	fx.ids = make([]string, n)
	type row struct {
		cve, rem int32
		score    float32
	}
	rows := make([]row, n)
	for i := range n {
		fx.ids[i] = fmt.Sprintf("%s_%08d", fx.aids[i/perHost], i)
		// Squaring a uniform favours low indexes: popular CVEs.
		u := r.Float64()
		cve := int32(u * u * float64(len(fx.cves)))
		rem := cve / 3
		if cve%10 == 9 {
			rem = -1
		}
		rows[i] = row{cve: cve, rem: rem, score: float32(r.IntN(1000)) / 10}
	}
	tiers := []risk.Tier{risk.P1, risk.P2, risk.P3, risk.P4}
	due := time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)
	fx.member = func(i int) Member {
		rw := rows[i]
		h := i / perHost
		m := Member{FindingID: fx.ids[i], AID: fx.aids[h], Hostname: fx.refs[h].Hostname, CVE: fx.cves[rw.cve],
			Score: float64(rw.score), Tier: tiers[i&3], Due: due.AddDate(0, 0, i%180), Host: fx.refs[h]}
		if rw.rem >= 0 {
			m.Remediation = fx.rems[rw.rem]
			m.RemediationID = m.Remediation.ID
		}
		return m
	}
	return fx
}

// BenchmarkBuilder1M adds 1,000,000 members and builds the items. Metrics:
// cpu-s/op (CPU time, GC included), builder+items-MB (live heap with both
// referenced: the peak a caller sees) and items-MB (the items alone, once
// the builder is dropped).
func BenchmarkBuilder1M(b *testing.B) {
	const hosts, perHost = 20000, 50
	fx := newFleetFixture(hosts, perHost)
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	cpu0 := cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	var items []WorkItem
	var bl *Builder
	for b.Loop() {
		bl = NewBuilder(Options{SizeHint: hosts * perHost})
		for i := range hosts * perHost {
			bl.Add(fx.member(i))
		}
		items = bl.Items()
	}
	b.StopTimer()
	// CPU seconds per op, GC included: steadier than ns/op on a shared machine.
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-base.HeapAlloc)/(1<<20), "builder+items-MB")
	runtime.KeepAlive(bl)
	bl = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-base.HeapAlloc)/(1<<20), "items-MB")
	b.ReportMetric(float64(len(items)), "items")
	runtime.KeepAlive(items)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestFixtureShape(t *testing.T) {
	// A small version of the benchmark estate yields every item kind.
	fx := newFleetFixture(200, 50)
	b := NewBuilder(Options{})
	for i := range 200 * 50 {
		b.Add(fx.member(i))
	}
	kinds := map[string]int{}
	for _, it := range b.Items() {
		kinds[it.Kind]++
	}
	if kinds[KindHost] == 0 || kinds[KindFleet] == 0 || kinds[KindMitigate] == 0 || b.Len() != 10000 {
		t.Fatalf("kinds %v", kinds)
	}
}
