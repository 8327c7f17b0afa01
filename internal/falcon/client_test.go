package falcon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/falconsim"
	"golang.org/x/oauth2"
)

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	good := Config{ClientID: "id", ClientSecret: "secret"}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   []string // substrings of the error; nil means valid
	}{
		{"minimal", func(*Config) {}, nil},
		{"cloud by name, any case", func(c *Config) { c.Cloud = "EU-1" }, nil},
		{"base URL with port and path", func(c *Config) { c.BaseURL = "https://127.0.0.1:8443/api" }, nil},
		{"base URL without scheme", func(c *Config) { c.BaseURL = "api.us-2.crowdstrike.com" }, nil},
		{"no client id", func(c *Config) { c.ClientID = " " }, []string{"ClientID", "FALCON_CLIENT_ID"}},
		{"no secret", func(c *Config) { c.ClientSecret = "" }, []string{"ClientSecret", "FALCON_CLIENT_SECRET"}},
		{"unknown cloud", func(c *Config) { c.Cloud = "mars-1" }, []string{`Cloud "mars-1"`, "FALCON_CLOUD", "us-1, us-2, eu-1, us-gov-1, us-gov-2, autodiscover"}},
		{"http base URL", func(c *Config) { c.BaseURL = "http://127.0.0.1:8443" }, []string{"BaseURL", "FALCON_BASE_URL", "must use https"}},
		{"base URL with query", func(c *Config) { c.BaseURL = "https://h/?x=1" }, []string{"query"}},
		{"base URL with credentials", func(c *Config) { c.BaseURL = "https://u:p@h" }, []string{"credentials"}},
		{"autodiscover with base URL", func(c *Config) { c.Cloud, c.BaseURL = "autodiscover", "https://h" }, []string{"autodiscover cannot be combined"}},
		{"missing CA file", func(c *Config) { c.CAFile = filepath.Join(dir, "nope.pem") }, []string{"CAFile", "VULNPILOT_FALCON_CA_FILE"}},
		{"CA file is a directory", func(c *Config) { c.CAFile = dir }, []string{"is a directory"}},
		{"max retries", func(c *Config) { c.MaxRetries = -2 }, []string{"MaxRetries -2", "-1 (no retries)"}},
		{"page retries", func(c *Config) { c.PageRetries = -5 }, []string{"PageRetries -5"}},
		{"negative delay", func(c *Config) { c.RetryBaseDelay = -time.Second }, []string{"RetryBaseDelay"}},
		{"user agent newline", func(c *Config) { c.UserAgent = "a\r\nX-Evil: 1" }, []string{"UserAgent"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.mutate(&cfg)
			err := cfg.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("invalid config accepted")
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if _, nerr := New(context.Background(), cfg); nerr == nil {
				t.Error("New accepted an invalid config")
			}
		})
	}
}

func TestConfigNeverPrintsTheSecret(t *testing.T) {
	const secret = "S3cr3t-value-xyz"
	cfg := Config{ClientID: "id", ClientSecret: secret, BaseURL: "https://127.0.0.1:1"}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "config", cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg), fmt.Sprintf("%v", &cfg), logs.String()} {
		if strings.Contains(s, secret) {
			t.Fatalf("secret printed: %s", s)
		}
		if !strings.Contains(s, "REDACTED") {
			t.Errorf("no redaction marker in %s", s)
		}
	}
}

// The token request must use the CA from CAFile: gofalcon takes the
// token's HTTP client from ApiConfig.Context, which a TransportDecorator
// does not reach.
func TestTokenRequestTrustsCAFile(t *testing.T) {
	env := startSim(t, genTenant(t, 50, 59), falconsim.Faults{})
	ctx := context.Background()

	withCA := env.client(t, nil) // CAFile only, no HTTPClient
	if err := withCA.Verify(ctx); err != nil {
		t.Fatalf("Verify with CAFile: %v", err)
	}
	before := env.srv.Stats().TokensIssued
	if _, _, err := withCA.QueryHosts(ctx, "", "", 1, 0); err != nil {
		t.Fatalf("API call with CAFile: %v", err)
	}
	if env.srv.Stats().TokensIssued != before+1 {
		t.Errorf("the API call did not fetch its own token through gofalcon (%d → %d)", before, env.srv.Stats().TokensIssued)
	}

	withoutCA := env.client(t, func(c *Config) { c.CAFile = "" })
	_, _, err := withoutCA.QueryHosts(ctx, "", "", 1, 0)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA the token request should fail TLS verification, got %v", err)
	}

	withClient := env.client(t, func(c *Config) { c.CAFile, c.HTTPClient = "", env.run.Client })
	if _, _, err := withClient.QueryHosts(ctx, "", "", 1, 0); err != nil {
		t.Fatalf("with the simulator's HTTPClient: %v", err)
	}
}

