package falcon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/crowdstrike/gofalcon/falcon/client/alerts"
	"github.com/crowdstrike/gofalcon/falcon/client/hosts"
	"github.com/crowdstrike/gofalcon/falcon/client/intel"
	"github.com/crowdstrike/gofalcon/falcon/client/spotlight_vulnerabilities"
	"github.com/crowdstrike/gofalcon/falcon/models"
	"github.com/vulnpilot/vulnpilot/internal/fql"
)

// Per-request maxima of the entity endpoints.
const (
	maxHostIDs        = 5000 // PostDeviceDetailsV2
	maxHostQueryLimit = 5000 // QueryDevicesByFilter
	maxAlertIDs       = 1000 // alerts GetV2
	maxAlertLimit     = 10000
	maxIntelIDs       = 500 // intel GetVulnerabilities / CVEs per FQL query
	maxRemediationIDs = 500 // getRemediationsV2 (ids in the query string)

	maxCachedRemediations = 200_000
)

func ptr[T any](v T) *T { return &v }

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func checkPaging(what string, limit, offset, maxLimit int) error {
	var errs []error
	if limit < 0 || limit > maxLimit {
		errs = append(errs, fmt.Errorf("falcon: %s limit %d: allowed 1..%d (0 means the API default)", what, limit, maxLimit))
	}
	if offset < 0 {
		errs = append(errs, fmt.Errorf("falcon: %s offset %d: must be >= 0", what, offset))
	}
	return errors.Join(errs...)
}

func isNotFound(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound
}

// ---- Hosts ----

// QueryHosts returns the aids of hosts matching an FQL filter (see
// FilterFields(OpQueryHosts)), sorted e.g. "hostname.asc", and the total.
func (c *Client) QueryHosts(ctx context.Context, filter, sort string, limit, offset int) (ids []string, total int64, err error) {
	if err := checkPaging("QueryHosts", limit, offset, maxHostQueryLimit); err != nil {
		return nil, 0, err
	}
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	ctx, capt := withCapture(ctx)
	p := hosts.NewQueryDevicesByFilterParamsWithContext(ctx)
	p.Filter, p.Sort = optional(filter), optional(sort)
	if limit > 0 {
		p.Limit = ptr(int64(limit))
	}
	if offset > 0 {
		p.Offset = ptr(int64(offset))
	}
	res, err := c.api.Hosts.QueryDevicesByFilter(p)
	if err != nil {
		return nil, 0, c.wrapErrCapture(OpQueryHosts, filter, err, capt)
	}
	return queryResult(res.Payload)
}

func queryResult(p *models.MsaQueryResponse) ([]string, int64, error) {
	if p == nil {
		return nil, 0, nil
	}
	var total int64
	if p.Meta != nil && p.Meta.Pagination != nil && p.Meta.Pagination.Total != nil {
		total = *p.Meta.Pagination.Total
	}
	return p.Resources, total, nil
}

// GetHosts returns the device records of aids (PostDeviceDetailsV2, 5000
// per request). Unknown aids are left out.
func (c *Client) GetHosts(ctx context.Context, aids []string) ([]Host, error) {
	aids = dedupe(aids)
	out := make([]Host, 0, len(aids))
	for batch := range slices.Chunk(aids, maxHostIDs) {
		bctx, cancel := c.withDeadline(ctx)
		bctx, capt := withCapture(bctx)
		p := hosts.NewPostDeviceDetailsV2ParamsWithContext(bctx)
		p.Body = &models.MsaIdsRequest{Ids: batch}
		res, err := c.api.Hosts.PostDeviceDetailsV2(p)
		cancel()
		if err != nil {
			if err = c.wrapErrCapture(OpGetHosts, "", err, capt); isNotFound(err) {
				continue
			}
			return nil, err
		}
		if res.Payload != nil {
			for _, m := range res.Payload.Resources {
				if m != nil {
					out = append(out, hostFromModel(m, &c.stats.badTimestamps))
				}
			}
		}
	}
	return out, nil
}

// StreamHosts calls fn for every host matching filter, a page of ids at a
// time. Offsets above 10,000 are refused by Falcon's QueryDevicesByFilter;
// narrow the filter for larger fleets.
func (c *Client) StreamHosts(ctx context.Context, filter string, fn func(*Host) error) error {
	const page = maxHostQueryLimit
	for offset := 0; ; {
		ids, total, err := c.QueryHosts(ctx, filter, "", page, offset)
		if err != nil {
			return err
		}
		hs, err := c.GetHosts(ctx, ids)
		if err != nil {
			return err
		}
		for i := range hs {
			if err := fn(&hs[i]); err != nil {
				return err
			}
		}
		offset += len(ids)
		if len(ids) == 0 || int64(offset) >= total {
			return nil
		}
	}
}

// ---- Alerts ----

// QueryAlerts returns the composite ids of alerts matching an FQL filter
// (see FilterFields(OpQueryAlerts)) and the total.
func (c *Client) QueryAlerts(ctx context.Context, filter, sort string, limit, offset int) ([]string, int64, error) {
	if err := checkPaging("QueryAlerts", limit, offset, maxAlertLimit); err != nil {
		return nil, 0, err
	}
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	ctx, capt := withCapture(ctx)
	p := alerts.NewQueryV2ParamsWithContext(ctx)
	p.Filter, p.Sort = optional(filter), optional(sort)
	if limit > 0 {
		p.Limit = ptr(int64(limit))
	}
	if offset > 0 {
		p.Offset = ptr(int64(offset))
	}
	res, err := c.api.Alerts.QueryV2(p)
	if err != nil {
		return nil, 0, c.wrapErrCapture(OpQueryAlerts, filter, err, capt)
	}
	if res.Payload == nil {
		return nil, 0, nil
	}
	var total int64
	if m := res.Payload.Meta; m != nil && m.Pagination != nil && m.Pagination.Total != nil {
		total = *m.Pagination.Total
	}
	return res.Payload.Resources, total, nil
}

// GetAlerts returns alerts by composite id (GetV2, 1000 per request).
// Unknown ids are left out.
func (c *Client) GetAlerts(ctx context.Context, ids []string) ([]Alert, error) {
	ids = dedupe(ids)
	out := make([]Alert, 0, len(ids))
	for batch := range slices.Chunk(ids, maxAlertIDs) {
		bctx, cancel := c.withDeadline(ctx)
		bctx, capt := withCapture(bctx)
		p := alerts.NewGetV2ParamsWithContext(bctx)
		p.Body = &models.DetectsapiPostEntitiesAlertsV2Request{CompositeIds: batch}
		res, err := c.api.Alerts.GetV2(p)
		cancel()
		if err != nil {
			if err = c.wrapErrCapture(OpGetAlerts, "", err, capt); isNotFound(err) {
				continue
			}
			return nil, err
		}
		if res.Payload != nil {
			for _, m := range res.Payload.Resources {
				if m != nil {
					out = append(out, AlertFromModel(m))
				}
			}
		}
	}
	return out, nil
}

// StreamAlerts calls fn for every alert matching filter.
func (c *Client) StreamAlerts(ctx context.Context, filter string, fn func(*Alert) error) error {
	const page = 1000
	for offset := 0; ; {
		ids, total, err := c.QueryAlerts(ctx, filter, "", page, offset)
		if err != nil {
			return err
		}
		as, err := c.GetAlerts(ctx, ids)
		if err != nil {
			return err
		}
		for i := range as {
			if err := fn(&as[i]); err != nil {
				return err
			}
		}
		offset += len(ids)
		if len(ids) == 0 || int64(offset) >= total {
			return nil
		}
	}
}

// ---- Intel ----

