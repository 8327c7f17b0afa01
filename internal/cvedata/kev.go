package cvedata

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
)

// KEV is one CISA Known Exploited Vulnerabilities catalog entry.
type KEV struct {
	CVE            string   `json:"cveID"`
	VendorProject  string   `json:"vendorProject"`
	Product        string   `json:"product"`
	Name           string   `json:"vulnerabilityName"`
	DateAdded      string   `json:"dateAdded"` // YYYY-MM-DD
	Description    string   `json:"shortDescription"`
	RequiredAction string   `json:"requiredAction"`
	DueDate        string   `json:"dueDate"`                    // YYYY-MM-DD
	Ransomware     string   `json:"knownRansomwareCampaignUse"` // Known, Unknown
	Notes          string   `json:"notes"`
	CWEs           []string `json:"cwes"`
}

// KnownRansomware reports whether CISA knows the CVE to be used in ransomware
// campaigns.
func (k KEV) KnownRansomware() bool { return k.Ransomware == "Known" }

// KEVCatalog is a parsed KEV catalog (or a subset of one), keyed by CVE id.
type KEVCatalog struct {
	Version      string         // catalogVersion, e.g. 2025.08.25
	DateReleased string         // dateReleased
	Entries      map[string]KEV // by CVE id
}

var cveIDPattern = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

// ValidCVEID reports whether id has the CVE-YYYY-NNNN... form.
func ValidCVEID(id string) bool { return cveIDPattern.MatchString(id) }

// kevFile is the shape of CISA's kev.json; only what we use is decoded.
type kevFile struct {
	CatalogVersion  string `json:"catalogVersion"`
	DateReleased    string `json:"dateReleased"`
	Vulnerabilities []KEV  `json:"vulnerabilities"`
}

// ReadKEV parses a CISA KEV catalog in its published JSON format (kev.json).
func ReadKEV(r io.Reader) (*KEVCatalog, error) {
	var f kevFile
	if err := json.NewDecoder(r).Decode(&f); err != nil {
		return nil, fmt.Errorf("kev catalog: %w", err)
	}
	c := &KEVCatalog{Version: f.CatalogVersion, DateReleased: f.DateReleased, Entries: make(map[string]KEV, len(f.Vulnerabilities))}
	for i, v := range f.Vulnerabilities {
		if !ValidCVEID(v.CVE) {
			return nil, fmt.Errorf("kev catalog: vulnerabilities[%d].cveID: %q is not a CVE id", i, v.CVE)
		}
		c.Entries[v.CVE] = v
	}
	return c, nil
}
