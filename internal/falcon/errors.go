package falcon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	gofalcon "github.com/crowdstrike/gofalcon/falcon"
	"github.com/go-openapi/runtime"
	"golang.org/x/oauth2"
)

// APIError is a Falcon API call that failed with an HTTP status. Message and
// Hint are written for the operator; server-provided text is included only
// after the client secret has been scrubbed from it.
type APIError struct {
	Op      string // operation, e.g. "spotlight/combinedQueryVulnerabilities" (see Op* constants)
	Status  int    // HTTP status; 401 for any rejected credentials, token endpoint included
	Scope   string // the API scope the operation needs, e.g. "Vulnerabilities:read"
	Message string
	TraceID string // X-CS-TRACEID / meta.trace_id, for CrowdStrike support
	Hint    string // what to do about it
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "falcon %s: HTTP %d", e.Op, e.Status)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	if e.TraceID != "" {
		b.WriteString(" (trace id ")
		b.WriteString(e.TraceID)
		b.WriteString(")")
	}
	return b.String()
}

// Temporary reports whether retrying later may succeed (rate limits and
// server errors; these were already retried within the call's budget).
func (e *APIError) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// credentialsHint is the 401 advice. It names the variables, never values.
const credentialsHint = "check FALCON_CLIENT_ID and FALCON_CLIENT_SECRET (id and secret of the same API client, " +
	consoleAPIClientsPlace + ") and FALCON_CLOUD or FALCON_BASE_URL (the cloud the API client belongs to)"

// newAPIError builds the error for a failed operation from what the server
// said. filter is the request's FQL filter, when it had one.
func (c *Client) newAPIError(op string, status int, msgs []apiMessage, traceID, filter string) *APIError {
	e := &APIError{Op: op, Status: status, TraceID: c.scrub(traceID)}
	ep, _ := endpointFor(op)
	server := c.serverText(msgs)
	switch {
	case status == http.StatusUnauthorized || op == OpToken && status >= 400 && status < 500 && status != http.StatusTooManyRequests:
		e.Status = http.StatusUnauthorized
		e.Message = "Falcon rejected the API credentials"
		if status != http.StatusUnauthorized {
			e.Message += fmt.Sprintf(" (token endpoint answered HTTP %d)", status)
		}
		if server != "" {
			e.Message += ": " + server
		}
		e.Hint = credentialsHint
	case status == http.StatusForbidden:
		e.Scope = ep.Scope
		if e.Scope != "" {
			e.Message = fmt.Sprintf("API client lacks scope %s (%s)", e.Scope, consoleAPIClientsPlace)
			e.Hint = fmt.Sprintf("grant %s to the API client, or check the IP allowlist if it already has it", e.Scope)
		} else {
			e.Message = "access denied"
		}
		if server != "" {
			e.Message += "; Falcon said: " + server
		}
	case status == http.StatusBadRequest:
		e.Message = server
		if e.Message == "" {
			e.Message = "bad request"
		}
		e.Hint = filterHint(op, filter, ep.Fields)
	case status == http.StatusTooManyRequests:
		e.Message = "rate limited by Falcon; retries exhausted"
		if server != "" {
			e.Message += ": " + server
		}
		e.Hint = "lower FindingQuery.Parallel or retry later"
	default:
		e.Message = server
		if e.Message == "" {
			e.Message = http.StatusText(status)
		}
	}
	e.Scope = ep.Scope
	return e
}

// filterHint lists the fields the endpoint allows and, when the filter names
// fields outside that list, those too.
func filterHint(op, filter string, fields []string) string {
	if len(fields) == 0 {
		return ""
	}
	var unknown []string
	for _, f := range fqlFieldNames(filter) {
		base := strings.TrimSuffix(f, ".insensitive")
		if !slices.Contains(fields, base) && !slices.Contains(unknown, f) {
			unknown = append(unknown, f)
		}
	}
	h := ""
	if len(unknown) > 0 {
		h = fmt.Sprintf("the filter uses field(s) %s that %s does not accept; ", strings.Join(unknown, ", "), op)
	}
	return h + fmt.Sprintf("allowed FQL fields for %s: %s", op, strings.Join(fields, ", "))
}

// fqlFieldNames extracts the field names of an FQL filter (the identifiers
// before ':' outside quoted values). It is for hints only, not validation.
func fqlFieldNames(filter string) []string {
	var out []string
	start := -1
	for i := 0; i < len(filter); i++ {
		ch := filter[i]
		switch {
		case ch == '\'' || ch == '"':
			// Skip the quoted value, honouring backslash escapes.
			for i++; i < len(filter) && filter[i] != ch; i++ {
				if filter[i] == '\\' {
					i++
				}
			}
			start = -1
		case ch == '_' || ch == '.' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9':
			if start < 0 {
				start = i
			}
		case ch == ':':
			if start >= 0 {
				out = append(out, filter[start:i])
			}
			start = -1
		default:
			start = -1
		}
	}
	return out
}

// serverText joins the server's error messages, scrubbed and bounded: they
// are untrusted data shown to an operator.
func (c *Client) serverText(msgs []apiMessage) string {
	var parts []string
	for _, m := range msgs {
		if s := strings.TrimSpace(m.Message); s != "" && !slices.Contains(parts, s) {
			parts = append(parts, s)
		}
	}
	return c.scrub(strings.Join(parts, "; "))
}

