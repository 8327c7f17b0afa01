package falconsim

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/cvedata"
)

var ioNow = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// ioTenant is a small hand-written tenant that uses every section and leaves
// out what Resolve fills.
func ioTenant() *Tenant {
	created := ioNow.AddDate(0, -1, 0)
	closed := created.Add(48 * time.Hour)
	return &Tenant{
		Version: TenantVersion,
		CID:     "0123456789abcdef0123456789abcdef",
		Now:     ioNow,
		Clients: []APIClient{{ClientID: "client-a", ClientSecret: "s3cr3t-value", Scopes: []string{"hosts:read"}}},
		Hosts: []Host{
			{AID: "aid-1", Hostname: "fin-ws-0001", Platform: "Windows", OSVersion: "Windows 10", ProductTypeDesc: "Workstation",
				AssetCriticality: "Noncritical", InternetExposure: "No", Tags: []string{"FalconGroupingTags/bu-finance"},
				FirstSeen: created.AddDate(0, -2, 0), LastSeen: ioNow.Add(-time.Hour), Managed: true},
			{AID: "aid-2", Hostname: "web-prod-01", Platform: "Linux", ProductTypeDesc: "Server"},
		},
		Remediations: []Remediation{{ID: "rem-1", Title: "Update OpenSSH to 9.8p1 or later", Action: "Upgrade the openssh package", Type: "upgrade"}},
		Findings: []Finding{
			{AID: "aid-2", CVE: "CVE-2024-6387", Vendor: "OpenBSD", Product: "OpenSSH", ProductVersion: "9.6p1", Created: created, RemediationIDs: []string{"rem-1"}},
			{AID: "aid-1", CVE: "CVE-2024-38475", Vendor: "Apache", Product: "HTTP Server", Created: created, Status: "closed", Closed: &closed},
			{AID: "aid-1", CVE: "CVE-2024-38063", Vendor: "Microsoft", Product: "Windows", Created: created, Suppressed: true, SuppressionReason: "ACCEPT_RISK"},
		},
		Alerts: []Alert{{AID: "aid-1", Created: created.Add(time.Hour), Severity: 70, Name: "Suspicious <PowerShell> & co"}},
		Intel: []IntelVuln{{CVE: "CVE-2024-6387", Actors: []IntelActor{{ID: "example-spider", Name: "EXAMPLE SPIDER"}},
			Reports: []IntelReport{{SerialID: "CSA-240701", Title: "regreSSHion"}}}},
	}
}

