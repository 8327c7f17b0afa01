package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vulnpilot/vulnpilot/internal/exploitmodel"
)

const (
	repoFixtures = "../../evals/fixtures"
	repoRealData = "../../evals/realdata"
)

// The CI contract: `vulnpilot eval --output json` over the repository's
// fixtures passes its thresholds and emits one result per system with the
// agreed fields.
func TestEvalJSONOutput(t *testing.T) {
	r := vulnpilot(t, nil, "eval", "--fixtures", repoFixtures, "--output", "json")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	var doc struct {
		Results []map[string]any `json:"results"`
		Passed  bool             `json:"passed"`
		Checks  []struct {
			Rule   string `json:"rule"`
			Passed bool   `json:"passed"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, r.stdout)
	}
	if !doc.Passed || len(doc.Checks) == 0 {
		t.Fatalf("passed=%v with %d checks", doc.Passed, len(doc.Checks))
	}
	if len(doc.Results) != 5 {
		t.Fatalf("%d results, want the planner and 4 baselines", len(doc.Results))
	}
	planners, baselines := 0, 0
	for _, res := range doc.Results {
		name, _ := res["name"].(string)
		switch {
		case strings.Contains(name, "planner"):
			planners++
		case strings.HasPrefix(name, "baseline-"):
			baselines++
		default:
			t.Errorf("unexpected result %q", name)
		}
		for _, k := range []string{"ndcg_at_10", "ndcg_at_20", "p1_precision", "p1_recall", "bod_agreement", "gate_violations", "hallucinated_ids"} {
			v, ok := res[k].(float64)
			if !ok {
				t.Errorf("%s: %s is %v (%T), want a number", name, k, res[k], res[k])
				continue
			}
			if strings.HasPrefix(k, "ndcg") || strings.HasPrefix(k, "p1_") || k == "bod_agreement" {
				if v < 0 || v > 1 {
					t.Errorf("%s: %s = %v outside [0,1]", name, k, v)
				}
			}
		}
		if res["gate_violations"] != 0.0 || res["hallucinated_ids"] != 0.0 {
			t.Errorf("%s: gate_violations %v, hallucinated_ids %v", name, res["gate_violations"], res["hallucinated_ids"])
		}
	}
	if planners != 1 || baselines != 4 {
		t.Fatalf("%d planner and %d baseline results", planners, baselines)
	}
	// (stderr is not required to be empty: the simulator's HTTP server may
	// log a TLS handshake reset when a run shuts it down.)
	if strings.Contains(r.stderr, "threshold missed") {
		t.Errorf("a passing run reported a missed threshold: %s", r.stderr)
	}
}

func TestEvalMissedThresholdExitsNonZeroAndSaysWhich(t *testing.T) {
	th := filepath.Join(t.TempDir(), "thresholds.yaml")
	if err := os.WriteFile(th, []byte("version: 1\nmin:\n  ndcg_at_20: 1.01\nmax:\n  hallucinated_ids: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := vulnpilot(t, nil, "eval", "--fixtures", repoFixtures, "--thresholds", th)
	if r.code != exitThresholds {
		t.Fatalf("exit %d, want %d\nstderr: %s", r.code, exitThresholds, r.stderr)
	}
	if !strings.Contains(r.stderr, "threshold missed (min.ndcg_at_20)") || !strings.Contains(r.stderr, "minimum 1.01") {
		t.Errorf("stderr does not name the missed threshold:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "hallucinated_ids") {
		t.Errorf("a passing rule is reported as missed:\n%s", r.stderr)
	}
	if !strings.Contains(r.stdout, "vulnpilot-planner") || !strings.Contains(r.stdout, "FAIL") {
		t.Errorf("the table is still printed, with the failure marked:\n%s", r.stdout)
	}
}

func TestEvalMarkdown(t *testing.T) {
	r := vulnpilot(t, nil, "eval", "--fixtures", repoFixtures, "--output", "markdown")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"| System | NDCG@10 | NDCG@20 |", "| vulnpilot-planner |", "| baseline-cve-prioritizer |",
		"## Per scenario", "| kev-internet-dc |", "## Where the planner differs from the labels", "## Thresholds"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

func TestEvalBadInputs(t *testing.T) {
	broken := t.TempDir()
	sd := filepath.Join(broken, "fixtures", "bad")
	if err := os.MkdirAll(sd, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sd, "scenario.yaml"), []byte("version: 1\ndescription: x\nexpect:\n  tiers:\n    - {host: h1, cve: CVE-2021-34527, tier: P7, why: x}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sd, "tenant.json"), []byte(`{"version":1,"cid":"x","now":"2025-09-01T00:00:00Z","hosts":[{"aid":"h1","hostname":"h1","platform":"Linux","product_type_desc":"Server","managed":true}],"findings":[{"aid":"h1","cve":"CVE-2021-34527","product":"Windows","created":"2024-01-01T00:00:00Z"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "thresholds.yaml"), []byte("version: 1\nmin: {ndcg_at_10: 0.5}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "bad-thresholds.yaml"), []byte("version: 1\nmin: {speed: 0.5}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad output format", []string{"eval", "--output", "xml"}, 2, `--output "xml" is not one of table, json, markdown`},
		{"bad fixture names file and field", []string{"eval", "--fixtures", filepath.Join(broken, "fixtures")}, 1, `scenario.yaml: expect.tiers[0].tier: "P7" is not one of P1, P2, P3, P4`},
		{"missing thresholds file", []string{"eval", "--fixtures", repoFixtures, "--thresholds", filepath.Join(broken, "none.yaml")}, 1, "thresholds:"},
		{"bad thresholds file", []string{"eval", "--fixtures", repoFixtures, "--thresholds", filepath.Join(broken, "bad-thresholds.yaml")}, 1, `bad-thresholds.yaml: min.speed: unknown metric "speed"`},
		{"stray argument", []string{"eval", "extra"}, 2, `unexpected argument "extra"`},
		{"model without subcommand", []string{"model"}, 2, "missing subcommand"},
		{"model unknown subcommand", []string{"model", "fit"}, 2, `unknown subcommand "fit"`},
		{"model train with missing data", []string{"model", "train", "--cves", filepath.Join(broken, "none.jsonl"), "--kev", filepath.Join(repoRealData, "kev.json"), "--out", filepath.Join(broken, "m.json")}, 1, "none.jsonl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := vulnpilot(t, nil, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, want %d; stderr %q should contain %q", r.code, tt.code, r.stderr, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(broken, "m.json")); !os.IsNotExist(err) {
		t.Error("a failed training run left a model file behind")
	}
}

func TestEvalRealData(t *testing.T) {
	r := vulnpilot(t, nil, "eval", "--real-data", "--realdata-dir", repoRealData)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"Exploitation model v1", "| CVSS ≥ 7 |", "| CVSS ≥ 9 |", "| model at CVSS ≥ 7's coverage |", "ROC AUC"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}
	j := vulnpilot(t, nil, "eval", "--real-data", "--realdata-dir", repoRealData, "--output", "json")
	var rep exploitmodel.Report
	if err := json.Unmarshal([]byte(j.stdout), &rep); err != nil || len(rep.Rules) == 0 || rep.Counts.Test == 0 {
		t.Fatalf("json report: %v %+v", err, rep.Counts)
	}
}

// subsetCVEs writes every 6th record of the real data plus every exploited
// one, so that training takes a fraction of a second but both splits keep
// positives.
func subsetCVEs(t *testing.T, path string) {
	t.Helper()
	kevData, err := os.ReadFile(filepath.Join(repoRealData, "kev.json"))
	if err != nil {
		t.Fatal(err)
	}
	var kev struct {
		Vulnerabilities []struct {
			CVE string `json:"cveID"`
		} `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(kevData, &kev); err != nil {
		t.Fatal(err)
	}
	inKEV := map[string]bool{}
	for _, v := range kev.Vulnerabilities {
		inKEV[v.CVE] = true
	}
	f, err := os.Open(filepath.Join(repoRealData, "cves.jsonl.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for i := 0; sc.Scan(); i++ {
		var rec struct {
			ID  string `json:"id"`
			KEV string `json:"kev_date_added"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if i%6 == 0 || inKEV[rec.ID] || rec.KEV != "" {
			out.Write(sc.Bytes())
			out.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestModelTrainIsReproducible(t *testing.T) {
	dir := t.TempDir()
	cves := filepath.Join(dir, "cves.jsonl")
	subsetCVEs(t, cves)
	kev := filepath.Join(repoRealData, "kev.json")
	var models [2][]byte
	for i := range models {
		out := filepath.Join(dir, "model.json")
		report := filepath.Join(dir, "report.md")
		r := vulnpilot(t, nil, "model", "train", "--cves", cves, "--kev", kev, "--out", out, "--report", report)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, "written to "+out) || !strings.Contains(r.stdout, "| CVSS ≥ 7 |") {
			t.Errorf("stdout:\n%s", r.stdout)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := exploitmodel.ReadJSON(bytes.NewReader(b)); err != nil {
			t.Fatalf("the written model does not load: %v", err)
		}
		if md, err := os.ReadFile(report); err != nil || !strings.Contains(string(md), "Exploitation model") {
			t.Fatalf("report file: %v", err)
		}
		models[i] = b
		os.Remove(out)
	}
	if !bytes.Equal(models[0], models[1]) {
		t.Fatal("two trainings on the same data wrote different model files")
	}
}
