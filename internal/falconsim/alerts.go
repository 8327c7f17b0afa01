package falconsim

import (
	"net/http"
	"strings"

	"github.com/vulnpilot/vulnpilot/internal/fql"
)

const (
	afCompositeID = iota
	afID
	afAgentID
	afDeviceID
	afHostname
	afCID
	afStatus
	afSeverity
	afSeverityName
	afName
	afDisplayName
	afTactic
	afTacticID
	afTechnique
	afTechniqueID
	afProduct
	afType
	afPlatform
	afFilename
	afCmdline
	afCreated
	afUpdated
	afTimestamp
	afConfidence
)

var alertSchema = fql.NewSchema(
	fql.Field{Name: "composite_id"},
	fql.Field{Name: "id"},
	fql.Field{Name: "agent_id"},
	fql.Field{Name: "device.device_id"},
	fql.Field{Name: "device.hostname", Wildcard: true},
	fql.Field{Name: "cid"},
	fql.Field{Name: "status"},
	fql.Field{Name: "severity", Kind: fql.Number, Range: true},
	fql.Field{Name: "severity_name"},
	fql.Field{Name: "name", Wildcard: true},
	fql.Field{Name: "display_name", Wildcard: true},
	fql.Field{Name: "tactic", Wildcard: true},
	fql.Field{Name: "tactic_id"},
	fql.Field{Name: "technique", Wildcard: true},
	fql.Field{Name: "technique_id"},
	fql.Field{Name: "product"},
	fql.Field{Name: "type"},
	fql.Field{Name: "platform"},
	fql.Field{Name: "filename", Wildcard: true},
	fql.Field{Name: "cmdline", Wildcard: true},
	fql.Field{Name: "created_timestamp", Kind: fql.Time, Range: true},
	fql.Field{Name: "updated_timestamp", Kind: fql.Time, Range: true},
	fql.Field{Name: "timestamp", Kind: fql.Time, Range: true},
	fql.Field{Name: "confidence", Kind: fql.Number, Range: true},
)

// severityName maps Falcon's 1-100 alert severity to its name.
func severityName(sev int) string {
	switch {
	case sev >= 90:
		return "Critical"
	case sev >= 70:
		return "High"
	case sev >= 40:
		return "Medium"
	case sev >= 20:
		return "Low"
	}
	return "Informational"
}

// MITRE ATT&CK ids for the tactic and technique names tenants use; unknown
// names get no id rather than an invented one.
var tacticIDs = map[string]string{
	"Reconnaissance": "TA0043", "Resource Development": "TA0042", "Initial Access": "TA0001",
	"Execution": "TA0002", "Persistence": "TA0003", "Privilege Escalation": "TA0004",
	"Defense Evasion": "TA0005", "Credential Access": "TA0006", "Discovery": "TA0007",
	"Lateral Movement": "TA0008", "Collection": "TA0009", "Command and Control": "TA0011",
	"Exfiltration": "TA0010", "Impact": "TA0040",
}

var techniqueIDs = map[string]string{
	"Exploit Public-Facing Application":     "T1190",
	"Exploitation for Client Execution":     "T1203",
	"Exploitation for Privilege Escalation": "T1068",
	"Exploitation of Remote Services":       "T1210",
	"Command and Scripting Interpreter":     "T1059",
	"PowerShell":                            "T1059.001",
	"OS Credential Dumping":                 "T1003",
	"LSASS Memory":                          "T1003.001",
	"Ingress Tool Transfer":                 "T1105",
	"Valid Accounts":                        "T1078",
	"Remote Services":                       "T1021",
	"Data Encrypted for Impact":             "T1486",
	"Obfuscated Files or Information":       "T1027",
	"Masquerading":                          "T1036",
	"User Execution":                        "T1204",
	"Phishing":                              "T1566",
	"Scheduled Task/Job":                    "T1053",
	"Create or Modify System Process":       "T1543",
	"Web Shell":                             "T1505.003",
	"Server Software Component":             "T1505",
	"Indicator Removal":                     "T1070",
	"Process Injection":                     "T1055",
}

func (r *alertRec) statusOrDefault() string {
	if r.a.Status == "" {
		return "new"
	}
	return r.a.Status
}

func (r *alertRec) updated() int64 {
	if u := unixOrZero(r.a.Updated); u != 0 {
		return u
	}
	return r.a.Created.Unix()
}

// shortID is the alert id without the leading "cid:" of the composite id.
func (r *alertRec) shortID() string {
	if _, rest, ok := strings.Cut(r.a.ID, ":"); ok && strings.HasPrefix(rest, "ind:") {
		return rest
	}
	return r.a.ID
}

type alertCursor struct {
	s *snapshot
	i int32
}

func (c *alertCursor) seek(i int32) { c.i = i }

