package evals

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vulnpilot/vulnpilot/internal/cvedata"
	"github.com/vulnpilot/vulnpilot/internal/falconsim"
	"github.com/vulnpilot/vulnpilot/internal/intel"
	"github.com/vulnpilot/vulnpilot/internal/risk"
)

// ScenarioFile is the name of a scenario's label file inside its directory.
const ScenarioFile = "scenario.yaml"

// ScenarioVersion is the label-file schema version this package reads.
const ScenarioVersion = 1

// Tier is an expected (or produced) remediation tier, P1 (most urgent) to P4.
type Tier string

// Tiers, most urgent first.
const (
	P1 Tier = "P1"
	P2 Tier = "P2"
	P3 Tier = "P3"
	P4 Tier = "P4"
)

var tierNames = []string{"P1", "P2", "P3", "P4"}

// Rank is 1 for P1 ... 4 for P4, 0 for anything else.
func (t Tier) Rank() int {
	if i := slices.Index(tierNames, string(t)); i >= 0 {
		return i + 1
	}
	return 0
}

// Relevance is the graded relevance NDCG uses: P1 → 3, P2 → 2, P3 → 1,
// P4 → 0.
func (t Tier) Relevance() int {
	if r := t.Rank(); r > 0 {
		return 4 - r
	}
	return 0
}

func tierOfRank(r int) Tier {
	if r < 1 || r > 4 {
		return ""
	}
	return Tier(tierNames[r-1])
}

// Unit is the ranked unit of the harness: one CVE on one host. Findings of
// the same CVE on the same host through different applications are one unit.
type Unit struct {
	AID string `json:"aid"`
	CVE string `json:"cve"`
}

func (u Unit) String() string { return u.CVE + " on " + u.AID }

func unitLess(a, b Unit) bool {
	if a.AID != b.AID {
		return a.AID < b.AID
	}
	return a.CVE < b.CVE
}

// Label is the expected tier of one unit, with the labeller's reason.
type Label struct {
	Unit
	Tier Tier   `json:"tier"`
	Why  string `json:"why"`
}

// Rank constrains where a unit's work must (or must not) appear in a queue.
type Rank struct {
	Unit
	K   int    `json:"k"`
	Why string `json:"why"`
}

// Action kinds an agent may take (expect.actions / expect.refusals).
var actionTypes = []string{"ticket", "exception", "rtr", "containment"}

// ExpectedAction is an action the agent is expected to take on a unit's work
// (a later issue runs the agent; today's fixtures have none).
type ExpectedAction struct {
	Type string `json:"type"`
	Unit
	Why string `json:"why"`
}

// ExpectedRefusal is a request the agent must refuse (same schema growth as
// ExpectedAction).
type ExpectedRefusal struct {
	Type    string `json:"type"`
	Unit    *Unit  `json:"unit,omitempty"`
	Request string `json:"request"`
	Why     string `json:"why"`
}

// Plant is one piece of planted text: the harness builds a sanitized twin of
// the tenant with Clean in place of the planted value.
type Plant struct {
	Host  string `json:"host,omitempty"` // aid, for field hostname
	CVE   string `json:"cve,omitempty"`  // for fields description, name
	Field string `json:"field"`
	Clean string `json:"clean"`
}

// Scenario is one labelled eval case, loaded and validated.
type Scenario struct {
	Name        string
	Dir         string
	Description string
	// Tenant is the simulator dataset, resolved against the bundled CVE
	// records (every finding has its id, every CVE its facet).
	Tenant     *falconsim.Tenant
	TenantFile string
	EPSSFile   string // "" when the scenario has no EPSS file
	PolicyFile string // "" for the default policy
	Policy     *risk.Policy
	EPSS       *intel.EPSS

	Labels    []Label // one per open CVE × host unit, sorted by unit
	TopK      []Rank
	NotTopK   []Rank
	Actions   []ExpectedAction
	Refusals  []ExpectedRefusal
	Injection []Plant
}

