package falconsim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crowdstrike/gofalcon/falcon"
	"github.com/crowdstrike/gofalcon/falcon/client/alerts"
	"github.com/crowdstrike/gofalcon/falcon/client/hosts"
	"github.com/crowdstrike/gofalcon/falcon/client/intel"
	"github.com/crowdstrike/gofalcon/falcon/client/real_time_response"
	"github.com/crowdstrike/gofalcon/falcon/client/spotlight_evaluation_logic"
	"github.com/crowdstrike/gofalcon/falcon/client/spotlight_vulnerabilities"
	"github.com/crowdstrike/gofalcon/falcon/models"
	"github.com/go-openapi/runtime"
	"github.com/go-openapi/strfmt"
)

func TestQueryAndGetVulnerabilitiesAndRemediations(t *testing.T) {
	env := startSim(t, loadFixture(t), Options{})
	ctx := context.Background()
	host := env.ten.Hosts[0]
	want := findingsWhere(env.ten, func(f *Finding) bool { return f.AID == host.AID })

	q, err := env.api.SpotlightVulnerabilities.QueryVulnerabilities(&spotlight_vulnerabilities.QueryVulnerabilitiesParams{
		Context: ctx, Filter: "aid:'" + host.AID + "'", Limit: ptr(int64(400)),
	})
	if err != nil {
		t.Fatal(falcon.ErrorExplain(err))
	}
	if len(q.Payload.Resources) != len(want) || *q.Payload.Meta.Pagination.Total != int64(len(want)) || *q.Payload.Meta.Pagination.After != "" {
		t.Fatalf("query: %d ids, total %d, after %q; want %d", len(q.Payload.Resources), *q.Payload.Meta.Pagination.Total, *q.Payload.Meta.Pagination.After, len(want))
	}
	g, err := env.api.SpotlightVulnerabilities.GetVulnerabilities(&spotlight_vulnerabilities.GetVulnerabilitiesParams{Context: ctx, Ids: q.Payload.Resources})
	if err != nil {
		t.Fatal(falcon.ErrorExplain(err))
	}
	if err := g.Payload.Validate(strfmt.Default); err != nil {
		t.Fatalf("entities response does not validate: %v", err)
	}
	remIDs := map[string]bool{}
	for _, v := range g.Payload.Resources {
		f := want[*v.ID]
		if f == nil || *v.Aid != host.AID || *v.HostInfo.Hostname != host.Hostname || *v.Cve.ID != f.CVE {
			t.Fatalf("unexpected entity %+v", v)
		}
		for _, id := range v.Remediation.Ids {
			remIDs[id] = true
		}
	}
	if len(g.Payload.Resources) != len(want) || len(remIDs) == 0 {
		t.Fatalf("got %d entities (%d remediation ids)", len(g.Payload.Resources), len(remIDs))
	}
	var ids []string
	for id := range remIDs {
		ids = append(ids, id)
	}
	r, err := env.api.SpotlightVulnerabilities.GetRemediationsV2(&spotlight_vulnerabilities.GetRemediationsV2Params{Context: ctx, Ids: ids})
	if err != nil {
		t.Fatal(falcon.ErrorExplain(err))
	}
	if err := r.Payload.Validate(strfmt.Default); err != nil {
		t.Fatalf("remediations response does not validate: %v", err)
	}
	byID := map[string]Remediation{}
	for _, rm := range env.ten.Remediations {
		byID[rm.ID] = rm
	}
	for _, e := range r.Payload.Resources {
		want := byID[*e.ID]
		if *e.Title != want.Title || *e.Action != want.Action || *e.Reference != want.Reference || *e.Type != want.Type {
			t.Fatalf("remediation %s = %+v, want %+v", *e.ID, e, want)
		}
	}
	if len(r.Payload.Resources) != len(ids) {
		t.Fatalf("got %d remediations, want %d", len(r.Payload.Resources), len(ids))
	}

	// Unknown ids are a 404.
	_, err = env.api.SpotlightVulnerabilities.GetVulnerabilities(&spotlight_vulnerabilities.GetVulnerabilitiesParams{Context: ctx, Ids: []string{"nope"}})
	var nf *runtime.APIError
	if !errors.As(err, &nf) || nf.Code != http.StatusNotFound {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestEvaluationLogicEndpoints(t *testing.T) {
	env := startSim(t, loadFixture(t), Options{})
	ctx := context.Background()
	aid := env.ten.Hosts[1].AID
	n := len(findingsWhere(env.ten, func(f *Finding) bool { return f.AID == aid }))
	c, err := env.api.SpotlightEvaluationLogic.CombinedQueryEvaluationLogic(&spotlight_evaluation_logic.CombinedQueryEvaluationLogicParams{Context: ctx, Filter: "aid:'" + aid + "'"})
	if err != nil {
		t.Fatal(falcon.ErrorExplain(err))
	}
	if len(c.Payload.Resources) != n || n == 0 {
		t.Fatalf("combined: %d, want %d", len(c.Payload.Resources), n)
	}
	q, err := env.api.SpotlightEvaluationLogic.QueryEvaluationLogic(&spotlight_evaluation_logic.QueryEvaluationLogicParams{Context: ctx, Filter: "aid:'" + aid + "'"})
	if err != nil {
		t.Fatal(falcon.ErrorExplain(err))
	}
	g, err := env.api.SpotlightEvaluationLogic.GetEvaluationLogic(&spotlight_evaluation_logic.GetEvaluationLogicParams{Context: ctx, Ids: q.Payload.Resources})
	if err != nil {
		t.Fatal(falcon.ErrorExplain(err))
	}
	if len(g.Payload.Resources) != n || *g.Payload.Resources[0].ID != q.Payload.Resources[0] || g.Payload.Resources[0].Aid != aid || len(g.Payload.Resources[0].Logic) != 1 {
		t.Fatalf("entities: %+v", g.Payload.Resources)
	}
}

func TestHostsQueryDetailsAndContainment(t *testing.T) {
	env := startSim(t, loadFixture(t), Options{})
	ctx := context.Background()
	managed := 0
	for _, h := range env.ten.Hosts {
		if h.Managed {
			managed++
		}
	}
	tests := []struct {
		filter string
		want   []string // hostnames
	}{
		{"", nil}, // all managed hosts
		{"platform_name:'Windows'", []string{"WEB-PAY-01", "LAPTOP-ANNA"}},
		{"hostname:'WEB*'", []string{"WEB-PAY-01"}},
		{"tags:'FalconGroupingTags/bu-core'", []string{"db-core-02"}},
		{"last_seen:<'2025-05-25'", []string{"LAPTOP-ANNA"}},
		{"product_type_desc:'Server'+platform_name:!'Windows'", []string{"db-core-02"}},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			p := &hosts.QueryDevicesByFilterParams{Context: ctx, Sort: ptr("hostname.asc")}
			if tc.filter != "" {
				p.Filter = ptr(tc.filter)
			}
			q, err := env.api.Hosts.QueryDevicesByFilter(p)
			if err != nil {
				t.Fatal(falcon.ErrorExplain(err))
			}
			if tc.want == nil {
				if len(q.Payload.Resources) != managed {
					t.Fatalf("got %d hosts, want the %d managed ones", len(q.Payload.Resources), managed)
				}
				return
			}
			d, err := env.api.Hosts.PostDeviceDetailsV2(&hosts.PostDeviceDetailsV2Params{Context: ctx, Body: &models.MsaIdsRequest{Ids: q.Payload.Resources}})
			if err != nil {
				t.Fatal(falcon.ErrorExplain(err))
			}
			var got []string
			for _, dev := range d.Payload.Resources {
				got = append(got, dev.Hostname)
			}
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("hosts = %v, want %v", got, want)
			}
		})
	}

	h := env.ten.Hosts[0]
	details := func() *models.DeviceapiDeviceSwagger {
		t.Helper()
		d, err := env.api.Hosts.PostDeviceDetailsV2(&hosts.PostDeviceDetailsV2Params{Context: ctx, Body: &models.MsaIdsRequest{Ids: []string{h.AID}}})
		if err != nil {
			t.Fatal(falcon.ErrorExplain(err))
		}
		if err := d.Payload.Validate(strfmt.Default); err != nil {
			t.Fatalf("device details do not validate: %v", err)
		}
		return d.Payload.Resources[0]
	}
	dev := details()
	if *dev.DeviceID != h.AID || dev.Hostname != h.Hostname || dev.Status != "normal" || dev.PlatformName != "Windows" ||
		!slices.Equal(dev.Tags, h.Tags) || !slices.Equal(dev.Ou, []string{"Servers", "Payments"}) || dev.ExternalIP != h.ExternalIP {
		t.Fatalf("device = %+v", dev)
	}
	act := func(name string) error {
		_, err := env.api.Hosts.PerformActionV2(&hosts.PerformActionV2Params{Context: ctx, ActionName: name, Body: &models.MsaEntityActionRequestV2{Ids: []string{h.AID}}})
		return err
	}
	if err := act("contain"); err != nil {
		t.Fatal(falcon.ErrorExplain(err))
	}
	for _, want := range []string{"containment_pending", "contained", "contained"} {
		if got := details().Status; got != want {
			t.Fatalf("status = %s, want %s", got, want)
		}
	}
	var conflict *hosts.PerformActionV2Conflict
	if err := act("contain"); !errors.As(err, &conflict) {
		t.Fatalf("containing a contained host: %v", err)
	}
	if err := act("lift_containment"); err != nil {
		t.Fatal(falcon.ErrorExplain(err))
	}
	for _, want := range []string{"lift_containment_pending", "normal"} {
		if got := details().Status; got != want {
			t.Fatalf("status = %s, want %s", got, want)
		}
	}
	os, err := env.api.Hosts.GetOnlineStateV1(&hosts.GetOnlineStateV1Params{Context: ctx, Ids: []string{env.ten.Hosts[0].AID, env.ten.Hosts[2].AID}})
	if err != nil {
		t.Fatal(falcon.ErrorExplain(err))
	}
	states := map[string]string{}
	for _, r := range os.Payload.Resources {
		states[*r.ID] = *r.State
	}
	if states[env.ten.Hosts[0].AID] != "online" || states[env.ten.Hosts[2].AID] != "offline" {
		t.Fatalf("online states = %v", states)
	}
}

