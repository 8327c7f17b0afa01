package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/config"
	"github.com/vulnpilot/vulnpilot/internal/cvedata"
	"github.com/vulnpilot/vulnpilot/internal/falconsim"
)

func cmdSim(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 {
		return usageError{"missing subcommand: vulnpilot sim generate|serve"}
	}
	switch args[0] {
	case "generate":
		return cmdSimGenerate(ctx, a, args[1:])
	case "serve":
		return cmdSimServe(ctx, a, args[1:])
	}
	return usageError{fmt.Sprintf("unknown subcommand %q; use generate or serve", args[0])}
}

func cmdSimGenerate(_ context.Context, a *app, args []string) error {
	fs := a.newFlagSet("sim generate", "sim generate --hosts N --seed S -o tenant.json")
	hosts := fs.Int("hosts", 100, fmt.Sprintf("hosts in the tenant (1–%d)", falconsim.MaxGenerateHosts))
	seed := fs.Int64("seed", 1, "random seed; the same seed gives the same tenant, byte for byte")
	perHost := fs.Int("findings-per-host", falconsim.DefaultFindingsPerHost, "mean open findings per host")
	nowFlag := fs.String("now", "", "the tenant's present, RFC 3339 (default "+falconsim.DefaultGenerateNow().Format(time.DateOnly)+", just after the bundled CVE data)")
	out := fs.String("o", "", "output file (.json or .json.gz); required")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageError{"-o FILE is required"}
	}
	opts := falconsim.GenerateOptions{Hosts: *hosts, Seed: *seed, FindingsPerHost: *perHost}
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			return usageError{fmt.Sprintf("--now %q is not an RFC 3339 time", *nowFlag)}
		}
		opts.Now = t
	}
	db, err := cvedata.Load()
	if err != nil {
		return err
	}
	t, err := falconsim.Generate(opts, db)
	if err != nil {
		return err
	}
	if err := t.Save(*out); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "wrote %s: %d hosts, %d findings, %d alerts, %d intel records (seed %d)\n", *out, len(t.Hosts), len(t.Findings), len(t.Alerts), len(t.Intel), *seed)
	return nil
}

func cmdSimServe(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("sim serve", "sim serve [--tenant FILE | --hosts N --seed S] [--addr 127.0.0.1:8443] [fault flags]")
	tenant := fs.String("tenant", "", "tenant file to serve (from 'sim generate' or hand-written)")
	hosts := fs.Int("hosts", 100, "hosts of a generated tenant when --tenant is not given")
	seed := fs.Int64("seed", 1, "seed of a generated tenant")
	perHost := fs.Int("findings-per-host", falconsim.DefaultFindingsPerHost, "mean open findings per host of a generated tenant")
	addr := fs.String("addr", "127.0.0.1:8443", "listen address")
	certDir := fs.String("cert-dir", "", "where cert.pem and key.pem are written (default <data-dir>/sim)")
	dataDir := fs.String("data-dir", "", "state directory (default $VULNPILOT_DATA_DIR or ~/.local/share/vulnpilot)")
	var f falconsim.Faults
	fs.IntVar(&f.RateLimitEvery, "fault-429-every", 0, "answer every Nth API request with 429 (0: off)")
	fs.DurationVar(&f.RetryAfter, "fault-retry-after", time.Second, "how far ahead X-RateLimit-RetryAfter points")
	fs.Float64Var(&f.ErrorRate, "fault-5xx-rate", 0, "fraction of API requests answered 500/502/503")
	fs.DurationVar(&f.Latency, "fault-latency", 0, "latency added to every API response")
	fs.IntVar(&f.TruncatePage, "fault-truncate-page", 0, "cut the Nth findings page mid-JSON, once (0: off)")
	fs.IntVar(&f.InvalidPage, "fault-invalid-page", 0, "answer the Nth findings page with the wrong JSON shape, once (0: off)")
	fs.Int64Var(&f.Seed, "fault-seed", 1, "seed of the deterministic fault choice")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *certDir == "" {
		dir := *dataDir
		if dir == "" {
			if v, ok := a.env("VULNPILOT_DATA_DIR"); ok && v != "" {
				dir = v
			} else {
				dir = config.DefaultDataDir(a.env)
			}
		}
		*certDir = filepath.Join(dir, "sim")
	}
	cfg := falconsim.ServeConfig{
		Addr:    *addr,
		CertDir: *certDir,
		Out:     a.stdout,
		Options: falconsim.Options{Faults: f, Logger: a.logger(config.Defaults(), true)},
	}
	if *tenant != "" {
		cfg.TenantPath = *tenant
	} else {
		cfg.Generate = &falconsim.GenerateOptions{Hosts: *hosts, Seed: *seed, FindingsPerHost: *perHost}
	}
	fmt.Fprintf(a.stderr, "Falcon simulator listening on https://%s (Ctrl-C to stop); the client environment follows on stdout.\n", *addr)
	return falconsim.ServeFile(ctx, cfg)
}
