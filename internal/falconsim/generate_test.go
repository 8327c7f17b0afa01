package falconsim

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/cvedata"
)

var updateGen = flag.Bool("update-gen", false, "rewrite testdata/gen/tenant-small.json")

const smallExample = "testdata/gen/tenant-small.json"

func generate(t testing.TB, opts GenerateOptions) *Tenant {
	t.Helper()
	tn, err := Generate(opts, mustDB(t))
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func tenantBytes(t testing.TB, tn *Tenant) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := tn.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGenerateDeterministic(t *testing.T) {
	base := GenerateOptions{Hosts: 60, Seed: 42}
	a := tenantBytes(t, generate(t, base))
	b := tenantBytes(t, generate(t, base))
	if !bytes.Equal(a, b) {
		t.Fatal("same options gave different bytes")
	}
	for name, o := range map[string]GenerateOptions{
		"seed": {Hosts: 60, Seed: 43},
		"now":  {Hosts: 60, Seed: 42, Now: DefaultGenerateNow().AddDate(0, -2, 0)},
		"cid":  {Hosts: 60, Seed: 42, CID: "feedface"},
	} {
		if bytes.Equal(a, tenantBytes(t, generate(t, o))) {
			t.Errorf("changing %s did not change the tenant", name)
		}
	}
}

func TestGenerateIsValidAndResolved(t *testing.T) {
	db := mustDB(t)
	for _, seed := range []int64{1, 2, 3} {
		tn := generate(t, GenerateOptions{Hosts: 120, Seed: seed})
		if err := tn.Validate(); err != nil {
			t.Fatalf("seed %d: generated tenant does not validate:\n%v", seed, err)
		}
		// Resolving must change nothing: the generator fills every default.
		re, err := ReadTenant(bytes.NewReader(tenantBytes(t, tn)), "generated")
		if err != nil {
			t.Fatal(err)
		}
		if err := re.Resolve(db); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tenantBytes(t, re), tenantBytes(t, tn)) {
			t.Errorf("seed %d: Resolve changed a generated tenant", seed)
		}
	}
}

func TestGenerateOptionsErrors(t *testing.T) {
	db := mustDB(t)
	tests := []struct {
		name string
		opts GenerateOptions
		db   *cvedata.DB
		want string
	}{
		{"no hosts", GenerateOptions{}, db, "hosts: 0 is outside 1..200000"},
		{"too many hosts", GenerateOptions{Hosts: MaxGenerateHosts + 1}, db, "hosts: 200001 is outside"},
		{"negative findings", GenerateOptions{Hosts: 1, FindingsPerHost: -1}, db, "findings per host: -1 is outside 0..1000"},
		{"bad cid", GenerateOptions{Hosts: 1, CID: "a:b"}, db, `cid: "a:b" may contain only`},
		{"no data", GenerateOptions{Hosts: 1}, nil, "no CVE data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn, err := Generate(tc.opts, tc.db)
			if err == nil || !strings.Contains(err.Error(), tc.want) || tn != nil {
				t.Errorf("Generate() = %v, %v; want error %q", tn != nil, err, tc.want)
			}
		})
	}
}

