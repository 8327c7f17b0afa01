package falcon

import (
	"sync/atomic"
	"time"

	"github.com/crowdstrike/gofalcon/falcon/models"
	"github.com/go-openapi/strfmt"
)

// Decoders from gofalcon's models to vulnpilot's records. All are nil-safe:
// a nil model gives the zero record, nil fields give zero fields. Timestamps
// that cannot be read become zero values; the Client methods count them in
// Stats.BadTimestamps.

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func i64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func dateTime(p *strfmt.DateTime) time.Time {
	if p == nil {
		return time.Time{}
	}
	return time.Time(*p).UTC()
}

// FindingFromModel converts a combinedQueryVulnerabilities resource.
func FindingFromModel(m *models.DomainBaseAPIVulnerabilityV2) Finding {
	return findingFromModel(m, nil)
}

func findingFromModel(m *models.DomainBaseAPIVulnerabilityV2, bad *atomic.Int64) Finding {
	var f Finding
	if m == nil {
		return f
	}
	f.ID = str(m.ID)
	f.AID = str(m.Aid)
	f.CID = str(m.Cid)
	f.Status = str(m.Status)
	f.Confidence = m.Confidence
	f.Created = parseTime(str(m.CreatedTimestamp), bad)
	f.Updated = parseTime(str(m.UpdatedTimestamp), bad)
	if t := parseTime(m.ClosedTimestamp, bad); !t.IsZero() {
		f.Closed = &t
	}
	if a := m.App; a != nil {
		f.App = App{Vendor: str(a.VendorNormalized), Product: str(a.ProductNameNormalized), ProductVersion: str(a.ProductNameVersion)}
	}
	var appsRemIDs []string
	for _, a := range m.Apps {
		if a == nil {
			continue
		}
		f.Apps = append(f.Apps, App{
			Vendor: str(a.VendorNormalized), Product: str(a.ProductNameNormalized), ProductVersion: str(a.ProductNameVersion),
			SubStatus: a.SubStatus, PatchPublished: a.PatchPublicationDate,
		})
		if a.Remediation != nil {
			appsRemIDs = appendUnique(appsRemIDs, a.Remediation.Ids...)
		}
		if el := a.EvaluationLogic; el != nil {
			e := EvaluationLogic{ID: str(el.ID)}
			for _, item := range el.Logic {
				if item == nil || str(item.Title) == "" {
					continue
				}
				if e.Title == "" {
					e.Title = str(item.Title)
				}
				e.Items = append(e.Items, str(item.Title))
			}
			f.EvaluationLogic = append(f.EvaluationLogic, e)
		}
	}
	if r := m.Remediation; r != nil {
		f.RemediationIDs = append(f.RemediationIDs, r.Ids...)
		for _, e := range r.Entities {
			if e != nil {
				f.Remediations = append(f.Remediations, remediationFromModel(e, bad))
			}
		}
	}
	if s := m.SuppressionInfo; s != nil {
		f.Suppression = Suppression{Suppressed: s.IsSuppressed != nil && *s.IsSuppressed, Reason: s.Reason}
	}
	if h := m.HostInfo; h != nil {
		f.Host = HostFacet{
			Hostname: str(h.Hostname), Platform: h.Platform, OSVersion: str(h.OsVersion),
			ProductTypeDesc: h.ProductTypeDesc, AssetCriticality: h.AssetCriticality, AssetRoles: h.AssetRoles,
			InternetExposure: h.InternetExposure, Tags: h.Tags, LocalIP: str(h.LocalIP),
			MachineDomain: str(h.MachineDomain), OU: str(h.Ou), SiteName: str(h.SiteName), ManagedBy: h.ManagedBy,
			InstanceState: h.InstanceState, LastSeen: parseTime(h.HostLastSeenTimestamp, bad),
		}
		for _, g := range h.Groups {
			if g == nil {
				continue
			}
			if name := str(g.Name); name != "" {
				f.Host.Groups = append(f.Host.Groups, name)
			} else if g.ID != "" {
				f.Host.Groups = append(f.Host.Groups, g.ID)
			}
		}
	}
	if c := m.Cve; c != nil {
		f.CVEInfo = CVEFacet{
			ID: str(c.ID), Name: c.Name, Description: c.Description, BaseScore: c.BaseScore, Vector: c.Vector,
			Severity: c.Severity, ExprtRating: c.ExprtRating, ExploitStatus: clampInt(c.ExploitStatus),
			Published: parseTime(c.PublishedDate, bad), RemediationLevel: c.RemediationLevel,
			Actors: c.Actors, CWEs: c.Cwes, References: c.References, VendorAdvisory: c.VendorAdvisory, Types: c.Types,
		}
		if ci := c.CisaInfo; ci != nil {
			f.CVEInfo.IsCISAKEV = ci.IsCisaKev != nil && *ci.IsCisaKev
			f.CVEInfo.CISADueDate = ci.DueDate
		}
	}
	finishFinding(&f, m.VulnerabilityID, appsRemIDs)
	return f
}

