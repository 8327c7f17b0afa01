package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/governance"
	"github.com/vulnpilot/vulnpilot/internal/snapshot"
	"github.com/vulnpilot/vulnpilot/prompts"
	"github.com/vulnpilot/vulnpilot/tools"
)

func (s *Server) addResources() {
	s.mcp.AddResource(mcp.NewResource(URIFQLGuide, "FQL guide",
		mcp.WithResourceDescription("How to write filters for vulnpilot's risk tools and the falcon tools: syntax, every field, recipes."),
		mcp.WithMIMEType("text/markdown")),
		func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			text, err := fqlGuide()
			if err != nil {
				return nil, err
			}
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: URIFQLGuide, MIMEType: "text/markdown", Text: text}}, nil
		})
	s.mcp.AddResource(mcp.NewResource(URIPolicy, "Active risk policy",
		mcp.WithResourceDescription("The risk policy the engine scores with: signal weights, multipliers, tiers and SLAs, escalations (YAML). Needs risk:read."),
		mcp.WithMIMEType("application/yaml")),
		func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			if err := s.authorizeResource(ctx, URIPolicy); err != nil {
				return nil, err
			}
			text := "# policy: " + s.opts.PolicyLabel + "\n" + string(s.opts.PolicyYAML)
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: URIPolicy, MIMEType: "application/yaml", Text: text}}, nil
		})
	if s.opts.Snapshots != nil {
		s.mcp.AddResource(mcp.NewResource(URISummary, "Tenant summary",
			mcp.WithResourceDescription("The assessed tenant at a glance: findings, hosts, CVEs, work items by tier, top business units and platforms, data sources, snapshot history (JSON). Needs risk:read."),
			mcp.WithMIMEType("application/json")),
			func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
				if err := s.authorizeResource(ctx, URISummary); err != nil {
					return nil, err
				}
				text, err := s.tenantSummary()
				if err != nil {
					return nil, err
				}
				return []mcp.ResourceContents{mcp.TextResourceContents{URI: URISummary, MIMEType: "application/json", Text: text}}, nil
			})
	}
}

func (s *Server) authorizeResource(ctx context.Context, uri string) error {
	id, _ := governance.IdentityFrom(ctx)
	if err := governance.Authorize(id, "resource "+uri, governance.RiskRead); err != nil {
		s.log.InfoContext(ctx, "resource read denied", "resource", uri, "identity", id.Name, "role", id.Role)
		return err
	}
	return nil
}

// maxSummaryGroups bounds the business-unit and platform lists.
const maxSummaryGroups = 25

func (s *Server) tenantSummary() (string, error) {
	st, err := s.opts.Snapshots.Current()
	if err != nil {
		return "", err
	}
	sum := st.Snap.Summary()
	out := map[string]any{
		"assessed_at": sum.AssessedAt, "loaded_at": st.Loaded, "findings": sum.Findings, "suppressed": sum.Suppressed,
		"hosts": sum.Hosts, "cves": sum.CVEs, "work_items": sum.Items, "overdue_findings": sum.Overdue,
		"kev_findings": sum.KEVFindings, "alerted_findings": sum.ThreatActive, "by_tier": sum.ByTier,
		"by_business_unit": capGroups(sum.ByBU), "business_units_total": len(sum.ByBU),
		"by_platform": capGroups(sum.ByPlatform), "sources": sum.Sources, "notes": sum.Notes,
		"history": s.opts.Snapshots.History(8),
	}
	b, err := json.MarshalIndent(out, "", "  ")
	return string(b), err
}

func capGroups(gs []snapshot.Group) []snapshot.Group {
	if len(gs) > maxSummaryGroups {
		gs = gs[:maxSummaryGroups]
	}
	out := make([]snapshot.Group, len(gs))
	for i, g := range gs {
		g.Name = tools.CleanText(g.Name, 80)
		out[i] = g
	}
	return out
}

// fqlGuide is the static guide plus field tables generated from the
// schemas the tools actually check against.
func fqlGuide() (string, error) {
	text, file, err := prompts.Guide("fql")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(strings.TrimSpace(text))
	fmt.Fprintf(&b, "\n\n## Fields of the risk tools\n\n| Field | Kind | Wildcard | Range | Computed | Meaning | Example |\n|---|---|---|---|---|---|---|\n")
	for _, f := range snapshot.FindingFields() {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | `%s` |\n", f.Name, f.Kind, yes(f.Wildcard), yes(f.Range), yes(f.Computed), f.Doc, f.Example)
	}
	for _, ep := range []struct{ tool, op string }{
		{"falcon_search_vulnerabilities", falcon.OpCombinedFindings},
		{"falcon_search_hosts", falcon.OpQueryHosts},
		{"falcon_search_alerts", falcon.OpQueryAlerts},
	} {
		fmt.Fprintf(&b, "\n## Fields of %s\n\n%s\n", ep.tool, "`"+strings.Join(falcon.FilterFields(ep.op), "`, `")+"`")
	}
	fmt.Fprintf(&b, "\n<!-- %s -->\n", file)
	return b.String(), nil
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}
