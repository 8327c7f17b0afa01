package falcon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/crowdstrike/gofalcon/falcon/client/spotlight_vulnerabilities"
	oaruntime "github.com/go-openapi/runtime"
	"github.com/go-openapi/strfmt"
)

// Spotlight paging limits.
const (
	maxShards   = 4096 // bounds the shard list (and the PageError cursors)
	MaxPageSize = 5000 // combinedQueryVulnerabilities' maximum limit
	// maxGetFindings is getVulnerabilities' maximum number of ids.
	maxGetFindings = 400
)

// FindingFacets are the facets Spotlight can add to a finding.
var FindingFacets = []string{"cve", "host_info", "remediation", "evaluation_logic"}

// DefaultFindingFacets are the facets a FindingQuery asks for by default.
var DefaultFindingFacets = []string{"cve", "host_info", "remediation"}

// FindingQuery selects the findings to stream.
type FindingQuery struct {
	// Filter is an FQL filter (build it with internal/fql; fields in
	// FilterFields(OpCombinedFindings)). Empty means every finding (sent as
	// created_timestamp:>='1970-01-01T00:00:00Z': Spotlight requires a
	// filter).
	Filter string
	// Facets default to DefaultFindingFacets.
	Facets []string
	// Sort, e.g. "updated_timestamp|asc", makes the stream sequential (one
	// shard) so that the order holds.
	Sort string
	// PageSize is the per-request limit, 1..5000 (default 5000).
	PageSize int
	// Parallel is the number of shards fetched at once (default
	// 2×GOMAXPROCS). 1 streams the filter sequentially without sharding.
	Parallel int
	// After resumes the exact query Filter at a cursor (from a PageError, a
	// PageInfo or a Page); the stream is then sequential.
	After string
	// Resume continues several cursors at once, e.g. PageError.Pending.
	// Filter and After must be empty when it is set.
	Resume []Cursor
	// OnPage, when set, is called after each page has been delivered, on
	// the goroutine that calls fn.
	OnPage func(PageInfo)
}

// PageInfo reports progress after each delivered page.
type PageInfo struct {
	Shard  int    // shard index
	Shards int    // number of shards
	Filter string // the shard's complete filter
	After  string // cursor the page was fetched with
	Next   string // the shard's next cursor; empty when the shard is done
	Count  int    // findings in this page
	// Total is the shard's share of the stream: the latest Total of every
	// shard adds up to the findings streamed (a shard split while streaming
	// reports just the page it kept; its parts report the rest).
	Total     int64
	Delivered int64 // findings delivered by the stream so far, this page included
}

// Page is one page of findings, for cursor-driven callers (MCP tools).
type Page struct {
	Findings []Finding
	After    string // cursor of the next page; empty when there is none
	Total    int64  // findings matching the filter
}

func (q *FindingQuery) normalize() error {
	var errs []error
	if len(q.Facets) == 0 {
		q.Facets = DefaultFindingFacets
	}
	for _, f := range q.Facets {
		if !slices.Contains(FindingFacets, f) {
			errs = append(errs, fmt.Errorf("falcon: FindingQuery.Facets: %q is not one of %s", f, strings.Join(FindingFacets, ", ")))
		}
	}
	switch {
	case q.PageSize == 0:
		q.PageSize = MaxPageSize
	case q.PageSize < 0 || q.PageSize > MaxPageSize:
		errs = append(errs, fmt.Errorf("falcon: FindingQuery.PageSize %d: allowed 1..%d (0 means %d)", q.PageSize, MaxPageSize, MaxPageSize))
	}
	switch {
	case q.Parallel == 0:
		q.Parallel = 2 * runtime.GOMAXPROCS(0)
	case q.Parallel < 0 || q.Parallel > 64:
		errs = append(errs, fmt.Errorf("falcon: FindingQuery.Parallel %d: allowed 1..64 (0 means 2×GOMAXPROCS)", q.Parallel))
	}
	if len(q.Resume) > 0 && (q.Filter != "" || q.After != "") {
		errs = append(errs, errors.New("falcon: FindingQuery.Resume carries its own filters and cursors: leave Filter and After empty"))
	}
	return errors.Join(errs...)
}

