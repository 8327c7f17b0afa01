package risk

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/ssvc"
)

// Evidence factor names. The first six are the score's terms; the others
// explain decisions and carry 0 points.
const (
	FactorExploitation = "exploitation"
	FactorCriticality  = "criticality"
	FactorRole         = "role"
	FactorExposure     = "exposure"
	FactorPatch        = "patch"
	FactorSuppression  = "suppression"
	FactorFreshness    = "freshness" // confidence: host last seen, unmanaged asset, finding confidence
	FactorTier         = "tier"      // tier threshold, escalation rules, SLA clock
	FactorSSVC         = "ssvc"      // CISA SSVC Coordinator decision
	FactorBOD          = "bod"       // CISA BOD 26-04 timeline
)

// maxQuoted caps external text quoted in evidence, in runes.
const maxQuoted = 120

// Assess scores one finding with full evidence. A closed finding (or a nil
// input) is not scored: NotScored says why and every number is zero.
func (e *Engine) Assess(in *Input) Assessment {
	var r result
	e.eval(in, &r)
	a := Assessment{
		Score: r.score, Tier: r.tier, SLADays: r.sla, Due: r.due, Overdue: r.overdue,
		Likelihood: r.likelihood, Confidence: r.conf, Suppressed: r.suppressed, NotScored: r.notScored,
	}
	if in != nil && in.Finding != nil {
		a.FindingID, a.AID, a.CVE = in.Finding.ID, in.Finding.AID, in.Finding.CVE
	}
	if r.notScored != "" {
		a.Factors = []Factor{}
		detail := "not scored: the input has no finding"
		if r.notScored == NotScoredClosed {
			detail = "not scored: Spotlight reports the finding closed"
		}
		a.Evidence = []Evidence{{Factor: FactorTier, Source: SourceSpotlight, Ref: "status", Value: r.notScored, Detail: detail}}
		return a
	}
	a.ConfidenceLabel = e.label(r.conf)
	x := &explainer{e: e, in: in, f: in.Finding, r: &r}
	a.Factors, a.Evidence = x.factors()
	a.SSVC, a.BOD = x.decisions()
	a.Evidence = append(a.Evidence, x.tierEvidence()...)
	a.Evidence = append(a.Evidence, x.confidenceEvidence()...)
	a.Evidence = append(a.Evidence, x.decisionEvidence(a.SSVC, a.BOD)...)
	a.Deviation = x.deviation(a.Tier, a.BOD)
	return a
}

type explainer struct {
	e  *Engine
	in *Input
	f  *falcon.Finding
	r  *result
}

// factors attributes the score to its terms (sequential attribution, see
// engine.go) and emits the evidence of each term.
func (x *explainer) factors() ([]Factor, []Evidence) {
	r := x.r
	var pts [1 + nMult]float64
	running := 100 * r.rawL
	pts[0] = running
	for i, m := range r.m {
		d := running * (m - 1)
		pts[i+1] = d
		running += d
	}
	roundTo(pts[:], r.score, 0)

	names := [nMult]string{FactorCriticality, FactorRole, FactorExposure, FactorPatch, FactorSuppression}
	factors := make([]Factor, 0, 1+nMult)
	factors = append(factors, Factor{Name: FactorExploitation, Value: r.likelihood, Points: pts[0], Detail: x.likelihoodDetail()})
	ev := x.signalEvidence(pts[0])
	for i, name := range names {
		ev1, detail := x.multiplierEvidence(i, pts[i+1])
		factors = append(factors, Factor{Name: name, Value: r.m[i], Points: pts[i+1], Detail: detail})
		ev = append(ev, ev1...)
	}
	return factors, ev
}

// roundTo rounds each value to one decimal and puts the rounding residual
// on the value at index fix, so that the values sum to total.
func roundTo(v []float64, total float64, fix int) {
	sum := 0.0
	for i := range v {
		v[i] = round(v[i], 1)
		sum += v[i]
	}
	v[fix] = round(v[fix]+total-sum, 1)
}

func (x *explainer) likelihoodDetail() string {
	r := x.r
	if r.n == 0 {
		return "no exploitation signal: likelihood 0"
	}
	s := fmt.Sprintf("exploitation likelihood %.3f: noisy-OR of %d signal", r.likelihood, r.n)
	if r.n > 1 {
		s += "s"
	}
	if !r.epssKnown {
		s += "; EPSS unknown"
	}
	return s
}

