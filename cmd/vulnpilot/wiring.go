package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/config"
	"github.com/vulnpilot/vulnpilot/internal/exploitmodel"
	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/falconsim"
	"github.com/vulnpilot/vulnpilot/internal/intel"
	"github.com/vulnpilot/vulnpilot/internal/localfalcon"
	"github.com/vulnpilot/vulnpilot/internal/risk"
)

// engineDeps are the scoring components a command needs.
type engineDeps struct {
	engine      *risk.Engine
	feeds       *intel.Feeds
	model       *exploitmodel.Model
	policyLabel string
}

func loadEngine(ctx context.Context, cfg config.Config) (engineDeps, error) {
	var d engineDeps
	pol := risk.DefaultPolicy()
	d.policyLabel = "built-in default policy"
	if cfg.Policy != "" {
		p, err := risk.LoadPolicy(cfg.Policy)
		if err != nil {
			return d, err
		}
		pol = p
		d.policyLabel = cfg.Policy
	}
	eng, err := risk.NewEngine(pol)
	if err != nil {
		return d, err
	}
	d.engine = eng
	if d.feeds, err = intel.LoadFeeds(ctx, cfg.Intel.KEV, cfg.Intel.EPSS); err != nil {
		return d, err
	}
	if d.model, err = exploitmodel.Bundled(); err != nil {
		return d, fmt.Errorf("exploitation model: %w", err)
	}
	return d, nil
}

// sourceConn is a connected Falcon API (real or simulated).
type sourceConn struct {
	client    *falcon.Client
	tenantKey string
	label     string
	close     func()
}

func connectFalcon(ctx context.Context, cfg config.Config, log *slog.Logger) (sourceConn, error) {
	if !cfg.HasCredentials() {
		return sourceConn{}, errors.New("no Falcon API credentials: set FALCON_CLIENT_ID and FALCON_CLIENT_SECRET (and FALCON_CLOUD or FALCON_BASE_URL), or use --demo for the built-in simulated tenant")
	}
	fc := falcon.Config{
		ClientID:     cfg.Falcon.ClientID,
		ClientSecret: cfg.Falcon.ClientSecret.Reveal(),
		Cloud:        cfg.Falcon.Cloud,
		BaseURL:      cfg.Falcon.BaseURL,
		MemberCID:    cfg.Falcon.MemberCID,
		CAFile:       cfg.Falcon.CAFile,
		UserAgent:    "vulnpilot/" + version,
		Logger:       log,
	}
	client, err := falcon.New(ctx, fc)
	if err != nil {
		return sourceConn{}, err
	}
	where := cfg.Falcon.BaseURL
	if where == "" {
		where = "Falcon cloud " + cfg.Falcon.Cloud
	}
	return sourceConn{
		client:    client,
		tenantKey: tenantKey(where, cfg.Falcon.ClientID, cfg.Falcon.MemberCID),
		label:     where,
		close:     func() {},
	}, nil
}

// tenantKey identifies a tenant in the state store without storing the
// client id in clear.
func tenantKey(where, clientID, memberCID string) string {
	h := sha256.Sum256([]byte(where + "\x00" + clientID + "\x00" + memberCID))
	return "t-" + hex.EncodeToString(h[:8])
}

type demoOptions struct {
	Hosts int
	Seed  int64
	Now   time.Time
}

// startDemo generates a tenant, serves it with the simulator on a loopback
// port over HTTPS, and connects the real Falcon client to it — the demo
// exercises exactly the code path a real tenant does.
func startDemo(ctx context.Context, o demoOptions, log *slog.Logger) (sourceConn, error) {
	if o.Hosts < 1 || o.Hosts > 100000 {
		return sourceConn{}, usageError{fmt.Sprintf("--demo-hosts %d is out of range 1–100000", o.Hosts)}
	}
	conn, err := localfalcon.StartGenerated(ctx, falconsim.GenerateOptions{Hosts: o.Hosts, Seed: o.Seed, Now: o.Now},
		localfalcon.Options{Logger: log, Client: falcon.Config{UserAgent: "vulnpilot/" + version}})
	if err != nil {
		return sourceConn{}, err
	}
	return sourceConn{
		client:    conn.Client,
		tenantKey: tenantKey("sim:"+conn.Tenant.CID, falconsim.DemoClientID, ""),
		label:     fmt.Sprintf("simulated tenant (demo: %d hosts, seed %d)", o.Hosts, o.Seed),
		close:     conn.Close,
	}, nil
}
