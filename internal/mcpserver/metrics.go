package mcpserver

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vulnpilot/vulnpilot/tools"
)

// Metrics are the server's Prometheus metrics, in their own registry (no
// global state): per-tool calls, errors and latency, refused HTTP requests
// and the snapshot's freshness. It implements tools.Observer.
type Metrics struct {
	reg          *prometheus.Registry
	calls        *prometheus.CounterVec
	errors       *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	unauthorized *prometheus.CounterVec
}

// NewMetrics registers the metrics; snaps may be nil.
func NewMetrics(snaps *tools.Snapshots) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vulnpilot_mcp_tool_calls_total", Help: "Tool calls by tool and outcome (ok or an error kind).",
		}, []string{"tool", "outcome"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vulnpilot_mcp_tool_errors_total", Help: "Tool calls that ended in a tool error, by tool and kind.",
		}, []string{"tool", "kind"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vulnpilot_mcp_tool_duration_seconds", Help: "Tool call latency by tool.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"tool"}),
		unauthorized: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vulnpilot_mcp_http_refused_total", Help: "HTTP requests refused before reaching MCP, by reason.",
		}, []string{"reason"}),
	}
	m.reg.MustRegister(m.calls, m.errors, m.latency, m.unauthorized,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if snaps != nil {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "vulnpilot_snapshot_loaded_age_seconds", Help: "Seconds since the served risk snapshot was loaded (-1 before the first).",
			}, func() float64 {
				st := snaps.Status()
				if !st.Ready {
					return -1
				}
				return time.Since(st.Loaded).Seconds()
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "vulnpilot_snapshot_findings", Help: "Open findings in the served risk snapshot.",
			}, func() float64 { return float64(snaps.Status().Findings) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "vulnpilot_snapshot_refresh_failing", Help: "1 when the last snapshot refresh failed.",
			}, func() float64 {
				if snaps.Status().LastError != "" {
					return 1
				}
				return 0
			}),
		)
	}
	return m
}

// ObserveCall implements tools.Observer.
func (m *Metrics) ObserveCall(tool, outcome string, d time.Duration) {
	if outcome == tools.KindUnknownTool {
		tool = "_unknown" // caller-chosen names must not become label values
	}
	m.calls.WithLabelValues(tool, outcome).Inc()
	if outcome != "ok" {
		m.errors.WithLabelValues(tool, outcome).Inc()
	}
	m.latency.WithLabelValues(tool).Observe(d.Seconds())
}

func (m *Metrics) refused(reason string) { m.unauthorized.WithLabelValues(reason).Inc() }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry exposes the Prometheus registry (tests, extra collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }
