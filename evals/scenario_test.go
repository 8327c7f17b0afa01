package evals

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vulnpilot/vulnpilot/internal/cvedata"
)

const testTenant = `{
 "version": 1, "cid": "eval-test", "now": "2025-09-01T00:00:00Z",
 "hosts": [
  {"aid": "h1", "hostname": "h1", "platform": "Windows", "product_type_desc": "Server", "internet_exposure": "Yes", "managed": true},
  {"aid": "h2", "hostname": "h2", "platform": "Windows", "product_type_desc": "Workstation", "managed": true}
 ],
 "findings": [
  {"aid": "h1", "cve": "CVE-2021-34527", "product": "Windows", "created": "2024-01-10T00:00:00Z"},
  {"aid": "h2", "cve": "CVE-2021-34527", "product": "Windows", "created": "2024-01-10T00:00:00Z"},
  {"aid": "h2", "cve": "CVE-2021-34527", "product": "Windows (second install)", "created": "2024-01-10T00:00:00Z"},
  {"aid": "h2", "cve": "CVE-2024-38112", "product": "Windows", "created": "2024-07-20T00:00:00Z", "status": "closed", "closed": "2024-08-01T00:00:00Z"}
 ]
}
`

const testScenario = `version: 1
description: A test scenario.
expect:
  tiers:
    - host: h1
      cve: CVE-2021-34527
      tier: P1
      why: KEV on an exposed server.
    - host: h2
      cve: CVE-2021-34527
      tier: P2
      why: KEV on a workstation (two findings, one unit).
  top_k:
    - {host: h1, cve: CVE-2021-34527, k: 1, why: first}
  not_top_k: []
  actions: []
  refusals: []
`

