package falconsim

import "time"

// unixOrZero is t as Unix seconds; the zero time renders as "not set".
func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func (s *snapshot) renderHostFacet(i int32) []byte {
	r := &s.hosts[i]
	h := &r.h
	o := beginObj(nil)
	o.str("hostname", h.Hostname)
	o.str("local_ip", h.LocalIP)
	o.str("machine_domain", h.MachineDomain)
	o.str("os_version", h.OSVersion)
	o.str("ou", h.OU)
	o.str("site_name", h.SiteName)
	o.str("system_manufacturer", r.systemManufacturer)
	o.strOmit("platform", h.Platform)
	o.strOmit("product_type_desc", h.ProductTypeDesc)
	o.strOmit("asset_criticality", h.AssetCriticality)
	o.strOmit("internet_exposure", h.InternetExposure)
	o.strs("asset_roles", h.AssetRoles)
	o.strs("tags", h.Tags)
	o.key("groups")
	o.b = append(o.b, '[')
	for gi, name := range h.Groups {
		if gi > 0 {
			o.b = append(o.b, ',')
		}
		g := beginObj(o.b)
		g.str("id", r.groupIDs[gi])
		g.str("name", name)
		o.b = g.end()
	}
	o.b = append(o.b, ']')
	o.str("managed_by", r.managedBy())
	if ls := unixOrZero(h.LastSeen); ls != 0 {
		o.time("host_last_seen_timestamp", ls)
	}
	return o.end()
}

func (s *snapshot) renderCVEFacet(i int32) []byte {
	c := &s.cves[i].c
	o := beginObj(nil)
	o.str("id", c.ID)
	o.strOmit("name", c.Name)
	o.float("base_score", c.BaseScore)
	o.strOmit("severity", c.Severity)
	o.int("exploit_status", int64(c.ExploitStatus))
	o.strOmit("exprt_rating", c.ExprtRating)
	o.key("cisa_info")
	ci := beginObj(o.b)
	ci.bool("is_cisa_kev", c.IsCISAKEV)
	ci.strOmit("due_date", c.CISADueDate)
	o.b = ci.end()
	if p := unixOrZero(c.Published); p != 0 {
		o.time("published_date", p)
		o.time("spotlight_published_date", p)
	}
	o.strOmit("description", c.Description)
	o.strOmit("vector", c.Vector)
	o.strOmit("remediation_level", c.RemediationLevel)
	o.strs("actors", c.Actors)
	o.strs("cwes", c.CWEs)
	o.strs("references", c.References)
	o.strs("vendor_advisory", c.VendorAdvisory)
	o.strs("types", s.cves[i].types)
	return o.end()
}

func (s *snapshot) renderRemediation(i int32) []byte {
	r := &s.rems[i].r
	o := beginObj(nil)
	o.str("id", r.ID)
	o.str("reference", r.Reference)
	o.str("title", r.Title)
	o.str("action", r.Action)
	o.str("link", r.Link)
	o.str("vendor_url", r.VendorURL)
	o.str("type", r.Type)
	o.str("provider", r.Provider)
	o.strOmit("recommendation_type", r.RecommendationType)
	if p := unixOrZero(r.PatchPublished); p != 0 {
		o.time("patch_publication_date", p)
	}
	return o.end()
}

// facets selects the optional blocks of a Spotlight vulnerability.
type facets struct {
	cve, hostInfo, remediation, evalLogic bool
}

// appendFinding renders finding i as a Spotlight vulnerability
// (domain.BaseAPIVulnerabilityV2 / domain.APIVulnerabilityV2).
func (s *snapshot) appendFinding(b []byte, i int32, fc facets) []byte {
	f := &s.findings[i]
	o := beginObj(b)
	o.str("id", f.id)
	o.str("cid", s.cid)
	o.raw("aid", s.aidJSON[f.host])
	o.raw("vulnerability_id", s.cveJSON[f.cve])
	o.time("created_timestamp", f.created)
	o.time("updated_timestamp", f.updated)
	if f.closed != 0 {
		o.time("closed_timestamp", f.closed)
	}
	status := findingStatusNames[f.status]
	o.str("status", status)
	if f.potential {
		o.str("confidence", "potential")
	} else {
		o.str("confidence", "confirmed")
	}
	nameVersion, product, vendor := s.strsJSON[f.nameVersion], s.strsJSON[f.product], s.strsJSON[f.vendor]

	o.key("app")
	app := beginObj(o.b)
	app.raw("product_name_version", nameVersion)
	app.raw("product_name_normalized", product)
	app.raw("vendor_normalized", vendor)
	o.b = app.end()

	rems := s.findingRems(f)
	o.key("apps")
	o.b = append(o.b, '[')
	ap := beginObj(o.b)
	ap.raw("product_name_version", nameVersion)
	ap.raw("product_name_normalized", product)
	ap.raw("vendor_normalized", vendor)
	ap.str("sub_status", status)
	patch := s.earliestPatch(rems)
	if patch != 0 {
		ap.time("patch_publication_date", patch)
	}
	ap.key("remediation")
	ri := beginObj(ap.b)
	ri.key("ids")
	ri.b = s.appendRemIDs(ri.b, rems)
	ap.b = ri.end()
	if len(rems) > 0 {
		ap.key("remediation_info")
		info := beginObj(ap.b)
		info.str("recommended_id", s.rems[rems[0]].r.ID)
		info.str("minimum_id", s.rems[rems[len(rems)-1]].r.ID)
		if patch != 0 {
			info.time("patch_publication_date", patch)
		}
		ap.b = info.end()
	}
	if fc.evalLogic {
		ap.key("evaluation_logic")
		ap.b = s.appendEvalLogic(ap.b, i)
	}
	o.b = ap.end()
	o.b = append(o.b, ']')

	o.key("suppression_info")
	si := beginObj(o.b)
	si.bool("is_suppressed", f.suppressed)
	si.strOmit("reason", s.str(f.reason))
	o.b = si.end()

	if fc.hostInfo {
		o.raw("host_info", s.hostFacetJSON[f.host])
	}
	if fc.cve {
		o.raw("cve", s.cveFacetJSON[f.cve])
	}
	if fc.remediation {
		o.key("remediation")
		r := beginObj(o.b)
		r.key("entities")
		r.b = append(r.b, '[')
		for k, ri := range rems {
			if k > 0 {
				r.b = append(r.b, ',')
			}
			r.b = append(r.b, s.remJSON[ri]...)
		}
		r.b = append(r.b, ']')
		r.key("ids")
		r.b = s.appendRemIDs(r.b, rems)
		o.b = r.end()
	}
	return o.end()
}

