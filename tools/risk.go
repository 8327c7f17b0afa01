package tools

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/fql"
	"github.com/vulnpilot/vulnpilot/internal/governance"
	"github.com/vulnpilot/vulnpilot/internal/plan"
	"github.com/vulnpilot/vulnpilot/internal/risk"
	"github.com/vulnpilot/vulnpilot/internal/snapshot"
)

// The risk toolset: vulnpilot's assessed view of the tenant, read from the
// snapshot the server keeps fresh. No Falcon call happens on the request
// path, so answers are fast at any tenant size; every result says when the
// snapshot was assessed.

const riskToolset = "risk"

// Risk tools read a local snapshot: read-only, idempotent, closed-world.
var readOnlyLocal = Annotations{ReadOnly: Yes, Destructive: No, Idempotent: Yes, OpenWorld: No}

// snapshotFalconScopes are what building the snapshot needs; intel and
// alerts are optional (the assessment notes when they were unavailable).
var snapshotFalconScopes = []string{falcon.ScopeSpotlightRead, falcon.ScopeHostsRead, falcon.ScopeAlertsRead, falcon.ScopeIntelVulnsRead + " (optional)"}

func riskTools() []Tool {
	return []Tool{
		newTool(Meta{
			Name: "risk_prioritize", Title: "Prioritized remediation queue", Toolset: riskToolset,
			Description: "The risk-ranked remediation queue for a scope: top work items (one patch on one host or across a fleet) with tier P1–P4, " +
				"score 0–100, SLA due date, the evidence that drives each, and aggregates by tier and business unit. Start here for 'what should we fix first'.",
			Scope: governance.RiskRead, Annotations: readOnlyLocal, FalconScopes: snapshotFalconScopes,
		}, prioritize),
		newTool(Meta{
			Name: "risk_explain", Title: "Explain a risk assessment", Toolset: riskToolset,
			Description: "Explain one finding or work item: every scoring factor with its points and evidence (KEV, EPSS, exploit status, alerts, intel, asset criticality, exposure, patch), " +
				"the CISA SSVC decision, the BOD 26-04 timeline, and why vulnpilot's tier deviates from BOD when it does.",
			Scope: governance.RiskRead, Annotations: readOnlyLocal, FalconScopes: snapshotFalconScopes,
		}, explain),
		newTool(Meta{
			Name: "risk_threat_active", Title: "Threat-active CVEs", Toolset: riskToolset,
			Description: "CVEs in the tenant with live exploitation signals — CISA KEV, Falcon Intelligence actors or reports, alerts on affected hosts, Spotlight 'actively used' — " +
				"each with the hosts exposed to it, most urgent first.",
			Scope: governance.RiskRead, Annotations: readOnlyLocal, FalconScopes: snapshotFalconScopes,
		}, threatActive),
		newTool(Meta{
			Name: "risk_exposure_summary", Title: "Exposure summary and trends", Toolset: riskToolset,
			Description: "Exposure counts grouped by business unit, team, platform, tier, asset criticality, internet exposure or product type, with overdue/KEV/alerted counts, " +
				"the weekly arrival of still-open findings, backlog age, and the change since previous snapshots.",
			Scope: governance.RiskRead, Annotations: readOnlyLocal, FalconScopes: snapshotFalconScopes,
		}, exposureSummary),
	}
}

func current(d *Deps) (*State, error) {
	if d.Snapshots == nil {
		return nil, unavailable("this server has no risk snapshot configured")
	}
	return d.Snapshots.Current()
}

// snapInfo says which snapshot answered.
type snapInfo struct {
	AssessedAt   string `json:"assessed_at"`
	LoadedAt     string `json:"loaded_at"`
	RefreshError string `json:"last_refresh_error,omitempty"`
}

func infoOf(d *Deps, st *State) snapInfo {
	si := snapInfo{AssessedAt: stamp(st.Snap.Now()), LoadedAt: stamp(st.Loaded)}
	if s := d.Snapshots.Status(); s.LastError != "" {
		si.RefreshError = s.LastError
	}
	return si
}

