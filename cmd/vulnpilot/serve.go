package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/vulnpilot/vulnpilot/internal/config"
	"github.com/vulnpilot/vulnpilot/internal/falconsim"
	"github.com/vulnpilot/vulnpilot/internal/fql"
	"github.com/vulnpilot/vulnpilot/internal/governance"
	"github.com/vulnpilot/vulnpilot/internal/mcpserver"
	"github.com/vulnpilot/vulnpilot/internal/risk"
	"github.com/vulnpilot/vulnpilot/internal/snapshot"
	"github.com/vulnpilot/vulnpilot/tools"
)

const serveSynopsis = `serve [--transport stdio|http] [--demo] [--addr HOST:PORT] [--toolsets a,b] [--tools x,y] [--exclude-tools z] [--read-only] [flags]
       vulnpilot serve --new-token | --hash-token

Serves vulnpilot's tools over MCP. stdio is for local clients such as Claude Desktop and runs as server.stdio's identity
(default: "local", role analyst). http serves streamable HTTP at /mcp (plus /healthz and /metrics) and requires
"Authorization: Bearer <token>" with a token whose SHA-256 is listed in server.tokens.

Tool selection (flags > VULNPILOT_MCP_* environment > config file > defaults), applied in this order, later steps win:
  1. --toolsets picks toolsets (default all)   2. --tools adds single tools
  3. --exclude-tools removes tools             4. --read-only removes every tool that is not read-only
Unknown toolset or tool names stop start-up with the list of valid names.`