func (c *alertCursor) Lookup(field int, dst []fql.Value) []fql.Value {
	r := &c.s.alerts[c.i]
	a := &r.a
	h := &c.s.hosts[r.host].h
	switch field {
	case afCompositeID:
		return strVal(dst, a.ID)
	case afID:
		return strVal(dst, r.shortID())
	case afAgentID, afDeviceID:
		return strVal(dst, a.AID)
	case afHostname:
		return strVal(dst, h.Hostname)
	case afCID:
		return strVal(dst, c.s.cid)
	case afStatus:
		return strVal(dst, r.statusOrDefault())
	case afSeverity:
		return append(dst, fql.Value{N: float64(a.Severity)})
	case afSeverityName:
		return strVal(dst, severityName(a.Severity))
	case afName, afDisplayName:
		return strVal(dst, a.Name)
	case afTactic:
		return strVal(dst, a.Tactic)
	case afTacticID:
		return strVal(dst, tacticIDs[a.Tactic])
	case afTechnique:
		return strVal(dst, a.Technique)
	case afTechniqueID:
		return strVal(dst, techniqueIDs[a.Technique])
	case afProduct:
		return strVal(dst, "epp")
	case afType:
		return strVal(dst, "ldt")
	case afPlatform:
		return strVal(dst, h.Platform)
	case afFilename:
		return strVal(dst, a.Filename)
	case afCmdline:
		return strVal(dst, a.Cmdline)
	case afCreated, afTimestamp:
		return append(dst, fql.Value{N: float64(a.Created.Unix())})
	case afUpdated:
		return append(dst, fql.Value{N: float64(r.updated())})
	case afConfidence:
		return append(dst, fql.Value{N: float64(alertConfidence(a.Severity))})
	}
	return dst
}

func alertConfidence(sev int) int { return min(100, 50+sev/2) }

func alertSortStr(get func(r *alertRec) string) sortKeyFunc {
	return sortKeyFunc{str: true, key: func(s *snapshot, i int32) sortKey { return sortKey{s: get(&s.alerts[i])} }}
}

var alertsCollection = &collection{
	name:   "alerts",
	schema: alertSchema,
	size:   func(s *snapshot) int { return len(s.alerts) },
	rec:    func(s *snapshot) recordCursor { return &alertCursor{s: s} },
	sorts: map[string]sortKeyFunc{
		"created_timestamp": {key: func(s *snapshot, i int32) sortKey { return sortKey{n: float64(s.alerts[i].a.Created.Unix())} }},
		"timestamp":         {key: func(s *snapshot, i int32) sortKey { return sortKey{n: float64(s.alerts[i].a.Created.Unix())} }},
		"updated_timestamp": {key: func(s *snapshot, i int32) sortKey { return sortKey{n: float64(s.alerts[i].updated())} }},
		"severity":          {key: func(s *snapshot, i int32) sortKey { return sortKey{n: float64(s.alerts[i].a.Severity)} }},
		"status":            alertSortStr(func(r *alertRec) string { return r.statusOrDefault() }),
		"tactic":            alertSortStr(func(r *alertRec) string { return r.a.Tactic }),
		"technique":         alertSortStr(func(r *alertRec) string { return r.a.Technique }),
		"name":              alertSortStr(func(r *alertRec) string { return r.a.Name }),
	},
}

