// Package agent runs vulnpilot's playbooks. The prioritization playbook is
// deterministic: pull → enrich → score → plan, with every decision made in
// code by the risk engine and the planner. (The LLM agent loop that will sit
// on top of the same tools lives here too, and never holds the keys.)
package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/snapshot"
	"github.com/vulnpilot/vulnpilot/internal/store"
)

// Modes of a prioritization run.
const (
	ModeFull        = "full"
	ModeIncremental = "incremental"
)

// Prioritize configures one prioritization run.
type Prioritize struct {
	Source snapshot.Source
	// Store, when set, records the run and (in incremental mode) caches the
	// findings and the watermark.
	Store *store.Store
	// Tenant identifies the Falcon tenant in the store (see TenantKey).
	Tenant      string
	TenantLabel string
	// Scope is an optional FQL filter ANDed to the pull (e.g. a host group).
	Scope       string
	Incremental bool
	Options     snapshot.Options
	Logger      *slog.Logger
}

// Result is what a run produced.
type Result struct {
	Snapshot *snapshot.Snapshot
	Run      store.Run
}

// openFilter selects the findings that need work.
const openFilter = "status:['open','reopen']"

// Run executes the playbook. In incremental mode with a stored watermark it
// pulls only findings updated since the watermark (any status, so closures
// are seen), merges them into the cached set, and stores the delta and the
// new watermark in one transaction after the pull completed.
func (p *Prioritize) Run(ctx context.Context) (*Result, error) {
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	run := store.Run{ID: newRunID(), Tenant: p.Tenant, Mode: ModeFull, Started: time.Now().UTC()}
	b, err := snapshot.NewBuilder(p.Options)
	if err != nil {
		return nil, err
	}

	var wm time.Time
	haveWM := false
	if p.Incremental {
		if p.Store == nil {
			return nil, errors.New("incremental mode needs a data directory (store)")
		}
		wm, haveWM, err = p.Store.Watermark(ctx, p.Tenant)
		if err != nil {
			return nil, err
		}
	}

	filter := and(p.Scope, openFilter)
	if haveWM {
		run.Mode = ModeIncremental
		cached := 0
		if err := p.Store.Findings(ctx, p.Tenant, func(f *falcon.Finding) error {
			b.Add(f)
			cached++
			return nil
		}); err != nil {
			return nil, fmt.Errorf("load cached findings: %w", err)
		}
		filter = and(p.Scope, "updated_timestamp:>='"+wm.UTC().Format(time.RFC3339)+"'")
		log.Info("incremental pull", "cached_findings", cached, "watermark", wm.Format(time.RFC3339))
	}

	delta := store.Delta{Tenant: p.Tenant, TenantLabel: p.TenantLabel, Replace: !haveWM, Watermark: wm}
	keep := p.Incremental
	progress := snapshot.PageProgress(p.Options.Progress)
	shardTotals := map[int]int64{}
	q := falcon.FindingQuery{Filter: filter, OnPage: func(pi falcon.PageInfo) {
		// Each shard announces its total on its first page: pre-size for
		// what is announced so far.
		if _, seen := shardTotals[pi.Shard]; !seen {
			shardTotals[pi.Shard] = pi.Total
			var sum int64
			for _, t := range shardTotals {
				sum += t
			}
			b.Grow(int(sum) - b.Len())
		}
		if progress != nil {
			progress(pi)
		}
	}}
	pullStart := time.Now()
	err = p.Source.StreamFindings(ctx, q, func(f *falcon.Finding) error {
		run.Pulled++
		switch f.Status {
		case "closed", "expired":
			b.Remove(f.ID)
			if keep {
				delta.Deletes = append(delta.Deletes, f.ID)
			}
		default:
			b.Add(f)
			if keep {
				delta.Upserts = append(delta.Upserts, *f)
			}
		}
		if f.Updated.After(delta.Watermark) {
			delta.Watermark = f.Updated
		}
		return nil
	})
	if err != nil {
		p.recordFailure(ctx, run, err)
		return nil, fmt.Errorf("pull findings: %w", err)
	}
	pullTook := time.Since(pullStart)
	snap, err := b.Finish(ctx, p.Source)
	if err != nil {
		p.recordFailure(ctx, run, err)
		return nil, err
	}
	if keep {
		if err := p.Store.Apply(ctx, delta); err != nil {
			return nil, fmt.Errorf("store findings: %w", err)
		}
		run.Watermark = delta.Watermark
	}
	sum := snap.Summary()
	run.Findings = sum.Findings
	run.Items = sum.Items
	run.Finished = time.Now().UTC()
	run.Status = "ok"
	if b, err := json.Marshal(sum); err == nil {
		run.Summary = b
	}
	if p.Store != nil {
		if err := p.Store.RecordRun(ctx, run); err != nil {
			log.Warn("could not record the run", "err", err)
		}
	}
	attrs := []any{"mode", run.Mode, "pulled", run.Pulled, "findings", run.Findings, "work_items", run.Items, "pull", pullTook.Round(time.Millisecond)}
	for _, t := range snap.Timings() {
		attrs = append(attrs, t.Phase, t.Duration.Round(time.Millisecond))
	}
	log.Info("prioritization finished", attrs...)
	return &Result{Snapshot: snap, Run: run}, nil
}

func (p *Prioritize) recordFailure(ctx context.Context, run store.Run, err error) {
	if p.Store == nil {
		return
	}
	run.Finished = time.Now().UTC()
	run.Status = "failed"
	run.Error = err.Error()
	// A failed run leaves the cache and the watermark untouched, so the next
	// run pulls the same changes again: the record is informational.
	_ = p.Store.RecordRun(context.WithoutCancel(ctx), run)
}

func and(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return "(" + a + ")+" + b
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "run-" + time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:4])
}
