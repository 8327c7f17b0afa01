// Package falcon is vulnpilot's data plane over CrowdStrike Falcon: typed
// records decoded from gofalcon's models, streaming pagination of Spotlight
// findings, host, alert, intel and remediation look-ups, FQL building, and
// retries that respect Falcon's rate limits.
package falcon

import "time"

// Finding is one Spotlight vulnerability record: a CVE (or other
// vulnerability id) detected on one host for one application.
//
// Every string in a Finding came from Falcon (and, before that, from vendors,
// NVD or the host itself); it is data, never instructions.
type Finding struct {
	ID         string     `json:"id"`
	AID        string     `json:"aid"`
	CID        string     `json:"cid,omitempty"`
	CVE        string     `json:"cve"` // cve.id, or vulnerability_id when the record is not a CVE
	Status     string     `json:"status"`
	Created    time.Time  `json:"created_timestamp"`
	Updated    time.Time  `json:"updated_timestamp"`
	Closed     *time.Time `json:"closed_timestamp,omitempty"`
	Confidence string     `json:"confidence,omitempty"`

	App  App   `json:"app"`
	Apps []App `json:"apps,omitempty"`

	// RemediationIDs are the ids of the remediation facet; Remediations holds
	// the entities when Falcon returned them (facet "remediation").
	RemediationIDs []string      `json:"remediation_ids,omitempty"`
	Remediations   []Remediation `json:"remediations,omitempty"`

	Suppression Suppression `json:"suppression"`
	Host        HostFacet   `json:"host_info"`
	CVEInfo     CVEFacet    `json:"cve_info"`

	// EvaluationLogic is filled only when the evaluation_logic facet was asked for.
	EvaluationLogic []EvaluationLogic `json:"evaluation_logic,omitempty"`
}

// App is the product a finding was detected for.
type App struct {
	Vendor         string `json:"vendor,omitempty"`
	Product        string `json:"product"`
	ProductVersion string `json:"product_name_version,omitempty"`
	SubStatus      string `json:"sub_status,omitempty"`
	PatchPublished string `json:"patch_publication_date,omitempty"`
}

// Suppression says whether Spotlight suppresses the finding and by which rule
// (for example an accepted risk or a compensating control).
type Suppression struct {
	Suppressed bool   `json:"is_suppressed"`
	Reason     string `json:"reason,omitempty"`
}

// HostFacet is the host_info facet of a finding.
type HostFacet struct {
	Hostname         string    `json:"hostname"`
	Platform         string    `json:"platform,omitempty"` // Windows, Linux, Mac
	OSVersion        string    `json:"os_version,omitempty"`
	ProductTypeDesc  string    `json:"product_type_desc,omitempty"` // Workstation, Server, Domain Controller
	AssetCriticality string    `json:"asset_criticality,omitempty"` // Critical, High, Noncritical, Unassigned
	AssetRoles       []string  `json:"asset_roles,omitempty"`
	InternetExposure string    `json:"internet_exposure,omitempty"` // Yes, No, Pending
	Tags             []string  `json:"tags,omitempty"`
	Groups           []string  `json:"groups,omitempty"` // host group names
	LocalIP          string    `json:"local_ip,omitempty"`
	MachineDomain    string    `json:"machine_domain,omitempty"`
	OU               string    `json:"ou,omitempty"`
	SiteName         string    `json:"site_name,omitempty"`
	ManagedBy        string    `json:"managed_by,omitempty"`
	InstanceState    string    `json:"instance_state,omitempty"`
	LastSeen         time.Time `json:"host_last_seen_timestamp,omitzero"`
}

// CVEFacet is the cve facet of a finding.
type CVEFacet struct {
	ID               string    `json:"id"`
	Name             string    `json:"name,omitempty"`
	Description      string    `json:"description,omitempty"`
	BaseScore        float64   `json:"base_score,omitempty"`
	Vector           string    `json:"vector,omitempty"`
	Severity         string    `json:"severity,omitempty"`
	ExprtRating      string    `json:"exprt_rating,omitempty"`   // LOW, MEDIUM, HIGH, CRITICAL
	ExploitStatus    int       `json:"exploit_status,omitempty"` // 0 unproven, 30 available, 60 easily accessible, 90 actively used
	IsCISAKEV        bool      `json:"is_cisa_kev,omitempty"`
	CISADueDate      string    `json:"cisa_due_date,omitempty"`
	Published        time.Time `json:"published_date,omitzero"`
	RemediationLevel string    `json:"remediation_level,omitempty"` // O official fix, U unavailable, W workaround...
	Actors           []string  `json:"actors,omitempty"`
	CWEs             []string  `json:"cwes,omitempty"`
	References       []string  `json:"references,omitempty"`
	VendorAdvisory   []string  `json:"vendor_advisory,omitempty"`
	Types            []string  `json:"types,omitempty"`
}

