// Package perf holds vulnpilot's end-to-end performance measurements, the
// ones `vulnpilot bench` runs and the README quotes: pulling, scoring and
// planning a large tenant from a Falcon API (the simulator, over HTTPS,
// through gofalcon) against the decode-only floor and a naive loop.
package perf

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/vulnpilot/vulnpilot/agent"
	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/snapshot"
)

// Target is the Falcon API to measure against.
type Target struct {
	BaseURL, ClientID, ClientSecret string
	// HTTPClient trusts the target's certificate (the simulator's).
	HTTPClient *http.Client
}

// FetchOptions configure Fetch.
type FetchOptions struct {
	Target Target
	// Snapshot options (engine, feeds, model, clock) used by every mode.
	Snapshot snapshot.Options
	// Filter selects the findings (default: every open finding).
	Filter string
	// FloorPages is how many 5000-finding pages the decode floor samples
	// (default 20: 100,000 findings); the floor is extrapolated to the full
	// count from the measured per-finding cost.
	FloorPages int
	// SkipNaive leaves out the naive loop (it is slow by design).
	SkipNaive bool
	// Progress receives a line per phase.
	Progress io.Writer
	// CPUProfile, when set, receives a pprof CPU profile of the pipeline.
	CPUProfile string
}

// ModeResult is one measured mode.
type ModeResult struct {
	Mode           string        `json:"mode"`
	Findings       int           `json:"findings"`
	Wall           time.Duration `json:"wall_ns"`
	CPU            time.Duration `json:"cpu_ns"` // user+system time of this process
	FindingsPerSec float64       `json:"findings_per_sec"`
	PeakRSS        int64         `json:"peak_rss_bytes"` // VmHWM during the mode (Linux)
	Items          int           `json:"work_items,omitempty"`
	Note           string        `json:"note,omitempty"`
}

// FetchReport compares the modes.
type FetchReport struct {
	GOMAXPROCS int          `json:"gomaxprocs"`
	CPUs       int          `json:"cpus"`
	Pipeline   ModeResult   `json:"pipeline"`
	FloorAll   ModeResult   `json:"decode_floor_all_cores"`
	FloorOne   ModeResult   `json:"decode_floor_one_core"`
	Naive      *ModeResult  `json:"naive,omitempty"`
	Ratios     FetchRatios  `json:"ratios"`
	Targets    []TargetPass `json:"targets"`
}

// FetchRatios are the figures the targets are stated in.
type FetchRatios struct {
	VsFloorAllCores float64 `json:"pipeline_over_floor_all_cores"`
	VsFloorOneCore  float64 `json:"pipeline_over_floor_one_core"`
	NaiveOverFast   float64 `json:"naive_over_pipeline,omitempty"`
}

// TargetPass is one target and whether it was met.
type TargetPass struct {
	Name string `json:"name"`
	Met  bool   `json:"met"`
	Got  string `json:"got"`
}