// signalEvidence splits the exploitation points among the signals by their
// share of Σ −ln(1 − p_i).
func (x *explainer) signalEvidence(points float64) []Evidence {
	r := x.r
	shares := make([]float64, r.n)
	total := 0.0
	for i := 0; i < r.n; i++ {
		shares[i] = -math.Log1p(-math.Min(r.sigs[i].p, 0.999999))
		total += shares[i]
	}
	largest := 0
	for i := range shares {
		if total > 0 {
			shares[i] = points * shares[i] / total
		}
		if shares[i] > shares[largest] {
			largest = i
		}
	}
	if r.n > 0 {
		roundTo(shares, points, largest)
	}
	ev := make([]Evidence, 0, r.n+1)
	for i := 0; i < r.n; i++ {
		e := x.signal(r.sigs[i])
		e.Factor, e.Points = FactorExploitation, shares[i]
		ev = append(ev, e)
	}
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].Points > ev[j].Points })
	if !r.epssKnown {
		d := "EPSS unknown: no FIRST EPSS score for this CVE (feed not configured or CVE not scored); confidence lowered"
		if x.in.Prior != nil {
			d += "; the exploitation model's estimate is used instead"
		}
		ev = append(ev, Evidence{Factor: FactorExploitation, Source: SourceEPSS, Value: "unknown", Detail: d})
	}
	return ev
}

var exploitStatusName = map[int]string{90: "actively used", 60: "easily accessible", 30: "available"}

func (x *explainer) signal(s sig) Evidence {
	in, f, r := x.in, x.f, x.r
	p := strconv.FormatFloat(s.p, 'g', 4, 64)
	switch s.kind {
	case sigKEV:
		k := in.KEV
		d := fmt.Sprintf("CISA KEV lists %s", f.CVE)
		if k.VulnerabilityName != "" {
			d += " (" + quoted(k.VulnerabilityName) + ")"
		}
		if !k.DateAdded.IsZero() {
			d += " since " + day(k.DateAdded)
		}
		if k.Ransomware {
			d += "; known ransomware campaign use"
		}
		return Evidence{Source: SourceKEV, Ref: clean(k.CatalogVersion, 40), Value: "in KEV", Detail: d + ": p=" + p}
	case sigKEVFlag:
		return Evidence{Source: SourceSpotlight, Ref: "cve.is_cisa_kev", Value: "true",
			Detail: "Spotlight flags the CVE as in CISA KEV (no catalog entry loaded): p=" + p}
	case sigAlertCVE, sigAlertProduct:
		idx := r.cveAlert
		if s.kind == sigAlertProduct {
			idx = r.prodAlert
		}
		a := in.Alerts[idx]
		d := "live alert " + alertName(a) + fmt.Sprintf(" (severity %d, status %s, %s) on this host ", a.Severity, clean(a.Status, 20), day(a.Created))
		if s.kind == sigAlertCVE {
			d += "names the CVE"
		} else {
			d += "involves the vulnerable product"
			if prod := f.App.Product; prod != "" {
				d += " " + quoted(prod)
			}
		}
		if more := r.liveAlerts - 1; more > 0 && (s.kind == sigAlertCVE || r.cveAlert < 0) {
			d += fmt.Sprintf(" (%d more live tied alert", more)
			if more > 1 {
				d += "s"
			}
			d += ")"
		}
		match := "cve"
		if s.kind == sigAlertProduct {
			match = "product"
		}
		return Evidence{Source: SourceAlert, Ref: clean(a.ID, maxQuoted), Value: match, Detail: d + ": p=" + p}
	case sigExploit:
		lvl := 30
		if r.exploit >= 90 {
			lvl = 90
		} else if r.exploit >= 60 {
			lvl = 60
		}
		return Evidence{Source: SourceSpotlight, Ref: "cve.exploit_status", Value: strconv.Itoa(r.exploit),
			Detail: fmt.Sprintf("exploit status %d: exploit %s (CrowdStrike): p=%s", r.exploit, exploitStatusName[lvl], p)}
	case sigExPRT:
		rt := strings.ToUpper(f.CVEInfo.ExprtRating)
		return Evidence{Source: SourceSpotlight, Ref: "cve.exprt_rating", Value: rt,
			Detail: "CrowdStrike ExPRT.AI rates the exploitation risk " + rt + ": p=" + p}
	case sigActors:
		actors := f.CVEInfo.Actors
		src, ref := SourceSpotlight, "cve.actors"
		if in.Intel != nil && len(in.Intel.Actors) > 0 {
			actors, src = in.Intel.Actors, SourceIntel
			ref = clean(actors[0], 60)
		}
		d := "Falcon Intelligence ties " + quotedList(actors, 3) + " to the CVE"
		if in.Intel != nil && len(in.Intel.Reports) > 0 {
			d += fmt.Sprintf(" (%d report", len(in.Intel.Reports))
			if len(in.Intel.Reports) > 1 {
				d += "s"
			}
			d += ")"
		}
		return Evidence{Source: src, Ref: ref, Value: plural(len(actors), "actor"), Detail: d + ": p=" + p}
	case sigReports:
		rep := in.Intel.Reports[0]
		serial, _, _ := strings.Cut(rep, ":")
		return Evidence{Source: SourceIntel, Ref: clean(strings.TrimSpace(serial), 40), Value: plural(len(in.Intel.Reports), "report"),
			Detail: "Falcon Intelligence report " + quoted(rep) + " discusses the CVE (no adversary named): p=" + p}
	case sigEPSS:
		ep := in.EPSS
		ref := clean(ep.ModelVersion, 40)
		if ep.ScoreDate != "" {
			ref += "@" + clean(ep.ScoreDate, 40)
		}
		return Evidence{Source: SourceEPSS, Ref: ref, Value: strconv.FormatFloat(ep.Score, 'f', -1, 64),
			Detail: fmt.Sprintf("FIRST EPSS: %.1f%% probability of exploitation activity in the next 30 days (percentile %.4g): p=%s", 100*ep.Score, ep.Percentile, p)}
	case sigPrior:
		return Evidence{Source: SourceModel, Ref: clean(in.Prior.Model, 40), Value: strconv.FormatFloat(in.Prior.Probability, 'f', -1, 64),
			Detail: "exploitation model estimate used because EPSS is unknown: p=" + p}
	case sigCVSS:
		bs := strconv.FormatFloat(f.CVEInfo.BaseScore, 'f', -1, 64)
		d := "CVSS base score " + bs + " sets a likelihood floor"
		if r.automatab {
			d = "CVSS base score " + bs + " with an automatable vector (network, low complexity, no privileges, no user interaction) sets a raised likelihood floor"
		}
		return Evidence{Source: SourceSpotlight, Ref: "cve.base_score", Value: bs, Detail: d + ": p=" + p}
	}
	return Evidence{}
}

