package mcpserver

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vulnpilot/vulnpilot/internal/falconsim"
	"github.com/vulnpilot/vulnpilot/internal/governance"
	"github.com/vulnpilot/vulnpilot/internal/localfalcon"
	"github.com/vulnpilot/vulnpilot/internal/risk"
	"github.com/vulnpilot/vulnpilot/tools"
)

// Benchmarks on a ~100,000-finding simulated tenant (4,400 hosts, about 23 open
// findings on average), loaded once per test binary. Run them with
//
//	go test -run '^$' -bench 'MCP' -benchtime 1x ./internal/mcpserver
//
// Latencies are reported as custom metrics (p50-ms, p99-ms); timed
// assertions have no place in tests, so the targets are read off these.

type bigTenant struct {
	conn     *localfalcon.Conn
	snaps    *tools.Snapshots
	srv      *Server
	tokens   *governance.Tokens
	token    string
	findings int
	items    []string
	bus      []string
	load     time.Duration
}

var (
	bigOnce sync.Once
	bigT    *bigTenant
	bigErr  error
)

func loadBig(b *testing.B) *bigTenant {
	b.Helper()
	bigOnce.Do(func() {
		t0 := time.Now()
		ctx := context.Background()
		conn, err := localfalcon.StartGenerated(ctx, falconsim.GenerateOptions{Hosts: 4400, Seed: 99, FindingsPerHost: 25}, localfalcon.Options{})
		if err != nil {
			bigErr = err
			return
		}
		build, err := buildFunc(conn)
		if err != nil {
			bigErr = err
			return
		}
		snaps := tools.NewSnapshots(build, nil)
		if bigErr = snaps.Refresh(ctx); bigErr != nil {
			return
		}
		metrics := NewMetrics(snaps)
		reg, err := tools.New(tools.Deps{Falcon: conn.Client, Snapshots: snaps}, tools.Options{Observer: metrics})
		if err != nil {
			bigErr = err
			return
		}
		srv, err := New(Options{Registry: reg, Snapshots: snaps, PolicyYAML: risk.DefaultPolicyYAML(), Version: "bench", Metrics: metrics})
		if err != nil {
			bigErr = err
			return
		}
		roles, _ := governance.NewRoles(nil)
		tok, _ := governance.NewToken()
		tokens, err := governance.NewTokens(roles, []governance.TokenEntry{{Name: "bench", Role: governance.RoleAnalyst, SHA256: governance.HashToken(tok)}})
		if err != nil {
			bigErr = err
			return
		}
		st, _ := snaps.Current()
		bt := &bigTenant{conn: conn, snaps: snaps, srv: srv, tokens: tokens, token: tok, findings: st.Snap.Summary().Findings, load: time.Since(t0)}
		for _, it := range st.Snap.Items()[:200] {
			bt.items = append(bt.items, it.Key)
		}
		for _, g := range st.Snap.Summary().ByBU {
			bt.bus = append(bt.bus, g.Name)
		}
		bigT = bt
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigT
}

// prioritizeMix is what a model asks risk_prioritize: the whole queue, a
// tier, a business unit, a platform with a score floor, the next page.
func prioritizeMix(bt *bigTenant) []map[string]any {
	mix := []map[string]any{
		{},
		{"limit": 20},
		{"filter": "tier:'P1'"},
		{"filter": "tier:['P1','P2']+overdue:true"},
		{"filter": "host_info.platform_name:'Linux'+score:>=40", "limit": 20},
		{"filter": "kev:true"},
		{"filter": "host_info.internet_exposure:'Yes'+host_info.asset_criticality:['Critical','High']"},
	}
	for _, bu := range bt.bus[:min(3, len(bt.bus))] {
		mix = append(mix, map[string]any{"filter": "business_unit:'" + bu + "'"})
	}
	return mix
}

func percentile(d []time.Duration, p float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return float64(s[i].Microseconds()) / 1000
}

func analystCtx() context.Context {
	roles, _ := governance.NewRoles(nil)
	id, _ := roles.Identity("bench", governance.RoleAnalyst, "test")
	return governance.WithIdentity(context.Background(), id)
}

// BenchmarkMCPRiskPrioritize100k: risk_prioritize through an in-process
// MCP client (JSON-RPC encoding included) on the loaded tenant. Each
// iteration is one call from the mix; "cold" is the first call of each
// filter on a freshly swapped snapshot (empty cache).
func BenchmarkMCPRiskPrioritize100k(b *testing.B) {
	bt := loadBig(b)
	c, err := client.NewInProcessClient(bt.srv.MCP())
	if err != nil {
		b.Fatal(err)
	}
	ctx := analystCtx()
	if err := c.Start(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{}); err != nil {
		b.Fatal(err)
	}
	mix := prioritizeMix(bt)
	call := func(args map[string]any) time.Duration {
		t0 := time.Now()
		res, err := callTool(ctx, c, "risk_prioritize", args)
		d := time.Since(t0)
		if err != nil || res.IsError {
			b.Fatalf("risk_prioritize %v: %v %v", args, err, texts(res))
		}
		return d
	}
	// Cold: swap in the same snapshot again (a refresh), then the first
	// call of every filter computes its selection and queue.
	st, _ := bt.snaps.Current()
	bt.snaps.Set(st.Snap)
	var cold []time.Duration
	for _, args := range mix {
		cold = append(cold, call(args))
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lat = append(lat, call(mix[i%len(mix)]))
	}
	b.StopTimer()
	b.ReportMetric(percentile(lat, 0.50), "p50-ms")
	b.ReportMetric(percentile(lat, 0.99), "p99-ms")
	b.ReportMetric(percentile(cold, 0.50), "cold-p50-ms")
	b.ReportMetric(percentile(cold, 1), "cold-max-ms")
	b.ReportMetric(float64(bt.findings), "findings")
	b.ReportMetric(bt.load.Seconds(), "load-s")
}

// BenchmarkMCPHTTPSessions: 50 concurrent streamable-HTTP sessions, each
// making 200 calls (risk tools mostly, one live Falcon look-up in ten)
// with bearer authentication. Any failed call fails the benchmark.
func BenchmarkMCPHTTPSessions(b *testing.B) {
	const sessions, calls = 50, 200
	bt := loadBig(b)
	h, err := bt.srv.Handler(HTTPOptions{Addr: "127.0.0.1:0", Tokens: bt.tokens})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	st, _ := bt.snaps.Current()
	aid := st.Snap.Items()[0].Hosts[0].AID
	mix := prioritizeMix(bt)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		clients := make([]*client.Client, sessions)
		for i := range clients {
			clients[i] = httpClient(b, ts.URL+PathMCP, bt.token)
		}
		var mu sync.Mutex
		var lat []time.Duration
		var errs []string
		var wg sync.WaitGroup
		t0 := time.Now()
		for s, c := range clients {
			wg.Go(func() {
				local := make([]time.Duration, 0, calls)
				for i := range calls {
					var name string
					var args map[string]any
					switch k := (s + i) % 10; {
					case k < 5:
						name, args = "risk_prioritize", mix[(s+i)%len(mix)]
					case k == 5:
						name, args = "risk_explain", map[string]any{"id": bt.items[(s*calls+i)%len(bt.items)]}
					case k == 6:
						name, args = "risk_threat_active", map[string]any{"limit": 5}
					case k == 7:
						name, args = "risk_exposure_summary", map[string]any{"group_by": "platform"}
					case k == 8:
						name, args = "risk_prioritize", map[string]any{"limit": 5, "filter": "tier:'P2'"}
					default:
						name, args = "falcon_get_host", map[string]any{"id": aid}
					}
					c0 := time.Now()
					res, err := callTool(context.Background(), c, name, args)
					local = append(local, time.Since(c0))
					if err != nil || res.IsError {
						mu.Lock()
						errs = append(errs, fmt.Sprintf("%s: %v %v", name, err, texts(res)))
						mu.Unlock()
					}
				}
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			})
		}
		wg.Wait()
		wall := time.Since(t0)
		for _, c := range clients {
			c.Close()
		}
		if len(errs) > 0 {
			b.Fatalf("%d of %d calls failed, first: %s", len(errs), sessions*calls, errs[0])
		}
		b.ReportMetric(float64(sessions*calls)/wall.Seconds(), "calls/s")
		b.ReportMetric(percentile(lat, 0.50), "p50-ms")
		b.ReportMetric(percentile(lat, 0.99), "p99-ms")
		b.ReportMetric(0, "errors")
	}
}
