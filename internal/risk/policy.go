package risk

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed default_policy.yaml
var defaultPolicyYAML []byte

// DefaultPolicyYAML returns the documented default policy file (a copy).
func DefaultPolicyYAML() []byte { return bytes.Clone(defaultPolicyYAML) }

// Policy holds every tunable of the engine. default_policy.yaml documents
// each key and its default.
type Policy struct {
	Version     int               `yaml:"version" json:"version"`
	Likelihood  LikelihoodWeights `yaml:"likelihood" json:"likelihood"`
	Criticality CriticalityPolicy `yaml:"criticality" json:"criticality"`
	Role        RolePolicy        `yaml:"role" json:"role"`
	Exposure    ExposurePolicy    `yaml:"exposure" json:"exposure"`
	Patch       PatchPolicy       `yaml:"patch" json:"patch"`
	Suppression SuppressionPolicy `yaml:"suppression" json:"suppression"`
	Tiers       TierPolicy        `yaml:"tiers" json:"tiers"`
	Escalation  EscalationPolicy  `yaml:"escalation" json:"escalation"`
	Demotion    DemotionPolicy    `yaml:"demotion" json:"demotion"`
	Confidence  ConfidencePolicy  `yaml:"confidence" json:"confidence"`
}

// LikelihoodWeights are the noisy-OR signal weights, each in [0,1].
type LikelihoodWeights struct {
	KEV           float64             `yaml:"kev" json:"kev"`
	KEVRansomware float64             `yaml:"kev_ransomware" json:"kev_ransomware"`
	AlertCVE      float64             `yaml:"alert_cve" json:"alert_cve"`
	AlertProduct  float64             `yaml:"alert_product" json:"alert_product"`
	ExploitStatus ExploitStatusWeight `yaml:"exploit_status" json:"exploit_status"`
	ExPRT         ExPRTWeights        `yaml:"exprt_rating" json:"exprt_rating"`
	IntelActors   float64             `yaml:"intel_actors" json:"intel_actors"`
	IntelReports  float64             `yaml:"intel_reports" json:"intel_reports"`
	EPSS          float64             `yaml:"epss" json:"epss"`
	Prior         float64             `yaml:"prior" json:"prior"`
	CVSSFloor     float64             `yaml:"cvss_floor" json:"cvss_floor"`
	// CVSSFloorAutomatable replaces CVSSFloor when the vector is SSVC
	// automatable (network, low complexity, no privileges, no interaction).
	CVSSFloorAutomatable float64 `yaml:"cvss_floor_automatable" json:"cvss_floor_automatable"`
}

// ExploitStatusWeight maps Spotlight exploit_status 90/60/30 to weights.
type ExploitStatusWeight struct {
	ActivelyUsed     float64 `yaml:"actively_used" json:"actively_used"`
	EasilyAccessible float64 `yaml:"easily_accessible" json:"easily_accessible"`
	Available        float64 `yaml:"available" json:"available"`
}

// ExPRTWeights maps the ExPRT.AI rating to weights.
type ExPRTWeights struct {
	Critical float64 `yaml:"critical" json:"critical"`
	High     float64 `yaml:"high" json:"high"`
	Medium   float64 `yaml:"medium" json:"medium"`
	Low      float64 `yaml:"low" json:"low"`
}

// CriticalityPolicy holds the asset criticality multipliers.
type CriticalityPolicy struct {
	Critical    float64 `yaml:"critical" json:"critical"`
	High        float64 `yaml:"high" json:"high"`
	Noncritical float64 `yaml:"noncritical" json:"noncritical"`
	Unassigned  float64 `yaml:"unassigned" json:"unassigned"`
}

// RolePolicy holds the host role multipliers.
type RolePolicy struct {
	DomainController float64 `yaml:"domain_controller" json:"domain_controller"`
	Server           float64 `yaml:"server" json:"server"`
	Workstation      float64 `yaml:"workstation" json:"workstation"`
	Unknown          float64 `yaml:"unknown" json:"unknown"`
}

