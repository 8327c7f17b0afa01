package governance

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestDefaultRoles(t *testing.T) {
	r, err := NewRoles(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		role  string
		has   []Scope
		hasnt []Scope
	}{
		{RoleViewer, []Scope{RiskRead}, []Scope{SpotlightRead, TicketsWrite, Admin}},
		{RoleAnalyst, []Scope{SpotlightRead, HostsRead, AlertsRead, IntelRead, RiskRead, TicketsWrite, ExceptionsWrite}, []Scope{ExceptionsApprove, RTRWrite, Admin}},
		{RoleApprover, []Scope{RiskRead, ExceptionsApprove, ApprovalsDecide}, []Scope{TicketsWrite, ExceptionsWrite, RTRWrite}},
		{RoleResponder, []Scope{RTRRead, RTRWrite, TicketsWrite}, []Scope{ExceptionsApprove, Admin}},
		{RoleAdmin, AllScopes, nil},
	}
	for _, tc := range tests {
		t.Run(tc.role, func(t *testing.T) {
			id, err := r.Identity("u", tc.role, "test")
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.has {
				if !id.Has(s) {
					t.Errorf("%s lacks %s", tc.role, s)
				}
			}
			for _, s := range tc.hasnt {
				if id.Has(s) {
					t.Errorf("%s has %s", tc.role, s)
				}
			}
		})
	}
	if got := r.Names(); !slices.Equal(got, []string{"admin", "analyst", "approver", "responder", "viewer"}) {
		t.Fatalf("names %v", got)
	}
}

func TestNewRolesOverridesAndErrors(t *testing.T) {
	r, err := NewRoles(map[string][]string{"viewer": {"risk:read", "spotlight:read"}, "auditor": {"RISK:READ"}})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := r.Identity("v", "viewer", "test")
	if !v.Has(SpotlightRead) {
		t.Fatal("override not applied")
	}
	a, _ := r.Identity("a", "auditor", "test")
	if !a.Has(RiskRead) || a.Has(SpotlightRead) {
		t.Fatalf("new role scopes %v", a.Scopes())
	}
	tests := []struct {
		in   map[string][]string
		want []string
	}{
		{map[string][]string{"x": {"spotlight:write"}}, []string{`roles.x: "spotlight:write" is not a scope; allowed: spotlight:read,`}},
		{map[string][]string{"Bad Role": {"risk:read"}}, []string{"roles.Bad Role: role names are lower-case"}},
	}
	for _, tc := range tests {
		_, err := NewRoles(tc.in)
		if err == nil {
			t.Fatalf("%v: no error", tc.in)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
	}
	if _, err := r.Identity("u", "nope", "test"); err == nil || !strings.Contains(err.Error(), "roles: admin, analyst, approver, auditor, responder, viewer") {
		t.Fatalf("unknown role error: %v", err)
	}
}

func TestAuthorize(t *testing.T) {
	r, _ := NewRoles(nil)
	viewer, _ := r.Identity("vera", RoleViewer, "test")
	if err := Authorize(viewer, "tool risk_prioritize", RiskRead); err != nil {
		t.Fatal(err)
	}
	err := Authorize(viewer, "tool falcon_search_hosts", HostsRead)
	var de *DeniedError
	if !errors.As(err, &de) || de.Missing != HostsRead {
		t.Fatalf("want DeniedError for hosts:read, got %v", err)
	}
	for _, w := range []string{"tool falcon_search_hosts", "needs scope hosts:read", `vera has role "viewer"`, "scopes risk:read"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("denial %q lacks %q", err, w)
		}
	}
	if err := Authorize(Identity{}, "tool x", RiskRead); err == nil || !strings.Contains(err.Error(), "not authenticated") {
		t.Fatalf("anonymous: %v", err)
	}
	ctx := WithIdentity(context.Background(), viewer)
	if got, ok := IdentityFrom(ctx); !ok || got.Name != "vera" {
		t.Fatal("identity not carried by context")
	}
	if _, ok := IdentityFrom(context.Background()); ok {
		t.Fatal("empty context has an identity")
	}
}

func TestTokens(t *testing.T) {
	r, _ := NewRoles(nil)
	tokA, _ := NewToken()
	tokB, _ := NewToken()
	if tokA == tokB || !strings.HasPrefix(tokA, "vp_") || len(tokA) < 40 {
		t.Fatalf("tokens %q %q", tokA, tokB)
	}
	ts, err := NewTokens(r, []TokenEntry{
		{Name: "alice", Role: RoleAnalyst, SHA256: HashToken(tokA)},
		{Name: "bob", Role: RoleViewer, SHA256: strings.ToUpper(HashToken(tokB))},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		token, name string
		ok          bool
	}{
		{tokA, "alice", true},
		{tokB, "bob", true},
		{tokA + "x", "", false},
		{"", "", false},
		{HashToken(tokA), "", false}, // the hash is not the token
	}
	for _, tc := range tests {
		id, ok := ts.Authenticate(tc.token)
		if ok != tc.ok || id.Name != tc.name {
			t.Errorf("Authenticate(%.8s…) = %v %v, want %v %v", tc.token, id.Name, ok, tc.name, tc.ok)
		}
	}
	_, err = NewTokens(r, []TokenEntry{
		{Name: "a", Role: "analyst", SHA256: "abc"},
		{Name: "b", Role: "ghost", SHA256: HashToken("x")},
		{Name: "c", Role: "viewer", SHA256: HashToken("y")},
		{Name: "d", Role: "viewer", SHA256: HashToken("y")},
	})
	if err == nil {
		t.Fatal("bad entries accepted")
	}
	for _, w := range []string{"tokens[0] (a): sha256 must be 64 hex digits", `tokens[1] (b): role "ghost" does not exist`, "tokens[3] (d): same token hash as tokens[2]"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}
