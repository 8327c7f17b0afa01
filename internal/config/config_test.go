package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func envOf(m map[string]string) Env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFileThenEnvOverrides(t *testing.T) {
	p := writeFile(t, `
falcon:
  client_id: file-id
  client_secret: file-secret
  cloud: eu-1
run:
  top: 5
  alerts_lookback: 48h
`)
	cfg, err := Load(p, envOf(map[string]string{"FALCON_CLOUD": "us-2", "HOME": "/home/u"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Falcon.ClientID != "file-id" || cfg.Falcon.ClientSecret.Reveal() != "file-secret" {
		t.Errorf("credentials from file not loaded: %+v", cfg.Falcon)
	}
	if cfg.Falcon.Cloud != "us-2" {
		t.Errorf("FALCON_CLOUD should override the file, got %q", cfg.Falcon.Cloud)
	}
	if cfg.Run.Top != 5 || cfg.Run.AlertsLookback != 48*time.Hour {
		t.Errorf("run section not loaded: %+v", cfg.Run)
	}
	if cfg.Run.FleetMinHosts != 10 {
		t.Errorf("unset keys keep defaults, got fleet_min_hosts=%d", cfg.Run.FleetMinHosts)
	}
	if cfg.DataDir != "/home/u/.local/share/vulnpilot" {
		t.Errorf("data dir default = %q", cfg.DataDir)
	}
	if cfg.Source != p {
		t.Errorf("source = %q", cfg.Source)
	}
}

func TestDataDirPrecedence(t *testing.T) {
	cfg, err := Load("", envOf(map[string]string{"HOME": t.TempDir(), "XDG_DATA_HOME": "/xdg", "VULNPILOT_DATA_DIR": "/explicit"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/explicit" {
		t.Errorf("VULNPILOT_DATA_DIR must win, got %q", cfg.DataDir)
	}
	cfg, err = Load("", envOf(map[string]string{"HOME": t.TempDir(), "XDG_DATA_HOME": "/xdg"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/xdg/vulnpilot" {
		t.Errorf("XDG_DATA_HOME ignored: %q", cfg.DataDir)
	}
}

func TestSearchPathFindsXDGConfig(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, ".config", "vulnpilot")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("run:\n  top: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // no ./vulnpilot.yaml here
	cfg, err := Load("", envOf(map[string]string{"HOME": home}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Run.Top != 7 {
		t.Errorf("config from ~/.config/vulnpilot/config.yaml not used: top=%d source=%s", cfg.Run.Top, cfg.Source)
	}
}

func TestInvalidConfigErrorsNameFieldAndAllowed(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string
	}{
		{"bad cloud", "falcon:\n  cloud: mars-1\n", nil, []string{"falcon.cloud", "mars-1", "us-1, us-2, eu-1"}},
		{"bad cloud env", "", map[string]string{"FALCON_CLOUD": "xx"}, []string{"FALCON_CLOUD", `"xx"`}},
		{"http base url", "falcon:\n  base_url: http://example.com\n", nil, []string{"falcon.base_url", "https"}},
		{"id without secret", "falcon:\n  client_id: abc\n", nil, []string{"falcon.client_secret", "FALCON_CLIENT_SECRET"}},
		{"top range", "run:\n  top: 0\n", nil, []string{"run.top", "1–10000"}},
		{"unknown key", "falcon:\n  clientid: x\n", nil, []string{"clientid", "not found"}},
		{"bad level", "log:\n  level: loud\n", nil, []string{"log.level", "debug, info, warn, error"}},
		{"bad duration", "run:\n  alerts_lookback: soon\n", nil, []string{"invalid YAML"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, tt.yaml)
			env := map[string]string{"HOME": "/h"}
			for k, v := range tt.env {
				env[k] = v
			}
			_, err := Load(p, envOf(env))
			if err == nil {
				t.Fatal("expected an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	cfg := Defaults()
	cfg.Falcon.ClientID = "id"
	cfg.Falcon.ClientSecret = "s3cr3t-value"
	for _, s := range []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(cfg.Falcon.ClientSecret)} {
		if strings.Contains(s, "s3cr3t-value") {
			t.Fatalf("secret leaked in %q", s)
		}
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cr3t-value") {
		t.Fatalf("secret leaked in YAML dump:\n%s", out)
	}
}

func TestEmptyFileIsDefaults(t *testing.T) {
	cfg, err := Load(writeFile(t, ""), envOf(map[string]string{"HOME": "/h"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Run.Top != 20 || cfg.HasCredentials() {
		t.Errorf("unexpected %+v", cfg.Run)
	}
}
