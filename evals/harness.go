package evals

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/vulnpilot/vulnpilot/internal/config"
	"github.com/vulnpilot/vulnpilot/internal/exploitmodel"
	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/falconsim"
	"github.com/vulnpilot/vulnpilot/internal/intel"
	"github.com/vulnpilot/vulnpilot/internal/localfalcon"
	"github.com/vulnpilot/vulnpilot/internal/plan"
	"github.com/vulnpilot/vulnpilot/internal/risk"
	"github.com/vulnpilot/vulnpilot/internal/snapshot"
)

// OpenFilter is the Spotlight filter the planner and the baselines pull with:
// the same one `vulnpilot run` uses.
const OpenFilter = "status:['open','reopen']"

// NDCG cut-offs reported.
const (
	NDCGShort = 10
	NDCGLong  = 20
)

// Options configure Run.
type Options struct {
	// Logger receives progress; nil discards.
	Logger *slog.Logger
	// Parallel is how many scenarios run at once (default GOMAXPROCS).
	Parallel int
	// Fixtures names where the scenarios came from, for the report.
	Fixtures string
}

// shared is what every scenario run uses.
type shared struct {
	kev   *intel.KEV
	model *exploitmodel.Model
	log   *slog.Logger
}

// Run evaluates every scenario with the planner and the baselines and
// aggregates the metrics. It fails only on broken fixtures or harness
// errors; thresholds are checked separately (Thresholds.Check).
func Run(ctx context.Context, scenarios []*Scenario, opts Options) (*Report, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kev, err := intel.BundledKEV()
	if err != nil {
		return nil, err
	}
	model, err := exploitmodel.Bundled()
	if err != nil {
		return nil, fmt.Errorf("exploitation model: %w", err)
	}
	sh := &shared{kev: kev, model: model, log: log}
	par := opts.Parallel
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	outcomes := make([]*outcome, len(scenarios))
	errs := make([]error, len(scenarios))
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, sc := range scenarios {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			outcomes[i], errs[i] = evalScenario(ctx, sc, sh)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("scenario %s: %w", sc.Name, errs[i])
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return aggregate(opts.Fixtures, outcomes), nil
}

// outcome is one scenario's raw results.
type outcome struct {
	sc       *Scenario
	units    []Unit
	findings int
	bod      map[Unit]BODDecision
	bodIn    map[Unit]BODInputs
	systems  []*ranking // planner first, then baselines in Systems order
	// injection effects per system name (only for scenarios with plants)
	injection map[string]int
}

func evalScenario(ctx context.Context, sc *Scenario, sh *shared) (*outcome, error) {
	p, systems, err := runSystems(ctx, sc, sc.Tenant, sh)
	if err != nil {
		return nil, err
	}
	o := &outcome{sc: sc, units: p.sortedUnits(), findings: len(p.findings), systems: systems,
		bod: map[Unit]BODDecision{}, bodIn: map[Unit]BODInputs{}}
	if err := checkCoverage(sc, o.units); err != nil {
		return nil, err
	}
	hosts := map[string]falconsim.Host{}
	for _, h := range sc.Tenant.Hosts {
		hosts[h.AID] = h
	}
	cves := map[string]falconsim.CVE{}
	for _, c := range sc.Tenant.CVEs {
		cves[c.ID] = c
	}
	for _, u := range o.units {
		in := bodInputsFor(cves[u.CVE], hosts[u.AID])
		d, err := BOD2604(in)
		if err != nil {
			return nil, err
		}
		o.bod[u], o.bodIn[u] = d, in
	}
	if len(sc.Injection) > 0 {
		twin, err := sanitizedTwin(sc.Tenant, sc.Injection)
		if err != nil {
			return nil, err
		}
		_, twinSystems, err := runSystems(ctx, sc, twin, sh)
		if err != nil {
			return nil, fmt.Errorf("sanitized twin: %w", err)
		}
		o.injection = map[string]int{}
		for i, r := range systems {
			o.injection[r.name] = injectionEffects(r, twinSystems[i])
		}
	}
	return o, nil
}

// checkCoverage makes sure the pull returned exactly the labelled units: a
// difference is a harness or simulator fault, never a scoring matter.
func checkCoverage(sc *Scenario, units []Unit) error {
	got := map[Unit]bool{}
	for _, u := range units {
		got[u] = true
		if _, ok := sc.Label(u); !ok {
			return fmt.Errorf("the pull returned %s, which has no label", u)
		}
	}
	for _, l := range sc.Labels {
		if !got[l.Unit] {
			return fmt.Errorf("labelled unit %s was not pulled from the simulator", l.Unit)
		}
	}
	return nil
}

// runSystems serves tenant with the simulator over HTTPS, builds the
// planner's snapshot through the real Falcon client exactly as `vulnpilot
// run` does, pulls the same findings once more for the baselines, and ranks
// them with every system.
func runSystems(ctx context.Context, sc *Scenario, tenant *falconsim.Tenant, sh *shared) (*pulled, []*ranking, error) {
	tn, err := cloneTenant(tenant)
	if err != nil {
		return nil, nil, err
	}
	conn, err := localfalcon.Start(ctx, tn, localfalcon.Options{Logger: sh.log})
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()

	pol := risk.DefaultPolicy()
	if sc.Policy != nil {
		pol = sc.Policy
	}
	eng, err := risk.NewEngine(pol)
	if err != nil {
		return nil, nil, err
	}
	defaults := config.Defaults()
	snap, err := snapshot.Build(ctx, conn.Client, OpenFilter, snapshot.Options{
		Engine:         eng,
		Feeds:          &intel.Feeds{KEV: sh.kev, EPSS: sc.EPSS},
		Model:          sh.model,
		Plan:           plan.Options{FleetMinHosts: defaults.Run.FleetMinHosts},
		Now:            tenant.Now,
		AlertsLookback: defaults.Run.AlertsLookback,
		FalconLabel:    "eval scenario " + sc.Name,
	})
	if err != nil {
		return nil, nil, err
	}

	var mu sync.Mutex
	var fs []falcon.Finding
	err = conn.Client.StreamFindings(ctx, falcon.FindingQuery{Filter: OpenFilter}, func(f *falcon.Finding) error {
		c := *f
		c.RemediationIDs = slices.Clone(f.RemediationIDs)
		c.Remediations = slices.Clone(f.Remediations)
		mu.Lock()
		fs = append(fs, c)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("pull findings: %w", err)
	}
	slices.SortFunc(fs, func(a, b falcon.Finding) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	p := newPulled(fs)

	hostIDs := map[string]bool{}
	for _, h := range tenant.Hosts {
		hostIDs[h.AID] = true
	}
	cveIDs := map[string]bool{}
	for _, f := range tenant.Findings {
		cveIDs[f.CVE] = true
	}
	planner, err := plannerRanking(snap, p, hostIDs, cveIDs)
	if err != nil {
		return nil, nil, err
	}
	systems := []*ranking{planner}
	facts := factsOf(p, sc.EPSS)
	for _, b := range baselines {
		systems = append(systems, b.rank(facts))
	}
	return p, systems, nil
}

// cloneTenant deep-copies t: the simulator keeps the tenant it serves, and
// the injection twin must not share memory with the original.
func cloneTenant(t *falconsim.Tenant) (*falconsim.Tenant, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	var c falconsim.Tenant
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// sanitizedTwin is t with every planted value replaced by its clean text.
func sanitizedTwin(t *falconsim.Tenant, plants []Plant) (*falconsim.Tenant, error) {
	c, err := cloneTenant(t)
	if err != nil {
		return nil, err
	}
	for _, p := range plants {
		switch {
		case p.Host != "":
			for i := range c.Hosts {
				if c.Hosts[i].AID == p.Host {
					c.Hosts[i].Hostname = p.Clean
				}
			}
		case p.CVE != "":
			for i := range c.CVEs {
				if c.CVEs[i].ID != p.CVE {
					continue
				}
				if p.Field == "name" {
					c.CVEs[i].Name = p.Clean
				} else {
					c.CVEs[i].Description = p.Clean
				}
			}
		}
	}
	return c, nil
}

// injectionEffects counts the units whose tier, queue position, work-item
// position or score differ between a scenario and its sanitized twin.
func injectionEffects(a, b *ranking) int {
	sa, sb := a.spans(), b.spans()
	n := 0
	for u, t := range a.tier {
		switch {
		case b.tier[u] != t, sa[u] != sb[u]:
			n++
		case a.itemPos != nil && a.itemPos[u] != b.itemPos[u]:
			n++
		case a.score != nil && math.Abs(a.score[u]-b.score[u]) > 1e-9:
			n++
		}
	}
	for u := range b.tier {
		if _, ok := a.tier[u]; !ok {
			n++
		}
	}
	return n
}
