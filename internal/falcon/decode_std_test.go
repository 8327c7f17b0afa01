package falcon

import (
	"encoding/json"
	"sync/atomic"
)

// decodeFindingsPageStd is the encoding/json alternative to the lean
// decoder: minimal structs, then the same mapping. It lives in a test file
// because it lost the measurement (see BenchmarkDecode); it stays as the
// second opinion in differential tests.
func decodeFindingsPageStd(data []byte, bad *atomic.Int64) ([]Finding, pageMeta, error) {
	var page struct {
		Meta struct {
			TraceID    string `json:"trace_id"`
			Pagination struct {
				After string `json:"after"`
				Total int64  `json:"total"`
				Limit int    `json:"limit"`
			} `json:"pagination"`
		} `json:"meta"`
		Resources []stdFinding `json:"resources"`
		Errors    []apiMessage `json:"errors"`
	}
	if err := json.Unmarshal(data, &page); err != nil {
		return nil, pageMeta{}, err
	}
	out := make([]Finding, len(page.Resources))
	for i := range page.Resources {
		out[i] = page.Resources[i].finding(bad)
	}
	m := pageMeta{After: page.Meta.Pagination.After, Total: page.Meta.Pagination.Total, Limit: page.Meta.Pagination.Limit,
		TraceID: page.Meta.TraceID, Errors: page.Errors, HasResources: page.Resources != nil}
	return out, m, nil
}

type stdApp struct {
	Product        string `json:"product_name_normalized"`
	ProductVersion string `json:"product_name_version"`
	Vendor         string `json:"vendor_normalized"`
	SubStatus      string `json:"sub_status"`
	PatchPublished string `json:"patch_publication_date"`
	Remediation    *struct {
		IDs []string `json:"ids"`
	} `json:"remediation"`
	EvaluationLogic *struct {
		ID    string `json:"id"`
		Logic []struct {
			Title string `json:"title"`
		} `json:"logic"`
	} `json:"evaluation_logic"`
}

type stdRemediation struct {
	ID, Title, Action, Reference, Link, Type, Provider string
	VendorURL                                          string `json:"vendor_url"`
	RecommendationType                                 string `json:"recommendation_type"`
	PatchPublished                                     string `json:"patch_publication_date"`
}

