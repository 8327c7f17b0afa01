package falconsim

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"

	"github.com/vulnpilot/vulnpilot/internal/fql"
)

// Spotlight vulnerability filter fields: the exact-match and range fields
// gofalcon's CombinedQueryVulnerabilities documents, plus the few the
// Falcon console documents alongside them (confidence, vulnerability_id,
// apps.remediation.ids, cve.cwes, host_info.managed_by). last_seen_within
// and the cps rating are not simulated.
const (
	sfAID = iota
	sfCID
	sfStatus
	sfConfidence
	sfVulnID
	sfCVEID
	sfCVEKEV
	sfCVERemLevel
	sfCVEExprt
	sfCVEExploit
	sfCVEExploitIncl
	sfCVESeverity
	sfCVEBaseScore
	sfCVETypes
	sfCVECWEs
	sfHostCrit
	sfHostRoles
	sfHostExposure
	sfHostTags
	sfHostGroups
	sfHostProductType
	sfHostPlatform
	sfHostHostname
	sfHostManagedBy
	sfSuppressed
	sfSuppReason
	sfCreated
	sfUpdated
	sfClosed
	sfRemIDs
)

var spotlightSchema = fql.NewSchema(
	fql.Field{Name: "aid"},
	fql.Field{Name: "cid"},
	fql.Field{Name: "status"},
	fql.Field{Name: "confidence"},
	fql.Field{Name: "vulnerability_id"},
	fql.Field{Name: "cve.id"},
	fql.Field{Name: "cve.is_cisa_kev", Kind: fql.Bool},
	fql.Field{Name: "cve.remediation_level"},
	fql.Field{Name: "cve.exprt_rating"},
	fql.Field{Name: "cve.exploit_status", Kind: fql.Number},
	fql.Field{Name: "cve.exploit_status_to_include", Kind: fql.Number},
	fql.Field{Name: "cve.severity"},
	fql.Field{Name: "cve.base_score", Kind: fql.Number, Range: true},
	fql.Field{Name: "cve.types"},
	fql.Field{Name: "cve.cwes"},
	fql.Field{Name: "host_info.asset_criticality"},
	fql.Field{Name: "host_info.asset_roles"},
	fql.Field{Name: "host_info.internet_exposure"},
	fql.Field{Name: "host_info.tags"},
	fql.Field{Name: "host_info.groups"},
	fql.Field{Name: "host_info.product_type_desc"},
	fql.Field{Name: "host_info.platform_name"},
	fql.Field{Name: "host_info.hostname"},
	fql.Field{Name: "host_info.managed_by"},
	fql.Field{Name: "suppression_info.is_suppressed", Kind: fql.Bool},
	fql.Field{Name: "suppression_info.reason"},
	fql.Field{Name: "created_timestamp", Kind: fql.Time, Range: true},
	fql.Field{Name: "updated_timestamp", Kind: fql.Time, Range: true},
	fql.Field{Name: "closed_timestamp", Kind: fql.Time, Range: true},
	fql.Field{Name: "apps.remediation.ids"},
)

type findingCursor struct {
	s *snapshot
	i int32
}

func (c *findingCursor) seek(i int32) { c.i = i }

func strVal(dst []fql.Value, v string) []fql.Value {
	if v == "" {
		return dst
	}
	return append(dst, fql.Value{S: v})
}

func boolVal(dst []fql.Value, v bool) []fql.Value {
	if v {
		return append(dst, fql.Value{S: "true"})
	}
	return append(dst, fql.Value{S: "false"})
}

func strsVal(dst []fql.Value, vs []string) []fql.Value {
	for _, v := range vs {
		dst = append(dst, fql.Value{S: v})
	}
	return dst
}

