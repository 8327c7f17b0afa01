// Command vulnpilot turns CrowdStrike Falcon Spotlight findings into a
// risk-prioritized, explained remediation plan. This package only wires
// flags, environment and configuration to the internal packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/vulnpilot/vulnpilot/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// app is one invocation: its streams and environment, so tests can run the
// CLI in-process.
type app struct {
	stdout, stderr io.Writer
	env            config.Env
	// isTerminal reports whether stderr is a terminal (progress bars).
	isTerminal bool
}

type command struct {
	summary string
	run     func(ctx context.Context, a *app, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"eval":    {"measure prioritization on labelled scenarios against baselines; --real-data: the exploitation model's report", cmdEval},
		"model":   {"the exploitation-likelihood model: model train retrains it reproducibly", cmdModel},
		"run":     {"pull, score and prioritize findings into a remediation queue", cmdRun},
		"serve":   {"MCP server for Claude Desktop, ChatGPT and other MCP clients (stdio, or HTTP with bearer tokens)", cmdServe},
		"sim":     {"the offline Falcon simulator: generate a tenant, serve it over HTTPS", cmdSim},
		"tools":   {"list the MCP tools with scopes and annotations (--markdown: the README table)", cmdTools},
		"version": {"print the version", cmdVersion},
		"bench":   {"performance benchmarks against the simulator (bench fetch: 1M findings)", cmdBench},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{stdout: os.Stdout, stderr: os.Stderr, env: os.LookupEnv, isTerminal: stderrIsTerminal()}
	os.Exit(a.main(ctx, os.Args[1:]))
}

// usageError is a bad invocation: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func (a *app) main(ctx context.Context, args []string) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		a.usage(cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(a.stderr, "vulnpilot: unknown command %q; commands: %s\n", args[0], strings.Join(sortedKeys(cmds), ", "))
		return 2
	}
	err := c.run(ctx, a, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(a.stderr, "vulnpilot %s: %s\n", args[0], err)
		return 2
	}
	var ec exitCode
	if errors.As(err, &ec) {
		return int(ec)
	}
	fmt.Fprintf(a.stderr, "vulnpilot %s: %s\n", args[0], err)
	return 1
}

// exitCode ends a command with a status and no further message (the command
// already explained itself).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func (a *app) usage(cmds map[string]command) {
	fmt.Fprintf(a.stderr, "vulnpilot — risk-prioritized remediation for CrowdStrike Falcon Spotlight\n\nUsage: vulnpilot <command> [flags]\n\nCommands:\n")
	for _, k := range sortedKeys(cmds) {
		fmt.Fprintf(a.stderr, "  %-9s %s\n", k, cmds[k].summary)
	}
	fmt.Fprintf(a.stderr, "\nRun 'vulnpilot <command> -h' for the command's flags. Configuration: --config FILE, or the first of %s.\n",
		strings.Join(config.SearchPath(func(string) (string, bool) { return "", false }), ", "))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func cmdVersion(_ context.Context, a *app, _ []string) error {
	fmt.Fprintf(a.stdout, "vulnpilot %s\n", version)
	return nil
}

// newFlagSet returns a FlagSet that reports errors instead of exiting.
func (a *app) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "Usage: vulnpilot %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; a bad flag is a usage error.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// logger builds the process logger: text for terminals, JSON for servers.
func (a *app) logger(cfg config.Config, forceJSON bool) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if forceJSON || strings.EqualFold(cfg.Log.Format, "json") {
		return slog.New(slog.NewJSONHandler(a.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(a.stderr, opts))
}