func alertName(a AlertFact) string {
	if a.Name == "" {
		return clean(a.ID, maxQuoted)
	}
	return quoted(a.Name)
}

// multiplierEvidence explains multiplier i; it returns the evidence and the
// factor's detail.
func (x *explainer) multiplierEvidence(i int, points float64) ([]Evidence, string) {
	r, f, in := x.r, x.f, x.in
	m := r.m[i]
	mult := fmt.Sprintf("×%.2f", m)
	h := &f.Host
	switch i {
	case mCriticality:
		v := clean(h.AssetCriticality, 40)
		var d string
		switch r.crit {
		case critCritical, critHigh, critNoncritical:
			d = "asset criticality " + v + ": " + mult
		default:
			if v == "" || strings.EqualFold(v, "Unassigned") {
				v = "Unassigned"
				d = "asset criticality Unassigned: " + mult + "; confidence lowered"
			} else {
				d = "asset criticality " + quoted(v) + " is not recognised, treated as Unassigned: " + mult + "; confidence lowered"
			}
		}
		return []Evidence{{Factor: FactorCriticality, Source: SourceSpotlight, Ref: "host_info.asset_criticality", Value: v, Detail: d, Points: points}}, d
	case mRole:
		src, ref := SourceSpotlight, "host_info.product_type_desc"
		v := h.ProductTypeDesc
		if v == "" && in.Host != nil && in.Host.ProductTypeDesc != "" {
			src, ref, v = SourceHost, "product_type_desc", in.Host.ProductTypeDesc
		}
		var d string
		if r.role == roleUnknown {
			if v == "" {
				v, d = "unknown", "host role not reported: "+mult
			} else {
				d = "host role " + quoted(v) + " is not Domain Controller, Server or Workstation: " + mult
				v = clean(v, 40)
			}
		} else {
			d = "host role " + v + ": " + mult
		}
		return []Evidence{{Factor: FactorRole, Source: src, Ref: ref, Value: v, Detail: d, Points: points}}, d
	case mExposure:
		v := clean(h.InternetExposure, 20)
		var d string
		switch r.expo {
		case expoInternet:
			d = "internet-facing: " + mult
		case expoInternal:
			d = "not internet-facing: " + mult
		default:
			if v == "" {
				v = "unknown"
			}
			d = "internet exposure " + v + " (not yet determined): " + mult + "; confidence lowered"
		}
		return []Evidence{{Factor: FactorExposure, Source: SourceSpotlight, Ref: "host_info.internet_exposure", Value: v, Detail: d, Points: points}}, d
	case mPatch:
		if r.patched {
			n := max(len(f.RemediationIDs), len(f.Remediations))
			d := fmt.Sprintf("a remediation is available (%d): %s", n, mult)
			return []Evidence{{Factor: FactorPatch, Source: SourceSpotlight, Ref: "remediation", Value: "available", Detail: d, Points: points}}, d
		}
		d := "no patch available: the host stays exposed until the CVE is mitigated (compensating control, isolation or removal): " + mult
		return []Evidence{{Factor: FactorPatch, Source: SourceSpotlight, Ref: "remediation", Value: "none", Detail: d, Points: points}}, d
	case mSuppression:
		reason := clean(f.Suppression.Reason, 60)
		switch r.supp {
		case suppCompensating:
			d := "Spotlight suppression COMPENSATING_CONTROL: a compensating control is in place: " + mult
			return []Evidence{{Factor: FactorSuppression, Source: SourceSpotlight, Ref: "suppression_info.reason", Value: reason, Detail: d, Points: points}}, d
		case suppAccepted:
			d := "Spotlight suppression " + reason + ": the finding is suppressed (tier P4); the score is kept because the risk is accepted, not removed"
			return []Evidence{{Factor: FactorSuppression, Source: SourceSpotlight, Ref: "suppression_info.reason", Value: reason, Detail: d, Points: points}}, d
		case suppOther:
			d := "Spotlight suppression reason " + quoted(f.Suppression.Reason) + " is not recognised: scored as not suppressed"
			return []Evidence{{Factor: FactorSuppression, Source: SourceSpotlight, Ref: "suppression_info.reason", Value: reason, Detail: d, Points: points}}, d
		}
		return nil, "not suppressed"
	}
	return nil, ""
}

