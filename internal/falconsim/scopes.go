package falconsim

// Demo credentials: accepted (with every scope) when a tenant lists no API
// clients. They are documented in README/SIMULATED.md and are not secret;
// the simulator never talks to a real Falcon cloud.
const (
	DemoClientID     = "vulnpilot-demo"
	DemoClientSecret = "vulnpilot-demo-secret-not-for-production"
)

// Falcon API scopes, spelled as Falcon's API definitions name them (the
// console shows them as e.g. "Vulnerabilities: Read", "Hosts: Write").
const (
	ScopeSpotlightRead = "spotlight-vulnerabilities:read"
	ScopeHostsRead     = "devices:read"
	ScopeHostsWrite    = "devices:write"
	ScopeAlertsRead    = "alerts:read"
	// ScopeIntelRead guards the Falcon Intelligence vulnerability endpoints
	// ("Vulnerabilities (Falcon Intelligence): Read"); it follows the
	// falconx-actors/indicators/reports naming of the other intel scopes.
	ScopeIntelRead = "falconx-vulnerabilities:read"
	ScopeRTRRead   = "real-time-response:read"
	ScopeRTRWrite  = "real-time-response:write"
	ScopeRTRAdmin  = "real-time-response-admin:write"
)

// AllScopes lists every scope the simulator checks; the demo client has all.
func AllScopes() []string {
	return []string{
		ScopeSpotlightRead, ScopeHostsRead, ScopeHostsWrite, ScopeAlertsRead,
		ScopeIntelRead, ScopeRTRRead, ScopeRTRWrite, ScopeRTRAdmin,
	}
}
