package agent

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/cvedata"
	"github.com/vulnpilot/vulnpilot/internal/exploitmodel"
	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/falconsim"
	"github.com/vulnpilot/vulnpilot/internal/intel"
	"github.com/vulnpilot/vulnpilot/internal/localfalcon"
	"github.com/vulnpilot/vulnpilot/internal/risk"
	"github.com/vulnpilot/vulnpilot/internal/snapshot"
	"github.com/vulnpilot/vulnpilot/internal/store"
)

func options(t *testing.T, now time.Time) snapshot.Options {
	t.Helper()
	eng, err := risk.NewEngine(risk.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	feeds, err := intel.LoadFeeds(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	model, err := exploitmodel.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	return snapshot.Options{Engine: eng, Feeds: feeds, Model: model, Now: now}
}

func generate(t *testing.T) *falconsim.Tenant {
	t.Helper()
	db, err := cvedata.Load()
	if err != nil {
		t.Fatal(err)
	}
	tn, err := falconsim.Generate(falconsim.GenerateOptions{Hosts: 50, Seed: 11}, db)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func runOnce(t *testing.T, tn *falconsim.Tenant, st *store.Store) *Result {
	t.Helper()
	ctx := context.Background()
	conn, err := localfalcon.Start(ctx, tn, localfalcon.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := Prioritize{Source: conn.Client, Store: st, Tenant: "tenant-x", TenantLabel: "test", Incremental: true, Options: options(t, tn.Now)}
	res, err := p.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func isOpen(s string) bool { return s == "open" || s == "reopen" }

func TestIncrementalRunPullsOnlyChanges(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	t1 := generate(t)
	open1 := 0
	for _, f := range t1.Findings {
		if isOpen(f.Status) {
			open1++
		}
	}
	r1 := runOnce(t, t1, st)
	if r1.Run.Mode != ModeFull || r1.Run.Pulled != open1 || r1.Snapshot.Summary().Findings != open1 {
		t.Fatalf("first run: mode %s pulled %d findings %d, want full/%d", r1.Run.Mode, r1.Run.Pulled, r1.Snapshot.Summary().Findings, open1)
	}
	wm, ok, err := st.Watermark(ctx, "tenant-x")
	if err != nil || !ok || !wm.Equal(r1.Run.Watermark) {
		t.Fatalf("watermark %v ok=%v err=%v, run says %v", wm, ok, err, r1.Run.Watermark)
	}
	if n, _ := st.CountFindings(ctx, "tenant-x"); n != open1 {
		t.Fatalf("cached %d findings, want %d", n, open1)
	}

	// The tenant moves on: one finding closes, one changes, one closed
	// finding reopens.
	t2 := generate(t)
	later := t2.Now.Add(time.Hour)
	t2.Now = t2.Now.Add(2 * time.Hour)
	var closedID, reopenedID, changedID string
	for i := range t2.Findings {
		f := &t2.Findings[i]
		switch {
		case closedID == "" && isOpen(f.Status):
			closedID = f.ID
			f.Status, f.Updated, f.Closed = "closed", later, &later
		case changedID == "" && isOpen(f.Status):
			changedID = f.ID
			f.Status, f.Updated = "reopen", later
		case reopenedID == "" && f.Status == "closed":
			reopenedID = f.ID
			f.Status, f.Updated, f.Closed = "reopen", later, nil
		}
	}
	if reopenedID == "" {
		t.Fatal("generated tenant has no closed finding to reopen")
	}
	wantPulled, open2 := 0, 0
	for _, f := range t2.Findings {
		if !f.Updated.Before(wm) {
			wantPulled++
		}
		if isOpen(f.Status) {
			open2++
		}
	}
	r2 := runOnce(t, t2, st)
	if r2.Run.Mode != ModeIncremental {
		t.Fatalf("second run mode %s", r2.Run.Mode)
	}
	if r2.Run.Pulled != wantPulled || wantPulled >= open1/2 {
		t.Fatalf("incremental run pulled %d findings, want %d (the changed ones only)", r2.Run.Pulled, wantPulled)
	}
	if got := r2.Snapshot.Summary().Findings; got != open2 {
		t.Fatalf("after the delta %d open findings, want %d", got, open2)
	}
	if _, ok := r2.Snapshot.Finding(reopenedID); !ok {
		t.Error("reopened finding missing from the snapshot")
	}
	if _, err := r2.Snapshot.Assess(closedID); err == nil {
		t.Error("closed finding still assessed")
	}
	if f, _ := r2.Snapshot.Finding(changedID); f.Status != "reopen" {
		t.Errorf("changed finding status %q, want reopen", f.Status)
	}
	if !r2.Run.Watermark.Equal(later) {
		t.Errorf("watermark %v, want %v", r2.Run.Watermark, later)
	}
	runs, err := st.Runs(ctx, "tenant-x", 5)
	if err != nil || len(runs) != 2 || runs[0].Mode != ModeIncremental {
		t.Fatalf("recorded runs %+v err %v", runs, err)
	}
}

// A run against a misbehaving Falcon (429s, 5xx, a truncated page) still
// completes with exactly the findings a clean run sees.
func TestRunSurvivesInjectedFaults(t *testing.T) {
	ctx := context.Background()
	tn := generate(t)
	open := 0
	for _, f := range tn.Findings {
		if isOpen(f.Status) {
			open++
		}
	}
	conn, err := localfalcon.Start(ctx, tn, localfalcon.Options{
		Faults: falconsim.Faults{RateLimitEvery: 4, RetryAfter: time.Millisecond, ErrorRate: 0.1, TruncatePage: 2, Seed: 3},
		Client: falcon.Config{RetryBaseDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond, MaxRetries: 8},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := Prioritize{Source: conn.Client, Tenant: "faulty", Options: options(t, tn.Now)}
	p.Options.Plan.FleetMinHosts = 5
	res, err := p.Run(ctx)
	if err != nil {
		t.Fatalf("run with retryable faults failed: %v", err)
	}
	if res.Run.Pulled != open || res.Snapshot.Summary().Findings != open {
		t.Fatalf("pulled %d / assessed %d findings, want %d", res.Run.Pulled, res.Snapshot.Summary().Findings, open)
	}
	st := conn.Server.Stats()
	var injected int64
	for _, n := range st.Faults {
		injected += n
	}
	if injected < 3 {
		t.Fatalf("faults were not exercised: %+v", st.Faults)
	}
}

// When a page stays broken, the run fails with an error that says how to
// resume, and records nothing as pulled: the watermark does not move.
func TestRunFailsResumablyOnPersistentBadPage(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tn := generate(t)
	conn, err := localfalcon.Start(ctx, tn, localfalcon.Options{Client: falcon.Config{PageRetries: -1, RetryBaseDelay: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Server.SetFaults(falconsim.Faults{TruncatePage: 3}); err != nil { // the first page after the two range probes
		t.Fatal(err)
	}
	p := Prioritize{Source: conn.Client, Store: st, Tenant: "broken", Incremental: true, Options: options(t, tn.Now)}
	_, err = p.Run(ctx)
	var pe *falcon.PageError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "Resume with") {
		t.Fatalf("want a resumable *falcon.PageError, got %v", err)
	}
	if _, ok, _ := st.Watermark(ctx, "broken"); ok {
		t.Fatal("a failed pull must not set a watermark")
	}
	runs, _ := st.Runs(ctx, "broken", 1)
	if len(runs) != 1 || runs[0].Status != "failed" || runs[0].Error == "" {
		t.Fatalf("failed run not recorded: %+v", runs)
	}
}