func selectionErr(err error) error {
	var fe *fql.FieldError
	var se *fql.SyntaxError
	if errors.As(err, &fe) || errors.As(err, &se) {
		return fqlError("filter", err)
	}
	return err
}

func snapCursor(tool, query, raw string, st *State) (cursor, error) {
	c, err := decodeCursor(raw, tool, query)
	if err != nil {
		return c, err
	}
	if raw == "" {
		c.Gen = st.Gen
		return c, nil
	}
	if c.Gen != st.Gen {
		return c, invalidArgs("cursor: the risk snapshot was refreshed since that page (now assessed at %s); start again without cursor", stamp(st.Snap.Now()))
	}
	return c, nil
}

// next returns the cursor of the page after n items at c.Off of total
// items, or "" after the last page.
func (c cursor) next(n, total int) string {
	if c.Off+n >= total || n == 0 {
		return ""
	}
	c.Off += n
	return c.encode()
}

// pageOf is items[off:off+limit], never nil: an empty page encodes as [].
func pageOf[T any](items []T, off, limit int) []T {
	end := min(off+limit, len(items))
	if off >= end {
		return []T{}
	}
	return items[off:end]
}

// ---- risk_prioritize ----

type prioritizeArgs struct {
	Filter string `json:"filter,omitempty" maxLength:"4096" desc:"FQL over the assessed open findings: Spotlight fields (cve.id, host_info.platform_name, ...) plus tier, score, due, overdue, business_unit, team, kev, alerted, intel_actors, epss, product; e.g. tier:'P1'+business_unit:'payments'. Guide: resource vulnpilot://guide/fql. Empty: everything"`
	Limit  int    `json:"limit,omitempty" min:"1" max:"50" default:"10" desc:"work items per page"`
	Cursor string `json:"cursor,omitempty" maxLength:"4096" desc:"the next value of the previous page"`
}

type itemOut struct {
	Key            string        `json:"key"`
	Kind           string        `json:"kind"`
	Tier           risk.Tier     `json:"tier"`
	Score          float64       `json:"score"`
	Due            string        `json:"due"`
	Overdue        bool          `json:"overdue,omitempty"`
	Remediation    remOut        `json:"remediation"`
	HostsTotal     int           `json:"hosts_total"`
	Hosts          []hostRefOut  `json:"hosts"`
	CVEsTotal      int           `json:"cves_total"`
	CVEs           []string      `json:"cves"`
	FindingsTotal  int           `json:"findings_total"`
	TopFinding     string        `json:"top_finding"`
	TopEvidence    []evidenceOut `json:"top_evidence,omitempty"`
	Evidence       []evidenceOut `json:"evidence,omitempty"`
	FindingIDsPage []string      `json:"finding_ids,omitempty"`
}

type remOut struct {
	ID        string `json:"id,omitempty"`
	Title     string `json:"title"`
	Action    string `json:"action,omitempty"`
	Reference string `json:"reference,omitempty"`
	Link      string `json:"link,omitempty"`
}

type hostRefOut struct {
	AID          string `json:"aid"`
	Hostname     string `json:"hostname"`
	Criticality  string `json:"asset_criticality,omitempty"`
	BusinessUnit string `json:"business_unit,omitempty"`
	Team         string `json:"team,omitempty"`
}

type evidenceOut struct {
	Factor string  `json:"factor"`
	Source string  `json:"source"`
	Ref    string  `json:"ref,omitempty"`
	Value  string  `json:"value,omitempty"`
	Detail string  `json:"detail"`
	Points float64 `json:"points"`
}

func compactEvidence(ev []risk.Evidence, n int) []evidenceOut {
	out := make([]evidenceOut, 0, min(len(ev), n))
	for _, e := range ev {
		if len(out) == n {
			break
		}
		out = append(out, evidenceOut{Factor: clean(e.Factor, 40), Source: clean(e.Source, 40), Ref: clean(e.Ref, 120),
			Value: clean(e.Value, 120), Detail: clean(e.Detail, 400), Points: e.Points})
	}
	return out
}