// scrub removes the client secret and control characters from text that
// came from outside, and bounds its length.
func (c *Client) scrub(s string) string {
	if c != nil && c.secret != "" {
		s = strings.ReplaceAll(s, c.secret, "[REDACTED]")
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	const max = 500
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// wrapErr turns an error from a gofalcon call into an *APIError where the
// server answered, and otherwise names the operation.
func (c *Client) wrapErr(op, filter string, err error) error {
	return c.wrapErrCapture(op, filter, err, nil)
}

// wrapErrCapture is wrapErr with the failed response's body, when the call
// captured it (see withCapture).
func (c *Client) wrapErrCapture(op, filter string, err error, capt *errCapture) error {
	if err == nil {
		return nil
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := http.StatusUnauthorized
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		var msgs []apiMessage
		if re.ErrorDescription != "" {
			msgs = append(msgs, apiMessage{Message: re.ErrorDescription})
		} else if len(re.Body) > 0 {
			msgs = parseErrorBody(re.Body).Errors
		}
		trace := ""
		if re.Response != nil {
			trace = re.Response.Header.Get("X-Cs-Traceid")
		}
		return c.newAPIError(OpToken, status, msgs, trace, "")
	}
	var captured errorBody
	if capt != nil && capt.status >= 400 {
		captured = parseErrorBody(capt.body)
		if captured.Meta.TraceID == "" {
			captured.Meta.TraceID = capt.trace
		}
	}
	var rtErr *runtime.APIError
	if errors.As(err, &rtErr) {
		trace := captured.Meta.TraceID
		if rtErr.Response != nil {
			if cr, ok := rtErr.Response.(runtime.ClientResponse); ok && cr.GetHeader("X-Cs-Traceid") != "" {
				trace = cr.GetHeader("X-Cs-Traceid")
			}
		}
		return c.newAPIError(op, rtErr.Code, captured.Errors, trace, filter)
	}
	// gofalcon's generated error types all have Code() and most a Payload
	// with errors and meta.trace_id.
	if coder, ok := err.(interface{ Code() int }); ok {
		var body errorBody
		if p := gofalcon.ErrorExtractPayload(err); p != nil {
			if raw, mErr := p.MarshalBinary(); mErr == nil {
				body = parseErrorBody(raw)
			}
		}
		if len(body.Errors) == 0 {
			body.Errors = captured.Errors
		}
		trace := body.Meta.TraceID
		if trace == "" {
			trace = captured.Meta.TraceID
		}
		if v := reflect.Indirect(reflect.ValueOf(err)); v.Kind() == reflect.Struct {
			if f := v.FieldByName("XCSTRACEID"); f.IsValid() && f.Kind() == reflect.String && f.String() != "" {
				trace = f.String()
			}
		}
		return c.newAPIError(op, coder.Code(), body.Errors, trace, filter)
	}
	return fmt.Errorf("falcon %s: %w", op, scrubErr{err, c})
}

// scrubErr keeps a wrapped transport error's text free of the secret.
type scrubErr struct {
	err error
	c   *Client
}

func (s scrubErr) Error() string { return s.c.scrub(s.err.Error()) }
func (s scrubErr) Unwrap() error { return s.err }

type errorBody struct {
	Errors []apiMessage `json:"errors"`
	Meta   struct {
		TraceID string `json:"trace_id"`
	} `json:"meta"`
}

func parseErrorBody(b []byte) errorBody {
	var body errorBody
	if json.Unmarshal(b, &body) != nil {
		// Not the usual envelope: keep a short excerpt of the text.
		if s := strings.TrimSpace(string(b)); s != "" {
			if len(s) > 200 {
				s = s[:200]
			}
			body.Errors = []apiMessage{{Message: s}}
		}
	}
	return body
}

// Cursor is where one part of a findings stream continues. Pass a list of
// them as FindingQuery.Resume; a Cursor with empty Sort and Exclude can
// also be resumed as FindingQuery{Filter: c.Filter, After: c.After}.
type Cursor struct {
	Filter string `json:"filter"`
	After  string `json:"after,omitempty"` // empty: from the start of Filter
	// Sort is the sort the cursor was issued under (an after cursor is only
	// valid with the same filter and sort).
	Sort string `json:"sort,omitempty"`
	// Exclude lists finding ids already delivered that this part would
	// return again (findings of the second at which a dense shard was split).
	Exclude []string `json:"exclude,omitempty"`
}

// PageError is a findings page that stayed truncated or invalid through all
// page retries. Everything before it was delivered exactly once; the
// cursors say where to continue.
type PageError struct {
	Shard    int      // index of the failing shard
	Filter   string   // the failing shard's complete filter
	After    string   // resume cursor of the failing shard: its first undelivered page
	Fetched  int      // findings delivered by the stream before it failed
	Attempts int      // how often the failing page was fetched
	Pending  []Cursor // every unfinished shard, the failing one included
	Err      error    // the last failure
}

func (e *PageError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "falcon: findings page (shard %d) stayed invalid after %d attempts: %v; %d findings were delivered before. ",
		e.Shard, e.Attempts, e.Err, e.Fetched)
	if len(e.Pending) == 1 && e.Pending[0].Sort == "" && len(e.Pending[0].Exclude) == 0 {
		fmt.Fprintf(&b, "Resume with FindingQuery{Filter: %q, After: %q}", e.Filter, e.After)
	} else {
		fmt.Fprintf(&b, "Resume with FindingQuery{Resume: err.Pending} (%d unfinished shards; the failing one is Filter %q, After %q)",
			len(e.Pending), e.Filter, e.After)
	}
	b.WriteString(", or narrow the filter (e.g. a shorter created_timestamp range) to skip the bad page")
	return b.String()
}

func (e *PageError) Unwrap() error { return e.Err }