func (c *findingCursor) Lookup(field int, dst []fql.Value) []fql.Value {
	s := c.s
	f := &s.findings[c.i]
	switch field {
	case sfAID:
		return strVal(dst, s.hosts[f.host].h.AID)
	case sfCID:
		return strVal(dst, s.cid)
	case sfStatus:
		return strVal(dst, findingStatusNames[f.status])
	case sfConfidence:
		if f.potential {
			return strVal(dst, "potential")
		}
		return strVal(dst, "confirmed")
	case sfVulnID, sfCVEID:
		return strVal(dst, s.cves[f.cve].c.ID)
	case sfCVEKEV:
		return boolVal(dst, s.cves[f.cve].c.IsCISAKEV)
	case sfCVERemLevel:
		return strVal(dst, s.cves[f.cve].c.RemediationLevel)
	case sfCVEExprt:
		return strVal(dst, s.cves[f.cve].c.ExprtRating)
	case sfCVEExploit, sfCVEExploitIncl:
		return append(dst, fql.Value{N: float64(s.cves[f.cve].c.ExploitStatus)})
	case sfCVESeverity:
		return strVal(dst, s.cves[f.cve].c.Severity)
	case sfCVEBaseScore:
		return append(dst, fql.Value{N: s.cves[f.cve].c.BaseScore})
	case sfCVETypes:
		return strsVal(dst, s.cves[f.cve].types)
	case sfCVECWEs:
		return strsVal(dst, s.cves[f.cve].c.CWEs)
	case sfHostCrit:
		return strVal(dst, s.hosts[f.host].h.AssetCriticality)
	case sfHostRoles:
		return strsVal(dst, s.hosts[f.host].h.AssetRoles)
	case sfHostExposure:
		return strVal(dst, s.hosts[f.host].h.InternetExposure)
	case sfHostTags:
		return strsVal(dst, s.hosts[f.host].h.Tags)
	case sfHostGroups:
		// Falcon filters host_info.groups by group id; names are accepted
		// too because tenants are written with names.
		dst = strsVal(dst, s.hosts[f.host].groupIDs)
		return strsVal(dst, s.hosts[f.host].h.Groups)
	case sfHostProductType:
		return strVal(dst, s.hosts[f.host].h.ProductTypeDesc)
	case sfHostPlatform:
		return strVal(dst, s.hosts[f.host].h.Platform)
	case sfHostHostname:
		return strVal(dst, s.hosts[f.host].h.Hostname)
	case sfHostManagedBy:
		return strVal(dst, s.hosts[f.host].managedBy())
	case sfSuppressed:
		return boolVal(dst, f.suppressed)
	case sfSuppReason:
		return strVal(dst, s.str(f.reason))
	case sfCreated:
		return append(dst, fql.Value{N: float64(f.created)})
	case sfUpdated:
		return append(dst, fql.Value{N: float64(f.updated)})
	case sfClosed:
		if f.closed == 0 {
			return dst
		}
		return append(dst, fql.Value{N: float64(f.closed)})
	case sfRemIDs:
		for _, r := range s.findingRems(f) {
			dst = append(dst, fql.Value{S: s.rems[r].r.ID})
		}
		return dst
	}
	return dst
}

// exprtRank orders ExPRT ratings and CVSS severities for sorting.
func exprtRank(v string) float64 {
	switch strings.ToUpper(v) {
	case "CRITICAL":
		return 4
	case "HIGH":
		return 3
	case "MEDIUM":
		return 2
	case "LOW":
		return 1
	}
	return 0
}

var findingsCollection = &collection{
	name:   "spotlight",
	schema: spotlightSchema,
	size:   func(s *snapshot) int { return len(s.findings) },
	rec:    func(s *snapshot) recordCursor { return &findingCursor{s: s} },
	indexes: []rangeIndex{
		{field: "created_timestamp", perm: (*snapshot).findingsByCreated},
		{field: "updated_timestamp", perm: (*snapshot).findingsByUpdated},
	},
	sorts: map[string]sortKeyFunc{
		"created_timestamp": {key: func(s *snapshot, i int32) sortKey { return sortKey{n: float64(s.findings[i].created)} }},
		"updated_timestamp": {key: func(s *snapshot, i int32) sortKey { return sortKey{n: float64(s.findings[i].updated)} }},
		"closed_timestamp":  {key: func(s *snapshot, i int32) sortKey { return sortKey{n: float64(s.findings[i].closed)} }},
		"cve.base_score":    {key: func(s *snapshot, i int32) sortKey { return sortKey{n: s.cves[s.findings[i].cve].c.BaseScore} }},
		"cve.exprt_rating": {key: func(s *snapshot, i int32) sortKey {
			return sortKey{n: exprtRank(s.cves[s.findings[i].cve].c.ExprtRating)}
		}},
		"cve.severity": {key: func(s *snapshot, i int32) sortKey {
			return sortKey{n: exprtRank(s.cves[s.findings[i].cve].c.Severity)}
		}},
		"cve.exploit_status": {key: func(s *snapshot, i int32) sortKey {
			return sortKey{n: float64(s.cves[s.findings[i].cve].c.ExploitStatus)}
		}},
		"cve.id": {str: true, key: func(s *snapshot, i int32) sortKey { return sortKey{s: s.cves[s.findings[i].cve].c.ID} }},
		"host_info.hostname": {str: true, key: func(s *snapshot, i int32) sortKey {
			return sortKey{s: s.hosts[s.findings[i].host].h.Hostname}
		}},
		"status": {str: true, key: func(s *snapshot, i int32) sortKey { return sortKey{s: findingStatusNames[s.findings[i].status]} }},
	},
}