// RemediationFromModel converts a getRemediationsV2 resource or a finding's
// remediation entity.
func RemediationFromModel(m *models.DomainAPIRemediationV2) Remediation {
	return remediationFromModel(m, nil)
}

func remediationFromModel(m *models.DomainAPIRemediationV2, bad *atomic.Int64) Remediation {
	if m == nil {
		return Remediation{}
	}
	return Remediation{
		ID: str(m.ID), Title: str(m.Title), Action: str(m.Action), Reference: str(m.Reference), Link: str(m.Link),
		VendorURL: str(m.VendorURL), Type: str(m.Type), Provider: str(m.Provider),
		RecommendationType: m.RecommendationType, PatchPublished: parseTime(m.PatchPublicationDate, bad),
	}
}

// HostFromModel converts a PostDeviceDetailsV2 resource.
func HostFromModel(m *models.DeviceapiDeviceSwagger) Host {
	return hostFromModel(m, nil)
}

func hostFromModel(m *models.DeviceapiDeviceSwagger, bad *atomic.Int64) Host {
	if m == nil {
		return Host{}
	}
	return Host{
		AID: str(m.DeviceID), CID: str(m.Cid), Hostname: m.Hostname, Platform: m.PlatformName, OSVersion: m.OsVersion,
		ProductTypeDesc: m.ProductTypeDesc, LocalIP: m.LocalIP, ExternalIP: m.ExternalIP, MachineDomain: m.MachineDomain,
		OU: m.Ou, SiteName: m.SiteName, Status: m.Status, Tags: m.Tags, Groups: m.Groups, AgentVersion: m.AgentVersion,
		FirstSeen: parseTime(m.FirstSeen, bad), LastSeen: parseTime(m.LastSeen, bad),
		ReducedFunction: m.ReducedFunctionalityMode, ProvisionStatus: m.ProvisionStatus,
	}
}

// AlertFromModel converts an alerts GetV2 resource. (The model's timestamps
// are strfmt.DateTime, already parsed by gofalcon.)
func AlertFromModel(m *models.DetectsAlert) Alert {
	if m == nil {
		return Alert{}
	}
	a := Alert{
		ID: str(m.CompositeID), AID: str(m.AgentID), Created: dateTime(m.CreatedTimestamp),
		Updated: dateTime(m.UpdatedTimestamp), Status: str(m.Status), Severity: clampInt(i64(m.Severity)),
		SeverityName: str(m.SeverityName), Name: str(m.Name), DisplayName: str(m.DisplayName),
		Description: str(m.Description), Tactic: str(m.Tactic), Technique: str(m.Technique),
		Filename: m.Filename, Cmdline: m.Cmdline, Product: str(m.Product),
	}
	if a.Created.IsZero() {
		a.Created = dateTime(m.Timestamp)
	}
	if d := m.Device; d != nil {
		a.Hostname = d.Hostname
		if a.AID == "" {
			a.AID = d.DeviceID
		}
	}
	return a
}

// IntelVulnFromModel converts an intel GetVulnerabilities resource.
func IntelVulnFromModel(m *models.DomainVulnerability) IntelVuln {
	return intelVulnFromModel(m, nil)
}

func intelVulnFromModel(m *models.DomainVulnerability, bad *atomic.Int64) IntelVuln {
	if m == nil {
		return IntelVuln{}
	}
	v := IntelVuln{
		CVE: str(m.Cve), Name: m.Name, Description: m.Description, Severity: m.Severity,
		ExploitStatus: m.ExploitStatus, Published: parseTime(m.PublishDate, bad),
	}
	for _, a := range m.RelatedActors {
		if a != nil {
			v.Actors = append(v.Actors, IntelActor{ID: a.ID, Name: a.Name})
		}
	}
	for _, r := range m.RelatedReports {
		if r == nil {
			continue
		}
		rep := IntelReport{SerialID: r.SerialID, Title: r.Title}
		if r.Type != nil {
			rep.Type = r.Type.Name
		}
		if r.CreatedDate > 0 {
			rep.Created = time.Unix(r.CreatedDate, 0).UTC()
		}
		v.Reports = append(v.Reports, rep)
	}
	for _, t := range m.RelatedThreats {
		if t != nil && t.Name != "" {
			v.Threats = append(v.Threats, t.Name)
		}
	}
	return v
}
