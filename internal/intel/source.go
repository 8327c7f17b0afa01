// Package intel loads public threat feeds — the CISA Known Exploited
// Vulnerabilities catalog and FIRST EPSS scores — from the bundled snapshot, a
// file, or an http(s) URL, validates them, and answers look-ups by CVE id.
//
// Feeds are read-only once loaded, so one *KEV or *EPSS can be shared by any
// number of goroutines.
package intel

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Default size limits. The KEV catalog is about 1.3 MB and the full EPSS CSV
// about 10 MB uncompressed (2025); the limits leave room to grow while
// refusing a runaway or hostile response (including a gzip bomb).
const (
	DefaultMaxKEVBytes  = 64 << 20
	DefaultMaxEPSSBytes = 256 << 20
	defaultHTTPTimeout  = 2 * time.Minute
)

// Loader reads feeds. The zero value is ready to use: a private HTTP client
// with a timeout, and the default size limits.
type Loader struct {
	// Client fetches http(s) sources; nil means a client with a 2-minute
	// timeout. Tests point it at an httptest server.
	Client *http.Client
	// MaxBytes caps the (decompressed) size of one feed; 0 means the default
	// for the feed kind.
	MaxBytes int64
}

// errTooLarge is wrapped into the error returned when a source exceeds the
// size limit.
var errTooLarge = errors.New("exceeds the size limit")

// isURL reports whether src names an http(s) resource rather than a path.
func isURL(src string) bool {
	l := strings.ToLower(src)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// displaySource is how a source appears in errors and provenance: URLs lose
// their user info, query and fragment, which may carry credentials.
func displaySource(src string) string {
	if !isURL(src) {
		return src
	}
	u, err := url.Parse(src)
	if err != nil {
		return "<unparseable URL>"
	}
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	u.Fragment = ""
	u.RawFragment = ""
	return u.String()
}

// read returns the whole content of src (a path or an http(s) URL), at most
// limit bytes, transparently gunzipped when it starts with the gzip magic.
func (l Loader) read(ctx context.Context, src string, limit int64) ([]byte, error) {
	if src == "" {
		return nil, errors.New("no source given (want a file path or an http(s) URL)")
	}
	var r io.ReadCloser
	if isURL(src) {
		rc, err := l.get(ctx, src)
		if err != nil {
			return nil, err
		}
		r = rc
	} else {
		if strings.Contains(src, "://") {
			return nil, fmt.Errorf("unsupported URL scheme (want a file path or an http(s) URL)")
		}
		f, err := os.Open(src)
		if err != nil {
			// The *PathError already names the path.
			return nil, err
		}
		r = f
	}
	defer r.Close()
	return readMaybeGzip(ctx, r, limit)
}

func (l Loader) get(ctx context.Context, src string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, fmt.Errorf("bad URL: %w", errors.Unwrap(err))
	}
	c := l.Client
	if c == nil {
		c = &http.Client{Timeout: defaultHTTPTimeout}
	}
	resp, err := c.Do(req)
	if err != nil {
		// *url.Error repeats the full URL (query included); keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("GET failed: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET returned HTTP %d (want 200)", resp.StatusCode)
	}
	return resp.Body, nil
}

// readMaybeGzip reads r fully, gunzipping when the first bytes are the gzip
// magic (1f 8b), and fails once more than limit bytes of content are seen.
func readMaybeGzip(ctx context.Context, r io.Reader, limit int64) ([]byte, error) {
	br := &ctxReader{ctx: ctx, r: r}
	head := make([]byte, 2)
	n, err := io.ReadFull(br, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	head = head[:n]
	var content io.Reader = io.MultiReader(bytes.NewReader(head), br)
	if n == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(content)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		content = zr
	}
	data, err := io.ReadAll(io.LimitReader(content, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("content %w of %d bytes", errTooLarge, limit)
	}
	return data, nil
}

// ctxReader stops a long read (a slow server, a huge file) when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// isCVE reports whether s has the CVE id form CVE-YYYY-NNNN (4 or more digits).
func isCVE(s string) bool {
	if len(s) < 13 || s[:4] != "CVE-" || s[8] != '-' {
		return false
	}
	for i := 4; i < 8; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	for i := 9; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// normCVE upper-cases a CVE id without allocating when it already is.
func normCVE(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			return strings.ToUpper(strings.TrimSpace(s))
		}
	}
	if len(s) > 0 && (s[0] == ' ' || s[len(s)-1] == ' ') {
		return strings.TrimSpace(s)
	}
	return s
}
