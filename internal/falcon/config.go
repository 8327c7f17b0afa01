package falcon

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// Clouds are the accepted values of Config.Cloud (gofalcon's CloudType names).
var Clouds = []string{"us-1", "us-2", "eu-1", "us-gov-1", "us-gov-2", "autodiscover"}

// Config says how to reach one Falcon tenant.
type Config struct {
	// ClientID and ClientSecret are the OAuth2 API client credentials
	// (FALCON_CLIENT_ID / FALCON_CLIENT_SECRET). The secret is never logged
	// or printed: String, GoString and LogValue redact it.
	ClientID, ClientSecret string
	// Cloud is one of Clouds; empty means us-1. Ignored when BaseURL is set.
	Cloud string
	// BaseURL overrides Cloud: host[:port] with an optional base path, with
	// or without the https:// scheme, e.g. https://127.0.0.1:8443. The base
	// path prefixes API calls; the token is always fetched from
	// https://HOST/oauth2/token (gofalcon's rule).
	BaseURL string
	// MemberCID selects a child CID in a Flight Control (MSSP) parent.
	MemberCID string
	// CAFile is a PEM file of extra CAs to trust (for example the
	// simulator's certificate), added to the system pool.
	CAFile string
	// HTTPClient is the base client for every request, the token request
	// included (tests, demo). Its Transport is used as is; CAFile, when also
	// set, is added to a clone of an *http.Transport.
	HTTPClient *http.Client
	// MaxRetries bounds the retries of one idempotent request on 429, 5xx
	// and transport errors: 0 means the default (4), -1 disables retries.
	MaxRetries int
	// UserAgent is prepended to gofalcon's user agent.
	UserAgent string
	// Logger receives debug logs of retries and rate limiting; nil discards.
	Logger *slog.Logger

	// RetryBaseDelay and RetryMaxDelay shape the exponential backoff with
	// full jitter (defaults 500ms and 30s). A server's
	// X-RateLimit-RetryAfter is honoured up to MaxRateLimitWait (default 2m).
	RetryBaseDelay, RetryMaxDelay, MaxRateLimitWait time.Duration
	// PageRetries bounds how often one findings page that arrived
	// truncated or invalid is fetched again (same cursor) before the stream
	// fails with a *PageError: 0 means the default (3), -1 disables.
	PageRetries int
	// RequestTimeout bounds one API call including its retries (default 5m).
	RequestTimeout time.Duration
}

const (
	defaultMaxRetries       = 4
	defaultPageRetries      = 3
	defaultRetryBaseDelay   = 500 * time.Millisecond
	defaultRetryMaxDelay    = 30 * time.Second
	defaultMaxRateLimitWait = 2 * time.Minute
	defaultRequestTimeout   = 5 * time.Minute
)

