// Package plan groups assessed findings into remediation work items — one
// host and one remediation, or one remediation across a fleet of hosts — each
// with a dedupe key that stays the same from run to run, so the same work
// never becomes two tickets.
package plan

import (
	"time"

	"github.com/vulnpilot/vulnpilot/internal/risk"
)

// Kinds of work item.
const (
	KindHost     = "host"     // one host, one remediation
	KindFleet    = "fleet"    // one remediation across many hosts
	KindMitigate = "mitigate" // no remediation available: mitigate one CVE on one host
)

// WorkItem is a unit of remediation work; it becomes one ticket.
type WorkItem struct {
	Key         string      `json:"key"` // stable dedupe key, e.g. "wi-h-<hash>"
	Kind        string      `json:"kind"`
	Tier        risk.Tier   `json:"tier"`
	Score       float64     `json:"score"` // the highest score among its findings
	Due         time.Time   `json:"due"`   // the earliest due date among its findings
	Overdue     bool        `json:"overdue"`
	Remediation Remediation `json:"remediation"`
	Hosts       []HostRef   `json:"hosts"`
	CVEs        []string    `json:"cves"`
	FindingIDs  []string    `json:"finding_ids"`
	// Evidence is the evidence of the item's top finding, highest points first.
	Evidence []risk.Evidence `json:"evidence"`
	// TopFinding is the id of the finding that sets the item's score.
	TopFinding string `json:"top_finding"`
}

// Remediation names what to do.
type Remediation struct {
	ID        string `json:"id,omitempty"` // empty for KindMitigate
	Title     string `json:"title"`
	Action    string `json:"action,omitempty"`
	Reference string `json:"reference,omitempty"`
	Link      string `json:"link,omitempty"`
}

// HostRef identifies a host in a work item.
type HostRef struct {
	AID              string `json:"aid"`
	Hostname         string `json:"hostname"`
	AssetCriticality string `json:"asset_criticality,omitempty"`
	BusinessUnit     string `json:"business_unit,omitempty"`
	Team             string `json:"team,omitempty"`
}
