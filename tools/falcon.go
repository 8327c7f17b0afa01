package tools

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/fql"
	"github.com/vulnpilot/vulnpilot/internal/governance"
)

// The falcon toolset: live, bounded look-ups against the Falcon API. Every
// result is a compact projection of Falcon's records (never the raw
// payload), with external text cleaned and cut.

const falconToolset = "falcon"

var readOnlyOpenWorld = Annotations{ReadOnly: Yes, Destructive: No, Idempotent: Yes, OpenWorld: Yes}

const (
	defaultVulnFilter = "status:['open','reopen']"
	maxFalconOffset   = 10000 // Falcon refuses host and alert query offsets beyond this
)

func falconTools() []Tool {
	return []Tool{
		newTool(Meta{
			Name: "falcon_search_vulnerabilities", Title: "Search Spotlight vulnerabilities", Toolset: falconToolset,
			Description: "Search CrowdStrike Falcon Spotlight vulnerability findings (a CVE on a host) with an FQL filter. " +
				"Returns compact findings (CVE, host, severity, ExPRT rating, exploit status, KEV flag, product) with the total and a cursor. " +
				"Filter fields and examples: resource vulnpilot://guide/fql. For risk-ranked work use risk_prioritize instead.",
			Scope: governance.SpotlightRead, Annotations: readOnlyOpenWorld, FalconScopes: []string{falcon.ScopeSpotlightRead},
		}, searchVulnerabilities),
		newTool(Meta{
			Name: "falcon_get_vulnerabilities", Title: "Get Spotlight vulnerabilities by id", Toolset: falconToolset,
			Description: "Fetch Spotlight findings by id with their CVE details (description, vector, references), host, remediations and evaluation logic.",
			Scope:       governance.SpotlightRead, Annotations: readOnlyOpenWorld, FalconScopes: []string{falcon.ScopeSpotlightRead},
		}, getVulnerabilities),
		newTool(Meta{
			Name: "falcon_search_hosts", Title: "Search hosts", Toolset: falconToolset,
			Description: "Search Falcon hosts (devices) with an FQL filter, e.g. platform_name:'Linux'+hostname:'web-*'. Returns compact host records with the total and a cursor.",
			Scope:       governance.HostsRead, Annotations: readOnlyOpenWorld, FalconScopes: []string{falcon.ScopeHostsRead},
		}, searchHosts),
		newTool(Meta{
			Name: "falcon_get_host", Title: "Get one host", Toolset: falconToolset,
			Description: "Get one Falcon host by device id (aid) or exact hostname: platform, OS, status (containment), last seen, network, tags and groups.",
			Scope:       governance.HostsRead, Annotations: readOnlyOpenWorld, FalconScopes: []string{falcon.ScopeHostsRead},
		}, getHost),
		newTool(Meta{
			Name: "falcon_search_alerts", Title: "Search alerts", Toolset: falconToolset,
			Description: "Search Falcon alerts (detections) with an FQL filter, e.g. device.hostname:'web-01'+status:'new'. Returns compact alerts (severity, tactic, technique, file, command line) with the total and a cursor.",
			Scope:       governance.AlertsRead, Annotations: readOnlyOpenWorld, FalconScopes: []string{falcon.ScopeAlertsRead},
		}, searchAlerts),
		newTool(Meta{
			Name: "falcon_intel_for_cve", Title: "Falcon Intelligence for CVEs", Toolset: falconToolset,
			Description: "Look up Falcon Intelligence for up to 20 CVEs: adversaries exploiting each, intelligence reports, related threats, exploit status.",
			Scope:       governance.IntelRead, Annotations: readOnlyOpenWorld, FalconScopes: []string{falcon.ScopeIntelVulnsRead},
		}, intelForCVE),
		newTool(Meta{
			Name: "falcon_get_remediations", Title: "Get remediations", Toolset: falconToolset,
			Description: "Fetch Spotlight remediation entities by id (from a finding's remediation_ids): the patch or upgrade, its action, vendor reference and link.",
			Scope:       governance.SpotlightRead, Annotations: readOnlyOpenWorld, FalconScopes: []string{falcon.ScopeSpotlightRead},
		}, getRemediations),
	}
}