func (x *explainer) tierEvidence() []Evidence {
	e, r, in := x.e, x.r, x.in
	var ev []Evidence
	key, threshold := e.tierMin(r.scoreTier)
	var d string
	if r.scoreTier == P4 {
		d = fmt.Sprintf("score %.1f < %g: P4", r.score, threshold)
	} else {
		d = fmt.Sprintf("score %.1f ≥ %g: %s", r.score, threshold, r.scoreTier)
	}
	ev = append(ev, Evidence{Factor: FactorTier, Source: SourcePolicy, Ref: key, Value: string(r.scoreTier), Detail: d})

	for _, k := range escOrder {
		if !r.escs[k] {
			continue
		}
		to := r.escTo[k]
		d := x.escalationReason(k) + ": at least "
		if r.escLowered[k] {
			d += fmt.Sprintf("%s, lowered to %s because a compensating control is recorded (Spotlight COMPENSATING_CONTROL; policy demotion.compensating_control_floor)", e.esc[k], to)
		} else {
			d += string(to)
		}
		switch {
		case r.suppressed:
			d += " (overridden: the finding is suppressed)"
		case k == escBOD && r.bodFrom != "":
			d += fmt.Sprintf(", raised from %s", r.bodFrom)
		case r.raisedBy == k:
			d += fmt.Sprintf(", raised from %s", r.scoreTier)
		default:
			d += " (already met)"
		}
		ev = append(ev, Evidence{Factor: FactorTier, Source: SourcePolicy, Ref: escKey[k], Value: string(to), Detail: d})
	}
	if r.stale && x.e.p.Demotion.StaleHost > 0 && !r.suppressed {
		d := x.staleFact()
		switch {
		case r.spared:
			d += ", but a live detection is tied to this finding, so the host is alive and the tier is not lowered"
		case r.demoted:
			d += fmt.Sprintf(": tier lowered from %s to %s; verify the host still exists before spending patch effort", r.floorTier, lowerTier(r.floorTier, x.e.p.Demotion.StaleHost))
		default:
			d += ": already P4, the lowest tier; verify the host still exists"
		}
		ev = append(ev, Evidence{Factor: FactorTier, Source: SourcePolicy, Ref: "demotion.stale_host", Value: "stale", Detail: d})
	}
	if r.suppressed && r.liveAlerts > 0 {
		ev = append(ev, Evidence{Factor: FactorTier, Source: SourcePolicy, Ref: "suppression_info.reason", Value: "review",
			Detail: "a live detection is tied to this suppressed finding: review the risk acceptance"})
	}
	if r.supp == suppCompensating && r.liveAlerts > 0 {
		ev = append(ev, Evidence{Factor: FactorTier, Source: SourcePolicy, Ref: "suppression_info.reason", Value: "review",
			Detail: "a live detection is tied to this finding despite its compensating control: review the control"})
	}

	var why string
	switch r.startWhy {
	case startCreated:
		why = "the finding's creation"
	case startKEV:
		why = "its KEV date added, after the finding's creation " + dayOr(x.f.Created)
	case startAlert:
		why = "the first live tied alert, after the finding's creation " + dayOr(x.f.Created)
	case startNow:
		why = "now (the finding has no creation time)"
	}
	d = fmt.Sprintf("SLA %d days from %s (%s): due %s", r.sla, day(r.start), why, day(r.due))
	if r.overdue {
		d += fmt.Sprintf(", overdue by %s", ago(in.Now.Sub(r.due)))
	}
	ev = append(ev, Evidence{Factor: FactorTier, Source: SourcePolicy, Ref: slaKey(r.tier), Value: strconv.Itoa(r.sla), Detail: d})
	return ev
}

