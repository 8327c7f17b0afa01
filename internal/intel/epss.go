package intel

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// EPSSRow is one CVE's EPSS score: the probability of exploitation activity
// in the next 30 days, and that probability's percentile among all scored
// CVEs.
type EPSSRow struct {
	EPSS       float64 `json:"epss"`
	Percentile float64 `json:"percentile"`
}

// EPSS is a loaded FIRST EPSS daily score file.
//
// FIRST publishes the file as CSV (usually gzipped): a metadata comment line,
// a header, then one row per CVE:
//
//	#model_version:v2025.03.14,score_date:2025-06-01T12:55:00Z
//	cve,epss,percentile
//	CVE-1999-0001,0.0046,0.7385
//
// A CVE absent from the file has no EPSS score: Lookup says so with ok=false
// rather than inventing a zero.
type EPSS struct {
	ModelVersion string    // e.g. v2025.03.14; empty when the file had no metadata line
	ScoreDate    time.Time // zero when the file had no metadata line
	// Source is the file path, or the URL stripped of credentials, query and
	// fragment.
	Source string

	rows map[string]EPSSRow
}

// Lookup returns the EPSS row for cve (case-insensitive). ok is false when
// the feed is nil or does not score the CVE: "EPSS unknown", never zero.
func (e *EPSS) Lookup(cve string) (EPSSRow, bool) {
	if e == nil {
		return EPSSRow{}, false
	}
	r, ok := e.rows[normCVE(cve)]
	return r, ok
}

// Len is the number of scored CVEs.
func (e *EPSS) Len() int {
	if e == nil {
		return 0
	}
	return len(e.rows)
}

// ScoreDay is the score date as YYYY-MM-DD, or "" when unknown.
func (e *EPSS) ScoreDay() string {
	if e == nil || e.ScoreDate.IsZero() {
		return ""
	}
	return e.ScoreDate.Format(time.DateOnly)
}

// LoadEPSS reads an EPSS CSV (plain or gzipped, detected by its magic bytes)
// from a file path or an http(s) URL.
func LoadEPSS(ctx context.Context, src string) (*EPSS, error) {
	return Loader{}.EPSS(ctx, src)
}

// EPSS reads an EPSS CSV from a file path or an http(s) URL.
func (l Loader) EPSS(ctx context.Context, src string) (*EPSS, error) {
	limit := l.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxEPSSBytes
	}
	disp := displaySource(src)
	data, err := l.read(ctx, src, limit)
	if err != nil {
		return nil, fmt.Errorf("epss %s: %w", disp, err)
	}
	return ParseEPSS(data, disp)
}

// ParseEPSS parses EPSS CSV content (already decompressed); source names it
// in errors.
func ParseEPSS(data []byte, source string) (*EPSS, error) {
	fail := func(line int, format string, args ...any) error {
		return fmt.Errorf("epss %s: line %d: "+format, append([]any{source, line}, args...)...)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	e := &EPSS{Source: source}
	// A full feed has ~300k rows of ~30 bytes each.
	e.rows = make(map[string]EPSSRow, len(data)/32)
	line := 0
	sawHeader := false
	for len(data) > 0 {
		var raw []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			raw, data = data, nil
		}
		line++
		raw = bytes.TrimSuffix(raw, []byte("\r"))
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		if raw[0] == '#' {
			if sawHeader {
				return nil, fail(line, "metadata comment after the header (want it before \"cve,epss,percentile\")")
			}
			if err := e.parseMeta(string(raw[1:])); err != nil {
				return nil, fail(line, "%v", err)
			}
			continue
		}
		if !sawHeader {
			h := strings.ToLower(strings.ReplaceAll(string(raw), " ", ""))
			if h != "cve,epss,percentile" {
				return nil, fail(line, "header %q, want \"cve,epss,percentile\"", clip(string(raw)))
			}
			sawHeader = true
			continue
		}
		cveB, rest, ok1 := bytes.Cut(raw, []byte{','})
		epssB, pctB, ok2 := bytes.Cut(rest, []byte{','})
		if !ok1 || !ok2 || bytes.IndexByte(pctB, ',') >= 0 {
			return nil, fail(line, "want 3 fields cve,epss,percentile, got %q", clip(string(raw)))
		}
		cve := normCVE(string(bytes.TrimSpace(cveB)))
		if !isCVE(cve) {
			return nil, fail(line, "cve: %q is not a CVE id (want CVE-YYYY-NNNN)", clip(cve))
		}
		p, err := parseUnit(epssB)
		if err != nil {
			return nil, fail(line, "epss: %v", err)
		}
		pct, err := parseUnit(pctB)
		if err != nil {
			return nil, fail(line, "percentile: %v", err)
		}
		if _, dup := e.rows[cve]; dup {
			return nil, fail(line, "cve: %s is listed twice", cve)
		}
		e.rows[cve] = EPSSRow{EPSS: p, Percentile: pct}
	}
	if !sawHeader {
		return nil, fmt.Errorf("epss %s: no header line (want \"cve,epss,percentile\")", source)
	}
	if len(e.rows) == 0 {
		return nil, fmt.Errorf("epss %s: no score rows after the header", source)
	}
	return e, nil
}

// parseMeta reads "model_version:v2025.03.14,score_date:2025-06-01T12:55:00Z".
// Unknown keys are ignored so that FIRST can add some.
func (e *EPSS) parseMeta(s string) error {
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model_version":
			e.ModelVersion = strings.TrimSpace(v)
		case "score_date":
			v = strings.TrimSpace(v)
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				t, err = time.Parse(time.DateOnly, v)
			}
			if err != nil {
				return fmt.Errorf("score_date: %q is neither an RFC 3339 time nor a YYYY-MM-DD date", clip(v))
			}
			e.ScoreDate = t.UTC()
		}
	}
	return nil
}

// parseUnit parses a probability in [0,1].
func parseUnit(b []byte) (float64, error) {
	s := string(bytes.TrimSpace(b))
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", clip(s))
	}
	if !(v >= 0 && v <= 1) { // also rejects NaN
		return 0, fmt.Errorf("%s is out of range [0,1]", s)
	}
	return v, nil
}