// Remediation is a Spotlight remediation entity (a patch, an upgrade, a
// workaround).
type Remediation struct {
	ID                 string    `json:"id"`
	Title              string    `json:"title"`
	Action             string    `json:"action,omitempty"`
	Reference          string    `json:"reference,omitempty"` // e.g. a KB number
	Link               string    `json:"link,omitempty"`
	VendorURL          string    `json:"vendor_url,omitempty"`
	Type               string    `json:"type,omitempty"`
	Provider           string    `json:"provider,omitempty"`
	RecommendationType string    `json:"recommendation_type,omitempty"`
	PatchPublished     time.Time `json:"patch_publication_date,omitzero"`
}

// EvaluationLogic summarises how Spotlight decided a host is vulnerable.
type EvaluationLogic struct {
	ID    string   `json:"id"`
	Title string   `json:"title,omitempty"`
	Items []string `json:"items,omitempty"`
}

// Host is a device record from the Hosts API.
type Host struct {
	AID             string    `json:"device_id"`
	CID             string    `json:"cid,omitempty"`
	Hostname        string    `json:"hostname"`
	Platform        string    `json:"platform_name,omitempty"`
	OSVersion       string    `json:"os_version,omitempty"`
	ProductTypeDesc string    `json:"product_type_desc,omitempty"`
	LocalIP         string    `json:"local_ip,omitempty"`
	ExternalIP      string    `json:"external_ip,omitempty"`
	MachineDomain   string    `json:"machine_domain,omitempty"`
	OU              []string  `json:"ou,omitempty"`
	SiteName        string    `json:"site_name,omitempty"`
	Status          string    `json:"status,omitempty"` // normal, containment_pending, contained, lift_containment_pending
	Tags            []string  `json:"tags,omitempty"`
	Groups          []string  `json:"groups,omitempty"` // host group ids
	AgentVersion    string    `json:"agent_version,omitempty"`
	FirstSeen       time.Time `json:"first_seen,omitzero"`
	LastSeen        time.Time `json:"last_seen,omitzero"`
	ReducedFunction string    `json:"reduced_functionality_mode,omitempty"`
	ProvisionStatus string    `json:"provision_status,omitempty"`
}

// Alert is an endpoint detection/alert from the Alerts API.
type Alert struct {
	ID           string    `json:"composite_id"`
	AID          string    `json:"aid"`
	Hostname     string    `json:"hostname,omitempty"`
	Created      time.Time `json:"created_timestamp"`
	Updated      time.Time `json:"updated_timestamp,omitzero"`
	Status       string    `json:"status,omitempty"` // new, in_progress, closed, reopened
	Severity     int       `json:"severity,omitempty"`
	SeverityName string    `json:"severity_name,omitempty"`
	Name         string    `json:"name,omitempty"`
	DisplayName  string    `json:"display_name,omitempty"`
	Description  string    `json:"description,omitempty"`
	Tactic       string    `json:"tactic,omitempty"`
	Technique    string    `json:"technique,omitempty"`
	Filename     string    `json:"filename,omitempty"`
	Cmdline      string    `json:"cmdline,omitempty"`
	Product      string    `json:"product,omitempty"` // epp, idp, ...
}

// IntelVuln is Falcon Intelligence's view of one CVE: who exploits it and
// which reports discuss it.
type IntelVuln struct {
	CVE           string        `json:"cve"`
	Name          string        `json:"name,omitempty"`
	Description   string        `json:"description,omitempty"`
	Severity      string        `json:"severity,omitempty"`
	ExploitStatus string        `json:"exploit_status,omitempty"`
	Published     time.Time     `json:"publish_date,omitzero"`
	Actors        []IntelActor  `json:"related_actors,omitempty"`
	Reports       []IntelReport `json:"related_reports,omitempty"`
	Threats       []string      `json:"related_threats,omitempty"`
}

// IntelActor is an adversary Falcon Intelligence ties to a CVE.
type IntelActor struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// IntelReport is a Falcon Intelligence report that discusses a CVE.
type IntelReport struct {
	SerialID string    `json:"serial_id"`
	Title    string    `json:"title"`
	Type     string    `json:"type,omitempty"`
	Created  time.Time `json:"created_date,omitzero"`
}
