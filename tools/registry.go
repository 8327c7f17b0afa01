// Package tools is vulnpilot's tool registry: every capability an MCP
// client or the built-in agent can call, declared once. A tool is one
// value — name, toolset, required scope, explicit annotations, a typed
// arguments struct whose tags give both the JSON schema and the validation,
// and a handler — and every call goes through Registry.Call, which
// authorizes, validates, runs, observes and audits it whatever the
// transport. Results are compact JSON plus a one-paragraph summary; every
// list is bounded and pages with an opaque cursor.
package tools

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/falcon"
	"github.com/vulnpilot/vulnpilot/internal/governance"
)

// Hint is a tool annotation value. The zero value is Unset, which the
// registry refuses: every tool states every hint on purpose.
type Hint int8

// Hint values.
const (
	Unset Hint = iota
	Yes
	No
)

// Bool returns the hint as a bool (Unset is false).
func (h Hint) Bool() bool { return h == Yes }

func (h Hint) String() string {
	switch h {
	case Yes:
		return "yes"
	case No:
		return "no"
	}
	return "unset"
}

// Annotations are the MCP tool hints.
type Annotations struct {
	ReadOnly    Hint // does not change its environment
	Destructive Hint // may destroy or overwrite (meaningful when not read-only)
	Idempotent  Hint // repeating a call has no further effect
	OpenWorld   Hint // talks to systems outside vulnpilot (Falcon)
}