// Label returns the label of u.
func (s *Scenario) Label(u Unit) (Label, bool) {
	i, ok := slices.BinarySearchFunc(s.Labels, u, func(l Label, u Unit) int {
		switch {
		case unitLess(l.Unit, u):
			return -1
		case unitLess(u, l.Unit):
			return 1
		}
		return 0
	})
	if !ok {
		return Label{}, false
	}
	return s.Labels[i], true
}

// The on-disk format. Field names are the YAML keys; fileTypeContext names
// each struct in errors.
type scenarioDoc struct {
	Version     int        `yaml:"version"`
	Description string     `yaml:"description"`
	Tenant      string     `yaml:"tenant"`
	EPSS        string     `yaml:"epss"`
	Policy      string     `yaml:"policy"`
	Expect      *expectDoc `yaml:"expect"`
	Injection   []plantDoc `yaml:"injection"`
}

type expectDoc struct {
	Tiers    []tierDoc    `yaml:"tiers"`
	TopK     []rankDoc    `yaml:"top_k"`
	NotTopK  []rankDoc    `yaml:"not_top_k"`
	Actions  []actionDoc  `yaml:"actions"`
	Refusals []refusalDoc `yaml:"refusals"`
}

type tierDoc struct {
	Host  string   `yaml:"host"`
	Hosts []string `yaml:"hosts"`
	CVE   string   `yaml:"cve"`
	Tier  string   `yaml:"tier"`
	Why   string   `yaml:"why"`
}

type rankDoc struct {
	Host string `yaml:"host"`
	CVE  string `yaml:"cve"`
	K    int    `yaml:"k"`
	Why  string `yaml:"why"`
}

type actionDoc struct {
	Type string `yaml:"type"`
	Host string `yaml:"host"`
	CVE  string `yaml:"cve"`
	Why  string `yaml:"why"`
}

type refusalDoc struct {
	Type    string `yaml:"type"`
	Host    string `yaml:"host"`
	CVE     string `yaml:"cve"`
	Request string `yaml:"request"`
	Why     string `yaml:"why"`
}

type plantDoc struct {
	Host  string  `yaml:"host"`
	CVE   string  `yaml:"cve"`
	Field string  `yaml:"field"`
	Clean *string `yaml:"clean"`
}

// docContext maps each on-disk struct (of scenario.yaml and thresholds.yaml)
// to where it sits in its file, for "unknown field" errors.
var docContext = map[string]struct {
	where string
	t     reflect.Type
}{
	"evals.scenarioDoc": {"the top level", reflect.TypeFor[scenarioDoc]()},
	"evals.expectDoc":   {"expect", reflect.TypeFor[expectDoc]()},
	"evals.tierDoc":     {"expect.tiers[]", reflect.TypeFor[tierDoc]()},
	"evals.rankDoc":     {"expect.top_k[] / expect.not_top_k[]", reflect.TypeFor[rankDoc]()},
	"evals.actionDoc":   {"expect.actions[]", reflect.TypeFor[actionDoc]()},
	"evals.refusalDoc":  {"expect.refusals[]", reflect.TypeFor[refusalDoc]()},
	"evals.plantDoc":    {"injection[]", reflect.TypeFor[plantDoc]()},
	// thresholds.yaml
	"evals.Thresholds":   {"the thresholds file", reflect.TypeFor[Thresholds]()},
	"evals.KnownFailure": {"known_failures[]", reflect.TypeFor[KnownFailure]()},
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		k, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if k != "" && k != "-" {
			keys = append(keys, k)
		}
	}
	return keys
}

var (
	unknownFieldRE = regexp.MustCompile(`line (\d+): field (\S+) not found in type (\S+)`)
	yamlTypeRE     = regexp.MustCompile(`line (\d+): cannot unmarshal !!(\w+) (.*) into (\S+)`)
)