// escOrder lists the escalation rules in the order eval applies them.
var escOrder = [...]escKind{escDetection, escKEVInternet, escCriticalAsset, escHighAsset, escKEV, escActor, escBOD}

// escKey is each rule's policy key.
var escKey = [nEsc]string{
	escDetection:     "escalation.active_detection",
	escKEVInternet:   "escalation.kev_internet_exposed",
	escCriticalAsset: "escalation.exploited_critical_asset",
	escHighAsset:     "escalation.exploited_high_asset",
	escKEV:           "escalation.kev",
	escActor:         "escalation.intel_actor",
	escBOD:           "escalation.bod_floor",
}

func (x *explainer) escalationReason(k escKind) string {
	r, in := x.r, x.in
	switch k {
	case escDetection:
		idx, what := r.cveAlert, "names the CVE"
		if idx < 0 {
			idx, what = r.prodAlert, "involves the vulnerable product"
		}
		return "an active detection (alert " + alertName(in.Alerts[idx]) + ") on this host " + what
	case escKEVInternet:
		return "the CVE is in CISA KEV and the host is internet-facing"
	case escCriticalAsset:
		asset := "the asset is Critical"
		switch {
		case r.role == roleDC && r.crit == critCritical:
			asset = "the host is a Critical domain controller"
		case r.role == roleDC:
			asset = "the host is a domain controller"
		}
		return x.exploitedBy() + " and " + asset
	case escHighAsset:
		return x.exploitedBy() + ", its exploitation gives total control (technical impact total), and the asset is High-criticality"
	case escKEV:
		return "the CVE is in CISA KEV"
	case escActor:
		return "Falcon Intelligence ties " + quotedList(x.actorNames(), 2) + " to the CVE"
	case escBOD:
		return "BOD 26-04 sets " + r.bodTL + " (policy bod_floor)"
	}
	return ""
}

// exploitedBy names the exploitation evidence behind the asset floors.
func (x *explainer) exploitedBy() string {
	if x.r.inKEV {
		return "the CVE is in CISA KEV"
	}
	return "Falcon Intelligence ties " + quotedList(x.actorNames(), 2) + " to the CVE"
}

// actorNames prefers the Intelligence record's actors over Spotlight's.
func (x *explainer) actorNames() []string {
	if x.in.Intel != nil && len(x.in.Intel.Actors) > 0 {
		return x.in.Intel.Actors
	}
	return x.f.CVEInfo.Actors
}