func compactItem(it plan.WorkItem, hosts, cves, evidence int) itemOut {
	o := itemOut{
		Key: it.Key, Kind: it.Kind, Tier: it.Tier, Score: it.Score, Due: day(it.Due), Overdue: it.Overdue,
		Remediation: remOut{ID: clean(it.Remediation.ID, 128), Title: clean(it.Remediation.Title, 200), Action: clean(it.Remediation.Action, 300),
			Reference: clean(it.Remediation.Reference, 80), Link: clean(it.Remediation.Link, 300)},
		HostsTotal: len(it.Hosts), CVEsTotal: len(it.CVEs), FindingsTotal: len(it.FindingIDs), TopFinding: clean(it.TopFinding, 160),
		Hosts: []hostRefOut{}, CVEs: cleanAll(it.CVEs, cves, 64),
	}
	for i, h := range it.Hosts {
		if i == hosts {
			break
		}
		o.Hosts = append(o.Hosts, hostRefOut{AID: clean(h.AID, 64), Hostname: clean(h.Hostname, 120), Criticality: clean(h.AssetCriticality, 20),
			BusinessUnit: clean(h.BusinessUnit, 60), Team: clean(h.Team, 60)})
	}
	o.TopEvidence = compactEvidence(it.Evidence, evidence)
	return o
}

type breakdownOut struct {
	Findings      int                       `json:"findings"`
	Hosts         int                       `json:"hosts"`
	CVEs          int                       `json:"cves"`
	Items         int                       `json:"work_items"`
	Overdue       int                       `json:"overdue_findings"`
	KEV           int                       `json:"kev_findings"`
	Alerted       int                       `json:"alerted_findings"`
	ByTier        map[string]snapshot.Count `json:"by_tier"`
	ByBU          []snapshot.Group          `json:"by_business_unit"`
	BUsTotal      int                       `json:"business_units_total"`
	ByBUTruncated bool                      `json:"by_business_unit_truncated,omitempty"`
}

func prioritize(ctx context.Context, d *Deps, a prioritizeArgs) (*Result, error) {
	st, err := current(d)
	if err != nil {
		return nil, err
	}
	filter := strings.TrimSpace(a.Filter)
	const tool = "risk_prioritize"
	cur, err := snapCursor(tool, queryDigest(filter), a.Cursor, st)
	if err != nil {
		return nil, err
	}
	sel, err := st.Select(filter)
	if err != nil {
		return nil, selectionErr(err)
	}
	bd, _ := st.breakdown(filter)
	items := st.page(sel, cur.Off, a.Limit)
	out := make([]itemOut, len(items))
	for i, it := range items {
		out[i] = compactItem(it, 3, 5, 3)
	}
	const maxBU = 8
	agg := breakdownOut{Findings: bd.Findings, Hosts: bd.Hosts, CVEs: bd.CVEs, Items: bd.Items, Overdue: bd.Overdue, KEV: bd.KEV,
		Alerted: bd.Alerted, ByTier: bd.ByTier, ByBU: bd.ByBU, BUsTotal: bd.BUsTotal}
	if len(agg.ByBU) > maxBU {
		agg.ByBU, agg.ByBUTruncated = agg.ByBU[:maxBU], true
	}
	for i := range agg.ByBU {
		agg.ByBU[i].Name = clean(agg.ByBU[i].Name, 60)
	}
	total := len(sel.Items())
	next := cur.next(len(out), total)
	data := map[string]any{"snapshot": infoOf(d, st), "filter": sel.Filter(), "total": total, "returned": len(out), "items": out, "aggregates": agg}
	if next != "" {
		data["next"] = next
	}
	var sum strings.Builder
	fmt.Fprintf(&sum, "%d work items (%d open findings on %d hosts) match %q in the snapshot assessed %s: P1 %d, P2 %d, P3 %d, P4 %d items; %d findings overdue, %d in CISA KEV, %d with a live alert.",
		total, bd.Findings, bd.Hosts, clean(filterOr(sel.Filter(), "everything"), 200), stamp(st.Snap.Now()),
		bd.ByTier["P1"].Items, bd.ByTier["P2"].Items, bd.ByTier["P3"].Items, bd.ByTier["P4"].Items, bd.Overdue, bd.KEV, bd.Alerted)
	if len(out) > 0 {
		top := out[0]
		fmt.Fprintf(&sum, " Top item %s: %s %.1f, %d host(s), %d CVE(s), due %s.", top.Key, top.Tier, top.Score, top.HostsTotal, top.CVEsTotal, top.Due)
	}
	sum.WriteString(moreHint(next))
	return &Result{Summary: sum.String(), Data: data}, nil
}

