package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/config"
	"github.com/vulnpilot/vulnpilot/internal/falconsim"
	"github.com/vulnpilot/vulnpilot/internal/perf"
	"github.com/vulnpilot/vulnpilot/internal/snapshot"
)

func cmdBench(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 || args[0] != "fetch" {
		return usageError{"usage: vulnpilot bench fetch [--findings N] [--skip-naive] [--output table|json]"}
	}
	fs := a.newFlagSet("bench fetch", "bench fetch [--findings N] [--hosts H] [--skip-naive] [--output table|json]")
	findings := fs.Int("findings", 1_000_000, "open findings in the simulated tenant (approximate: hosts × findings per host)")
	hosts := fs.Int("hosts", 0, "hosts in the tenant (default findings/50)")
	skipNaive := fs.Bool("skip-naive", false, "skip the naive gofalcon loop (slow by design)")
	floorPages := fs.Int("floor-pages", 20, "5000-finding pages the decode floor samples")
	output := fs.String("output", "table", "table or json")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the pipeline mode to this file")
	check := fs.Bool("check", false, "exit 1 when a target is missed (for automation)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *findings < 1000 || *findings > 10_000_000 {
		return usageError{fmt.Sprintf("--findings %d is out of range 1000–10000000", *findings)}
	}
	if *hosts == 0 {
		*hosts = max(1, *findings/50)
	}
	perHost := max(1, *findings / *hosts)
	cfg := config.Defaults()
	deps, err := loadEngine(ctx, cfg)
	if err != nil {
		return err
	}

	// The simulator runs in its own process so the measured process holds
	// only the client side (its peak RSS is what the report states).
	target, stop, err := startSimProcess(ctx, a, *hosts, perHost)
	if err != nil {
		return err
	}
	defer stop()
	rep, err := perf.Fetch(ctx, perf.FetchOptions{
		Target:     target,
		FloorPages: *floorPages,
		SkipNaive:  *skipNaive,
		CPUProfile: *cpuProfile,
		Progress:   a.stderr,
		Snapshot: snapshot.Options{
			Engine: deps.engine, Feeds: deps.feeds, Model: deps.model, Now: falconsim.DefaultGenerateNow(),
		},
	})
	if err != nil {
		return err
	}
	if *output == "json" {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(a.stdout, "Fetch + score + plan of %d findings from the simulator over HTTPS through gofalcon (GOMAXPROCS=%d, %d CPUs):\n\n", rep.Pipeline.Findings, rep.GOMAXPROCS, rep.CPUs)
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODE\tFINDINGS/S\tWALL\tCPU\tPEAK RSS\tNOTE")
	rows := []perf.ModeResult{rep.Pipeline, rep.FloorAll, rep.FloorOne}
	if rep.Naive != nil {
		rows = append(rows, *rep.Naive)
	}
	for _, r := range rows {
		rss, cpu := "-", "-"
		if r.PeakRSS > 0 {
			rss = fmt.Sprintf("%d MiB", r.PeakRSS>>20)
		}
		if r.CPU > 0 {
			cpu = r.CPU.Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\n", r.Mode, r.FindingsPerSec, r.Wall.Round(10*time.Millisecond), cpu, rss, r.Note)
	}
	tw.Flush()
	fmt.Fprintln(a.stdout)
	failed := false
	for _, t := range rep.Targets {
		mark := "met"
		if !t.Met {
			mark, failed = "MISSED", true
		}
		fmt.Fprintf(a.stdout, "target %-45s %-8s %s\n", t.Name, t.Got, mark)
	}
	if failed && *check {
		return exitCode(1)
	}
	return nil
}

// startSimProcess runs `vulnpilot sim serve` on a generated tenant as a child
// process and returns how to reach it.
func startSimProcess(ctx context.Context, a *app, hosts, perHost int) (perf.Target, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return perf.Target{}, nil, err
	}
	dir, err := os.MkdirTemp("", "vulnpilot-bench")
	if err != nil {
		return perf.Target{}, nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(cctx, exe, "sim", "serve", "--hosts", strconv.Itoa(hosts), "--findings-per-host", strconv.Itoa(perHost),
		"--addr", "127.0.0.1:0", "--cert-dir", dir)
	cmd.Stderr = a.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return perf.Target{}, nil, err
	}
	stop := func() {
		cancel()
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}
	fmt.Fprintf(a.stderr, "generating and serving a %d-host tenant (%d findings per host) in a child process …\n", hosts, perHost)
	if err := cmd.Start(); err != nil {
		cancel()
		return perf.Target{}, nil, err
	}
	env := map[string]string{}
	sc := bufio.NewScanner(out)
	for len(env) < 4 && sc.Scan() {
		if kv, ok := strings.CutPrefix(sc.Text(), "export "); ok {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	if len(env) < 4 {
		stop()
		return perf.Target{}, nil, fmt.Errorf("the simulator process did not start (printed %v)", env)
	}
	pem, err := os.ReadFile(env[falconsim.EnvCAFile])
	if err != nil {
		stop()
		return perf.Target{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 16, ForceAttemptHTTP2: true}}
	return perf.Target{
		BaseURL: env[falconsim.EnvBaseURL], ClientID: env[falconsim.EnvClientID], ClientSecret: env[falconsim.EnvClientSecret], HTTPClient: hc,
	}, stop, nil
}
