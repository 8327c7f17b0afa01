package risk

import (
	"time"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
)

var now = time.Date(2025, 9, 1, 12, 0, 0, 0, time.UTC)

func mustEngine(p *Policy) *Engine {
	e, err := NewEngine(p)
	if err != nil {
		panic(err)
	}
	return e
}

// kevDCInput: a KEV CVE (ransomware) on an internet-facing, Critical domain
// controller, with a patch, EPSS known.
func kevDCInput() *Input {
	return &Input{
		Finding: &falcon.Finding{
			ID: "f-dc-1", AID: "aid-dc-01", CVE: "CVE-2020-1472", Status: "open",
			Created: time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC), Confidence: "confirmed",
			App:            falcon.App{Vendor: "Microsoft", Product: "Windows Server 2019"},
			RemediationIDs: []string{"rem-kb5005030"},
			Host: falcon.HostFacet{Hostname: "dc01.corp.example", Platform: "Windows", ProductTypeDesc: "Domain Controller",
				AssetCriticality: "Critical", InternetExposure: "Yes", ManagedBy: "Falcon sensor",
				LastSeen: now.Add(-2 * time.Hour)},
			CVEInfo: falcon.CVEFacet{ID: "CVE-2020-1472", BaseScore: 10, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
				ExprtRating: "CRITICAL", ExploitStatus: 90, IsCISAKEV: true, Actors: []string{"WIZARD SPIDER"}},
		},
		KEV: &KEVFact{CatalogVersion: "2025.08.25", DateAdded: time.Date(2021, 11, 3, 0, 0, 0, 0, time.UTC),
			Ransomware: true, VulnerabilityName: "Microsoft Netlogon Privilege Escalation Vulnerability"},
		EPSS: &EPSSFact{Score: 0.94406, Percentile: 0.99965, ModelVersion: "v2025.03.14", ScoreDate: "2025-08-31"},
		Host: &falcon.Host{AID: "aid-dc-01", Hostname: "dc01.corp.example", ProductTypeDesc: "Domain Controller", LastSeen: now.Add(-2 * time.Hour)},
		Now:  now,
	}
}

// isolatedWorkstationInput: CVSS 9.8, no exploit, on a Noncritical internal
// workstation, EPSS unknown, model prior present.
func isolatedWorkstationInput() *Input {
	return &Input{
		Finding: &falcon.Finding{
			ID: "f-ws-1", AID: "aid-ws-42", CVE: "CVE-2024-99999", Status: "open",
			Created: time.Date(2025, 8, 20, 0, 0, 0, 0, time.UTC), Confidence: "confirmed",
			App:            falcon.App{Vendor: "Example", Product: "Viewer"},
			RemediationIDs: []string{"rem-viewer-2"},
			Host: falcon.HostFacet{Hostname: "ws42", Platform: "Windows", ProductTypeDesc: "Workstation",
				AssetCriticality: "Noncritical", InternetExposure: "No", ManagedBy: "Falcon sensor", LastSeen: now.Add(-24 * time.Hour)},
			CVEInfo: falcon.CVEFacet{ID: "CVE-2024-99999", BaseScore: 9.8, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
				ExprtRating: "LOW", ExploitStatus: 0},
		},
		Prior: &PriorFact{Model: "model v1", Probability: 0.07},
		Host:  &falcon.Host{AID: "aid-ws-42", Hostname: "ws42", ProductTypeDesc: "Workstation", LastSeen: now.Add(-24 * time.Hour)},
		Now:   now,
	}
}

// kevInternalDCInput: PrintNightmare (KEV, ransomware) on an internal
// Critical domain controller: P1 only through the exploited_critical_asset
// floor (the internal exposure multiplier caps the score below 70).
func kevInternalDCInput() *Input {
	return &Input{
		Finding: &falcon.Finding{
			ID: "f-dc-2", AID: "aid-dc-02", CVE: "CVE-2021-34527", Status: "open",
			Created: time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC), Confidence: "confirmed",
			App:            falcon.App{Vendor: "Microsoft", Product: "Windows Server 2022"},
			RemediationIDs: []string{"rem-kb5004945"},
			Host: falcon.HostFacet{Hostname: "dc02.corp.example", Platform: "Windows", ProductTypeDesc: "Domain Controller",
				AssetCriticality: "Critical", InternetExposure: "No", ManagedBy: "Falcon sensor", LastSeen: now.Add(-3 * time.Hour)},
			CVEInfo: falcon.CVEFacet{ID: "CVE-2021-34527", BaseScore: 8.8, Vector: "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
				ExprtRating: "CRITICAL", ExploitStatus: 90, IsCISAKEV: true},
		},
		KEV: &KEVFact{CatalogVersion: "2025.08.25", DateAdded: time.Date(2021, 11, 3, 0, 0, 0, 0, time.UTC),
			Ransomware: true, VulnerabilityName: "Microsoft Windows Print Spooler Remote Code Execution Vulnerability"},
		EPSS: &EPSSFact{Score: 0.94, Percentile: 0.999, ModelVersion: "v2025.03.14", ScoreDate: "2025-08-31"},
		Host: &falcon.Host{AID: "aid-dc-02", Hostname: "dc02.corp.example", ProductTypeDesc: "Domain Controller", LastSeen: now.Add(-3 * time.Hour)},
		Now:  now,
	}
}

// staleControlledKEVWorkstationInput: a KEV Mark-of-the-Web bypass on a
// Noncritical workstation with a recorded compensating control, not seen for
// 104 days: the KEV floor drops to P3 for the control, then P4 for staleness.
func staleControlledKEVWorkstationInput() *Input {
	lastSeen := now.AddDate(0, 0, -104)
	return &Input{
		Finding: &falcon.Finding{
			ID: "f-ws-17", AID: "aid-ws-17", CVE: "CVE-2024-38217", Status: "open",
			Created: time.Date(2024, 10, 1, 0, 0, 0, 0, time.UTC), Confidence: "confirmed",
			App:            falcon.App{Vendor: "Microsoft", Product: "Windows 11"},
			RemediationIDs: []string{"rem-kb5043076"},
			Suppression:    falcon.Suppression{Suppressed: true, Reason: "COMPENSATING_CONTROL"},
			Host: falcon.HostFacet{Hostname: "old-ws-17", Platform: "Windows", ProductTypeDesc: "Workstation",
				AssetCriticality: "Noncritical", InternetExposure: "No", ManagedBy: "Falcon sensor", LastSeen: lastSeen},
			CVEInfo: falcon.CVEFacet{ID: "CVE-2024-38217", BaseScore: 5.4, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:L/A:L",
				ExprtRating: "HIGH", ExploitStatus: 90, IsCISAKEV: true},
		},
		KEV: &KEVFact{CatalogVersion: "2025.08.25", DateAdded: time.Date(2024, 9, 10, 0, 0, 0, 0, time.UTC),
			VulnerabilityName: "Microsoft Windows Mark of the Web (MOTW) Protection Mechanism Failure Vulnerability"},
		EPSS: &EPSSFact{Score: 0.6, Percentile: 0.98, ModelVersion: "v2025.03.14", ScoreDate: "2025-08-31"},
		Host: &falcon.Host{AID: "aid-ws-17", Hostname: "old-ws-17", ProductTypeDesc: "Workstation", LastSeen: lastSeen},
		Now:  now,
	}
}