// ---- risk_explain ----

type explainArgs struct {
	ID string `json:"id" minLength:"1" maxLength:"256" desc:"a finding id, or a work item key (wi-...) from risk_prioritize"`
}

type assessmentOut struct {
	FindingID       string            `json:"finding_id"`
	Score           float64           `json:"score"`
	Tier            risk.Tier         `json:"tier"`
	SLADays         int               `json:"sla_days"`
	Due             string            `json:"due"`
	Overdue         bool              `json:"overdue"`
	Likelihood      float64           `json:"likelihood"`
	Confidence      float64           `json:"confidence"`
	ConfidenceLabel string            `json:"confidence_label"`
	Suppressed      bool              `json:"suppressed,omitempty"`
	Factors         []risk.Factor     `json:"factors"`
	Evidence        []evidenceOut     `json:"evidence"`
	SSVC            risk.SSVCDecision `json:"ssvc"`
	BOD             risk.BODDecision  `json:"bod_26_04"`
	Deviation       string            `json:"deviation_from_bod,omitempty"`
}

func compactAssessment(a risk.Assessment) assessmentOut {
	fs := make([]risk.Factor, len(a.Factors))
	for i, f := range a.Factors {
		fs[i] = risk.Factor{Name: clean(f.Name, 40), Value: f.Value, Points: f.Points, Detail: clean(f.Detail, 400)}
	}
	return assessmentOut{
		FindingID: clean(a.FindingID, 160), Score: a.Score, Tier: a.Tier, SLADays: a.SLADays, Due: day(a.Due), Overdue: a.Overdue,
		Likelihood: a.Likelihood, Confidence: a.Confidence, ConfidenceLabel: a.ConfidenceLabel, Suppressed: a.Suppressed,
		Factors: fs, Evidence: compactEvidence(a.Evidence, 40), SSVC: a.SSVC, BOD: a.BOD, Deviation: clean(a.Deviation, 600),
	}
}

func explain(ctx context.Context, d *Deps, a explainArgs) (*Result, error) {
	st, err := current(d)
	if err != nil {
		return nil, err
	}
	id := strings.TrimSpace(a.ID)
	snap := st.Snap
	var item *itemOut
	findingID := id
	if it, ok := st.findItem(id); ok {
		o := compactItem(it, 20, 20, 0)
		o.FindingIDsPage = cleanAll(it.FindingIDs, 20, 160)
		item = &o
		findingID = it.TopFinding
	}
	f, ok := snap.Finding(findingID)
	if !ok {
		return nil, notFound("id %q not found in the snapshot assessed %s: give a finding id (falcon_search_vulnerabilities, or top_finding of risk_prioritize) or a work item key (wi-…) from risk_prioritize",
			clean(id, 80), stamp(snap.Now()))
	}
	as, err := snap.Assess(findingID)
	if err != nil {
		return nil, notFound("finding %q is not assessed: %s", clean(findingID, 80), clean(err.Error(), 200))
	}
	fo := compactFinding(&f, false)
	ref := plan.HostRefFrom(f.Host, f.AID)
	data := map[string]any{
		"snapshot":   infoOf(d, st),
		"finding":    fo,
		"host":       hostRefOut{AID: clean(ref.AID, 64), Hostname: clean(ref.Hostname, 120), Criticality: clean(ref.AssetCriticality, 20), BusinessUnit: clean(ref.BusinessUnit, 60), Team: clean(ref.Team, 60)},
		"assessment": compactAssessment(as),
	}
	var sum strings.Builder
	if item != nil {
		data["work_item"] = item
		fmt.Fprintf(&sum, "Work item %s (%s, %d host(s), %d CVE(s), %d finding(s)) is %s with score %.1f, set by its top finding %s. ",
			item.Key, item.Kind, item.HostsTotal, item.CVEsTotal, item.FindingsTotal, item.Tier, item.Score, fo.ID)
	}
	fmt.Fprintf(&sum, "Finding %s (%s on host %q) scores %.1f → %s, due %s (%d-day SLA)%s; exploitation likelihood %.2f, confidence %s. SSVC says %q; BOD 26-04 says %q.",
		fo.ID, fo.CVE, fo.Hostname, as.Score, as.Tier, day(as.Due), as.SLADays, overdueWord(as.Overdue), as.Likelihood, as.ConfidenceLabel,
		as.SSVC.Decision, as.BOD.Timeline)
	if top := topFactor(as.Factors); top != "" {
		fmt.Fprintf(&sum, " Largest factor: %s.", top)
	}
	if as.Deviation != "" {
		sum.WriteString(" vulnpilot deviates from BOD (see deviation_from_bod).")
	}
	return &Result{Summary: sum.String(), Data: data}, nil
}