// spotlightQuery parses the shared parameters of the Spotlight query
// endpoints; ok false means a 400 was written.
func (c *call) spotlightQuery() (filter string, f *fql.Filter, sp sortSpec, limit int, ok bool) {
	q := c.r.URL.Query()
	filter = q.Get("filter")
	if strings.TrimSpace(filter) == "" {
		c.fail(http.StatusBadRequest, "filter is required: Spotlight vulnerability queries need an FQL filter (for example status:'open')")
		return
	}
	var err error
	if limit, err = parseLimit(q.Get("limit"), 100, 5000); err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	if sp, err = parseSort(q.Get("sort"), findingsCollection, false); err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	if f, err = c.snap.compile(findingsCollection, filter); err != nil {
		c.fail(http.StatusBadRequest, filterError(err))
		return
	}
	return filter, f, sp, limit, true
}

func parseFacets(vals []string) (facets, string, bool) {
	var fc facets
	for _, v := range queryIDs(vals) {
		switch v {
		case "cve":
			fc.cve = true
		case "host_info":
			fc.hostInfo = true
		case "remediation":
			fc.remediation = true
		case "evaluation_logic":
			fc.evalLogic = true
		default:
			return fc, v, false
		}
	}
	return fc, "", true
}

func appendSPPaging(b []byte, res pageResult, limit int) []byte {
	o := beginObj(b)
	o.str("after", res.after)
	o.int("limit", int64(limit))
	o.int("total", int64(res.total))
	return o.end()
}

// handleCombinedVulns serves GET /spotlight/combined/vulnerabilities/v1.
func (s *Server) handleCombinedVulns(c *call) {
	filter, f, sp, limit, ok := c.spotlightQuery()
	if !ok {
		return
	}
	fc, bad, ok := parseFacets(c.r.URL.Query()["facet"])
	if !ok {
		c.fail(http.StatusBadRequest, "invalid facet "+quoteForMsg(bad)+"; allowed facets: cve, evaluation_logic, host_info, remediation")
		return
	}
	res, err := c.snap.afterPage(findingsCollection, filter, f, sp, c.r.URL.Query().Get("after"), limit, make([]int32, 0, limit))
	if err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	truncate, invalid := s.pageFault()
	pag := appendSPPaging(nil, res, limit)
	if invalid {
		s.countFault("invalid_page")
		c.reply(http.StatusOK, pag, nil, []byte(`{"vulnerabilities":"this page has the wrong shape"}`), nil)
		return
	}
	bp := s.getBuf()
	if hint := c.snap.pageBytesHint(res.items, fc); cap(*bp) < hint {
		*bp = make([]byte, 0, hint)
	}
	b := c.snap.appendFindings(*bp, res.items, fc)
	*bp = b
	s.addStat(func(st *Stats) { st.FindingsServed += int64(len(res.items)) })
	if truncate {
		s.countFault("truncate_page")
		c.replyTruncated(http.StatusOK, pag, b)
	} else {
		c.reply(http.StatusOK, pag, nil, b, nil)
	}
	s.putBuf(bp)
}