// StreamFindings calls fn for every finding matching q, on the calling
// goroutine, one at a time. fn may keep the *Finding it is given; the
// slices inside a finding's facets (a CVE's references, a host's tags) are
// shared with other findings of the same CVE or host, so treat them as
// read-only.
//
// For speed the query is split into disjoint created_timestamp ranges
// (shards) fetched concurrently, each with its own cursor; the order of
// findings across shards is therefore not defined (set Sort, or Parallel 1,
// for Falcon's order). Memory is bounded by about 1.5×Parallel+1 pages
// plus fixed-size caches, whatever the tenant's size.
//
// A page that arrives truncated or invalid is fetched again with the same
// cursor (Config.PageRetries); if it stays bad, or a shard fails with a
// transport error, rate limiting or a server error after retries, the
// stream stops with a *PageError whose cursors resume exactly after what
// was delivered. An error returned by fn stops the stream and is returned
// as is.
func (c *Client) StreamFindings(ctx context.Context, q FindingQuery, fn func(*Finding) error) error {
	if err := q.normalize(); err != nil {
		return err
	}
	shards, err := c.planShards(ctx, q)
	if err != nil {
		return err
	}
	if len(shards) == 0 {
		return nil
	}
	return c.runShards(ctx, q, shards, fn)
}

// matchAllFindings stands in for an empty filter: Spotlight's query
// endpoints require one.
const matchAllFindings = "created_timestamp:>='1970-01-01T00:00:00Z'"

func orMatchAll(filter string) string {
	if strings.TrimSpace(filter) == "" {
		return matchAllFindings
	}
	return filter
}

// errStopIter ends a stream when an iterator's consumer breaks out.
var errStopIter = errors.New("falcon: iteration stopped")

