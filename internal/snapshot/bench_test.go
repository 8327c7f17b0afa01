package snapshot

import (
	"context"
	"testing"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/falconsim"
	"github.com/vulnpilot/vulnpilot/internal/localfalcon"
)

// BenchmarkAddFinish measures the client-side work per finding after
// decoding: interning (Add), then enrichment, scoring and planning (Finish
// without Falcon look-ups), on findings pulled once from a 2,000-host
// simulated tenant.
func BenchmarkAddFinish(b *testing.B) {
	ctx := context.Background()
	conn, err := localfalcon.StartGenerated(ctx, falconsim.GenerateOptions{Hosts: 2000, Seed: 1, FindingsPerHost: 50}, localfalcon.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var findings []falcon.Finding
	err = conn.Client.StreamFindings(ctx, falcon.FindingQuery{Filter: "status:['open','reopen']", Parallel: 1}, func(f *falcon.Finding) error {
		findings = append(findings, *f)
		return nil
	})
	conn.Close()
	if err != nil {
		b.Fatal(err)
	}
	opts := testOptions(b, conn.Tenant.Now)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bl, err := NewBuilder(opts)
		if err != nil {
			b.Fatal(err)
		}
		for i := range findings {
			bl.Add(&findings[i])
		}
		if _, err := bl.Finish(ctx, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(findings)), "ns/finding")
}