// staleFact says why the host counts as stale.
func (x *explainer) staleFact() string {
	if strings.EqualFold(x.f.Status, "expired") {
		return "Spotlight reports the finding expired (host not evaluated recently)"
	}
	return fmt.Sprintf("host last seen %s ago (more than %d days)", ago(x.in.Now.Sub(x.r.lastSeen)), x.e.p.Confidence.StaleHostDays)
}

func (x *explainer) confidenceEvidence() []Evidence {
	r, p := x.r, &x.e.p.Confidence
	var ev []Evidence
	if r.pen&penStale != 0 {
		d := x.staleFact()
		ev = append(ev, Evidence{Factor: FactorFreshness, Source: SourceHost, Ref: "last_seen", Value: dayOr(r.lastSeen),
			Detail: d + fmt.Sprintf(": confidence −%.2f", p.Penalties.StaleHost)})
	}
	if r.pen&penUnmanaged != 0 {
		ev = append(ev, Evidence{Factor: FactorFreshness, Source: SourceSpotlight, Ref: "host_info.managed_by", Value: "unmanaged",
			Detail: fmt.Sprintf("unmanaged asset (no Hosts API record and no managed_by): host facts are unverified: confidence −%.2f", p.Penalties.Unmanaged)})
	}
	if r.pen&penPotential != 0 {
		ev = append(ev, Evidence{Factor: FactorFreshness, Source: SourceSpotlight, Ref: "confidence", Value: "potential",
			Detail: fmt.Sprintf("Spotlight marks the finding potential (not confirmed): confidence −%.2f", p.Penalties.Potential)})
	}
	return ev
}

// decisions computes the SSVC Coordinator decision and carries the BOD
// 26-04 timeline already computed by eval.
func (x *explainer) decisions() (SSVCDecision, BODDecision) {
	r := x.r
	expl := ssvc.ExploitationNone
	switch {
	case r.inKEV || r.exploit >= 90 || r.liveAlerts > 0:
		expl = ssvc.ExploitationActive
	case r.exploit >= 30:
		expl = ssvc.ExploitationPoC
	}
	mission := ssvc.MissionLow
	switch {
	case r.role == roleDC || r.crit == critCritical:
		mission = ssvc.MissionHigh
	case r.crit == critHigh:
		mission = ssvc.MissionMedium
	}
	s := SSVCDecision{Exploitation: expl, Automatable: yesNo(r.automatab), TechnicalImpact: impact(r.total), MissionImpact: mission}
	// The values above are all valid, so the look-up cannot fail.
	s.Decision, s.Row, _ = ssvc.Coordinator(s.Exploitation, s.Automatable, s.TechnicalImpact, s.MissionImpact)
	b := BODDecision{InKEV: r.inKEV, PubliclyExposed: r.exposedYes, Automatable: s.Automatable, TechnicalImpact: s.TechnicalImpact,
		Timeline: r.bodTL, Row: r.bodRow, Tier: r.bodTier}
	return s, b
}

func (x *explainer) decisionEvidence(s SSVCDecision, b BODDecision) []Evidence {
	r := x.r
	var why []string
	switch {
	case r.inKEV:
		why = append(why, "in KEV")
	case r.exploit >= 90:
		why = append(why, "exploit status 90")
	case r.liveAlerts > 0:
		why = append(why, "live detection")
	case r.exploit >= 30:
		why = append(why, fmt.Sprintf("exploit status %d", r.exploit))
	}
	vec := "from the CVSS vector"
	if !r.vecKnown {
		vec = "CVSS vector missing or incomplete: assumed"
	}
	expl := "exploitation " + s.Exploitation
	if len(why) > 0 {
		expl += " (" + why[0] + ")"
	}
	critName := [...]string{critCritical: "Critical", critHigh: "High", critNoncritical: "Noncritical", critUnassigned: "Unassigned"}[r.crit]
	roleName := [...]string{roleDC: "domain controller", roleServer: "server", roleWorkstation: "workstation", roleUnknown: "host of unknown role"}[r.role]
	missionWhy := critName + " " + roleName
	d := fmt.Sprintf("CISA SSVC Coordinator v2.0.3: %s, automatable %s and technical impact %s (%s), mission & well-being %s (%s): %s",
		expl, s.Automatable, s.TechnicalImpact, vec, s.MissionImpact, missionWhy, s.Decision)
	ev := []Evidence{{Factor: FactorSSVC, Source: SourcePolicy, Ref: fmt.Sprintf("cisa_coordinator_2_0_3.csv row %d", s.Row), Value: s.Decision, Detail: d}}
	if b.Timeline != "" {
		d := fmt.Sprintf("CISA BOD 26-04: in KEV %s, publicly exposed %s, automatable %s, technical impact %s: %s (%s)",
			yesNo(b.InKEV), yesNo(b.PubliclyExposed), b.Automatable, b.TechnicalImpact, b.Timeline, b.Tier)
		ev = append(ev, Evidence{Factor: FactorBOD, Source: SourcePolicy, Ref: fmt.Sprintf("cisa_bod_26_04_1_0_0.csv row %d", b.Row), Value: b.Timeline, Detail: d})
	}
	return ev
}