// Fetch measures, in this order: the pipeline (sharded lean stream → enrich →
// score → plan), the decode floor (decoding sampled raw pages of the same
// query, no network, no scoring), and the naive loop (gofalcon's typed call,
// sequential, full model decode → the same enrich/score/plan).
func Fetch(ctx context.Context, o FetchOptions) (*FetchReport, error) {
	if o.Filter == "" {
		o.Filter = "status:['open','reopen']"
	}
	if o.FloorPages <= 0 {
		o.FloorPages = 20
	}
	say := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	rep := &FetchReport{GOMAXPROCS: runtime.GOMAXPROCS(0), CPUs: runtime.NumCPU()}

	client, err := newClient(ctx, o.Target)
	if err != nil {
		return nil, err
	}
	say("pipeline: pulling, enriching, scoring and planning …")
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
	}
	res, err := measure("pipeline", func() (int, int, error) {
		p := agent.Prioritize{Source: client, Tenant: "bench", Scope: "", Options: o.Snapshot}
		p.Options.Progress = nil
		r, err := p.Run(ctx)
		if err != nil {
			return 0, 0, err
		}
		s := r.Snapshot.Summary()
		return s.Findings, s.Items, nil
	})
	client.Close()
	if o.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return nil, err
	}
	rep.Pipeline = res
	say("  %d findings in %s (%.0f/s), peak RSS %d MiB", res.Findings, res.Wall.Round(time.Millisecond), res.FindingsPerSec, res.PeakRSS>>20)

	say("decode floor: sampling %d raw pages …", o.FloorPages)
	pages, err := rawPages(ctx, o.Target, o.Filter, o.FloorPages)
	if err != nil {
		return nil, fmt.Errorf("decode floor: %w", err)
	}
	rep.FloorOne, rep.FloorAll, err = decodeFloor(pages, res.Findings)
	if err != nil {
		return nil, err
	}
	say("  one core %.0f findings/s, all cores %.0f findings/s", rep.FloorOne.FindingsPerSec, rep.FloorAll.FindingsPerSec)

	if !o.SkipNaive {
		say("naive loop: gofalcon typed calls, sequential, full model decode …")
		nc, err := newClient(ctx, o.Target)
		if err != nil {
			return nil, err
		}
		nres, err := measure("naive", func() (int, int, error) {
			p := agent.Prioritize{Source: naiveSource{nc}, Tenant: "bench", Options: o.Snapshot}
			r, err := p.Run(ctx)
			if err != nil {
				return 0, 0, err
			}
			s := r.Snapshot.Summary()
			return s.Findings, s.Items, nil
		})
		nc.Close()
		if err != nil {
			return nil, err
		}
		rep.Naive = &nres
		say("  %d findings in %s (%.0f/s)", nres.Findings, nres.Wall.Round(time.Millisecond), nres.FindingsPerSec)
		if nres.Findings != res.Findings {
			return nil, fmt.Errorf("naive loop saw %d findings, pipeline %d: the modes disagree", nres.Findings, res.Findings)
		}
		rep.Ratios.NaiveOverFast = nres.Wall.Seconds() / res.Wall.Seconds()
	}
	rep.Ratios.VsFloorAllCores = res.Wall.Seconds() / rep.FloorAll.Wall.Seconds()
	rep.Ratios.VsFloorOneCore = res.Wall.Seconds() / rep.FloorOne.Wall.Seconds()
	rep.Targets = []TargetPass{
		{"pipeline ≤ 2× the decode floor (all cores)", rep.Ratios.VsFloorAllCores <= 2, fmt.Sprintf("%.2f×", rep.Ratios.VsFloorAllCores)},
		{"peak RSS ≤ 1 GB", res.PeakRSS <= 1<<30, fmt.Sprintf("%d MiB", res.PeakRSS>>20)},
	}
	if rep.Naive != nil {
		rep.Targets = append(rep.Targets, TargetPass{"≥ 3× faster than the naive loop", rep.Ratios.NaiveOverFast >= 3, fmt.Sprintf("%.2f×", rep.Ratios.NaiveOverFast)})
	}
	return rep, nil
}

func newClient(ctx context.Context, t Target) (*falcon.Client, error) {
	return falcon.New(ctx, falcon.Config{ClientID: t.ClientID, ClientSecret: t.ClientSecret, BaseURL: t.BaseURL, HTTPClient: t.HTTPClient, UserAgent: "vulnpilot-bench"})
}

// naiveSource streams with the naive loop; the rest is the real client.
type naiveSource struct{ *falcon.Client }

func (n naiveSource) StreamFindings(ctx context.Context, q falcon.FindingQuery, fn func(*falcon.Finding) error) error {
	return n.Client.NaiveStreamFindings(ctx, q.Filter, q.Facets, fn)
}

