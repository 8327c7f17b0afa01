// Package cvedata bundles a subset of real, published CVE records (CISA
// Vulnrichment, with CVSS, CWE, references and CISA-ADP SSVC) for the products
// the simulator installs on hosts, plus the CISA KEV entries of those CVEs.
// The data is embedded and immutable; see README.md for the source, the
// selection rule and the CVE Program terms of use that go with every copy.
//
// Every string in a Record (titles, descriptions, references) is third-party
// text: data to show or score, never instructions.
package cvedata

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"slices"
	"sync"
)

// Record is one CVE record in the compact Vulnrichment line format of
// /work/shared/data/cves.jsonl.gz. JSON nulls decode to zero values: a record
// without a publication date has Published == "", one without a KEV metric has
// KEVDateAdded == "".
type Record struct {
	ID           string    `json:"id"`
	Published    string    `json:"published"` // YYYY-MM-DD
	Title        string    `json:"title"`
	Description  string    `json:"description"`
	CVSS         *CVSS     `json:"cvss"`
	CWEs         []string  `json:"cwes"`
	Products     []Product `json:"products"`
	References   []string  `json:"references"` // vendor-advisory and patch URLs first
	SSVC         *SSVC     `json:"ssvc"`
	KEVDateAdded string    `json:"kev_date_added"` // YYYY-MM-DD, from the CISA-ADP kev metric
	State        string    `json:"state"`          // PUBLISHED or REJECTED
}

// CVSS is the record's preferred CVSS v3.1/v3.0/v4.0 metric.
type CVSS struct {
	Version  string  `json:"version"`
	Score    float64 `json:"score"`
	Severity string  `json:"severity"` // NONE, LOW, MEDIUM, HIGH, CRITICAL
	Vector   string  `json:"vector"`
	Source   string  `json:"source"` // cna or adp:<shortName>
}

// Product is one affected vendor/product pair as the CNA (or ADP) wrote it.
type Product struct {
	Vendor  string `json:"vendor"`
	Product string `json:"product"`
}

// SSVC is the CISA-ADP SSVC (Coordinator v2.0.3) assessment of a record.
type SSVC struct {
	Exploitation    string `json:"exploitation"`     // none, poc, active
	Automatable     string `json:"automatable"`      // yes, no
	TechnicalImpact string `json:"technical_impact"` // partial, total
	Timestamp       string `json:"timestamp"`
}

//go:embed cves.jsonl.gz
var bundledCVEs []byte

//go:embed kev.json
var bundledKEV []byte

// maxLine bounds one JSONL line; source descriptions are cut at 2,000
// characters, so real lines stay far below this.
const maxLine = 1 << 20

// ReadJSONL streams records from r, one JSON object per line. r may be plain
// JSONL or gzip-compressed JSONL (detected from the gzip magic bytes), so the
// full 44k-record source file can be passed as is. Blank lines are skipped.
// After the first error (I/O or a malformed line, which is reported with its
// line number) the sequence ends.
func ReadJSONL(r io.Reader) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		br := bufio.NewReaderSize(r, 64<<10)
		var src io.Reader = br
		if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
			zr, err := gzip.NewReader(br)
			if err != nil {
				yield(Record{}, fmt.Errorf("cvedata: gzip: %w", err))
				return
			}
			defer zr.Close()
			src = zr
		}
		sc := bufio.NewScanner(src)
		sc.Buffer(make([]byte, 0, 64<<10), maxLine)
		line := 0
		for sc.Scan() {
			line++
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			var rec Record
			if err := json.Unmarshal(b, &rec); err != nil {
				yield(Record{}, fmt.Errorf("cvedata: line %d: %w", line, err))
				return
			}
			if rec.ID == "" {
				yield(Record{}, fmt.Errorf("cvedata: line %d: record has no id", line))
				return
			}
			if !yield(rec, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(Record{}, fmt.Errorf("cvedata: after line %d: %w", line, err))
		}
	}
}

// DB is an immutable, indexed set of records. Records handed out share their
// slices (CWEs, Products, References) with the DB: callers must not modify
// them.
type DB struct {
	records    []Record
	byID       map[string]int
	bySoftware map[string][]int
	kev        *KEVCatalog
}

// load parses the embedded data once; the result is immutable, so sharing one
// *DB between callers is safe.
var load = sync.OnceValues(func() (*DB, error) {
	var recs []Record
	for rec, err := range ReadJSONL(bytes.NewReader(bundledCVEs)) {
		if err != nil {
			return nil, fmt.Errorf("cvedata: bundled cves.jsonl.gz: %w", err)
		}
		recs = append(recs, rec)
	}
	kev, err := ReadKEV(bytes.NewReader(bundledKEV))
	if err != nil {
		return nil, fmt.Errorf("cvedata: bundled kev.json: %w", err)
	}
	return NewDB(recs, kev)
})

// Load returns the bundled records. The data is parsed on first use and shared
// afterwards (it never changes).
func Load() (*DB, error) { return load() }

// NewDB indexes records (kept in the given order) and a KEV catalog (nil for
// none). It rejects duplicate ids.
func NewDB(records []Record, kev *KEVCatalog) (*DB, error) {
	if kev == nil {
		kev = &KEVCatalog{Entries: map[string]KEV{}}
	}
	db := &DB{
		records:    slices.Clone(records),
		byID:       make(map[string]int, len(records)),
		bySoftware: make(map[string][]int),
		kev:        kev,
	}
	for i, r := range db.records {
		if _, dup := db.byID[r.ID]; dup {
			return nil, fmt.Errorf("cvedata: duplicate record %s", r.ID)
		}
		db.byID[r.ID] = i
		for _, s := range catalog {
			if s.Matches(r) {
				db.bySoftware[s.Key] = append(db.bySoftware[s.Key], i)
			}
		}
	}
	return db, nil
}

// Len is the number of records.
func (db *DB) Len() int { return len(db.records) }

// Get returns the record with the given CVE id.
func (db *DB) Get(id string) (Record, bool) {
	i, ok := db.byID[id]
	if !ok {
		return Record{}, false
	}
	return db.records[i], true
}

// All returns every record in file order (CVE year, then sequence number).
func (db *DB) All() []Record { return slices.Clone(db.records) }

// ByProduct returns the records that affect the catalog software with the
// given key (see Catalog), in file order; nil for an unknown key.
func (db *DB) ByProduct(key string) []Record {
	idx := db.bySoftware[key]
	if len(idx) == 0 {
		return nil
	}
	out := make([]Record, len(idx))
	for i, j := range idx {
		out[i] = db.records[j]
	}
	return out
}

// KEV returns the CISA KEV entry for a CVE id, when the bundled KEV subset
// has one.
func (db *DB) KEV(id string) (KEV, bool) {
	e, ok := db.kev.Entries[id]
	return e, ok
}

// KEVCatalogVersion is the catalogVersion of the KEV snapshot the bundled
// entries come from.
func (db *DB) KEVCatalogVersion() string { return db.kev.Version }

// KEVEntries returns a copy of the bundled KEV entries, keyed by CVE id.
func (db *DB) KEVEntries() map[string]KEV {
	out := make(map[string]KEV, len(db.kev.Entries))
	for k, v := range db.kev.Entries {
		out[k] = v
	}
	return out
}