// A BaseURL path prefixes API calls; the token stays at /oauth2/token.
func TestBaseURLPath(t *testing.T) {
	env := startSim(t, genTenant(t, 50, 61), falconsim.Faults{})
	var apiPaths atomic.Int64
	mux := http.NewServeMux()
	mux.Handle("/oauth2/", env.srv.Handler())
	mux.Handle("/gw/", http.StripPrefix("/gw", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apiPaths.Add(1)
		env.srv.Handler().ServeHTTP(w, r)
	})))
	ts := httptest.NewTLSServer(mux)
	defer ts.Close()
	c := env.client(t, func(c *Config) { c.BaseURL, c.CAFile, c.HTTPClient = ts.URL+"/gw/", "", ts.Client() })
	ids, _, err := c.QueryHosts(context.Background(), "", "", 3, 0)
	if err != nil || len(ids) != 3 {
		t.Fatalf("QueryHosts through a base path: %v, %v", ids, err)
	}
	if apiPaths.Load() != 1 {
		t.Errorf("%d requests went through the base path, want 1", apiPaths.Load())
	}
}

// fakeRT answers from a script and records what it was sent.
type fakeRT struct {
	script []func(*http.Request) (*http.Response, error)
	calls  int
	bodies []string
}

func (f *fakeRT) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		f.bodies = append(f.bodies, string(b))
	}
	step := f.script[min(f.calls, len(f.script)-1)]
	f.calls++
	return step(r)
}

func status(code int, hdr ...string) func(*http.Request) (*http.Response, error) {
	return func(r *http.Request) (*http.Response, error) {
		h := http.Header{}
		for i := 0; i+1 < len(hdr); i += 2 {
			h.Set(hdr[i], hdr[i+1])
		}
		return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader(`{"errors":[{"code":1,"message":"m"}]}`)), Request: r}, nil
	}
}

func failWith(err error) func(*http.Request) (*http.Response, error) {
	return func(*http.Request) (*http.Response, error) { return nil, err }
}

