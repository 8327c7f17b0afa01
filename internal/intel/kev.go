package intel

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

//go:embed data/kev.json
var bundledKEV []byte

// BundledSource is the Source of the KEV catalog shipped in the binary.
const BundledSource = "bundled"

// KEVEntry is one vulnerability of the CISA KEV catalog, field for field as
// CISA publishes it. Every string is CISA's text: data, never instructions.
type KEVEntry struct {
	CVEID                      string   `json:"cveID"`
	VendorProject              string   `json:"vendorProject"`
	Product                    string   `json:"product"`
	VulnerabilityName          string   `json:"vulnerabilityName"`
	DateAdded                  string   `json:"dateAdded"` // YYYY-MM-DD
	ShortDescription           string   `json:"shortDescription"`
	RequiredAction             string   `json:"requiredAction"`
	DueDate                    string   `json:"dueDate"`                    // YYYY-MM-DD
	KnownRansomwareCampaignUse string   `json:"knownRansomwareCampaignUse"` // Known, Unknown
	Notes                      string   `json:"notes"`
	CWEs                       []string `json:"cwes"`

	added time.Time
	due   time.Time
}

// Added is DateAdded as a UTC midnight time (validated at load).
func (e *KEVEntry) Added() time.Time { return e.added }

// Due is DueDate as a UTC midnight time; zero when CISA gave none.
func (e *KEVEntry) Due() time.Time { return e.due }

// Ransomware reports whether CISA knows the CVE to be used in ransomware
// campaigns.
func (e *KEVEntry) Ransomware() bool { return e.KnownRansomwareCampaignUse == "Known" }

// KEV is a loaded, validated KEV catalog.
type KEV struct {
	Title          string
	CatalogVersion string
	DateReleased   time.Time
	Count          int
	// Source is where the catalog came from: BundledSource, a file path, or a
	// URL stripped of credentials, query and fragment.
	Source string

	entries []KEVEntry
	index   map[string]int32
}

// Lookup returns the catalog entry for cve (case-insensitive), if listed.
// The entry is shared: callers must not modify it.
func (k *KEV) Lookup(cve string) (*KEVEntry, bool) {
	if k == nil {
		return nil, false
	}
	i, ok := k.index[normCVE(cve)]
	if !ok {
		return nil, false
	}
	return &k.entries[i], true
}

// Len is the number of entries.
func (k *KEV) Len() int {
	if k == nil {
		return 0
	}
	return len(k.entries)
}

// Entries returns a copy of the entries in catalog order.
func (k *KEV) Entries() []KEVEntry {
	return append([]KEVEntry(nil), k.entries...)
}

// BundledKEV parses the KEV snapshot embedded in the binary.
func BundledKEV() (*KEV, error) {
	return parseKEV(bundledKEV, BundledSource)
}

// LoadKEV reads a KEV catalog (JSON, optionally gzipped) from a file path or
// an http(s) URL.
func LoadKEV(ctx context.Context, src string) (*KEV, error) {
	return Loader{}.KEV(ctx, src)
}

// KEV reads a KEV catalog from a file path or an http(s) URL.
func (l Loader) KEV(ctx context.Context, src string) (*KEV, error) {
	limit := l.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxKEVBytes
	}
	disp := displaySource(src)
	data, err := l.read(ctx, src, limit)
	if err != nil {
		return nil, fmt.Errorf("kev %s: %w", disp, err)
	}
	return parseKEV(data, disp)
}

type kevDoc struct {
	Title           string          `json:"title"`
	CatalogVersion  string          `json:"catalogVersion"`
	DateReleased    string          `json:"dateReleased"`
	Count           *int            `json:"count"`
	Vulnerabilities json.RawMessage `json:"vulnerabilities"`
}

func parseKEV(data []byte, source string) (*KEV, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("kev %s: "+format, append([]any{source}, args...)...)
	}
	var doc kevDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fail("not a KEV catalog JSON document: %v", err)
	}
	if doc.CatalogVersion == "" {
		return nil, fail("catalogVersion: missing (want e.g. \"2025.08.25\")")
	}
	k := &KEV{Title: doc.Title, CatalogVersion: doc.CatalogVersion, Source: source}
	if doc.DateReleased != "" {
		t, err := time.Parse(time.RFC3339Nano, doc.DateReleased)
		if err != nil {
			return nil, fail("dateReleased: %q is not an RFC 3339 time", doc.DateReleased)
		}
		k.DateReleased = t.UTC()
	}
	if len(doc.Vulnerabilities) == 0 || bytes.Equal(doc.Vulnerabilities, []byte("null")) {
		return nil, fail("vulnerabilities: missing (want an array of entries)")
	}
	var entries []KEVEntry
	if err := json.Unmarshal(doc.Vulnerabilities, &entries); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, fail("vulnerabilities: field %s: want a %s, got JSON %s", te.Field, te.Type, te.Value)
		}
		return nil, fail("vulnerabilities: %v", err)
	}
	k.index = make(map[string]int32, len(entries))
	for i := range entries {
		e := &entries[i]
		if e.CVEID == "" {
			return nil, fail("vulnerabilities[%d].cveID: missing", i)
		}
		if !isCVE(e.CVEID) {
			return nil, fail("vulnerabilities[%d].cveID: %q is not a CVE id (want CVE-YYYY-NNNN)", i, clip(e.CVEID))
		}
		if prev, dup := k.index[e.CVEID]; dup {
			return nil, fail("vulnerabilities[%d].cveID: %s is listed twice (also at index %d)", i, e.CVEID, prev)
		}
		t, err := time.Parse(time.DateOnly, e.DateAdded)
		if err != nil {
			return nil, fail("vulnerabilities[%d].dateAdded: %q is not a YYYY-MM-DD date", i, clip(e.DateAdded))
		}
		e.added = t
		if e.DueDate != "" {
			t, err := time.Parse(time.DateOnly, e.DueDate)
			if err != nil {
				return nil, fail("vulnerabilities[%d].dueDate: %q is not a YYYY-MM-DD date", i, clip(e.DueDate))
			}
			e.due = t
		}
		k.index[e.CVEID] = int32(i)
	}
	k.entries = entries
	k.Count = len(entries)
	if doc.Count != nil && *doc.Count != len(entries) {
		return nil, fail("count: %d does not match the %d entries in vulnerabilities", *doc.Count, len(entries))
	}
	return k, nil
}

// clip shortens a bad value quoted in an error message.
func clip(s string) string {
	const limit = 40
	r := []rune(s)
	if len(r) > limit {
		return string(r[:limit]) + "…"
	}
	return s
}
