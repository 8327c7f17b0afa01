// Package risk turns one enriched finding into an Assessment: a 0–100 score,
// a tier with an SLA due date, the CISA SSVC and BOD 26-04 decisions, and the
// evidence behind every point. It is pure: no I/O, the clock is an input.
package risk

import (
	"time"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
)

// Tier is a remediation priority, P1 (most urgent) to P4.
type Tier string

const (
	P1 Tier = "P1"
	P2 Tier = "P2"
	P3 Tier = "P3"
	P4 Tier = "P4"
)

// Rank orders tiers: P1 → 1 ... P4 → 4; unknown → 5.
func (t Tier) Rank() int {
	switch t {
	case P1:
		return 1
	case P2:
		return 2
	case P3:
		return 3
	case P4:
		return 4
	}
	return 5
}

// Evidence sources.
const (
	SourceSpotlight = "spotlight" // a field of the Spotlight finding (Ref names it, e.g. cve.exploit_status)
	SourceKEV       = "kev"       // the CISA KEV catalog (Ref = catalog version)
	SourceEPSS      = "epss"      // a FIRST EPSS row (Ref = model_version@score_date)
	SourceAlert     = "alert"     // a Falcon alert (Ref = composite id)
	SourceIntel     = "intel"     // Falcon Intelligence (Ref = report serial id or actor id)
	SourceModel     = "model"     // vulnpilot's exploitation model (Ref = model version)
	SourcePolicy    = "policy"    // a rule of the risk policy (Ref = policy key)
	SourceHost      = "hosts"     // the Hosts API record
)

// Evidence is one fact behind an assessment, with where it came from.
type Evidence struct {
	Factor string `json:"factor"` // exploitation, criticality, exposure, role, patch, suppression, freshness, tier, ssvc, bod
	Source string `json:"source"`
	Ref    string `json:"ref,omitempty"`
	Value  string `json:"value,omitempty"`
	Detail string `json:"detail"` // one sentence for a human; quotes external text only as data
	// Points is the part of the score this fact accounts for (0 when the fact
	// explains a decision rather than moving the score).
	Points float64 `json:"points"`
}

// Factor is one multiplicative term of the score.
type Factor struct {
	Name   string  `json:"name"`   // exploitation, criticality, role, exposure, patch, suppression
	Value  float64 `json:"value"`  // the term's value in [0,1]
	Points float64 `json:"points"` // the score's share attributed to this term (sums to Score)
	Detail string  `json:"detail"`
}

// SSVCDecision is the CISA SSVC Coordinator (v2.0.3) decision for a finding.
type SSVCDecision struct {
	Exploitation    string `json:"exploitation"`     // none, public poc, active
	Automatable     string `json:"automatable"`      // yes, no
	TechnicalImpact string `json:"technical_impact"` // partial, total
	MissionImpact   string `json:"mission_impact"`   // low, medium, high
	Decision        string `json:"decision"`         // track, track*, attend, act
	Row             int    `json:"row"`              // row of cisa_coordinator_2_0_3.csv
}

// BODDecision is the CISA BOD 26-04 remediation timeline for a finding.
type BODDecision struct {
	InKEV           bool   `json:"in_kev"`
	PubliclyExposed bool   `json:"publicly_exposed"`
	Automatable     string `json:"automatable"`
	TechnicalImpact string `json:"technical_impact"`
	Timeline        string `json:"timeline"` // "3 days & forensic investigation", "3 days", "14 days", "60 days", "fix on system upgrade"
	Row             int    `json:"row"`      // row of cisa_bod_26_04_1_0_0.csv
	Tier            Tier   `json:"tier"`     // the tier whose SLA matches the timeline
}

// Assessment is the risk verdict on one finding.
type Assessment struct {
	FindingID string `json:"finding_id"`
	AID       string `json:"aid"`
	CVE       string `json:"cve"`

	Score      float64   `json:"score"` // 0–100, one decimal
	Tier       Tier      `json:"tier"`
	SLADays    int       `json:"sla_days"`
	Due        time.Time `json:"due"`
	Overdue    bool      `json:"overdue"`
	Likelihood float64   `json:"likelihood"` // exploitation likelihood in [0,1]

	// Confidence in [0,1] falls when inputs are missing or stale (no EPSS,
	// unassigned criticality, host not seen for weeks, unmanaged asset).
	Confidence      float64 `json:"confidence"`
	ConfidenceLabel string  `json:"confidence_label"` // high, medium, low

	Factors  []Factor   `json:"factors"`
	Evidence []Evidence `json:"evidence"`

	SSVC SSVCDecision `json:"ssvc"`
	BOD  BODDecision  `json:"bod"`
	// Deviation explains, when Tier differs from BOD.Tier, why vulnpilot chose
	// differently (e.g. an active detection escalates). Empty when they agree.
	Deviation string `json:"deviation,omitempty"`

	Suppressed bool `json:"suppressed,omitempty"`
	// NotScored says why the finding was not scored ("closed", "no finding");
	// empty when it was. A not-scored assessment has zero numbers and no tier.
	NotScored string `json:"not_scored,omitempty"`
}

// Input is everything the engine knows about one finding.
type Input struct {
	Finding *falcon.Finding

	KEV   *KEVFact   // nil: not in the KEV catalog
	EPSS  *EPSSFact  // nil: EPSS unknown for this CVE
	Prior *PriorFact // the exploitation model's estimate, used when EPSS is nil

	Alerts []AlertFact // live detections on this host tied to the CVE or its product
	Intel  *IntelFact  // Falcon Intelligence actors/reports for the CVE

	// Host is the Hosts API record when fetched; nil when the asset is
	// unmanaged or host details were not pulled.
	Host *falcon.Host

	Now time.Time
}

// KEVFact is a CISA KEV catalog entry for the CVE.
type KEVFact struct {
	CatalogVersion    string    `json:"catalog_version"`
	DateAdded         time.Time `json:"date_added"`
	DueDate           time.Time `json:"due_date"`
	Ransomware        bool      `json:"known_ransomware"`
	VulnerabilityName string    `json:"vulnerability_name"`
}

// EPSSFact is a FIRST EPSS row for the CVE.
type EPSSFact struct {
	Score        float64 `json:"epss"`
	Percentile   float64 `json:"percentile"`
	ModelVersion string  `json:"model_version"`
	ScoreDate    string  `json:"score_date"`
}

// PriorFact is the exploitation model's probability for the CVE.
type PriorFact struct {
	Model       string  `json:"model"` // e.g. "model v1"
	Probability float64 `json:"p"`
}

// AlertFact is a detection on the finding's host tied to the finding.
type AlertFact struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Severity int       `json:"severity"`
	Created  time.Time `json:"created"`
	Status   string    `json:"status"`
	Match    string    `json:"match"` // "cve" (the alert names the CVE) or "product" (the alert involves the vulnerable product)
}

// IntelFact is Falcon Intelligence context for the CVE.
type IntelFact struct {
	Actors  []string `json:"actors"`
	Reports []string `json:"reports"` // "serial_id: title"
}
