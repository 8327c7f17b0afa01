package falcon

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/falconsim"
	"github.com/vulnpilot/vulnpilot/internal/fql"
)

func TestStreamFindingsExactSet(t *testing.T) {
	const n = 12345
	env := startSim(t, genTenant(t, n, 7), falconsim.Faults{})
	c := env.client(t, nil)
	want := tenantFindingIDs(env.tenant)

	for _, tc := range []struct {
		name     string
		q        FindingQuery
		minPages int
	}{
		{"sharded, page size 1000", FindingQuery{PageSize: 1000, Parallel: 4}, 13},
		{"unsharded, page size 1000", FindingQuery{PageSize: 1000, Parallel: 1}, 13},
		{"sorted is sequential", FindingQuery{PageSize: 5000, Sort: "created_timestamp|asc", Parallel: 4}, 3},
		{"default page size and parallelism", FindingQuery{}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pages int
			var delivered int64
			shardTotals := map[int]int64{}
			tc.q.OnPage = func(p PageInfo) {
				pages++
				delivered = p.Delivered
				shardTotals[p.Shard] = p.Total
				if p.Count > max(tc.q.PageSize, 1) && tc.q.PageSize > 0 {
					t.Errorf("page of %d findings exceeds page size %d", p.Count, tc.q.PageSize)
				}
			}
			ids, err := collect(t, c, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if err := sameIDs(ids, want); err != nil {
				t.Fatal(err)
			}
			if pages < tc.minPages {
				t.Errorf("%d pages, want at least %d", pages, tc.minPages)
			}
			if delivered != n {
				t.Errorf("OnPage reported %d delivered, want %d", delivered, n)
			}
			var sum int64
			for _, v := range shardTotals {
				sum += v
			}
			if sum != n {
				t.Errorf("shard totals add up to %d, want %d (shards overlap or leave gaps)", sum, n)
			}
			if tc.q.Parallel == 4 && tc.q.Sort == "" && len(shardTotals) < 2 {
				t.Errorf("a sharded query used %d shard(s)", len(shardTotals))
			}
		})
	}
}

