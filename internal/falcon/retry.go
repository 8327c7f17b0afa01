package falcon

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// decorate wraps gofalcon's authenticated transport with vulnpilot's retry
// policy (gofalcon's own RetryConfig logs through logrus and cannot be
// observed, so it stays off).
func (c *Client) decorate(next http.RoundTripper) http.RoundTripper {
	return &retryTransport{next: next, c: c}
}

type retryTransport struct {
	next http.RoundTripper
	c    *Client
}

// retryable reports whether a request may be sent twice: reads only. The
// POST endpoints that take ids in the body are reads too, and so is the
// token request.
func retryable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	case http.MethodPost:
		return idempotentPOST(req.URL.Path) || strings.HasSuffix(req.URL.Path, "/oauth2/token")
	}
	return false
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	ctx := req.Context()
	maxRetries := 0
	if retryable(req) {
		maxRetries = c.cfg.maxRetries()
	}
	var body []byte
	if maxRetries > 0 && req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		// Keep the body to send it again; read endpoints' bodies are small
		// id lists.
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	for attempt := 0; ; attempt++ {
		if err := c.waitCooldown(ctx); err != nil {
			return nil, err
		}
		r := req
		if attempt > 0 || body != nil {
			r = req.Clone(ctx)
			switch {
			case body != nil:
				r.Body = io.NopCloser(bytes.NewReader(body))
			case req.GetBody != nil:
				b, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = b
			}
		}
		c.stats.requests.Add(1)
		resp, err := t.next.RoundTrip(r)
		wait, why := c.classify(resp, err)
		if why == "" || attempt >= maxRetries || ctx.Err() != nil {
			captureError(ctx, resp)
			return resp, err
		}
		if resp != nil {
			// Drain so the connection can be reused, then retry.
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
		}
		if wait <= 0 {
			wait = c.backoff(attempt)
		}
		c.stats.retries.Add(1)
		c.log.LogAttrs(ctx, slog.LevelDebug, "falcon: retrying request",
			slog.String("method", req.Method), slog.String("path", req.URL.Path),
			slog.String("reason", why), slog.Int("attempt", attempt+1), slog.Duration("wait", wait))
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// classify records a response's rate-limit headers and says whether (and
// after how long, when the server said so) to retry. why is empty when the
// outcome is final.
func (c *Client) classify(resp *http.Response, err error) (wait time.Duration, why string) {
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return 0, ""
		}
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			// The token request failed inside the authenticated transport:
			// bad credentials are final, a busy token endpoint is not.
			if re.Response == nil {
				return 0, ""
			}
			switch code := re.Response.StatusCode; {
			case code == http.StatusTooManyRequests:
				c.stats.rateLimited.Add(1)
				return c.retryAfter(re.Response.Header), "token endpoint rate limited"
			case code >= 500:
				c.stats.serverErrors.Add(1)
				return 0, "token endpoint HTTP " + strconv.Itoa(code)
			}
			return 0, ""
		}
		c.stats.transportErrors.Add(1)
		return 0, "transport error"
	}
	h := resp.Header
	if s := h.Get("X-RateLimit-Remaining"); s != "" {
		if n, perr := strconv.ParseInt(s, 10, 64); perr == nil {
			c.stats.remaining.Store(n)
			if n <= 0 {
				// The window is used up: pause everyone until it resets
				// instead of collecting 429s.
				if d := c.retryAfter(h); d > 0 {
					c.setCooldown(d)
				}
			}
		}
	}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests:
		c.stats.rateLimited.Add(1)
		d := c.retryAfter(h)
		if d > 0 {
			c.setCooldown(d)
		}
		return d, "rate limited (429)"
	case code >= 500:
		c.stats.serverErrors.Add(1)
		return 0, "HTTP " + strconv.Itoa(code)
	}
	return 0, ""
}

// retryAfter reads X-RateLimit-RetryAfter (epoch seconds, Falcon) or
// Retry-After (seconds, HTTP), bounded by MaxRateLimitWait.
func (c *Client) retryAfter(h http.Header) time.Duration {
	var d time.Duration
	if s := h.Get("X-RateLimit-RetryAfter"); s != "" {
		if epoch, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
			d = time.Until(time.Unix(epoch, 0))
			if d <= 0 {
				// Already past (clock skew, or the second just ended):
				// a short pause rather than none.
				d = 100 * time.Millisecond
			}
		}
	} else if s := h.Get("Retry-After"); s != "" {
		if secs, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && secs >= 0 {
			d = time.Duration(secs) * time.Second
		}
	}
	if maxWait := orDefault(c.cfg.MaxRateLimitWait, defaultMaxRateLimitWait); d > maxWait {
		d = maxWait
	}
	return d
}

// backoff is exponential with full jitter: uniform in [0, min(max, base·2^n)].
func (c *Client) backoff(attempt int) time.Duration {
	base := orDefault(c.cfg.RetryBaseDelay, defaultRetryBaseDelay)
	ceiling := orDefault(c.cfg.RetryMaxDelay, defaultRetryMaxDelay)
	d := base
	for i := 0; i < attempt && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

func (c *Client) setCooldown(d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	for {
		cur := c.stats.cooldownUntil.Load()
		if cur >= until || c.stats.cooldownUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// waitCooldown holds a request while the tenant's rate-limit window is
// exhausted, so that parallel shards back off together.
func (c *Client) waitCooldown(ctx context.Context) error {
	until := c.stats.cooldownUntil.Load()
	if until == 0 {
		return nil
	}
	d := time.Until(time.Unix(0, until))
	if d <= 0 {
		return nil
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "falcon: waiting for the rate-limit window", slog.Duration("wait", d))
	return c.sleep(ctx, d)
}

// errCapture keeps the status, body and trace id of a failed response for
// the caller that put it in the request context: gofalcon's generated
// readers drop the body of statuses they do not model (a 400 from the
// Hosts API, for example), and with it Falcon's explanation.
type errCapture struct {
	status int
	body   []byte
	trace  string
}

type captureKey struct{}

func withCapture(ctx context.Context) (context.Context, *errCapture) {
	capt := &errCapture{}
	return context.WithValue(ctx, captureKey{}, capt), capt
}

func captureError(ctx context.Context, resp *http.Response) {
	if resp == nil || resp.StatusCode < 400 {
		return
	}
	capt, _ := ctx.Value(captureKey{}).(*errCapture)
	if capt == nil {
		return
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	capt.status, capt.body, capt.trace = resp.StatusCode, b, resp.Header.Get("X-Cs-Traceid")
}