// pageBytesHint estimates the rendered size of a combined page from the
// pre-rendered parts its findings copy, so that a response buffer is
// allocated once at its size (a 5000-finding page with facets is ~15 MB)
// instead of doubling its way up: concurrent shard streams often get a
// fresh buffer.
func (s *snapshot) pageBytesHint(items []int32, fc facets) int {
	n := 2
	for _, i := range items {
		f := &s.findings[i]
		rems := s.findingRems(f)
		n += 1024 + 2*(len(s.strsJSON[f.nameVersion])+len(s.strsJSON[f.product])+len(s.strsJSON[f.vendor])) + 96*len(rems)
		if fc.hostInfo {
			n += len(s.hostFacetJSON[f.host])
		}
		if fc.cve {
			n += len(s.cveFacetJSON[f.cve])
		}
		if fc.remediation {
			for _, r := range rems {
				n += len(s.remJSON[r])
			}
		}
		if fc.evalLogic {
			n += 1024
		}
	}
	return n
}

// touchAhead is how many findings appendFindings touches ahead of
// rendering them.
const touchAhead = 64

// appendFindings renders items as a JSON array. A page sorted by time
// jumps between hosts all over memory, and rendering would copy each
// host's and CVE's pre-rendered facets after one cache miss at a time;
// touching the next findings' parts first, in a loop of independent loads,
// lets the CPU fetch them in parallel. On a 1M-finding tenant that saves
// about a fifth of the rendering time of created_timestamp-sorted pages
// (BenchmarkRenderPage); pages in tenant order are cache-friendly anyway.
func (s *snapshot) appendFindings(b []byte, items []int32, fc facets) []byte {
	b = append(b, '[')
	var sink byte
	for c := 0; c < len(items); c += touchAhead {
		chunk := items[c:min(c+touchAhead, len(items))]
		for _, i := range chunk {
			f := &s.findings[i]
			sink += f.id[0] + s.aidJSON[f.host][0]
			if fc.hostInfo {
				sink += touchLines(s.hostFacetJSON[f.host])
			}
			if fc.cve {
				sink += touchLines(s.cveFacetJSON[f.cve])
			}
		}
		for k, i := range chunk {
			if c+k > 0 {
				b = append(b, ',')
			}
			b = s.appendFinding(b, i, fc)
		}
	}
	runtime.KeepAlive(sink) // the touches must not be optimised away
	return append(b, ']')
}

// touchLines reads one byte per cache line of b.
func touchLines(b []byte) byte {
	var x byte
	for o := 0; o < len(b); o += 64 {
		x += b[o]
	}
	return x
}

// replyTruncated sends the first half of a page and ends the response
// cleanly, so the client sees well-formed HTTP carrying broken JSON.
func (c *call) replyTruncated(status int, pagination, resources []byte) {
	trace := c.s.traceID()
	c.headers(trace)
	b := append([]byte(`{"meta":`), c.appendMeta(nil, trace, pagination, nil)...)
	b = append(b, `,"resources":`...)
	b = append(b, resources[:len(resources)/2]...)
	c.w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	c.w.WriteHeader(status)
	_, _ = c.w.Write(b)
}

// handleQueryVulns serves GET /spotlight/queries/vulnerabilities/v1.
func (s *Server) handleQueryVulns(c *call) {
	filter, f, sp, limit, ok := c.spotlightQuery()
	if !ok {
		return
	}
	res, err := c.snap.afterPage(findingsCollection, filter, f, sp, c.r.URL.Query().Get("after"), limit, make([]int32, 0, limit))
	if err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	b := appendArray(nil, res.items, func(b []byte, i int32) []byte { return appendJSONString(b, c.snap.findings[i].id) })
	c.reply(http.StatusOK, appendSPPaging(nil, res, limit), nil, b, nil)
}

// idsParam reads the ids query parameter, enforcing Falcon's per-request
// maximum; ok false means a 400 was written.
func (c *call) idsParam(max int) ([]string, bool) {
	ids := queryIDs(c.r.URL.Query()["ids"])
	if len(ids) == 0 {
		c.fail(http.StatusBadRequest, "ids is required: give one or more ids")
		return nil, false
	}
	if len(ids) > max {
		c.fail(http.StatusBadRequest, "too many ids: "+strconv.Itoa(len(ids))+" given, at most "+strconv.Itoa(max)+" are allowed per request")
		return nil, false
	}
	return ids, true
}

