package falconsim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/crowdstrike/gofalcon/falcon/client/spotlight_vulnerabilities"

	"github.com/vulnpilot/vulnpilot/internal/cvedata"
)

// benchServer builds a generated tenant with at least minFindings findings
// and returns a server and a bearer token for it.
func benchServer(b *testing.B, hosts int) (*Server, *Tenant, string) {
	b.Helper()
	db, err := cvedata.Load()
	if err != nil {
		b.Fatal(err)
	}
	ten, err := Generate(GenerateOptions{Hosts: hosts, Seed: 1, FindingsPerHost: 25}, db)
	if err != nil {
		b.Fatal(err)
	}
	if err := ten.Resolve(db); err != nil {
		b.Fatal(err)
	}
	srv, err := New(ten, Options{RateLimitPerMinute: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/oauth2/token", nil)
	req.PostForm = map[string][]string{"client_id": {DemoClientID}, "client_secret": {DemoClientSecret}}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		b.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := jsonUnmarshal(rec.Body.Bytes(), &tok); err != nil {
		b.Fatal(err)
	}
	return srv, ten, tok.AccessToken
}

// discardWriter is a ResponseWriter that counts bytes.
type discardWriter struct {
	h http.Header
	n int64
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) {
	d.n += int64(len(p))
	return len(p), nil
}
func (d *discardWriter) WriteHeader(int) {}

// BenchmarkCombinedVulnerabilitiesPage serves one 5000-finding page with
// every facet (the handler only, without TLS or the client's decoding).
func BenchmarkCombinedVulnerabilitiesPage(b *testing.B) {
	srv, ten, tok := benchServer(b, 400)
	if len(ten.Findings) < 5000 {
		b.Fatalf("tenant has %d findings; need 5000", len(ten.Findings))
	}
	h := srv.Handler()
	req := httptest.NewRequest("GET", "/spotlight/combined/vulnerabilities/v1?filter=created_timestamp:>'2000-01-01'&limit=5000&facet=cve&facet=host_info&facet=remediation&facet=evaluation_logic", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, req) // warm the total cache
	b.SetBytes(w.n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.n = 0
		h.ServeHTTP(w, req)
	}
	b.ReportMetric(float64(w.n)/5000, "bytes/finding")
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// BenchmarkGofalconPull pulls every finding of a ~10k-finding tenant
// through gofalcon over TLS in 5000-finding pages with all facets: the
// client-visible throughput (gofalcon's reflection decoding dominates).
func BenchmarkGofalconPull(b *testing.B) {
	_, ten, _ := benchServer(b, 400)
	env := startSim(b, ten, Options{RateLimitPerMinute: 1 << 30})
	b.ReportAllocs()
	b.ResetTimer()
	total := 0
	for i := 0; i < b.N; i++ {
		var after *string
		for {
			resp, err := env.api.SpotlightVulnerabilities.CombinedQueryVulnerabilities(&spotlight_vulnerabilities.CombinedQueryVulnerabilitiesParams{
				Context: context.Background(), Filter: "created_timestamp:>'2000-01-01'", Limit: ptr(int64(5000)), After: after,
				Facet: []string{"cve", "host_info", "remediation", "evaluation_logic"},
			})
			if err != nil {
				b.Fatal(err)
			}
			total += len(resp.Payload.Resources)
			if *resp.Payload.Meta.Pagination.After == "" {
				break
			}
			after = resp.Payload.Meta.Pagination.After
		}
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "findings/s")
}
