package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/governance"
)

func TestToolsMarkdownMatchesCheckedInTable(t *testing.T) {
	r := vulnpilot(t, nil, "tools", "--markdown")
	want, err := os.ReadFile(filepath.Join("..", "..", "tools", "TOOLS.md"))
	if err != nil {
		t.Fatal(err)
	}
	if r.code != 0 || r.stdout != string(want) {
		t.Fatalf("vulnpilot tools --markdown (exit %d) differs from tools/TOOLS.md; regenerate it", r.code)
	}
	r = vulnpilot(t, nil, "tools")
	if r.code != 0 || !strings.Contains(r.stdout, "risk_prioritize") || !strings.Contains(r.stdout, "READ-ONLY") {
		t.Fatalf("tools: %d %s", r.code, r.stdout)
	}
}

func TestServeBadInvocations(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--demo", "--toolsets", "falcon,tickets"}, `unknown toolset "tickets"; valid toolsets: all, falcon, risk`},
		{[]string{"serve", "--demo", "--exclude-tools", "risk_everything"}, `unknown tool "risk_everything"; valid tools: falcon_search_vulnerabilities`},
		{[]string{"serve", "--demo", "--transport", "http"}, "server.tokens: the http transport needs at least one token"},
		{[]string{"serve", "--transport", "sse"}, `server.transport: "sse" is not one of stdio, http`},
		{[]string{"serve", "--demo", "--scope", "tier:'P1'+("}, "--scope / server.scope: FQL syntax error"},
	}
	for _, tc := range tests {
		r := vulnpilot(t, nil, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestServeTokenHelpers(t *testing.T) {
	r := vulnpilot(t, nil, "serve", "--new-token")
	var tok, sum string
	for _, line := range strings.Split(r.stdout, "\n") {
		if v, ok := strings.CutPrefix(line, "token:  "); ok {
			tok = v
		}
		if v, ok := strings.CutPrefix(line, "sha256: "); ok {
			sum = v
		}
	}
	if r.code != 0 || tok == "" || sum != governance.HashToken(tok) {
		t.Fatalf("--new-token: %q", r.stdout)
	}
	cmd := exec.Command(binary, "serve", "--hash-token")
	cmd.Stdin = strings.NewReader(tok + "\n")
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != sum {
		t.Fatalf("--hash-token: %q %v", out, err)
	}
}

// TestServeStdioDemo drives the binary as Claude Desktop would: JSON-RPC
// lines on stdin/stdout, logs on stderr.
func TestServeStdioDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "serve", "--demo", "--demo-hosts", "40")
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in := bufio.NewScanner(stdout)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	id := 0
	rpc := func(method string, params any) map[string]any {
		t.Helper()
		id++
		b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
		if _, err := stdin.Write(append(b, '\n')); err != nil {
			t.Fatal(err)
		}
		if !in.Scan() {
			t.Fatalf("no reply to %s; stderr: %s", method, stderr.String())
		}
		var m map[string]any
		if err := json.Unmarshal(in.Bytes(), &m); err != nil {
			t.Fatalf("stdout is not JSON-RPC: %q", in.Text())
		}
		return m
	}
	init := rpc("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "t", "version": "1"}})
	if init["result"] == nil {
		t.Fatalf("initialize: %v", init)
	}
	_, _ = stdin.Write([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n"))
	var text string
	for range 100 {
		res := rpc("tools/call", map[string]any{"name": "risk_prioritize", "arguments": map[string]any{"limit": 2}})["result"].(map[string]any)
		text = res["content"].([]any)[0].(map[string]any)["text"].(string)
		if res["isError"] != true {
			break
		}
		if !strings.Contains(text, "still being built") && !strings.Contains(text, "not been built") {
			t.Fatalf("risk_prioritize: %s", text)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(text, "work items") || !strings.Contains(text, "assessed 2024-11-01T00:00:00Z") {
		t.Fatalf("risk_prioritize: %s", text)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exited with %v; stderr: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "risk snapshot ready") {
		t.Fatalf("no snapshot progress in the logs: %s", stderr.String())
	}
}

func TestServeHTTPDemo(t *testing.T) {
	dir := t.TempDir()
	tok, _ := governance.NewToken()
	cfg := filepath.Join(dir, "vulnpilot.yaml")
	yaml := "server:\n  transport: http\n  addr: 127.0.0.1:0\n  tokens:\n    - {name: alice, role: viewer, sha256: " + governance.HashToken(tok) + "}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "serve", "--config", cfg, "--demo", "--demo-hosts", "40")
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	errPipe, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := bufio.NewScanner(errPipe)
	var url string
	var all strings.Builder
	for url == "" && logs.Scan() {
		all.WriteString(logs.Text() + "\n")
		var m map[string]any
		if json.Unmarshal(logs.Bytes(), &m) == nil && m["msg"] == "serving MCP over HTTP" {
			url, _ = m["url"].(string)
		}
	}
	if url == "" {
		t.Fatalf("no listening line: %s", all.String())
	}
	drained := make(chan struct{})
	go func() { // keep draining the logs
		defer close(drained)
		for logs.Scan() {
			all.WriteString(logs.Text() + "\n")
		}
	}()
	post := func(auth string) *http.Response {
		req, _ := http.NewRequest("POST", url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if r := post(""); r.StatusCode != 401 || r.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %d", r.StatusCode)
	}
	if r := post("Bearer " + tok); r.StatusCode != 200 {
		t.Fatalf("valid token: %d", r.StatusCode)
	}
	_ = cmd.Process.Signal(os.Interrupt)
	<-drained
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve did not shut down cleanly: %v", err)
	}
	if strings.Contains(all.String(), tok) {
		t.Fatal("the bearer token reached the logs")
	}
}