// Validate checks the configuration without network access. Each error names
// the field (and its environment variable) and what is allowed.
func (c Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.ClientID) == "" {
		errs = append(errs, errors.New("falcon: ClientID is empty: set FALCON_CLIENT_ID to the API client's id (Falcon console → Support and resources → API clients and keys)"))
	}
	if c.ClientSecret == "" {
		errs = append(errs, errors.New("falcon: ClientSecret is empty: set FALCON_CLIENT_SECRET to the API client's secret"))
	}
	if c.Cloud != "" && !slices.Contains(Clouds, strings.ToLower(strings.TrimSpace(c.Cloud))) {
		errs = append(errs, fmt.Errorf("falcon: Cloud %q (FALCON_CLOUD) is not one of %s", c.Cloud, strings.Join(Clouds, ", ")))
	}
	if c.BaseURL != "" {
		if _, _, err := parseBaseURL(c.BaseURL); err != nil {
			errs = append(errs, err)
		}
		if strings.EqualFold(strings.TrimSpace(c.Cloud), "autodiscover") {
			errs = append(errs, errors.New("falcon: Cloud autodiscover cannot be combined with BaseURL (FALCON_BASE_URL): leave Cloud empty or drop BaseURL"))
		}
	}
	if c.CAFile != "" {
		if st, err := os.Stat(c.CAFile); err != nil {
			errs = append(errs, fmt.Errorf("falcon: CAFile (VULNPILOT_FALCON_CA_FILE) %q: %v", c.CAFile, err))
		} else if st.IsDir() {
			errs = append(errs, fmt.Errorf("falcon: CAFile (VULNPILOT_FALCON_CA_FILE) %q is a directory; it must be a PEM file", c.CAFile))
		}
	}
	if c.MaxRetries < -1 {
		errs = append(errs, fmt.Errorf("falcon: MaxRetries %d: allowed are -1 (no retries), 0 (default %d) or a positive count", c.MaxRetries, defaultMaxRetries))
	}
	if c.PageRetries < -1 {
		errs = append(errs, fmt.Errorf("falcon: PageRetries %d: allowed are -1 (no retries), 0 (default %d) or a positive count", c.PageRetries, defaultPageRetries))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"RetryBaseDelay", c.RetryBaseDelay}, {"RetryMaxDelay", c.RetryMaxDelay}, {"MaxRateLimitWait", c.MaxRateLimitWait}, {"RequestTimeout", c.RequestTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("falcon: %s %v is negative: allowed are 0 (default) or a positive duration", d.name, d.v))
		}
	}
	if strings.ContainsAny(c.UserAgent, "\r\n") {
		errs = append(errs, errors.New("falcon: UserAgent must be a single line"))
	}
	return errors.Join(errs...)
}

// parseBaseURL splits a BaseURL into host[:port] and base path.
func parseBaseURL(raw string) (host, basePath string, err error) {
	s := strings.TrimSpace(raw)
	bad := func(why string) error {
		return fmt.Errorf("falcon: BaseURL (FALCON_BASE_URL) %q %s; allowed: https://host[:port][/base/path] or host[:port], e.g. https://api.crowdstrike.com or https://127.0.0.1:8443", raw, why)
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", "", bad("is not a URL")
	}
	switch {
	case u.Scheme != "https":
		return "", "", bad("must use https (gofalcon always speaks https)")
	case u.Host == "" || u.Hostname() == "":
		return "", "", bad("has no host")
	case u.User != nil:
		return "", "", bad("must not carry credentials")
	case u.RawQuery != "" || u.Fragment != "":
		return "", "", bad("must not have a query or fragment")
	}
	basePath = strings.TrimRight(u.Path, "/")
	return u.Host, basePath, nil
}

// String describes the configuration with the secret redacted.
func (c Config) String() string {
	target := c.BaseURL
	if target == "" {
		target = "cloud " + c.cloudName()
	}
	s := fmt.Sprintf("falcon.Config{ClientID: %q, ClientSecret: %s, %s", c.ClientID, redacted(c.ClientSecret), target)
	if c.MemberCID != "" {
		s += fmt.Sprintf(", MemberCID: %q", c.MemberCID)
	}
	if c.CAFile != "" {
		s += fmt.Sprintf(", CAFile: %q", c.CAFile)
	}
	return s + "}"
}

// GoString keeps %#v from printing the secret.
func (c Config) GoString() string { return c.String() }

// LogValue keeps slog from printing the secret.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("client_id", c.ClientID),
		slog.String("client_secret", redacted(c.ClientSecret)),
		slog.String("cloud", c.cloudName()),
		slog.String("base_url", c.BaseURL),
		slog.String("member_cid", c.MemberCID),
	)
}

func (c Config) cloudName() string {
	if c.Cloud == "" {
		return "us-1"
	}
	return strings.ToLower(strings.TrimSpace(c.Cloud))
}

func redacted(secret string) string {
	if secret == "" {
		return `""`
	}
	return "[REDACTED]"
}

func (c Config) maxRetries() int  { return retryCount(c.MaxRetries, defaultMaxRetries) }
func (c Config) pageRetries() int { return retryCount(c.PageRetries, defaultPageRetries) }

// retryCount reads a retry setting: negative means none, 0 the default.
func retryCount(n, def int) int {
	switch {
	case n < 0:
		return 0
	case n == 0:
		return def
	}
	return n
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
