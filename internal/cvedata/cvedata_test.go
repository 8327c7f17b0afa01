package cvedata

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

func TestLoadBundled(t *testing.T) {
	db, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if n := db.Len(); n < 1500 || n > 4000 {
		t.Fatalf("bundled records = %d, want 1500..4000", n)
	}
	r, ok := db.Get("CVE-2024-6387")
	if !ok {
		t.Fatal("CVE-2024-6387 (regreSSHion) missing")
	}
	if r.CVSS == nil || r.CVSS.Score != 8.1 || r.CVSS.Severity != "HIGH" || !strings.HasPrefix(r.CVSS.Vector, "CVSS:3.1/") {
		t.Errorf("CVSS = %+v", r.CVSS)
	}
	if r.Published != "2024-07-01" || r.State != "PUBLISHED" || r.SSVC == nil || r.SSVC.TechnicalImpact == "" {
		t.Errorf("record = %+v", r)
	}
	if _, ok := db.Get("CVE-1999-0006"); ok {
		t.Error("CVE-1999-0006 (qpopper) is not in the product set and must not be bundled")
	}

	again, err := Load()
	if err != nil || again != db {
		t.Errorf("Load() should return the same immutable DB, got %p vs %p (%v)", again, db, err)
	}
}

// Every bundled record must satisfy the selection rule of README.md.
func TestBundledSelectionRule(t *testing.T) {
	db, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	kev := db.KEVEntries()
	if len(kev) < 50 {
		t.Fatalf("bundled KEV entries = %d, want >= 50", len(kev))
	}
	inKEV := 0
	for _, r := range db.All() {
		if r.State != "PUBLISHED" {
			t.Errorf("%s: state %s", r.ID, r.State)
		}
		if !ValidCVEID(r.ID) {
			t.Errorf("%s: bad id", r.ID)
		}
		matched := false
		for _, s := range Catalog() {
			if s.Matches(r) {
				matched = true
				break
			}
		}
		if !matched {
			t.Errorf("%s: matches no catalog software (%v)", r.ID, r.Products)
		}
		_, k := kev[r.ID]
		if k {
			inKEV++
		}
		exploited := k || r.KEVDateAdded != "" || (r.SSVC != nil && r.SSVC.Exploitation != "none")
		if r.CVSS == nil && !exploited {
			t.Errorf("%s: no CVSS and not known exploited", r.ID)
		}
	}
	if inKEV != len(kev) {
		t.Errorf("KEV entries of bundled records = %d, bundled KEV entries = %d: every KEV entry must belong to a bundled record", inKEV, len(kev))
	}
	e, ok := db.KEV("CVE-2024-38475")
	if !ok || e.DueDate == "" || e.DateAdded == "" || e.VendorProject != "Apache" {
		t.Errorf("KEV(CVE-2024-38475) = %+v, %v", e, ok)
	}
	if db.KEVCatalogVersion() != "2025.08.25" {
		t.Errorf("KEV catalog version = %q", db.KEVCatalogVersion())
	}
}

func TestByProduct(t *testing.T) {
	db, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key     string
		min     int
		contain string
	}{
		{"windows-server-2019", 500, "CVE-2024-38063"},
		{"chrome", 100, ""},
		{"openssh", 2, "CVE-2024-6387"},
		{"xz", 1, "CVE-2024-3094"},
		{"linux-kernel", 50, ""},
		{"windows-ad-ds", 20, ""},
		{"iis", 3, ""},
		{"macos", 50, ""},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			recs := db.ByProduct(tc.key)
			if len(recs) < tc.min {
				t.Fatalf("ByProduct(%q) = %d records, want >= %d", tc.key, len(recs), tc.min)
			}
			s, _ := SoftwareByKey(tc.key)
			found := tc.contain == ""
			for _, r := range recs {
				if !s.Matches(r) {
					t.Errorf("%s does not match %s", r.ID, tc.key)
				}
				if r.ID == tc.contain {
					found = true
				}
			}
			if !found {
				t.Errorf("ByProduct(%q) lacks %s", tc.key, tc.contain)
			}
		})
	}
	if db.ByProduct("no-such-software") != nil {
		t.Error("unknown key must give nil")
	}
}

