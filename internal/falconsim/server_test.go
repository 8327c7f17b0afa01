package falconsim

import (
	"context"
	"net/http"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/crowdstrike/gofalcon/falcon"
	"github.com/crowdstrike/gofalcon/falcon/client"
	"github.com/crowdstrike/gofalcon/falcon/client/spotlight_vulnerabilities"
	"github.com/crowdstrike/gofalcon/falcon/models"
	"github.com/go-openapi/strfmt"
	"golang.org/x/oauth2"
)

// loadFixture reads testdata/server/tenant.json and resolves it without
// the bundled CVE data (the fixture carries every CVE it uses).
func loadFixture(t testing.TB) *Tenant {
	t.Helper()
	ten, err := LoadTenant(filepath.Join("testdata", "server", "tenant.json"))
	if err != nil {
		t.Fatalf("LoadTenant: %v", err)
	}
	if err := ten.Resolve(nil); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return ten
}

type simEnv struct {
	srv *Server
	run *Running
	api *client.CrowdStrikeAPISpecification
	ten *Tenant
}

func startSim(t testing.TB, ten *Tenant, opts Options) *simEnv {
	t.Helper()
	srv, err := New(ten, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run, err := srv.StartTLS(ctx, "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatalf("StartTLS: %v", err)
	}
	t.Cleanup(func() { cancel(); run.Close() })
	return &simEnv{srv: srv, run: run, api: gofalconClient(t, run, DemoClientID, DemoClientSecret), ten: ten}
}

func gofalconClient(t testing.TB, run *Running, id, secret string) *client.CrowdStrikeAPISpecification {
	t.Helper()
	api, err := falcon.NewClient(&falcon.ApiConfig{
		ClientId:     id,
		ClientSecret: secret,
		HostOverride: run.Host,
		Context:      context.WithValue(context.Background(), oauth2.HTTPClient, run.Client),
	})
	if err != nil {
		t.Fatalf("falcon.NewClient: %v", err)
	}
	return api
}

func ptr[T any](v T) *T { return &v }

// wantFinding is what a finding should look like, computed from the tenant
// without the simulator's index.
func findingsWhere(ten *Tenant, keep func(f *Finding) bool) map[string]*Finding {
	out := map[string]*Finding{}
	for i := range ten.Findings {
		if keep(&ten.Findings[i]) {
			out[ten.Findings[i].ID] = &ten.Findings[i]
		}
	}
	return out
}

func TestCombinedVulnerabilitiesPaginationAllFacets(t *testing.T) {
	env := startSim(t, loadFixture(t), Options{})
	want := findingsWhere(env.ten, func(f *Finding) bool { return f.Status == "open" || f.Status == "reopen" })
	if len(want) < 10 {
		t.Fatalf("fixture too small: %d open findings", len(want))
	}
	hosts := map[string]Host{}
	for _, h := range env.ten.Hosts {
		hosts[h.AID] = h
	}
	cves := map[string]CVE{}
	for _, c := range env.ten.CVEs {
		cves[c.ID] = c
	}

	seen := map[string]bool{}
	var after *string
	pages := 0
	for {
		resp, err := env.api.SpotlightVulnerabilities.CombinedQueryVulnerabilities(&spotlight_vulnerabilities.CombinedQueryVulnerabilitiesParams{
			Context: context.Background(),
			Filter:  "status:['open','reopen']",
			Facet:   []string{"cve", "host_info", "remediation", "evaluation_logic"},
			Limit:   ptr(int64(7)),
			After:   after,
		})
		if err != nil {
			t.Fatalf("page %d: %v", pages, falcon.ErrorExplain(err))
		}
		p := resp.Payload
		if err := p.Validate(strfmt.Default); err != nil {
			t.Fatalf("page %d does not validate against gofalcon's model: %v", pages, err)
		}
		pages++
		if got := *p.Meta.Pagination.Total; got != int64(len(want)) {
			t.Fatalf("total = %d, want %d", got, len(want))
		}
		if *p.Meta.Pagination.Limit != 7 {
			t.Fatalf("limit = %d", *p.Meta.Pagination.Limit)
		}
		if resp.XRateLimitLimit == 0 || resp.XRateLimitRemaining == 0 {
			t.Fatalf("rate limit headers missing: %d/%d", resp.XRateLimitLimit, resp.XRateLimitRemaining)
		}
		for _, v := range p.Resources {
			f, ok := want[*v.ID]
			if !ok {
				t.Fatalf("unexpected finding %s (status %s)", *v.ID, *v.Status)
			}
			if seen[*v.ID] {
				t.Fatalf("finding %s served twice", *v.ID)
			}
			seen[*v.ID] = true
			if *v.Aid != f.AID || *v.Status != f.Status || *v.Cid != env.ten.CID {
				t.Fatalf("finding %s: aid/status/cid = %s/%s/%s", f.ID, *v.Aid, *v.Status, *v.Cid)
			}
			if *v.Cve.ID != f.CVE || v.Cve.BaseScore != cves[f.CVE].BaseScore || v.Cve.ExprtRating != cves[f.CVE].ExprtRating ||
				v.Cve.ExploitStatus != int64(cves[f.CVE].ExploitStatus) || *v.Cve.CisaInfo.IsCisaKev != cves[f.CVE].IsCISAKEV {
				t.Fatalf("finding %s: cve facet %+v", f.ID, v.Cve)
			}
			if v.Cve.Description != cves[f.CVE].Description {
				t.Fatalf("description mangled: %q vs %q", v.Cve.Description, cves[f.CVE].Description)
			}
			h := hosts[f.AID]
			if *v.HostInfo.Hostname != h.Hostname || v.HostInfo.AssetCriticality != h.AssetCriticality || v.HostInfo.InternetExposure != h.InternetExposure {
				t.Fatalf("finding %s: host facet %+v", f.ID, v.HostInfo)
			}
			if len(v.HostInfo.Groups) != len(h.Groups) {
				t.Fatalf("groups: %+v", v.HostInfo.Groups)
			}
			if len(v.Remediation.Ids) != len(f.RemediationIDs) || len(v.Remediation.Entities) != len(f.RemediationIDs) {
				t.Fatalf("finding %s: remediation %+v, want ids %v", f.ID, v.Remediation, f.RemediationIDs)
			}
			for k, id := range f.RemediationIDs {
				if v.Remediation.Ids[k] != id || *v.Remediation.Entities[k].ID != id {
					t.Fatalf("remediation %d: %v", k, v.Remediation)
				}
			}
			if len(v.Apps) != 1 || v.Apps[0].EvaluationLogic == nil || *v.Apps[0].ProductNameNormalized != f.Product {
				t.Fatalf("apps: %+v", v.Apps)
			}
		}
		if *p.Meta.Pagination.After == "" {
			break
		}
		after = p.Meta.Pagination.After
		if pages > 100 {
			t.Fatal("pagination does not end")
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("served %d findings over %d pages, want %d", len(seen), pages, len(want))
	}
	if wantPages := (len(want) + 6) / 7; pages != wantPages {
		t.Fatalf("pages = %d, want %d", pages, wantPages)
	}
}

func TestCombinedVulnerabilitiesSorted(t *testing.T) {
	env := startSim(t, loadFixture(t), Options{})
	tests := []struct {
		sort string
		key  func(f *Finding) float64
		desc bool
	}{
		{"updated_timestamp|asc", func(f *Finding) float64 { return float64(f.Updated.Unix()) }, false},
		{"created_timestamp|desc", func(f *Finding) float64 { return float64(f.Created.Unix()) }, true},
		{"cve.base_score|desc", nil, true},
	}
	scores := map[string]float64{}
	for _, c := range env.ten.CVEs {
		scores[c.ID] = c.BaseScore
	}
	for _, tc := range tests {
		t.Run(tc.sort, func(t *testing.T) {
			var got []string
			var after *string
			for {
				resp, err := env.api.SpotlightVulnerabilities.CombinedQueryVulnerabilities(&spotlight_vulnerabilities.CombinedQueryVulnerabilitiesParams{
					Context: context.Background(), Filter: "created_timestamp:>'2024-01-01'", Sort: ptr(tc.sort), Limit: ptr(int64(10)), After: after,
				})
				if err != nil {
					t.Fatal(falcon.ErrorExplain(err))
				}
				for _, v := range resp.Payload.Resources {
					got = append(got, *v.ID)
				}
				if *resp.Payload.Meta.Pagination.After == "" {
					break
				}
				after = resp.Payload.Meta.Pagination.After
			}
			byID := findingsWhere(env.ten, func(*Finding) bool { return true })
			if len(got) != len(byID) {
				t.Fatalf("got %d findings, want %d", len(got), len(byID))
			}
			key := tc.key
			if key == nil {
				key = func(f *Finding) float64 { return scores[f.CVE] }
			}
			ok := sort.SliceIsSorted(got, func(i, j int) bool {
				a, b := key(byID[got[i]]), key(byID[got[j]])
				if tc.desc {
					return a > b
				}
				return a < b
			})
			if !ok {
				t.Fatalf("not sorted by %s", tc.sort)
			}
		})
	}
}

var _ = http.StatusOK
var _ = time.Second
var _ models.MsaAPIError