func (a Annotations) complete() error {
	var missing []string
	for name, h := range map[string]Hint{"ReadOnly": a.ReadOnly, "Destructive": a.Destructive, "Idempotent": a.Idempotent, "OpenWorld": a.OpenWorld} {
		if h == Unset {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		return fmt.Errorf("annotations not set: %s", strings.Join(missing, ", "))
	}
	if a.ReadOnly == Yes && a.Destructive == Yes {
		return errors.New("a read-only tool cannot be destructive")
	}
	return nil
}

// Tool is one declared capability.
type Tool struct {
	Name        string
	Title       string
	Toolset     string
	Description string
	Scope       governance.Scope
	Annotations Annotations
	// FalconScopes are the Falcon API client scopes the tool needs (docs).
	FalconScopes []string

	spec *argSpec
	run  func(ctx context.Context, d *Deps, args reflect.Value) (*Result, error)
}

// InputSchema is the JSON schema of the tool's arguments.
func (t *Tool) InputSchema() json.RawMessage { return t.spec.schema }

// Meta is everything about a tool except its arguments and handler.
type Meta struct {
	Name, Title, Toolset, Description string
	Scope                             governance.Scope
	Annotations                       Annotations
	FalconScopes                      []string
}

// newTool declares a tool with typed arguments A. A bad declaration is a
// programming error: it panics, and the registry tests catch it.
func newTool[A any](m Meta, h func(ctx context.Context, d *Deps, args A) (*Result, error)) Tool {
	spec, err := specFor(reflect.TypeFor[A]())
	if err != nil {
		panic(fmt.Sprintf("tool %s: %v", m.Name, err))
	}
	return Tool{
		Name: m.Name, Title: m.Title, Toolset: m.Toolset, Description: m.Description, Scope: m.Scope,
		Annotations: m.Annotations, FalconScopes: m.FalconScopes, spec: spec,
		run: func(ctx context.Context, d *Deps, v reflect.Value) (*Result, error) {
			return h(ctx, d, v.Interface().(A))
		},
	}
}

// Toolset is a named group of tools.
type Toolset struct {
	Name        string
	Description string
	tools       func() []Tool
}

// toolsets are every toolset, in documentation order.
var toolsets = []Toolset{
	{Name: "falcon", Description: "live CrowdStrike Falcon look-ups: Spotlight findings, hosts, alerts, intel, remediations", tools: falconTools},
	{Name: "risk", Description: "vulnpilot's assessed risk view: the prioritized queue, explanations, threat-active CVEs, exposure", tools: riskTools},
}

// Toolsets returns the toolsets (without their tools).
func Toolsets() []Toolset {
	out := make([]Toolset, len(toolsets))
	for i, ts := range toolsets {
		out[i] = Toolset{Name: ts.Name, Description: ts.Description}
	}
	return out
}

// All returns every tool of every toolset, in documentation order.
func All() []Tool {
	var out []Tool
	for _, ts := range toolsets {
		out = append(out, ts.tools()...)
	}
	return out
}

// FalconAPI is the Falcon surface the falcon toolset calls; *falcon.Client
// implements it.
type FalconAPI interface {
	FindingsPage(ctx context.Context, filter, facets, sort string, limit int, after string) (falcon.Page, error)
	GetFindings(ctx context.Context, ids []string, facets []string) ([]falcon.Finding, error)
	QueryHosts(ctx context.Context, filter, sort string, limit, offset int) ([]string, int64, error)
	GetHosts(ctx context.Context, aids []string) ([]falcon.Host, error)
	QueryAlerts(ctx context.Context, filter, sort string, limit, offset int) ([]string, int64, error)
	GetAlerts(ctx context.Context, ids []string) ([]falcon.Alert, error)
	IntelForCVEs(ctx context.Context, cves []string) (map[string]falcon.IntelVuln, error)
	GetRemediations(ctx context.Context, ids []string) (map[string]falcon.Remediation, error)
}

// Deps are what handlers reach: the live Falcon API and the assessed
// snapshot. Either may be nil; a tool that needs a missing one fails with
// an "unavailable" error.
type Deps struct {
	Falcon    FalconAPI
	Snapshots *Snapshots
	Logger    *slog.Logger
}

// Observer sees every call's outcome ("ok" or an error kind) and duration,
// e.g. for Prometheus metrics. It must be safe for concurrent use.
type Observer interface {
	ObserveCall(tool, outcome string, d time.Duration)
}

// Selection chooses the tools a registry serves. Precedence, from first
// applied to last (later steps win):
//  1. Toolsets: the toolsets to enable; empty or "all" means every toolset.
//  2. Tools: individual tools added on top, whatever their toolset.
//  3. ExcludeTools: tools removed, even when steps 1 or 2 named them.
//  4. ReadOnly: every tool not annotated read-only is removed.
//
// An unknown toolset or tool name is an error listing the valid names.
type Selection struct {
	Toolsets     []string
	Tools        []string
	ExcludeTools []string
	ReadOnly     bool
}

// Registry serves the selected tools. It is immutable after New and safe
// for concurrent use.
type Registry struct {
	tools  []Tool
	byName map[string]int
	deps   Deps
	audit  governance.Auditor
	obs    Observer
	log    *slog.Logger
}

// Options configure New.
type Options struct {
	Selection Selection
	Auditor   governance.Auditor // nil: decisions are only logged
	Observer  Observer           // nil: none
}

// New builds a registry over deps serving the selected tools.
func New(deps Deps, opts Options) (*Registry, error) {
	all := All()
	if err := checkDeclarations(all); err != nil {
		return nil, err
	}
	selected, err := selectTools(all, opts.Selection)
	if err != nil {
		return nil, err
	}
	r := &Registry{tools: selected, byName: map[string]int{}, deps: deps, audit: opts.Auditor, obs: opts.Observer, log: deps.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	for i, t := range selected {
		r.byName[t.Name] = i
	}
	return r, nil
}

func checkDeclarations(all []Tool) error {
	var errs []error
	seen := map[string]bool{}
	for _, t := range all {
		if seen[t.Name] {
			errs = append(errs, fmt.Errorf("tool %s declared twice", t.Name))
		}
		seen[t.Name] = true
		if err := t.Annotations.complete(); err != nil {
			errs = append(errs, fmt.Errorf("tool %s: %w", t.Name, err))
		}
		if !slices.Contains(governance.AllScopes, t.Scope) {
			errs = append(errs, fmt.Errorf("tool %s: scope %q is not a governance scope", t.Name, t.Scope))
		}
		if t.Description == "" || t.Title == "" {
			errs = append(errs, fmt.Errorf("tool %s: title and description are required", t.Name))
		}
	}
	return errors.Join(errs...)
}

func selectTools(all []Tool, sel Selection) ([]Tool, error) {
	var setNames, toolNames []string
	for _, ts := range toolsets {
		setNames = append(setNames, ts.Name)
	}
	for _, t := range all {
		toolNames = append(toolNames, t.Name)
	}
	var errs []error
	sets := map[string]bool{}
	if len(sel.Toolsets) == 0 || slices.Contains(sel.Toolsets, "all") {
		for _, n := range setNames {
			sets[n] = true
		}
	}
	for _, n := range sel.Toolsets {
		if n == "all" {
			continue
		}
		if !slices.Contains(setNames, n) {
			errs = append(errs, fmt.Errorf("toolsets: unknown toolset %q; valid toolsets: all, %s", n, strings.Join(setNames, ", ")))
		}
		sets[n] = true
	}
	checkTools := func(field string, names []string) map[string]bool {
		m := map[string]bool{}
		for _, n := range names {
			if !slices.Contains(toolNames, n) {
				errs = append(errs, fmt.Errorf("%s: unknown tool %q; valid tools: %s", field, n, strings.Join(toolNames, ", ")))
			}
			m[n] = true
		}
		return m
	}
	add := checkTools("tools", sel.Tools)
	excl := checkTools("exclude-tools", sel.ExcludeTools)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var out []Tool
	for _, t := range all {
		if !(sets[t.Toolset] || add[t.Name]) || excl[t.Name] {
			continue
		}
		if sel.ReadOnly && t.Annotations.ReadOnly != Yes {
			continue
		}
		out = append(out, t)
	}
	return out, nil
}

// Tools returns the served tools, in documentation order.
func (r *Registry) Tools() []Tool { return slices.Clone(r.tools) }

// Lookup returns a served tool.
func (r *Registry) Lookup(name string) (Tool, bool) {
	i, ok := r.byName[name]
	if !ok {
		return Tool{}, false
	}
	return r.tools[i], true
}

// Allowed reports whether id may call the tool (for listing: the check
// that counts is the one in Call).
func (r *Registry) Allowed(id governance.Identity, name string) bool {
	t, ok := r.Lookup(name)
	return ok && governance.Authorize(id, "tool "+name, t.Scope) == nil
}

// Call runs one tool call for id: look-up, authorization, argument
// validation, the handler, then observation and audit. It always returns a
// Result; failures are Results with Error set.
func (r *Registry) Call(ctx context.Context, id governance.Identity, name string, args json.RawMessage) *Result {
	start := time.Now()
	t, ok := r.Lookup(name)
	if !ok {
		names := make([]string, len(r.tools))
		for i, t := range r.tools {
			names[i] = t.Name
		}
		res := errorResult(&ToolError{Kind: KindUnknownTool,
			Message: fmt.Sprintf("unknown tool %q; this server serves: %s", clean(name, 64), strings.Join(names, ", "))})
		r.observe(name, res, start)
		return res
	}
	action := "tool " + t.Name
	ev := governance.Event{Time: start.UTC(), Identity: id, Action: action, Scope: t.Scope, ArgsHash: argsHash(args)}
	if err := governance.Authorize(id, action, t.Scope); err != nil {
		res := errorResult(&ToolError{Kind: KindPermissionDenied, Message: err.Error()})
		ev.Decision = governance.DecisionDenied
		r.log.InfoContext(ctx, "tool call denied", "tool", t.Name, "identity", id.Name, "role", id.Role, "missing_scope", string(t.Scope))
		r.record(ctx, ev)
		r.observe(t.Name, res, start)
		return res
	}
	ev.Decision = governance.DecisionAllowed
	res := r.run(ctx, &t, args)
	ev.Outcome = res.Outcome()
	ev.Duration = time.Since(start)
	r.record(ctx, ev)
	r.observe(t.Name, res, start)
	return res
}

func (r *Registry) run(ctx context.Context, t *Tool, args json.RawMessage) (res *Result) {
	defer func() {
		if p := recover(); p != nil {
			r.log.ErrorContext(ctx, "tool panicked", "tool", t.Name, "panic", fmt.Sprint(p))
			res = errorResult(&ToolError{Kind: KindInternal, Message: "internal error in " + t.Name + " (logged on the server)"})
		}
	}()
	v, err := t.spec.decode(args)
	if err != nil {
		return errorResult(&ToolError{Kind: KindInvalidArguments, Message: "invalid arguments: " + strings.ReplaceAll(err.Error(), "\n", "; ")})
	}
	out, err := t.run(ctx, &r.deps, v)
	if err != nil {
		return errorResult(r.toolError(ctx, t.Name, err))
	}
	if out == nil {
		return errorResult(&ToolError{Kind: KindInternal, Message: "internal error in " + t.Name + ": no result"})
	}
	return out
}

func (r *Registry) toolError(ctx context.Context, tool string, err error) *ToolError {
	if te := classify(err); te != nil {
		return te
	}
	var apiErr *falcon.APIError
	if errors.As(err, &apiErr) {
		// APIError messages are written for operators, with the client
		// secret scrubbed from any server text.
		kind := KindUpstream
		if apiErr.Status == 400 {
			kind = KindInvalidArguments
		}
		return &ToolError{Kind: kind, Message: clean(apiErr.Error(), 2000)}
	}
	r.log.ErrorContext(ctx, "tool failed", "tool", tool, "err", err)
	return &ToolError{Kind: KindInternal, Message: "internal error in " + tool + " (logged on the server)"}
}

func (r *Registry) observe(tool string, res *Result, start time.Time) {
	if r.obs != nil {
		r.obs.ObserveCall(tool, res.Outcome(), time.Since(start))
	}
}

func (r *Registry) record(ctx context.Context, ev governance.Event) {
	if r.audit != nil {
		r.audit.Audit(ctx, ev)
	}
}

func argsHash(args json.RawMessage) string {
	if len(args) == 0 {
		return ""
	}
	h := sha256.Sum256(args)
	return hex.EncodeToString(h[:])
}