// explainYAML rewrites yaml.v3's type-level messages into ones that name the
// place in the file and what is allowed there.
func explainYAML(err error) []string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var out []string
	for _, e := range te.Errors {
		if m := unknownFieldRE.FindStringSubmatch(e); m != nil {
			if c, ok := docContext[m[3]]; ok {
				out = append(out, fmt.Sprintf("line %s: unknown field %q in %s (allowed: %s)", m[1], m[2], c.where, strings.Join(yamlKeys(c.t), ", ")))
				continue
			}
		}
		if m := yamlTypeRE.FindStringSubmatch(e); m != nil {
			out = append(out, fmt.Sprintf("line %s: %s %s has the wrong type (want %s)", m[1], m[2], m[3], friendlyType(m[4])))
			continue
		}
		out = append(out, e)
	}
	return out
}

func friendlyType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case goType == "string":
		return "a string"
	case goType == "int":
		return "an integer"
	case strings.HasPrefix(goType, "evals.") || strings.HasPrefix(goType, "*evals."):
		return "a mapping"
	}
	return goType
}

// problems collects validation errors, each already prefixed with its path.
type problems struct {
	file string
	list []string
}

func (p *problems) add(format string, args ...any) {
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &FixtureError{File: p.file, Problems: p.list}
}

// FixtureError is a bad scenario: every problem found, each naming the field.
type FixtureError struct {
	File     string
	Problems []string
}

func (e *FixtureError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.File)
		b.WriteString(": ")
		b.WriteString(p)
	}
	return b.String()
}

// LoadScenarios loads every scenario under dir: each subdirectory holding a
// scenario.yaml, in name order. It fails on the first bad scenario with an
// error naming the file and the field.
func LoadScenarios(ctx context.Context, dir string) ([]*Scenario, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("fixtures: %w", err)
	}
	db, err := cvedata.Load()
	if err != nil {
		return nil, err
	}
	var out []*Scenario
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sd := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(sd, ScenarioFile)); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		sc, err := LoadScenario(ctx, sd, db)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("fixtures: no scenario in %s (want subdirectories with a %s)", dir, ScenarioFile)
	}
	return out, nil
}

// LoadScenario loads and validates the scenario in dir against the bundled
// CVE records db (used to resolve the tenant).
func LoadScenario(ctx context.Context, dir string, db *cvedata.DB) (*Scenario, error) {
	file := filepath.Join(dir, ScenarioFile)
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var doc scenarioDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FixtureError{File: file, Problems: []string{"empty file (want version, description, expect)"}}
		}
		return nil, &FixtureError{File: file, Problems: explainYAML(err)}
	}
	p := &problems{file: file}
	sc := &Scenario{Name: filepath.Base(dir), Dir: dir, Description: strings.TrimSpace(doc.Description)}
	if doc.Version != ScenarioVersion {
		p.add("version: %d is not supported (want %d)", doc.Version, ScenarioVersion)
	}
	if sc.Description == "" {
		p.add("description: required (what the scenario tests, for the report)")
	}
	if doc.Expect == nil {
		p.add("expect: required (tiers, top_k, not_top_k, actions, refusals)")
		return nil, p.err()
	}

	tenantName := doc.Tenant
	if tenantName == "" {
		tenantName = "tenant.json"
	}
	sc.TenantFile = filepath.Join(dir, tenantName)
	if err := localFile(tenantName); err != nil {
		p.add("tenant: %v", err)
		return nil, p.err()
	}
	tn, err := falconsim.LoadTenant(sc.TenantFile)
	if err != nil {
		return nil, err // names the tenant file and the JSON path
	}
	if err := tn.Resolve(db); err != nil {
		var ve *falconsim.ValidationError
		if errors.As(err, &ve) {
			ve.File = sc.TenantFile
		}
		return nil, err
	}
	sc.Tenant = tn

	if doc.EPSS != "" {
		if err := localFile(doc.EPSS); err != nil {
			p.add("epss: %v", err)
		} else {
			sc.EPSSFile = filepath.Join(dir, doc.EPSS)
			if sc.EPSS, err = intel.LoadEPSS(ctx, sc.EPSSFile); err != nil {
				p.add("epss: %v", err)
			}
		}
	}
	if doc.Policy != "" {
		if err := localFile(doc.Policy); err != nil {
			p.add("policy: %v", err)
		} else {
			sc.PolicyFile = filepath.Join(dir, doc.Policy)
			if sc.Policy, err = risk.LoadPolicy(sc.PolicyFile); err != nil {
				p.add("policy: %v", err)
			}
		}
	}

	idx := indexTenant(tn)
	sc.Labels = validateTiers(p, doc.Expect.Tiers, idx, tenantName)
	labelled := map[Unit]bool{}
	for _, l := range sc.Labels {
		labelled[l.Unit] = true
	}
	sc.TopK = validateRanks(p, "expect.top_k", doc.Expect.TopK, idx, labelled)
	sc.NotTopK = validateRanks(p, "expect.not_top_k", doc.Expect.NotTopK, idx, labelled)
	sc.Actions = validateActions(p, doc.Expect.Actions, idx, labelled)
	sc.Refusals = validateRefusals(p, doc.Expect.Refusals, idx, labelled)
	sc.Injection = validatePlants(p, doc.Injection, tn, db)
	if err := p.err(); err != nil {
		return nil, err
	}
	return sc, nil
}

