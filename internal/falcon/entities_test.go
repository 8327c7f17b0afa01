package falcon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/vulnpilot/vulnpilot/internal/falconsim"
	"github.com/vulnpilot/vulnpilot/internal/fql"
)

func managedHosts(ten *falconsim.Tenant) map[string]falconsim.Host {
	m := map[string]falconsim.Host{}
	for _, h := range ten.Hosts {
		if h.Managed {
			m[h.AID] = h
		}
	}
	return m
}

func TestHostsRoundTrip(t *testing.T) {
	env := startSim(t, genTenant(t, 2000, 23), falconsim.Faults{})
	c := env.client(t, nil)
	ctx := context.Background()
	want := managedHosts(env.tenant)

	ids, total, err := c.QueryHosts(ctx, "", "hostname.asc", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if total != int64(len(want)) {
		t.Fatalf("QueryHosts total %d, want %d managed hosts", total, len(want))
	}
	// Paging with limit/offset covers every host once.
	var paged []string
	for off := 0; off < int(total); off += 7 {
		page, _, err := c.QueryHosts(ctx, "", "hostname.asc", 7, off)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, page...)
	}
	if len(paged) != len(want) || len(ids) == 0 || paged[0] != ids[0] {
		t.Fatalf("paged %d ids (first %v), want %d starting with %s", len(paged), paged[:1], len(want), ids[0])
	}

	aids := append(slices.Clone(paged[:10]), paged[0], "ffffffffffffffffffffffffffffffff")
	hosts, err := c.GetHosts(ctx, aids)
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 10 {
		t.Fatalf("GetHosts returned %d hosts for 10 known (+1 duplicate, +1 unknown) aids", len(hosts))
	}
	for _, h := range hosts {
		w, ok := want[h.AID]
		if !ok {
			t.Fatalf("GetHosts returned unknown aid %s", h.AID)
		}
		if h.Hostname != w.Hostname || h.Platform != w.Platform || h.LocalIP != w.LocalIP || !h.LastSeen.Equal(w.LastSeen) ||
			!slices.Equal(h.Tags, w.Tags) || h.OSVersion != w.OSVersion {
			t.Errorf("host %s = %+v, tenant has %+v", h.AID, h, w)
		}
	}

	seen := map[string]bool{}
	err = c.StreamHosts(ctx, "", func(h *Host) error {
		if seen[h.AID] {
			return fmt.Errorf("host %s streamed twice", h.AID)
		}
		seen[h.AID] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(want) {
		t.Fatalf("StreamHosts gave %d hosts, want %d", len(seen), len(want))
	}
}

// Hostnames are untrusted: quotes, backslashes and '*' in a value must
// filter exactly that host, end to end through internal/fql and the API.
func TestFQLEscapingEndToEnd(t *testing.T) {
	ten := genTenant(t, 500, 29)
	names := []string{`o'brien\lab`, `o'brien`, `o'brien\\lab`, `star*host`, `starXhost`, `q"uote'+aid:'x'`}
	var idx []int
	for i, h := range ten.Hosts {
		if h.Managed && len(idx) < len(names) {
			idx = append(idx, i)
		}
	}
	for k, i := range idx {
		ten.Hosts[i].Hostname = names[k]
	}
	env := startSim(t, ten, falconsim.Faults{})
	c := env.client(t, nil)
	for k, name := range names {
		filter, err := fql.Build(fql.Eq("hostname", name))
		if err != nil {
			t.Fatal(err)
		}
		ids, total, err := c.QueryHosts(context.Background(), filter, "", 0, 0)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if total != 1 || len(ids) != 1 || ids[0] != ten.Hosts[idx[k]].AID {
			t.Errorf("hostname %q (filter %s) matched %v (total %d), want only %s", name, filter, ids, total, ten.Hosts[idx[k]].AID)
		}
		hs, err := c.GetHosts(context.Background(), ids)
		if err != nil || len(hs) != 1 || hs[0].Hostname != name {
			t.Errorf("%q: GetHosts = %+v, %v", name, hs, err)
		}
	}
}

func TestAlertsRoundTrip(t *testing.T) {
	env := startSim(t, genTenant(t, 3000, 31), falconsim.Faults{})
	c := env.client(t, nil)
	ctx := context.Background()
	want := map[string]falconsim.Alert{}
	for _, a := range env.tenant.Alerts {
		want[a.ID] = a
	}
	if len(want) == 0 {
		t.Fatal("fixture has no alerts")
	}
	ids, total, err := c.QueryAlerts(ctx, "", "created_timestamp|desc", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if total != int64(len(want)) || len(ids) == 0 {
		t.Fatalf("QueryAlerts: %d ids, total %d, want total %d", len(ids), total, len(want))
	}
	got, err := c.GetAlerts(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ids) {
		t.Fatalf("GetAlerts returned %d of %d", len(got), len(ids))
	}
	for _, a := range got {
		w, ok := want[a.ID]
		if !ok {
			t.Fatalf("unknown alert %s", a.ID)
		}
		if a.AID != w.AID || a.Name != w.Name || a.Severity != w.Severity || !a.Created.Equal(w.Created) || a.Hostname == "" {
			t.Errorf("alert %s = %+v, tenant has %+v", a.ID, a, w)
		}
	}

	// A filter on one host's alerts, built safely.
	var aid string
	for _, a := range want {
		aid = a.AID
		break
	}
	filter, _ := fql.Build(fql.Eq("agent_id", aid))
	var streamed []Alert
	if err := c.StreamAlerts(ctx, filter, func(a *Alert) error { streamed = append(streamed, *a); return nil }); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range want {
		if a.AID == aid {
			n++
		}
	}
	if len(streamed) != n {
		t.Fatalf("StreamAlerts(%s) gave %d alerts, want %d", filter, len(streamed), n)
	}
	for _, a := range streamed {
		if a.AID != aid {
			t.Fatalf("alert of another host %s", a.AID)
		}
	}
}

func TestIntelForCVEs(t *testing.T) {
	env := startSim(t, genTenant(t, 3000, 37), falconsim.Faults{})
	c := env.client(t, nil)
	if len(env.tenant.Intel) == 0 {
		t.Fatal("fixture has no intel")
	}
	want := map[string]falconsim.IntelVuln{}
	var cves []string
	for _, v := range env.tenant.Intel {
		want[v.CVE] = v
		cves = append(cves, v.CVE)
	}
	cves = append(cves, "CVE-1999-0001", `CVE-2024-1'+cve:*`) // unknown, and an injection attempt
	got, err := c.IntelForCVEs(context.Background(), cves)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("IntelForCVEs returned %d records, want %d", len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Fatalf("no intel for %s", id)
		}
		if g.CVE != id || len(g.Actors) != len(w.Actors) || len(g.Reports) != len(w.Reports) || g.Severity != w.Severity {
			t.Errorf("intel %s = %+v, tenant has %+v", id, g, w)
		}
		for i, a := range w.Actors {
			if g.Actors[i].Name != a.Name {
				t.Errorf("intel %s actor %d = %q, want %q", id, i, g.Actors[i].Name, a.Name)
			}
		}
	}
}

func TestGetRemediationsCached(t *testing.T) {
	env := startSim(t, genTenant(t, 1500, 41), falconsim.Faults{})
	c := env.client(t, nil)
	ctx := context.Background()
	var ids []string
	for _, r := range env.tenant.Remediations {
		ids = append(ids, r.ID)
	}
	if len(ids) == 0 {
		t.Fatal("fixture has no remediations")
	}
	got, err := c.GetRemediations(ctx, append(ids, "00000000000000000000000000000000"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ids) {
		t.Fatalf("GetRemediations returned %d, want %d", len(got), len(ids))
	}
	for _, r := range env.tenant.Remediations {
		g := got[r.ID]
		if g.Title != r.Title || g.Action != r.Action || !g.PatchPublished.Equal(r.PatchPublished) {
			t.Errorf("remediation %s = %+v, tenant has %+v", r.ID, g, r)
		}
	}
	before := env.srv.Stats().Requests["GET /spotlight/entities/remediations/v2"]
	again, err := c.GetRemediations(ctx, ids[:3])
	if err != nil || len(again) != 3 {
		t.Fatalf("cached lookup: %d, %v", len(again), err)
	}
	if after := env.srv.Stats().Requests["GET /spotlight/entities/remediations/v2"]; after != before {
		t.Errorf("cached remediations were fetched again (%d → %d requests)", before, after)
	}
}

func TestBadSecretIs401WithHint(t *testing.T) {
	env := startSim(t, genTenant(t, 100, 43), falconsim.Faults{})
	const secret = "wrong-secret-Zq9!"
	c := env.client(t, func(cfg *Config) { cfg.ClientSecret = secret })
	checks := map[string]error{}
	checks["Verify"] = c.Verify(context.Background())
	_, checks["StreamFindings"] = collect(t, c, FindingQuery{})
	_, _, checks["QueryHosts"] = c.QueryHosts(context.Background(), "", "", 0, 0)
	for name, err := range checks {
		var apiErr *APIError
		if !errors.As(err, &apiErr) {
			t.Errorf("%s: got %v, want *APIError", name, err)
			continue
		}
		msg := err.Error()
		if apiErr.Status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, apiErr.Status)
		}
		for _, s := range []string{"FALCON_CLIENT_ID", "FALCON_CLIENT_SECRET", "FALCON_BASE_URL"} {
			if !strings.Contains(msg, s) {
				t.Errorf("%s: message lacks %s: %s", name, s, msg)
			}
		}
		if strings.Contains(msg, secret) || strings.Contains(fmt.Sprintf("%+v %#v", err, apiErr), secret) {
			t.Errorf("%s: error text contains the secret", name)
		}
	}
	if s := c.Stats(); s.Retries != 0 {
		t.Errorf("rejected credentials were retried %d times", s.Retries)
	}
}

func TestMissingScopeNamesTheScope(t *testing.T) {
	ten := genTenant(t, 300, 47)
	ten.Clients = []falconsim.APIClient{
		{ClientID: "hosts-only", ClientSecret: "s1", Scopes: []string{falconsim.ScopeHostsRead}},
		{ClientID: "spotlight-only", ClientSecret: "s2", Scopes: []string{falconsim.ScopeSpotlightRead}},
	}
	env := startSim(t, ten, falconsim.Faults{})
	hostsOnly := env.client(t, func(cfg *Config) { cfg.ClientID, cfg.ClientSecret = "hosts-only", "s1" })
	spotOnly := env.client(t, func(cfg *Config) { cfg.ClientID, cfg.ClientSecret = "spotlight-only", "s2" })
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		call  func() error
		scope string
	}{
		{"findings", func() error { _, err := collect(t, hostsOnly, FindingQuery{}); return err }, "Vulnerabilities:read"},
		{"findings page", func() error { _, err := hostsOnly.FindingsPage(ctx, "", "", "", 10, ""); return err }, "Vulnerabilities:read"},
		{"remediations", func() error { _, err := hostsOnly.GetRemediations(ctx, []string{"x"}); return err }, "Vulnerabilities:read"},
		{"hosts", func() error { _, _, err := spotOnly.QueryHosts(ctx, "", "", 0, 0); return err }, "Hosts:read"},
		{"host details", func() error { _, err := spotOnly.GetHosts(ctx, []string{"x"}); return err }, "Hosts:read"},
		{"alerts", func() error { _, _, err := spotOnly.QueryAlerts(ctx, "", "", 0, 0); return err }, "Alerts:read"},
		{"intel", func() error { _, err := spotOnly.IntelForCVEs(ctx, []string{"CVE-2024-1234"}); return err }, "Vulnerabilities (Falcon Intelligence):read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden {
				t.Fatalf("got %v, want a 403 *APIError", err)
			}
			if apiErr.Scope != tc.scope || !strings.Contains(err.Error(), "API client lacks scope "+tc.scope+" (Falcon console → API clients)") {
				t.Errorf("error %q (scope %q) does not name scope %s", err, apiErr.Scope, tc.scope)
			}
		})
	}
}