func falconAPI(d *Deps) (FalconAPI, error) {
	if d.Falcon == nil {
		return nil, unavailable("this server is not connected to Falcon")
	}
	return d.Falcon, nil
}

// ---- falcon_search_vulnerabilities ----

type searchVulnsArgs struct {
	Filter string   `json:"filter,omitempty" maxLength:"4096" default:"status:['open','reopen']" desc:"Spotlight FQL filter, e.g. cve.exprt_rating:'CRITICAL'+host_info.internet_exposure:'Yes'+status:'open'"`
	Facets []string `json:"facets,omitempty" enum:"cve,host_info,remediation,evaluation_logic" maxItems:"4" default:"cve,host_info" desc:"record parts to include; remediation adds the fix of each finding"`
	Sort   string   `json:"sort,omitempty" enum:"created_timestamp,updated_timestamp,closed_timestamp,cve.base_score,cve.exprt_rating,cve.severity,cve.exploit_status,cve.id,host_info.hostname,status" desc:"sort field (default: Falcon's order)"`
	Order  string   `json:"order,omitempty" enum:"asc,desc" default:"desc" desc:"sort direction"`
	Limit  int      `json:"limit,omitempty" min:"1" max:"100" default:"20" desc:"findings per page"`
	Cursor string   `json:"cursor,omitempty" maxLength:"4096" desc:"the next value of the previous page"`
}

func searchVulnerabilities(ctx context.Context, d *Deps, a searchVulnsArgs) (*Result, error) {
	api, err := falconAPI(d)
	if err != nil {
		return nil, err
	}
	filter, err := checkFQL("filter", a.Filter, spotlightSchema)
	if err != nil {
		return nil, err
	}
	if filter == "" {
		filter = defaultVulnFilter
	}
	sort := ""
	if a.Sort != "" {
		sort = a.Sort + "|" + a.Order
	}
	facets := strings.Join(dedupeStrings(a.Facets), ",")
	const tool = "falcon_search_vulnerabilities"
	cur, err := decodeCursor(a.Cursor, tool, queryDigest(filter, facets, sort))
	if err != nil {
		return nil, err
	}
	page, err := api.FindingsPage(ctx, filter, facets, sort, a.Limit, cur.After)
	if err != nil {
		return nil, err
	}
	out := make([]findingOut, len(page.Findings))
	hosts, cves, kev := map[string]bool{}, map[string]bool{}, 0
	for i := range page.Findings {
		f := &page.Findings[i]
		out[i] = compactFinding(f, false)
		hosts[f.AID], cves[f.CVE] = true, true
		if f.CVEInfo.IsCISAKEV {
			kev++
		}
	}
	data := map[string]any{"filter": filter, "total": page.Total, "returned": len(out), "findings": out}
	next := ""
	if page.After != "" && len(out) > 0 {
		cur.After = page.After
		next = cur.encode()
		data["next"] = next
	}
	sum := fmt.Sprintf("Returned %d of %d Spotlight findings for filter %q: %d distinct CVEs on %d hosts, %d flagged CISA KEV by Spotlight.",
		len(out), page.Total, clean(filter, 200), len(cves), len(hosts), kev)
	return &Result{Summary: sum + moreHint(next), Data: data}, nil
}

func moreHint(next string) string {
	if next == "" {
		return " This is the last page."
	}
	return " More results: call again with the same arguments and cursor = next."
}

