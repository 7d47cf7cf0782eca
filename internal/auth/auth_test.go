package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
)

var allPerms = []auth.Permission{
	auth.Read, auth.EditIncident, auth.ApproveNotice, auth.SendNotice, auth.AnswerReply,
	auth.ManageUsers, auth.ManageTokens, auth.ReadGlobalAudit,
}

func TestRolePermissions(t *testing.T) {
	// The table a customer's admin reads before handing out roles.
	want := map[auth.Role][]auth.Permission{
		auth.Admin:     allPerms,
		auth.Approver:  {auth.Read, auth.EditIncident, auth.ApproveNotice, auth.SendNotice, auth.AnswerReply},
		auth.Editor:    {auth.Read, auth.EditIncident, auth.AnswerReply},
		auth.Responder: {auth.Read, auth.AnswerReply},
		auth.Viewer:    {auth.Read},
		"":             {},
		"superuser":    {},
	}
	for role, perms := range want {
		t.Run(string(role), func(t *testing.T) {
			has := map[auth.Permission]bool{}
			for _, p := range perms {
				has[p] = true
			}
			for _, p := range allPerms {
				if got := role.Can(p); got != has[p] {
					t.Errorf("%q.Can(%s) = %v, want %v", role, p, got, has[p])
				}
			}
			if role.Can("made.up") {
				t.Errorf("%q can an unknown permission", role)
			}
		})
	}
}

func TestRolesAreKnownAndDescribed(t *testing.T) {
	if len(auth.Roles) != 5 {
		t.Fatalf("Roles = %v", auth.Roles)
	}
	for _, r := range auth.Roles {
		if !r.Valid() || r.Describe() == "" {
			t.Errorf("role %s: Valid=%v Describe=%q", r, r.Valid(), r.Describe())
		}
	}
	// Roles are listed from most to least powerful.
	for i := 1; i < len(auth.Roles); i++ {
		if !auth.Roles[i-1].Covers(auth.Roles[i]) {
			t.Errorf("%s does not cover the less powerful %s", auth.Roles[i-1], auth.Roles[i])
		}
		if auth.Roles[i].Covers(auth.Roles[i-1]) {
			t.Errorf("%s covers the more powerful %s", auth.Roles[i], auth.Roles[i-1])
		}
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		user, token auth.Role
		want        bool
	}{
		{auth.Admin, auth.Admin, true},
		{auth.Admin, auth.Viewer, true},
		{auth.Approver, auth.Editor, true},
		{auth.Editor, auth.Approver, false},
		{auth.Editor, auth.Responder, true},
		{auth.Responder, auth.Editor, false},
		{auth.Viewer, auth.Responder, false},
		{auth.Viewer, auth.Viewer, true},
		{auth.Viewer, auth.Admin, false},
		{auth.Approver, auth.Admin, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.user)+" covers "+string(tt.token), func(t *testing.T) {
			if got := tt.user.Covers(tt.token); got != tt.want {
				t.Errorf("%s.Covers(%s) = %v, want %v", tt.user, tt.token, got, tt.want)
			}
		})
	}
}

