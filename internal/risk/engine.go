package risk

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/ssvc"
)

// Scoring rules (the policy supplies every number; default_policy.yaml
// documents the defaults):
//
//   - Likelihood L = 1 − Π(1 − p_i), a noisy-OR over the signals present:
//     CISA KEV, live alerts tied to the CVE or its product, Spotlight exploit
//     status, ExPRT rating, Falcon Intelligence actors (or, without actors,
//     reports), EPSS — or the exploitation model's prior when EPSS is unknown
//     — and a CVSS floor (base/10 × w, with a larger w when the vector is
//     SSVC automatable).
//   - Score = 100 × L × criticality × role × exposure × patch × suppression,
//     rounded to one decimal.
//   - Factor points: sequential attribution. Exploitation is credited 100×L;
//     each multiplier, applied in that order, is debited what it removes
//     (running × (m − 1), ≤ 0). The points therefore sum to the score, and a
//     multiplier of 1 has 0 points.
//   - Evidence points within exploitation split its points by each signal's
//     share of −ln(1 − L) = Σ −ln(1 − p_i), the additive form of the noisy-OR.
//   - Tier by score thresholds, then raised to the escalation floors (a live
//     tied detection; KEV + internet-facing; exploited — KEV or an Intel
//     adversary — on a DC or Critical asset, or with total impact on a High
//     asset; KEV; an Intel adversary). A COMPENSATING_CONTROL lowers every
//     floor but the detection one (demotion.compensating_control_floor). A
//     stale host then loses tiers (demotion.stale_host) unless a live
//     detection is tied to the finding. The BOD 26-04 tier, when
//     bod_floor is set, is applied last and never lowered. Spotlight
//     ACCEPT_RISK / FALSE_POSITIVE suppression forces P4 and marks the
//     assessment Suppressed; the score is kept because the risk remains.
//   - Due = clock start + SLA days of the tier. The clock starts at the latest
//     of: the finding's creation, the KEV date added, the earliest live tied
//     alert — urgency is counted from when its reason became known.
//   - Closed findings (status "closed") are not scored: Assess and Score mark
//     them NotScored = "closed" and leave every number zero. Callers normally
//     filter them out before.

// Reasons an input is not scored.
const (
	NotScoredClosed    = "closed"
	NotScoredNoFinding = "no finding"
)

// Engine scores findings under one validated policy. It is immutable and safe
// for concurrent use.
type Engine struct {
	p           Policy
	fingerprint string
	sla         [5]int     // by Tier.Rank()
	esc         [nEsc]Tier // each floor rule's tier by escKind ("" disabled); escBOD unused
}

