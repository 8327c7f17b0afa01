package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "sub", "vulnpilot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func finding(id, aid, cve string, updated time.Time) falcon.Finding {
	return falcon.Finding{
		ID: id, AID: aid, CVE: cve, Status: "open", Updated: updated, Created: updated.Add(-time.Hour),
		Host:           falcon.HostFacet{Hostname: "host-" + aid, Tags: []string{"FalconGroupingTags/bu-it"}},
		CVEInfo:        falcon.CVEFacet{ID: cve, BaseScore: 9.8, ExploitStatus: 90},
		RemediationIDs: []string{"rem-" + cve},
		Remediations:   []falcon.Remediation{{ID: "rem-" + cve, Title: "Patch " + cve}},
	}
}

func collect(t *testing.T, s *Store, tenant string) map[string]falcon.Finding {
	t.Helper()
	out := map[string]falcon.Finding{}
	if err := s.Findings(context.Background(), tenant, func(f *falcon.Finding) error {
		out[f.ID] = *f
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestApplyDeltaAndWatermark(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	if _, ok, err := s.Watermark(ctx, "t1"); err != nil || ok {
		t.Fatalf("fresh tenant must have no watermark, got ok=%v err=%v", ok, err)
	}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	err := s.Apply(ctx, Delta{Tenant: "t1", TenantLabel: "us-1/abc", Replace: true,
		Upserts:   []falcon.Finding{finding("f1", "a1", "CVE-2024-0001", t0), finding("f2", "a2", "CVE-2024-0002", t0.Add(time.Minute))},
		Watermark: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	wm, ok, err := s.Watermark(ctx, "t1")
	if err != nil || !ok || !wm.Equal(t0.Add(time.Minute)) {
		t.Fatalf("watermark = %v ok=%v err=%v", wm, ok, err)
	}
	got := collect(t, s, "t1")
	if len(got) != 2 {
		t.Fatalf("want 2 cached findings, got %d", len(got))
	}
	f1 := got["f1"]
	if f1.Host.Hostname != "host-a1" || f1.CVEInfo.BaseScore != 9.8 || len(f1.Remediations) != 1 || f1.Remediations[0].Title != "Patch CVE-2024-0001" {
		t.Errorf("facets not joined back: %+v", f1)
	}

	// Incremental delta: f1 updated, f2 closed, f3 new.
	up := finding("f1", "a1", "CVE-2024-0001", t0.Add(2*time.Hour))
	up.Status = "reopen"
	err = s.Apply(ctx, Delta{Tenant: "t1", Upserts: []falcon.Finding{up, finding("f3", "a1", "CVE-2024-0003", t0.Add(3*time.Hour))},
		Deletes: []string{"f2"}, Watermark: t0.Add(3 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	got = collect(t, s, "t1")
	if len(got) != 2 || got["f1"].Status != "reopen" || got["f3"].ID != "f3" {
		t.Fatalf("delta not applied: %v", got)
	}
	if _, ok := got["f2"]; ok {
		t.Error("closed finding f2 still cached")
	}
	if n, _ := s.CountFindings(ctx, "t1"); n != 2 {
		t.Errorf("count = %d", n)
	}
	// Tenants are isolated.
	if n, _ := s.CountFindings(ctx, "t2"); n != 0 {
		t.Errorf("tenant t2 sees %d findings", n)
	}
}

func TestApplyIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if err := s.Apply(ctx, Delta{Tenant: "t", Upserts: []falcon.Finding{finding("f1", "a", "CVE-2024-1", t0)}, Watermark: t0}); err != nil {
		t.Fatal(err)
	}
	bad := Delta{Tenant: "t", Upserts: []falcon.Finding{finding("f2", "a", "CVE-2024-2", t0.Add(time.Hour)), {AID: "a"}}, Watermark: t0.Add(time.Hour)}
	if err := s.Apply(ctx, bad); err == nil {
		t.Fatal("a finding without id must fail the delta")
	}
	wm, _, _ := s.Watermark(ctx, "t")
	if !wm.Equal(t0) {
		t.Errorf("failed delta moved the watermark to %v", wm)
	}
	if got := collect(t, s, "t"); len(got) != 1 {
		t.Errorf("failed delta left %d findings (half-written)", len(got))
	}
}

func TestRunsAndReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i, id := range []string{"r1", "r2"} {
		if err := s.RecordRun(ctx, Run{ID: id, Tenant: "t", Mode: "full", Started: start.Add(time.Duration(i) * time.Hour),
			Finished: start.Add(time.Duration(i)*time.Hour + time.Minute), Status: "ok", Pulled: 10 + i, Findings: 10, Items: 3,
			Summary: []byte(`{"p1":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, err = Open(ctx, path) // migrations are idempotent
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runs, err := s.Runs(ctx, "t", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].ID != "r2" || runs[0].Pulled != 11 || string(runs[0].Summary) != `{"p1":1}` {
		t.Fatalf("runs = %+v", runs)
	}
}
