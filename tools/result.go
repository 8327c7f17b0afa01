package tools

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Result is what a tool returns: a one-paragraph summary for people and
// models, and compact JSON data (the MCP structured content). A failed call
// is a Result too, with Error set: tool errors are for the model to read and
// act on, not protocol failures.
type Result struct {
	Summary string
	Data    any
	Error   *ToolError
}

// Error kinds.
const (
	KindInvalidArguments = "invalid_arguments"
	KindPermissionDenied = "permission_denied"
	KindNotFound         = "not_found"
	KindUnknownTool      = "unknown_tool"
	KindUnavailable      = "unavailable" // e.g. the snapshot is still being built
	KindUpstream         = "upstream"    // Falcon failed
	KindCancelled        = "cancelled"
	KindInternal         = "internal"
)

// ToolError is a failed call: its kind and a message that says what was
// wrong and what is allowed. Messages never carry secrets; external text in
// them is cleaned and quoted.
type ToolError struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

func (e *ToolError) Error() string { return e.Message }

func invalidArgs(format string, a ...any) error {
	return &ToolError{Kind: KindInvalidArguments, Message: fmt.Sprintf(format, a...)}
}

func notFound(format string, a ...any) error {
	return &ToolError{Kind: KindNotFound, Message: fmt.Sprintf(format, a...)}
}

func unavailable(format string, a ...any) error {
	return &ToolError{Kind: KindUnavailable, Message: fmt.Sprintf(format, a...)}
}

// errorResult wraps a ToolError as a Result.
func errorResult(te *ToolError) *Result {
	return &Result{Summary: te.Message, Data: map[string]any{"error": te}, Error: te}
}

// Outcome is "ok" or the error kind, for metrics and audit.
func (r *Result) Outcome() string {
	if r.Error != nil {
		return r.Error.Kind
	}
	return "ok"
}

// JSON is the compact encoding of Data.
func (r *Result) JSON() ([]byte, error) { return json.Marshal(r.Data) }

// ---- cursors ----

// cursor is the opaque paging token of every list. It binds the page
// position to the tool, the query (a digest of the arguments that shape the
// list) and, for snapshot lists, the snapshot generation, so a cursor cannot
// silently page through a different list.
type cursor struct {
	Tool  string `json:"t"`
	Query string `json:"q"`
	Gen   uint64 `json:"g,omitempty"`
	Off   int    `json:"o,omitempty"`
	After string `json:"a,omitempty"` // Falcon's own cursor
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// queryDigest identifies the arguments that shape a list.
func queryDigest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func decodeCursor(s, tool, query string) (cursor, error) {
	if s == "" {
		return cursor{Tool: tool, Query: query}, nil
	}
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Tool == "" || c.Off < 0 {
		return c, invalidArgs("cursor: not a cursor this server issued; pass the `next` value of a previous %s result, or omit it for the first page", tool)
	}
	if c.Tool != tool {
		return c, invalidArgs("cursor: issued by %s, not %s; omit it for the first page", clean(c.Tool, 64), tool)
	}
	if c.Query != query {
		return c, invalidArgs("cursor: belongs to a different query (filter, sort or other list arguments changed); repeat the same arguments or omit the cursor")
	}
	return c, nil
}

// ---- untrusted text ----

// clean makes external text safe to place in a result: control and format
// characters (bidi overrides, zero-width) are dropped, whitespace runs
// become one space, and the text is cut to max runes with an ellipsis. It
// does not make text trustworthy: results carry it only inside JSON fields,
// as data.
func clean(s string, max int) string {
	if s == "" || plainASCII(s, max) {
		return s
	}
	out := make([]rune, 0, min(len(s), max+1))
	space := false
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			continue
		case unicode.IsSpace(r):
			space = len(out) > 0
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Co, r):
			continue
		}
		if space {
			out = append(out, ' ')
			space = false
		}
		out = append(out, r)
		if len(out) > max {
			break
		}
	}
	if len(out) > max {
		out = append(out[:max-1], '…')
	}
	return string(out)
}

// plainASCII reports whether clean would return s unchanged: printable
// ASCII, no leading, trailing or repeated spaces, short enough. Most
// strings are, and this spares them an allocation.
func plainASCII(s string, max int) bool {
	if len(s) > max || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 && !(c == ' ' && s[i-1] != ' ') || c > 0x7e {
			return false
		}
	}
	return true
}

// CleanText is clean for other packages that place external text in
// results (resources, the agent).
func CleanText(s string, max int) string { return clean(s, max) }

// cleanAll cleans each string and keeps at most n of them.
func cleanAll(in []string, n, max int) []string {
	out := make([]string, 0, min(len(in), n))
	for _, s := range in {
		if len(out) == n {
			break
		}
		if c := clean(s, max); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// classify turns a handler error into a ToolError.
func classify(err error) *ToolError {
	var te *ToolError
	if errors.As(err, &te) {
		return te
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &ToolError{Kind: KindCancelled, Message: "the call was cancelled"}
	case errors.Is(err, context.DeadlineExceeded):
		return &ToolError{Kind: KindCancelled, Message: "the call timed out"}
	}
	return nil
}
