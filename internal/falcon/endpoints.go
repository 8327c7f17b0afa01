package falcon

import (
	"slices"
	"strings"
)

// Endpoint describes one Falcon API operation this package calls: the
// console name of the API scope it needs and the FQL fields its filter
// accepts. It is the single table behind error hints and the docs.
type Endpoint struct {
	Op     string   // service/operation id, as in APIError.Op
	Method string   // HTTP method
	Path   string   // API path
	Scope  string   // API client scope as the Falcon console names it
	Fields []string // FQL filter fields; nil when the operation takes no filter
}

// Operation ids (APIError.Op).
const (
	OpToken                = "oauth2/token"
	OpCombinedFindings     = "spotlight/combinedQueryVulnerabilities"
	OpGetFindings          = "spotlight/getVulnerabilities"
	OpGetRemediations      = "spotlight/getRemediationsV2"
	OpQueryHosts           = "hosts/QueryDevicesByFilter"
	OpGetHosts             = "hosts/PostDeviceDetailsV2"
	OpHostAction           = "hosts/PerformActionV2"
	OpUpdateHostTags       = "hosts/UpdateDeviceTags"
	OpQueryAlerts          = "alerts/QueryV2"
	OpGetAlerts            = "alerts/GetV2"
	OpQueryIntelVulns      = "intel/QueryVulnerabilities"
	OpGetIntelVulns        = "intel/GetVulnerabilities"
	ScopeSpotlightRead     = "Vulnerabilities:read"
	ScopeHostsRead         = "Hosts:read"
	ScopeHostsWrite        = "Hosts:write"
	ScopeAlertsRead        = "Alerts:read"
	ScopeIntelVulnsRead    = "Vulnerabilities (Falcon Intelligence):read"
	consoleAPIClientsPlace = "Falcon console → API clients"
)

// spotlightFields are the FQL fields of the Spotlight vulnerabilities
// endpoints (gofalcon v0.22.0 parameter docs and the falcon-mcp FQL guide).
var spotlightFields = []string{
	"aid", "apps.remediation.ids", "cid", "closed_timestamp", "confidence", "created_timestamp",
	"cve.base_score", "cve.cps_rating", "cve.cwes", "cve.exploit_status", "cve.exploit_status_to_include",
	"cve.exprt_rating", "cve.id", "cve.is_cisa_kev", "cve.remediation_level", "cve.severity", "cve.types",
	"data_providers.ports", "data_providers.provider", "data_providers.rating", "data_providers.scan_time",
	"data_providers.scanner_id",
	"host_info.asset_criticality", "host_info.asset_roles", "host_info.groups", "host_info.has_run_container",
	"host_info.instance_state", "host_info.internet_exposure", "host_info.managed_by", "host_info.platform_name",
	"host_info.product_type_desc", "host_info.tags", "host_info.third_party_asset_ids",
	"last_seen_within", "services.port", "services.protocol", "services.transport", "status",
	"suppression_info.is_suppressed", "suppression_info.reason", "updated_timestamp", "vulnerability_id",
}

var hostFields = []string{
	"agent_load_flags", "agent_version", "bios_manufacturer", "bios_version", "cid", "config_id_base",
	"config_id_build", "config_id_platform", "cpu_signature", "deployment_type", "device_id", "external_ip",
	"first_seen", "groups", "hostname", "instance_id", "kernel_version", "last_login_timestamp", "last_seen",
	"linux_sensor_mode", "local_ip", "local_ip.raw", "mac_address", "machine_domain", "major_version",
	"minor_version", "modified_timestamp", "os_version", "ou", "platform_id", "platform_name",
	"product_type_desc", "reduced_functionality_mode", "release_group", "serial_number", "service_provider",
	"service_provider_account_id", "site_name", "status", "system_manufacturer", "system_product_name", "tags",
}