func writeScenario(t *testing.T, dir, yaml, tenant string, extra map[string]string) string {
	t.Helper()
	sd := filepath.Join(dir, "case")
	if err := os.MkdirAll(sd, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{ScenarioFile: yaml, "tenant.json": tenant}
	for k, v := range extra {
		files[k] = v
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(sd, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return sd
}

func loadTest(t *testing.T, yaml, tenant string, extra map[string]string) (*Scenario, error) {
	t.Helper()
	db, err := cvedata.Load()
	if err != nil {
		t.Fatal(err)
	}
	return LoadScenario(context.Background(), writeScenario(t, t.TempDir(), yaml, tenant, extra), db)
}

func TestValidScenarioLoads(t *testing.T) {
	sc, err := loadTest(t, testScenario, testTenant, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Labels) != 2 || sc.Labels[0].Unit != (Unit{"h1", "CVE-2021-34527"}) || sc.Labels[1].Tier != P2 {
		t.Fatalf("labels %+v", sc.Labels)
	}
	if len(sc.TopK) != 1 || sc.TopK[0].K != 1 || sc.Name != "case" || sc.Description != "A test scenario." {
		t.Fatalf("scenario %+v", sc)
	}
	if l, ok := sc.Label(Unit{"h2", "CVE-2021-34527"}); !ok || l.Tier != P2 {
		t.Fatalf("Label lookup: %+v %v", l, ok)
	}
	if _, ok := sc.Label(Unit{"h2", "CVE-2024-38112"}); ok {
		t.Fatal("a closed finding's unit must have no label")
	}
}

func TestBadFixturesNameFileAndField(t *testing.T) {
	sub := func(old, new string) string {
		if !strings.Contains(testScenario, old) {
			t.Fatalf("test setup: %q not in the scenario", old)
		}
		return strings.Replace(testScenario, old, new, 1)
	}
	tests := []struct {
		name   string
		yaml   string
		tenant string
		extra  map[string]string
		file   string // file the error must name
		want   []string
	}{
		{"unknown top-level field", "labels: []\n" + testScenario, "", nil, ScenarioFile,
			[]string{`line 1: unknown field "labels" in the top level (allowed: version, description, tenant, epss, policy, expect, injection)`}},
		{"unknown field in a label", sub("      tier: P1\n", "      tier: P1\n      priority: high\n"), "", nil, ScenarioFile,
			[]string{`unknown field "priority" in expect.tiers[] (allowed: host, hosts, cve, tier, why)`}},
		{"wrong type", sub("  not_top_k: []", "  not_top_k: nope"), "", nil, ScenarioFile, []string{"wrong type (want a list)"}},
		{"bad tier", sub("tier: P1", "tier: P0"), "", nil, ScenarioFile, []string{`expect.tiers[0].tier: "P0" is not one of P1, P2, P3, P4`}},
		{"missing why", sub("      why: KEV on an exposed server.\n", ""), "", nil, ScenarioFile, []string{"expect.tiers[0].why: required"}},
		{"unknown host", sub("host: h1\n      cve", "host: h9\n      cve"), "", nil, ScenarioFile,
			[]string{`expect.tiers[0].host: unknown host "h9"`, "CVE-2021-34527 on h1 is open in tenant.json but has no label"}},
		{"CVE not on the host", sub("host: h1\n      cve: CVE-2021-34527", "host: h1\n      cve: CVE-2024-38112"), "", nil, ScenarioFile,
			[]string{"expect.tiers[0]: no finding of CVE-2024-38112 on h1 in the tenant"}},
		{"not a CVE id", sub("host: h1\n      cve: CVE-2021-34527", "host: h1\n      cve: PRINTNIGHTMARE"), "", nil, ScenarioFile,
			[]string{`expect.tiers[0].cve: "PRINTNIGHTMARE" is not a CVE id`}},
		{"closed finding", sub("    - host: h2\n", "    - host: h2\n      cve: CVE-2024-38112\n      tier: P4\n      why: closed.\n    - host: h2\n"), "", nil, ScenarioFile,
			[]string{"expect.tiers[1]: CVE-2024-38112 on h2 has no open finding (closed and expired findings are not ranked)"}},
		{"duplicate label", sub("    - host: h2\n", "    - hosts: [h1]\n      cve: CVE-2021-34527\n      tier: P2\n      why: again.\n    - host: h2\n"), "", nil, ScenarioFile,
			[]string{"expect.tiers[1].hosts[0]: CVE-2021-34527 on h1 is already labelled by expect.tiers[0]"}},
		{"unlabelled open unit", sub("    - host: h2\n      cve: CVE-2021-34527\n      tier: P2\n      why: KEV on a workstation (two findings, one unit).\n", ""), "", nil, ScenarioFile,
			[]string{"expect.tiers: CVE-2021-34527 on h2 is open in tenant.json but has no label"}},
		{"host and hosts", sub("    - host: h1\n", "    - host: h1\n      hosts: [h1]\n"), "", nil, ScenarioFile, []string{"expect.tiers[0]: set host or hosts, not both"}},
		{"k below 1", sub("k: 1,", "k: 0,"), "", nil, ScenarioFile, []string{"expect.top_k[0].k: 0 must be at least 1"}},
		{"top_k on an unknown unit", sub("{host: h1, cve: CVE-2021-34527, k: 1", "{host: h2, cve: CVE-2023-0001, k: 1"), "", nil, ScenarioFile,
			[]string{"expect.top_k[0]: no finding of CVE-2023-0001 on h2"}},
		{"bad action type", sub("  actions: []", "  actions:\n    - {type: page, host: h1, cve: CVE-2021-34527, why: x}"), "", nil, ScenarioFile,
			[]string{`expect.actions[0].type: "page" is not one of ticket, exception, rtr, containment`}},
		{"refusal without request", sub("  refusals: []", "  refusals:\n    - {type: exception, why: x}"), "", nil, ScenarioFile,
			[]string{"expect.refusals[0].request: required"}},
		{"version", sub("version: 1", "version: 2"), "", nil, ScenarioFile, []string{"version: 2 is not supported (want 1)"}},
		{"no description", sub("description: A test scenario.\n", ""), "", nil, ScenarioFile, []string{"description: required"}},
		{"no expect", "version: 1\ndescription: x\n", "", nil, ScenarioFile, []string{"expect: required"}},
		{"empty file", "", "", nil, ScenarioFile, []string{"empty file"}},
		{"bad injection field", testScenario + "injection:\n  - {host: h1, field: os_version, clean: x}\n", "", nil, ScenarioFile,
			[]string{`injection[0].field: "os_version" is not a planted host field (one of hostname)`}},
		{"injection that plants nothing", testScenario + "injection:\n  - {host: h1, field: hostname, clean: h1}\n", "", nil, ScenarioFile,
			[]string{"injection[0].clean: equals the tenant's hostname, so nothing is planted"}},
		{"injection on a CVE with its real description", testScenario + "injection:\n  - {cve: CVE-2021-34527, field: description}\n", "", nil, ScenarioFile,
			[]string{"injection[0]: the tenant's description of CVE-2021-34527 equals the clean text, so nothing is planted"}},
		{"injection on a CVE not in the tenant", testScenario + "injection:\n  - {cve: CVE-2024-4671, field: description}\n", "", nil, ScenarioFile,
			[]string{"injection[0].cve: CVE-2024-4671 has no entry in the tenant's cves[]"}},
		{"epss outside the scenario", sub("expect:", "epss: ../epss.csv\nexpect:"), "", nil, ScenarioFile,
			[]string{`epss: "../epss.csv" must be a file name inside the scenario directory`}},
		{"bad epss file", sub("expect:", "epss: epss.csv\nexpect:"), "", map[string]string{"epss.csv": "cve,score\n"}, ScenarioFile,
			[]string{"epss:", `header "cve,score"`}},
		{"bad policy file", sub("expect:", "policy: policy.yaml\nexpect:"), "", map[string]string{"policy.yaml": "version: 1\ntiers:\n  p1:\n    min_scor: 60\n"}, "policy.yaml",
			[]string{"min_scor"}},
		{"bad tenant", testScenario, strings.Replace(testTenant, `"managed": true}`, `"managed": true, "owner": "x"}`, 1), nil, "tenant.json",
			[]string{"owner"}},
		{"tenant CVE unknown", testScenario, strings.Replace(testTenant, "CVE-2024-38112", "CVE-2099-0001", 1), nil, "tenant.json",
			[]string{"findings[3].cve: CVE-2099-0001 is neither in cves[] nor in the bundled CVE records"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := tt.tenant
			if tenant == "" {
				tenant = testTenant
			}
			sc, err := loadTest(t, tt.yaml, tenant, tt.extra)
			if err == nil {
				t.Fatalf("loaded %+v, want an error", sc)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.file) {
				t.Errorf("error does not name %s:\n%s", tt.file, msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not say %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestLoadScenariosNeedsOne(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "not-a-scenario"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := LoadScenarios(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), "no scenario in") {
		t.Fatalf("error %v", err)
	}
	if _, err := LoadScenarios(context.Background(), filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing fixtures directory must fail")
	}
}