// localFile keeps fixture references inside the scenario directory.
func localFile(name string) error {
	if filepath.IsAbs(name) || strings.Contains(filepath.ToSlash(name), "..") {
		return fmt.Errorf("%q must be a file name inside the scenario directory", name)
	}
	return nil
}

// tenantIndex answers the validation questions about a resolved tenant.
type tenantIndex struct {
	hosts    map[string]bool
	open     map[Unit][]string // open (open/reopen) findings of each unit
	anyState map[Unit]bool     // units with a finding in any state
	cves     map[string]int    // CVE → index in Tenant.CVEs
}

func isOpen(status string) bool { return status == "open" || status == "reopen" }

func indexTenant(t *falconsim.Tenant) tenantIndex {
	idx := tenantIndex{hosts: map[string]bool{}, open: map[Unit][]string{}, anyState: map[Unit]bool{}, cves: map[string]int{}}
	for _, h := range t.Hosts {
		idx.hosts[h.AID] = true
	}
	for _, f := range t.Findings {
		u := Unit{AID: f.AID, CVE: f.CVE}
		idx.anyState[u] = true
		if isOpen(f.Status) {
			idx.open[u] = append(idx.open[u], f.ID)
		}
	}
	for i, c := range t.CVEs {
		idx.cves[c.ID] = i
	}
	return idx
}

// unitRef checks a host/cve pair: the host exists and the CVE is open on it.
func (idx tenantIndex) unitRef(p *problems, path, host, cve string) (Unit, bool) {
	ok := true
	if host == "" {
		p.add("%s.host: required (a host aid from the tenant)", path)
		ok = false
	} else if !idx.hosts[host] {
		p.add("%s.host: unknown host %q (not an aid in the tenant's hosts[])", path, host)
		ok = false
	}
	if cve == "" {
		p.add("%s.cve: required (a CVE id)", path)
		ok = false
	} else if !cvedata.ValidCVEID(cve) {
		p.add("%s.cve: %q is not a CVE id (CVE-YYYY-NNNN)", path, cve)
		ok = false
	}
	if !ok {
		return Unit{}, false
	}
	u := Unit{AID: host, CVE: cve}
	if len(idx.open[u]) == 0 {
		if idx.anyState[u] {
			p.add("%s: %s has no open finding (closed and expired findings are not ranked)", path, u)
		} else {
			p.add("%s: no finding of %s in the tenant", path, u)
		}
		return Unit{}, false
	}
	return u, true
}

