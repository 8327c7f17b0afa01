package falconsim

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server.
type Options struct {
	Faults Faults
	Logger *slog.Logger // nil: discard
	// TokenTTL is the lifetime of issued OAuth2 tokens (default 30m, as
	// Falcon's expires_in of 1799s).
	TokenTTL time.Duration
	// RateLimitPerMinute sizes each API client's token bucket (default 6000,
	// Falcon's usual per-CID limit). The bucket drives X-RateLimit-Remaining
	// and a real 429 when a client drains it.
	RateLimitPerMinute int
	// Clock is the wall clock for token expiry and rate limiting (default
	// time.Now); tests move it instead of sleeping.
	Clock func() time.Time
}

// Faults are failures the simulator injects into API requests (everything
// except /oauth2/* and /_sim/*), to exercise clients' retry and validation
// paths. The zero value injects nothing.
type Faults struct {
	// RateLimitEvery answers every Nth API request with 429 and
	// X-RateLimit-* headers, including X-RateLimit-RetryAfter (epoch seconds).
	RateLimitEvery int `json:"rate_limit_every,omitempty"`
	// RetryAfter is how far ahead X-RateLimit-RetryAfter points (default 1s).
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	// ErrorRate is the fraction of API requests answered 500, 502 or 503,
	// chosen deterministically from Seed and the request's sequence number.
	ErrorRate float64 `json:"error_rate,omitempty"`
	// Latency is added to every API response.
	Latency time.Duration `json:"latency,omitempty"`
	// TruncatePage cuts the Nth combined-vulnerabilities page mid-JSON, once.
	TruncatePage int `json:"truncate_page,omitempty"`
	// InvalidPage answers the Nth combined-vulnerabilities page with valid
	// JSON of the wrong shape, once.
	InvalidPage int   `json:"invalid_page,omitempty"`
	Seed        int64 `json:"seed,omitempty"`
}

func (f Faults) validate() error {
	switch {
	case f.RateLimitEvery < 0:
		return fmt.Errorf("faults.rate_limit_every is %d; must be >= 0 (0 disables)", f.RateLimitEvery)
	case f.RetryAfter < 0:
		return fmt.Errorf("faults.retry_after is %s; must be >= 0", f.RetryAfter)
	case math.IsNaN(f.ErrorRate) || f.ErrorRate < 0 || f.ErrorRate > 1:
		return fmt.Errorf("faults.error_rate is %v; must be within [0, 1]", f.ErrorRate)
	case f.Latency < 0 || f.Latency > time.Minute:
		return fmt.Errorf("faults.latency is %s; must be within [0, 1m]", f.Latency)
	case f.TruncatePage < 0:
		return fmt.Errorf("faults.truncate_page is %d; must be >= 0 (0 disables)", f.TruncatePage)
	case f.InvalidPage < 0:
		return fmt.Errorf("faults.invalid_page is %d; must be >= 0 (0 disables)", f.InvalidPage)
	}
	return nil
}

// Stats are counters since the server started.
type Stats struct {
	// Requests counts requests per endpoint, keyed "METHOD /path".
	Requests map[string]int64 `json:"requests"`
	// Faults counts injected faults by kind: rate_limit, error_500,
	// error_502, error_503, latency, truncate_page, invalid_page.
	Faults map[string]int64 `json:"faults"`
	// Throttled counts real 429s from an exhausted client bucket.
	Throttled      int64 `json:"throttled"`
	TokensIssued   int64 `json:"tokens_issued"`
	TokensRevoked  int64 `json:"tokens_revoked"`
	FindingsServed int64 `json:"findings_served"`
}

// Server is a simulated Falcon API over one tenant. It is safe for
// concurrent use.
type Server struct {
	log       *slog.Logger
	clock     func() time.Time
	tokenTTL  time.Duration
	rateLimit int

	snap  atomic.Pointer[snapshot]
	mutMu sync.Mutex // serialises snapshot mutations

	clients map[string]APIClient

	tokMu  sync.Mutex
	tokens map[string]*tokenInfo

	faultMu    sync.Mutex
	faults     Faults
	apiSeq     int64
	pageSeq    int64
	truncDone  bool
	invalidSeq bool

	statsMu sync.Mutex
	stats   Stats

	bucketMu sync.Mutex
	buckets  map[string]*bucket

	traceSeq atomic.Uint64
	// bufs is a small free list of response buffers. A sync.Pool would be
	// emptied by every GC, and multi-MB pages trigger GCs often, so each
	// page would allocate its buffer afresh.
	bufs chan *[]byte

	rtr *rtrState

	handler http.Handler
}