// appendAlert renders alert i as detects.Alert (an endpoint "epp" alert).
func (s *snapshot) appendAlert(b []byte, i int32) []byte {
	r := &s.alerts[i]
	a := &r.a
	hr := &s.hosts[r.host]
	h := &hr.h
	created := a.Created.Unix()
	o := beginObj(b)
	o.str("agent_id", a.AID)
	o.str("aggregate_id", "aggind:"+a.AID+":"+digestHex("aggregate", a.ID)[:16])
	o.str("aggregation_rule_id", "")
	o.str("aggregation_rule_name", "")
	o.str("assigned_to_name", "")
	o.str("assigned_to_uid", "")
	o.str("assigned_to_uuid", "")
	o.str("cid", s.cid)
	o.str("cms_rule_id", "")
	o.str("cms_rule_instance_id", "")
	o.str("cms_rule_instance_version", "")
	o.strOmit("cmdline", a.Cmdline)
	o.str("composite_id", a.ID)
	o.int("confidence", int64(alertConfidence(a.Severity)))
	o.time("crawled_timestamp", created)
	o.time("created_timestamp", created)
	o.strs("data_domains", []string{"Endpoint"})
	o.str("description", a.Description)
	o.key("device")
	d := beginObj(o.b)
	d.str("device_id", h.AID)
	d.str("cid", s.cid)
	d.str("hostname", h.Hostname)
	d.str("agent_version", hr.agentVersion)
	d.strOmit("external_ip", h.ExternalIP)
	d.strOmit("local_ip", h.LocalIP)
	d.strOmit("machine_domain", h.MachineDomain)
	d.strOmit("os_version", h.OSVersion)
	d.str("platform_id", platformID(h.Platform))
	d.strOmit("platform_name", h.Platform)
	d.strOmit("product_type", productType(h.ProductTypeDesc))
	d.strOmit("product_type_desc", h.ProductTypeDesc)
	d.strOmit("site_name", h.SiteName)
	d.str("status", hr.status)
	d.str("system_manufacturer", hr.systemManufacturer)
	d.str("system_product_name", hr.systemProduct)
	d.strs("groups", hr.groupIDs)
	d.strs("tags", h.Tags)
	d.strs("ou", ouList(h.OU))
	d.strs("pod_labels", nil)
	if v := unixOrZero(h.FirstSeen); v != 0 {
		d.time("first_seen", v)
	}
	if v := unixOrZero(h.LastSeen); v != 0 {
		d.time("last_seen", v)
	}
	d.time("modified_timestamp", hr.modified)
	o.b = d.end()
	o.str("display_name", a.Name)
	o.bool("email_sent", false)
	o.bool("external", false)
	o.strOmit("filename", a.Filename)
	o.str("id", r.shortID())
	o.bool("is_aggregated", false)
	o.bool("is_falcon_platform_ioa", false)
	o.strs("linked_behavioral_detections", nil)
	o.strs("linked_case_ids", nil)
	o.key("mitre_attack")
	o.b = append(o.b, '[')
	if a.Tactic != "" || a.Technique != "" {
		m := beginObj(o.b)
		m.strOmit("tactic", a.Tactic)
		m.strOmit("tactic_id", tacticIDs[a.Tactic])
		m.strOmit("technique", a.Technique)
		m.strOmit("technique_id", techniqueIDs[a.Technique])
		o.b = m.end()
	}
	o.b = append(o.b, ']')
	o.str("name", a.Name)
	o.str("objective", objective(a.Tactic))
	o.str("origin_cid", s.cid)
	o.int("pattern_id", int64(10000+int(digestHex("pattern", a.Name)[0])%5000))
	o.str("platform", h.Platform)
	o.str("product", "epp")
	o.str("resolution", "")
	o.str("scenario", "")
	o.int("seconds_to_resolved", 0)
	o.int("seconds_to_triaged", 0)
	o.int("severity", int64(a.Severity))
	o.str("severity_name", severityName(a.Severity))
	o.bool("show_in_ui", true)
	o.strs("source_products", []string{"Falcon Insight"})
	o.strs("source_vendors", []string{"CrowdStrike"})
	o.str("status", r.statusOrDefault())
	o.str("tactic", a.Tactic)
	o.str("tactic_id", tacticIDs[a.Tactic])
	o.strs("tags", nil)
	o.str("technique", a.Technique)
	o.str("technique_id", techniqueIDs[a.Technique])
	o.time("timestamp", created)
	o.str("type", "ldt")
	o.time("updated_timestamp", r.updated())
	return o.end()
}

// objective is Falcon's coarse "objective" for a tactic.
func objective(tactic string) string {
	switch tactic {
	case "Initial Access", "Reconnaissance", "Resource Development":
		return "Gain Access"
	case "Credential Access", "Discovery", "Lateral Movement", "Collection":
		return "Explore"
	case "Exfiltration", "Impact", "Command and Control":
		return "Follow Through"
	}
	return "Falcon Detection Method"
}

// alertTextMatch implements the q parameter: a case-insensitive substring
// search over the alert's text fields.
func (s *snapshot) alertTextMatch(i int32, q string) bool {
	a := &s.alerts[i].a
	for _, v := range []string{a.Name, a.Description, a.Cmdline, a.Filename, a.Tactic, a.Technique, s.hosts[s.alerts[i].host].h.Hostname} {
		if strings.Contains(strings.ToLower(v), q) {
			return true
		}
	}
	return false
}

// handleQueryAlerts serves GET /alerts/queries/alerts/v2. Without a sort the
// newest alert comes first ("offset 0 is the latest").
func (s *Server) handleQueryAlerts(c *call) {
	q := c.r.URL.Query()
	sortRaw := q.Get("sort")
	if sortRaw == "" {
		sortRaw = "created_timestamp|desc"
	}
	filter := q.Get("filter")
	if strings.TrimSpace(filter) == "*" {
		filter = ""
	}
	order, limit, offset, ok := c.offsetQuery(alertsCollection, 10000, sortRaw, filter)
	if !ok {
		return
	}
	order = c.textMatches(order, c.snap.alertTextMatch)
	replyIDPage(c, order, limit, offset, func(i int32) string { return c.snap.alerts[i].a.ID })
}

// handleGetAlerts serves POST /alerts/entities/alerts/v2 (composite_ids).
func (s *Server) handleGetAlerts(c *call) {
	var body struct {
		CompositeIDs []string `json:"composite_ids"`
	}
	if err := c.decodeBody(&body); err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	if len(body.CompositeIDs) == 0 {
		c.fail(http.StatusBadRequest, "composite_ids is required: give one or more alert composite ids")
		return
	}
	if len(body.CompositeIDs) > 1000 {
		c.fail(http.StatusBadRequest, "too many composite_ids: at most 1000 are allowed per request")
		return
	}
	b, n := appendFound(body.CompositeIDs, inIndex(c.snap.alertByID), c.snap.appendAlert)
	c.replyFound(b, n, "no alerts found for the given composite_ids")
}