func mustDB(t testing.TB) *cvedata.DB {
	t.Helper()
	db, err := cvedata.Load()
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestTenantRoundTrip(t *testing.T) {
	db := mustDB(t)
	orig := ioTenant()
	if err := orig.Validate(); err != nil {
		t.Fatalf("hand-written tenant: %v", err)
	}
	if err := orig.Resolve(db); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"tenant.json", "tenant.json.gz"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := orig.Save(path); err != nil {
				t.Fatal(err)
			}
			got, err := LoadTenant(path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, orig) {
				t.Errorf("round trip changed the tenant:\n got %+v\nwant %+v", got, orig)
			}
			var a, b bytes.Buffer
			if err := orig.WriteJSON(&a); err != nil {
				t.Fatal(err)
			}
			if err := got.WriteJSON(&b); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Error("re-encoding a loaded tenant gives different bytes")
			}
			raw, _ := os.ReadFile(path)
			if gz := strings.HasSuffix(name, ".gz"); gz != (len(raw) > 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
				t.Errorf("gzip framing = %v, want %v", !gz, gz)
			}
		})
	}
	var buf bytes.Buffer
	if err := orig.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Suspicious <PowerShell> & co") {
		t.Error("WriteJSON must not HTML-escape text")
	}
	if !strings.Contains(buf.String(), "\n  \"findings\": [\n    {\"id\":") {
		t.Errorf("want one array element per line, got:\n%.400s", buf.String())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestSaveFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tenant.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A tenant JSON cannot encode (NaN score): the old file must survive.
	bad := ioTenant()
	bad.CVEs = []CVE{{ID: "CVE-2024-0001", BaseScore: nan()}}
	if err := bad.Save(path); err == nil {
		t.Fatal("want an error for an unencodable tenant")
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("failed save replaced the file: %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if err := ioTenant().Save(filepath.Join(dir, "missing", "t.json")); err == nil {
		t.Error("want an error for a missing directory")
	}
}

func nan() float64 { var z float64; return z / z }

func TestValidateProblems(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Tenant)
		want   string
	}{
		{"version", func(t *Tenant) { t.Version = 2 }, "version: 2 is not supported (want 1)"},
		{"cid missing", func(t *Tenant) { t.CID = "" }, "cid: required"},
		{"cid separator", func(t *Tenant) { t.CID = "a:b" }, `cid: "a:b" may contain only`},
		{"now missing", func(t *Tenant) { t.Now = time.Time{} }, "now: required"},
		{"duplicate aid", func(t *Tenant) { t.Hosts[1].AID = "aid-1" }, `hosts[1].aid: "aid-1" duplicates hosts[0]`},
		{"aid charset", func(t *Tenant) { t.Hosts[1].AID = "a_b" }, `hosts[1].aid: "a_b" may contain only`},
		{"hostname", func(t *Tenant) { t.Hosts[0].Hostname = "" }, "hosts[0].hostname: required"},
		{"platform", func(t *Tenant) { t.Hosts[0].Platform = "BeOS" }, `hosts[0].platform: "BeOS" is not one of Windows, Linux, Mac`},
		{"platform missing", func(t *Tenant) { t.Hosts[0].Platform = "" }, `hosts[0].platform: required, one of Windows, Linux, Mac`},
		{"product type", func(t *Tenant) { t.Hosts[1].ProductTypeDesc = "Laptop" }, `hosts[1].product_type_desc: "Laptop" is not one of Workstation, Server, Domain Controller`},
		{"criticality", func(t *Tenant) { t.Hosts[0].AssetCriticality = "urgent" }, `hosts[0].asset_criticality: "urgent" is not one of Critical, High, Noncritical, Unassigned`},
		{"exposure", func(t *Tenant) { t.Hosts[0].InternetExposure = "maybe" }, `hosts[0].internet_exposure: "maybe" is not one of Yes, No, Pending`},
		{"last seen before first", func(t *Tenant) { t.Hosts[0].LastSeen = t.Hosts[0].FirstSeen.Add(-time.Hour) }, "hosts[0].last_seen: "},
		{"last seen after now", func(t *Tenant) { t.Hosts[0].LastSeen = t.Now.Add(time.Hour) }, "hosts[0].last_seen: 2025-06-01T01:00:00Z is after the tenant's now"},
		{"finding unknown host", func(t *Tenant) { t.Findings[2].AID = "abc" }, `findings[2].aid: unknown host "abc" (not in hosts[])`},
		{"finding cve format", func(t *Tenant) { t.Findings[0].CVE = "CVE-24-1" }, `findings[0].cve: "CVE-24-1" is not a CVE id`},
		{"finding product", func(t *Tenant) { t.Findings[0].Product = "" }, "findings[0].product: required"},
		{"finding status", func(t *Tenant) { t.Findings[0].Status = "fixed" }, `findings[0].status: "fixed" is not one of open, closed, reopen, expired`},
		{"finding confidence", func(t *Tenant) { t.Findings[0].Confidence = "sure" }, `findings[0].confidence: "sure" is not one of confirmed, potential`},
		{"finding created missing", func(t *Tenant) { t.Findings[0].Created = time.Time{} }, "findings[0].created: required"},
		{"finding updated before created", func(t *Tenant) { t.Findings[0].Updated = t.Findings[0].Created.Add(-time.Second) }, "findings[0].updated: "},
		{"finding created after now", func(t *Tenant) { t.Findings[0].Created = t.Now.AddDate(0, 0, 1) }, "findings[0].created: 2025-06-02T00:00:00Z is after the tenant's now"},
		{"closed on open finding", func(t *Tenant) { t.Findings[1].Status = "open" }, "findings[1].closed: set on an open finding"},
		{"closed before created", func(t *Tenant) { c := t.Findings[1].Created.Add(-time.Hour); t.Findings[1].Closed = &c }, "findings[1].closed: "},
		{"unknown remediation", func(t *Tenant) { t.Findings[0].RemediationIDs = []string{"rem-1", "rem-x"} }, `findings[0].remediation_ids[1]: unknown remediation "rem-x" (not in remediations[])`},
		{"suppression reason", func(t *Tenant) { t.Findings[2].SuppressionReason = "LAZY" }, `findings[2].suppression_reason: "LAZY" is not one of ACCEPT_RISK, COMPENSATING_CONTROL, FALSE_POSITIVE`},
		{"suppression reason missing", func(t *Tenant) { t.Findings[2].SuppressionReason = "" }, "findings[2].suppression_reason: required"},
		{"reason without suppression", func(t *Tenant) { t.Findings[0].SuppressionReason = "ACCEPT_RISK" }, "findings[0].suppression_reason: set but suppressed is false"},
		{"duplicate finding", func(t *Tenant) { t.Findings = append(t.Findings, t.Findings[0]) }, "findings[3]: same aid, cve and product as findings[0]"},
		{"duplicate finding id", func(t *Tenant) { t.Findings[0].ID = "x"; t.Findings[1].ID = "x" }, `findings[1].id: "x" duplicates findings[0]`},
		{"alert unknown host", func(t *Tenant) { t.Alerts[0].AID = "nope" }, `alerts[0].aid: unknown host "nope" (not in hosts[])`},
		{"alert on unmanaged host", func(t *Tenant) { t.Alerts[0].AID = "aid-2" }, `alerts[0].aid: host "aid-2" is unmanaged`},
		{"alert status", func(t *Tenant) { t.Alerts[0].Status = "done" }, `alerts[0].status: "done" is not one of new, in_progress, closed, reopened`},
		{"alert severity", func(t *Tenant) { t.Alerts[0].Severity = 0 }, "alerts[0].severity: 0 is outside 1..100"},
		{"alert name", func(t *Tenant) { t.Alerts[0].Name = "" }, "alerts[0].name: required"},
		{"alert duplicate id", func(t *Tenant) { t.Alerts = append(t.Alerts, t.Alerts[0]) }, "alerts[1]: same aid, created and name as alerts[0]"},
		{"remediation id", func(t *Tenant) { t.Remediations = append(t.Remediations, Remediation{ID: "rem-1", Title: "x"}) }, `remediations[1].id: "rem-1" duplicates remediations[0]`},
		{"remediation type", func(t *Tenant) { t.Remediations[0].Type = "prayer" }, `remediations[0].type: "prayer" is not one of patch, upgrade, workaround`},
		{"cve id", func(t *Tenant) { t.CVEs = []CVE{{ID: "cve-2024-1"}} }, `cves[0].id: "cve-2024-1" is not a CVE id`},
		{"cve score", func(t *Tenant) { t.CVEs = []CVE{{ID: "CVE-2024-0001", BaseScore: 11}} }, "cves[0].base_score: 11 is outside 0..10"},
		{"cve exploit status", func(t *Tenant) { t.CVEs = []CVE{{ID: "CVE-2024-0001", ExploitStatus: 50}} }, "cves[0].exploit_status: 50 is not one of 0, 30, 60, 90"},
		{"cve exprt", func(t *Tenant) { t.CVEs = []CVE{{ID: "CVE-2024-0001", ExprtRating: "SEVERE"}} }, `cves[0].exprt_rating: "SEVERE" is not one of LOW, MEDIUM, HIGH, CRITICAL`},
		{"cve due date", func(t *Tenant) { t.CVEs = []CVE{{ID: "CVE-2024-0001", CISADueDate: "soon"}} }, `cves[0].cisa_due_date: "soon" is not a YYYY-MM-DD date`},
		{"cve ssvc", func(t *Tenant) {
			t.CVEs = []CVE{{ID: "CVE-2024-0001", SSVC: &SSVC{Exploitation: "lots", Automatable: "yes", TechnicalImpact: "total"}}}
		}, `cves[0].ssvc.exploitation: "lots" is not one of none, poc, active`},
		{"intel duplicate", func(t *Tenant) { t.Intel = append(t.Intel, IntelVuln{CVE: "CVE-2024-6387"}) }, `intel[1].cve: "CVE-2024-6387" duplicates intel[0]`},
		{"intel actor", func(t *Tenant) { t.Intel[0].Actors[0].Name = "" }, "intel[0].actors[0]: id and name are required"},
		{"client duplicate", func(t *Tenant) { t.Clients = append(t.Clients, t.Clients[0]) }, `clients[1].client_id: "client-a" duplicates clients[0]`},
		{"client secret", func(t *Tenant) { t.Clients[0].ClientSecret = "" }, "clients[0].client_secret: required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := ioTenant()
			tc.mutate(tn)
			err := tn.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %q\nwant it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error leaks a client secret: %q", err)
			}
			// The mutation's own problem comes first; a broken host may
			// also orphan its findings, nothing else may be reported.
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.Contains(ve.Problems[0], tc.want) || len(ve.Problems) > 2 {
				t.Errorf("want the mutation's problem first and at most one consequence, got %v", err)
			}
		})
	}
}