// New builds a server over t, which must be resolved (ids and CVE facets
// filled in, see Tenant.Resolve). The tenant is indexed into a compact form;
// later changes to t are not seen.
func New(t *Tenant, opts Options) (*Server, error) {
	if t == nil {
		return nil, errors.New("falconsim: tenant is nil")
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("falconsim: invalid tenant: %w", err)
	}
	if err := opts.Faults.validate(); err != nil {
		return nil, fmt.Errorf("falconsim: %w", err)
	}
	snap, err := buildSnapshot(t)
	if err != nil {
		return nil, fmt.Errorf("falconsim: %w", err)
	}
	s := &Server{
		log:       opts.Logger,
		clock:     opts.Clock,
		tokenTTL:  opts.TokenTTL,
		rateLimit: opts.RateLimitPerMinute,
		clients:   make(map[string]APIClient),
		tokens:    make(map[string]*tokenInfo),
		faults:    opts.Faults,
		buckets:   make(map[string]*bucket),
		stats:     Stats{Requests: map[string]int64{}, Faults: map[string]int64{}},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.tokenTTL <= 0 {
		s.tokenTTL = 30 * time.Minute
	}
	if s.rateLimit <= 0 {
		s.rateLimit = 6000
	}
	if len(t.Clients) == 0 {
		s.clients[DemoClientID] = APIClient{ClientID: DemoClientID, ClientSecret: DemoClientSecret, Scopes: AllScopes()}
	}
	for i, c := range t.Clients {
		if c.ClientID == "" || c.ClientSecret == "" {
			return nil, fmt.Errorf("falconsim: tenant.clients[%d]: client_id and client_secret must both be set", i)
		}
		if _, dup := s.clients[c.ClientID]; dup {
			return nil, fmt.Errorf("falconsim: tenant.clients[%d].client_id %q is a duplicate", i, c.ClientID)
		}
		s.clients[c.ClientID] = c
	}
	s.bufs = make(chan *[]byte, 4)
	s.snap.Store(snap)
	s.rtr = newRTRState()
	s.handler = s.routes()
	return s, nil
}

// Handler serves the Falcon API paths.
func (s *Server) Handler() http.Handler { return s.handler }

// SetFaults replaces the injected faults and restarts their counters (the
// Nth request/page is counted from this call). Invalid faults are ignored
// and reported.
func (s *Server) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = f
	s.apiSeq, s.pageSeq = 0, 0
	s.truncDone, s.invalidSeq = false, false
	return nil
}

// CurrentFaults returns the faults in force.
func (s *Server) CurrentFaults() Faults {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.faults
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	out := s.stats
	out.Requests = make(map[string]int64, len(s.stats.Requests))
	for k, v := range s.stats.Requests {
		out.Requests[k] = v
	}
	out.Faults = make(map[string]int64, len(s.stats.Faults))
	for k, v := range s.stats.Faults {
		out.Faults[k] = v
	}
	return out
}

func (s *Server) countRequest(name string) {
	s.statsMu.Lock()
	s.stats.Requests[name]++
	s.statsMu.Unlock()
}

func (s *Server) countFault(kind string) {
	s.statsMu.Lock()
	s.stats.Faults[kind]++
	s.statsMu.Unlock()
}

func (s *Server) addStat(f func(*Stats)) {
	s.statsMu.Lock()
	f(&s.stats)
	s.statsMu.Unlock()
}