// deviation says in one sentence why the tier differs from BOD 26-04's.
func (x *explainer) deviation(t Tier, b BODDecision) string {
	if b.Tier == "" || t == b.Tier {
		return ""
	}
	r, e := x.r, x.e
	if t.Rank() < b.Tier.Rank() {
		var why string
		if r.raisedBy != escNone {
			why = x.escalationReason(r.raisedBy)
			if r.escLowered[r.raisedBy] {
				why += fmt.Sprintf(" (a floor of %s, lowered to %s by the recorded compensating control)", e.esc[r.raisedBy], r.escTo[r.raisedBy])
			}
		} else {
			_, threshold := e.tierMin(r.scoreTier)
			why = fmt.Sprintf("the score %.1f reaches %s (≥ %g) on %s", r.score, r.scoreTier, threshold, joinAnd(x.topSignals(2)))
		}
		if r.demoted {
			why += "; " + x.staleReason()
		}
		return fmt.Sprintf("%s is stricter than BOD 26-04's %s: %s.", t, b.Timeline, why)
	}
	if r.suppressed {
		return fmt.Sprintf("%s is more lenient than BOD 26-04's %s: Spotlight suppresses the finding (%s).", t, b.Timeline, clean(x.f.Suppression.Reason, 60))
	}
	var reasons []string
	if r.floorTier.Rank() > b.Tier.Rank() {
		// Before any demotion the tier was already more lenient: either a
		// compensating control lowered a floor that would have met BOD's
		// tier, or neither the score nor any floor reaches it.
		lowered := escNone
		for _, k := range escOrder {
			if r.escLowered[k] && e.esc[k].Rank() <= b.Tier.Rank() {
				lowered = k
				break
			}
		}
		if lowered != escNone {
			reasons = append(reasons, fmt.Sprintf("%s (a floor of %s), but a compensating control is recorded (Spotlight COMPENSATING_CONTROL), which lowers that floor to %s",
				x.escalationReason(lowered), e.esc[lowered], r.escTo[lowered]))
		} else {
			reasons = append(reasons, x.scoreShortfall(b.Tier))
		}
	}
	if r.demoted {
		reasons = append(reasons, x.staleReason())
	}
	return fmt.Sprintf("%s is more lenient than BOD 26-04's %s: %s.", t, b.Timeline, strings.Join(reasons, "; and "))
}

// scoreShortfall says why the score stays below tier bt.
func (x *explainer) scoreShortfall(bt Tier) string {
	r := x.r
	_, threshold := x.e.tierMin(bt)
	var reasons []string
	sigs := x.topSignals(3)
	if len(sigs) == 0 {
		reasons = append(reasons, "no exploitation signal")
	} else {
		reasons = append(reasons, fmt.Sprintf("exploitation likelihood %.2f (%s)", r.likelihood, strings.Join(sigs, ", ")))
	}
	if !r.epssKnown {
		reasons[0] += " with EPSS unknown"
	}
	reasons = append(reasons, x.reducers(2)...)
	return fmt.Sprintf("the score %.1f stays below %s's %g given %s", r.score, bt, threshold, joinAnd(reasons))
}

// staleReason says how the stale-host demotion changed the tier.
func (x *explainer) staleReason() string {
	r := x.r
	what := fmt.Sprintf("the host was last seen %s ago (more than %d days)", ago(x.in.Now.Sub(r.lastSeen)), x.e.p.Confidence.StaleHostDays)
	if strings.EqualFold(x.f.Status, "expired") {
		what = "Spotlight reports the finding expired"
	}
	return fmt.Sprintf("%s, which lowers the tier from %s to %s until someone verifies the host still exists",
		what, r.floorTier, lowerTier(r.floorTier, x.e.p.Demotion.StaleHost))
}