func TestValidateReportsManyProblems(t *testing.T) {
	tn := ioTenant()
	for i := range 30 {
		tn.Findings = append(tn.Findings, Finding{AID: fmt.Sprintf("ghost-%d", i), CVE: "CVE-2024-6387", Product: "OpenSSH", Created: ioNow.Add(-time.Hour)})
	}
	err := tn.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	if len(ve.Problems) != maxProblems || ve.Omitted != 10 {
		t.Errorf("problems = %d, omitted = %d; want %d and 10", len(ve.Problems), ve.Omitted, maxProblems)
	}
	if !strings.Contains(err.Error(), "findings[3].aid") || !strings.Contains(err.Error(), "findings[22].aid") ||
		!strings.Contains(err.Error(), "... and 10 more problems") {
		t.Errorf("err = %v", err)
	}
}

func TestReadTenantErrors(t *testing.T) {
	const head = `{"version":1,"cid":"c1","now":"2025-06-01T00:00:00Z","hosts":[{"aid":"a1","hostname":"h","platform":"Windows","product_type_desc":"Server","first_seen":"2025-01-01T00:00:00Z","last_seen":"2025-01-02T00:00:00Z","managed":true}]`
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "tenant.json: empty input"},
		{"not an object", "[]", "tenant.json: want a JSON object"},
		{"syntax", `{"version":1,`, "tenant.json: invalid JSON"},
		{"unknown top-level field", head + `,"findings":[],"extra":1}`, "tenant.json: extra: unknown field (allowed: version, cid, now, seed, clients, hosts, cves, remediations, findings, alerts, intel)"},
		{"duplicate field", head + `,"findings":[],"cid":"x"}`, "tenant.json: cid: field appears twice"},
		{"unknown finding field", head + `,"findings":[{"aid":"a1","cve":"CVE-2024-6387","product":"p","created":"2025-01-01T00:00:00Z"},{"aid":"a1","cve":"CVE-2024-6387","product":"q","created":"2025-01-01T00:00:00Z","colour":"red"}]}`,
			"tenant.json: findings[1].colour: unknown field (allowed: id, aid, cve,"},
		{"bad time", head + `,"findings":[{"aid":"a1","cve":"CVE-2024-6387","product":"p","created":"2025-01-01"}]}`,
			`tenant.json: findings[0].created: "2025-01-01" is not an RFC 3339 timestamp`},
		{"bad top-level time", `{"now":"yesterday"}`, `tenant.json: now: "yesterday" is not an RFC 3339 timestamp`},
		{"wrong type", head + `,"findings":[{"aid":"a1","cve":"CVE-2024-6387","product":"p","created":"2025-01-01T00:00:00Z","suppressed":"yes"}]}`,
			`tenant.json: findings[0].suppressed: want true or false, got "yes"`},
		{"wrong version type", `{"version":"1"}`, `tenant.json: version: want an integer, got "1"`},
		{"nested unknown field", head + `,"findings":[],"cves":[{"id":"CVE-2024-6387","exploit_status":0,"base_score":1,"is_cisa_kev":false,"published":"2024-01-01T00:00:00Z","ssvc":{"exploitation":"none","automatable":"no","technical_impact":"partial","timestamp":"x"}}]}`,
			"tenant.json: cves[0].ssvc.timestamp: unknown field"},
		{"array expected", head + `,"findings":{}}`, "tenant.json: findings: want an array"},
		{"element not an object", head + `,"findings":[42]}`, "tenant.json: findings[0]: want a JSON object, got 42"},
		{"trailing data", head + `,"findings":[]} {}`, "tenant.json: unexpected data after the tenant object"},
		{"validation", head + `,"findings":[{"aid":"abc","cve":"CVE-2024-6387","product":"p","created":"2025-01-01T00:00:00Z"}]}`,
			`tenant.json: findings[0].aid: unknown host "abc" (not in hosts[])`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn, err := ReadTenant(strings.NewReader(tc.in), "tenant.json")
			if err == nil {
				t.Fatalf("want error %q", tc.want)
			}
			if tn != nil {
				t.Error("a tenant must not be returned with an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
	ok := head + `,"findings":null}`
	tn, err := ReadTenant(strings.NewReader(ok), "tenant.json")
	if err != nil || len(tn.Hosts) != 1 || tn.Findings != nil {
		t.Errorf("minimal tenant: %v %+v", err, tn)
	}
}

func TestLoadTenantMissingFile(t *testing.T) {
	if _, err := LoadTenant(filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want not-exist", err)
	}
}

var (
	findingIDRE = regexp.MustCompile(`^aid-[12]_[0-9a-f]{32}$`)
	alertIDRE   = regexp.MustCompile(`^0123456789abcdef0123456789abcdef:ind:aid-1:[0-9a-f]{32}$`)
)

func TestResolve(t *testing.T) {
	db := mustDB(t)
	tn := ioTenant()
	tn.CVEs = []CVE{{ID: "CVE-2024-38063", BaseScore: 9.8, Name: "hand-written"}}
	if err := tn.Resolve(db); err != nil {
		t.Fatal(err)
	}
	if err := tn.Validate(); err != nil {
		t.Fatalf("resolved tenant does not validate: %v", err)
	}
	ids := map[string]CVE{}
	for _, c := range tn.CVEs {
		ids[c.ID] = c
	}
	if len(tn.CVEs) != 3 {
		t.Fatalf("CVEs = %d, want the hand-written one plus 2 filled", len(tn.CVEs))
	}
	if ids["CVE-2024-38063"].Name != "hand-written" {
		t.Error("Resolve must keep a CVE the tenant defines")
	}
	ssh := ids["CVE-2024-6387"]
	if ssh.BaseScore != 8.1 || ssh.Severity != "HIGH" || ssh.Published != time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC) ||
		ssh.SSVC == nil || ssh.Description == "" || len(ssh.References) == 0 {
		t.Errorf("CVE-2024-6387 facet = %+v", ssh)
	}
	httpd := ids["CVE-2024-38475"] // added to KEV 2025-05-01, before ioNow
	if !httpd.IsCISAKEV || httpd.CISADueDate != "2025-05-22" || httpd.ExploitStatus != ExploitActivelyExploited || httpd.ExprtRating != ExprtCritical {
		t.Errorf("CVE-2024-38475 facet = %+v", httpd)
	}
	for i, f := range tn.Findings {
		if !findingIDRE.MatchString(f.ID) || f.ID != FindingID(f.AID, f.CVE, f.Product) {
			t.Errorf("findings[%d].id = %q", i, f.ID)
		}
		if f.Updated.IsZero() || f.Confidence != "confirmed" {
			t.Errorf("findings[%d] defaults not filled: %+v", i, f)
		}
	}
	if tn.Findings[0].Status != "open" || tn.Findings[1].Status != "closed" || !tn.Findings[1].Updated.Equal(*tn.Findings[1].Closed) {
		t.Errorf("statuses: %+v", tn.Findings)
	}
	if !alertIDRE.MatchString(tn.Alerts[0].ID) || tn.Alerts[0].Status != "new" || !tn.Alerts[0].Updated.Equal(tn.Alerts[0].Created) {
		t.Errorf("alert = %+v", tn.Alerts[0])
	}
	h := tn.Hosts[1]
	if h.AssetCriticality != "Unassigned" || h.InternetExposure != "Pending" || h.Status != "normal" ||
		!h.LastSeen.Equal(tn.Now) || !h.FirstSeen.Equal(tn.Findings[0].Created) {
		t.Errorf("host defaults = %+v", h)
	}

	// Idempotent.
	again := *tn
	again.CVEs = append([]CVE(nil), tn.CVEs...)
	again.Findings = append([]Finding(nil), tn.Findings...)
	again.Hosts = append([]Host(nil), tn.Hosts...)
	again.Alerts = append([]Alert(nil), tn.Alerts...)
	if err := again.Resolve(db); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&again, tn) {
		t.Error("Resolve is not idempotent")
	}
}

func TestResolveKEVAsOfNow(t *testing.T) {
	db := mustDB(t)
	tn := ioTenant()
	tn.Now = time.Date(2024, 11, 1, 0, 0, 0, 0, time.UTC) // before CVE-2024-38475 entered KEV
	if err := tn.Resolve(db); err != nil {
		t.Fatal(err)
	}
	for _, c := range tn.CVEs {
		if c.ID == "CVE-2024-38475" && (c.IsCISAKEV || c.CISADueDate != "") {
			t.Errorf("KEV membership must be as of the tenant's now: %+v", c)
		}
	}
}

func TestResolveUnknownCVE(t *testing.T) {
	db := mustDB(t)
	tn := ioTenant()
	tn.Findings[1].CVE = "CVE-2099-0001"
	before := ioTenant()
	before.Findings[1].CVE = "CVE-2099-0001"
	err := tn.Resolve(db)
	if err == nil || !strings.Contains(err.Error(), "findings[1].cve: CVE-2099-0001 is neither in cves[] nor in the bundled CVE records") {
		t.Fatalf("err = %v", err)
	}
	if !reflect.DeepEqual(tn, before) {
		t.Error("a failed Resolve modified the tenant")
	}
}