func overdueWord(b bool) string {
	if b {
		return ", OVERDUE"
	}
	return ""
}

func topFactor(fs []risk.Factor) string {
	best := -1
	for i, f := range fs {
		if best < 0 || f.Points > fs[best].Points {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return fmt.Sprintf("%s (%.1f points)", clean(fs[best].Name, 40), fs[best].Points)
}

// ---- risk_threat_active ----

type threatArgs struct {
	Filter      string `json:"filter,omitempty" maxLength:"4096" desc:"FQL over the assessed open findings (as in risk_prioritize); empty: everything"`
	Signal      string `json:"signal,omitempty" enum:"any,kev,intel,alert,exploit_status" default:"any" desc:"only CVEs with this signal: kev (CISA KEV), intel (Falcon Intelligence actors/reports), alert (live alert on an affected host), exploit_status (Spotlight: actively used)"`
	Limit       int    `json:"limit,omitempty" min:"1" max:"50" default:"10" desc:"CVEs per page"`
	HostsPerCVE int    `json:"hosts_per_cve,omitempty" min:"1" max:"25" default:"5" desc:"exposed hosts listed per CVE (highest risk first; hosts_total has the count)"`
	Cursor      string `json:"cursor,omitempty" maxLength:"4096" desc:"the next value of the previous page"`
}

type threatOut struct {
	CVE             string         `json:"cve"`
	Name            string         `json:"name,omitempty"`
	Signals         []string       `json:"signals"`
	KEV             *kevOut        `json:"kev,omitempty"`
	Actors          []string       `json:"intel_actors,omitempty"`
	Reports         int            `json:"intel_reports,omitempty"`
	ExploitStatus   int            `json:"exploit_status"`
	BaseScore       float64        `json:"base_score,omitempty"`
	BestTier        risk.Tier      `json:"best_tier"`
	MaxScore        float64        `json:"max_score"`
	Findings        int            `json:"findings"`
	AlertedFindings int            `json:"alerted_findings"`
	HostsTotal      int            `json:"hosts_total"`
	Hosts           []exposedOut   `json:"hosts"`
	ByTier          map[string]int `json:"hosts_by_tier"`
}

type kevOut struct {
	DateAdded  string `json:"date_added"`
	DueDate    string `json:"due_date,omitempty"`
	Ransomware bool   `json:"known_ransomware"`
}

type exposedOut struct {
	AID              string    `json:"aid"`
	Hostname         string    `json:"hostname"`
	Platform         string    `json:"platform,omitempty"`
	AssetCriticality string    `json:"asset_criticality,omitempty"`
	InternetExposure string    `json:"internet_exposure,omitempty"`
	BusinessUnit     string    `json:"business_unit,omitempty"`
	Tier             risk.Tier `json:"tier"`
	Score            float64   `json:"score"`
	Due              string    `json:"due"`
	Alerted          bool      `json:"alerted,omitempty"`
	FindingID        string    `json:"finding_id"`
}

func threatActive(ctx context.Context, d *Deps, a threatArgs) (*Result, error) {
	st, err := current(d)
	if err != nil {
		return nil, err
	}
	filter := strings.TrimSpace(a.Filter)
	const tool = "risk_threat_active"
	cur, err := snapCursor(tool, queryDigest(filter, a.Signal), a.Cursor, st)
	if err != nil {
		return nil, err
	}
	threats, err := derived(st, filter, "threat:"+a.Signal, func(sel *snapshot.Selection) ([]snapshot.ThreatCVE, error) {
		return sel.ThreatActive(a.Signal)
	})
	if err != nil {
		return nil, selectionErr(err)
	}
	bySignal := map[string]int{}
	hostsTotal := map[string]bool{}
	for _, t := range threats {
		for _, s := range t.Signals {
			bySignal[s]++
		}
		for _, h := range t.Hosts {
			hostsTotal[h.AID] = true
		}
	}
	page := pageOf(threats, cur.Off, a.Limit)
	out := make([]threatOut, len(page))
	for i, t := range page {
		o := threatOut{CVE: clean(t.CVE, 64), Name: clean(t.Name, 160), Signals: t.Signals, ExploitStatus: t.ExploitStatus, BaseScore: t.BaseScore,
			BestTier: t.BestTier, MaxScore: t.MaxScore, Findings: t.Findings, AlertedFindings: t.Alerted, HostsTotal: len(t.Hosts),
			Hosts: []exposedOut{}, ByTier: map[string]int{}}
		if t.KEV != nil {
			o.KEV = &kevOut{DateAdded: day(t.KEV.DateAdded), DueDate: day(t.KEV.DueDate), Ransomware: t.KEV.Ransomware}
		}
		if t.Intel != nil {
			o.Actors, o.Reports = cleanAll(t.Intel.Actors, 5, 80), len(t.Intel.Reports)
		}
		for k, h := range t.Hosts {
			o.ByTier[string(h.Tier)]++
			if k < a.HostsPerCVE {
				o.Hosts = append(o.Hosts, exposedOut{AID: clean(h.AID, 64), Hostname: clean(h.Hostname, 120), Platform: clean(h.Platform, 20),
					AssetCriticality: clean(h.AssetCriticality, 20), InternetExposure: clean(h.InternetExposure, 20), BusinessUnit: clean(h.BusinessUnit, 60),
					Tier: h.Tier, Score: h.Score, Due: day(h.Due), Alerted: h.Alerted, FindingID: clean(h.FindingID, 160)})
			}
		}
		out[i] = o
	}
	next := cur.next(len(out), len(threats))
	data := map[string]any{"snapshot": infoOf(d, st), "filter": filter, "signal": a.Signal, "total": len(threats), "returned": len(out),
		"cves": out, "by_signal": bySignal, "hosts_exposed": len(hostsTotal)}
	if next != "" {
		data["next"] = next
	}
	var sum strings.Builder
	fmt.Fprintf(&sum, "%d CVEs with live exploitation signals (%s) affect %d hosts in %q (snapshot assessed %s): %d in CISA KEV, %d with Falcon Intelligence, %d with live alerts, %d marked actively used by Spotlight.",
		len(threats), a.Signal, len(hostsTotal), clean(filterOr(filter, "everything"), 200), stamp(st.Snap.Now()),
		bySignal[snapshot.SignalKEV], bySignal[snapshot.SignalIntel], bySignal[snapshot.SignalAlert], bySignal[snapshot.SignalExploited])
	if len(out) > 0 {
		fmt.Fprintf(&sum, " Most urgent: %s on %d host(s), best tier %s.", out[0].CVE, out[0].HostsTotal, out[0].BestTier)
	}
	sum.WriteString(moreHint(next))
	return &Result{Summary: sum.String(), Data: data}, nil
}

// ---- risk_exposure_summary ----

type exposureArgs struct {
	Filter  string `json:"filter,omitempty" maxLength:"4096" desc:"FQL over the assessed open findings (as in risk_prioritize); empty: everything"`
	GroupBy string `json:"group_by,omitempty" enum:"business_unit,team,platform,tier,asset_criticality,internet_exposure,product_type" default:"business_unit" desc:"dimension to group by"`
	Limit   int    `json:"limit,omitempty" min:"1" max:"50" default:"10" desc:"groups per page (most P1 findings first)"`
	Weeks   int    `json:"weeks,omitempty" min:"1" max:"26" default:"8" desc:"weeks of arrivals in opened_per_week"`
	Cursor  string `json:"cursor,omitempty" maxLength:"4096" desc:"the next value of the previous page"`
}

func exposureSummary(ctx context.Context, d *Deps, a exposureArgs) (*Result, error) {
	st, err := current(d)
	if err != nil {
		return nil, err
	}
	filter := strings.TrimSpace(a.Filter)
	const tool = "risk_exposure_summary"
	cur, err := snapCursor(tool, queryDigest(filter, a.GroupBy, fmt.Sprint(a.Weeks)), a.Cursor, st)
	if err != nil {
		return nil, err
	}
	ex, err := derived(st, filter, fmt.Sprintf("exposure:%s:%d", a.GroupBy, a.Weeks), func(sel *snapshot.Selection) (snapshot.Exposure, error) {
		return sel.Exposure(a.GroupBy, a.Weeks)
	})
	if err != nil {
		return nil, selectionErr(err)
	}
	groups := slices.Clone(pageOf(ex.Groups, cur.Off, a.Limit)) // names are cleaned in place
	for i := range groups {
		groups[i].Name = clean(groups[i].Name, 80)
	}
	next := cur.next(len(groups), len(ex.Groups))
	hist := d.Snapshots.History(8)
	data := map[string]any{"snapshot": infoOf(d, st), "filter": filter, "group_by": a.GroupBy, "totals": ex.Totals,
		"total": len(ex.Groups), "returned": len(groups), "groups": groups, "opened_per_week": ex.Weekly, "age": ex.Age, "history": hist}
	var change string
	if len(hist) >= 2 {
		p, c := hist[len(hist)-2], hist[len(hist)-1]
		data["change_since_previous"] = map[string]any{"since": stamp(p.AssessedAt), "findings": c.Findings - p.Findings,
			"P1": c.ByTier["P1"] - p.ByTier["P1"], "overdue": c.Overdue - p.Overdue, "kev": c.KEV - p.KEV}
		change = fmt.Sprintf(" Since the previous snapshot (%s): %+d findings, %+d P1, %+d overdue.", stamp(p.AssessedAt),
			c.Findings-p.Findings, c.ByTier["P1"]-p.ByTier["P1"], c.Overdue-p.Overdue)
	}
	if next != "" {
		data["next"] = next
	}
	t := ex.Totals
	recent := 0
	if n := len(ex.Weekly); n > 0 {
		recent = ex.Weekly[n-1].Findings
	}
	var sum strings.Builder
	fmt.Fprintf(&sum, "%d open findings on %d hosts (%d CVEs) in %q, snapshot assessed %s: P1 %d, P2 %d, P3 %d, P4 %d; %d overdue, %d in CISA KEV, %d with live alerts; %d first seen in the last 7 days, %d this week.",
		t.Findings, t.Hosts, t.CVEs, clean(filterOr(filter, "everything"), 200), stamp(st.Snap.Now()),
		t.ByTier["P1"], t.ByTier["P2"], t.ByTier["P3"], t.ByTier["P4"], t.Overdue, t.KEV, t.Alerted, t.New7d, recent)
	if len(groups) > 0 {
		g := groups[0]
		fmt.Fprintf(&sum, " %d %s groups; the most exposed is %q with %d P1 and %d overdue findings.", len(ex.Groups), a.GroupBy, g.Name, g.ByTier["P1"], g.Overdue)
	}
	sum.WriteString(change)
	sum.WriteString(moreHint(next))
	return &Result{Summary: sum.String(), Data: data}, nil
}