// findingOut is the compact projection of a Spotlight finding.
type findingOut struct {
	ID               string        `json:"id"`
	AID              string        `json:"aid"`
	Hostname         string        `json:"hostname,omitempty"`
	CVE              string        `json:"cve"`
	Status           string        `json:"status"`
	Severity         string        `json:"severity,omitempty"`
	BaseScore        float64       `json:"base_score,omitempty"`
	ExprtRating      string        `json:"exprt_rating,omitempty"`
	ExploitStatus    int           `json:"exploit_status,omitempty"`
	CISAKEV          bool          `json:"cisa_kev,omitempty"`
	Product          string        `json:"product,omitempty"`
	Platform         string        `json:"platform,omitempty"`
	ProductType      string        `json:"product_type,omitempty"`
	AssetCriticality string        `json:"asset_criticality,omitempty"`
	InternetExposure string        `json:"internet_exposure,omitempty"`
	Created          string        `json:"created,omitempty"`
	Updated          string        `json:"updated,omitempty"`
	Suppressed       bool          `json:"suppressed,omitempty"`
	RemediationIDs   []string      `json:"remediation_ids,omitempty"`
	Remediation      *remediation  `json:"remediation,omitempty"`
	Detail           *findingExtra `json:"detail,omitempty"`
}

// findingExtra is what falcon_get_vulnerabilities adds.
type findingExtra struct {
	Name            string        `json:"cve_name,omitempty"`
	Description     string        `json:"description,omitempty"`
	Vector          string        `json:"vector,omitempty"`
	Published       string        `json:"published,omitempty"`
	CWEs            []string      `json:"cwes,omitempty"`
	References      []string      `json:"references,omitempty"`
	Actors          []string      `json:"actors,omitempty"`
	OSVersion       string        `json:"os_version,omitempty"`
	Tags            []string      `json:"tags,omitempty"`
	Groups          []string      `json:"groups,omitempty"`
	Remediations    []remediation `json:"remediations,omitempty"`
	EvaluationLogic []string      `json:"evaluation_logic,omitempty"`
	SuppressReason  string        `json:"suppression_reason,omitempty"`
}

type remediation struct {
	ID             string `json:"id"`
	Title          string `json:"title,omitempty"`
	Action         string `json:"action,omitempty"`
	Reference      string `json:"reference,omitempty"`
	Link           string `json:"link,omitempty"`
	Type           string `json:"type,omitempty"`
	Vendor         string `json:"provider,omitempty"`
	PatchPublished string `json:"patch_published,omitempty"`
}

func compactRemediation(r *falcon.Remediation) remediation {
	link := r.Link
	if link == "" {
		link = r.VendorURL
	}
	return remediation{ID: clean(r.ID, 128), Title: clean(r.Title, 160), Action: clean(r.Action, 240), Reference: clean(r.Reference, 80),
		Link: clean(link, 300), Type: clean(r.Type, 40), Vendor: clean(r.Provider, 60), PatchPublished: day(r.PatchPublished)}
}

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func compactFinding(f *falcon.Finding, detail bool) findingOut {
	product := f.App.ProductVersion
	if product == "" {
		product = f.App.Product
	}
	o := findingOut{
		ID: clean(f.ID, 160), AID: clean(f.AID, 64), Hostname: clean(f.Host.Hostname, 120), CVE: clean(f.CVE, 64),
		Status: clean(f.Status, 20), Severity: clean(f.CVEInfo.Severity, 20), BaseScore: f.CVEInfo.BaseScore,
		ExprtRating: clean(f.CVEInfo.ExprtRating, 20), ExploitStatus: f.CVEInfo.ExploitStatus, CISAKEV: f.CVEInfo.IsCISAKEV,
		Product: clean(product, 120), Platform: clean(f.Host.Platform, 20), ProductType: clean(f.Host.ProductTypeDesc, 40),
		AssetCriticality: clean(f.Host.AssetCriticality, 20), InternetExposure: clean(f.Host.InternetExposure, 20),
		Created: stamp(f.Created), Updated: stamp(f.Updated), Suppressed: f.Suppression.Suppressed,
		RemediationIDs: cleanAll(f.RemediationIDs, 3, 128),
	}
	if len(f.Remediations) > 0 {
		r := compactRemediation(&f.Remediations[0])
		o.Remediation = &r
	}
	if !detail {
		return o
	}
	x := &findingExtra{
		Name: clean(f.CVEInfo.Name, 160), Description: clean(f.CVEInfo.Description, 600), Vector: clean(f.CVEInfo.Vector, 120),
		Published: day(f.CVEInfo.Published), CWEs: cleanAll(f.CVEInfo.CWEs, 5, 20), References: cleanAll(f.CVEInfo.References, 5, 300),
		Actors: cleanAll(f.CVEInfo.Actors, 10, 60), OSVersion: clean(f.Host.OSVersion, 80), Tags: cleanAll(f.Host.Tags, 10, 100),
		Groups: cleanAll(f.Host.Groups, 10, 100),
	}
	if f.Suppression.Suppressed {
		x.SuppressReason = clean(f.Suppression.Reason, 120)
	}
	for i := range f.Remediations {
		if i == 5 {
			break
		}
		x.Remediations = append(x.Remediations, compactRemediation(&f.Remediations[i]))
	}
	for i, el := range f.EvaluationLogic {
		if i == 5 {
			break
		}
		x.EvaluationLogic = append(x.EvaluationLogic, clean(el.Title, 200))
	}
	o.Detail = x
	return o
}