// measure runs fn after a GC and a reset of the peak-RSS counter.
func measure(mode string, fn func() (findings, items int, err error)) (ModeResult, error) {
	runtime.GC()
	resetPeakRSS()
	cpu0 := cpuTime()
	t0 := time.Now()
	n, items, err := fn()
	wall := time.Since(t0)
	if err != nil {
		return ModeResult{}, fmt.Errorf("%s: %w", mode, err)
	}
	return ModeResult{
		Mode: mode, Findings: n, Items: items, Wall: wall, CPU: cpuTime() - cpu0,
		FindingsPerSec: float64(n) / wall.Seconds(), PeakRSS: peakRSS(),
	}, nil
}

// rawPages fetches up to n raw response bodies of the findings query with a
// plain HTTPS client (OAuth2 client credentials), page after page.
func rawPages(ctx context.Context, t Target, filter string, n int) ([][]byte, error) {
	base := strings.TrimRight(t.BaseURL, "/")
	cc := clientcredentials.Config{ClientID: t.ClientID, ClientSecret: t.ClientSecret, TokenURL: base + "/oauth2/token"}
	hc := cc.Client(contextWithHTTPClient(ctx, t.HTTPClient))
	var pages [][]byte
	after := ""
	for len(pages) < n {
		q := url.Values{"filter": {filter}, "limit": {"5000"}, "facet": falcon.DefaultFindingFacets}
		if after != "" {
			q.Set("after", after)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/spotlight/combined/vulnerabilities/v1?"+q.Encode(), nil)
		if err != nil {
			return nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
		}
		findings, next, _, err := falcon.DecodeFindingsPage(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if len(findings) == 0 {
			break
		}
		pages = append(pages, body)
		if next == "" {
			break
		}
		after = next
	}
	if len(pages) == 0 {
		return nil, errors.New("the query returned no findings")
	}
	return pages, nil
}

// decodeFloor decodes the sampled pages with the same decoder the pipeline
// uses, on one core and on all cores, and extrapolates to total findings.
func decodeFloor(pages [][]byte, total int) (one, all ModeResult, err error) {
	count := 0
	decodeAll := func(workers int) (time.Duration, error) {
		// Warm once so both runs see the same caches and a grown heap.
		var mu sync.Mutex
		var firstErr error
		next := make(chan []byte)
		var wg sync.WaitGroup
		t0 := time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for p := range next {
					fs, _, _, err := falcon.DecodeFindingsPage(bytes.NewReader(p))
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					if workers == 1 {
						count += len(fs)
					}
					mu.Unlock()
				}
			}()
		}
		for _, p := range pages {
			next <- p
		}
		close(next)
		wg.Wait()
		return time.Since(t0), firstErr
	}
	if _, err = decodeAll(1); err != nil { // warm-up
		return
	}
	count = 0
	d1, err := decodeAll(1)
	if err != nil {
		return
	}
	dn, err := decodeAll(runtime.GOMAXPROCS(0))
	if err != nil {
		return
	}
	perOne := d1.Seconds() / float64(count)
	perAll := dn.Seconds() / float64(count)
	note := fmt.Sprintf("measured on %d sampled findings, extrapolated to %d", count, total)
	one = ModeResult{Mode: "decode floor, 1 core", Findings: total, Wall: time.Duration(perOne * float64(total) * 1e9), FindingsPerSec: 1 / perOne, Note: note}
	all = ModeResult{Mode: fmt.Sprintf("decode floor, %d cores", runtime.GOMAXPROCS(0)), Findings: total, Wall: time.Duration(perAll * float64(total) * 1e9), FindingsPerSec: 1 / perAll, Note: note}
	return one, all, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS resets VmHWM (Linux: writing 5 to clear_refs).
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS reads VmHWM from /proc/self/status; 0 where unavailable.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// contextWithHTTPClient makes the OAuth2 token request (and the requests of
// the client it returns) use hc, which trusts the target's certificate.
func contextWithHTTPClient(ctx context.Context, hc *http.Client) context.Context {
	if hc == nil {
		return ctx
	}
	return context.WithValue(ctx, oauth2.HTTPClient, hc)
}