func testClient(cfg Config) *Client {
	if cfg.RetryBaseDelay == 0 {
		cfg.RetryBaseDelay = time.Millisecond
	}
	c := &Client{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	c.stats.remaining.Store(-1)
	return c
}

func TestRetryPolicy(t *testing.T) {
	retrieve := func(code int) error {
		return &oauth2.RetrieveError{Response: &http.Response{StatusCode: code, Header: http.Header{}}}
	}
	for _, tc := range []struct {
		name        string
		method      string
		path        string
		maxRetries  int
		script      []func(*http.Request) (*http.Response, error)
		wantCalls   int
		wantStatus  int // 0: an error is expected
		wantRetries int64
		want429     int64
	}{
		{"GET 503 then 200", "GET", "/spotlight/combined/vulnerabilities/v1", 0, []func(*http.Request) (*http.Response, error){status(503), status(502), status(200)}, 3, 200, 2, 0},
		{"429 honoured then 200", "GET", "/devices/queries/devices/v1", 0, []func(*http.Request) (*http.Response, error){status(429, "X-RateLimit-RetryAfter", "1"), status(200)}, 2, 200, 1, 1},
		{"transport error retried", "GET", "/x", 0, []func(*http.Request) (*http.Response, error){failWith(errors.New("connection reset")), status(200)}, 2, 200, 1, 0},
		{"attempts are bounded", "GET", "/x", 2, []func(*http.Request) (*http.Response, error){status(500)}, 3, 500, 2, 0},
		{"retries disabled", "GET", "/x", -1, []func(*http.Request) (*http.Response, error){status(500)}, 1, 500, 0, 0},
		{"4xx is final", "GET", "/x", 0, []func(*http.Request) (*http.Response, error){status(400), status(200)}, 1, 400, 0, 0},
		{"read POST with body retried", "POST", "/devices/entities/devices/v2", 0, []func(*http.Request) (*http.Response, error){status(503), status(200)}, 2, 200, 1, 0},
		{"write POST not retried", "POST", "/devices/entities/devices-actions/v2", 0, []func(*http.Request) (*http.Response, error){status(503), status(200)}, 1, 503, 0, 0},
		{"PATCH not retried", "PATCH", "/alerts/entities/alerts/v2", 0, []func(*http.Request) (*http.Response, error){status(500), status(200)}, 1, 500, 0, 0},
		{"bad credentials not retried", "GET", "/x", 0, []func(*http.Request) (*http.Response, error){failWith(retrieve(401)), status(200)}, 1, 0, 0, 0},
		{"busy token endpoint retried", "GET", "/x", 0, []func(*http.Request) (*http.Response, error){failWith(retrieve(503)), status(200)}, 2, 200, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testClient(Config{MaxRetries: tc.maxRetries, MaxRateLimitWait: 5 * time.Millisecond})
			rt := &fakeRT{script: tc.script}
			var body io.Reader
			if tc.method != "GET" {
				body = strings.NewReader(`{"ids":["a","b"]}`)
			}
			req, _ := http.NewRequest(tc.method, "https://example.invalid"+tc.path, body)
			resp, err := c.decorate(rt).RoundTrip(req)
			if rt.calls != tc.wantCalls {
				t.Errorf("%d attempts, want %d", rt.calls, tc.wantCalls)
			}
			if tc.wantStatus == 0 {
				if err == nil {
					t.Fatalf("want an error, got status %d", resp.StatusCode)
				}
			} else if err != nil || resp.StatusCode != tc.wantStatus {
				t.Fatalf("got %v, %v; want status %d", resp, err, tc.wantStatus)
			}
			st := c.Stats()
			if st.Retries != tc.wantRetries || st.RateLimited != tc.want429 || st.Requests != int64(tc.wantCalls) {
				t.Errorf("stats %+v, want %d retries, %d 429s, %d requests", st, tc.wantRetries, tc.want429, tc.wantCalls)
			}
			for i, b := range rt.bodies {
				if tc.method != "GET" && b != `{"ids":["a","b"]}` {
					t.Errorf("attempt %d sent body %q", i, b)
				}
			}
		})
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	c := testClient(Config{RetryBaseDelay: time.Hour, RetryMaxDelay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	rt := &fakeRT{script: []func(*http.Request) (*http.Response, error){func(r *http.Request) (*http.Response, error) {
		cancel()
		return status(503)(r)
	}}}
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://example.invalid/x", nil)
	_, err := c.decorate(rt).RoundTrip(req)
	if !errors.Is(err, context.Canceled) && err != nil {
		t.Fatalf("got %v, want context.Canceled or the final response", err)
	}
	if rt.calls != 1 {
		t.Fatalf("%d attempts after the context ended", rt.calls)
	}
}

func TestRetryAfterAndBackoff(t *testing.T) {
	c := testClient(Config{MaxRateLimitWait: time.Minute, RetryBaseDelay: 100 * time.Millisecond, RetryMaxDelay: time.Second})
	in := func(d time.Duration) string { return strconv.FormatInt(time.Now().Add(d).Unix(), 10) }
	for _, tc := range []struct {
		name     string
		hdr      http.Header
		min, max time.Duration
	}{
		{"epoch 30s ahead", http.Header{"X-Ratelimit-Retryafter": {in(30 * time.Second)}}, 28 * time.Second, 31 * time.Second},
		{"epoch in the past", http.Header{"X-Ratelimit-Retryafter": {in(-time.Hour)}}, time.Millisecond, time.Second},
		{"capped at MaxRateLimitWait", http.Header{"X-Ratelimit-Retryafter": {in(time.Hour)}}, time.Minute, time.Minute},
		{"HTTP Retry-After seconds", http.Header{"Retry-After": {"7"}}, 7 * time.Second, 7 * time.Second},
		{"garbage", http.Header{"X-Ratelimit-Retryafter": {"soon"}}, 0, 0},
		{"absent", http.Header{}, 0, 0},
	} {
		if d := c.retryAfter(tc.hdr); d < tc.min || d > tc.max {
			t.Errorf("%s: retryAfter = %v, want within [%v, %v]", tc.name, d, tc.min, tc.max)
		}
	}
	for attempt := range 8 {
		ceiling := min(100*time.Millisecond<<attempt, time.Second)
		for range 50 {
			if d := c.backoff(attempt); d <= 0 || d > ceiling {
				t.Fatalf("backoff(%d) = %v, want within (0, %v]", attempt, d, ceiling)
			}
		}
	}

	// A response that exhausts the window pauses every later request.
	c.classify(&http.Response{StatusCode: 200, Header: http.Header{
		"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Retryafter": {in(20 * time.Second)}}}, nil)
	if c.Stats().RateLimitRemaining != 0 {
		t.Errorf("remaining = %d, want 0", c.Stats().RateLimitRemaining)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.waitCooldown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("waitCooldown during an exhausted window returned %v, want it to wait (and see the cancel)", err)
	}
}

func TestSplitRangeAndShardFilters(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 500, time.UTC)
	for _, tc := range []struct {
		name           string
		lo, hi         time.Time
		n, wantBounds  int
		firstBoundWant string
	}{
		{"even split", t0, t0.Add(99 * time.Second), 4, 3, "2024-01-01T00:00:25Z"},
		{"span shorter than n", t0, t0.Add(2 * time.Second), 10, 2, "2024-01-01T00:00:01Z"},
		{"single second", t0, t0, 4, 0, ""},
		{"n of one", t0, t0.Add(time.Hour), 1, 0, ""},
	} {
		b := splitRange(tc.lo, tc.hi, tc.n)
		if len(b) != tc.wantBounds {
			t.Errorf("%s: %d bounds, want %d", tc.name, len(b), tc.wantBounds)
			continue
		}
		for i := range b {
			if b[i].Nanosecond() != 0 || !b[i].After(tc.lo) || b[i].After(tc.hi) || i > 0 && !b[i].After(b[i-1]) {
				t.Errorf("%s: bounds %v not increasing whole seconds inside the range", tc.name, b)
			}
		}
		if len(b) > 0 && b[0].Format(time.RFC3339) != tc.firstBoundWant {
			t.Errorf("%s: first bound %v, want %s", tc.name, b[0], tc.firstBoundWant)
		}
	}

	lo, hi := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, user string
		lo, hi     time.Time
		want       string
		ok         bool
	}{
		{"and filter", "status:'open'+cve.severity:'HIGH'", lo, hi,
			"status:'open'+cve.severity:'HIGH'+created_timestamp:>='2024-02-01T00:00:00Z'+created_timestamp:<'2024-03-01T00:00:00Z'", true},
		{"or filter keeps its parentheses", "status:'open',status:'reopen'", lo, hi,
			"(status:'open',status:'reopen')+created_timestamp:>='2024-02-01T00:00:00Z'+created_timestamp:<'2024-03-01T00:00:00Z'", true},
		{"first shard open below", "", time.Time{}, hi, "created_timestamp:<'2024-03-01T00:00:00Z'", true},
		{"last shard open above", "aid:'x'", lo, time.Time{}, "aid:'x'+created_timestamp:>='2024-02-01T00:00:00Z'", true},
		{"unparseable filter is not sharded", "status:'open'+(", lo, hi, "", false},
	} {
		got, ok, err := shardFilter(tc.user, tc.lo, tc.hi)
		if err != nil || ok != tc.ok || got != tc.want {
			t.Errorf("%s: shardFilter = %q, %v, %v; want %q, %v", tc.name, got, ok, err, tc.want, tc.ok)
		}
	}
}

func TestFQLFieldNamesAndHints(t *testing.T) {
	for _, tc := range []struct{ filter, want string }{
		{"status:'open'+cve.id:['CVE-1']", "status,cve.id"},
		{`hostname:'a:b\'c:d'+tags:'x'`, "hostname,tags"},
		{"(a:1,b.c:!'x')", "a,b.c"},
		{"", ""},
	} {
		if got := strings.Join(fqlFieldNames(tc.filter), ","); got != tc.want {
			t.Errorf("fqlFieldNames(%q) = %q, want %q", tc.filter, got, tc.want)
		}
	}
	h := filterHint(OpCombinedFindings, "cve.id.insensitive:'x'+bogus:'y'", FilterFields(OpCombinedFindings))
	if !strings.Contains(h, "field(s) bogus that") || strings.Contains(h, "cve.id.insensitive that") {
		t.Errorf("hint %q should flag bogus and accept .insensitive", h)
	}
	for _, e := range Endpoints() {
		if e.Op == "" || e.Path == "" || (e.Op != OpToken && e.Scope == "") {
			t.Errorf("endpoint table row incomplete: %+v", e)
		}
	}
	if FilterFields("nope") != nil || len(FilterFields(OpQueryIntelVulns)) == 0 {
		t.Error("FilterFields lookup")
	}
}

func TestAPIErrorScrubsSecret(t *testing.T) {
	c := testClient(Config{})
	c.secret = "topsecret"
	e := c.newAPIError(OpQueryHosts, 500, []apiMessage{{Message: "echo topsecret\nline2"}}, "t1", "")
	if strings.Contains(e.Error(), "topsecret") || strings.Contains(e.Error(), "\n") {
		t.Errorf("server text not scrubbed: %q", e.Error())
	}
	if !e.Temporary() || c.newAPIError(OpQueryHosts, 403, nil, "", "").Temporary() {
		t.Error("Temporary classification")
	}
}

func TestCAFileMustHoldPEM(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(context.Background(), Config{ClientID: "a", ClientSecret: "b", BaseURL: "https://127.0.0.1:1", CAFile: p})
	if err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("got %v", err)
	}
}