// TestGenerateDistribution checks that a mid-size tenant has every feature
// the agent and evals rely on.
func TestGenerateDistribution(t *testing.T) {
	db := mustDB(t)
	tn := generate(t, GenerateOptions{Hosts: 400, Seed: 7})
	now := tn.Now
	hosts := map[string]*Host{}
	kinds := map[string]int{}
	for i := range tn.Hosts {
		h := &tn.Hosts[i]
		hosts[h.AID] = h
		kinds[h.Platform+"/"+h.ProductTypeDesc]++
	}
	cves := map[string]*CVE{}
	for i := range tn.CVEs {
		cves[tn.CVEs[i].ID] = &tn.CVEs[i]
	}

	var dcs, exposedServers, stale, unmanaged int
	for _, h := range tn.Hosts {
		if h.ProductTypeDesc == "Domain Controller" {
			dcs++
			if h.AssetCriticality != "Critical" {
				t.Errorf("DC %s has criticality %s", h.Hostname, h.AssetCriticality)
			}
		}
		if h.ProductTypeDesc != "Workstation" && h.InternetExposure == "Yes" {
			exposedServers++
		}
		if now.Sub(h.LastSeen) > 30*24*time.Hour {
			stale++
		}
		if !h.Managed {
			unmanaged++
		}
	}
	wantAtLeast := func(what string, got, want int) {
		t.Helper()
		if got < want {
			t.Errorf("%s = %d, want >= %d", what, got, want)
		}
	}
	wantAtLeast("domain controllers", dcs, 6)
	wantAtLeast("internet-facing servers", exposedServers, 3)
	wantAtLeast("stale hosts", stale, 5)
	wantAtLeast("unmanaged hosts", unmanaged, 3)
	if ws := kinds["Windows/Workstation"]; ws < 240 || ws > 300 {
		t.Errorf("Windows workstations = %d of 400, want about 67%%", ws)
	}
	for _, k := range []string{"Windows/Server", "Linux/Server", "Mac/Workstation"} {
		wantAtLeast(k, kinds[k], 10)
	}

	// Findings.
	perHost := map[string]int{}
	remHosts := map[string]map[string]bool{}
	statuses := map[string]int{}
	var kev, suppressed, noRem int
	for i, f := range tn.Findings {
		perHost[f.AID]++
		statuses[f.Status]++
		c := cves[f.CVE]
		if c == nil {
			t.Fatalf("findings[%d]: CVE %s has no facet", i, f.CVE)
		}
		if c.IsCISAKEV {
			kev++
		}
		if f.Suppressed {
			suppressed++
			if f.SuppressionReason != "ACCEPT_RISK" && f.SuppressionReason != "COMPENSATING_CONTROL" {
				t.Errorf("findings[%d] suppression reason %q", i, f.SuppressionReason)
			}
		}
		if len(f.RemediationIDs) == 0 {
			noRem++
			if c.RemediationLevel != "U" {
				t.Errorf("findings[%d]: no remediation but %s has remediation level %s", i, f.CVE, c.RemediationLevel)
			}
		}
		for _, r := range f.RemediationIDs {
			if remHosts[r] == nil {
				remHosts[r] = map[string]bool{}
			}
			remHosts[r][f.AID] = true
		}
		h := hosts[f.AID]
		if f.Created.Before(c.Published) || f.Created.After(h.LastSeen) || f.Created.Before(h.FirstSeen) {
			t.Errorf("findings[%d] created %v outside [published %v, host seen %v..%v]", i, f.Created, c.Published, h.FirstSeen, h.LastSeen)
		}
	}
	mean := float64(len(tn.Findings)) / float64(len(tn.Hosts))
	if mean < 0.85*DefaultFindingsPerHost || mean > 1.15*DefaultFindingsPerHost {
		t.Errorf("mean findings per host = %.1f, want about %d", mean, DefaultFindingsPerHost)
	}
	wantAtLeast("KEV findings", kev, 20)
	wantAtLeast("closed findings", statuses["closed"], len(tn.Findings)/40)
	wantAtLeast("reopened findings", statuses["reopen"], 10)
	if frac := float64(suppressed) / float64(len(tn.Findings)); frac < 0.015 || frac > 0.05 {
		t.Errorf("suppressed = %.3f of findings, want about 3%%", frac)
	}
	wantAtLeast("findings without remediation", noRem, 5)
	shared := 0
	for _, hs := range remHosts {
		if len(hs) >= 10 {
			shared++
		}
	}
	wantAtLeast("remediations shared by >= 10 hosts", shared, 10)
	for _, h := range tn.Hosts {
		if !h.Managed && perHost[h.AID] == 0 {
			t.Errorf("unmanaged %s has no findings: network-scanned assets still have vulnerabilities", h.Hostname)
		}
	}

	// Alerts: some tied to a finding of their host, some background.
	openCVEs := map[string]map[string]bool{}
	for _, f := range tn.Findings {
		if f.Status != "closed" {
			if openCVEs[f.AID] == nil {
				openCVEs[f.AID] = map[string]bool{}
			}
			openCVEs[f.AID][f.CVE] = true
		}
	}
	tied, background := 0, 0
	for i, a := range tn.Alerts {
		if !hosts[a.AID].Managed {
			t.Errorf("alerts[%d] on unmanaged host", i)
		}
		if cve, ok := strings.CutSuffix(a.Name, ")"); ok && strings.HasPrefix(a.Name, "Exploitation of ") {
			cve = cve[strings.LastIndex(cve, "(")+1:]
			if !openCVEs[a.AID][cve] {
				t.Errorf("alerts[%d] %q names a CVE its host has no open finding for", i, a.Name)
			}
			if a.Severity < 70 || a.Severity > 90 || a.Tactic == "" || a.Technique == "" || a.Filename == "" {
				t.Errorf("alerts[%d] = %+v", i, a)
			}
			tied++
		} else {
			background++
		}
	}
	wantAtLeast("alerts tied to findings", tied, 2)
	wantAtLeast("background alerts", background, 5)

	// Intel covers every actively exploited CVE of the tenant plus some poc.
	intel := map[string]IntelVuln{}
	for _, v := range tn.Intel {
		intel[v.CVE] = v
		if cves[v.CVE] == nil {
			t.Errorf("intel for %s, which no finding has", v.CVE)
		}
		if len(v.Reports) == 0 || !strings.HasPrefix(v.Reports[0].SerialID, "CSA-") {
			t.Errorf("intel %s reports = %+v", v.CVE, v.Reports)
		}
		var names []string
		for _, a := range v.Actors {
			names = append(names, a.Name)
		}
		if !slices.Equal(names, cves[v.CVE].Actors) {
			t.Errorf("%s: facet actors %v, intel actors %v", v.CVE, cves[v.CVE].Actors, names)
		}
	}
	poc := 0
	for _, c := range tn.CVEs {
		_, ok := intel[c.ID]
		if c.ExploitStatus == ExploitActivelyExploited && !ok {
			t.Errorf("no intel for actively exploited %s", c.ID)
		}
		if ok && c.ExploitStatus < ExploitActivelyExploited {
			poc++
		}
	}
	wantAtLeast("intel on poc CVEs", poc, 1)
	_ = db
}

