package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vulnpilot/vulnpilot/agent"
	"github.com/vulnpilot/vulnpilot/internal/config"
	"github.com/vulnpilot/vulnpilot/internal/falconsim"
	"github.com/vulnpilot/vulnpilot/internal/report"
	"github.com/vulnpilot/vulnpilot/internal/snapshot"
	"github.com/vulnpilot/vulnpilot/internal/store"
)

// commonFlags are accepted by every command that reads the configuration.
type commonFlags struct {
	config  string
	dataDir string
	policy  string
	epss    string
	kev     string
}

func (c *commonFlags) register(fs interface {
	StringVar(*string, string, string, string)
}) {
	fs.StringVar(&c.config, "config", "", "config file (default: first of $VULNPILOT_CONFIG, ./vulnpilot.yaml, ~/.config/vulnpilot/config.yaml)")
	fs.StringVar(&c.dataDir, "data-dir", "", "state directory (default $VULNPILOT_DATA_DIR or ~/.local/share/vulnpilot)")
	fs.StringVar(&c.policy, "policy", "", "risk policy YAML (default: built-in policy)")
	fs.StringVar(&c.epss, "epss", "", "FIRST EPSS CSV (file or URL, gz or plain); default: none, EPSS unknown")
	fs.StringVar(&c.kev, "kev", "", "CISA KEV JSON (file or URL); default: bundled snapshot")
}

func (c *commonFlags) load(a *app) (config.Config, error) {
	cfg, err := config.Load(c.config, a.env)
	if err != nil {
		return cfg, err
	}
	if c.dataDir != "" {
		cfg.DataDir = c.dataDir
	}
	if c.policy != "" {
		cfg.Policy = c.policy
	}
	if c.epss != "" {
		cfg.Intel.EPSS = c.epss
	}
	if c.kev != "" {
		cfg.Intel.KEV = c.kev
	}
	return cfg, nil
}

func cmdRun(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("run", "run [--demo] [--output table|json|markdown] [--top N] [--incremental] [flags]")
	var common commonFlags
	common.register(fs)
	demo := fs.Bool("demo", false, "run against the built-in simulated Falcon tenant (no credentials needed)")
	demoHosts := fs.Int("demo-hosts", 300, "hosts in the --demo tenant")
	demoSeed := fs.Int64("demo-seed", 7, "seed of the --demo tenant")
	output := fs.String("output", "table", "output format: table, json, markdown")
	outFile := fs.String("o", "", "write the output to this file instead of stdout")
	top := fs.Int("top", -1, "work items to show; 0 = all (default: run.top, 20, for table/markdown; all for json)")
	scope := fs.String("scope", "", "FQL filter ANDed to the pull, e.g. host_info.groups:'PCI' (default: run.filter)")
	incremental := fs.Bool("incremental", false, "pull only findings updated since the last run's watermark (state in the data dir)")
	noProgress := fs.Bool("no-progress", false, "no progress bar even on a terminal")
	nowFlag := fs.String("now", "", "assessment time, RFC 3339 (default: now); for reproducible reports")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !slices.Contains(report.Formats, *output) {
		return usageError{fmt.Sprintf("--output %q is not one of %s", *output, strings.Join(report.Formats, ", "))}
	}
	cfg, err := common.load(a)
	if err != nil {
		return err
	}
	log := a.logger(cfg, false)
	now := time.Now().UTC()
	if *demo {
		// The bundled real CVE data ends in October 2024, so the simulated
		// tenant lives at that time and the run assesses it then.
		now = falconsim.DefaultGenerateNow()
	}
	if *nowFlag != "" {
		if now, err = time.Parse(time.RFC3339, *nowFlag); err != nil {
			return usageError{fmt.Sprintf("--now %q is not an RFC 3339 time such as 2026-12-01T00:00:00Z", *nowFlag)}
		}
	}
	if *scope == "" {
		*scope = cfg.Run.Filter
	}

	deps, err := loadEngine(ctx, cfg)
	if err != nil {
		return err
	}
	var src sourceConn
	if *demo {
		src, err = startDemo(ctx, demoOptions{Hosts: *demoHosts, Seed: *demoSeed, Now: now}, log)
	} else {
		src, err = connectFalcon(ctx, cfg, log)
	}
	if err != nil {
		return err
	}
	defer src.close()

	st, err := store.Open(ctx, filepath.Join(cfg.DataDir, "vulnpilot.db"))
	if err != nil {
		return err
	}
	defer st.Close()

	bar := newProgress(a.stderr, a.isTerminal && !*noProgress, "pulling findings")
	p := agent.Prioritize{
		Source:      src.client,
		Store:       st,
		Tenant:      src.tenantKey,
		TenantLabel: src.label,
		Scope:       *scope,
		Incremental: *incremental,
		Logger:      log,
		Options: snapshot.Options{
			Engine:         deps.engine,
			Feeds:          deps.feeds,
			Model:          deps.model,
			Now:            now,
			AlertsLookback: cfg.Run.AlertsLookback,
			Progress:       bar.update,
			FalconLabel:    src.label,
			PolicyLabel:    deps.policyLabel,
		},
	}
	p.Options.Plan.FleetMinHosts = cfg.Run.FleetMinHosts
	res, err := p.Run(ctx)
	bar.finish()
	if err != nil {
		return err
	}

	n := *top
	if n < 0 {
		n = cfg.Run.Top
		if *output == "json" {
			n = 0
		}
	}
	doc := report.NewDocument(res.Snapshot.Summary(), report.RunInfo{ID: res.Run.ID, Mode: res.Run.Mode, Pulled: res.Run.Pulled, Watermark: res.Run.Watermark}, res.Snapshot.Top(n))
	return writeOutput(*outFile, a.stdout, func(w io.Writer) error {
		switch *output {
		case "json":
			return report.JSON(w, doc)
		case "markdown":
			return report.Markdown(w, doc)
		}
		return report.Table(w, doc)
	})
}

// writeOutput writes to path atomically (temp file + rename), or to stdout.
func writeOutput(path string, stdout io.Writer, render func(io.Writer) error) error {
	if path == "" || path == "-" {
		return render(stdout)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := render(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