func TestStreamFindingsSortedOrderAndFilter(t *testing.T) {
	env := startSim(t, genTenant(t, 3000, 3), falconsim.Faults{})
	c := env.client(t, nil)
	filter, err := fql.Build(fql.And(fql.Eq("status", "open"), fql.Cmp("cve.base_score", ">=", 7)))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range env.tenant.Findings {
		if f.Status == "open" && cveScore(env.tenant, f.CVE) >= 7 {
			want = append(want, f.ID)
		}
	}
	slices.Sort(want)
	if len(want) == 0 {
		t.Fatal("fixture has no open findings with base score >= 7")
	}

	sharded, err := collect(t, c, FindingQuery{Filter: filter, PageSize: 100, Parallel: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := sameIDs(sharded, want); err != nil {
		t.Fatalf("sharded filtered stream: %v", err)
	}

	var last int64
	var ordered []string
	err = c.StreamFindings(context.Background(), FindingQuery{Filter: filter, PageSize: 250, Sort: "created_timestamp|asc"}, func(f *Finding) error {
		if ts := f.Created.UnixNano(); ts < last {
			return errors.New("created_timestamp went backwards in a sorted stream")
		} else {
			last = ts
		}
		if f.Status != "open" || f.CVEInfo.BaseScore < 7 || f.Host.Hostname == "" || f.CVEInfo.ID == "" {
			t.Errorf("finding %s does not match the filter or lacks facets: %+v", f.ID, f)
		}
		ordered = append(ordered, f.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sameIDs(ordered, want); err != nil {
		t.Fatal(err)
	}
}

func cveScore(ten *falconsim.Tenant, id string) float64 {
	for _, c := range ten.CVEs {
		if c.ID == id {
			return c.BaseScore
		}
	}
	return -1
}

func TestFindingsIteratorAndCallbackErrors(t *testing.T) {
	env := startSim(t, genTenant(t, 2500, 5), falconsim.Faults{})
	c := env.client(t, nil)
	ctx := context.Background()

	n := 0
	for f, err := range c.Findings(ctx, FindingQuery{PageSize: 500, Parallel: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		if f.ID == "" {
			t.Fatal("empty finding id")
		}
		if n++; n == 700 {
			break // must stop the workers and not panic
		}
	}
	if n != 700 {
		t.Fatalf("iterated %d findings before break, want 700", n)
	}

	stop := errors.New("enough")
	calls := 0
	err := c.StreamFindings(ctx, FindingQuery{PageSize: 500, Parallel: 2}, func(*Finding) error {
		if calls++; calls == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 10 {
		t.Fatalf("callback error: got %v after %d calls", err, calls)
	}

	cctx, cancel := context.WithCancel(ctx)
	err = c.StreamFindings(cctx, FindingQuery{PageSize: 100, Parallel: 2}, func(*Finding) error { cancel(); return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled stream returned %v", err)
	}
}

func TestFindingsPageCursorsAndGetFindings(t *testing.T) {
	env := startSim(t, genTenant(t, 1234, 11), falconsim.Faults{})
	c := env.client(t, nil)
	ctx := context.Background()
	var ids []string
	after, pages := "", 0
	for {
		p, err := c.FindingsPage(ctx, "", "cve, host_info", "", 500, after)
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 1234 {
			t.Fatalf("page total %d, want 1234", p.Total)
		}
		for _, f := range p.Findings {
			ids = append(ids, f.ID)
			if len(f.Remediations) > 0 {
				t.Fatalf("remediation facet was not asked for but %s has entities", f.ID)
			}
		}
		pages++
		if p.After == "" {
			break
		}
		after = p.After
	}
	if err := sameIDs(ids, tenantFindingIDs(env.tenant)); err != nil {
		t.Fatal(err)
	}
	if pages != 3 {
		t.Errorf("%d pages of 500 for 1234 findings, want 3", pages)
	}

	// GetFindings: more than one request's worth of ids (400), with a
	// duplicate and an unknown id.
	pick := append(slices.Clone(ids[:450]), ids[0], "0000-unknown")
	got, err := c.GetFindings(ctx, pick, nil)
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, f := range got {
		gotIDs = append(gotIDs, f.ID)
		if f.CVEInfo.ID == "" || f.Host.Hostname == "" || f.Created.IsZero() {
			t.Fatalf("GetFindings record %s lacks details: %+v", f.ID, f)
		}
	}
	want := slices.Clone(ids[:450])
	slices.Sort(want)
	if err := sameIDs(gotIDs, want); err != nil {
		t.Fatal(err)
	}

	for _, bad := range []struct {
		name string
		call func() error
		want string
	}{
		{"page size", func() error { _, err := c.FindingsPage(ctx, "", "", "", 5001, ""); return err }, "PageSize 5001"},
		{"facet", func() error { _, err := c.FindingsPage(ctx, "", "cve,hosts", "", 10, ""); return err }, `"hosts" is not one of`},
		{"get facet", func() error { _, err := c.GetFindings(ctx, ids[:1], []string{"nope"}); return err }, `"nope" is not one of`},
		{"parallel", func() error { _, err := collect(t, c, FindingQuery{Parallel: -1}); return err }, "Parallel -1"},
		{"resume with filter", func() error {
			_, err := collect(t, c, FindingQuery{Filter: "status:'open'", Resume: []Cursor{{Filter: "x"}}})
			return err
		}, "Resume"},
	} {
		if err := bad.call(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want one mentioning %q", bad.name, err, bad.want)
		}
	}
}

// The naive baseline and the fast stream must see the same findings with
// the same content.
func TestNaiveAndFastStreamsAgree(t *testing.T) {
	env := startSim(t, genTenant(t, 6000, 13), falconsim.Faults{})
	c := env.client(t, nil)
	ctx := context.Background()
	fast := map[string]string{}
	err := c.StreamFindings(ctx, FindingQuery{Parallel: 3}, func(f *Finding) error {
		fast[f.ID] = asJSON(t, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = c.NaiveStreamFindings(ctx, "", nil, func(f *Finding) error {
		n++
		if got, ok := fast[f.ID]; !ok {
			t.Fatalf("naive stream has %s, fast stream does not", f.ID)
		} else if want := asJSON(t, f); got != want {
			t.Fatalf("finding %s differs:\nfast:  %s\nnaive: %s", f.ID, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(fast) || n != 6000 {
		t.Fatalf("naive %d findings, fast %d, want 6000", n, len(fast))
	}
	if c.Stats().BadTimestamps != 0 {
		t.Errorf("%d bad timestamps in simulator data", c.Stats().BadTimestamps)
	}
}

func TestStreamSurvivesInjectedFaults(t *testing.T) {
	env := startSim(t, genTenant(t, 12345, 17), falconsim.Faults{
		RateLimitEvery: 6, ErrorRate: 0.05, TruncatePage: 3, InvalidPage: 5, Seed: 42,
	})
	want := tenantFindingIDs(env.tenant)
	for _, parallel := range []int{1, 4} {
		if err := env.srv.SetFaults(env.srv.CurrentFaults()); err != nil { // restart fault counters
			t.Fatal(err)
		}
		c := env.client(t, nil)
		before := env.srv.Stats().Faults
		ids, err := collect(t, c, FindingQuery{PageSize: 1000, Parallel: parallel})
		if err != nil {
			t.Fatalf("parallel %d: %v", parallel, err)
		}
		if err := sameIDs(ids, want); err != nil {
			t.Fatalf("parallel %d: %v", parallel, err)
		}
		st := c.Stats()
		faults := env.srv.Stats().Faults
		for k, v := range before {
			faults[k] -= v
		}
		if st.RateLimited == 0 || st.Retries < st.RateLimited || st.PageRetries < 2 {
			t.Errorf("parallel %d: stats %+v do not show the injected faults %v", parallel, st, faults)
		}
		if faults["truncate_page"] != 1 || faults["invalid_page"] != 1 {
			t.Errorf("parallel %d: simulator faults %v, want one truncated and one invalid page", parallel, faults)
		}
	}
}

func TestPageErrorAndResume(t *testing.T) {
	env := startSim(t, genTenant(t, 5000, 19), falconsim.Faults{})
	want := tenantFindingIDs(env.tenant)
	// Without page retries a single bad page is "persistent" for the client.
	c := env.client(t, func(cfg *Config) { cfg.PageRetries = -1 })

	t.Run("sequential: resume with After", func(t *testing.T) {
		if err := env.srv.SetFaults(falconsim.Faults{TruncatePage: 3}); err != nil {
			t.Fatal(err)
		}
		ids, err := collect(t, c, FindingQuery{PageSize: 700, Parallel: 1})
		var pe *PageError
		if !errors.As(err, &pe) {
			t.Fatalf("got %v, want a *PageError", err)
		}
		if pe.After == "" || pe.Fetched != 1400 || len(ids) != 1400 || len(pe.Pending) != 1 {
			t.Fatalf("PageError %+v after %d findings; want 1400 fetched and a cursor", pe, len(ids))
		}
		for _, s := range []string{pe.After, "Resume with FindingQuery", "narrow the filter"} {
			if !strings.Contains(pe.Error(), s) {
				t.Errorf("PageError message lacks %q: %s", s, pe.Error())
			}
		}
		rest, err := collect(t, c, FindingQuery{Filter: pe.Filter, After: pe.After, PageSize: 700})
		if err != nil {
			t.Fatal(err)
		}
		if err := sameIDs(append(ids, rest...), want); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("sharded: resume every pending shard", func(t *testing.T) {
		if err := env.srv.SetFaults(falconsim.Faults{InvalidPage: 4}); err != nil {
			t.Fatal(err)
		}
		ids, err := collect(t, c, FindingQuery{PageSize: 300, Parallel: 3})
		var pe *PageError
		if !errors.As(err, &pe) {
			t.Fatalf("got %v, want a *PageError", err)
		}
		if pe.Fetched != len(ids) || len(pe.Pending) == 0 || pe.Pending[0].Filter != pe.Filter || pe.Pending[0].After != pe.After {
			t.Fatalf("PageError %+v inconsistent with %d delivered findings", pe, len(ids))
		}
		rest, err := collect(t, c, FindingQuery{Resume: pe.Pending, PageSize: 300, Parallel: 3})
		if err != nil {
			t.Fatal(err)
		}
		if err := sameIDs(append(ids, rest...), want); err != nil {
			t.Fatal(err)
		}
	})
}

// skewTenant piles findings onto few seconds: a third in one second, most
// of the rest in the last days, a sparse tail over years. Shards then split
// while streaming, with page boundaries inside a second.
func skewTenant(t testing.TB, n int, seed int64) *falconsim.Tenant {
	ten := genTenant(t, n, seed)
	end := ten.Now.Add(-time.Hour).Truncate(time.Second)
	for i := range ten.Findings {
		f := &ten.Findings[i]
		var at time.Time
		switch {
		case i%3 == 0:
			at = end.Add(-48 * time.Hour) // one very dense second
		case i%10 == 1:
			at = end.Add(-time.Duration(i) * 7 * time.Hour) // sparse history
		default:
			at = end.Add(-time.Duration(i%5000) * 37 * time.Second)
		}
		f.Created = at
		f.Updated = at
		if f.Closed != nil && f.Closed.Before(at) {
			c := at.Add(time.Hour)
			f.Closed = &c
		}
	}
	return ten
}

func TestStreamSplitsDenseShardsExactly(t *testing.T) {
	env := startSim(t, skewTenant(t, 9000, 67), falconsim.Faults{})
	c := env.client(t, nil)
	want := tenantFindingIDs(env.tenant)
	maxShards := 0
	totals := map[int]int64{}
	ids, err := collect(t, c, FindingQuery{PageSize: 400, Parallel: 3, OnPage: func(p PageInfo) {
		maxShards = max(maxShards, p.Shards)
		totals[p.Shard] = p.Total
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sameIDs(ids, want); err != nil {
		t.Fatal(err)
	}
	if maxShards <= 3 {
		t.Errorf("dense shards were not split (%d shards)", maxShards)
	}
	var sum int64
	for _, v := range totals {
		sum += v
	}
	if sum != int64(len(want)) {
		t.Errorf("per-shard totals add up to %d, want %d", sum, len(want))
	}

	// A failure after splits resumes exactly from the pending cursors,
	// exclusions included.
	c2 := env.client(t, func(cfg *Config) { cfg.PageRetries = -1 })
	if err := env.srv.SetFaults(falconsim.Faults{TruncatePage: 9}); err != nil {
		t.Fatal(err)
	}
	first, err := collect(t, c2, FindingQuery{PageSize: 400, Parallel: 3})
	var pe *PageError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want a *PageError", err)
	}
	if err := env.srv.SetFaults(falconsim.Faults{}); err != nil {
		t.Fatal(err)
	}
	rest, err := collect(t, c2, FindingQuery{Resume: pe.Pending, PageSize: 400, Parallel: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := sameIDs(append(first, rest...), want); err != nil {
		t.Fatalf("after resume: %v (pending %d cursors)", err, len(pe.Pending))
	}
}
