// Package localfalcon runs a Falcon tenant locally: the simulator serving a
// tenant over HTTPS on a loopback port, and the real Falcon client connected
// to it. The demo, the eval harness and the tests all go through here, so
// they exercise exactly the code path a real tenant does (TLS, OAuth2,
// gofalcon, pagination, retries).
package localfalcon

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/vulnpilot/vulnpilot/internal/cvedata"
	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/falconsim"
)

// Options configure Start.
type Options struct {
	// Logger receives the client's logs; the simulator logs only warnings.
	Logger *slog.Logger
	Faults falconsim.Faults
	// Client adjusts the client configuration (retries, delays); the
	// credentials, base URL and HTTP client are filled in by Start.
	Client falcon.Config
	// ClientID/ClientSecret override the demo credentials (tenants with
	// their own API clients).
	ClientID, ClientSecret string
}

// Conn is a running local tenant with a connected client.
type Conn struct {
	Client  *falcon.Client
	Server  *falconsim.Server
	Running *falconsim.Running
	Tenant  *falconsim.Tenant
	cancel  context.CancelFunc
}

// Start serves t (resolved against the bundled CVE data) and connects a
// client to it. Close stops both.
func Start(ctx context.Context, t *falconsim.Tenant, opts Options) (*Conn, error) {
	db, err := cvedata.Load()
	if err != nil {
		return nil, err
	}
	if err := t.Resolve(db); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv, err := falconsim.New(t, falconsim.Options{Logger: slog.New(quietHandler{log.Handler()}), Faults: opts.Faults})
	if err != nil {
		return nil, err
	}
	simCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	running, err := srv.StartTLS(simCtx, "127.0.0.1:0")
	if err != nil {
		cancel()
		return nil, fmt.Errorf("start simulator: %w", err)
	}
	cfg := opts.Client
	cfg.ClientID, cfg.ClientSecret = falconsim.DemoClientID, falconsim.DemoClientSecret
	if opts.ClientID != "" {
		cfg.ClientID, cfg.ClientSecret = opts.ClientID, opts.ClientSecret
	}
	cfg.BaseURL = running.URL
	cfg.HTTPClient = running.Client
	if cfg.Logger == nil {
		cfg.Logger = log
	}
	client, err := falcon.New(ctx, cfg)
	if err != nil {
		running.Close()
		cancel()
		return nil, err
	}
	return &Conn{Client: client, Server: srv, Running: running, Tenant: t, cancel: cancel}, nil
}

// StartGenerated generates a tenant and starts it.
func StartGenerated(ctx context.Context, gen falconsim.GenerateOptions, opts Options) (*Conn, error) {
	db, err := cvedata.Load()
	if err != nil {
		return nil, err
	}
	t, err := falconsim.Generate(gen, db)
	if err != nil {
		return nil, fmt.Errorf("generate tenant: %w", err)
	}
	return Start(ctx, t, opts)
}

// Close stops the simulator.
func (c *Conn) Close() {
	// Idle client connections would hold the server's shutdown for seconds.
	c.Client.Close()
	c.Running.Close()
	c.cancel()
}

// quietHandler passes only warnings and errors: the simulator is plumbing.
type quietHandler struct{ slog.Handler }

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(as)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name)}
}
