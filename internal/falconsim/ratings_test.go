package falconsim

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/cvedata"
)

func TestDeriveFalconRatings(t *testing.T) {
	ssvc := func(e, a, ti string) *cvedata.SSVC {
		return &cvedata.SSVC{Exploitation: e, Automatable: a, TechnicalImpact: ti}
	}
	tests := []struct {
		name       string
		ssvc       *cvedata.SSVC
		inKEV      bool
		wantExprt  string
		wantStatus int
	}{
		{"kev overrides none", ssvc("none", "no", "partial"), true, ExprtCritical, 90},
		{"active", ssvc("active", "no", "partial"), false, ExprtCritical, 90},
		{"active automatable total", ssvc("active", "yes", "total"), false, ExprtCritical, 90},
		{"poc automatable", ssvc("poc", "yes", "partial"), false, ExprtHigh, 60},
		{"poc automatable total", ssvc("poc", "yes", "total"), false, ExprtHigh, 60},
		{"poc total", ssvc("poc", "no", "total"), false, ExprtHigh, 30},
		{"poc partial", ssvc("poc", "no", "partial"), false, ExprtMedium, 30},
		{"none automatable total", ssvc("none", "yes", "total"), false, ExprtMedium, 0},
		{"none automatable partial", ssvc("none", "yes", "partial"), false, ExprtLow, 0},
		{"none total", ssvc("none", "no", "total"), false, ExprtLow, 0},
		{"no ssvc", nil, false, ExprtLow, 0},
		{"no ssvc but kev", nil, true, ExprtCritical, 90},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, s := DeriveFalconRatings(cvedata.Record{ID: "CVE-2024-0001", SSVC: tc.ssvc}, tc.inKEV)
			if e != tc.wantExprt || s != tc.wantStatus {
				t.Errorf("got %s/%d, want %s/%d", e, s, tc.wantExprt, tc.wantStatus)
			}
		})
	}
}