func cmdServe(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("serve", serveSynopsis)
	var common commonFlags
	common.register(fs)
	transport := fs.String("transport", "", "stdio or http (default: server.transport, else stdio)")
	addr := fs.String("addr", "", "HTTP listen address (default: server.addr, else "+config.DefaultServerAddr+")")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (PEM); with --tls-key serves HTTPS")
	tlsKey := fs.String("tls-key", "", "TLS private key file (PEM)")
	refresh := fs.Duration("refresh", config.DefaultServerRefresh, "how often the risk snapshot is rebuilt; 0 = never")
	scope := fs.String("scope", "", "FQL filter ANDed to the snapshot pull (default: server.scope, else run.filter)")
	toolsets := fs.String("toolsets", "", "comma-separated toolsets to serve: all, falcon, risk (default all)")
	toolList := fs.String("tools", "", "comma-separated tools to serve in addition to --toolsets")
	exclude := fs.String("exclude-tools", "", "comma-separated tools never to serve")
	readOnly := fs.Bool("read-only", false, "serve only read-only tools")
	demo := fs.Bool("demo", false, "serve the built-in simulated Falcon tenant (no credentials needed)")
	demoHosts := fs.Int("demo-hosts", 300, "hosts in the --demo tenant")
	demoSeed := fs.Int64("demo-seed", 7, "seed of the --demo tenant")
	newToken := fs.Bool("new-token", false, "print a new random bearer token and the sha256 line for server.tokens, then exit")
	hashToken := fs.Bool("hash-token", false, "read a bearer token from stdin and print its sha256 for server.tokens, then exit")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *newToken:
		tok, err := governance.NewToken()
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "token:  %s\nsha256: %s\n\nGive the token to its holder once; put only the sha256 in server.tokens:\n  - {name: <holder>, role: analyst, sha256: %s}\n",
			tok, governance.HashToken(tok), governance.HashToken(tok))
		return nil
	case *hashToken:
		tok, err := readToken()
		if err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, governance.HashToken(tok))
		return nil
	}

	cfg, err := common.load(a)
	if err != nil {
		return err
	}
	sc := cfg.Server
	if err := sc.ApplyEnv(a.env); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["transport"] {
		sc.Transport = *transport
	}
	if set["addr"] {
		sc.Addr = *addr
	}
	if set["tls-cert"] {
		sc.TLSCert = *tlsCert
	}
	if set["tls-key"] {
		sc.TLSKey = *tlsKey
	}
	if set["refresh"] {
		sc.Refresh = *refresh
		if sc.Refresh == 0 {
			sc.Refresh = -1 // never (WithDefaults turns 0 into the default)
		}
	}
	if set["scope"] {
		sc.Scope = *scope
	}
	if set["toolsets"] {
		sc.Toolsets = config.SplitList(*toolsets)
	}
	if set["tools"] {
		sc.Tools = config.SplitList(*toolList)
	}
	if set["exclude-tools"] {
		sc.ExcludeTools = config.SplitList(*exclude)
	}
	if set["read-only"] {
		sc.ReadOnly = *readOnly
	}
	sc = sc.WithDefaults()
	roles, tokens, err := sc.Validate()
	if err != nil {
		return usageError{strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	if sc.Scope == "" {
		sc.Scope = cfg.Run.Filter
	}
	if _, err := fql.Parse(sc.Scope); err != nil {
		return usageError{fmt.Sprintf("--scope / server.scope: %v", err)}
	}

	// stdout is the protocol stream on stdio: logs go to stderr, as JSON
	// when a program (not a person) is reading them.
	log := a.logger(cfg, sc.Transport == "http" && !a.isTerminal)
	deps, err := loadEngine(ctx, cfg)
	if err != nil {
		return err
	}
	policyYAML := risk.DefaultPolicyYAML()
	if cfg.Policy != "" {
		if policyYAML, err = os.ReadFile(cfg.Policy); err != nil {
			return err
		}
	}
	now := func() time.Time { return time.Now().UTC() }
	var src sourceConn
	if *demo {
		// The simulated tenant lives at its own "present" (the bundled CVE
		// data ends in 2024); it is assessed at that time.
		demoNow := falconsim.DefaultGenerateNow()
		now = func() time.Time { return demoNow }
		src, err = startDemo(ctx, demoOptions{Hosts: *demoHosts, Seed: *demoSeed, Now: demoNow}, log)
	} else {
		src, err = connectFalcon(ctx, cfg, log)
	}
	if err != nil {
		return err
	}
	defer src.close()

	filter := andFilter(sc.Scope, "status:['open','reopen']")
	build := func(ctx context.Context) (*snapshot.Snapshot, error) {
		opts := snapshot.Options{
			Engine: deps.engine, Feeds: deps.feeds, Model: deps.model, Now: now(),
			AlertsLookback: cfg.Run.AlertsLookback, Progress: logProgress(log),
			FalconLabel: src.label, PolicyLabel: deps.policyLabel,
		}
		opts.Plan.FleetMinHosts = cfg.Run.FleetMinHosts
		return snapshot.Build(ctx, src.client, filter, opts)
	}
	snaps := tools.NewSnapshots(build, log)
	metrics := mcpserver.NewMetrics(snaps)
	reg, err := tools.New(tools.Deps{Falcon: src.client, Snapshots: snaps, Logger: log}, tools.Options{
		Selection: tools.Selection{Toolsets: sc.Toolsets, Tools: sc.Tools, ExcludeTools: sc.ExcludeTools, ReadOnly: sc.ReadOnly},
		Observer:  metrics,
	})
	if err != nil {
		return usageError{strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	srv, err := mcpserver.New(mcpserver.Options{Registry: reg, Snapshots: snaps, PolicyYAML: policyYAML, PolicyLabel: deps.policyLabel,
		Version: version, Logger: log, Metrics: metrics})
	if err != nil {
		return err
	}
	names := make([]string, 0, len(reg.Tools()))
	for _, t := range reg.Tools() {
		names = append(names, t.Name)
	}
	log.Info("vulnpilot MCP server starting", "transport", sc.Transport, "falcon", src.label, "tools", strings.Join(names, ","),
		"refresh", sc.Refresh.String(), "scope", sc.Scope)

	// Serve at once; the first snapshot builds in the background (risk
	// tools answer "still being built" until it is ready) and is then
	// rebuilt every sc.Refresh without blocking readers.
	var wg sync.WaitGroup
	bgCtx, stopBG := context.WithCancel(ctx)
	defer func() { stopBG(); wg.Wait() }()
	wg.Go(func() {
		_ = snaps.Refresh(bgCtx)
		snaps.Run(bgCtx, sc.Refresh)
	})

	if sc.Transport == "stdio" {
		id, err := roles.Identity(sc.Stdio.Name, sc.Stdio.Role, "stdio")
		if err != nil {
			return err
		}
		log.Info("serving MCP on stdio", "identity", id.Name, "role", id.Role)
		return srv.ServeStdio(ctx, os.Stdin, a.stdout, id)
	}
	o := mcpserver.HTTPOptions{
		Addr: sc.Addr, TLSCert: sc.TLSCert, TLSKey: sc.TLSKey, Tokens: tokens, PublicURL: sc.PublicURL,
		AllowedHosts: sc.AllowedHosts, AllowedOrigins: sc.AllowedOrigins,
		OAuth: mcpserver.OAuth{AuthorizationServers: sc.OAuth.AuthorizationServers, ScopesSupported: sc.OAuth.ScopesSupported, Documentation: sc.OAuth.Documentation},
	}
	return srv.ListenAndServe(ctx, o, func(addr net.Addr) {
		scheme := "http"
		if sc.TLSCert != "" {
			scheme = "https"
		}
		log.Info("serving MCP over HTTP", "url", scheme+"://"+addr.String()+mcpserver.PathMCP, "tokens", tokens.Len(),
			"health", mcpserver.PathHealth, "metrics", mcpserver.PathMetrics)
	})
}

func andFilter(a, b string) string {
	switch {
	case strings.TrimSpace(a) == "":
		return b
	case b == "":
		return a
	}
	return "(" + a + ")+" + b
}

// logProgress reports the pull in the log every 10% (a server has no
// progress bar).
func logProgress(log *slog.Logger) func(fetched, total int64) {
	var mu sync.Mutex
	next := int64(-1)
	return func(fetched, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if total <= 0 {
			return
		}
		step := max(total/10, 1)
		if next < 0 {
			next = step
		}
		if fetched >= next || fetched == total {
			log.Info("pulling findings", "fetched", fetched, "total", total)
			next = (fetched/step + 1) * step
		}
	}
}

// readToken reads one bearer token from stdin without echo on a terminal.
func readToken() (string, error) {
	var tok string
	if term.IsTerminal(int(os.Stdin.Fd())) {
		fmt.Fprint(os.Stderr, "bearer token: ")
		b, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", err
		}
		tok = string(b)
	} else {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", errors.New("--hash-token: no token on stdin")
		}
		tok = line
	}
	tok = strings.TrimSpace(tok)
	if len(tok) < 16 {
		return "", errors.New("--hash-token: a bearer token must be at least 16 characters (vulnpilot serve --new-token makes one)")
	}
	return tok, nil
}