// topSignals names the strongest exploitation signals, strongest first.
func (x *explainer) topSignals(n int) []string {
	r := x.r
	idx := make([]int, r.n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return r.sigs[idx[a]].p > r.sigs[idx[b]].p })
	var out []string
	for _, i := range idx {
		if len(out) == n {
			break
		}
		out = append(out, x.signalName(r.sigs[i]))
	}
	return out
}

func (x *explainer) signalName(s sig) string {
	f, in, r := x.f, x.in, x.r
	switch s.kind {
	case sigKEV, sigKEVFlag:
		return "CISA KEV"
	case sigAlertCVE:
		return "a live alert naming the CVE"
	case sigAlertProduct:
		return "a live alert on the product"
	case sigExploit:
		return fmt.Sprintf("exploit status %d", r.exploit)
	case sigExPRT:
		return "ExPRT " + strings.ToUpper(f.CVEInfo.ExprtRating)
	case sigActors:
		return "Intel-tracked adversaries"
	case sigReports:
		return "Intel reports"
	case sigEPSS:
		return "EPSS " + strconv.FormatFloat(in.EPSS.Score, 'f', -1, 64)
	case sigPrior:
		return "model prior " + strconv.FormatFloat(in.Prior.Probability, 'f', -1, 64)
	case sigCVSS:
		if r.automatab {
			return "automatable CVSS " + strconv.FormatFloat(f.CVEInfo.BaseScore, 'f', -1, 64)
		}
		return "CVSS " + strconv.FormatFloat(f.CVEInfo.BaseScore, 'f', -1, 64)
	}
	return ""
}

// reducers names the n multipliers that lower the score most.
func (x *explainer) reducers(n int) []string {
	r := x.r
	type red struct {
		m    float64
		name string
	}
	var reds []red
	names := [nMult]string{}
	switch r.crit {
	case critHigh:
		names[mCriticality] = "a High-criticality asset"
	case critNoncritical:
		names[mCriticality] = "a Noncritical asset"
	case critUnassigned:
		names[mCriticality] = "unassigned criticality"
	}
	switch r.role {
	case roleServer:
		names[mRole] = "a server"
	case roleWorkstation:
		names[mRole] = "a workstation"
	case roleUnknown:
		names[mRole] = "an unknown role"
	}
	switch r.expo {
	case expoInternal:
		names[mExposure] = "no internet exposure"
	case expoUnknown:
		names[mExposure] = "undetermined exposure"
	}
	if !r.patched {
		names[mPatch] = "no patch available"
	}
	if r.supp == suppCompensating {
		names[mSuppression] = "a compensating control"
	}
	for i, m := range r.m {
		if m < 1 && names[i] != "" {
			reds = append(reds, red{m, fmt.Sprintf("%s ×%.2f", names[i], m)})
		}
	}
	sort.SliceStable(reds, func(i, j int) bool { return reds[i].m < reds[j].m })
	var out []string
	for i := 0; i < len(reds) && i < n; i++ {
		out = append(out, reds[i].name)
	}
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return "no signal"
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// clean makes external text safe to show as data: control and format
// characters (including bidi overrides) are dropped — line breaks and tabs
// become spaces — and the text is cut to n runes.
func clean(s string, n int) string {
	var b strings.Builder
	count := 0
	for _, c := range s {
		if c == '\n' || c == '\r' || c == '\t' {
			c = ' '
		} else if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) || c == unicode.ReplacementChar {
			continue
		}
		if count == n {
			b.WriteString("…")
			break
		}
		b.WriteRune(c)
		count++
	}
	return b.String()
}

// quoted is external text as a quoted, cleaned, truncated string.
func quoted(s string) string { return strconv.Quote(clean(s, maxQuoted)) }

func quotedList(items []string, n int) string {
	var parts []string
	for i, s := range items {
		if i == n {
			parts = append(parts, fmt.Sprintf("%d more", len(items)-n))
			break
		}
		parts = append(parts, quoted(s))
	}
	return joinAnd(parts)
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func dayOr(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return day(t)
}

// ago renders a duration in whole days (or hours under a day).
func ago(d time.Duration) string {
	if d < 24*time.Hour {
		h := int(d.Hours())
		if h == 1 {
			return "1 hour"
		}
		return fmt.Sprintf("%d hours", h)
	}
	days := int(d.Hours() / 24)
	if days == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", days)
}