func TestBadFilterHintListsFields(t *testing.T) {
	env := startSim(t, genTenant(t, 300, 53), falconsim.Faults{})
	c := env.client(t, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name, op, unknown string
		call              func() error
	}{
		{"findings", OpCombinedFindings, "cve.nonsense", func() error {
			_, err := collect(t, c, FindingQuery{Filter: "cve.nonsense:'x'", Parallel: 1})
			return err
		}},
		{"findings page", OpCombinedFindings, "hostname", func() error {
			_, err := c.FindingsPage(ctx, "hostname:'x'", "", "", 10, "")
			return err
		}},
		{"hosts", OpQueryHosts, "host_info.hostname", func() error {
			_, _, err := c.QueryHosts(ctx, "host_info.hostname:'x'", "", 0, 0)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest {
				t.Fatalf("got %v, want a 400 *APIError", err)
			}
			if apiErr.Op != tc.op || !strings.Contains(apiErr.Hint, "allowed FQL fields for "+tc.op) ||
				!strings.Contains(apiErr.Hint, tc.unknown) || apiErr.Message == "" {
				t.Errorf("APIError %+v: want op %s, a hint naming %s and the allowed fields", apiErr, tc.op, tc.unknown)
			}
			for _, f := range FilterFields(tc.op)[:3] {
				if !strings.Contains(apiErr.Hint, f) {
					t.Errorf("hint lacks allowed field %s", f)
				}
			}
		})
	}
}