// handleGetVulns serves GET /spotlight/entities/vulnerabilities/v2: full
// details (every facet but evaluation logic) for up to 400 ids.
func (s *Server) handleGetVulns(c *call) {
	ids, ok := c.idsParam(400)
	if !ok {
		return
	}
	b, n := appendFound(ids, inIndex(c.snap.findingByID), func(b []byte, i int32) []byte {
		return c.snap.appendFinding(b, i, facets{cve: true, hostInfo: true, remediation: true})
	})
	c.replyFound(b, n, "no vulnerabilities found for the given ids")
}

// handleGetRemediations serves GET /spotlight/entities/remediations/v2.
func (s *Server) handleGetRemediations(c *call) {
	ids, ok := c.idsParam(5000)
	if !ok {
		return
	}
	b, n := appendFound(ids, inIndex(c.snap.remByID), func(b []byte, i int32) []byte { return append(b, c.snap.remJSON[i]...) })
	c.replyFound(b, n, "no remediations found for the given ids")
}

// Evaluation logic is served per finding: one entity per vulnerability,
// filterable by the finding's aid, cid and vulnerability id.
var evalSchema = fql.NewSchema(
	fql.Field{Name: "aid"},
	fql.Field{Name: "cid"},
	fql.Field{Name: "vulnerability_id"},
)

type evalCursor struct{ findingCursor }

func (c *evalCursor) Lookup(field int, dst []fql.Value) []fql.Value {
	switch field {
	case 0:
		return c.findingCursor.Lookup(sfAID, dst)
	case 1:
		return c.findingCursor.Lookup(sfCID, dst)
	case 2:
		return c.findingCursor.Lookup(sfVulnID, dst)
	}
	return dst
}

var evalCollection = &collection{
	name:   "evaluation-logic",
	schema: evalSchema,
	size:   func(s *snapshot) int { return len(s.findings) },
	rec:    func(s *snapshot) recordCursor { return &evalCursor{findingCursor{s: s}} },
	sorts:  map[string]sortKeyFunc{},
}

func (s *Server) evalQuery(c *call) (pageResult, int, bool) {
	q := c.r.URL.Query()
	filter := q.Get("filter")
	if strings.TrimSpace(filter) == "" {
		c.fail(http.StatusBadRequest, "filter is required (fields: aid, cid, vulnerability_id)")
		return pageResult{}, 0, false
	}
	limit, err := parseLimit(q.Get("limit"), 100, 5000)
	if err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return pageResult{}, 0, false
	}
	f, err := c.snap.compile(evalCollection, filter)
	if err != nil {
		c.fail(http.StatusBadRequest, filterError(err))
		return pageResult{}, 0, false
	}
	res, err := c.snap.afterPage(evalCollection, filter, f, sortSpec{}, q.Get("after"), limit, nil)
	if err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return pageResult{}, 0, false
	}
	return res, limit, true
}

// handleCombinedEvalLogic serves GET /spotlight/combined/evaluation-logic/v1.
func (s *Server) handleCombinedEvalLogic(c *call) {
	res, limit, ok := s.evalQuery(c)
	if !ok {
		return
	}
	c.reply(http.StatusOK, appendSPPaging(nil, res, limit), nil, appendArray(nil, res.items, c.snap.appendEvalLogic), nil)
}

// handleQueryEvalLogic serves GET /spotlight/queries/evaluation-logic/v1.
func (s *Server) handleQueryEvalLogic(c *call) {
	res, limit, ok := s.evalQuery(c)
	if !ok {
		return
	}
	b := appendArray(nil, res.items, func(b []byte, i int32) []byte { return appendJSONString(b, c.snap.evalID(i)) })
	c.reply(http.StatusOK, appendSPPaging(nil, res, limit), nil, b, nil)
}

// handleGetEvalLogic serves GET /spotlight/entities/evaluation-logic/v1.
func (s *Server) handleGetEvalLogic(c *call) {
	ids, ok := c.idsParam(400)
	if !ok {
		return
	}
	b, n := appendFound(ids, c.snap.findingByEvalID, c.snap.appendEvalLogic)
	c.replyFound(b, n, "no evaluation logic found for the given ids")
}
