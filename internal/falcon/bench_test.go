package falcon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crowdstrike/gofalcon/falcon/client/spotlight_vulnerabilities"
	"github.com/crowdstrike/gofalcon/falcon/models"
	"github.com/vulnpilot/vulnpilot/internal/falconsim"
)

// The streaming benchmarks talk to a simulator in a child process (this test
// binary re-executed), so that the client's allocations, heap and CPU are
// measured without the server's. Size: VULNPILOT_BENCH_FINDINGS (default
// 100,000).
//
//	go test -run '^$' -bench . -benchtime 1x ./internal/falcon
//	VULNPILOT_BENCH_FINDINGS=1000000 go test -run '^$' -bench Stream -benchtime 1x ./internal/falcon

const (
	envSimChild   = "VULNPILOT_FALCON_TEST_SIM_CHILD"
	envBenchCount = "VULNPILOT_BENCH_FINDINGS"
)

func TestMain(m *testing.M) {
	if n := os.Getenv(envSimChild); n != "" {
		os.Exit(runSimChild(n))
	}
	os.Exit(m.Run())
}

// runSimChild serves a generated tenant until stdin closes, after printing
// {"url","cert_file"} on stdout.
func runSimChild(count string) int {
	n, err := strconv.Atoi(count)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ten, err := generateTenant(n, 99)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	srv, err := falconsim.New(ten, falconsim.Options{RateLimitPerMinute: 1 << 30})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ten = nil
	runtime.GC()
	run, err := srv.StartTLS(context.Background(), "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer run.Close()
	if p := os.Getenv(envSimChild + "_CPUPROFILE"); p != "" {
		// For looking at the simulator's side of a benchmark.
		if f, err := os.Create(p); err == nil {
			_ = pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]string{"url": run.URL, "cert_file": run.CertFile})
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent goes away
	return 0
}

func benchCount(b *testing.B) int {
	n := 100_000
	if s := os.Getenv(envBenchCount); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("%s=%q: want a positive integer", envBenchCount, s)
		}
		n = v
	}
	return n
}

// startSimChild starts the child simulator and returns a connected client
// and a function that sets the simulator's faults.
func startSimChild(b *testing.B, n int) (*Client, func(falconsim.Faults)) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envSimChild+"="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	var info struct {
		URL      string `json:"url"`
		CertFile string `json:"cert_file"`
	}
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil || json.Unmarshal(line, &info) != nil {
		b.Fatalf("simulator child: %q, %v", line, err)
	}
	c, err := New(context.Background(), Config{
		ClientID: falconsim.DemoClientID, ClientSecret: falconsim.DemoClientSecret,
		BaseURL: info.URL, CAFile: info.CertFile,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	setFaults := func(f falconsim.Faults) {
		body, _ := json.Marshal(f)
		resp, err := c.base.Post(info.URL+"/_sim/faults", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("setting faults: HTTP %d", resp.StatusCode)
		}
	}
	return c, setFaults
}

// heapPeak samples until stop is closed and reports the peak heap in use
// (garbage included, so it follows GOGC) and the peak live heap (as marked
// by the last GC: what the stream really holds).
func heapPeak(stop <-chan struct{}) <-chan [2]uint64 {
	out := make(chan [2]uint64, 1)
	go func() {
		var peak, live uint64
		var ms runtime.MemStats
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			metrics.Read(sample)
			peak = max(peak, ms.HeapInuse)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				live = max(live, sample[0].Value.Uint64())
			}
			select {
			case <-stop:
				out <- [2]uint64{peak, live}
				return
			case <-t.C:
			}
		}
	}()
	return out
}

func BenchmarkStreamFindings(b *testing.B) {
	n := benchCount(b)
	c, setFaults := startSimChild(b, n)
	ctx := context.Background()
	// The "+latency" variants add 250ms to every API response: closer to a
	// real Falcon cloud, where a 5000-finding page takes a while to come.
	const latency = 250 * time.Millisecond
	for _, bc := range []struct {
		name    string
		latency time.Duration
		run     func(fn func(*Finding) error) error
	}{
		{"fast", 0, func(fn func(*Finding) error) error { return c.StreamFindings(ctx, FindingQuery{}, fn) }},
		{"fast-sequential", 0, func(fn func(*Finding) error) error {
			return c.StreamFindings(ctx, FindingQuery{Parallel: 1}, fn)
		}},
		{"naive", 0, func(fn func(*Finding) error) error { return c.NaiveStreamFindings(ctx, "", nil, fn) }},
		{"fast+latency", latency, func(fn func(*Finding) error) error { return c.StreamFindings(ctx, FindingQuery{}, fn) }},
		{"naive+latency", latency, func(fn func(*Finding) error) error { return c.NaiveStreamFindings(ctx, "", nil, fn) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			setFaults(falconsim.Faults{Latency: bc.latency})
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			stop := make(chan struct{})
			peak := heapPeak(stop)
			var total int64
			for b.Loop() {
				var got int64
				if err := bc.run(func(f *Finding) error {
					if f.ID == "" {
						return fmt.Errorf("empty id")
					}
					got++
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				if got != int64(n) {
					b.Fatalf("streamed %d findings, want %d", got, n)
				}
				total += got
			}
			close(stop)
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "findings/s")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(total), "allocs/finding")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(total), "B/finding")
			p := <-peak
			b.ReportMetric(float64(p[0])/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(p[1])/(1<<20), "peak-live-MB")
		})
	}
}

// benchPage fetches one full page (5000 findings, default facets) as the
// simulator sends it.
func benchPage(b *testing.B) []byte {
	b.Helper()
	c, _ := startSimChild(b, MaxPageSize)
	var buf bytes.Buffer
	p := spotlight_vulnerabilities.NewCombinedQueryVulnerabilitiesParamsWithContext(context.Background())
	p.Filter, p.Facet, p.Limit = matchAllFindings, DefaultFindingFacets, ptr(int64(MaxPageSize))
	if err := c.submitRaw(context.Background(), OpCombinedFindings, "combinedQueryVulnerabilities", "GET",
		"/spotlight/combined/vulnerabilities/v1", p, "", &buf); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkDecode compares the decoders on the same page bytes: the lean
// decoder (DecodeFindingsPage, the "decode floor" of the stream), encoding/json
// into minimal structs, and gofalcon's models (what the naive loop pays).
func BenchmarkDecode(b *testing.B) {
	page := benchPage(b)
	n, _, _, err := DecodeFindingsPage(bytes.NewReader(page))
	if err != nil || len(n) != MaxPageSize {
		b.Fatalf("page: %d findings, %v", len(n), err)
	}
	var bad atomic.Int64
	for _, bc := range []struct {
		name   string
		decode func() (int, error)
	}{
		{"lean-floor", func() (int, error) {
			fs, _, _, err := DecodeFindingsPage(bytes.NewReader(page))
			return len(fs), err
		}},
		{"encoding-json", func() (int, error) {
			fs, _, err := decodeFindingsPageStd(page, &bad)
			return len(fs), err
		}},
		{"gofalcon-models", func() (int, error) {
			var m models.DomainSPAPICombinedVulnerabilitiesResponse
			if err := json.Unmarshal(page, &m); err != nil {
				return 0, err
			}
			out := make([]Finding, len(m.Resources))
			for i, r := range m.Resources {
				out[i] = findingFromModel(r, &bad)
			}
			return len(out), nil
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(page)))
			var total int
			for b.Loop() {
				k, err := bc.decode()
				if err != nil {
					b.Fatal(err)
				}
				total += k
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "findings/s")
		})
	}
}