func dedupeStrings(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// ---- falcon_get_vulnerabilities ----

type getVulnsArgs struct {
	IDs    []string `json:"ids" minItems:"1" maxItems:"100" minLength:"1" maxLength:"256" desc:"Spotlight finding ids (the id field of a finding)"`
	Facets []string `json:"facets,omitempty" enum:"cve,host_info,remediation,evaluation_logic" maxItems:"4" default:"cve,host_info,remediation" desc:"record parts to include"`
}

func getVulnerabilities(ctx context.Context, d *Deps, a getVulnsArgs) (*Result, error) {
	api, err := falconAPI(d)
	if err != nil {
		return nil, err
	}
	ids := dedupeStrings(a.IDs)
	fs, err := api.GetFindings(ctx, ids, dedupeStrings(a.Facets))
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	byID := map[string]*falcon.Finding{}
	for i := range fs {
		byID[fs[i].ID] = &fs[i]
	}
	out, missing := inRequestOrder(ids, byID, 256, func(f *falcon.Finding) findingOut { return compactFinding(f, true) })
	if len(out) == 0 {
		return nil, notFound("id %q not found: no Spotlight finding has %s; finding ids come from falcon_search_vulnerabilities or risk_prioritize (top_finding)",
			missing[0], plural(len(missing), "that id", "any of these ids"))
	}
	sum := fmt.Sprintf("Fetched %d of %d requested Spotlight findings.", len(out), len(ids)) + notFoundNote(missing)
	return &Result{Summary: sum, Data: map[string]any{"findings": out, "not_found": missing, "total": len(out)}}, nil
}

// inRequestOrder compacts the records of ids that got holds, in request
// order, and lists the others (cut to idLen) as missing; both are non-nil
// so that they encode as [].
func inRequestOrder[R, O any](ids []string, got map[string]R, idLen int, compact func(R) O) (out []O, missing []string) {
	out, missing = []O{}, []string{}
	for _, id := range ids {
		if r, ok := got[id]; ok {
			out = append(out, compact(r))
		} else {
			missing = append(missing, clean(id, idLen))
		}
	}
	return out, missing
}

// notFoundNote is the summary's mention of a partial fetch's missing ids.
func notFoundNote(missing []string) string {
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf(" %d id(s) were not found (listed in not_found).", len(missing))
}

// isNotFound reports a Falcon 404, which entity endpoints answer when none
// of the ids exist.
func isNotFound(err error) bool {
	var apiErr *falcon.APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// ---- falcon_search_hosts ----

type searchHostsArgs struct {
	Filter string `json:"filter,omitempty" maxLength:"4096" desc:"Hosts FQL filter, e.g. platform_name:'Windows'+product_type_desc:'Server'; empty: every host"`
	Sort   string `json:"sort,omitempty" enum:"hostname,last_seen,first_seen,modified_timestamp,platform_name,status,local_ip,device_id" desc:"sort field"`
	Order  string `json:"order,omitempty" enum:"asc,desc" default:"asc" desc:"sort direction"`
	Limit  int    `json:"limit,omitempty" min:"1" max:"100" default:"20" desc:"hosts per page"`
	Cursor string `json:"cursor,omitempty" maxLength:"4096" desc:"the next value of the previous page"`
}

type hostOut struct {
	AID             string   `json:"aid"`
	Hostname        string   `json:"hostname"`
	Platform        string   `json:"platform,omitempty"`
	OSVersion       string   `json:"os_version,omitempty"`
	ProductType     string   `json:"product_type,omitempty"`
	Status          string   `json:"status,omitempty"`
	LastSeen        string   `json:"last_seen,omitempty"`
	FirstSeen       string   `json:"first_seen,omitempty"`
	LocalIP         string   `json:"local_ip,omitempty"`
	ExternalIP      string   `json:"external_ip,omitempty"`
	MachineDomain   string   `json:"machine_domain,omitempty"`
	SiteName        string   `json:"site_name,omitempty"`
	OU              []string `json:"ou,omitempty"`
	AgentVersion    string   `json:"agent_version,omitempty"`
	ReducedFunction string   `json:"reduced_functionality_mode,omitempty"`
	Tags            []string `json:"tags,omitempty"`
	Groups          []string `json:"groups,omitempty"`
}

func compactHost(h *falcon.Host, detail bool) hostOut {
	o := hostOut{
		AID: clean(h.AID, 64), Hostname: clean(h.Hostname, 120), Platform: clean(h.Platform, 20), OSVersion: clean(h.OSVersion, 80),
		ProductType: clean(h.ProductTypeDesc, 40), Status: clean(h.Status, 40), LastSeen: stamp(h.LastSeen), LocalIP: clean(h.LocalIP, 45),
		Tags: cleanAll(h.Tags, 5, 100),
	}
	if detail {
		o.FirstSeen, o.ExternalIP, o.MachineDomain = stamp(h.FirstSeen), clean(h.ExternalIP, 45), clean(h.MachineDomain, 120)
		o.SiteName, o.OU, o.AgentVersion = clean(h.SiteName, 120), cleanAll(h.OU, 5, 120), clean(h.AgentVersion, 40)
		o.ReducedFunction, o.Tags, o.Groups = clean(h.ReducedFunction, 20), cleanAll(h.Tags, 20, 100), cleanAll(h.Groups, 20, 100)
	}
	return o
}

func searchHosts(ctx context.Context, d *Deps, a searchHostsArgs) (*Result, error) {
	api, err := falconAPI(d)
	if err != nil {
		return nil, err
	}
	filter, err := checkFQL("filter", a.Filter, hostsSchema)
	if err != nil {
		return nil, err
	}
	sort := ""
	if a.Sort != "" {
		sort = a.Sort + "." + a.Order
	}
	const tool = "falcon_search_hosts"
	cur, err := decodeCursor(a.Cursor, tool, queryDigest(filter, sort))
	if err != nil {
		return nil, err
	}
	if cur.Off+a.Limit > maxFalconOffset {
		return nil, invalidArgs("cursor: Falcon pages host searches only up to %d results; narrow the filter", maxFalconOffset)
	}
	ids, total, err := api.QueryHosts(ctx, filter, sort, a.Limit, cur.Off)
	if err != nil {
		return nil, err
	}
	hs, err := api.GetHosts(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := orderedHosts(ids, hs)
	data := map[string]any{"filter": filter, "total": total, "returned": len(out), "hosts": out}
	next := cur.nextFalcon(len(ids), total)
	if next != "" {
		data["next"] = next
	}
	plats := map[string]int{}
	for _, h := range out {
		plats[h.Platform]++
	}
	sum := fmt.Sprintf("Returned %d of %d hosts matching %q (%s).", len(out), total, clean(filterOr(filter, "every host"), 200), countsWords(plats))
	return &Result{Summary: sum + moreHint(next), Data: data}, nil
}

// nextFalcon is the next cursor of an offset-paged Falcon search after n
// ids of total: Falcon serves no offset past maxFalconOffset.
func (c cursor) nextFalcon(n int, total int64) string {
	return c.next(n, int(min(total, maxFalconOffset)))
}

func filterOr(f, none string) string {
	if f == "" {
		return none
	}
	return f
}

// countsWords renders {"Linux": 3, "Windows": 5} as "5 Windows, 3 Linux".
func countsWords(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var kvs []kv
	for k, v := range m {
		if k == "" {
			k = "unknown"
		}
		kvs = append(kvs, kv{k, v})
	}
	slices.SortFunc(kvs, func(a, b kv) int {
		if a.v != b.v {
			return b.v - a.v
		}
		return strings.Compare(a.k, b.k)
	})
	parts := make([]string, 0, len(kvs))
	for _, x := range kvs {
		parts = append(parts, fmt.Sprintf("%d %s", x.v, x.k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func orderedHosts(ids []string, hs []falcon.Host) []hostOut {
	byID := make(map[string]*falcon.Host, len(hs))
	for i := range hs {
		byID[strings.ToLower(hs[i].AID)] = &hs[i]
	}
	out := make([]hostOut, 0, len(ids))
	for _, id := range ids {
		if h, ok := byID[strings.ToLower(id)]; ok {
			out = append(out, compactHost(h, false))
		}
	}
	return out
}

// ---- falcon_get_host ----

type getHostArgs struct {
	ID       string `json:"id,omitempty" pattern:"^[0-9a-fA-F]{32}$" example:"a 32-hex-digit Falcon device id (aid)" desc:"Falcon device id (aid); give id or hostname"`
	Hostname string `json:"hostname,omitempty" maxLength:"255" desc:"exact hostname; give id or hostname"`
}

func getHost(ctx context.Context, d *Deps, a getHostArgs) (*Result, error) {
	api, err := falconAPI(d)
	if err != nil {
		return nil, err
	}
	if (a.ID == "") == (a.Hostname == "") {
		return nil, invalidArgs("give exactly one of id (a device id) or hostname")
	}
	id := a.ID
	if id == "" {
		// Built with the escaping builder: the hostname stays one value.
		filter, err := fql.Build(fql.Eq("hostname", a.Hostname))
		if err != nil {
			return nil, invalidArgs("hostname: %v", err)
		}
		ids, _, err := api.QueryHosts(ctx, filter, "", 2, 0)
		if err != nil {
			return nil, err
		}
		switch len(ids) {
		case 0:
			return nil, notFound("hostname %q not found; falcon_search_hosts with a wildcard (hostname:'web*') finds near matches", clean(a.Hostname, 120))
		case 2:
			return nil, invalidArgs("hostname %q matches several hosts; pass the id from falcon_search_hosts instead", clean(a.Hostname, 120))
		}
		id = ids[0]
	}
	hs, err := api.GetHosts(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if len(hs) == 0 {
		return nil, notFound("id %q not found: no Falcon host has that device id", clean(id, 64))
	}
	h := compactHost(&hs[0], true)
	sum := fmt.Sprintf("Host %q (%s %s), status %s, last seen %s.", h.Hostname, orUnknown(h.Platform), orUnknown(h.ProductType),
		orUnknown(h.Status), orUnknown(h.LastSeen))
	return &Result{Summary: sum, Data: map[string]any{"host": h}}, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// ---- falcon_search_alerts ----

type searchAlertsArgs struct {
	Filter string `json:"filter,omitempty" maxLength:"4096" desc:"Alerts FQL filter, e.g. status:'new'+severity:>=70+device.hostname:'web-01'; empty: every alert"`
	Sort   string `json:"sort,omitempty" enum:"created_timestamp,updated_timestamp,timestamp,severity,status,tactic,technique,name" default:"created_timestamp" desc:"sort field"`
	Order  string `json:"order,omitempty" enum:"asc,desc" default:"desc" desc:"sort direction"`
	Limit  int    `json:"limit,omitempty" min:"1" max:"100" default:"20" desc:"alerts per page"`
	Cursor string `json:"cursor,omitempty" maxLength:"4096" desc:"the next value of the previous page"`
}

type alertOut struct {
	ID          string `json:"id"`
	AID         string `json:"aid,omitempty"`
	Hostname    string `json:"hostname,omitempty"`
	Created     string `json:"created"`
	Status      string `json:"status,omitempty"`
	Severity    int    `json:"severity,omitempty"`
	SeverityTag string `json:"severity_name,omitempty"`
	Name        string `json:"name,omitempty"`
	Tactic      string `json:"tactic,omitempty"`
	Technique   string `json:"technique,omitempty"`
	Description string `json:"description,omitempty"`
	Filename    string `json:"filename,omitempty"`
	Cmdline     string `json:"cmdline,omitempty"`
	Product     string `json:"product,omitempty"`
}

func compactAlert(a *falcon.Alert) alertOut {
	name := a.DisplayName
	if name == "" {
		name = a.Name
	}
	return alertOut{
		ID: clean(a.ID, 200), AID: clean(a.AID, 64), Hostname: clean(a.Hostname, 120), Created: stamp(a.Created),
		Status: clean(a.Status, 30), Severity: a.Severity, SeverityTag: clean(a.SeverityName, 20), Name: clean(name, 160),
		Tactic: clean(a.Tactic, 60), Technique: clean(a.Technique, 80), Description: clean(a.Description, 300),
		Filename: clean(a.Filename, 200), Cmdline: clean(a.Cmdline, 300), Product: clean(a.Product, 20),
	}
}

func searchAlerts(ctx context.Context, d *Deps, a searchAlertsArgs) (*Result, error) {
	api, err := falconAPI(d)
	if err != nil {
		return nil, err
	}
	filter, err := checkFQL("filter", a.Filter, alertsSchema)
	if err != nil {
		return nil, err
	}
	sort := a.Sort + "|" + a.Order
	const tool = "falcon_search_alerts"
	cur, err := decodeCursor(a.Cursor, tool, queryDigest(filter, sort))
	if err != nil {
		return nil, err
	}
	if cur.Off+a.Limit > maxFalconOffset {
		return nil, invalidArgs("cursor: Falcon pages alert searches only up to %d results; narrow the filter (e.g. a created_timestamp range)", maxFalconOffset)
	}
	ids, total, err := api.QueryAlerts(ctx, filter, sort, a.Limit, cur.Off)
	if err != nil {
		return nil, err
	}
	as, err := api.GetAlerts(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*falcon.Alert, len(as))
	for i := range as {
		byID[as[i].ID] = &as[i]
	}
	out := make([]alertOut, 0, len(ids))
	sev := map[string]int{}
	for _, id := range ids {
		if al, ok := byID[id]; ok {
			o := compactAlert(al)
			out = append(out, o)
			sev[o.SeverityTag]++
		}
	}
	data := map[string]any{"filter": filter, "total": total, "returned": len(out), "alerts": out}
	next := cur.nextFalcon(len(ids), total)
	if next != "" {
		data["next"] = next
	}
	sum := fmt.Sprintf("Returned %d of %d alerts matching %q (severity: %s).", len(out), total, clean(filterOr(filter, "every alert"), 200), countsWords(sev))
	return &Result{Summary: sum + moreHint(next), Data: data}, nil
}

// ---- falcon_intel_for_cve ----

type intelArgs struct {
	CVEs []string `json:"cves" minItems:"1" maxItems:"20" pattern:"^CVE-[0-9]{4}-[0-9]{4,7}$" example:"CVE-2024-3400" desc:"CVE ids"`
}

type intelOut struct {
	CVE           string         `json:"cve"`
	Name          string         `json:"name,omitempty"`
	Severity      string         `json:"severity,omitempty"`
	ExploitStatus string         `json:"exploit_status,omitempty"`
	Published     string         `json:"published,omitempty"`
	Description   string         `json:"description,omitempty"`
	Actors        []string       `json:"actors"`
	Reports       []intelReport  `json:"reports"`
	Threats       []string       `json:"threats,omitempty"`
	Counts        map[string]int `json:"counts"`
}

type intelReport struct {
	SerialID string `json:"serial_id"`
	Title    string `json:"title,omitempty"`
	Type     string `json:"type,omitempty"`
	Created  string `json:"created,omitempty"`
}

func intelForCVE(ctx context.Context, d *Deps, a intelArgs) (*Result, error) {
	api, err := falconAPI(d)
	if err != nil {
		return nil, err
	}
	cves := dedupeStrings(a.CVEs)
	got, err := api.IntelForCVEs(ctx, cves)
	if err != nil {
		return nil, err
	}
	out := []intelOut{}
	uncovered := []string{}
	actors := 0
	for _, id := range cves {
		v, ok := got[id]
		if !ok {
			uncovered = append(uncovered, id)
			continue
		}
		o := intelOut{CVE: id, Name: clean(v.Name, 160), Severity: clean(v.Severity, 20), ExploitStatus: clean(v.ExploitStatus, 40),
			Published: day(v.Published), Description: clean(v.Description, 400), Actors: []string{}, Reports: []intelReport{},
			Threats: cleanAll(v.Threats, 10, 80), Counts: map[string]int{"actors": len(v.Actors), "reports": len(v.Reports)}}
		for i, ac := range v.Actors {
			if i == 10 {
				break
			}
			o.Actors = append(o.Actors, clean(ac.Name, 80))
		}
		for i, r := range v.Reports {
			if i == 10 {
				break
			}
			o.Reports = append(o.Reports, intelReport{SerialID: clean(r.SerialID, 40), Title: clean(r.Title, 200), Type: clean(r.Type, 40), Created: day(r.Created)})
		}
		if len(v.Actors) > 0 {
			actors++
		}
		out = append(out, o)
	}
	sum := fmt.Sprintf("Falcon Intelligence covers %d of %d CVE(s); %d have named adversaries.", len(out), len(cves), actors)
	if len(uncovered) > 0 {
		sum += fmt.Sprintf(" No intelligence for %s (absence is not proof of no exploitation).", strings.Join(uncovered, ", "))
	}
	return &Result{Summary: sum, Data: map[string]any{"intel": out, "not_covered": uncovered, "total": len(out)}}, nil
}

// ---- falcon_get_remediations ----

type remediationsArgs struct {
	IDs []string `json:"ids" minItems:"1" maxItems:"100" minLength:"1" maxLength:"128" desc:"remediation ids (a finding's remediation_ids)"`
}

func getRemediations(ctx context.Context, d *Deps, a remediationsArgs) (*Result, error) {
	api, err := falconAPI(d)
	if err != nil {
		return nil, err
	}
	ids := dedupeStrings(a.IDs)
	got, err := api.GetRemediations(ctx, ids)
	if err != nil {
		return nil, err
	}
	out, missing := inRequestOrder(ids, got, 128, func(r falcon.Remediation) remediation { return compactRemediation(&r) })
	if len(out) == 0 {
		return nil, notFound("id %q not found: no Spotlight remediation has %s; remediation ids come from a finding's remediation_ids",
			missing[0], plural(len(missing), "that id", "any of these ids"))
	}
	sum := fmt.Sprintf("Fetched %d of %d remediations.", len(out), len(ids)) + notFoundNote(missing)
	return &Result{Summary: sum, Data: map[string]any{"remediations": out, "not_found": missing, "total": len(out)}}, nil
}