func TestAlertsQueryAndGet(t *testing.T) {
	env := startSim(t, loadFixture(t), Options{})
	ctx := context.Background()
	q, err := env.api.Alerts.QueryV2(&alerts.QueryV2Params{Context: ctx})
	if err != nil {
		t.Fatal(falcon.ErrorExplain(err))
	}
	if len(q.Payload.Resources) != len(env.ten.Alerts) {
		t.Fatalf("got %d alerts, want %d", len(q.Payload.Resources), len(env.ten.Alerts))
	}
	g, err := env.api.Alerts.GetV2(&alerts.GetV2Params{Context: ctx, Body: &models.DetectsapiPostEntitiesAlertsV2Request{CompositeIds: q.Payload.Resources}})
	if err != nil {
		t.Fatal(falcon.ErrorExplain(err))
	}
	if err := g.Payload.Validate(strfmt.Default); err != nil {
		t.Fatalf("alerts do not validate: %v", err)
	}
	var prev time.Time
	for i, a := range g.Payload.Resources {
		created := time.Time(*a.CreatedTimestamp)
		if i > 0 && created.After(prev) {
			t.Fatalf("default order is not newest first")
		}
		prev = created
		if *a.Product != "epp" || a.Device == nil || a.Device.DeviceID != *a.AgentID || *a.CompositeID != q.Payload.Resources[i] {
			t.Fatalf("alert %+v", a)
		}
	}
	first := g.Payload.Resources[0]
	ta := env.ten.Alerts[1] // newest in the fixture
	if *first.Name != ta.Name || *first.Severity != int64(ta.Severity) || *first.SeverityName != "High" || *first.Status != "in_progress" ||
		*first.Tactic != "Credential Access" || *first.TacticID != "TA0006" || *first.TechniqueID != "T1003" || first.Cmdline != ta.Cmdline {
		t.Fatalf("newest alert = %+v", first)
	}
	tests := []struct {
		filter string
		want   int
	}{
		{"severity:>=70", 2},
		{"device.device_id:'" + env.ten.Hosts[0].AID + "'", 2},
		{"status:'closed'", 1},
		{"created_timestamp:>'2025-05-20'+severity:<80", 1},
		{"tactic:'Execution',tactic:'Command and Control'", 2},
	}
	for _, tc := range tests {
		q, err := env.api.Alerts.QueryV2(&alerts.QueryV2Params{Context: ctx, Filter: ptr(tc.filter)})
		if err != nil {
			t.Fatalf("%s: %s", tc.filter, falcon.ErrorExplain(err))
		}
		if len(q.Payload.Resources) != tc.want || *q.Payload.Meta.Pagination.Total != int64(tc.want) {
			t.Fatalf("%s: %d alerts, want %d", tc.filter, len(q.Payload.Resources), tc.want)
		}
	}
	// offset pagination
	p1, err := env.api.Alerts.QueryV2(&alerts.QueryV2Params{Context: ctx, Limit: ptr(int64(3)), Offset: ptr(int64(3))})
	if err != nil {
		t.Fatal(falcon.ErrorExplain(err))
	}
	if len(p1.Payload.Resources) != 1 || p1.Payload.Resources[0] != q.Payload.Resources[3] {
		t.Fatalf("offset page = %v", p1.Payload.Resources)
	}
}