// Every finding must be a real CVE that really affects the product it is
// reported for.
func TestGenerateFindingsAreRealCVEs(t *testing.T) {
	db := mustDB(t)
	tn := generate(t, GenerateOptions{Hosts: 300, Seed: 11})
	keysFor := map[[2]string][]string{}
	for _, s := range cvedata.Catalog() {
		k := [2]string{s.Vendor, s.Product}
		keysFor[k] = append(keysFor[k], s.Key)
	}
	for i, f := range tn.Findings {
		rec, ok := db.Get(f.CVE)
		if !ok {
			t.Fatalf("findings[%d]: %s is not a bundled real record", i, f.CVE)
		}
		keys := keysFor[[2]string{f.Vendor, f.Product}]
		if len(keys) == 0 {
			t.Fatalf("findings[%d]: %s/%s is not catalog software", i, f.Vendor, f.Product)
		}
		matched := false
		for _, k := range keys {
			s, _ := cvedata.SoftwareByKey(k)
			matched = matched || s.Matches(rec)
		}
		if !matched {
			t.Errorf("findings[%d]: %s does not affect %s %s (%v)", i, f.CVE, f.Vendor, f.Product, rec.Products)
		}
	}
	for i, c := range tn.CVEs {
		rec, _ := db.Get(c.ID)
		if rec.CVSS != nil && c.BaseScore != rec.CVSS.Score {
			t.Errorf("cves[%d]: base score %v, record has %v", i, c.BaseScore, rec.CVSS.Score)
		}
	}
}

func TestGenerateFindingsPerHost(t *testing.T) {
	tn := generate(t, GenerateOptions{Hosts: 200, Seed: 5, FindingsPerHost: 60})
	mean := float64(len(tn.Findings)) / 200
	if mean < 50 || mean > 70 {
		t.Errorf("mean findings per host = %.1f, want about 60", mean)
	}
}

// The small example other packages' tests use is a generated tenant; it must
// stay what Generate produces.
func TestSmallExample(t *testing.T) {
	tn := generate(t, GenerateOptions{Hosts: 25, Seed: 1})
	want := tenantBytes(t, tn)
	if *updateGen {
		if err := os.MkdirAll(filepath.Dir(smallExample), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := tn.Save(smallExample); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(smallExample)
	if err != nil {
		t.Fatalf("%v (run go test -run TestSmallExample -update-gen)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./internal/falconsim -run TestSmallExample -update-gen", smallExample)
	}
	loaded, err := LoadTenant(smallExample)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, tn) {
		t.Error("loading the example does not give the generated tenant")
	}
}

// BenchmarkGenerate20k is the scale target: 20,000 hosts with 50 findings
// each (about 1M findings).
func BenchmarkGenerate20k(b *testing.B) {
	db := mustDB(b)
	var findings int
	var heap uint64
	for b.Loop() {
		tn, err := Generate(GenerateOptions{Hosts: 20000, Seed: 1, FindingsPerHost: 50}, db)
		if err != nil {
			b.Fatal(err)
		}
		findings = len(tn.Findings)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = max(heap, ms.HeapInuse)
		runtime.KeepAlive(tn)
	}
	b.ReportMetric(float64(findings), "findings")
	b.ReportMetric(float64(heap)/(1<<20), "MB-heap-inuse")
}

func BenchmarkGenerate1k(b *testing.B) {
	db := mustDB(b)
	for b.Loop() {
		if _, err := Generate(GenerateOptions{Hosts: 1000, Seed: 1}, db); err != nil {
			b.Fatal(err)
		}
	}
}
