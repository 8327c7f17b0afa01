package falcon

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gofalcon "github.com/crowdstrike/gofalcon/falcon"
	"github.com/crowdstrike/gofalcon/falcon/client"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Client is a Falcon API client for one tenant: gofalcon underneath, with
// vulnpilot's retry policy, error mapping and lean findings decoding. It is
// safe for concurrent use.
type Client struct {
	api    *client.CrowdStrikeAPISpecification
	cfg    Config
	secret string // for scrubbing server text; never printed
	log    *slog.Logger
	base   *http.Client // unauthenticated base client (token requests)
	host   string       // API host[:port]
	stats  counters

	remMu        sync.Mutex
	remediations map[string]Remediation // GetRemediations cache

	pageBufs sync.Pool // *bytes.Buffer for findings pages, reused across streams
}

// maxPooledPageBuf keeps unusually large page buffers out of the pool.
const maxPooledPageBuf = 64 << 20

func (c *Client) getPageBuf() *bytes.Buffer {
	if b, ok := c.pageBufs.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

func (c *Client) putPageBuf(b *bytes.Buffer) {
	if b.Cap() <= maxPooledPageBuf {
		b.Reset()
		c.pageBufs.Put(b)
	}
}

// Stats are a Client's cumulative counters.
type Stats struct {
	Requests        int64 // HTTP attempts, retries included
	Retries         int64 // attempts repeated after 429, 5xx or a transport error
	RateLimited     int64 // 429 responses
	ServerErrors    int64 // 5xx responses
	TransportErrors int64 // attempts that failed before a response
	PageRetries     int64 // findings pages fetched again because they were truncated or invalid
	BadTimestamps   int64 // timestamps that could not be read (decoded as zero)
	// RateLimitRemaining is the last X-RateLimit-Remaining seen; -1 unknown.
	RateLimitRemaining int64
}

type counters struct {
	requests, retries, rateLimited, serverErrors, transportErrors atomic.Int64
	pageRetries, badTimestamps                                    atomic.Int64
	remaining                                                     atomic.Int64
	cooldownUntil                                                 atomic.Int64 // unix nanos; shared rate-limit pause
}

// Stats returns a snapshot of the counters.
func (c *Client) Stats() Stats {
	return Stats{
		Requests:           c.stats.requests.Load(),
		Retries:            c.stats.retries.Load(),
		RateLimited:        c.stats.rateLimited.Load(),
		ServerErrors:       c.stats.serverErrors.Load(),
		TransportErrors:    c.stats.transportErrors.Load(),
		PageRetries:        c.stats.pageRetries.Load(),
		BadTimestamps:      c.stats.badTimestamps.Load(),
		RateLimitRemaining: c.stats.remaining.Load(),
	}
}

// API returns the underlying gofalcon client, authenticated and with the
// retry policy, for operations this package does not wrap. Map its errors
// with (*Client).Err.
func (c *Client) API() *client.CrowdStrikeAPISpecification { return c.api }

// Err maps an error from a call on API() to an *APIError for op (one of the
// Op* constants or another "service/operation" name).
func (c *Client) Err(op string, err error) error { return c.wrapErr(op, "", err) }

// New builds a Client. It does not contact Falcon (use Verify for that),
// except that Cloud "autodiscover" asks the us-1 token endpoint which cloud
// the credentials belong to. ctx carries values for the client's lifetime
// (token refreshes use a context detached from its cancellation).
func New(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, secret: cfg.ClientSecret, remediations: map[string]Remediation{}}
	c.stats.remaining.Store(-1)
	c.log = cfg.Logger
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	base, err := baseHTTPClient(cfg)
	if err != nil {
		return nil, err
	}
	c.base = base

	ac := &gofalcon.ApiConfig{
		ClientId:          cfg.ClientID,
		ClientSecret:      cfg.ClientSecret,
		MemberCID:         cfg.MemberCID,
		UserAgentOverride: strings.TrimSpace("vulnpilot " + cfg.UserAgent),
		// The oauth2 library takes its HTTP client from the context: this
		// is the only way the token request sees our TLS settings.
		Context:            context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, base),
		TransportDecorator: c.decorate,
	}
	timeout := orDefault(cfg.RequestTimeout, defaultRequestTimeout)
	ac.HttpTimeOutOverride = &timeout
	if cfg.BaseURL != "" {
		host, basePath, err := parseBaseURL(cfg.BaseURL)
		if err != nil {
			return nil, err
		}
		ac.HostOverride = host
		if basePath != "" {
			ac.BasePathOverride = basePath
		}
	} else {
		cloud, err := gofalcon.CloudValidate(cfg.cloudName())
		if err != nil {
			return nil, fmt.Errorf("falcon: Cloud %q (FALCON_CLOUD) is not one of %s", cfg.Cloud, strings.Join(Clouds, ", "))
		}
		ac.Cloud = cloud
	}
	api, err := gofalcon.NewClient(ac)
	if err != nil {
		// gofalcon's autodiscover errors can quote the server; keep the
		// secret out of them.
		return nil, fmt.Errorf("falcon: building the API client: %w", scrubErr{err, c})
	}
	c.api = api
	c.host = ac.Host()
	return c, nil
}

