package falconsim

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crowdstrike/gofalcon/falcon/models"
)

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `"quoted" \ back`, "<script>&amp;</script>", "\x00\x01\x1f\x7f", "\b\f\n\r\t",
		"\u2028\u2029", "日本語 \U0001F600", "\xff\xfe bad utf8 \xc3", "\xed\xa0\x80 surrogate", "a\u00e9b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendJSONString(%q) = %s, encoding/json = %s", s, got, want)
		}
	})
}

func TestAppendJSONFloatMatchesEncodingJSON(t *testing.T) {
	vals := []float64{0, 1, -1, 0.1, 9.8, 10, 7.5, 1e-6, 1e-7, 123456789, 1e20, 1e21, 1.5e300, -2.5e-10, math.SmallestNonzeroFloat64, math.MaxFloat64, 1.0 / 3}
	for _, v := range vals {
		want, _ := json.Marshal(v)
		if got := appendJSONFloat(nil, v); !bytes.Equal(got, want) {
			t.Errorf("appendJSONFloat(%v) = %s, want %s", v, got, want)
		}
	}
}

// decodeStrict decodes b into v rejecting keys v's type does not have, so a
// misspelt or invented field fails the test.
func decodeStrict(t *testing.T, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode into %T: %v\n%s", v, err, b)
	}
}

// sameJSON compares two models by their encoding/json round trip.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	var gv, wv any
	_ = json.Unmarshal(g, &gv)
	_ = json.Unmarshal(w, &wv)
	if !reflect.DeepEqual(gv, wv) {
		t.Fatalf("%s differs:\n got  %s\n want %s", what, g, w)
	}
}

func ts(t time.Time) string { return t.UTC().Format(falconTimeLayout) }

// expectedFinding builds, from the tenant alone, the gofalcon model a
// finding with every facet but evaluation logic must decode to.
func expectedFinding(ten *Tenant, f *Finding) *models.DomainAPIVulnerabilityV2 {
	var h Host
	for _, x := range ten.Hosts {
		if x.AID == f.AID {
			h = x
		}
	}
	var c CVE
	for _, x := range ten.CVEs {
		if x.ID == f.CVE {
			c = x
		}
	}
	rems := map[string]Remediation{}
	for _, r := range ten.Remediations {
		rems[r.ID] = r
	}
	nv := f.Product
	if f.ProductVersion != "" {
		nv += " " + f.ProductVersion
	}
	s := func(v string) *string { return &v }
	v := &models.DomainAPIVulnerabilityV2{
		ID: s(f.ID), Aid: s(f.AID), Cid: s(ten.CID), Status: s(f.Status), Confidence: f.Confidence, VulnerabilityID: f.CVE,
		CreatedTimestamp: s(ts(f.Created)), UpdatedTimestamp: s(ts(f.Updated)),
		App:             &models.DomainAPIVulnerabilityAppV2{ProductNameVersion: s(nv), ProductNameNormalized: s(f.Product), VendorNormalized: s(f.Vendor)},
		SuppressionInfo: &models.DomainAPIVulnerabilitySuppressionInfoV2{IsSuppressed: &f.Suppressed, Reason: f.SuppressionReason},
	}
	if f.Closed != nil {
		v.ClosedTimestamp = ts(*f.Closed)
	}
	app := &models.DomainAPIVulnerabilityExtendedAppV2{ProductNameVersion: s(nv), ProductNameNormalized: s(f.Product), VendorNormalized: s(f.Vendor), SubStatus: f.Status,
		Remediation: &models.DomainAPIRemediationIDs{Ids: append([]string{}, f.RemediationIDs...)}}
	var earliest time.Time
	ents := []*models.DomainAPIRemediationV2{}
	for _, id := range f.RemediationIDs {
		r := rems[id]
		if !r.PatchPublished.IsZero() && (earliest.IsZero() || r.PatchPublished.Before(earliest)) {
			earliest = r.PatchPublished
		}
		e := &models.DomainAPIRemediationV2{ID: s(r.ID), Title: s(r.Title), Action: s(r.Action), Reference: s(r.Reference), Link: s(r.Link),
			VendorURL: s(r.VendorURL), Type: s(r.Type), Provider: s(r.Provider), RecommendationType: r.RecommendationType}
		if !r.PatchPublished.IsZero() {
			e.PatchPublicationDate = ts(r.PatchPublished)
		}
		ents = append(ents, e)
	}
	if !earliest.IsZero() {
		app.PatchPublicationDate = ts(earliest)
	}
	if len(f.RemediationIDs) > 0 {
		app.RemediationInfo = &models.DomainAPIRemediationInfo{RecommendedID: f.RemediationIDs[0], MinimumID: f.RemediationIDs[len(f.RemediationIDs)-1], PatchPublicationDate: app.PatchPublicationDate}
	}
	v.Apps = []*models.DomainAPIVulnerabilityExtendedAppV2{app}
	v.Remediation = &models.DomainAPIVulnerabilityRemediationFacetV2{Entities: ents, Ids: append([]string{}, f.RemediationIDs...)}
	groups := []*models.DomainAPIHostGroup{}
	for _, g := range h.Groups {
		groups = append(groups, &models.DomainAPIHostGroup{ID: groupID(g), Name: s(g)})
	}
	managedBy := "Unmanaged"
	if h.Managed {
		managedBy = "Falcon sensor"
	}
	nz := func(v []string) []string {
		if v == nil {
			return []string{}
		}
		return v
	}
	v.HostInfo = &models.DomainAPIVulnerabilityHostFacetV2{
		Hostname: s(h.Hostname), LocalIP: s(h.LocalIP), MachineDomain: s(h.MachineDomain), OsVersion: s(h.OSVersion), Ou: s(h.OU), SiteName: s(h.SiteName),
		SystemManufacturer: s(newHostRec(h).systemManufacturer), Platform: h.Platform, ProductTypeDesc: h.ProductTypeDesc,
		AssetCriticality: h.AssetCriticality, InternetExposure: h.InternetExposure, AssetRoles: nz(h.AssetRoles), Tags: nz(h.Tags), Groups: groups,
		ManagedBy: managedBy, HostLastSeenTimestamp: ts(h.LastSeen),
	}
	v.Cve = &models.DomainAPIVulnerabilityCVEDetailsFacetV2{
		ID: s(c.ID), Name: c.Name, BaseScore: c.BaseScore, Severity: c.Severity, ExploitStatus: int64(c.ExploitStatus), ExprtRating: c.ExprtRating,
		CisaInfo:    &models.DomainAPIVulnerabilityCVECISAInfo{IsCisaKev: &c.IsCISAKEV, DueDate: c.CISADueDate},
		Description: c.Description, Vector: c.Vector, RemediationLevel: c.RemediationLevel,
		Actors: nz(c.Actors), Cwes: nz(c.CWEs), References: nz(c.References), VendorAdvisory: nz(c.VendorAdvisory), Types: []string{"Vulnerability"},
	}
	if !c.Published.IsZero() {
		v.Cve.PublishedDate, v.Cve.SpotlightPublishedDate = ts(c.Published), ts(c.Published)
	}
	return v
}