// route is one served endpoint. scope "" marks the OAuth2 endpoints, which
// authenticate by client credentials rather than a bearer token.
type route struct {
	method, path string
	scope        string
	poweredBy    string
	h            func(*call)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	all := []route{
		{"POST", "/oauth2/token", "", "csam", s.handleToken},
		{"POST", "/oauth2/revoke", "", "csam", s.handleRevoke},

		{"GET", "/spotlight/combined/vulnerabilities/v1", ScopeSpotlightRead, "spotlight-api", s.handleCombinedVulns},
		{"GET", "/spotlight/queries/vulnerabilities/v1", ScopeSpotlightRead, "spotlight-api", s.handleQueryVulns},
		{"GET", "/spotlight/entities/vulnerabilities/v2", ScopeSpotlightRead, "spotlight-api", s.handleGetVulns},
		{"GET", "/spotlight/entities/remediations/v2", ScopeSpotlightRead, "spotlight-api", s.handleGetRemediations},
		{"GET", "/spotlight/combined/evaluation-logic/v1", ScopeSpotlightRead, "spotlight-api", s.handleCombinedEvalLogic},
		{"GET", "/spotlight/queries/evaluation-logic/v1", ScopeSpotlightRead, "spotlight-api", s.handleQueryEvalLogic},
		{"GET", "/spotlight/entities/evaluation-logic/v1", ScopeSpotlightRead, "spotlight-api", s.handleGetEvalLogic},

		{"GET", "/devices/queries/devices/v1", ScopeHostsRead, "device-api", s.handleQueryDevices},
		{"GET", "/devices/entities/devices/v2", ScopeHostsRead, "device-api", s.handleGetDevices},
		{"POST", "/devices/entities/devices/v2", ScopeHostsRead, "device-api", s.handlePostDevices},
		{"POST", "/devices/entities/devices-actions/v2", ScopeHostsWrite, "device-api", s.handleDeviceAction},
		{"GET", "/devices/entities/online-state/v1", ScopeHostsRead, "device-api", s.handleOnlineState},

		{"GET", "/alerts/queries/alerts/v2", ScopeAlertsRead, "detectsapi", s.handleQueryAlerts},
		{"POST", "/alerts/entities/alerts/v2", ScopeAlertsRead, "detectsapi", s.handleGetAlerts},

		{"GET", "/intel/queries/vulnerabilities/v1", ScopeIntelRead, "msa-api", s.handleQueryIntel},
		{"POST", "/intel/entities/vulnerabilities/GET/v1", ScopeIntelRead, "msa-api", s.handleGetIntel},

		{"POST", "/real-time-response/entities/sessions/v1", ScopeRTRRead, "empower-api", s.handleRTRInit},
		{"DELETE", "/real-time-response/entities/sessions/v1", ScopeRTRRead, "empower-api", s.handleRTRDelete},
		{"GET", "/real-time-response/queries/sessions/v1", ScopeRTRRead, "empower-api", s.handleRTRListAll},
		{"POST", "/real-time-response/entities/sessions/GET/v1", ScopeRTRRead, "empower-api", s.handleRTRListSessions},
		{"POST", "/real-time-response/entities/refresh-session/v1", ScopeRTRRead, "empower-api", s.handleRTRPulse},
		{"POST", "/real-time-response/entities/command/v1", ScopeRTRRead, "empower-api", s.handleRTRCommand(tierRead)},
		{"GET", "/real-time-response/entities/command/v1", ScopeRTRRead, "empower-api", s.handleRTRStatus(tierRead)},
		{"POST", "/real-time-response/entities/active-responder-command/v1", ScopeRTRWrite, "empower-api", s.handleRTRCommand(tierWrite)},
		{"GET", "/real-time-response/entities/active-responder-command/v1", ScopeRTRWrite, "empower-api", s.handleRTRStatus(tierWrite)},
		{"POST", "/real-time-response/entities/admin-command/v1", ScopeRTRAdmin, "empower-api", s.handleRTRCommand(tierAdmin)},
		{"GET", "/real-time-response/entities/admin-command/v1", ScopeRTRAdmin, "empower-api", s.handleRTRStatus(tierAdmin)},
	}
	for _, rt := range all {
		mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	mux.HandleFunc("GET /_sim/faults", s.handleSimFaults)
	mux.HandleFunc("POST /_sim/faults", s.handleSimFaults)
	mux.HandleFunc("GET /_sim/stats", s.handleSimStats)
	mux.Handle("/", s.wrap(route{path: "notfound", poweredBy: "crowdstrike-api-gateway", h: func(c *call) {
		c.gatewayError(http.StatusNotFound, "no route for "+c.r.Method+" "+c.r.URL.Path)
	}}))
	return mux
}

// call is one API request being served.
type call struct {
	s         *Server
	w         http.ResponseWriter
	r         *http.Request
	start     time.Time
	route     *route
	snap      *snapshot
	client    string // authenticated client id
	token     *tokenInfo
	remaining int
	limit     int
}

func (s *Server) wrap(rt route) http.Handler {
	name := rt.method + " " + rt.path
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{s: s, w: w, r: r, start: time.Now(), route: &rt, snap: s.snap.Load(), limit: s.rateLimit, remaining: -1}
		if rt.path == "notfound" {
			s.countRequest("unknown")
			rt.h(c)
			return
		}
		s.countRequest(name)
		if rt.scope == "" {
			rt.h(c)
			return
		}
		if !c.authenticate() {
			return
		}
		if !c.token.scopes[rt.scope] {
			c.gatewayError(http.StatusForbidden, "access denied, authorization failed")
			return
		}
		if !c.takeToken() {
			return
		}
		if !c.injectFaults() {
			return
		}
		rt.h(c)
	})
}