var alertFields = []string{
	"agent_id", "aggregate_id", "alleged_filetype", "assigned_to_name", "assigned_to_uid", "assigned_to_uuid",
	"cid", "cmdline", "composite_id", "confidence", "crawled_timestamp", "created_timestamp", "data_domains",
	"description", "device.agent_version", "device.device_id", "device.external_ip", "device.hostname",
	"device.local_ip", "device.machine_domain", "device.os_version", "device.platform_name",
	"device.product_type_desc", "device.status", "display_name", "email_sent", "filename", "filepath",
	"md5", "name", "objective", "pattern_id", "platform", "product", "scenario", "severity", "severity_name",
	"sha1", "sha256", "show_in_ui", "source_products", "source_vendors", "status", "tactic", "tactic_id",
	"tags", "technique", "technique_id", "timestamp", "type", "updated_timestamp",
}

var intelVulnFields = []string{
	"_all", "affected_products.product", "affected_products.vendor", "community_identifiers", "cve",
	"cvss_v3_base", "cvss_v3_base.score", "cvss_v3_base.severity", "exploit_status", "publish_date",
	"related_actors", "related_actors.animal_classifier", "related_actors.name", "related_reports.serial_id",
	"related_reports.title", "related_threats", "related_threats.name", "severity", "updated_timestamp",
}

var endpoints = []Endpoint{
	{OpToken, "POST", "/oauth2/token", "", nil},
	{OpCombinedFindings, "GET", "/spotlight/combined/vulnerabilities/v1", ScopeSpotlightRead, spotlightFields},
	{OpGetFindings, "GET", "/spotlight/entities/vulnerabilities/v2", ScopeSpotlightRead, nil},
	{OpGetRemediations, "GET", "/spotlight/entities/remediations/v2", ScopeSpotlightRead, nil},
	{OpQueryHosts, "GET", "/devices/queries/devices/v1", ScopeHostsRead, hostFields},
	{OpGetHosts, "POST", "/devices/entities/devices/v2", ScopeHostsRead, nil},
	{OpHostAction, "POST", "/devices/entities/devices-actions/v2", ScopeHostsWrite, nil},
	{OpUpdateHostTags, "PATCH", "/devices/entities/devices/tags/v1", ScopeHostsWrite, nil},
	{OpQueryAlerts, "GET", "/alerts/queries/alerts/v2", ScopeAlertsRead, alertFields},
	{OpGetAlerts, "POST", "/alerts/entities/alerts/v2", ScopeAlertsRead, nil},
	{OpQueryIntelVulns, "GET", "/intel/queries/vulnerabilities/v1", ScopeIntelVulnsRead, intelVulnFields},
	{OpGetIntelVulns, "POST", "/intel/entities/vulnerabilities/GET/v1", ScopeIntelVulnsRead, nil},
}

// Endpoints returns the table of operations this package calls, for docs
// and tool descriptions. The result is a copy.
func Endpoints() []Endpoint {
	out := make([]Endpoint, len(endpoints))
	for i, e := range endpoints {
		e.Fields = slices.Clone(e.Fields)
		out[i] = e
	}
	return out
}

// FilterFields returns the FQL fields the operation's filter accepts (a
// copy), or nil for an unknown operation or one without a filter.
func FilterFields(op string) []string {
	if e, ok := endpointFor(op); ok {
		return slices.Clone(e.Fields)
	}
	return nil
}

func endpointFor(op string) (Endpoint, bool) {
	for _, e := range endpoints {
		if e.Op == op {
			return e, true
		}
	}
	return Endpoint{}, false
}

// idempotentPOST reports whether a POST path is a read (ids in the body),
// which makes it safe to retry.
func idempotentPOST(path string) bool {
	for _, e := range endpoints {
		if e.Method == "POST" && e.Scope != "" && strings.HasSuffix(e.Scope, ":read") && strings.HasSuffix(path, e.Path) {
			return true
		}
	}
	return false
}
