package falconsim

import (
	"net/http"
	"strings"

	"github.com/vulnpilot/vulnpilot/internal/fql"
)

// Falcon Intelligence vulnerability filter fields, as gofalcon's
// QueryVulnerabilities documents them (minus _all and community ids).
const (
	ifCVE = iota
	ifSeverity
	ifExploitStatus
	ifPublished
	ifUpdated
	ifActors
	ifActorName
	ifActorAnimal
	ifReportSerial
	ifReportTitle
	ifCVSSScore
	ifCVSSSeverity
)

var intelSchema = fql.NewSchema(
	fql.Field{Name: "cve"},
	fql.Field{Name: "severity"},
	fql.Field{Name: "exploit_status"},
	fql.Field{Name: "publish_date", Kind: fql.Time, Range: true},
	fql.Field{Name: "updated_timestamp", Kind: fql.Time, Range: true},
	fql.Field{Name: "related_actors"},
	fql.Field{Name: "related_actors.name", Wildcard: true},
	fql.Field{Name: "related_actors.animal_classifier"},
	fql.Field{Name: "related_reports.serial_id"},
	fql.Field{Name: "related_reports.title", Wildcard: true},
	fql.Field{Name: "cvss_v3_base.score", Kind: fql.Number, Range: true},
	fql.Field{Name: "cvss_v3_base.severity"},
)

// intelExploitNames maps Spotlight's numeric exploit status to Intel's words.
func intelExploitWord(n int) string {
	switch {
	case n >= 90:
		return "activelyused"
	case n >= 60:
		return "easilyaccessible"
	case n >= 30:
		return "available"
	}
	return "unproven"
}

func (s *snapshot) intelCVE(i int32) *CVE {
	if c := s.intel[i].cve; c >= 0 {
		return &s.cves[c].c
	}
	return nil
}

func (s *snapshot) intelField(i int32, which string) string {
	v := &s.intel[i].v
	c := s.intelCVE(i)
	switch which {
	case "severity":
		if v.Severity != "" || c == nil {
			return strings.ToUpper(v.Severity)
		}
		return strings.ToUpper(c.Severity)
	case "exploit_status":
		if v.ExploitStatus != "" || c == nil {
			return v.ExploitStatus
		}
		return intelExploitWord(c.ExploitStatus)
	case "description":
		if v.Description != "" || c == nil {
			return v.Description
		}
		return c.Description
	}
	return ""
}

// animalClassifier is the adversary family: the last word of the actor name
// ("FANCY BEAR" -> "BEAR").
func animalClassifier(name string) string {
	if i := strings.LastIndexByte(name, ' '); i >= 0 {
		return strings.ToUpper(name[i+1:])
	}
	return strings.ToUpper(name)
}

type intelCursor struct {
	s *snapshot
	i int32
}

func (c *intelCursor) seek(i int32) { c.i = i }

func (c *intelCursor) Lookup(field int, dst []fql.Value) []fql.Value {
	s, i := c.s, c.i
	v := &s.intel[i].v
	cve := s.intelCVE(i)
	switch field {
	case ifCVE:
		return strVal(dst, v.CVE)
	case ifSeverity:
		return strVal(dst, s.intelField(i, "severity"))
	case ifExploitStatus:
		return strVal(dst, s.intelField(i, "exploit_status"))
	case ifPublished:
		if cve != nil {
			return timeVal(dst, cve.Published)
		}
	case ifUpdated:
		return append(dst, fql.Value{N: float64(s.intelUpdated(i))})
	case ifActors:
		for _, a := range v.Actors {
			dst = strVal(dst, a.ID)
		}
	case ifActorName:
		for _, a := range v.Actors {
			dst = strVal(dst, a.Name)
		}
	case ifActorAnimal:
		for _, a := range v.Actors {
			dst = strVal(dst, animalClassifier(a.Name))
		}
	case ifReportSerial:
		for _, r := range v.Reports {
			dst = strVal(dst, r.SerialID)
		}
	case ifReportTitle:
		for _, r := range v.Reports {
			dst = strVal(dst, r.Title)
		}
	case ifCVSSScore:
		if cve != nil {
			return append(dst, fql.Value{N: cve.BaseScore})
		}
	case ifCVSSSeverity:
		if cve != nil {
			return strVal(dst, strings.ToUpper(cve.Severity))
		}
	}
	return dst
}

// intelUpdated is when Intel last touched the record: its newest report, or
// the CVE's publication.
func (s *snapshot) intelUpdated(i int32) int64 {
	var t int64
	if c := s.intelCVE(i); c != nil {
		t = unixOrZero(c.Published)
	}
	for _, r := range s.intel[i].v.Reports {
		if u := unixOrZero(r.Created); u > t {
			t = u
		}
	}
	if t == 0 {
		t = s.now.Unix()
	}
	return t
}

