// Package governance decides who may do what: the scopes a tool call needs,
// the roles that grant them, the identity behind a call, and the check that
// runs before every tool call whatever the transport (stdio, HTTP, the
// built-in agent). Later issues add approvals and exceptions here; an
// Auditor records decisions once an audit log exists.
package governance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Scope is a permission a tool requires, e.g. "spotlight:read".
type Scope string

// Scopes. Read scopes follow the Falcon API they front; write and decide
// scopes gate actions that change the outside world.
const (
	SpotlightRead     Scope = "spotlight:read"
	HostsRead         Scope = "hosts:read"
	AlertsRead        Scope = "alerts:read"
	IntelRead         Scope = "intel:read"
	RiskRead          Scope = "risk:read"
	TicketsWrite      Scope = "tickets:write"
	ExceptionsWrite   Scope = "exceptions:write"
	ExceptionsApprove Scope = "exceptions:approve"
	RTRRead           Scope = "rtr:read"
	RTRWrite          Scope = "rtr:write"
	ApprovalsDecide   Scope = "approvals:decide"
	Admin             Scope = "admin"
)

// AllScopes lists every scope, in documentation order.
var AllScopes = []Scope{
	SpotlightRead, HostsRead, AlertsRead, IntelRead, RiskRead,
	TicketsWrite, ExceptionsWrite, ExceptionsApprove, RTRRead, RTRWrite, ApprovalsDecide, Admin,
}

