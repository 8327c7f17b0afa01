package falconsim

import (
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/cvedata"
)

// Simulated Falcon ExPRT ratings (cve.exprt_rating).
const (
	ExprtLow      = "LOW"
	ExprtMedium   = "MEDIUM"
	ExprtHigh     = "HIGH"
	ExprtCritical = "CRITICAL"
)

// Falcon exploit status values (cve.exploit_status).
const (
	ExploitUnproven          = 0
	ExploitAvailable         = 30
	ExploitEasilyAccessible  = 60
	ExploitActivelyExploited = 90
)

// DeriveFalconRatings simulates the two values Falcon computes and public data
// lacks, from the record's real CISA-ADP SSVC assessment and KEV membership.
// They are simulated values, not CrowdStrike's; SIMULATED.md has the table.
//
//	in KEV, or SSVC exploitation active        → 90 actively used,    CRITICAL
//	exploitation poc and automatable yes        → 60 easily accessible, HIGH
//	exploitation poc                            → 30 available,         HIGH if technical impact total, else MEDIUM
//	exploitation none (or no SSVC)              →  0 unproven,          MEDIUM if automatable yes and impact total, else LOW
//
// The rule mirrors what ExPRT weighs (evidence of exploitation first, then
// how easy and how damaging exploitation would be) with the only public
// signals we have for it.
func DeriveFalconRatings(r cvedata.Record, inKEV bool) (exprt string, exploitStatus int) {
	var s cvedata.SSVC
	if r.SSVC != nil {
		s = *r.SSVC
	}
	automatable := s.Automatable == "yes"
	total := s.TechnicalImpact == "total"
	switch {
	case inKEV || s.Exploitation == "active":
		return ExprtCritical, ExploitActivelyExploited
	case s.Exploitation == "poc" && automatable:
		return ExprtHigh, ExploitEasilyAccessible
	case s.Exploitation == "poc" && total:
		return ExprtHigh, ExploitAvailable
	case s.Exploitation == "poc":
		return ExprtMedium, ExploitAvailable
	case automatable && total:
		return ExprtMedium, ExploitUnproven
	default:
		return ExprtLow, ExploitUnproven
	}
}

// KEVIndex is CISA KEV membership by CVE id.
type KEVIndex map[string]cvedata.KEV

// KEVIndexFromDB returns the KEV entries bundled with the CVE records.
func KEVIndexFromDB(db *cvedata.DB) KEVIndex { return KEVIndex(db.KEVEntries()) }

// ReadKEVIndex parses a CISA KEV catalog in its published JSON format, e.g.
// internal/intel/data/kev.json.
func ReadKEVIndex(r io.Reader) (KEVIndex, error) {
	c, err := cvedata.ReadKEV(r)
	if err != nil {
		return nil, err
	}
	return KEVIndex(c.Entries), nil
}

// AsOf returns the entries CISA had added on or before t (all of them when t
// is zero), so a tenant whose "now" lies in the past does not know of later
// additions.
func (k KEVIndex) AsOf(t time.Time) KEVIndex {
	if t.IsZero() {
		return k
	}
	day := t.UTC().Format(time.DateOnly)
	out := make(KEVIndex, len(k))
	for id, e := range k {
		if e.DateAdded <= day {
			out[id] = e
		}
	}
	return out
}

// CVEFromRecord builds the tenant CVE facet of a real record: CVSS base score,
// vector and severity, publication date, CWEs, references, vendor advisories,
// CISA KEV membership and due date from kev, simulated ExPRT rating and
// exploit status (DeriveFalconRatings), remediation level "O" (official fix)
// when a vendor advisory or patch reference exists, else "U" (unavailable),
// and the SSVC values they were derived from.
func CVEFromRecord(r cvedata.Record, kev KEVIndex) CVE {
	entry, inKEV := kev[r.ID]
	c := CVE{
		ID:          r.ID,
		Name:        r.Title,
		Description: r.Description,
		IsCISAKEV:   inKEV,
		CWEs:        cloneNonEmpty(r.CWEs),
		References:  cloneNonEmpty(r.References),
	}
	if inKEV {
		c.CISADueDate = entry.DueDate
	}
	if r.CVSS != nil {
		c.BaseScore = r.CVSS.Score
		c.Vector = r.CVSS.Vector
		c.Severity = r.CVSS.Severity
	}
	if p, err := time.Parse(time.DateOnly, r.Published); err == nil {
		c.Published = p.UTC()
	}
	c.ExprtRating, c.ExploitStatus = DeriveFalconRatings(r, inKEV)
	c.VendorAdvisory = VendorAdvisories(r.References)
	c.RemediationLevel = "U"
	if len(c.VendorAdvisory) > 0 {
		c.RemediationLevel = "O"
	}
	if r.SSVC != nil {
		c.SSVC = &SSVC{Exploitation: r.SSVC.Exploitation, Automatable: r.SSVC.Automatable, TechnicalImpact: r.SSVC.TechnicalImpact}
	}
	return c
}

// advisoryHosts are vendor security-advisory and patch locations of the
// products the simulator knows.
var advisoryHosts = []string{
	"msrc.microsoft.com", "portal.msrc.microsoft.com", "chromereleases.googleblog.com",
	"support.apple.com", "helpx.adobe.com", "www.zoom.com", "explore.zoom.us", "zoom.us",
	"git.kernel.org", "openssl-library.org", "curl.se", "httpd.apache.org", "tomcat.apache.org",
	"lists.apache.org", "nginx.org", "my.f5.com", "www.openssh.com", "www.postgresql.org",
	"www.oracle.com", "www.mozilla.org", "www.7-zip.org", "access.redhat.com",
	// Distribution advisories: a fixed package exists.
	"www.debian.org", "security.gentoo.org", "usn.ubuntu.com", "lists.fedoraproject.org",
}

// advisoryPath matches advisory, errata and patch URLs of other sites.
var advisoryPath = regexp.MustCompile(`(?i)/commit/|/security/advisories/|/security-?advisor|/secadv|security[-_]?bulletin|/errata/|/advisories/|/security/notices/|patch`)

// VendorAdvisories returns the references that are vendor (or distribution)
// security advisories or patches, in their order. The source data puts
// references tagged vendor-advisory or patch first but drops the tags, and
// many CNAs tag nothing (Mozilla lists its bug before its advisories), so
// they are recognised by advisory hosts and advisory/patch URL shapes.
func VendorAdvisories(refs []string) []string {
	var out []string
	for _, ref := range refs {
		if isAdvisory(ref) {
			out = append(out, ref)
		}
	}
	return out
}

func isAdvisory(ref string) bool {
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if slices.Contains(advisoryHosts, host) {
		return true
	}
	return advisoryPath.MatchString(u.Path)
}

// cloneNonEmpty copies s, giving nil for an empty slice so that a facet
// survives a JSON round trip (omitempty) unchanged.
func cloneNonEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}