func TestParseRole(t *testing.T) {
	tests := []struct {
		in      string
		want    auth.Role
		wantErr bool
	}{
		{"admin", auth.Admin, false},
		{" Viewer ", auth.Viewer, false},
		{"APPROVER", auth.Approver, false},
		{"editor", auth.Editor, false},
		{"responder", auth.Responder, false},
		{"", "", true},
		{"root", "", true},
		{"admins", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := auth.ParseRole(tt.in)
			if tt.wantErr {
				if apperr.Code(err) != apperr.EINVALID || apperr.As(err).Field != "role" {
					t.Fatalf("ParseRole(%q) error = %v, want invalid role", tt.in, err)
				}
				msg := apperr.Message(err)
				for _, r := range auth.Roles {
					if !strings.Contains(msg, string(r)) {
						t.Errorf("message %q should list role %s", msg, r)
					}
				}
				if got != "" {
					t.Errorf("role = %q on error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseRole(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestPrincipalRequire(t *testing.T) {
	viewer := auth.Principal{UserID: 3, Email: "v@example.com", Role: auth.Viewer, Via: "session"}
	if err := viewer.Require(auth.Read); err != nil {
		t.Errorf("viewer read: %v", err)
	}
	err := viewer.Require(auth.EditIncident)
	if apperr.Code(err) != apperr.EFORBIDDEN {
		t.Fatalf("viewer edit: %v, want forbidden", err)
	}
	if msg := apperr.Message(err); !strings.Contains(msg, "viewer") {
		t.Errorf("message %q should name the role", msg)
	}
	if err := (auth.Principal{}).Require(auth.Read); apperr.Code(err) != apperr.EUNAUTHORIZED {
		t.Errorf("anonymous: %v, want unauthorized", err)
	}
	for _, p := range allPerms {
		if err := auth.CLI.Require(p); err != nil {
			t.Errorf("CLI %s: %v", p, err)
		}
	}
}

func TestPrincipalLabel(t *testing.T) {
	tests := []struct {
		p    auth.Principal
		want string
	}{
		{auth.Principal{Email: "a@example.com", Via: "session"}, "a@example.com"},
		{auth.Principal{Email: "a@example.com"}, "a@example.com"},
		{auth.Principal{Email: "a@example.com", Via: "token:7"}, "a@example.com (token:7)"},
		{auth.CLI, "cli"},
	}
	for _, tt := range tests {
		if got := tt.p.Label(); got != tt.want {
			t.Errorf("%+v.Label() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"alice@example.com", "alice@example.com", false},
		{"  Alice@Example.COM\n", "alice@example.com", false},
		{"a.b+tag@sub.example.org", "a.b+tag@sub.example.org", false},
		{"", "", true},
		{"   ", "", true},
		{"alice", "", true},
		{"alice@", "", true},
		{"@example.com", "", true},
		{"Alice <alice@example.com>", "", true},
		{"alice@example.com, bob@example.com", "", true},
		{"al ice@example.com", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := auth.NormalizeEmail(tt.in)
			if tt.wantErr {
				if apperr.Code(err) != apperr.EINVALID || apperr.As(err).Field != "email" {
					t.Errorf("NormalizeEmail(%q) = %q, %v; want an invalid email error", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestNewUserValidate(t *testing.T) {
	good := auth.NewUser{Email: " Ops@Example.com ", Name: "  Ops Lead ", Role: auth.Editor, Password: "correct horse battery"}
	tests := []struct {
		name   string
		edit   func(n *auth.NewUser)
		fields []string // nil: valid
	}{
		{"valid", func(n *auth.NewUser) {}, nil},
		{"password exactly minimum length in characters", func(n *auth.NewUser) { n.Password = strings.Repeat("ä", auth.MinPassword) }, nil},
		{"empty name allowed", func(n *auth.NewUser) { n.Name = "" }, nil},
		{"bad email", func(n *auth.NewUser) { n.Email = "ops" }, []string{"email"}},
		{"name too long", func(n *auth.NewUser) { n.Name = strings.Repeat("n", 201) }, []string{"name"}},
		{"unknown role", func(n *auth.NewUser) { n.Role = "owner" }, []string{"role"}},
		{"empty role", func(n *auth.NewUser) { n.Role = "" }, []string{"role"}},
		{"short password", func(n *auth.NewUser) { n.Password = "hunter2" }, []string{"password"}},
		{"password of 11 characters", func(n *auth.NewUser) { n.Password = strings.Repeat("x", auth.MinPassword-1) }, []string{"password"}},
		{"password over 1024 bytes", func(n *auth.NewUser) { n.Password = strings.Repeat("x", 1025) }, []string{"password"}},
		{"everything wrong", func(n *auth.NewUser) {
			n.Email, n.Name, n.Role, n.Password = "", strings.Repeat("n", 300), "god", ""
		}, []string{"email", "name", "role", "password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := good
			tt.edit(&n)
			err := n.Validate()
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				if tt.name == "valid" && (n.Email != "ops@example.com" || n.Name != "Ops Lead") {
					t.Errorf("not normalised: email %q, name %q", n.Email, n.Name)
				}
				return
			}
			if apperr.Code(err) != apperr.EINVALID {
				t.Fatalf("Validate() = %v, want invalid", err)
			}
			got := apperr.Fields(err)
			if len(got) != len(tt.fields) {
				t.Errorf("fields = %v, want %v", got, tt.fields)
			}
			for _, f := range tt.fields {
				if got[f] == "" {
					t.Errorf("no problem reported for %s: %v", f, got)
				}
			}
		})
	}
}

func TestCheckPasswordErrorsAreAppErrors(t *testing.T) {
	err := auth.CheckPassword("short")
	var e *apperr.Error
	if !errors.As(err, &e) || e.Field != "password" || !strings.Contains(e.Message, "12") {
		t.Errorf("CheckPassword(short) = %#v", err)
	}
}

func TestNewUserNameLimitCountsCharacters(t *testing.T) {
	n := auth.NewUser{Email: "a@example.com", Name: strings.Repeat("田", 150), Role: auth.Viewer, Password: "correct horse battery"}
	if err := n.Validate(); err != nil {
		t.Errorf("150-character name: Validate() = %v, want nil", err)
	}
}