func validateTiers(p *problems, docs []tierDoc, idx tenantIndex, tenantName string) []Label {
	seen := map[Unit]string{}
	var out []Label
	for i, d := range docs {
		path := fmt.Sprintf("expect.tiers[%d]", i)
		var hosts []string
		switch {
		case d.Host != "" && len(d.Hosts) > 0:
			p.add("%s: set host or hosts, not both", path)
			continue
		case d.Host != "":
			hosts = []string{d.Host}
		case len(d.Hosts) > 0:
			hosts = d.Hosts
		default:
			p.add("%s.host: required (or hosts: a list of aids)", path)
			continue
		}
		tier := Tier(d.Tier)
		if tier.Rank() == 0 {
			if d.Tier == "" {
				p.add("%s.tier: required, one of %s", path, strings.Join(tierNames, ", "))
			} else {
				p.add("%s.tier: %q is not one of %s", path, d.Tier, strings.Join(tierNames, ", "))
			}
		}
		why := strings.TrimSpace(d.Why)
		if why == "" {
			p.add("%s.why: required (one line: why a vulnerability manager picks this tier)", path)
		}
		for j, h := range hosts {
			hp := path
			if len(d.Hosts) > 0 {
				hp = fmt.Sprintf("%s.hosts[%d]", path, j)
			}
			u, ok := idx.unitRef(p, hp, h, d.CVE)
			if !ok {
				continue
			}
			if prev, dup := seen[u]; dup {
				p.add("%s: %s is already labelled by %s (one label per CVE × host)", hp, u, prev)
				continue
			}
			seen[u] = hp
			if tier.Rank() > 0 && why != "" {
				out = append(out, Label{Unit: u, Tier: tier, Why: why})
			}
		}
	}
	var missing []Unit
	for u := range idx.open {
		if _, ok := seen[u]; !ok {
			missing = append(missing, u)
		}
	}
	sort.Slice(missing, func(i, j int) bool { return unitLess(missing[i], missing[j]) })
	for i, u := range missing {
		if i == 10 {
			p.add("expect.tiers: ... and %d more unlabelled units", len(missing)-10)
			break
		}
		p.add("expect.tiers: %s is open in %s but has no label (every open CVE × host needs one)", u, tenantName)
	}
	sort.Slice(out, func(i, j int) bool { return unitLess(out[i].Unit, out[j].Unit) })
	return out
}

func validateRanks(p *problems, key string, docs []rankDoc, idx tenantIndex, labelled map[Unit]bool) []Rank {
	var out []Rank
	seen := map[Unit]int{}
	for i, d := range docs {
		path := fmt.Sprintf("%s[%d]", key, i)
		u, ok := idx.unitRef(p, path, d.Host, d.CVE)
		if d.K < 1 {
			p.add("%s.k: %d must be at least 1 (a queue position)", path, d.K)
			ok = false
		}
		if strings.TrimSpace(d.Why) == "" {
			p.add("%s.why: required", path)
			ok = false
		}
		if !ok {
			continue
		}
		if j, dup := seen[u]; dup {
			p.add("%s: %s already has a constraint in %s[%d]", path, u, key, j)
			continue
		}
		seen[u] = i
		if !labelled[u] {
			continue // reported by validateTiers
		}
		out = append(out, Rank{Unit: u, K: d.K, Why: strings.TrimSpace(d.Why)})
	}
	return out
}

func validateActions(p *problems, docs []actionDoc, idx tenantIndex, labelled map[Unit]bool) []ExpectedAction {
	var out []ExpectedAction
	for i, d := range docs {
		path := fmt.Sprintf("expect.actions[%d]", i)
		ok := true
		if !slices.Contains(actionTypes, d.Type) {
			p.add("%s.type: %q is not one of %s", path, d.Type, strings.Join(actionTypes, ", "))
			ok = false
		}
		u, uok := idx.unitRef(p, path, d.Host, d.CVE)
		if strings.TrimSpace(d.Why) == "" {
			p.add("%s.why: required", path)
			ok = false
		}
		if ok && uok && labelled[u] {
			out = append(out, ExpectedAction{Type: d.Type, Unit: u, Why: strings.TrimSpace(d.Why)})
		}
	}
	return out
}

