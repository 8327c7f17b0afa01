package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// binary is the vulnpilot binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vulnpilot-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "vulnpilot")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("building vulnpilot: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func vulnpilot(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

type queueDoc struct {
	Summary struct {
		Findings int            `json:"findings"`
		Items    int            `json:"work_items"`
		ByTier   map[string]any `json:"by_tier"`
		Sources  struct {
			Falcon string   `json:"falcon"`
			Feeds  []string `json:"feeds"`
			Model  string   `json:"exploitation_model"`
		} `json:"sources"`
	} `json:"summary"`
	Run struct {
		Mode   string `json:"mode"`
		Pulled int    `json:"pulled"`
	} `json:"run"`
	Queue []struct {
		Key         string   `json:"key"`
		Tier        string   `json:"tier"`
		Score       float64  `json:"score"`
		Due         string   `json:"due"`
		Hosts       []any    `json:"hosts"`
		CVEs        []string `json:"cves"`
		Remediation struct {
			Title string `json:"title"`
		} `json:"remediation"`
		Evidence []struct {
			Source string `json:"source"`
			Detail string `json:"detail"`
		} `json:"evidence"`
	} `json:"queue"`
}

func TestDemoRunEndToEnd(t *testing.T) {
	data := t.TempDir()
	r := vulnpilot(t, nil, "run", "--demo", "--demo-hosts", "80", "--output", "json", "--data-dir", data)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var doc queueDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not the JSON document: %v\n%s", err, r.stdout)
	}
	if doc.Summary.Findings == 0 || doc.Summary.Items == 0 || len(doc.Queue) != doc.Summary.Items {
		t.Fatalf("json output must hold the whole queue: %d items of %d", len(doc.Queue), doc.Summary.Items)
	}
	if !strings.Contains(doc.Summary.Sources.Falcon, "simulated") || !strings.Contains(doc.Summary.Sources.Model, "model v1") {
		t.Errorf("sources must say what was used: %+v", doc.Summary.Sources)
	}
	first := doc.Queue[0]
	if first.Tier != "P1" || first.Key == "" || first.Due == "" || len(first.Hosts) == 0 || len(first.CVEs) == 0 || first.Remediation.Title == "" || len(first.Evidence) == 0 {
		t.Fatalf("top item incomplete: %+v", first)
	}
	for i := 1; i < len(doc.Queue); i++ {
		if doc.Queue[i-1].Tier > doc.Queue[i].Tier {
			t.Fatalf("queue not ordered by tier at %d", i)
		}
	}
	// The same demo again gives the same queue (stable keys, deterministic).
	r2 := vulnpilot(t, nil, "run", "--demo", "--demo-hosts", "80", "--output", "json", "--data-dir", data)
	var doc2 queueDoc
	if err := json.Unmarshal([]byte(r2.stdout), &doc2); err != nil {
		t.Fatal(err)
	}
	if len(doc2.Queue) != len(doc.Queue) || doc2.Queue[0].Key != first.Key || doc2.Queue[len(doc.Queue)-1].Key != doc.Queue[len(doc.Queue)-1].Key {
		t.Error("two demo runs produced different queues")
	}
}