// takeToken charges the client's bucket; an empty bucket is a real 429.
func (c *call) takeToken() bool {
	remaining, retry, ok := c.s.charge(c.client)
	c.remaining = remaining
	if ok {
		return true
	}
	c.s.addStat(func(st *Stats) { st.Throttled++ })
	c.w.Header().Set("X-RateLimit-RetryAfter", strconv.FormatInt(retry.Unix(), 10))
	c.gatewayError(http.StatusTooManyRequests, "API rate limit exceeded.")
	return false
}

// injectFaults applies the configured faults; false means a fault answered.
func (c *call) injectFaults() bool {
	s := c.s
	s.faultMu.Lock()
	f := s.faults
	s.apiSeq++
	seq := s.apiSeq
	s.faultMu.Unlock()

	if f.Latency > 0 {
		s.countFault("latency")
		c.w.Header().Set("X-Sim-Injected-Latency", f.Latency.String())
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-c.r.Context().Done():
			t.Stop()
			return false
		}
	}
	if f.RateLimitEvery > 0 && seq%int64(f.RateLimitEvery) == 0 {
		s.countFault("rate_limit")
		retry := f.RetryAfter
		if retry <= 0 {
			retry = time.Second
		}
		at := s.clock().Add(retry)
		epoch := at.Unix()
		if at.Nanosecond() > 0 {
			epoch++ // round up so the client never retries early
		}
		c.remaining = 0
		c.w.Header().Set("X-RateLimit-RetryAfter", strconv.FormatInt(epoch, 10))
		c.gatewayError(http.StatusTooManyRequests, "API rate limit exceeded.")
		return false
	}
	if f.ErrorRate > 0 {
		u := splitmix(uint64(f.Seed) ^ uint64(seq)*0x9E3779B97F4A7C15)
		if float64(u>>11)/float64(1<<53) < f.ErrorRate {
			status := []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}[splitmix(u)%3]
			s.countFault("error_" + strconv.Itoa(status))
			c.gatewayError(status, http.StatusText(status))
			return false
		}
	}
	return true
}

// pageFault decides whether the current combined-vulnerabilities page is
// the one to truncate or malform.
func (s *Server) pageFault() (truncate, invalid bool) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.pageSeq++
	if s.faults.TruncatePage > 0 && !s.truncDone && s.pageSeq == int64(s.faults.TruncatePage) {
		s.truncDone = true
		truncate = true
	} else if s.faults.InvalidPage > 0 && !s.invalidSeq && s.pageSeq == int64(s.faults.InvalidPage) {
		s.invalidSeq = true
		invalid = true
	}
	return truncate, invalid
}

func splitmix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// traceID is a UUID-shaped id unique within this server.
func (s *Server) traceID() string {
	n := s.traceSeq.Add(1)
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], splitmix(n))
	binary.BigEndian.PutUint64(b[8:], splitmix(n^0xA5A5A5A5))
	b[6] = b[6]&0x0F | 0x40
	b[8] = b[8]&0x3F | 0x80
	const hx = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, v := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hx[v>>4], hx[v&0xF])
	}
	return string(out)
}

// apiError is one entry of a Falcon error envelope.
type apiError struct {
	code int
	msg  string
	id   string
}