func (s *snapshot) appendRemIDs(b []byte, rems []int32) []byte {
	b = append(b, '[')
	for k, ri := range rems {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s.rems[ri].r.ID)
	}
	return append(b, ']')
}

func (s *snapshot) earliestPatch(rems []int32) int64 {
	var earliest int64
	for _, ri := range rems {
		if p := unixOrZero(s.rems[ri].r.PatchPublished); p != 0 && (earliest == 0 || p < earliest) {
			earliest = p
		}
	}
	return earliest
}

// evalID is the evaluation-logic entity id of finding i: 32 hex digits
// derived from the finding id. It is computed on the fly (pages render it
// for every finding) with two FNV-1a passes rather than a cryptographic hash.
func (s *snapshot) evalID(i int32) string { return string(appendEvalID(nil, s.findings[i].id)) }

func appendEvalID(dst []byte, findingID string) []byte {
	const prime = 1099511628211
	h1, h2 := uint64(14695981039346656037), uint64(0x6c62272e07bb0142)
	for k := 0; k < len(findingID); k++ {
		h1 = (h1 ^ uint64(findingID[k])) * prime
		h2 = (h2 ^ uint64(findingID[k])) * prime
	}
	h2 = splitmix(h2 ^ h1)
	for _, h := range [2]uint64{splitmix(h1), h2} {
		for shift := 60; shift >= 0; shift -= 4 {
			dst = append(dst, hexDigits[(h>>uint(shift))&0xF])
		}
	}
	return dst
}

// findingByEvalID resolves an evaluation-logic id; the index is built on
// first use because most runs never ask for it.
func (s *snapshot) findingByEvalID(id string) (int32, bool) {
	s.evalOnce.Do(func() {
		s.evalByID = make(map[string]int32, len(s.findings))
		for i := range s.findings {
			s.evalByID[s.evalID(int32(i))] = int32(i)
		}
	})
	i, ok := s.evalByID[id]
	return i, ok
}

// appendEvalLogic renders how the sensor decided the finding applies: the
// installed product version compared with the vulnerable range.
func (s *snapshot) appendEvalLogic(b []byte, i int32) []byte {
	f := &s.findings[i]
	h := &s.hosts[f.host]
	o := beginObj(b)
	o.key("id")
	o.b = append(o.b, '"')
	o.b = appendEvalID(o.b, f.id)
	o.b = append(o.b, '"')
	o.str("aid", h.h.AID)
	o.str("cid", s.cid)
	o.time("created_timestamp", f.created)
	o.time("updated_timestamp", f.updated)
	if h.h.Managed {
		o.str("data_provider", "Falcon sensor")
	} else {
		o.str("data_provider", "Falcon Exposure Management")
	}
	o.key("logic")
	o.b = append(o.b, '[')
	l := beginObj(o.b)
	l.int("id", 1)
	l.key("title")
	l.b = append(l.b, `"Check installed version of `...)
	l.b = appendJSONStringContent(l.b, s.str(f.product))
	l.b = append(l.b, '"')
	l.str("type", "inventory")
	l.str("existence_check", "at_least_one_exists")
	l.str("comparison_check", "all")
	l.bool("determined_by_comparison", true)
	l.key("items")
	l.b = append(l.b, '[')
	it := beginObj(l.b)
	it.str("item_type", "product")
	it.str("product_name", s.str(f.product))
	it.str("vendor", s.str(f.vendor))
	it.str("installed_version", s.str(f.nameVersion))
	it.str("vulnerability_id", s.cves[f.cve].c.ID)
	l.b = it.end()
	l.b = append(l.b, ']')
	o.b = l.end()
	o.b = append(o.b, ']')
	return o.end()
}