// ParseScope validates a scope name.
func ParseScope(s string) (Scope, error) {
	sc := Scope(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(AllScopes, sc) {
		return "", fmt.Errorf("%q is not a scope; allowed: %s", s, joinScopes(AllScopes))
	}
	return sc, nil
}

// Built-in role names.
const (
	RoleViewer    = "viewer"
	RoleAnalyst   = "analyst"
	RoleApprover  = "approver"
	RoleResponder = "responder"
	RoleAdmin     = "admin"
)

var readScopes = []Scope{SpotlightRead, HostsRead, AlertsRead, IntelRead, RiskRead}

// defaultRoles is the built-in role table. A viewer sees vulnpilot's
// computed risk views but not raw Falcon data; an analyst works the queue
// (tickets, exception requests); an approver decides exceptions and
// approvals but does not file work (four eyes); a responder may use RTR.
var defaultRoles = map[string][]Scope{
	RoleViewer:    {RiskRead},
	RoleAnalyst:   append(slices.Clone(readScopes), TicketsWrite, ExceptionsWrite),
	RoleApprover:  append(slices.Clone(readScopes), ExceptionsApprove, ApprovalsDecide),
	RoleResponder: append(slices.Clone(readScopes), TicketsWrite, RTRRead, RTRWrite),
	RoleAdmin:     slices.Clone(AllScopes),
}

// DefaultRoles returns the built-in role table (a copy).
func DefaultRoles() map[string][]Scope {
	out := make(map[string][]Scope, len(defaultRoles))
	for r, s := range defaultRoles {
		out[r] = slices.Clone(s)
	}
	return out
}

// DefaultRoleNames lists the built-in roles, least privileged first.
func DefaultRoleNames() []string {
	return []string{RoleViewer, RoleAnalyst, RoleApprover, RoleResponder, RoleAdmin}
}

// Roles maps role names to scope sets. It is immutable and safe for
// concurrent use.
type Roles struct {
	m map[string][]Scope
}

// NewRoles starts from the built-in roles and applies overrides: a role in
// overrides replaces the built-in role of the same name or adds a new one.
// Role names are lower-case letters, digits, '-' and '_'. Errors name the
// role (as "roles.<name>") and list the allowed scopes.
func NewRoles(overrides map[string][]string) (*Roles, error) {
	r := &Roles{m: DefaultRoles()}
	var errs []error
	names := make([]string, 0, len(overrides))
	for n := range overrides {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if !validRoleName(name) {
			errs = append(errs, fmt.Errorf("roles.%s: role names are lower-case letters, digits, '-' and '_'", name))
			continue
		}
		var scopes []Scope
		for _, s := range overrides[name] {
			sc, err := ParseScope(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("roles.%s: %w", name, err))
				continue
			}
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
		r.m[name] = scopes
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

func validRoleName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Names lists the roles, sorted.
func (r *Roles) Names() []string {
	out := make([]string, 0, len(r.m))
	for n := range r.m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Scopes returns the scopes of a role (a copy) and whether it exists.
func (r *Roles) Scopes(role string) ([]Scope, bool) {
	s, ok := r.m[role]
	return slices.Clone(s), ok
}

// Identity builds the identity of a caller with the given role.
func (r *Roles) Identity(name, role, via string) (Identity, error) {
	scopes, ok := r.m[role]
	if !ok {
		return Identity{}, fmt.Errorf("role %q does not exist; roles: %s", role, strings.Join(r.Names(), ", "))
	}
	if strings.TrimSpace(name) == "" {
		return Identity{}, errors.New("identity name is empty")
	}
	return Identity{Name: name, Role: role, Via: via, scopes: slices.Clone(scopes)}, nil
}

// Identity is who is calling: a configured token's owner, the local stdio
// user, or the built-in agent acting for someone.
type Identity struct {
	Name string // e.g. "alice", "soc-bot", "local"
	Role string
	// Via says how the caller authenticated: "stdio", "bearer", "agent", "test".
	Via    string
	scopes []Scope
}

// Scopes returns the identity's scopes (a copy).
func (id Identity) Scopes() []Scope { return slices.Clone(id.scopes) }

// Has reports whether the identity holds the scope.
func (id Identity) Has(s Scope) bool { return slices.Contains(id.scopes, s) }

// String is "name (role role)".
func (id Identity) String() string {
	if id.Name == "" {
		return "anonymous"
	}
	return fmt.Sprintf("%s (role %s)", id.Name, id.Role)
}

// DeniedError is a refused call. Its message names the missing scope and
// the caller's role, so an operator (or a model) knows what to ask for.
type DeniedError struct {
	Identity Identity
	Action   string // e.g. "tool risk_prioritize"
	Missing  Scope
}

func (e *DeniedError) Error() string {
	if e.Identity.Name == "" {
		return fmt.Sprintf("permission denied: %s needs scope %s and the caller is not authenticated", e.Action, e.Missing)
	}
	held := "no scopes"
	if len(e.Identity.scopes) > 0 {
		held = "scopes " + joinScopes(e.Identity.scopes)
	}
	return fmt.Sprintf("permission denied: %s needs scope %s; %s has role %q with %s",
		e.Action, e.Missing, e.Identity.Name, e.Identity.Role, held)
}

// Authorize checks that id holds need for action ("tool x", "resource y").
// It returns a *DeniedError when not.
func Authorize(id Identity, action string, need Scope) error {
	if need == "" || id.Has(need) {
		return nil
	}
	return &DeniedError{Identity: id, Action: action, Missing: need}
}

func joinScopes(s []Scope) string {
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = string(x)
	}
	return strings.Join(parts, ", ")
}

type identityKey struct{}

// WithIdentity returns ctx carrying id; transports set it once they have
// authenticated the caller.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity ctx carries.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// Decisions recorded in an Event.
const (
	DecisionAllowed = "allowed"
	DecisionDenied  = "denied"
)

// Event is one authorization decision and, for allowed calls, how the call
// ended. It holds no argument values: arguments can carry untrusted text
// and, one day, secrets; the audit log records a digest instead.
type Event struct {
	Time     time.Time
	Identity Identity
	Action   string // "tool risk_prioritize", "resource vulnpilot://policy"
	Scope    Scope
	Decision string // DecisionAllowed or DecisionDenied
	// Outcome is "ok" or an error kind for allowed calls; empty when denied.
	Outcome  string
	ArgsHash string // hex SHA-256 of the canonical arguments, when any
	Duration time.Duration
}

// Auditor receives every decision. Implementations must be safe for
// concurrent use and must not block for long: they run on the call path.
type Auditor interface {
	Audit(ctx context.Context, e Event)
}

// AuditFunc adapts a function to Auditor.
type AuditFunc func(ctx context.Context, e Event)

// Audit calls f.
func (f AuditFunc) Audit(ctx context.Context, e Event) { f(ctx, e) }