func validateRefusals(p *problems, docs []refusalDoc, idx tenantIndex, labelled map[Unit]bool) []ExpectedRefusal {
	var out []ExpectedRefusal
	for i, d := range docs {
		path := fmt.Sprintf("expect.refusals[%d]", i)
		ok := true
		if !slices.Contains(actionTypes, d.Type) {
			p.add("%s.type: %q is not one of %s", path, d.Type, strings.Join(actionTypes, ", "))
			ok = false
		}
		r := ExpectedRefusal{Type: d.Type, Request: strings.TrimSpace(d.Request), Why: strings.TrimSpace(d.Why)}
		if d.Host != "" || d.CVE != "" {
			u, uok := idx.unitRef(p, path, d.Host, d.CVE)
			ok = ok && uok && labelled[u]
			r.Unit = &u
		}
		if r.Request == "" {
			p.add("%s.request: required (what the agent is asked to do)", path)
			ok = false
		}
		if r.Why == "" {
			p.add("%s.why: required", path)
			ok = false
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// Plantable fields: where planted text can go and how the clean twin gets
// its value.
var (
	hostPlantFields = []string{"hostname"}
	cvePlantFields  = []string{"description", "name"}
)

func validatePlants(p *problems, docs []plantDoc, t *falconsim.Tenant, db *cvedata.DB) []Plant {
	var out []Plant
	for i, d := range docs {
		path := fmt.Sprintf("injection[%d]", i)
		switch {
		case d.Host != "" && d.CVE != "":
			p.add("%s: set host or cve, not both", path)
		case d.Host != "":
			if !slices.Contains(hostPlantFields, d.Field) {
				p.add("%s.field: %q is not a planted host field (one of %s)", path, d.Field, strings.Join(hostPlantFields, ", "))
				continue
			}
			j := slices.IndexFunc(t.Hosts, func(h falconsim.Host) bool { return h.AID == d.Host })
			if j < 0 {
				p.add("%s.host: unknown host %q (not an aid in the tenant's hosts[])", path, d.Host)
				continue
			}
			if d.Clean == nil || strings.TrimSpace(*d.Clean) == "" {
				p.add("%s.clean: required for a hostname (the name without the planted text)", path)
				continue
			}
			if t.Hosts[j].Hostname == *d.Clean {
				p.add("%s.clean: equals the tenant's hostname, so nothing is planted", path)
				continue
			}
			out = append(out, Plant{Host: d.Host, Field: d.Field, Clean: *d.Clean})
		case d.CVE != "":
			if !slices.Contains(cvePlantFields, d.Field) {
				p.add("%s.field: %q is not a planted CVE field (one of %s)", path, d.Field, strings.Join(cvePlantFields, ", "))
				continue
			}
			j := slices.IndexFunc(t.CVEs, func(c falconsim.CVE) bool { return c.ID == d.CVE })
			if j < 0 {
				p.add("%s.cve: %s has no entry in the tenant's cves[] (planted text goes there)", path, d.CVE)
				continue
			}
			clean := ""
			if d.Clean != nil {
				clean = *d.Clean
			} else if rec, ok := db.Get(d.CVE); ok {
				clean = rec.Description
				if d.Field == "name" {
					clean = rec.Title
				}
			} else {
				p.add("%s.clean: required: %s is not in the bundled CVE records to take the clean text from", path, d.CVE)
				continue
			}
			planted := t.CVEs[j].Description
			if d.Field == "name" {
				planted = t.CVEs[j].Name
			}
			if planted == clean {
				p.add("%s: the tenant's %s of %s equals the clean text, so nothing is planted", path, d.Field, d.CVE)
				continue
			}
			out = append(out, Plant{CVE: d.CVE, Field: d.Field, Clean: clean})
		default:
			p.add("%s: host or cve is required (where the text is planted)", path)
		}
	}
	return out
}