// Close releases the client's idle connections. The Client stays usable
// (new connections are opened on demand); call Close when done with it.
func (c *Client) Close() { c.base.CloseIdleConnections() }

// Verify fetches an OAuth2 token with the configured credentials: a cheap
// way to fail early with a clear *APIError (401) on bad credentials. Like
// gofalcon, it asks https://HOST/oauth2/token: a BaseURL's path applies to
// API calls, not to the token endpoint.
func (c *Client) Verify(ctx context.Context) error {
	cc := clientcredentials.Config{
		ClientID:     c.cfg.ClientID,
		ClientSecret: c.cfg.ClientSecret,
		TokenURL:     (&url.URL{Scheme: "https", Host: c.host, Path: "/oauth2/token"}).String(),
	}
	if c.cfg.MemberCID != "" {
		cc.EndpointParams = url.Values{"member_cid": {c.cfg.MemberCID}}
	}
	hc := *c.base
	hc.Transport = c.decorate(c.base.Transport)
	_, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, &hc))
	return c.wrapErr(OpToken, "", err)
}

// baseHTTPClient is the unauthenticated client under everything: the
// caller's, or one with connection pooling sized for parallel shards, with
// CAFile added to the trusted roots.
func baseHTTPClient(cfg Config) (*http.Client, error) {
	var hc http.Client
	if cfg.HTTPClient != nil {
		hc = *cfg.HTTPClient
	}
	if cfg.CAFile == "" {
		if hc.Transport == nil {
			hc.Transport = pooledTransport(nil)
		}
		return &hc, nil
	}
	pem, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("falcon: CAFile (VULNPILOT_FALCON_CA_FILE): %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("falcon: CAFile (VULNPILOT_FALCON_CA_FILE) %q holds no PEM certificate", cfg.CAFile)
	}
	var tr *http.Transport
	switch t := hc.Transport.(type) {
	case nil:
		tr = pooledTransport(nil)
	case *http.Transport:
		tr = t.Clone()
	default:
		return nil, fmt.Errorf("falcon: CAFile needs HTTPClient.Transport to be an *http.Transport (or nil), not %T", hc.Transport)
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr.TLSClientConfig.RootCAs = pool
	hc.Transport = tr
	return &hc, nil
}

func pooledTransport(tlsCfg *tls.Config) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Parallel shards each hold a connection; the default of 2 idle
	// connections per host would make them reconnect constantly.
	tr.MaxIdleConnsPerHost = 64
	tr.MaxIdleConns = 128
	if tlsCfg != nil {
		tr.TLSClientConfig = tlsCfg
	}
	return tr
}

// withDeadline applies the per-call timeout when ctx has none.
func (c *Client) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, orDefault(c.cfg.RequestTimeout, defaultRequestTimeout))
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