// ExposurePolicy holds the internet exposure multipliers.
type ExposurePolicy struct {
	Internet float64 `yaml:"internet" json:"internet"`
	Internal float64 `yaml:"internal" json:"internal"`
	Unknown  float64 `yaml:"unknown" json:"unknown"`
}

// PatchPolicy holds the patch availability multipliers.
type PatchPolicy struct {
	Available   float64 `yaml:"available" json:"available"`
	Unavailable float64 `yaml:"unavailable" json:"unavailable"`
}

// SuppressionPolicy holds the Spotlight suppression multipliers.
type SuppressionPolicy struct {
	CompensatingControl float64 `yaml:"compensating_control" json:"compensating_control"`
}

// TierRule is a tier's lowest score and SLA.
type TierRule struct {
	MinScore float64 `yaml:"min_score" json:"min_score"`
	SLADays  int     `yaml:"sla_days" json:"sla_days"`
}

// LastTierRule is P4's rule: everything below P3, so only an SLA.
type LastTierRule struct {
	SLADays int `yaml:"sla_days" json:"sla_days"`
}

// TierPolicy holds the tier thresholds and SLAs.
type TierPolicy struct {
	P1 TierRule     `yaml:"p1" json:"p1"`
	P2 TierRule     `yaml:"p2" json:"p2"`
	P3 TierRule     `yaml:"p3" json:"p3"`
	P4 LastTierRule `yaml:"p4" json:"p4"`
}

// EscalationPolicy holds the minimum-tier rules. A tier value is "P1".."P4"
// or "none" (disabled). "Exploited" means in CISA KEV or tied to a named
// adversary by Falcon Intelligence (or Spotlight cve.actors).
type EscalationPolicy struct {
	ActiveDetection        string `yaml:"active_detection" json:"active_detection"`
	KEVInternetExposed     string `yaml:"kev_internet_exposed" json:"kev_internet_exposed"`
	ExploitedCriticalAsset string `yaml:"exploited_critical_asset" json:"exploited_critical_asset"`
	ExploitedHighAsset     string `yaml:"exploited_high_asset" json:"exploited_high_asset"`
	KEV                    string `yaml:"kev" json:"kev"`
	IntelActor             string `yaml:"intel_actor" json:"intel_actor"`
	BODFloor               bool   `yaml:"bod_floor" json:"bod_floor"`
}

// DemotionPolicy holds the rules that lower a tier, each a number of tiers
// (0 disables; a tier never goes below P4).
type DemotionPolicy struct {
	// CompensatingControlFloor lowers every escalation floor except
	// active_detection and bod_floor on a COMPENSATING_CONTROL finding.
	CompensatingControlFloor int `yaml:"compensating_control_floor" json:"compensating_control_floor"`
	// StaleHost lowers the tier of a finding on a stale host (see
	// confidence.stale_host_days) unless a live detection is tied to it.
	StaleHost int `yaml:"stale_host" json:"stale_host"`
}

// ConfidencePolicy holds the confidence penalties and labels.
type ConfidencePolicy struct {
	StaleHostDays int                 `yaml:"stale_host_days" json:"stale_host_days"`
	Penalties     ConfidencePenalties `yaml:"penalties" json:"penalties"`
	Labels        ConfidenceLabels    `yaml:"labels" json:"labels"`
}

// ConfidencePenalties are subtracted from 1, each in [0,1].
type ConfidencePenalties struct {
	EPSSUnknown           float64 `yaml:"epss_unknown" json:"epss_unknown"`
	CriticalityUnassigned float64 `yaml:"criticality_unassigned" json:"criticality_unassigned"`
	ExposureUnknown       float64 `yaml:"exposure_unknown" json:"exposure_unknown"`
	StaleHost             float64 `yaml:"stale_host" json:"stale_host"`
	Unmanaged             float64 `yaml:"unmanaged" json:"unmanaged"`
	Potential             float64 `yaml:"potential" json:"potential"`
}

// ConfidenceLabels are the lowest confidences labelled high and medium.
type ConfidenceLabels struct {
	High   float64 `yaml:"high" json:"high"`
	Medium float64 `yaml:"medium" json:"medium"`
}