// IntelForCVEs returns Falcon Intelligence's records for the given CVE ids,
// keyed by CVE id; CVEs Falcon Intelligence does not cover are absent.
// The query filter is built with internal/fql, so ids cannot inject FQL.
func (c *Client) IntelForCVEs(ctx context.Context, cves []string) (map[string]IntelVuln, error) {
	cves = dedupe(cves)
	out := make(map[string]IntelVuln, len(cves))
	for batch := range slices.Chunk(cves, maxIntelIDs) {
		filter, err := fql.Build(fql.In("cve", batch...))
		if err != nil {
			return nil, fmt.Errorf("falcon: IntelForCVEs: %w", err)
		}
		ids, err := c.queryIntelIDs(ctx, filter, len(batch))
		if err != nil {
			return nil, err
		}
		for idBatch := range slices.Chunk(ids, maxIntelIDs) {
			bctx, cancel := c.withDeadline(ctx)
			bctx, capt := withCapture(bctx)
			p := intel.NewGetVulnerabilitiesParamsWithContext(bctx)
			p.Body = &models.MsaIdsRequest{Ids: idBatch}
			res, err := c.api.Intel.GetVulnerabilities(p)
			cancel()
			if err != nil {
				if err = c.wrapErrCapture(OpGetIntelVulns, "", err, capt); isNotFound(err) {
					continue
				}
				return nil, err
			}
			if res.Payload == nil {
				continue
			}
			for _, m := range res.Payload.Resources {
				if m == nil {
					continue
				}
				v := intelVulnFromModel(m, &c.stats.badTimestamps)
				if v.CVE != "" {
					out[strings.ToUpper(v.CVE)] = v
				}
			}
		}
	}
	// Key by the caller's spelling of each CVE id.
	keyed := make(map[string]IntelVuln, len(out))
	for _, id := range cves {
		if v, ok := out[strings.ToUpper(id)]; ok {
			keyed[id] = v
		}
	}
	return keyed, nil
}

// queryIntelIDs pages through intel QueryVulnerabilities.
func (c *Client) queryIntelIDs(ctx context.Context, filter string, want int) ([]string, error) {
	var ids []string
	for offset := 0; ; {
		bctx, cancel := c.withDeadline(ctx)
		bctx, capt := withCapture(bctx)
		p := intel.NewQueryVulnerabilitiesParamsWithContext(bctx)
		p.Filter = &filter
		p.Limit = ptr(int64(max(want, 1)))
		if offset > 0 {
			p.Offset = ptr(fmt.Sprint(offset))
		}
		res, err := c.api.Intel.QueryVulnerabilities(p)
		cancel()
		if err != nil {
			if err = c.wrapErrCapture(OpQueryIntelVulns, filter, err, capt); isNotFound(err) {
				return ids, nil
			}
			return nil, err
		}
		got, total, _ := queryResult(res.Payload)
		ids = append(ids, got...)
		offset += len(got)
		if len(got) == 0 || int64(offset) >= total {
			return ids, nil
		}
	}
}

// ---- Remediations ----

// GetRemediations returns remediation entities by id (getRemediationsV2),
// keyed by id. Results are cached for the Client's lifetime: remediation
// entities do not change.
func (c *Client) GetRemediations(ctx context.Context, ids []string) (map[string]Remediation, error) {
	ids = dedupe(ids)
	out := make(map[string]Remediation, len(ids))
	var missing []string
	c.remMu.Lock()
	for _, id := range ids {
		if r, ok := c.remediations[id]; ok {
			out[id] = r
		} else {
			missing = append(missing, id)
		}
	}
	c.remMu.Unlock()
	for batch := range slices.Chunk(missing, maxRemediationIDs) {
		bctx, cancel := c.withDeadline(ctx)
		bctx, capt := withCapture(bctx)
		p := spotlight_vulnerabilities.NewGetRemediationsV2ParamsWithContext(bctx)
		p.Ids = batch
		res, err := c.api.SpotlightVulnerabilities.GetRemediationsV2(p)
		cancel()
		if err != nil {
			if err = c.wrapErrCapture(OpGetRemediations, "", err, capt); isNotFound(err) {
				continue
			}
			return nil, err
		}
		if res.Payload == nil {
			continue
		}
		c.remMu.Lock()
		for _, m := range res.Payload.Resources {
			if m == nil {
				continue
			}
			r := remediationFromModel(m, &c.stats.badTimestamps)
			if r.ID == "" {
				continue
			}
			out[r.ID] = r
			if len(c.remediations) >= maxCachedRemediations {
				clear(c.remediations) // bounded: a tenant has far fewer
			}
			c.remediations[r.ID] = r
		}
		c.remMu.Unlock()
	}
	return out, nil
}
