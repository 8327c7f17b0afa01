package falconsim

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/crowdstrike/gofalcon/falcon"
	"github.com/crowdstrike/gofalcon/falcon/client/spotlight_vulnerabilities"
	"github.com/vulnpilot/vulnpilot/internal/cvedata"
)

func TestServeFilePrintsEnvAndServes(t *testing.T) {
	ten := loadFixture(t)
	dir := t.TempDir()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	var serveErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		serveErr = ServeFile(ctx, ServeConfig{Tenant: ten, Addr: "127.0.0.1:0", CertDir: filepath.Join(dir, "certs"), Out: pw})
		pw.Close()
	}()
	env := map[string]string{}
	sc := bufio.NewScanner(pr)
	for len(env) < 4 && sc.Scan() {
		if kv, ok := strings.CutPrefix(sc.Text(), "export "); ok {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	go io.Copy(io.Discard, pr)
	defer func() { cancel(); wg.Wait() }()
	if env[EnvClientID] != DemoClientID || env[EnvClientSecret] != DemoClientSecret || !strings.HasPrefix(env[EnvBaseURL], "https://127.0.0.1:") {
		t.Fatalf("printed env = %v", env)
	}
	pemBytes, err := os.ReadFile(env[EnvCAFile])
	if err != nil {
		t.Fatalf("CA file: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "certs", "key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key.pem: %v %v", fi, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("CA file holds no certificate")
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.PostForm(env[EnvBaseURL]+"/oauth2/token", url.Values{"client_id": {env[EnvClientID]}, "client_secret": {env[EnvClientSecret]}})
	if err != nil {
		t.Fatalf("token over the printed env: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("token status %d", resp.StatusCode)
	}
	cancel()
	wg.Wait()
	if serveErr != nil {
		t.Fatalf("ServeFile: %v", serveErr)
	}
}

func TestServeFileNeedsATenant(t *testing.T) {
	err := ServeFile(context.Background(), ServeConfig{CertDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "TenantPath") {
		t.Fatalf("err = %v", err)
	}
}

// TestServesGeneratedTenant pulls every finding of the generator's small
// fixture through gofalcon.
func TestServesGeneratedTenant(t *testing.T) {
	ten, err := LoadTenant(filepath.Join("testdata", "gen", "tenant-small.json"))
	if err != nil {
		t.Fatalf("generated fixture: %v", err)
	}
	db, err := cvedata.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := ten.Resolve(db); err != nil {
		t.Fatal(err)
	}
	env := startSim(t, ten, Options{})
	seen := 0
	var after *string
	for {
		resp, err := env.api.SpotlightVulnerabilities.CombinedQueryVulnerabilities(&spotlight_vulnerabilities.CombinedQueryVulnerabilitiesParams{
			Context: context.Background(), Filter: "created_timestamp:>'1990-01-01'", Facet: []string{"cve", "host_info", "remediation"}, Limit: ptr(int64(500)), After: after,
		})
		if err != nil {
			t.Fatal(falcon.ErrorExplain(err))
		}
		seen += len(resp.Payload.Resources)
		if *resp.Payload.Meta.Pagination.After == "" {
			break
		}
		after = resp.Payload.Meta.Pagination.After
	}
	if seen != len(ten.Findings) || seen == 0 {
		t.Fatalf("pulled %d findings, tenant has %d", seen, len(ten.Findings))
	}
}