var intelCollection = &collection{
	name:   "intel-vulnerabilities",
	schema: intelSchema,
	size:   func(s *snapshot) int { return len(s.intel) },
	rec:    func(s *snapshot) recordCursor { return &intelCursor{s: s} },
	sorts: map[string]sortKeyFunc{
		"cve":               {str: true, key: func(s *snapshot, i int32) sortKey { return sortKey{s: s.intel[i].v.CVE} }},
		"updated_timestamp": {key: func(s *snapshot, i int32) sortKey { return sortKey{n: float64(s.intelUpdated(i))} }},
		"publish_date": {key: func(s *snapshot, i int32) sortKey {
			if c := s.intelCVE(i); c != nil {
				return sortKey{n: float64(unixOrZero(c.Published))}
			}
			return sortKey{}
		}},
	},
}

// appendIntel renders intel record i as domain.Vulnerability.
func (s *snapshot) appendIntel(b []byte, i int32) []byte {
	v := &s.intel[i].v
	c := s.intelCVE(i)
	o := beginObj(b)
	o.str("cve", v.CVE)
	o.strOmit("description", s.intelField(i, "description"))
	o.strOmit("severity", s.intelField(i, "severity"))
	o.strOmit("exploit_status", s.intelField(i, "exploit_status"))
	if c != nil {
		if p := unixOrZero(c.Published); p != 0 {
			o.time("publish_date", p)
		}
		if c.BaseScore > 0 {
			o.key("cvss_v3_base")
			cv := beginObj(o.b)
			cv.float("score", c.BaseScore)
			cv.strOmit("severity", strings.ToUpper(c.Severity))
			o.b = cv.end()
		}
	}
	o.time("updated_timestamp", s.intelUpdated(i))
	o.key("related_actors")
	o.b = appendArray(o.b, v.Actors, func(b []byte, a IntelActor) []byte {
		ao := beginObj(b)
		ao.str("id", a.ID)
		ao.str("name", a.Name)
		ao.str("animal_classifier", animalClassifier(a.Name))
		return ao.end()
	})
	o.key("related_reports")
	o.b = appendArray(o.b, v.Reports, func(b []byte, r IntelReport) []byte {
		ro := beginObj(b)
		ro.str("serial_id", r.SerialID)
		ro.str("title", r.Title)
		if t := unixOrZero(r.Created); t != 0 {
			ro.int("created_date", t)
		}
		if r.Type != "" {
			ro.key("type")
			to := beginObj(ro.b)
			to.str("name", r.Type)
			ro.b = to.end()
		}
		return ro.end()
	})
	o.key("related_threats")
	o.b = append(o.b, "[]"...)
	var refs []string
	if c != nil {
		refs = c.References
	}
	o.key("references")
	o.b = appendArray(o.b, refs, func(b []byte, ref string) []byte {
		ro := beginObj(b)
		ro.str("url", ref)
		return ro.end()
	})
	return o.end()
}

// handleQueryIntel serves GET /intel/queries/vulnerabilities/v1; ids are
// CVE ids.
func (s *Server) handleQueryIntel(c *call) {
	q := c.r.URL.Query()
	order, limit, offset, ok := c.offsetQuery(intelCollection, 5000, q.Get("sort"), q.Get("filter"))
	if !ok {
		return
	}
	order = c.textMatches(order, c.snap.intelTextMatch)
	replyIDPage(c, order, limit, offset, func(i int32) string { return c.snap.intel[i].v.CVE })
}

// intelTextMatch implements the q parameter: a case-insensitive substring
// search over the CVE id, description and actor names.
func (s *snapshot) intelTextMatch(i int32, q string) bool {
	v := &s.intel[i].v
	hay := strings.ToLower(v.CVE + " " + s.intelField(i, "description"))
	for _, a := range v.Actors {
		hay += " " + strings.ToLower(a.Name)
	}
	return strings.Contains(hay, q)
}

// handleGetIntel serves POST /intel/entities/vulnerabilities/GET/v1.
func (s *Server) handleGetIntel(c *call) {
	var body struct {
		IDs []string `json:"ids"`
	}
	if err := c.decodeBody(&body); err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	if len(body.IDs) == 0 || len(body.IDs) > 5000 {
		c.fail(http.StatusBadRequest, "ids must list between 1 and 5000 CVE ids")
		return
	}
	byCVE := func(id string) (int32, bool) {
		i, ok := c.snap.intelByCVE[strings.ToUpper(strings.TrimSpace(id))]
		return i, ok
	}
	b, n := appendFound(body.IDs, byCVE, c.snap.appendIntel)
	c.replyFound(b, n, "no vulnerabilities found for the given ids")
}
