// Package config loads vulnpilot's configuration: a YAML file plus
// environment variables that follow the Falcon conventions (FALCON_CLIENT_ID,
// FALCON_CLIENT_SECRET, FALCON_CLOUD or FALCON_BASE_URL, FALCON_MEMBER_CID).
// Environment variables override the file; flags (applied by the caller)
// override both.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
)

// Config is the whole configuration. The zero value plus Defaults() is valid
// for demo use.
type Config struct {
	Falcon  Falcon `yaml:"falcon"`
	DataDir string `yaml:"data_dir"`
	// Policy is the path of a risk policy YAML; empty means the built-in defaults.
	Policy string `yaml:"policy"`
	Intel  Intel  `yaml:"intel"`
	Run    Run    `yaml:"run"`
	Log    Log    `yaml:"log"`
	Server Server `yaml:"server"` // vulnpilot serve (server.go)

	// Source is where the configuration came from (file path or "defaults"),
	// for messages.
	Source string `yaml:"-"`
}

// Falcon holds API credentials and the cloud to talk to.
type Falcon struct {
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"client_secret"`
	Cloud        string `yaml:"cloud"`
	BaseURL      string `yaml:"base_url"`
	MemberCID    string `yaml:"member_cid"`
	CAFile       string `yaml:"ca_file"`
}

// Intel configures the threat feeds.
type Intel struct {
	// KEV is a file path or http(s) URL of the CISA KEV JSON; empty uses the
	// bundled snapshot.
	KEV string `yaml:"kev"`
	// EPSS is a file path or URL of FIRST's EPSS CSV (gz or plain); empty
	// means EPSS is not used and every CVE's EPSS is "unknown".
	EPSS string `yaml:"epss"`
}

// Run configures `vulnpilot run`.
type Run struct {
	// Filter is an optional FQL scope ANDed to every pull (e.g. a host
	// group); the open-status condition is added by the run itself.
	Filter         string        `yaml:"filter"`
	Top            int           `yaml:"top"`
	FleetMinHosts  int           `yaml:"fleet_min_hosts"`
	AlertsLookback time.Duration `yaml:"alerts_lookback"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

// Secret is a string that never prints.
type Secret string

// String redacts the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString redacts the secret in %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalYAML redacts the secret, so dumping a config never leaks it.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// Reveal returns the secret for the one place that needs it: the API client.
func (s Secret) Reveal() string { return string(s) }

// Defaults returns the built-in configuration.
func Defaults() Config {
	return Config{
		Falcon: Falcon{Cloud: "us-1"},
		Run: Run{
			Filter:         "",
			Top:            20,
			FleetMinHosts:  10,
			AlertsLookback: 30 * 24 * time.Hour,
		},
		Log:    Log{Level: "info", Format: "text"},
		Source: "defaults",
	}
}

// Env is the environment as a lookup function (os.LookupEnv in production).
type Env func(string) (string, bool)

// SearchPath lists where Load looks for a config file when none is given, in
// order: $VULNPILOT_CONFIG, ./vulnpilot.yaml, $XDG_CONFIG_HOME/vulnpilot/config.yaml
// (default ~/.config/vulnpilot/config.yaml).
func SearchPath(env Env) []string {
	var paths []string
	if p, ok := env("VULNPILOT_CONFIG"); ok && p != "" {
		paths = append(paths, p)
	}
	paths = append(paths, "vulnpilot.yaml")
	if dir := xdgDir(env, "XDG_CONFIG_HOME", ".config"); dir != "" {
		paths = append(paths, filepath.Join(dir, "vulnpilot", "config.yaml"))
	}
	return paths
}

// Load reads the config file at path (or the first file of SearchPath that
// exists when path is empty; no file at all means defaults), applies the
// environment, fills the data dir, and validates.
func Load(path string, env Env) (Config, error) {
	cfg := Defaults()
	explicit := path != ""
	if !explicit {
		for _, p := range SearchPath(env) {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := decode(b, &cfg); err != nil {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
		cfg.Source = path
	}
	cfg.applyEnv(env)
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir(env)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", cfg.Source, err)
	}
	return cfg, nil
}

func decode(b []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		if errors.Is(err, io.EOF) { // an empty file is a valid, empty config
			return nil
		}
		return fmt.Errorf("invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}

func (c *Config) applyEnv(env Env) {
	set := func(dst *string, name string) {
		if v, ok := env(name); ok && v != "" {
			*dst = v
		}
	}
	set(&c.Falcon.ClientID, "FALCON_CLIENT_ID")
	if v, ok := env("FALCON_CLIENT_SECRET"); ok && v != "" {
		c.Falcon.ClientSecret = Secret(v)
	}
	set(&c.Falcon.Cloud, "FALCON_CLOUD")
	set(&c.Falcon.BaseURL, "FALCON_BASE_URL")
	set(&c.Falcon.MemberCID, "FALCON_MEMBER_CID")
	set(&c.Falcon.CAFile, "VULNPILOT_FALCON_CA_FILE")
	set(&c.DataDir, "VULNPILOT_DATA_DIR")
	set(&c.Policy, "VULNPILOT_POLICY")
	set(&c.Intel.KEV, "VULNPILOT_KEV")
	set(&c.Intel.EPSS, "VULNPILOT_EPSS")
	set(&c.Log.Level, "VULNPILOT_LOG_LEVEL")
	set(&c.Log.Format, "VULNPILOT_LOG_FORMAT")
}

// Validate checks every field; the error names the field and what is allowed.
func (c *Config) Validate() error {
	var errs []error
	if c.Falcon.Cloud != "" && !slices.Contains(falcon.Clouds, strings.ToLower(c.Falcon.Cloud)) {
		errs = append(errs, fmt.Errorf("falcon.cloud (FALCON_CLOUD): %q is not one of %s", c.Falcon.Cloud, strings.Join(falcon.Clouds, ", ")))
	}
	if c.Falcon.BaseURL != "" {
		u, err := url.Parse(c.Falcon.BaseURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("falcon.base_url (FALCON_BASE_URL): %q must be an https URL such as https://api.crowdstrike.com", c.Falcon.BaseURL))
		}
	}
	if (c.Falcon.ClientID == "") != (c.Falcon.ClientSecret == "") {
		missing := "falcon.client_secret (FALCON_CLIENT_SECRET)"
		if c.Falcon.ClientID == "" {
			missing = "falcon.client_id (FALCON_CLIENT_ID)"
		}
		errs = append(errs, fmt.Errorf("%s is empty: set both the client id and the client secret, or neither (for --demo)", missing))
	}
	if c.Run.Top < 1 || c.Run.Top > 10000 {
		errs = append(errs, fmt.Errorf("run.top: %d is out of range 1–10000", c.Run.Top))
	}
	if c.Run.FleetMinHosts < 2 || c.Run.FleetMinHosts > 1000000 {
		errs = append(errs, fmt.Errorf("run.fleet_min_hosts: %d is out of range 2–1000000", c.Run.FleetMinHosts))
	}
	if c.Run.AlertsLookback < 0 {
		errs = append(errs, fmt.Errorf("run.alerts_lookback: %s must not be negative (e.g. 720h)", c.Run.AlertsLookback))
	}
	levels := []string{"debug", "info", "warn", "error"}
	if !slices.Contains(levels, strings.ToLower(c.Log.Level)) {
		errs = append(errs, fmt.Errorf("log.level (VULNPILOT_LOG_LEVEL): %q is not one of %s", c.Log.Level, strings.Join(levels, ", ")))
	}
	formats := []string{"text", "json"}
	if !slices.Contains(formats, strings.ToLower(c.Log.Format)) {
		errs = append(errs, fmt.Errorf("log.format (VULNPILOT_LOG_FORMAT): %q is not one of %s", c.Log.Format, strings.Join(formats, ", ")))
	}
	return errors.Join(errs...)
}

// HasCredentials reports whether Falcon API credentials are configured.
func (c *Config) HasCredentials() bool {
	return c.Falcon.ClientID != "" && c.Falcon.ClientSecret != ""
}

// DefaultDataDir is $XDG_DATA_HOME/vulnpilot (default ~/.local/share/vulnpilot).
func DefaultDataDir(env Env) string {
	dir := xdgDir(env, "XDG_DATA_HOME", filepath.Join(".local", "share"))
	if dir == "" {
		return filepath.Join(os.TempDir(), "vulnpilot")
	}
	return filepath.Join(dir, "vulnpilot")
}

func xdgDir(env Env, name, homeRel string) string {
	if v, ok := env(name); ok && filepath.IsAbs(v) {
		return v
	}
	home, ok := env("HOME")
	if !ok || home == "" {
		return ""
	}
	return filepath.Join(home, homeRel)
}