// Findings is StreamFindings as an iterator. A failure is yielded once, as
// the last element, with a nil *Finding.
func (c *Client) Findings(ctx context.Context, q FindingQuery) iter.Seq2[*Finding, error] {
	return func(yield func(*Finding, error) bool) {
		err := c.StreamFindings(ctx, q, func(f *Finding) error {
			if !yield(f, nil) {
				return errStopIter
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopIter) {
			yield(nil, err)
		}
	}
}

// invalidPageError marks a page that was truncated or not valid JSON.
type invalidPageError struct{ err error }

func (e *invalidPageError) Error() string { return "invalid page: " + e.err.Error() }
func (e *invalidPageError) Unwrap() error { return e.err }

// fetchFindingsPageRetry fetches one page, fetching it again (same cursor)
// while it arrives truncated or invalid.
func (c *Client) fetchFindingsPageRetry(ctx context.Context, dec *findingsDecoder, buf *bytes.Buffer,
	filter string, facets []string, sort string, limit int, after string) ([]Finding, pageMeta, int, error) {
	retries := c.cfg.pageRetries()
	for attempt := 1; ; attempt++ {
		fs, meta, err := c.fetchFindingsPage(ctx, dec, buf, filter, facets, sort, limit, after)
		if err == nil && meta.After != "" && meta.After == after && len(fs) > 0 {
			err = &invalidPageError{errors.New("the after cursor did not advance")}
		}
		var ip *invalidPageError
		if err == nil || !errors.As(err, &ip) || attempt > retries || ctx.Err() != nil {
			return fs, meta, attempt, err
		}
		c.stats.pageRetries.Add(1)
		c.log.LogAttrs(ctx, slog.LevelDebug, "falcon: fetching an invalid findings page again",
			slog.String("error", err.Error()), slog.Int("attempt", attempt))
		if err := c.sleep(ctx, c.backoff(attempt-1)); err != nil {
			return nil, pageMeta{}, attempt, err
		}
	}
}

// fetchFindingsPage fetches one combinedQueryVulnerabilities page through
// gofalcon's authenticated transport with a raw reader, then decodes it with
// the lean decoder. gofalcon's typed method cannot be used here: it panics
// when a custom reader returns anything but its own model type.
func (c *Client) fetchFindingsPage(ctx context.Context, dec *findingsDecoder, buf *bytes.Buffer,
	filter string, facets []string, sort string, limit int, after string) ([]Finding, pageMeta, error) {
	params := spotlight_vulnerabilities.NewCombinedQueryVulnerabilitiesParamsWithContext(ctx)
	params.Filter = orMatchAll(filter)
	params.Facet = facets
	if limit > 0 {
		l := int64(limit)
		params.Limit = &l
	}
	if after != "" {
		params.After = &after
	}
	if sort != "" {
		params.Sort = &sort
	}
	if err := c.submitRaw(ctx, OpCombinedFindings, "combinedQueryVulnerabilities", "GET",
		"/spotlight/combined/vulnerabilities/v1", params, filter, buf); err != nil {
		return nil, pageMeta{}, err
	}
	return c.decodeFindings(dec, buf, limit)
}

func (c *Client) decodeFindings(dec *findingsDecoder, buf *bytes.Buffer, capHint int) ([]Finding, pageMeta, error) {
	fs, meta, err := dec.decode(buf.Bytes(), make([]Finding, 0, max(capHint, 0)))
	if err != nil {
		return nil, pageMeta{}, &invalidPageError{err}
	}
	if !meta.HasResources && len(meta.Errors) == 0 {
		return nil, pageMeta{}, &invalidPageError{errors.New("the response has no resources")}
	}
	if len(meta.Errors) > 0 && len(fs) == 0 {
		return nil, pageMeta{}, c.newAPIError(OpCombinedFindings, 200, meta.Errors, meta.TraceID, "")
	}
	return fs, meta, nil
}

// submitRaw sends an operation through gofalcon's transport and leaves a
// 200 body in buf; other statuses become *APIError.
func (c *Client) submitRaw(ctx context.Context, op, id, method, path string, params oaruntime.ClientRequestWriter, filter string, buf *bytes.Buffer) error {
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	// go-openapi's runtime takes the request context through SubmitContext.
	ct, ok := c.api.Transport.(oaruntime.ContextualTransport)
	if !ok {
		return fmt.Errorf("falcon: gofalcon transport %T cannot carry a request context", c.api.Transport)
	}
	_, err := ct.SubmitContext(ctx, &oaruntime.ClientOperation{
		ID:                 id,
		Method:             method,
		PathPattern:        path,
		ProducesMediaTypes: []string{"application/json"},
		ConsumesMediaTypes: []string{"application/json"},
		Schemes:            []string{"https"},
		Params:             params,
		Reader:             &rawReader{c: c, op: op, filter: filter, buf: buf},
	})
	if err != nil {
		var ip *invalidPageError
		if errors.As(err, &ip) {
			return err
		}
		return c.wrapErr(op, filter, err)
	}
	return nil
}

// rawReader keeps a 200 body as bytes and turns anything else into an
// *APIError.
type rawReader struct {
	c      *Client
	op     string
	filter string
	buf    *bytes.Buffer
}

func (r *rawReader) ReadResponse(resp oaruntime.ClientResponse, _ oaruntime.Consumer) (any, error) {
	body := resp.Body()
	if resp.Code() != 200 {
		b, _ := io.ReadAll(io.LimitReader(body, 64<<10))
		eb := parseErrorBody(b)
		trace := resp.GetHeader("X-Cs-Traceid")
		if trace == "" {
			trace = eb.Meta.TraceID
		}
		return nil, r.c.newAPIError(r.op, resp.Code(), eb.Errors, trace, r.filter)
	}
	r.buf.Reset()
	if n, err := strconv.Atoi(resp.GetHeader("Content-Length")); err == nil && n > 0 && n < 1<<30 {
		r.buf.Grow(n + bytes.MinRead) // one allocation instead of doubling
	}
	if _, err := r.buf.ReadFrom(body); err != nil {
		// The connection broke mid-body: a truncated page.
		return nil, &invalidPageError{err}
	}
	return r.buf, nil
}

// FindingsPage fetches one page: filter and sort as in FindingQuery, facets
// comma-separated (empty means DefaultFindingFacets), limit 1..5000 (0 means
// 100), after the cursor from the previous Page.
func (c *Client) FindingsPage(ctx context.Context, filter, facets, sort string, limit int, after string) (Page, error) {
	var fs []string
	for f := range strings.SplitSeq(facets, ",") {
		if f = strings.TrimSpace(f); f != "" {
			fs = append(fs, f)
		}
	}
	if limit == 0 {
		limit = 100
	}
	q := FindingQuery{Filter: filter, Facets: fs, PageSize: limit, Parallel: 1}
	if err := q.normalize(); err != nil {
		return Page{}, err
	}
	dec := newFindingsDecoder(&c.stats.badTimestamps, nil)
	var buf bytes.Buffer
	found, meta, _, err := c.fetchFindingsPageRetry(ctx, dec, &buf, filter, q.Facets, sort, q.PageSize, after)
	if err != nil {
		return Page{}, err
	}
	p := Page{Findings: found, After: meta.After, Total: meta.Total}
	if len(found) == 0 {
		p.After = ""
	}
	return p, nil
}

// GetFindings fetches findings by id (getVulnerabilities, 400 ids per
// request). facets, when given, are sent as the facet parameter; the
// entities endpoint returns its full records either way.
func (c *Client) GetFindings(ctx context.Context, ids []string, facets []string) ([]Finding, error) {
	for _, f := range facets {
		if !slices.Contains(FindingFacets, f) {
			return nil, fmt.Errorf("falcon: GetFindings facets: %q is not one of %s", f, strings.Join(FindingFacets, ", "))
		}
	}
	ids = dedupe(ids)
	dec := newFindingsDecoder(&c.stats.badTimestamps, nil)
	var buf bytes.Buffer
	out := make([]Finding, 0, len(ids))
	for batch := range slices.Chunk(ids, maxGetFindings) {
		params := spotlight_vulnerabilities.NewGetVulnerabilitiesParamsWithContext(ctx)
		params.Ids = batch
		writer := oaruntime.ClientRequestWriterFunc(func(r oaruntime.ClientRequest, reg strfmt.Registry) error {
			if err := params.WriteToRequest(r, reg); err != nil {
				return err
			}
			if len(facets) > 0 {
				return r.SetQueryParam("facet", facets...)
			}
			return nil
		})
		var fs []Finding
		err := c.retryPage(ctx, func() error {
			if err := c.submitRaw(ctx, OpGetFindings, "getVulnerabilities", "GET",
				"/spotlight/entities/vulnerabilities/v2", writer, "", &buf); err != nil {
				return err
			}
			var err error
			fs, _, err = c.decodeFindings(dec, &buf, len(batch))
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

// retryPage runs fetch again while it fails with an invalid page.
func (c *Client) retryPage(ctx context.Context, fetch func() error) error {
	retries := c.cfg.pageRetries()
	for attempt := 1; ; attempt++ {
		err := fetch()
		var ip *invalidPageError
		if err == nil || !errors.As(err, &ip) || attempt > retries || ctx.Err() != nil {
			return err
		}
		c.stats.pageRetries.Add(1)
		if err := c.sleep(ctx, c.backoff(attempt-1)); err != nil {
			return err
		}
	}
}

// dedupe drops empty and repeated ids, keeping the first occurrence.
func dedupe(ids []string) []string {
	seen := make(map[string]struct{}, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id == "" {
			continue
		}
		if _, ok := seen[id]; ok {
			continue
		}
		seen[id] = struct{}{}
		out = append(out, id)
	}
	return out
}
