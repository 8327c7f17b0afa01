package falconsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crowdstrike/gofalcon/falcon/client/spotlight_vulnerabilities"
	"github.com/go-openapi/runtime"
)

const pagePath = "/spotlight/combined/vulnerabilities/v1?filter=status:'open'&limit=5"

func TestFaultRateLimitEveryN(t *testing.T) {
	env := startSim(t, loadFixture(t), Options{Faults: Faults{RateLimitEvery: 3, RetryAfter: 5 * time.Second}})
	tok := token(t, env, DemoClientID, DemoClientSecret)
	var codes []int
	for i := 0; i < 6; i++ {
		resp, body := rawCall(t, env, "GET", pagePath, tok, nil)
		codes = append(codes, resp.StatusCode)
		if resp.Header.Get("X-RateLimit-Limit") == "" || resp.Header.Get("X-RateLimit-Remaining") == "" {
			t.Fatalf("request %d lacks X-RateLimit headers: %v", i, resp.Header)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			at, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-RetryAfter"), 10, 64)
			if err != nil || at < time.Now().Add(4*time.Second).Unix() {
				t.Fatalf("X-RateLimit-RetryAfter = %q", resp.Header.Get("X-RateLimit-RetryAfter"))
			}
			if resp.Header.Get("X-RateLimit-Remaining") != "0" || body.Errors[0].Code == nil || *body.Errors[0].Code != 429 {
				t.Fatalf("429 envelope: %v %+v", resp.Header, body.Errors)
			}
		}
	}
	want := []int{200, 200, 429, 200, 200, 429}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("codes = %v, want %v", codes, want)
		}
	}
	// gofalcon decodes the 429 with its headers
	if err := env.srv.SetFaults(Faults{RateLimitEvery: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := env.api.SpotlightVulnerabilities.CombinedQueryVulnerabilities(&spotlight_vulnerabilities.CombinedQueryVulnerabilitiesParams{Context: context.Background(), Filter: "status:'open'"})
	var tm *spotlight_vulnerabilities.CombinedQueryVulnerabilitiesTooManyRequests
	if !errors.As(err, &tm) || tm.XRateLimitRetryAfter < time.Now().Unix() || tm.XRateLimitLimit != 6000 {
		t.Fatalf("gofalcon 429: %v", err)
	}
	if env.srv.Stats().Faults["rate_limit"] != 3 {
		t.Fatalf("stats = %+v", env.srv.Stats().Faults)
	}
}

func TestFaultErrorRateDeterministic(t *testing.T) {
	codes := func() []int {
		env := startSim(t, loadFixture(t), Options{Faults: Faults{ErrorRate: 0.5, Seed: 42}})
		tok := token(t, env, DemoClientID, DemoClientSecret)
		var out []int
		for i := 0; i < 40; i++ {
			resp, _ := rawCall(t, env, "GET", pagePath, tok, nil)
			out = append(out, resp.StatusCode)
		}
		return out
	}
	a, b := codes(), codes()
	fails := map[int]int{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different faults: %v vs %v", a, b)
		}
		if a[i] != 200 {
			fails[a[i]]++
		}
	}
	n := fails[500] + fails[502] + fails[503]
	if n < 8 || n > 32 {
		t.Fatalf("error rate 0.5 gave %v over 40 requests", fails)
	}
	if fails[500] == 0 || fails[502] == 0 || fails[503] == 0 {
		t.Fatalf("expected a mix of 500/502/503, got %v", fails)
	}
}

func TestFaultTruncatedAndInvalidPages(t *testing.T) {
	env := startSim(t, loadFixture(t), Options{Faults: Faults{TruncatePage: 2, InvalidPage: 3}})
	get := func() error {
		_, err := env.api.SpotlightVulnerabilities.CombinedQueryVulnerabilities(&spotlight_vulnerabilities.CombinedQueryVulnerabilitiesParams{
			Context: context.Background(), Filter: "status:'open'", Limit: ptr(int64(5)), Facet: []string{"cve"},
		})
		return err
	}
	if err := get(); err != nil {
		t.Fatalf("page 1: %v", err)
	}
	if err := get(); err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("page 2 should be cut mid-JSON, got %v", err)
	}
	if err := get(); err == nil || !strings.Contains(err.Error(), "cannot unmarshal") {
		t.Fatalf("page 3 should have the wrong shape, got %v", err)
	}
	for i := 4; i <= 5; i++ {
		if err := get(); err != nil {
			t.Fatalf("page %d (faults fire once): %v", i, err)
		}
	}
	st := env.srv.Stats().Faults
	if st["truncate_page"] != 1 || st["invalid_page"] != 1 {
		t.Fatalf("stats = %v", st)
	}
}

func TestFaultLatencyAndControlEndpoint(t *testing.T) {
	env := startSim(t, loadFixture(t), Options{})
	body, _ := json.Marshal(Faults{Latency: 20 * time.Millisecond})
	resp, err := env.run.Client.Post(env.run.URL+"/_sim/faults", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /_sim/faults: %v %v", resp, err)
	}
	resp.Body.Close()
	if got := env.srv.CurrentFaults().Latency; got != 20*time.Millisecond {
		t.Fatalf("latency = %v", got)
	}
	tok := token(t, env, DemoClientID, DemoClientSecret)
	r, _ := rawCall(t, env, "GET", pagePath, tok, nil)
	if r.StatusCode != http.StatusOK || r.Header.Get("X-Sim-Injected-Latency") != "20ms" {
		t.Fatalf("latency header: %d %v", r.StatusCode, r.Header)
	}
	if env.srv.Stats().Faults["latency"] != 1 {
		t.Fatalf("stats = %v", env.srv.Stats().Faults)
	}
	bad, _ := json.Marshal(Faults{ErrorRate: 2})
	resp, err = env.run.Client.Post(env.run.URL+"/_sim/faults", "application/json", bytes.NewReader(bad))
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("invalid faults accepted: %v %v", resp, err)
	}
	resp.Body.Close()
	// oauth2 is never faulted
	if err := env.srv.SetFaults(Faults{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	_ = token(t, env, DemoClientID, DemoClientSecret)
	_, err = env.api.SpotlightVulnerabilities.CombinedQueryVulnerabilities(&spotlight_vulnerabilities.CombinedQueryVulnerabilitiesParams{Context: context.Background(), Filter: "status:'open'"})
	var apiErr *runtime.APIError
	var ise *spotlight_vulnerabilities.CombinedQueryVulnerabilitiesInternalServerError
	var su *spotlight_vulnerabilities.CombinedQueryVulnerabilitiesServiceUnavailable
	if !errors.As(err, &apiErr) && !errors.As(err, &ise) && !errors.As(err, &su) {
		t.Fatalf("error rate 1: %v", err)
	}
}

func TestBucketThrottles(t *testing.T) {
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	env := startSim(t, loadFixture(t), Options{RateLimitPerMinute: 3, Clock: func() time.Time { return now }})
	tok := token(t, env, DemoClientID, DemoClientSecret)
	var rem []string
	for i := 0; i < 4; i++ {
		resp, _ := rawCall(t, env, "GET", pagePath, tok, nil)
		rem = append(rem, strconv.Itoa(resp.StatusCode)+"/"+resp.Header.Get("X-RateLimit-Remaining"))
	}
	if got := strings.Join(rem, " "); got != "200/2 200/1 200/0 429/0" {
		t.Fatalf("bucket: %s", got)
	}
	if env.srv.Stats().Throttled != 1 {
		t.Fatalf("throttled = %d", env.srv.Stats().Throttled)
	}
}