func TestIntelQueryAndGet(t *testing.T) {
	env := startSim(t, loadFixture(t), Options{})
	ctx := context.Background()
	q, err := env.api.Intel.QueryVulnerabilities(&intel.QueryVulnerabilitiesParams{Context: ctx, Filter: ptr("related_actors.name:'WIZARD SPIDER',cve:'CVE-2021-44228'")})
	if err != nil {
		t.Fatal(falcon.ErrorExplain(err))
	}
	got := slices.Clone(q.Payload.Resources)
	slices.Sort(got)
	if !slices.Equal(got, []string{"CVE-2021-34527", "CVE-2021-44228"}) {
		t.Fatalf("intel query = %v", got)
	}
	g, err := env.api.Intel.GetVulnerabilities(&intel.GetVulnerabilitiesParams{Context: ctx, Body: &models.MsaIdsRequest{Ids: []string{"CVE-2021-44228", "CVE-2023-4863"}}})
	if err != nil {
		t.Fatal(falcon.ErrorExplain(err))
	}
	if err := g.Payload.Validate(strfmt.Default); err != nil {
		t.Fatalf("intel does not validate: %v", err)
	}
	v := g.Payload.Resources[0]
	if *v.Cve != "CVE-2021-44228" || v.ExploitStatus != "activelyused" || v.Severity != "CRITICAL" || len(v.RelatedActors) != 2 ||
		v.RelatedActors[0].Name != "WICKED PANDA" || v.RelatedActors[0].AnimalClassifier != "PANDA" ||
		len(v.RelatedReports) != 1 || v.RelatedReports[0].SerialID != "CSA-211234" || v.RelatedReports[0].Type.Name != "Alert" ||
		v.RelatedReports[0].CreatedDate != time.Date(2021, 12, 15, 0, 0, 0, 0, time.UTC).Unix() {
		t.Fatalf("intel = %+v", v)
	}
	// exploit status and severity fall back to the CVE record
	w := g.Payload.Resources[1]
	if w.ExploitStatus != "available" || w.CvssV3Base == nil || w.CvssV3Base.Score != 8.8 {
		t.Fatalf("intel = %+v", w)
	}
}