func TestAllIsACopy(t *testing.T) {
	db, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	all := db.All()
	id := all[0].ID
	all[0].ID = "CVE-0000-0000"
	if db.All()[0].ID != id {
		t.Error("All() must not expose the DB's slice")
	}
}

func TestCatalogMatches(t *testing.T) {
	rec := func(title string, pp ...string) Record {
		r := Record{Title: title}
		for i := 0; i+1 < len(pp); i += 2 {
			r.Products = append(r.Products, Product{Vendor: pp[i], Product: pp[i+1]})
		}
		return r
	}
	tests := []struct {
		name string
		key  string
		r    Record
		want bool
	}{
		{"windows 10 release", "windows-10", rec("", "Microsoft", "Windows 10 Version 22H2"), true},
		{"windows 10 lower-case vendor", "windows-10", rec("", "microsoft", "Windows 10 Version 1809"), true},
		{"windows 11 is not 10", "windows-10", rec("", "Microsoft", "Windows 11 version 22H2"), false},
		{"server core", "windows-server-2019", rec("", "Microsoft", "Windows Server 2019 (Server Core installation)"), true},
		{"chrome", "chrome", rec("", "Google", "Chrome"), true},
		{"chrome os is not chrome", "chrome", rec("", "Google", "ChromeOS"), false},
		{"android is not chrome", "chrome", rec("", "Google", "Android"), false},
		{"firefox esr", "firefox", rec("", "Mozilla", "Firefox ESR"), true},
		{"firefox for ios", "firefox", rec("", "Mozilla", "Firefox for iOS"), false},
		{"kernel.org", "linux-kernel", rec("net: fix", "Linux", "Linux"), true},
		{"openEuler kernel", "linux-kernel", rec("", "openEuler", "kernel"), false},
		{"red hat title kernel", "linux-kernel", rec("Kernel: nvme: info leak", "Red Hat", "Red Hat Enterprise Linux 8"), true},
		{"red hat title needs red hat product", "linux-kernel", rec("kernel: x", "SUSE", "SLES"), false},
		{"red hat openssh", "openssh", rec("Openssh: regresshion", "Red Hat", "Red Hat Enterprise Linux 9"), true},
		{"upstream openssh", "openssh", rec("", "", "OpenSSH"), true},
		{"openssh in another title", "openssh", rec("libssh: openssh-like", "Red Hat", "Red Hat Enterprise Linux 9"), false},
		{"nginx plus", "nginx", rec("", "F5", "NGINX Plus"), true},
		{"nginx-ui is not nginx", "nginx", rec("", "0xJacky", "nginx-ui"), false},
		{"ldap on server is ad-ds", "windows-ad-ds", rec("Windows Lightweight Directory Access Protocol (LDAP) Remote Code Execution Vulnerability", "Microsoft", "Windows Server 2022"), true},
		{"kernel on server is not ad-ds", "windows-ad-ds", rec("Windows Kernel Elevation of Privilege Vulnerability", "Microsoft", "Windows Server 2022"), false},
		{"ldap on workstation only is not ad-ds", "windows-ad-ds", rec("Windows LDAP Denial of Service Vulnerability", "Microsoft", "Windows 10 Version 1809"), false},
		{"http.sys is iis", "iis", rec("HTTP.sys Denial of Service Vulnerability", "Microsoft", "Windows Server 2019"), true},
		{"exchange", "exchange", rec("", "Microsoft", "Microsoft Exchange Server 2019 Cumulative Update 13"), true},
		{"exchange reporter is not exchange", "exchange", rec("", "ManageEngine", "Exchange Reporter Plus"), false},
		{"office", "office", rec("", "Microsoft", "Microsoft 365 Apps for Enterprise"), true},
		{"office online is not office", "office", rec("", "Microsoft", "Office Online Server"), false},
		{"java", "java", rec("", "Oracle Corporation", "Java SE JDK and JRE"), true},
		{"zoom", "zoom", rec("", "Zoom Video Communications, Inc.", "Zoom Desktop Client for Windows"), true},
		{"wpzoom is not zoom", "zoom", rec("", "wpzoom", "Beaver Builder Addons by WPZOOM"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ok := SoftwareByKey(tc.key)
			if !ok {
				t.Fatalf("no catalog key %q", tc.key)
			}
			if got := s.Matches(tc.r); got != tc.want {
				t.Errorf("%s.Matches(%+v) = %v, want %v", tc.key, tc.r, got, tc.want)
			}
		})
	}
}

func TestCatalogKeysUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Catalog() {
		if s.Key == "" || s.Vendor == "" || s.Product == "" {
			t.Errorf("incomplete entry %+v", s)
		}
		if seen[s.Key] {
			t.Errorf("duplicate key %s", s.Key)
		}
		seen[s.Key] = true
	}
}

const twoLines = `{"id":"CVE-2024-0001","published":null,"title":"","description":"d","cvss":null,"cwes":[],"products":[],"references":[],"ssvc":null,"kev_date_added":null,"state":"PUBLISHED"}

{"id":"CVE-2024-0002","published":"2024-01-02","title":"t","description":"d2","cvss":{"version":"3.1","score":7.5,"severity":"HIGH","vector":"CVSS:3.1/AV:N","source":"cna"},"cwes":["CWE-79"],"products":[{"vendor":"v","product":"p"}],"references":["https://x"],"ssvc":{"exploitation":"poc","automatable":"no","technical_impact":"partial","timestamp":"2024-01-03T00:00:00Z"},"kev_date_added":"2024-02-01","state":"PUBLISHED"}
`

func TestReadJSONL(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(twoLines))
	zw.Close()
	for name, in := range map[string][]byte{"plain": []byte(twoLines), "gzip": gz.Bytes()} {
		t.Run(name, func(t *testing.T) {
			var got []Record
			for r, err := range ReadJSONL(bytes.NewReader(in)) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, r)
			}
			if len(got) != 2 {
				t.Fatalf("got %d records, want 2", len(got))
			}
			if got[0].Published != "" || got[0].CVSS != nil || got[0].KEVDateAdded != "" {
				t.Errorf("nulls must decode to zero values: %+v", got[0])
			}
			r := got[1]
			if r.CVSS.Score != 7.5 || r.SSVC.Exploitation != "poc" || r.KEVDateAdded != "2024-02-01" || r.Products[0].Product != "p" || r.CWEs[0] != "CWE-79" {
				t.Errorf("record 2 = %+v", r)
			}
		})
	}
}

func TestReadJSONLErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"malformed line", twoLines + "{not json}\n", "line 4"},
		{"missing id", `{"state":"PUBLISHED"}` + "\n", "line 1: record has no id"},
		{"bad gzip", "\x1f\x8bnot gzip", "gzip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := 0
			for _, e := range ReadJSONL(strings.NewReader(tc.in)) {
				if e != nil {
					err = e
					break
				}
				n++
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("after %d records err = %v, want it to mention %q", n, err, tc.want)
			}
		})
	}
}

func TestReadJSONLStopsEarly(t *testing.T) {
	n := 0
	for range ReadJSONL(strings.NewReader(twoLines)) {
		n++
		break
	}
	if n != 1 {
		t.Fatalf("n = %d", n)
	}
}

func TestReadKEV(t *testing.T) {
	good := `{"catalogVersion":"1","dateReleased":"x","vulnerabilities":[{"cveID":"CVE-2024-1234","dateAdded":"2024-01-01","dueDate":"2024-01-22","knownRansomwareCampaignUse":"Known"}]}`
	c, err := ReadKEV(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if e := c.Entries["CVE-2024-1234"]; e.DueDate != "2024-01-22" || !e.KnownRansomware() || c.Version != "1" {
		t.Errorf("entry = %+v", e)
	}
	bad := `{"vulnerabilities":[{"cveID":"CVE-2024-1"}]}`
	if _, err := ReadKEV(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "vulnerabilities[0].cveID") {
		t.Errorf("err = %v", err)
	}
	if _, err := NewDB([]Record{{ID: "CVE-2024-0001"}, {ID: "CVE-2024-0001"}}, nil); err == nil {
		t.Error("NewDB must reject duplicate ids")
	}
}