// NewEngine validates p and returns an engine; nil means DefaultPolicy.
func NewEngine(p *Policy) (*Engine, error) {
	if p == nil {
		p = DefaultPolicy()
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{p: *p, fingerprint: p.Fingerprint()}
	e.sla = [5]int{0, p.Tiers.P1.SLADays, p.Tiers.P2.SLADays, p.Tiers.P3.SLADays, p.Tiers.P4.SLADays}
	for k, v := range map[escKind]string{
		escDetection:     p.Escalation.ActiveDetection,
		escKEVInternet:   p.Escalation.KEVInternetExposed,
		escCriticalAsset: p.Escalation.ExploitedCriticalAsset,
		escHighAsset:     p.Escalation.ExploitedHighAsset,
		escKEV:           p.Escalation.KEV,
		escActor:         p.Escalation.IntelActor,
	} {
		e.esc[k], _ = parseTierSetting(v)
	}
	return e, nil
}

// Policy returns a copy of the engine's policy.
func (e *Engine) Policy() Policy { return e.p }

// PolicyFingerprint identifies the policy the engine scores with.
func (e *Engine) PolicyFingerprint() string { return e.fingerprint }

// Quick is the fast-path verdict: the numbers of an Assessment without the
// evidence. Score and Assess always agree on these fields.
type Quick struct {
	Score      float64   `json:"score"`
	Tier       Tier      `json:"tier"`
	SLADays    int       `json:"sla_days"`
	Due        time.Time `json:"due"`
	Overdue    bool      `json:"overdue"`
	Likelihood float64   `json:"likelihood"`
	Confidence float64   `json:"confidence"`
	Suppressed bool      `json:"suppressed,omitempty"`
	NotScored  string    `json:"not_scored,omitempty"`
}

// Score is the allocation-free fast path of Assess.
func (e *Engine) Score(in *Input) Quick {
	var r result
	e.eval(in, &r)
	return Quick{
		Score: r.score, Tier: r.tier, SLADays: r.sla, Due: r.due, Overdue: r.overdue,
		Likelihood: r.likelihood, Confidence: r.conf, Suppressed: r.suppressed, NotScored: r.notScored,
	}
}

type sigKind uint8

const (
	sigKEV          sigKind = iota // KEV catalog entry
	sigKEVFlag                     // Spotlight cve.is_cisa_kev without a catalog entry
	sigAlertCVE                    // live alert naming the CVE
	sigAlertProduct                // live alert involving the product
	sigExploit                     // Spotlight exploit_status
	sigExPRT                       // Spotlight exprt_rating
	sigActors                      // Intel / Spotlight actors
	sigReports                     // Intel reports without actors
	sigEPSS                        // FIRST EPSS
	sigPrior                       // exploitation model, EPSS unknown
	sigCVSS                        // CVSS floor
	maxSigs
)

type sig struct {
	kind sigKind
	p    float64
}

// Multiplier factors, in attribution order.
const (
	mCriticality = iota
	mRole
	mExposure
	mPatch
	mSuppression
	nMult
)

type class uint8

// criticality classes
const (
	critCritical class = iota
	critHigh
	critNoncritical
	critUnassigned
)

// role classes
const (
	roleDC class = iota
	roleServer
	roleWorkstation
	roleUnknown
)

// exposure classes
const (
	expoInternet class = iota
	expoInternal
	expoUnknown
)

// suppression classes
const (
	suppNone class = iota
	suppCompensating
	suppAccepted // ACCEPT_RISK or FALSE_POSITIVE: out of the plan
	suppOther    // a reason vulnpilot does not recognise: not honoured
)

type escKind uint8

// Escalation rules, in the order they are applied; the first rule reaching
// the highest floor is the one that raised the tier.
const (
	escNone escKind = iota
	escDetection
	escKEVInternet
	escCriticalAsset
	escHighAsset
	escKEV
	escActor
	escBOD
	nEsc
)

// clock start reasons
const (
	startCreated uint8 = iota
	startKEV
	startAlert
	startNow
)

// confidence penalty bits
const (
	penEPSS uint8 = 1 << iota
	penCriticality
	penExposure
	penStale
	penUnmanaged
	penPotential
)

// result is everything the engine computes; Score copies the numbers and
// Assess turns the rest into factors and evidence, so both share one path.
type result struct {
	notScored string

	sigs [maxSigs]sig
	n    int

	epssKnown  bool
	inKEV      bool
	actors     bool // an adversary is tied to the CVE (Intel or Spotlight cve.actors)
	exploit    int
	cveAlert   int // index in Input.Alerts of the most severe live CVE-matched alert, -1 none
	prodAlert  int // likewise for product-matched
	firstAlert int // earliest live tied alert, -1 none
	liveAlerts int

	rawL       float64
	likelihood float64

	crit, role, expo, supp class
	patched                bool
	m                      [nMult]float64
	raw, score             float64

	scoreTier  Tier
	tier       Tier
	raisedBy   escKind    // the floor rule that raised the tier above scoreTier, escNone if none
	escs       [nEsc]bool // by escKind: which rules apply
	escTo      [nEsc]Tier // by escKind: the floor each applying rule sets, after any lowering
	escLowered [nEsc]bool // by escKind: a compensating control lowered the floor
	floorTier  Tier       // the tier after the escalation floors
	stale      bool       // host not seen for stale_host_days, or the finding expired
	spared     bool       // stale, but a live detection keeps the tier
	demoted    bool       // the stale-host demotion lowered the tier (from floorTier)
	bodFrom    Tier       // the tier before bod_floor raised it; "" when it did not
	suppressed bool

	sla        int
	start      time.Time
	startWhy   uint8
	due        time.Time
	overdue    bool
	lastSeen   time.Time
	conf       float64
	pen        uint8
	automatab  bool
	total      bool
	vecKnown   bool
	bodTL      string
	bodRow     int
	bodTier    Tier
	bodErr     bool
	exposedYes bool
}

func (e *Engine) eval(in *Input, r *result) {
	r.cveAlert, r.prodAlert, r.firstAlert = -1, -1, -1
	if in == nil || in.Finding == nil {
		r.notScored = NotScoredNoFinding
		return
	}
	f := in.Finding
	if strings.EqualFold(f.Status, "closed") {
		r.notScored = NotScoredClosed
		return
	}
	w := &e.p.Likelihood
	r.automatab, r.total, r.vecKnown = vectorFacts(f.CVEInfo.Vector)
	add := func(k sigKind, p float64) {
		if p > 0 {
			r.sigs[r.n] = sig{k, p}
			r.n++
		}
	}

	// Exploitation signals.
	switch {
	case in.KEV != nil:
		r.inKEV = true
		if in.KEV.Ransomware {
			add(sigKEV, w.KEVRansomware)
		} else {
			add(sigKEV, w.KEV)
		}
	case f.CVEInfo.IsCISAKEV:
		r.inKEV = true
		add(sigKEVFlag, w.KEV)
	}
	var firstAt time.Time
	for i := range in.Alerts {
		a := &in.Alerts[i]
		if strings.EqualFold(a.Status, "closed") {
			continue
		}
		r.liveAlerts++
		if r.firstAlert < 0 || a.Created.Before(firstAt) {
			r.firstAlert, firstAt = i, a.Created
		}
		if strings.EqualFold(a.Match, "cve") {
			if r.cveAlert < 0 || a.Severity > in.Alerts[r.cveAlert].Severity {
				r.cveAlert = i
			}
		} else if r.prodAlert < 0 || a.Severity > in.Alerts[r.prodAlert].Severity {
			r.prodAlert = i
		}
	}
	if r.cveAlert >= 0 {
		add(sigAlertCVE, w.AlertCVE)
	}
	if r.prodAlert >= 0 {
		add(sigAlertProduct, w.AlertProduct)
	}
	r.exploit = f.CVEInfo.ExploitStatus
	switch {
	case r.exploit >= 90:
		add(sigExploit, w.ExploitStatus.ActivelyUsed)
	case r.exploit >= 60:
		add(sigExploit, w.ExploitStatus.EasilyAccessible)
	case r.exploit >= 30:
		add(sigExploit, w.ExploitStatus.Available)
	}
	switch rt := f.CVEInfo.ExprtRating; {
	case strings.EqualFold(rt, "CRITICAL"):
		add(sigExPRT, w.ExPRT.Critical)
	case strings.EqualFold(rt, "HIGH"):
		add(sigExPRT, w.ExPRT.High)
	case strings.EqualFold(rt, "MEDIUM"):
		add(sigExPRT, w.ExPRT.Medium)
	case strings.EqualFold(rt, "LOW"):
		add(sigExPRT, w.ExPRT.Low)
	}
	switch {
	case len(f.CVEInfo.Actors) > 0 || (in.Intel != nil && len(in.Intel.Actors) > 0):
		r.actors = true
		add(sigActors, w.IntelActors)
	case in.Intel != nil && len(in.Intel.Reports) > 0:
		add(sigReports, w.IntelReports)
	}
	switch {
	case in.EPSS != nil:
		r.epssKnown = true
		add(sigEPSS, clamp01(in.EPSS.Score)*w.EPSS)
	case in.Prior != nil:
		add(sigPrior, clamp01(in.Prior.Probability)*w.Prior)
	}
	if bs := f.CVEInfo.BaseScore; bs > 0 {
		fw := w.CVSSFloor
		if r.automatab {
			fw = w.CVSSFloorAutomatable
		}
		add(sigCVSS, clamp01(bs/10)*fw)
	}
	q := 1.0
	for i := 0; i < r.n; i++ {
		q *= 1 - r.sigs[i].p
	}
	r.rawL = 1 - q
	r.likelihood = round(r.rawL, 3)

	// Multipliers.
	h := &f.Host
	switch c := h.AssetCriticality; {
	case strings.EqualFold(c, "Critical"):
		r.crit, r.m[mCriticality] = critCritical, e.p.Criticality.Critical
	case strings.EqualFold(c, "High"):
		r.crit, r.m[mCriticality] = critHigh, e.p.Criticality.High
	case strings.EqualFold(c, "Noncritical"), strings.EqualFold(c, "Non-critical"):
		r.crit, r.m[mCriticality] = critNoncritical, e.p.Criticality.Noncritical
	default:
		r.crit, r.m[mCriticality] = critUnassigned, e.p.Criticality.Unassigned
	}
	switch ptd := productType(in); {
	case strings.EqualFold(ptd, "Domain Controller"):
		r.role, r.m[mRole] = roleDC, e.p.Role.DomainController
	case strings.EqualFold(ptd, "Server"):
		r.role, r.m[mRole] = roleServer, e.p.Role.Server
	case strings.EqualFold(ptd, "Workstation"):
		r.role, r.m[mRole] = roleWorkstation, e.p.Role.Workstation
	default:
		r.role, r.m[mRole] = roleUnknown, e.p.Role.Unknown
	}
	switch x := h.InternetExposure; {
	case strings.EqualFold(x, "Yes"):
		r.expo, r.m[mExposure], r.exposedYes = expoInternet, e.p.Exposure.Internet, true
	case strings.EqualFold(x, "No"):
		r.expo, r.m[mExposure] = expoInternal, e.p.Exposure.Internal
	default:
		r.expo, r.m[mExposure] = expoUnknown, e.p.Exposure.Unknown
	}
	r.patched = len(f.RemediationIDs) > 0 || len(f.Remediations) > 0
	if r.patched {
		r.m[mPatch] = e.p.Patch.Available
	} else {
		r.m[mPatch] = e.p.Patch.Unavailable
	}
	r.m[mSuppression] = 1
	if f.Suppression.Suppressed {
		switch rs := f.Suppression.Reason; {
		case strings.EqualFold(rs, "COMPENSATING_CONTROL"):
			r.supp, r.m[mSuppression] = suppCompensating, e.p.Suppression.CompensatingControl
		case strings.EqualFold(rs, "ACCEPT_RISK"), strings.EqualFold(rs, "FALSE_POSITIVE"):
			r.supp, r.suppressed = suppAccepted, true
		default:
			r.supp = suppOther
		}
	}
	r.raw = 100 * r.rawL
	for _, m := range r.m {
		r.raw *= m
	}
	r.score = round(r.raw, 1)

	// The BOD 26-04 timeline (a cheap table look-up).
	tl, row, err := ssvc.BOD2604(r.inKEV, r.exposedYes, yesNo(r.automatab), impact(r.total))
	if err != nil {
		r.bodErr = true
	} else {
		r.bodTL, r.bodRow, r.bodTier = tl, row, bodTier(tl)
	}

	// Tier.
	t := &e.p.Tiers
	switch {
	case r.score >= t.P1.MinScore:
		r.scoreTier = P1
	case r.score >= t.P2.MinScore:
		r.scoreTier = P2
	case r.score >= t.P3.MinScore:
		r.scoreTier = P3
	default:
		r.scoreTier = P4
	}
	r.tier = r.scoreTier

	// Escalation floors. A compensating control lowers every floor but the
	// live-detection one: a detection shows the control did not stop it.
	ccSteps := 0
	if r.supp == suppCompensating {
		ccSteps = e.p.Demotion.CompensatingControlFloor
	}
	floor := func(k escKind, lowerable bool) {
		to := e.esc[k]
		if to == "" {
			return
		}
		if lowerable && ccSteps > 0 {
			if low := lowerTier(to, ccSteps); low != to {
				to, r.escLowered[k] = low, true
			}
		}
		r.escs[k], r.escTo[k] = true, to
		if to.Rank() < r.tier.Rank() {
			r.tier, r.raisedBy = to, k
		}
	}
	exploited := r.inKEV || r.actors
	if r.liveAlerts > 0 {
		floor(escDetection, false)
	}
	if r.inKEV && r.exposedYes {
		floor(escKEVInternet, true)
	}
	if exploited && (r.role == roleDC || r.crit == critCritical) {
		floor(escCriticalAsset, true)
	}
	if exploited && r.crit == critHigh && r.total {
		floor(escHighAsset, true)
	}
	if r.inKEV {
		floor(escKEV, true)
	}
	if r.actors {
		floor(escActor, true)
	}
	r.floorTier = r.tier

	// Staleness: the host has not reported for stale_host_days (or Spotlight
	// expired the finding). It also lowers confidence, below.
	r.lastSeen = h.LastSeen
	if in.Host != nil && !in.Host.LastSeen.IsZero() {
		r.lastSeen = in.Host.LastSeen
	}
	r.stale = strings.EqualFold(f.Status, "expired")
	if !r.lastSeen.IsZero() && !in.Now.IsZero() &&
		in.Now.Sub(r.lastSeen) > time.Duration(e.p.Confidence.StaleHostDays)*24*time.Hour {
		r.stale = true
	}
	if r.stale && e.p.Demotion.StaleHost > 0 {
		if r.liveAlerts > 0 {
			r.spared = true
		} else if low := lowerTier(r.tier, e.p.Demotion.StaleHost); low != r.tier {
			r.tier, r.demoted = low, true
		}
	}

	// The BOD 26-04 floor is a directive's deadline: applied last, never
	// lowered by a control or staleness.
	if e.p.Escalation.BODFloor && r.bodTier != "" {
		r.escs[escBOD], r.escTo[escBOD] = true, r.bodTier
		if r.bodTier.Rank() < r.tier.Rank() {
			r.bodFrom, r.tier = r.tier, r.bodTier
		}
	}
	if r.suppressed {
		r.tier = P4
	}
	r.sla = e.sla[r.tier.Rank()]

	// SLA clock.
	r.start, r.startWhy = f.Created, startCreated
	if in.KEV != nil && in.KEV.DateAdded.After(r.start) {
		r.start, r.startWhy = in.KEV.DateAdded, startKEV
	}
	if r.firstAlert >= 0 && firstAt.After(r.start) {
		r.start, r.startWhy = firstAt, startAlert
	}
	if r.start.IsZero() {
		r.start, r.startWhy = in.Now, startNow
	}
	r.due = r.start.AddDate(0, 0, r.sla)
	r.overdue = !in.Now.IsZero() && r.due.Before(in.Now)

	// Confidence.
	cp := &e.p.Confidence.Penalties
	conf := 1.0
	pen := func(bit uint8, v float64) { r.pen |= bit; conf -= v }
	if !r.epssKnown {
		pen(penEPSS, cp.EPSSUnknown)
	}
	if r.crit == critUnassigned {
		pen(penCriticality, cp.CriticalityUnassigned)
	}
	if r.expo == expoUnknown {
		pen(penExposure, cp.ExposureUnknown)
	}
	if r.stale {
		pen(penStale, cp.StaleHost)
	}
	if in.Host == nil && strings.TrimSpace(h.ManagedBy) == "" {
		pen(penUnmanaged, cp.Unmanaged)
	}
	if strings.EqualFold(f.Confidence, "potential") {
		pen(penPotential, cp.Potential)
	}
	r.conf = round(max(conf, 0), 2)
}

// productType prefers the finding's host facet, then the Hosts API record.
func productType(in *Input) string {
	if s := in.Finding.Host.ProductTypeDesc; s != "" {
		return s
	}
	if in.Host != nil {
		return in.Host.ProductTypeDesc
	}
	return ""
}

// lowerTier moves t n tiers towards P4, never past it.
func lowerTier(t Tier, n int) Tier {
	switch min(t.Rank()+n, 4) {
	case 1:
		return P1
	case 2:
		return P2
	case 3:
		return P3
	}
	return P4
}

func bodTier(timeline string) Tier {
	switch timeline {
	case ssvc.Timeline3DaysForensic, ssvc.Timeline3Days:
		return P1
	case ssvc.Timeline14Days:
		return P2
	case ssvc.Timeline60Days:
		return P3
	case ssvc.TimelineUpgrade:
		return P4
	}
	return ""
}

func yesNo(b bool) string {
	if b {
		return ssvc.Yes
	}
	return ssvc.No
}

func impact(total bool) string {
	if total {
		return ssvc.TechnicalImpactTotal
	}
	return ssvc.TechnicalImpactPartial
}

func clamp01(v float64) float64 {
	switch {
	case !(v >= 0): // also NaN
		return 0
	case v > 1:
		return 1
	}
	return v
}

func round(v float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(v*p) / p
}

func (e *Engine) label(c float64) string {
	switch {
	case c >= e.p.Confidence.Labels.High:
		return "high"
	case c >= e.p.Confidence.Labels.Medium:
		return "medium"
	}
	return "low"
}

// tierMin is the policy key and threshold that put a score in its tier.
func (e *Engine) tierMin(t Tier) (string, float64) {
	switch t {
	case P1:
		return "tiers.p1.min_score", e.p.Tiers.P1.MinScore
	case P2:
		return "tiers.p2.min_score", e.p.Tiers.P2.MinScore
	case P3:
		return "tiers.p3.min_score", e.p.Tiers.P3.MinScore
	}
	return "tiers.p3.min_score", e.p.Tiers.P3.MinScore
}

func slaKey(t Tier) string { return fmt.Sprintf("tiers.%s.sla_days", strings.ToLower(string(t))) }