func TestDemoTableAndMarkdown(t *testing.T) {
	r := vulnpilot(t, nil, "run", "--demo", "--demo-hosts", "40", "--top", "5", "--data-dir", t.TempDir())
	if r.code != 0 || !strings.Contains(r.stdout, "TIER") || !strings.Contains(r.stdout, "work items") {
		t.Fatalf("table output: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "\r") {
		t.Error("progress bar drawn although stderr is not a terminal")
	}
	md := filepath.Join(t.TempDir(), "q.md")
	r = vulnpilot(t, nil, "run", "--demo", "--demo-hosts", "40", "--output", "markdown", "-o", md, "--data-dir", t.TempDir())
	b, err := os.ReadFile(md)
	if r.code != 0 || err != nil || !strings.HasPrefix(string(b), "# Vulnerability remediation queue") {
		t.Fatalf("markdown report: exit %d err %v\n%s", r.code, err, r.stderr)
	}
}

func TestBadInvocationsExplainThemselves(t *testing.T) {
	tests := []struct {
		args []string
		env  []string
		code int
		want string
	}{
		{[]string{"run"}, nil, 1, "FALCON_CLIENT_ID"},
		{[]string{"run", "--demo", "--output", "xml"}, nil, 2, "table, json, markdown"},
		{[]string{"run", "--demo"}, []string{"FALCON_CLOUD=mars"}, 1, "us-1, us-2"},
		{[]string{"frobnicate"}, nil, 2, "unknown command"},
		{[]string{"sim", "generate", "--hosts", "5"}, nil, 2, "-o FILE is required"},
		{[]string{"run", "--demo", "--now", "yesterday"}, nil, 2, "RFC 3339"},
	}
	for _, tt := range tests {
		r := vulnpilot(t, tt.env, tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d (want %d), stderr %q should mention %q", tt.args, r.code, tt.code, r.stderr, tt.want)
		}
	}
}

// A "real" tenant: the simulator in its own process via `sim serve`, the
// client configured only through the Falcon environment variables, the
// simulator's certificate trusted through VULNPILOT_FALCON_CA_FILE.
func TestRunAgainstServedTenantWithEnvCredentials(t *testing.T) {
	dir := t.TempDir()
	tenant := filepath.Join(dir, "tenant.json")
	if r := vulnpilot(t, nil, "sim", "generate", "--hosts", "30", "--seed", "4", "-o", tenant); r.code != 0 || !strings.Contains(r.stdout, "30 hosts") {
		t.Fatalf("sim generate: %d %s %s", r.code, r.stdout, r.stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := exec.CommandContext(ctx, binary, "sim", "serve", "--tenant", tenant, "--addr", "127.0.0.1:0", "--cert-dir", filepath.Join(dir, "certs"))
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Wait()
	defer cancel()
	var env []string
	sc := bufio.NewScanner(stdout)
	for len(env) < 4 && sc.Scan() {
		if kv, ok := strings.CutPrefix(sc.Text(), "export "); ok {
			env = append(env, kv)
		}
	}
	if len(env) != 4 {
		t.Fatalf("sim serve printed %v", env)
	}
	r := vulnpilot(t, env, "run", "--output", "json", "--data-dir", filepath.Join(dir, "data"), "--incremental")
	if r.code != 0 {
		t.Fatalf("run against served tenant: exit %d\n%s", r.code, r.stderr)
	}
	var doc queueDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Summary.Findings == 0 || doc.Run.Mode != "full" || strings.Contains(doc.Summary.Sources.Falcon, "simulated") {
		t.Fatalf("unexpected run: %+v", doc.Summary)
	}
	// Second run: incremental, nothing changed → only the watermark's own
	// second is pulled again.
	r = vulnpilot(t, env, "run", "--output", "json", "--data-dir", filepath.Join(dir, "data"), "--incremental")
	var doc2 queueDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc2); err != nil {
		t.Fatalf("%v\n%s", err, r.stderr)
	}
	if doc2.Run.Mode != "incremental" || doc2.Run.Pulled >= doc.Run.Pulled || doc2.Summary.Findings != doc.Summary.Findings {
		t.Fatalf("incremental rerun: mode %s pulled %d (first %d), findings %d vs %d", doc2.Run.Mode, doc2.Run.Pulled, doc.Run.Pulled, doc2.Summary.Findings, doc.Summary.Findings)
	}
	// The secret never shows up in output or logs.
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "FALCON_CLIENT_SECRET="); ok && (strings.Contains(r.stdout, v) || strings.Contains(r.stderr, v)) {
			t.Fatal("client secret leaked into output")
		}
	}
}
