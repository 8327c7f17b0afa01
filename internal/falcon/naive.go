package falcon

import (
	"context"

	"github.com/crowdstrike/gofalcon/falcon/client/spotlight_vulnerabilities"
)

// NaiveStreamFindings is the comparison baseline for StreamFindings, kept
// for benchmarks and as a cross-check of the lean decoder: the obvious loop
// over gofalcon's typed CombinedQueryVulnerabilities (limit 5000, one page
// after another, go-openapi's full model decode and validation, then models
// → Finding). It has no sharding and no page retries. Use StreamFindings.
func (c *Client) NaiveStreamFindings(ctx context.Context, filter string, facets []string, fn func(*Finding) error) error {
	if len(facets) == 0 {
		facets = DefaultFindingFacets
	}
	var after *string
	for {
		pctx, cancel := c.withDeadline(ctx)
		pctx, capt := withCapture(pctx)
		p := spotlight_vulnerabilities.NewCombinedQueryVulnerabilitiesParamsWithContext(pctx)
		p.Filter = orMatchAll(filter)
		p.Facet = facets
		p.Limit = ptr(int64(MaxPageSize))
		p.After = after
		res, err := c.api.SpotlightVulnerabilities.CombinedQueryVulnerabilities(p)
		cancel()
		if err != nil {
			return c.wrapErrCapture(OpCombinedFindings, filter, err, capt)
		}
		if res.Payload == nil || len(res.Payload.Resources) == 0 {
			return nil
		}
		for _, m := range res.Payload.Resources {
			f := findingFromModel(m, &c.stats.badTimestamps)
			if err := fn(&f); err != nil {
				return err
			}
		}
		meta := res.Payload.Meta
		if meta == nil || meta.Pagination == nil || str(meta.Pagination.After) == "" {
			return nil
		}
		after = meta.Pagination.After
	}
}