func TestRenderedFindingsMatchGofalconModels(t *testing.T) {
	ten := loadFixture(t)
	srv, err := New(ten, Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap := srv.snap.Load()
	for i := range ten.Findings {
		f := &ten.Findings[i]
		b := snap.appendFinding(nil, snap.findingByID[f.ID], facets{cve: true, hostInfo: true, remediation: true})
		var got models.DomainAPIVulnerabilityV2
		decodeStrict(t, b, &got)
		sameJSON(t, "finding "+f.ID, &got, expectedFinding(ten, f))
		// the evaluation-logic facet adds exactly apps[].evaluation_logic
		b2 := snap.appendFinding(nil, snap.findingByID[f.ID], facets{evalLogic: true})
		var got2 models.DomainBaseAPIVulnerabilityV2
		decodeStrict(t, b2, &got2)
		if got2.Apps[0].EvaluationLogic == nil || got2.Apps[0].EvaluationLogic.Aid != f.AID || got2.HostInfo != nil || got2.Cve != nil || got2.Remediation != nil {
			t.Fatalf("eval-logic-only finding: %s", b2)
		}
	}
}

// TestRenderedEntitiesDecodeStrictly checks every other rendered record
// against its gofalcon model: no key the model lacks, and a stable
// encoding/json round trip.
func TestRenderedEntitiesDecodeStrictly(t *testing.T) {
	ten := loadFixture(t)
	srv, err := New(ten, Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap := srv.snap.Load()
	for i := range snap.hosts {
		var d models.DeviceapiDeviceSwagger
		decodeStrict(t, snap.appendDevice(nil, int32(i)), &d)
		if *d.DeviceID != ten.Hosts[i].AID || d.Hostname != ten.Hosts[i].Hostname || d.Status == "" {
			t.Fatalf("device %d: %+v", i, d)
		}
	}
	for i := range snap.rems {
		var r models.DomainAPIRemediationV2
		decodeStrict(t, snap.remJSON[i], &r)
		sameJSON(t, "remediation", &r, &r)
	}
	for i := range snap.intel {
		var v models.DomainVulnerability
		decodeStrict(t, snap.appendIntel(nil, int32(i)), &v)
		if *v.Cve != ten.Intel[i].CVE {
			t.Fatalf("intel %d: %+v", i, v)
		}
	}
	for i := range snap.alerts {
		b := snap.appendAlert(nil, int32(i))
		var a models.DetectsAlert
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatal(err)
		}
		if len(a.DetectsAlertAdditionalProperties) != 0 {
			t.Fatalf("alert has keys the model lacks: %v", a.DetectsAlertAdditionalProperties)
		}
		if *a.CompositeID != ten.Alerts[i].ID || *a.Description != ten.Alerts[i].Description || strings.TrimSpace(*a.Name) == "" {
			t.Fatalf("alert %d: %s", i, b)
		}
	}
	for i := range snap.findings {
		var e models.DomainAPIEvaluationLogicV1
		decodeStrict(t, snap.appendEvalLogic(nil, int32(i)), &e)
	}
}