func TestRTRFlows(t *testing.T) {
	env := startSim(t, loadFixture(t), Options{})
	ctx := context.Background()
	rtr := env.api.RealTimeResponse
	win := env.ten.Hosts[0]

	// unmanaged and offline hosts cannot start sessions
	for _, aid := range []string{env.ten.Hosts[3].AID, env.ten.Hosts[2].AID} {
		_, err := rtr.RTRInitSession(&real_time_response.RTRInitSessionParams{Context: ctx, Body: &models.DomainInitRequest{DeviceID: ptr(aid)}})
		var bad *real_time_response.RTRInitSessionBadRequest
		if !errors.As(err, &bad) {
			t.Fatalf("init on %s: %v", aid, err)
		}
	}

	init, err := rtr.RTRInitSession(&real_time_response.RTRInitSessionParams{Context: ctx, Body: &models.DomainInitRequest{DeviceID: ptr(win.AID)}})
	if err != nil {
		t.Fatal(falcon.ErrorExplain(err))
	}
	sid := *init.Payload.Resources[0].SessionID
	if init.Payload.Resources[0].DeviceID != win.AID || init.Payload.Resources[0].Platform != "windows" {
		t.Fatalf("init = %+v", init.Payload.Resources[0])
	}

	run := func(active bool, base, cmd string) *models.DomainStatusResponse {
		t.Helper()
		body := &models.DomainCommandExecuteRequest{BaseCommand: ptr(base), CommandString: ptr(cmd), SessionID: ptr(sid)}
		var reqID string
		if active {
			r, err := rtr.RTRExecuteActiveResponderCommand(&real_time_response.RTRExecuteActiveResponderCommandParams{Context: ctx, Body: body})
			if err != nil {
				t.Fatalf("%s: %s", cmd, falcon.ErrorExplain(err))
			}
			reqID = *r.Payload.Resources[0].CloudRequestID
		} else {
			r, err := rtr.RTRExecuteCommand(&real_time_response.RTRExecuteCommandParams{Context: ctx, Body: body})
			if err != nil {
				t.Fatalf("%s: %s", cmd, falcon.ErrorExplain(err))
			}
			reqID = *r.Payload.Resources[0].CloudRequestID
		}
		for poll := 0; poll < 5; poll++ {
			var res *models.DomainStatusResponse
			if active {
				s, err := rtr.RTRCheckActiveResponderCommandStatus(&real_time_response.RTRCheckActiveResponderCommandStatusParams{Context: ctx, CloudRequestID: reqID})
				if err != nil {
					t.Fatal(falcon.ErrorExplain(err))
				}
				res = s.Payload.Resources[0]
			} else {
				s, err := rtr.RTRCheckCommandStatus(&real_time_response.RTRCheckCommandStatusParams{Context: ctx, CloudRequestID: reqID})
				if err != nil {
					t.Fatal(falcon.ErrorExplain(err))
				}
				res = s.Payload.Resources[0]
			}
			if *res.Complete {
				return res
			}
		}
		t.Fatalf("%s never completed", cmd)
		return nil
	}

	if out := run(false, "ps", "ps"); !strings.Contains(*out.Stdout, "spoolsv.exe") || !strings.Contains(*out.Stdout, "lsass.exe") {
		t.Fatalf("ps = %q", *out.Stdout)
	}
	if out := run(false, "reg", `reg query HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`); !strings.Contains(*out.Stdout, "SMB1    REG_DWORD    1") {
		t.Fatalf("reg query = %q", *out.Stdout)
	}
	// read-only endpoint refuses active-responder commands
	_, err = rtr.RTRExecuteCommand(&real_time_response.RTRExecuteCommandParams{Context: ctx, Body: &models.DomainCommandExecuteRequest{BaseCommand: ptr("kill"), CommandString: ptr("kill 4"), SessionID: ptr(sid)}})
	var bad *real_time_response.RTRExecuteCommandBadRequest
	if !errors.As(err, &bad) || !strings.Contains(*bad.Payload.Errors[0].Message, "not allowed") {
		t.Fatalf("kill on read-only endpoint: %v", err)
	}

	// a mitigation through the registry is visible to a later read
	run(true, "reg", `reg set HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters -Value=SMB1 -Type=REG_DWORD -ValueData=0`)
	if out := run(false, "reg", `reg query HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`); !strings.Contains(*out.Stdout, "SMB1    REG_DWORD    0") {
		t.Fatalf("after reg set: %q", *out.Stdout)
	}
	// disabling the spooler stops its process
	if out := run(true, "runscript", `runscript -CloudFile="Stop-Service" -CommandLine="Spooler"`); *out.Stderr != "" {
		t.Fatalf("runscript stderr %q", *out.Stderr)
	}
	if out := run(false, "ps", "ps"); strings.Contains(*out.Stdout, "spoolsv.exe") {
		t.Fatalf("spooler still running: %q", *out.Stdout)
	}
	if out := run(false, "reg", `reg query HKLM\SYSTEM\CurrentControlSet\Services\Spooler`); !strings.Contains(*out.Stdout, "Start    REG_DWORD    4") {
		t.Fatalf("spooler start type: %q", *out.Stdout)
	}
	// files: mkdir, cp, rm
	run(true, "mkdir", `mkdir C:\Quarantine`)
	run(true, "cp", `cp C:\Windows\System32\drivers\etc\hosts C:\Quarantine`)
	if out := run(false, "ls", `ls C:\Quarantine`); !strings.Contains(*out.Stdout, "hosts") {
		t.Fatalf("ls = %q", *out.Stdout)
	}
	run(true, "rm", `rm C:\Quarantine\hosts`)
	if out := run(false, "filehash", `filehash C:\Quarantine\hosts`); *out.Stderr == "" {
		t.Fatalf("file still there: %q", *out.Stdout)
	}
	// kill a process by pid taken from ps
	ps := *run(false, "ps", "ps").Stdout
	var pid string
	for _, line := range strings.Split(ps, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "lsass.exe" {
			pid = f[1]
		}
	}
	if out := run(true, "kill", "kill "+pid); !strings.Contains(*out.Stdout, "terminated") {
		t.Fatalf("kill: %q %q", *out.Stdout, *out.Stderr)
	}

	// sessions list, entities, delete
	list, err := rtr.RTRListAllSessions(&real_time_response.RTRListAllSessionsParams{Context: ctx, Filter: ptr("deleted_at:null")})
	if err != nil {
		t.Fatal(falcon.ErrorExplain(err))
	}
	if !slices.Equal(list.Payload.Resources, []string{sid}) {
		t.Fatalf("sessions = %v", list.Payload.Resources)
	}
	ent, err := rtr.RTRListSessions(&real_time_response.RTRListSessionsParams{Context: ctx, Body: &models.MsaIdsRequest{Ids: []string{sid}}})
	if err != nil {
		t.Fatal(falcon.ErrorExplain(err))
	}
	if s := ent.Payload.Resources[0]; *s.DeviceID != win.AID || *s.Hostname != win.Hostname || len(s.Logs) < 10 {
		t.Fatalf("session = %+v", s)
	}
	if _, err := rtr.RTRDeleteSession(&real_time_response.RTRDeleteSessionParams{Context: ctx, SessionID: sid}); err != nil {
		t.Fatal(falcon.ErrorExplain(err))
	}
	list, err = rtr.RTRListAllSessions(&real_time_response.RTRListAllSessionsParams{Context: ctx, Filter: ptr("deleted_at:null")})
	if err != nil || len(list.Payload.Resources) != 0 {
		t.Fatalf("after delete: %v %v", list, err)
	}
}

