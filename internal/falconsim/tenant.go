package falconsim

import "time"

// TenantVersion is the schema version of tenant files this package reads.
const TenantVersion = 1

// Tenant is a Falcon tenant's dataset: everything the simulator serves. It is
// the on-disk format of `vulnpilot sim generate` and of eval scenarios, so it
// is written to be readable and hand-editable: findings name their host by aid
// and their CVE by id, and a CVE missing from CVEs is filled from the bundled
// real CVE records (see Resolve).
type Tenant struct {
	Version int       `json:"version"`
	CID     string    `json:"cid"`
	Now     time.Time `json:"now"` // the dataset's "present"; generated timestamps lie before it
	Seed    int64     `json:"seed,omitempty"`

	// Clients are the OAuth2 API clients the simulator accepts. When empty the
	// simulator accepts DemoClientID/DemoClientSecret with every scope.
	Clients []APIClient `json:"clients,omitempty"`

	Hosts        []Host        `json:"hosts"`
	CVEs         []CVE         `json:"cves,omitempty"`
	Remediations []Remediation `json:"remediations,omitempty"`
	Findings     []Finding     `json:"findings"`
	Alerts       []Alert       `json:"alerts,omitempty"`
	Intel        []IntelVuln   `json:"intel,omitempty"`
}

// APIClient is an OAuth2 client credential and the Falcon API scopes granted
// to it, e.g. "spotlight-vulnerabilities:read", "hosts:read", "alerts:read",
// "falconx-intel:read"... (see Scope* constants).
type APIClient struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	Scopes       []string `json:"scopes"`
}

// Host is one device in the tenant.
type Host struct {
	AID              string    `json:"aid"`
	Hostname         string    `json:"hostname"`
	Platform         string    `json:"platform"`          // Windows, Linux, Mac
	OSVersion        string    `json:"os_version"`        // e.g. "Windows Server 2019"
	ProductTypeDesc  string    `json:"product_type_desc"` // Workstation, Server, Domain Controller
	AssetCriticality string    `json:"asset_criticality"` // Critical, High, Noncritical, Unassigned
	InternetExposure string    `json:"internet_exposure"` // Yes, No, Pending
	AssetRoles       []string  `json:"asset_roles,omitempty"`
	Tags             []string  `json:"tags,omitempty"`   // e.g. FalconGroupingTags/bu-finance, FalconGroupingTags/team-payments
	Groups           []string  `json:"groups,omitempty"` // host group names
	LocalIP          string    `json:"local_ip,omitempty"`
	ExternalIP       string    `json:"external_ip,omitempty"`
	MachineDomain    string    `json:"machine_domain,omitempty"`
	OU               string    `json:"ou,omitempty"`
	SiteName         string    `json:"site_name,omitempty"`
	FirstSeen        time.Time `json:"first_seen"`
	LastSeen         time.Time `json:"last_seen"`
	// Managed is false for an asset Spotlight knows only from a network scan
	// (no Falcon sensor): it has findings but no Hosts API record and no RTR.
	Managed bool   `json:"managed"`
	Status  string `json:"status,omitempty"` // normal (default), contained
}

// CVE is the cve facet data for one CVE. Fields Falcon computes that public
// data lacks (ExprtRating, ExploitStatus) are simulated; see DeriveFalconRatings.
type CVE struct {
	ID               string    `json:"id"`
	Name             string    `json:"name,omitempty"`
	Description      string    `json:"description,omitempty"`
	BaseScore        float64   `json:"base_score"`
	Vector           string    `json:"vector,omitempty"`
	Severity         string    `json:"severity,omitempty"`
	ExprtRating      string    `json:"exprt_rating,omitempty"`
	ExploitStatus    int       `json:"exploit_status"`
	IsCISAKEV        bool      `json:"is_cisa_kev"`
	CISADueDate      string    `json:"cisa_due_date,omitempty"`
	Published        time.Time `json:"published"`
	RemediationLevel string    `json:"remediation_level,omitempty"`
	Actors           []string  `json:"actors,omitempty"`
	CWEs             []string  `json:"cwes,omitempty"`
	References       []string  `json:"references,omitempty"`
	VendorAdvisory   []string  `json:"vendor_advisory,omitempty"`
	// SSVC holds the CISA-ADP SSVC values of the real record, when known; the
	// simulator does not serve them (Falcon does not), they document where the
	// simulated ratings came from.
	SSVC *SSVC `json:"ssvc,omitempty"`
}