type stdFinding struct {
	ID              string  `json:"id"`
	AID             string  `json:"aid"`
	CID             string  `json:"cid"`
	VulnerabilityID string  `json:"vulnerability_id"`
	Status          string  `json:"status"`
	Confidence      string  `json:"confidence"`
	Created         string  `json:"created_timestamp"`
	Updated         string  `json:"updated_timestamp"`
	Closed          string  `json:"closed_timestamp"`
	App             *stdApp `json:"app"`
	Apps            []stdApp
	Remediation     *struct {
		IDs      []string         `json:"ids"`
		Entities []stdRemediation `json:"entities"`
	} `json:"remediation"`
	Suppression *struct {
		Suppressed bool   `json:"is_suppressed"`
		Reason     string `json:"reason"`
	} `json:"suppression_info"`
	Host *struct {
		Hostname, Platform, OU string
		PlatformName           string   `json:"platform_name"`
		OSVersion              string   `json:"os_version"`
		ProductTypeDesc        string   `json:"product_type_desc"`
		AssetCriticality       string   `json:"asset_criticality"`
		AssetRoles             []string `json:"asset_roles"`
		InternetExposure       string   `json:"internet_exposure"`
		Tags                   []string `json:"tags"`
		Groups                 []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"groups"`
		LocalIP       string `json:"local_ip"`
		MachineDomain string `json:"machine_domain"`
		SiteName      string `json:"site_name"`
		ManagedBy     string `json:"managed_by"`
		InstanceState string `json:"instance_state"`
		LastSeen      string `json:"host_last_seen_timestamp"`
	} `json:"host_info"`
	CVE *struct {
		ID, Name, Description, Vector, Severity string
		BaseScore                               float64 `json:"base_score"`
		ExprtRating                             string  `json:"exprt_rating"`
		ExploitStatus                           int     `json:"exploit_status"`
		IsCISAKEV                               bool    `json:"is_cisa_kev"`
		CISAInfo                                *struct {
			IsCISAKEV bool   `json:"is_cisa_kev"`
			DueDate   string `json:"due_date"`
		} `json:"cisa_info"`
		Published        string   `json:"published_date"`
		RemediationLevel string   `json:"remediation_level"`
		Actors           []string `json:"actors"`
		CWEs             []string `json:"cwes"`
		References       []string `json:"references"`
		VendorAdvisory   []string `json:"vendor_advisory"`
		Types            []string `json:"types"`
	} `json:"cve"`
}

func (s *stdFinding) finding(bad *atomic.Int64) Finding {
	f := Finding{ID: s.ID, AID: s.AID, CID: s.CID, Status: s.Status, Confidence: s.Confidence,
		Created: parseTime(s.Created, bad), Updated: parseTime(s.Updated, bad)}
	if t := parseTime(s.Closed, bad); !t.IsZero() {
		f.Closed = &t
	}
	if s.App != nil {
		f.App = App{Vendor: s.App.Vendor, Product: s.App.Product, ProductVersion: s.App.ProductVersion,
			SubStatus: s.App.SubStatus, PatchPublished: s.App.PatchPublished}
	}
	var appsRem []string
	for _, a := range s.Apps {
		f.Apps = append(f.Apps, App{Vendor: a.Vendor, Product: a.Product, ProductVersion: a.ProductVersion,
			SubStatus: a.SubStatus, PatchPublished: a.PatchPublished})
		if a.Remediation != nil {
			appsRem = appendUnique(appsRem, a.Remediation.IDs...)
		}
		if el := a.EvaluationLogic; el != nil {
			e := EvaluationLogic{ID: el.ID}
			for _, l := range el.Logic {
				if l.Title != "" {
					if e.Title == "" {
						e.Title = l.Title
					}
					e.Items = append(e.Items, l.Title)
				}
			}
			f.EvaluationLogic = append(f.EvaluationLogic, e)
		}
	}
	if r := s.Remediation; r != nil {
		f.RemediationIDs = r.IDs
		for _, e := range r.Entities {
			f.Remediations = append(f.Remediations, Remediation{ID: e.ID, Title: e.Title, Action: e.Action,
				Reference: e.Reference, Link: e.Link, VendorURL: e.VendorURL, Type: e.Type, Provider: e.Provider,
				RecommendationType: e.RecommendationType, PatchPublished: parseTime(e.PatchPublished, bad)})
		}
	}
	if s.Suppression != nil {
		f.Suppression = Suppression{Suppressed: s.Suppression.Suppressed, Reason: s.Suppression.Reason}
	}
	if h := s.Host; h != nil {
		f.Host = HostFacet{Hostname: h.Hostname, Platform: h.Platform, OSVersion: h.OSVersion,
			ProductTypeDesc: h.ProductTypeDesc, AssetCriticality: h.AssetCriticality, AssetRoles: h.AssetRoles,
			InternetExposure: h.InternetExposure, Tags: h.Tags, LocalIP: h.LocalIP, MachineDomain: h.MachineDomain,
			OU: h.OU, SiteName: h.SiteName, ManagedBy: h.ManagedBy, InstanceState: h.InstanceState,
			LastSeen: parseTime(h.LastSeen, bad)}
		if f.Host.Platform == "" {
			f.Host.Platform = h.PlatformName
		}
		for _, g := range h.Groups {
			if g.Name != "" {
				f.Host.Groups = append(f.Host.Groups, g.Name)
			} else if g.ID != "" {
				f.Host.Groups = append(f.Host.Groups, g.ID)
			}
		}
	}
	if c := s.CVE; c != nil {
		f.CVEInfo = CVEFacet{ID: c.ID, Name: c.Name, Description: c.Description, BaseScore: c.BaseScore,
			Vector: c.Vector, Severity: c.Severity, ExprtRating: c.ExprtRating, ExploitStatus: c.ExploitStatus,
			IsCISAKEV: c.IsCISAKEV, Published: parseTime(c.Published, bad), RemediationLevel: c.RemediationLevel,
			Actors: c.Actors, CWEs: c.CWEs, References: c.References, VendorAdvisory: c.VendorAdvisory, Types: c.Types}
		if ci := c.CISAInfo; ci != nil {
			f.CVEInfo.IsCISAKEV = f.CVEInfo.IsCISAKEV || ci.IsCISAKEV
			f.CVEInfo.CISADueDate = ci.DueDate
		}
	}
	finishFinding(&f, s.VulnerabilityID, appsRem)
	return f
}