// DefaultPolicy returns the documented defaults (default_policy.yaml).
func DefaultPolicy() *Policy {
	p, err := decodePolicy(&Policy{}, defaultPolicyYAML)
	if err != nil {
		// The embedded file is part of the build and covered by tests.
		panic("risk: embedded default_policy.yaml: " + err.Error())
	}
	return p
}

// LoadPolicy reads a YAML policy file. Keys it omits keep their defaults;
// unknown keys and out-of-range values are errors naming the key.
func LoadPolicy(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p, err := ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParsePolicy parses YAML policy content over the defaults and validates it.
func ParsePolicy(data []byte) (*Policy, error) {
	p, err := decodePolicy(DefaultPolicy(), data)
	if err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

var yamlUnknownField = regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)

func decodePolicy(p *Policy, data []byte) (*Policy, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(p); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msgs := make([]string, len(te.Errors))
			for i, m := range te.Errors {
				msgs[i] = yamlUnknownField.ReplaceAllString(m, `line $1: unknown key "$2"`)
			}
			return nil, fmt.Errorf("policy: %s", strings.Join(msgs, "; "))
		}
		return nil, fmt.Errorf("policy: %w", err)
	}
	return p, nil
}

// Validate checks every key's range and the tiers' ordering; the error
// names each offending key and what is allowed.
func (p *Policy) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	unit := func(key string, v float64) {
		if !(v >= 0 && v <= 1) {
			bad("policy.%s: %g is out of range 0–1", key, v)
		}
	}
	if p.Version != 1 {
		bad("policy.version: %d is not supported (want 1)", p.Version)
	}
	l := p.Likelihood
	for _, kv := range []setting[float64]{
		{"likelihood.kev", l.KEV}, {"likelihood.kev_ransomware", l.KEVRansomware},
		{"likelihood.alert_cve", l.AlertCVE}, {"likelihood.alert_product", l.AlertProduct},
		{"likelihood.exploit_status.actively_used", l.ExploitStatus.ActivelyUsed},
		{"likelihood.exploit_status.easily_accessible", l.ExploitStatus.EasilyAccessible},
		{"likelihood.exploit_status.available", l.ExploitStatus.Available},
		{"likelihood.exprt_rating.critical", l.ExPRT.Critical}, {"likelihood.exprt_rating.high", l.ExPRT.High},
		{"likelihood.exprt_rating.medium", l.ExPRT.Medium}, {"likelihood.exprt_rating.low", l.ExPRT.Low},
		{"likelihood.intel_actors", l.IntelActors}, {"likelihood.intel_reports", l.IntelReports},
		{"likelihood.epss", l.EPSS}, {"likelihood.prior", l.Prior}, {"likelihood.cvss_floor", l.CVSSFloor},
		{"likelihood.cvss_floor_automatable", l.CVSSFloorAutomatable},
		{"criticality.critical", p.Criticality.Critical}, {"criticality.high", p.Criticality.High},
		{"criticality.noncritical", p.Criticality.Noncritical}, {"criticality.unassigned", p.Criticality.Unassigned},
		{"role.domain_controller", p.Role.DomainController}, {"role.server", p.Role.Server},
		{"role.workstation", p.Role.Workstation}, {"role.unknown", p.Role.Unknown},
		{"exposure.internet", p.Exposure.Internet}, {"exposure.internal", p.Exposure.Internal},
		{"exposure.unknown", p.Exposure.Unknown},
		{"patch.available", p.Patch.Available}, {"patch.unavailable", p.Patch.Unavailable},
		{"suppression.compensating_control", p.Suppression.CompensatingControl},
		{"confidence.penalties.epss_unknown", p.Confidence.Penalties.EPSSUnknown},
		{"confidence.penalties.criticality_unassigned", p.Confidence.Penalties.CriticalityUnassigned},
		{"confidence.penalties.exposure_unknown", p.Confidence.Penalties.ExposureUnknown},
		{"confidence.penalties.stale_host", p.Confidence.Penalties.StaleHost},
		{"confidence.penalties.unmanaged", p.Confidence.Penalties.Unmanaged},
		{"confidence.penalties.potential", p.Confidence.Penalties.Potential},
		{"confidence.labels.high", p.Confidence.Labels.High}, {"confidence.labels.medium", p.Confidence.Labels.Medium},
	} {
		unit(kv.k, kv.v)
	}
	t := p.Tiers
	mins := []setting[float64]{{"p1", t.P1.MinScore}, {"p2", t.P2.MinScore}, {"p3", t.P3.MinScore}}
	for _, m := range mins {
		if !(m.v >= 0 && m.v <= 100) {
			bad("policy.tiers.%s.min_score: %g is out of range 0–100", m.k, m.v)
		}
	}
	for i := 1; i < len(mins); i++ {
		if !(mins[i].v < mins[i-1].v) {
			bad("policy.tiers.%s.min_score: %g must be below policy.tiers.%s.min_score (%g): thresholds descend from p1 to p3", mins[i].k, mins[i].v, mins[i-1].k, mins[i-1].v)
		}
	}
	slas := []setting[int]{{"p1", t.P1.SLADays}, {"p2", t.P2.SLADays}, {"p3", t.P3.SLADays}, {"p4", t.P4.SLADays}}
	for i, s := range slas {
		if s.v < 1 || s.v > 3650 {
			bad("policy.tiers.%s.sla_days: %d is out of range 1–3650", s.k, s.v)
		} else if i > 0 && s.v < slas[i-1].v {
			bad("policy.tiers.%s.sla_days: %d is shorter than policy.tiers.%s.sla_days (%d): SLAs must not shrink from p1 to p4", s.k, s.v, slas[i-1].k, slas[i-1].v)
		}
	}
	for _, e := range []setting[string]{
		{"active_detection", p.Escalation.ActiveDetection},
		{"kev_internet_exposed", p.Escalation.KEVInternetExposed},
		{"exploited_critical_asset", p.Escalation.ExploitedCriticalAsset},
		{"exploited_high_asset", p.Escalation.ExploitedHighAsset},
		{"kev", p.Escalation.KEV},
		{"intel_actor", p.Escalation.IntelActor},
	} {
		if _, ok := parseTierSetting(e.v); !ok {
			bad("policy.escalation.%s: %q is not one of P1, P2, P3, P4, none", e.k, e.v)
		}
	}
	for _, d := range []setting[int]{{"compensating_control_floor", p.Demotion.CompensatingControlFloor}, {"stale_host", p.Demotion.StaleHost}} {
		if d.v < 0 || d.v > 3 {
			bad("policy.demotion.%s: %d is out of range 0–3 (tiers to lower; 0 disables)", d.k, d.v)
		}
	}
	c := p.Confidence
	if c.StaleHostDays < 1 || c.StaleHostDays > 3650 {
		bad("policy.confidence.stale_host_days: %d is out of range 1–3650", c.StaleHostDays)
	}
	if !(c.Labels.Medium < c.Labels.High) {
		bad("policy.confidence.labels.medium: %g must be below policy.confidence.labels.high (%g)", c.Labels.Medium, c.Labels.High)
	}
	return errors.Join(errs...)
}

// setting is one policy value with its key, for the validation tables.
type setting[T any] struct {
	k string
	v T
}

// parseTierSetting reads an escalation value: a tier, or "" when disabled.
func parseTierSetting(s string) (Tier, bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "P1":
		return P1, true
	case "P2":
		return P2, true
	case "P3":
		return P3, true
	case "P4":
		return P4, true
	case "NONE", "":
		return "", true
	}
	return "", false
}

// Fingerprint is a short stable hash of the policy's values, recorded with
// results so a score can be traced to the exact policy that produced it.
func (p *Policy) Fingerprint() string {
	b, _ := json.Marshal(p) // struct of numbers, strings and bools: cannot fail
	sum := sha256.Sum256(b)
	return "pol-" + hex.EncodeToString(sum[:6])
}