func TestCVEFromRecord(t *testing.T) {
	r := cvedata.Record{
		ID: "CVE-2024-1234", Published: "2024-03-05", Title: "Example RCE", Description: "desc",
		CVSS:       &cvedata.CVSS{Version: "3.1", Score: 9.8, Severity: "CRITICAL", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
		CWEs:       []string{"CWE-787"},
		References: []string{"https://msrc.microsoft.com/update-guide/vulnerability/CVE-2024-1234", "https://example.com/blog"},
		SSVC:       &cvedata.SSVC{Exploitation: "poc", Automatable: "yes", TechnicalImpact: "total", Timestamp: "x"},
	}
	kev := KEVIndex{"CVE-2024-1234": {CVE: "CVE-2024-1234", DateAdded: "2024-03-10", DueDate: "2024-03-31"}}

	c := CVEFromRecord(r, kev)
	if c.ID != r.ID || c.Name != "Example RCE" || c.Description != "desc" || c.BaseScore != 9.8 || c.Severity != "CRITICAL" ||
		c.Vector != r.CVSS.Vector || !c.Published.Equal(time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("facet = %+v", c)
	}
	if !c.IsCISAKEV || c.CISADueDate != "2024-03-31" || c.ExploitStatus != 90 || c.ExprtRating != ExprtCritical {
		t.Errorf("KEV facet = %+v", c)
	}
	if c.RemediationLevel != "O" || !slices.Equal(c.VendorAdvisory, r.References[:1]) || !slices.Equal(c.References, r.References) {
		t.Errorf("advisories = %v, level %s", c.VendorAdvisory, c.RemediationLevel)
	}
	if c.SSVC == nil || *c.SSVC != (SSVC{Exploitation: "poc", Automatable: "yes", TechnicalImpact: "total"}) {
		t.Errorf("ssvc = %+v", c.SSVC)
	}
	c.CWEs[0] = "changed"
	if r.CWEs[0] != "CWE-787" {
		t.Error("the facet must not share slices with the record")
	}

	notKEV := CVEFromRecord(r, nil)
	if notKEV.IsCISAKEV || notKEV.CISADueDate != "" || notKEV.ExploitStatus != 60 || notKEV.ExprtRating != ExprtHigh {
		t.Errorf("non-KEV facet = %+v", notKEV)
	}
	noFix := r
	noFix.References = []string{"https://example.com/blog"}
	noFix.CVSS = nil
	noFix.Published = ""
	if c := CVEFromRecord(noFix, nil); c.RemediationLevel != "U" || c.VendorAdvisory != nil || c.BaseScore != 0 || !c.Published.IsZero() {
		t.Errorf("no-fix facet = %+v", c)
	}
}

func TestCVEFromRealRecords(t *testing.T) {
	db := mustDB(t)
	kev := KEVIndexFromDB(db)
	counts := map[int]int{}
	levels := map[string]int{}
	for _, r := range db.All() {
		c := CVEFromRecord(r, kev)
		counts[c.ExploitStatus]++
		levels[c.RemediationLevel]++
		if _, in := kev[r.ID]; in != c.IsCISAKEV {
			t.Errorf("%s: is_cisa_kev = %v", r.ID, c.IsCISAKEV)
		}
	}
	for _, s := range exploitStatuses {
		if counts[s] == 0 {
			t.Errorf("no bundled CVE gets exploit status %d: %v", s, counts)
		}
	}
	if levels["U"] == 0 || levels["O"] < 10*levels["U"] {
		t.Errorf("remediation levels = %v: want most with an official fix and some without", levels)
	}
}

func TestVendorAdvisories(t *testing.T) {
	tests := []struct {
		ref  string
		want bool
	}{
		{"https://msrc.microsoft.com/update-guide/vulnerability/CVE-2024-38063", true},
		{"https://chromereleases.googleblog.com/2024/01/stable-channel-update.html", true},
		{"https://www.mozilla.org/security/advisories/mfsa2023-34/", true},
		{"https://git.kernel.org/stable/c/0123abcd", true},
		{"https://github.com/owner/repo/commit/0123abcd", true},
		{"https://github.com/owner/repo/security/advisories/GHSA-xxxx", true},
		{"https://access.redhat.com/errata/RHSA-2024:4312", true},
		{"https://www.debian.org/security/2024/dsa-5724", true},
		{"https://bugzilla.mozilla.org/show_bug.cgi?id=1", false},
		{"https://issues.chromium.org/issues/40056265", false},
		{"https://nvd.nist.gov/vuln/detail/CVE-2024-1", false},
		{"ftp://patches.example.com/x", false},
		{"not a url at all", false},
	}
	for _, tc := range tests {
		if got := len(VendorAdvisories([]string{tc.ref})) == 1; got != tc.want {
			t.Errorf("VendorAdvisories(%q) = %v, want %v", tc.ref, got, tc.want)
		}
	}
}

func TestKEVIndexAsOf(t *testing.T) {
	k := KEVIndex{
		"CVE-2024-0001": {DateAdded: "2024-01-10"},
		"CVE-2024-0002": {DateAdded: "2024-02-10"},
	}
	got := k.AsOf(time.Date(2024, 1, 10, 23, 0, 0, 0, time.UTC))
	if _, ok := got["CVE-2024-0001"]; !ok || len(got) != 1 {
		t.Errorf("AsOf = %v", got)
	}
	if len(k.AsOf(time.Time{})) != 2 {
		t.Error("zero time keeps everything")
	}
	idx, err := ReadKEVIndex(strings.NewReader(`{"vulnerabilities":[{"cveID":"CVE-2024-0003","dateAdded":"2024-01-01","dueDate":"2024-01-22"}]}`))
	if err != nil || idx["CVE-2024-0003"].DueDate != "2024-01-22" {
		t.Errorf("ReadKEVIndex = %v, %v", idx, err)
	}
}
