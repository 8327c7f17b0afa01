package falcon

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/crowdstrike/gofalcon/falcon/models"
)

// genModels builds n pseudo-random Spotlight resources in gofalcon's model
// shape: strings with quotes, backslashes, HTML characters, non-ASCII and
// control characters, optional facets left out or null, some timestamps
// unreadable (bad), the rest RFC 3339 with and without fractions.
func genModels(seed uint64, n int, bad bool) []*models.DomainBaseAPIVulnerabilityV2 {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pick := func(vals ...string) string { return vals[r.IntN(len(vals))] }
	weird := func() string {
		return pick("plain", `quote"d`, `back\slash`, "tab\tand\nnewline", "<html>&amp;", "ünïcödé ✓", "emoji 😀",
			"it's", "", "ctl\x01\x1f", "\u2028sep", strings.Repeat("long ", 50))
	}
	ts := func() string {
		base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(500 * 24 * time.Hour))))
		switch r.IntN(8) {
		case 0:
			return base.Format(time.RFC3339Nano)
		case 1:
			if bad {
				return "not-a-time"
			}
		case 2:
			return base.In(time.FixedZone("x", 5*3600)).Format(time.RFC3339)
		}
		return base.Truncate(time.Second).Format(time.RFC3339)
	}
	sp := func(s string) *string { return &s }
	strs := func() []string {
		if r.IntN(4) == 0 {
			return nil
		}
		out := make([]string, r.IntN(4))
		for i := range out {
			out[i] = weird()
		}
		return out
	}
	out := make([]*models.DomainBaseAPIVulnerabilityV2, n)
	for i := range out {
		cve := fmt.Sprintf("CVE-20%02d-%05d", 10+r.IntN(15), r.IntN(99999))
		m := &models.DomainBaseAPIVulnerabilityV2{
			ID:               sp(fmt.Sprintf("f%08x_%d", r.Uint32(), i)),
			Aid:              sp(fmt.Sprintf("%032x", r.Uint64())),
			Cid:              sp("cid0123"),
			Status:           sp(pick("open", "closed", "reopen", "expired")),
			CreatedTimestamp: sp(ts()),
			UpdatedTimestamp: sp(ts()),
			VulnerabilityID:  cve,
			Confidence:       pick("confirmed", "potential", ""),
		}
		if r.IntN(3) == 0 {
			m.ClosedTimestamp = ts()
		}
		if r.IntN(5) > 0 {
			m.App = &models.DomainAPIVulnerabilityAppV2{ProductNameNormalized: sp(weird()), ProductNameVersion: sp(weird()), VendorNormalized: sp(weird())}
		}
		for range r.IntN(3) {
			a := &models.DomainAPIVulnerabilityExtendedAppV2{
				ProductNameNormalized: sp(weird()), ProductNameVersion: sp(weird()), VendorNormalized: sp(weird()),
				SubStatus: pick("open", "closed"), PatchPublicationDate: pick("", "2024-05-01T00:00:00Z"),
				Remediation: &models.DomainAPIRemediationIDs{Ids: strs()},
			}
			if r.IntN(3) == 0 {
				a.EvaluationLogic = &models.DomainAPIEvaluationLogicV1{ID: sp("el1"), Logic: []*models.DomainAPIEvaluationLogicItemV1{{Title: sp(weird())}, {Title: sp("second")}}}
			}
			m.Apps = append(m.Apps, a)
		}
		if r.IntN(4) > 0 {
			m.Remediation = &models.DomainAPIVulnerabilityRemediationFacetV2{Ids: strs()}
			for range r.IntN(3) {
				m.Remediation.Entities = append(m.Remediation.Entities, &models.DomainAPIRemediationV2{
					ID: sp(fmt.Sprintf("%032x", r.Uint64())), Title: sp(weird()), Action: sp(weird()), Reference: sp("KB5000001"),
					Link: sp("https://example.com/kb?a=1&b=2"), VendorURL: sp(weird()), Type: sp("patch"), Provider: sp("Microsoft"),
					RecommendationType: pick("recommended", ""), PatchPublicationDate: ts(),
				})
			}
		}
		if r.IntN(4) > 0 {
			m.SuppressionInfo = &models.DomainAPIVulnerabilitySuppressionInfoV2{IsSuppressed: ptr(r.IntN(2) == 0), Reason: pick("", "ACCEPT_RISK")}
		}
		if r.IntN(5) > 0 {
			h := &models.DomainAPIVulnerabilityHostFacetV2{
				Hostname: sp(weird()), Platform: pick("Windows", "Linux", "Mac"), OsVersion: sp(weird()),
				ProductTypeDesc: pick("Workstation", "Server", "Domain Controller"), AssetCriticality: pick("Critical", "High", ""),
				AssetRoles: strs(), InternetExposure: pick("Yes", "No", "Pending"), Tags: strs(),
				LocalIP: sp("10.0.0.1"), MachineDomain: sp(weird()), Ou: sp(weird()), SiteName: sp(weird()),
				ManagedBy: pick("Falcon sensor", "Unmanaged"), InstanceState: pick("", "running"), HostLastSeenTimestamp: ts(),
			}
			for range r.IntN(3) {
				h.Groups = append(h.Groups, &models.DomainAPIHostGroup{ID: fmt.Sprintf("g%d", r.IntN(9)), Name: sp(weird())})
			}
			m.HostInfo = h
		}
		if r.IntN(5) > 0 {
			m.Cve = &models.DomainAPIVulnerabilityCVEDetailsFacetV2{
				ID: sp(cve), Name: weird(), Description: weird(), BaseScore: float64(r.IntN(101)) / 10, Vector: "CVSS:3.1/AV:N/AC:L",
				Severity: pick("LOW", "HIGH", "CRITICAL"), ExprtRating: pick("LOW", "HIGH"), ExploitStatus: int64(30 * r.IntN(4)),
				PublishedDate: ts(), RemediationLevel: pick("O", "U", ""), Actors: strs(), Cwes: strs(), References: strs(),
				VendorAdvisory: strs(), Types: strs(),
			}
			if r.IntN(2) == 0 {
				m.Cve.CisaInfo = &models.DomainAPIVulnerabilityCVECISAInfo{IsCisaKev: ptr(r.IntN(2) == 0), DueDate: pick("", "2024-02-01")}
			}
		}
		out[i] = m
	}
	return out
}

// genPage renders resources as a combinedQueryVulnerabilities response.
func genPage(t testing.TB, res []*models.DomainBaseAPIVulnerabilityV2, after string, total int64) []byte {
	t.Helper()
	page := models.DomainSPAPICombinedVulnerabilitiesResponse{
		Errors:    []*models.MsaAPIError{},
		Meta:      &models.DomainSPAPIQueryMeta{Pagination: &models.DomainSPAPIQueryPaging{After: &after, Limit: ptr(int32(len(res))), Total: &total}, TraceID: ptr("trace-1"), QueryTime: ptr(0.1)},
		Resources: res,
	}
	b, err := json.Marshal(page)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