// rawCall makes an HTTP request to the simulator and decodes the envelope.
func rawCall(t *testing.T, env *simEnv, method, path, token string, body io.Reader) (*http.Response, models.MsaReplyMetaOnly) {
	t.Helper()
	req, err := http.NewRequest(method, env.run.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := env.run.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env2 models.MsaReplyMetaOnly
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &env2); err != nil {
			t.Fatalf("%s %s: body is not a Falcon envelope: %v\n%s", method, path, err, raw)
		}
	}
	return resp, env2
}

func token(t *testing.T, env *simEnv, id, secret string) string {
	t.Helper()
	form := url.Values{"client_id": {id}, "client_secret": {secret}}
	resp, err := env.run.Client.PostForm(env.run.URL+"/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok models.DomainAccessTokenResponseV1
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusCreated || tok.TokenType != "bearer" || tok.ExpiresIn <= 0 {
		t.Fatalf("token: %d %+v %v", resp.StatusCode, tok, err)
	}
	return tok.AccessToken
}

func TestAuth(t *testing.T) {
	ten := loadFixture(t)
	ten.Clients = []APIClient{
		{ClientID: "reader", ClientSecret: "reader-secret", Scopes: []string{ScopeSpotlightRead}},
		{ClientID: "hosts", ClientSecret: "hosts-secret", Scopes: []string{ScopeHostsRead}},
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := &now
	env := startSim(t, ten, Options{TokenTTL: time.Minute, Clock: func() time.Time { return *clock }})
	const vulnPath = "/spotlight/queries/vulnerabilities/v1?filter=status:'open'"

	t.Run("bad secret", func(t *testing.T) {
		resp, body := rawCall(t, env, "POST", "/oauth2/token", "", strings.NewReader("client_id=reader&client_secret=wrong"))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(*body.Errors[0].Message, "Failed to issue access token") {
			t.Fatalf("status %d, %+v", resp.StatusCode, body.Errors)
		}
		api := gofalconClient(t, env.run, "reader", "wrong")
		_, err := api.SpotlightVulnerabilities.QueryVulnerabilities(&spotlight_vulnerabilities.QueryVulnerabilitiesParams{Context: context.Background(), Filter: "status:'open'"})
		if err == nil || !strings.Contains(err.Error(), "403") {
			t.Fatalf("gofalcon with a bad secret: %v", err)
		}
	})
	t.Run("no token", func(t *testing.T) {
		resp, body := rawCall(t, env, "GET", vulnPath, "", nil)
		if resp.StatusCode != http.StatusUnauthorized || *body.Errors[0].Message != "access denied, invalid bearer token" {
			t.Fatalf("status %d, %+v", resp.StatusCode, body.Errors)
		}
	})
	t.Run("missing scope", func(t *testing.T) {
		tok := token(t, env, "hosts", "hosts-secret")
		resp, body := rawCall(t, env, "GET", vulnPath, tok, nil)
		if resp.StatusCode != http.StatusForbidden || *body.Errors[0].Message != "access denied, authorization failed" {
			t.Fatalf("status %d, %+v", resp.StatusCode, body.Errors)
		}
		if resp, _ := rawCall(t, env, "GET", "/devices/queries/devices/v1", tok, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("in-scope call: %d", resp.StatusCode)
		}
		api := gofalconClient(t, env.run, "hosts", "hosts-secret")
		_, err := api.SpotlightVulnerabilities.QueryVulnerabilities(&spotlight_vulnerabilities.QueryVulnerabilitiesParams{Context: context.Background(), Filter: "status:'open'"})
		var forbidden *spotlight_vulnerabilities.QueryVulnerabilitiesForbidden
		if !errors.As(err, &forbidden) {
			t.Fatalf("gofalcon without scope: %v", err)
		}
	})
	t.Run("expired and revoked token", func(t *testing.T) {
		tok := token(t, env, "reader", "reader-secret")
		if resp, _ := rawCall(t, env, "GET", vulnPath, tok, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("fresh token: %d", resp.StatusCode)
		}
		later := now.Add(2 * time.Minute)
		clock = &later
		defer func() { clock = &now }()
		if resp, _ := rawCall(t, env, "GET", vulnPath, tok, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("expired token: %d", resp.StatusCode)
		}
		tok2 := token(t, env, "reader", "reader-secret")
		req, _ := http.NewRequest("POST", env.run.URL+"/oauth2/revoke", strings.NewReader("token="+tok2))
		req.SetBasicAuth("reader", "reader-secret")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := env.run.Client.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke: %v %v", resp, err)
		}
		resp.Body.Close()
		if resp, _ := rawCall(t, env, "GET", vulnPath, tok2, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("revoked token: %d", resp.StatusCode)
		}
	})
	st := env.srv.Stats()
	if st.TokensIssued < 4 || st.TokensRevoked != 1 || st.Requests["GET /spotlight/queries/vulnerabilities/v1"] == 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestFQLErrors(t *testing.T) {
	env := startSim(t, loadFixture(t), Options{})
	ctx := context.Background()
	tests := []struct {
		name, filter string
		wantMsg      []string
	}{
		{"unknown field", "nope:'x'", []string{`unknown FQL field "nope"`, "cve.base_score", "host_info.asset_criticality", "suppression_info.is_suppressed"}},
		{"syntax", "status:'open", []string{"FQL syntax error"}},
		{"range on exact field", "status:>'open'", []string{"status", "range"}},
		{"number type", "cve.base_score:>'high'", []string{"cve.base_score"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.api.SpotlightVulnerabilities.CombinedQueryVulnerabilities(&spotlight_vulnerabilities.CombinedQueryVulnerabilitiesParams{Context: ctx, Filter: tc.filter})
			var bad *spotlight_vulnerabilities.CombinedQueryVulnerabilitiesBadRequest
			if !errors.As(err, &bad) {
				t.Fatalf("err = %v, want 400", err)
			}
			msg := *bad.Payload.Errors[0].Message
			for _, w := range tc.wantMsg {
				if !strings.Contains(msg, w) {
					t.Fatalf("message %q lacks %q", msg, w)
				}
			}
		})
	}
	// filter is required on Spotlight, optional on Hosts
	_, err := env.api.SpotlightVulnerabilities.CombinedQueryVulnerabilities(&spotlight_vulnerabilities.CombinedQueryVulnerabilitiesParams{Context: ctx})
	var bad *spotlight_vulnerabilities.CombinedQueryVulnerabilitiesBadRequest
	if !errors.As(err, &bad) || !strings.Contains(*bad.Payload.Errors[0].Message, "filter is required") {
		t.Fatalf("missing filter: %v", err)
	}
	// limit bounds
	_, err = env.api.SpotlightVulnerabilities.CombinedQueryVulnerabilities(&spotlight_vulnerabilities.CombinedQueryVulnerabilitiesParams{Context: ctx, Filter: "status:'open'", Limit: ptr(int64(5001))})
	if !errors.As(err, &bad) || !strings.Contains(*bad.Payload.Errors[0].Message, "5000") {
		t.Fatalf("limit 5001: %v", err)
	}
	// a foreign after token
	_, err = env.api.SpotlightVulnerabilities.CombinedQueryVulnerabilities(&spotlight_vulnerabilities.CombinedQueryVulnerabilitiesParams{Context: ctx, Filter: "status:'open'", After: ptr("garbage")})
	if !errors.As(err, &bad) || !strings.Contains(*bad.Payload.Errors[0].Message, "after") {
		t.Fatalf("bad after: %v", err)
	}
	// host FQL errors too
	_, err = env.api.Hosts.QueryDevicesByFilter(&hosts.QueryDevicesByFilterParams{Context: ctx, Filter: ptr("cve.id:'x'")})
	var hbad *runtime.APIError
	if !errors.As(err, &hbad) || hbad.Code != http.StatusBadRequest {
		t.Fatalf("host filter: %v", err)
	}
	tok := token(t, env, DemoClientID, DemoClientSecret)
	resp, body := rawCall(t, env, "GET", "/devices/queries/devices/v1?filter="+url.QueryEscape("cve.id:'x'"), tok, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(*body.Errors[0].Message, "hostname") {
		t.Fatalf("host filter: %d %+v", resp.StatusCode, body.Errors)
	}
}

func TestSpotlightFQLOperators(t *testing.T) {
	env := startSim(t, loadFixture(t), Options{})
	cves := map[string]CVE{}
	for _, c := range env.ten.CVEs {
		cves[c.ID] = c
	}
	hosts := map[string]Host{}
	for _, h := range env.ten.Hosts {
		hosts[h.AID] = h
	}
	cut := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		filter string
		keep   func(f *Finding) bool
	}{
		{"cve.is_cisa_kev:true", func(f *Finding) bool { return cves[f.CVE].IsCISAKEV }},
		{"cve.base_score:>=9.8", func(f *Finding) bool { return cves[f.CVE].BaseScore >= 9.8 }},
		{"cve.exprt_rating:['HIGH','CRITICAL']", func(f *Finding) bool { r := cves[f.CVE].ExprtRating; return r == "HIGH" || r == "CRITICAL" }},
		{"cve.exploit_status:'90'", func(f *Finding) bool { return cves[f.CVE].ExploitStatus == 90 }},
		{"status:!'closed'", func(f *Finding) bool { return f.Status != "closed" }},
		{"host_info.asset_criticality:'Critical'+host_info.internet_exposure:'Yes'", func(f *Finding) bool {
			return hosts[f.AID].AssetCriticality == "Critical" && hosts[f.AID].InternetExposure == "Yes"
		}},
		{"host_info.tags:['FalconGroupingTags/bu-core']", func(f *Finding) bool { return slices.Contains(hosts[f.AID].Tags, "FalconGroupingTags/bu-core") }},
		{"host_info.groups:'" + groupID("Databases") + "'", func(f *Finding) bool { return slices.Contains(hosts[f.AID].Groups, "Databases") }},
		{"host_info.platform_name:'Linux'+host_info.managed_by:'Unmanaged'", func(f *Finding) bool {
			return hosts[f.AID].Platform == "Linux" && !hosts[f.AID].Managed
		}},
		{"suppression_info.is_suppressed:true", func(f *Finding) bool { return f.Suppressed }},
		{"created_timestamp:>'2025-03-01T00:00:00Z'", func(f *Finding) bool { return f.Created.After(cut) }},
		{"closed_timestamp:null", func(f *Finding) bool { return f.Closed == nil }},
		{"(cve.id:'CVE-2024-3094',cve.id:'CVE-2023-38545')+status:'open'", func(f *Finding) bool {
			return (f.CVE == "CVE-2024-3094" || f.CVE == "CVE-2023-38545") && f.Status == "open"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			want := findingsWhere(env.ten, tc.keep)
			resp, err := env.api.SpotlightVulnerabilities.QueryVulnerabilities(&spotlight_vulnerabilities.QueryVulnerabilitiesParams{Context: context.Background(), Filter: tc.filter, Limit: ptr(int64(5000))})
			if err != nil {
				t.Fatal(falcon.ErrorExplain(err))
			}
			if len(want) == 0 || len(want) == len(env.ten.Findings) {
				t.Fatalf("test filter selects %d of %d findings; it must discriminate", len(want), len(env.ten.Findings))
			}
			if len(resp.Payload.Resources) != len(want) {
				t.Fatalf("got %d, want %d", len(resp.Payload.Resources), len(want))
			}
			for _, id := range resp.Payload.Resources {
				if want[id] == nil {
					t.Fatalf("unexpected %s", id)
				}
			}
		})
	}
}
