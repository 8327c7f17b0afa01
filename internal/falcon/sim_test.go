package falcon

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/cvedata"
	"github.com/vulnpilot/vulnpilot/internal/falconsim"
)

// genTenant generates a resolved tenant with exactly nFindings findings (the
// generator's fleet is sized to produce at least that many, then cut).
func genTenant(t testing.TB, nFindings int, seed int64) *falconsim.Tenant {
	t.Helper()
	ten, err := generateTenant(nFindings, seed)
	if err != nil {
		t.Fatal(err)
	}
	return ten
}

func generateTenant(nFindings int, seed int64) (*falconsim.Tenant, error) {
	db, err := cvedata.Load()
	if err != nil {
		return nil, err
	}
	hosts := max(nFindings/falconsim.DefaultFindingsPerHost*3/2, 20)
	for {
		ten, err := falconsim.Generate(falconsim.GenerateOptions{Hosts: min(hosts, falconsim.MaxGenerateHosts), Seed: seed}, db)
		if err != nil {
			return nil, err
		}
		if len(ten.Findings) >= nFindings {
			ten.Findings = ten.Findings[:nFindings]
			return ten, nil
		}
		if hosts >= falconsim.MaxGenerateHosts {
			return nil, fmt.Errorf("cannot generate %d findings (got %d from %d hosts)", nFindings, len(ten.Findings), hosts)
		}
		hosts *= 2
	}
}

type simEnv struct {
	tenant *falconsim.Tenant
	srv    *falconsim.Server
	run    *falconsim.Running
}

func startSim(t testing.TB, ten *falconsim.Tenant, faults falconsim.Faults) *simEnv {
	t.Helper()
	srv, err := falconsim.New(ten, falconsim.Options{Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run, err := srv.StartTLS(ctx, "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Close(); cancel() })
	return &simEnv{tenant: ten, srv: srv, run: run}
}

// client connects with the demo credentials (or those in mutate), trusting
// the simulator through CAFile only, with fast retry timings.
func (e *simEnv) client(t testing.TB, mutate func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		ClientID: falconsim.DemoClientID, ClientSecret: falconsim.DemoClientSecret,
		BaseURL: e.run.URL, CAFile: e.run.CertFile,
		RetryBaseDelay: 2 * time.Millisecond, RetryMaxDelay: 20 * time.Millisecond,
		// The simulator's X-RateLimit-RetryAfter is whole epoch seconds;
		// waiting for it in full would make these tests slow.
		MaxRateLimitWait: 100 * time.Millisecond,
		Logger:           slog.New(slog.DiscardHandler),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close) // before the simulator's cleanup: idle connections would delay its shutdown
	return c
}

func tenantFindingIDs(ten *falconsim.Tenant) []string {
	ids := make([]string, len(ten.Findings))
	for i, f := range ten.Findings {
		ids[i] = f.ID
	}
	slices.Sort(ids)
	return ids
}

// sameIDs reports the first difference between a streamed id list and the
// expected sorted set: a duplicate, a missing or an extra id.
func sameIDs(got, want []string) error {
	got = slices.Clone(got)
	slices.Sort(got)
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			return fmt.Errorf("id %s delivered twice", got[i])
		}
	}
	if len(got) != len(want) {
		return fmt.Errorf("got %d ids, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("id set differs at %d: got %s, want %s", i, got[i], want[i])
		}
	}
	return nil
}

func collect(t testing.TB, c *Client, q FindingQuery) ([]string, error) {
	t.Helper()
	var ids []string
	err := c.StreamFindings(context.Background(), q, func(f *Finding) error {
		ids = append(ids, f.ID)
		return nil
	})
	return ids, err
}