// SSVC is a CISA-ADP SSVC assessment as published in Vulnrichment.
type SSVC struct {
	Exploitation    string `json:"exploitation"`     // none, poc, active
	Automatable     string `json:"automatable"`      // yes, no
	TechnicalImpact string `json:"technical_impact"` // partial, total
}

// Remediation is a remediation entity (patch, upgrade, workaround).
type Remediation struct {
	ID                 string    `json:"id"`
	Title              string    `json:"title"`
	Action             string    `json:"action"`
	Reference          string    `json:"reference,omitempty"`
	Link               string    `json:"link,omitempty"`
	VendorURL          string    `json:"vendor_url,omitempty"`
	Type               string    `json:"type,omitempty"` // patch, upgrade, workaround
	Provider           string    `json:"provider,omitempty"`
	RecommendationType string    `json:"recommendation_type,omitempty"`
	PatchPublished     time.Time `json:"patch_publication_date,omitzero"`
}

// Finding is one vulnerability on one host for one application.
type Finding struct {
	ID                string     `json:"id,omitempty"` // derived from aid+cve+product when empty
	AID               string     `json:"aid"`
	CVE               string     `json:"cve"`
	Vendor            string     `json:"vendor,omitempty"`
	Product           string     `json:"product"`
	ProductVersion    string     `json:"product_version,omitempty"`
	Status            string     `json:"status,omitempty"` // open (default), closed, reopen, expired
	Created           time.Time  `json:"created"`
	Updated           time.Time  `json:"updated,omitzero"` // defaults to Created
	Closed            *time.Time `json:"closed,omitempty"`
	RemediationIDs    []string   `json:"remediation_ids,omitempty"` // empty: no patch available
	Suppressed        bool       `json:"suppressed,omitempty"`
	SuppressionReason string     `json:"suppression_reason,omitempty"` // e.g. ACCEPT_RISK, COMPENSATING_CONTROL
	Confidence        string     `json:"confidence,omitempty"`         // confirmed (default), potential
}

// Alert is an endpoint detection on a host.
type Alert struct {
	ID          string    `json:"id,omitempty"` // composite id; derived when empty
	AID         string    `json:"aid"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated,omitzero"`
	Status      string    `json:"status,omitempty"` // new (default), in_progress, closed, reopened
	Severity    int       `json:"severity"`         // 1-100
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Tactic      string    `json:"tactic,omitempty"`
	Technique   string    `json:"technique,omitempty"`
	Filename    string    `json:"filename,omitempty"`
	Cmdline     string    `json:"cmdline,omitempty"`
}

// IntelVuln is Falcon Intelligence's record for one CVE.
type IntelVuln struct {
	CVE           string        `json:"cve"`
	Severity      string        `json:"severity,omitempty"`
	ExploitStatus string        `json:"exploit_status,omitempty"`
	Description   string        `json:"description,omitempty"`
	Actors        []IntelActor  `json:"actors,omitempty"`
	Reports       []IntelReport `json:"reports,omitempty"`
}

// IntelActor is an adversary tied to a CVE.
type IntelActor struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// IntelReport is a report that discusses a CVE.
type IntelReport struct {
	SerialID string    `json:"serial_id"`
	Title    string    `json:"title"`
	Type     string    `json:"type,omitempty"`
	Created  time.Time `json:"created,omitzero"`
}