// headers sets the headers every Falcon API response carries.
func (c *call) headers(traceID string) {
	h := c.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Cs-Traceid", traceID)
	if c.route.scope != "" {
		h.Set("X-RateLimit-Limit", strconv.Itoa(c.limit))
		rem := c.remaining
		if rem < 0 {
			rem = c.limit
		}
		h.Set("X-RateLimit-Remaining", strconv.Itoa(rem))
	}
}

// appendMeta renders the meta object; pagination and writes are raw JSON
// objects or nil.
func (c *call) appendMeta(b []byte, traceID string, pagination, writes []byte) []byte {
	o := beginObj(b)
	o.float("query_time", math.Max(time.Since(c.start).Seconds(), 1e-9))
	if pagination != nil {
		o.raw("pagination", pagination)
	}
	if writes != nil {
		o.raw("writes", writes)
	}
	o.str("powered_by", c.route.poweredBy)
	o.str("trace_id", traceID)
	return o.end()
}

func appendErrors(b []byte, errs []apiError) []byte {
	b = append(b, '[')
	for i, e := range errs {
		if i > 0 {
			b = append(b, ',')
		}
		o := beginObj(b)
		o.int("code", int64(e.code))
		o.strOmit("id", e.id)
		o.str("message", e.msg)
		b = o.end()
	}
	return append(b, ']')
}

// reply writes a Falcon envelope: meta, resources (a raw JSON value, nil for
// meta-only replies) and errors.
func (c *call) reply(status int, pagination, writes, resources []byte, errs []apiError) {
	trace := c.s.traceID()
	c.headers(trace)
	bp := c.s.getBuf()
	b := append(*bp, `{"meta":`...)
	b = c.appendMeta(b, trace, pagination, writes)
	if resources != nil {
		b = append(b, `,"resources":`...)
	}
	head := b
	tail := []byte(`,"errors":`)
	tail = appendErrors(tail, errs)
	tail = append(tail, '}')
	c.w.Header().Set("Content-Length", strconv.Itoa(len(head)+len(resources)+len(tail)))
	c.w.WriteHeader(status)
	if c.r.Method != http.MethodHead {
		_, _ = c.w.Write(head)
		_, _ = c.w.Write(resources)
		_, _ = c.w.Write(tail)
	}
	*bp = b
	c.s.putBuf(bp)
}

func (s *Server) getBuf() *[]byte {
	select {
	case bp := <-s.bufs:
		*bp = (*bp)[:0]
		return bp
	default:
		b := make([]byte, 0, 64<<10)
		return &b
	}
}

func (s *Server) putBuf(bp *[]byte) {
	if cap(*bp) > 32<<20 { // one huge page must not pin memory forever
		return
	}
	*bp = (*bp)[:0]
	select {
	case s.bufs <- bp:
	default:
	}
}

// fail answers an API error with resources [] (as Falcon's services do).
func (c *call) fail(status int, msg string) {
	c.reply(status, nil, nil, []byte("[]"), []apiError{{code: status, msg: msg}})
}

// gatewayError answers like Falcon's API gateway: meta and errors only.
func (c *call) gatewayError(status int, msg string) {
	c.reply(status, nil, nil, nil, []apiError{{code: status, msg: msg}})
}

// decodeBody reads a small JSON request body into v.
func (c *call) decodeBody(v any) error {
	body, err := io.ReadAll(io.LimitReader(c.r.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("reading request body: %w", err)
	}
	if len(body) == 0 {
		return errors.New("request body is empty; a JSON object is required")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("request body is not valid JSON for this endpoint: %v", err)
	}
	return nil
}

func (s *Server) handleSimFaults(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		var f Faults
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = json.Unmarshal(body, &f)
		}
		if err == nil {
			err = s.SetFaults(f)
		}
		if err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s.CurrentFaults())
}

func (s *Server) handleSimStats(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s.Stats())
}

// mutate applies f to the current snapshot under the mutation lock and
// publishes the result.
func (s *Server) mutate(f func(cur *snapshot) *snapshot) {
	s.mutMu.Lock()
	defer s.mutMu.Unlock()
	if n := f(s.snap.Load()); n != nil {
		s.snap.Store(n)
	}
}
