package risk

import (
	"strings"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/intel"
)

// KEVFactFrom returns the KEV fact for cve from a loaded catalog, or nil when
// the CVE is not listed (or the catalog is nil).
func KEVFactFrom(k *intel.KEV, cve string) *KEVFact {
	e, ok := k.Lookup(cve)
	if !ok {
		return nil
	}
	return &KEVFact{
		CatalogVersion:    k.CatalogVersion,
		DateAdded:         e.Added(),
		DueDate:           e.Due(),
		Ransomware:        e.Ransomware(),
		VulnerabilityName: e.VulnerabilityName,
	}
}

// EPSSFactFrom returns the EPSS fact for cve, or nil when EPSS is unknown for
// it (no feed, or the CVE is not scored) — never a zero score.
func EPSSFactFrom(e *intel.EPSS, cve string) *EPSSFact {
	row, ok := e.Lookup(cve)
	if !ok {
		return nil
	}
	return &EPSSFact{Score: row.EPSS, Percentile: row.Percentile, ModelVersion: e.ModelVersion, ScoreDate: e.ScoreDay()}
}

// FeedFacts returns the KEV and EPSS facts for cve from f (either may be nil).
func FeedFacts(f *intel.Feeds, cve string) (*KEVFact, *EPSSFact) {
	if f == nil {
		return nil, nil
	}
	return KEVFactFrom(f.KEV, cve), EPSSFactFrom(f.EPSS, cve)
}

// IntelFactFrom condenses a Falcon Intelligence record; nil when it names no
// actor and no report.
func IntelFactFrom(v *falcon.IntelVuln) *IntelFact {
	if v == nil || (len(v.Actors) == 0 && len(v.Reports) == 0) {
		return nil
	}
	f := &IntelFact{}
	for _, a := range v.Actors {
		name := a.Name
		if name == "" {
			name = a.ID
		}
		f.Actors = append(f.Actors, name)
	}
	for _, r := range v.Reports {
		s := r.SerialID
		if r.Title != "" {
			s += ": " + r.Title
		}
		f.Reports = append(f.Reports, s)
	}
	return f
}

// AlertFactFrom condenses an alert tied to a finding; match is "cve" when the
// alert names the CVE, "product" when it involves the vulnerable product.
func AlertFactFrom(a falcon.Alert, match string) AlertFact {
	name := a.DisplayName
	if name == "" {
		name = a.Name
	}
	return AlertFact{ID: a.ID, Name: name, Severity: a.Severity, Created: a.Created, Status: strings.ToLower(a.Status), Match: match}
}
