// Package auth owns who may do what: users and their roles, the permission
// each action needs, password hashing (argon2id, RFC 9106), session and API
// token secrets, CSRF tokens and login rate limiting. It holds no SQL; package
// store persists users, sessions and tokens.
package auth

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/candorhq/candor/internal/apperr"
)

// Role is what a user may do.
type Role string

const (
	Admin     Role = "admin"     // everything, including users, tokens and the global audit log
	Editor    Role = "editor"    // opens incidents, records facts, moves states, drafts notices
	Approver  Role = "approver"  // an editor who may also approve notices
	Responder Role = "responder" // reads everything and answers replies
	Viewer    Role = "viewer"    // reads everything, changes nothing
)

// Roles lists the roles from most to least powerful.
var Roles = []Role{Admin, Approver, Editor, Responder, Viewer}

var roleText = map[Role]string{
	Admin:     "Everything, including users, API tokens and the global audit log",
	Approver:  "Everything an editor does, and approving notices",
	Editor:    "Opens incidents, records facts, moves incidents through their states",
	Responder: "Reads everything and answers replies",
	Viewer:    "Reads everything; changes nothing",
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { _, ok := roleText[r]; return ok }

// Describe says what the role may do, for forms and help text.
func (r Role) Describe() string { return roleText[r] }

// ParseRole returns the role named s, or an EINVALID error listing the roles.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", apperr.Invalid("role", "unknown role %q; use admin, approver, editor, responder or viewer", s)
	}
	return r, nil
}

// Permission is the right to perform one kind of action.
type Permission string

const (
	Read            Permission = "read"
	EditIncident    Permission = "incident.edit" // open incidents, change facts and state
	ApproveNotice   Permission = "notice.approve"
	SendNotice      Permission = "notice.send" // release, pause, resume and cancel sending
	AnswerReply     Permission = "reply.answer"
	ManageUsers     Permission = "users.manage"
	ManageTokens    Permission = "tokens.manage"
	ReadGlobalAudit Permission = "audit.read_all"
	// PublishUpdate: post and correct status page updates, and set the
	// services an incident affects.
	PublishUpdate Permission = "status.publish"
	// ManagePublic: the status page's services, the quiet period by hand,
	// and the systems told when it starts and ends.
	ManagePublic Permission = "status.manage"
)

var grants = map[Role][]Permission{
	Admin:     {Read, EditIncident, ApproveNotice, SendNotice, PublishUpdate, ManagePublic, AnswerReply, ManageUsers, ManageTokens, ReadGlobalAudit},
	Approver:  {Read, EditIncident, ApproveNotice, SendNotice, PublishUpdate, AnswerReply},
	Editor:    {Read, EditIncident, AnswerReply},
	Responder: {Read, AnswerReply},
	Viewer:    {Read},
}

// Can reports whether role r holds permission p.
func (r Role) Can(p Permission) bool {
	for _, g := range grants[r] {
		if g == p {
			return true
		}
	}
	return false
}

// Covers reports whether r holds every permission of other, so that an API
// token never carries more power than the user it belongs to.
func (r Role) Covers(other Role) bool {
	for _, p := range grants[other] {
		if !r.Can(p) {
			return false
		}
	}
	return true
}

// User is a person who signs in to Candor.
type User struct {
	ID           int64
	Email        string
	Name         string
	Role         Role
	Disabled     bool
	PasswordHash string
	CreatedAt    time.Time
}

// Principal is whoever performs an action: a signed-in user, an API token, or
// the command line acting with direct database access.
type Principal struct {
	UserID int64
	Email  string
	Role   Role
	Via    string // "session", "token:<id>", or "cli"
}

// Label identifies the principal in the audit log.
func (p Principal) Label() string {
	if p.Email == "" {
		return p.Via
	}
	if p.Via == "session" || p.Via == "" {
		return p.Email
	}
	return fmt.Sprintf("%s (%s)", p.Email, p.Via)
}

// Require returns EFORBIDDEN unless the principal holds p.
func (p Principal) Require(perm Permission) error {
	if p.Role.Can(perm) {
		return nil
	}
	if p.Role == "" {
		return &apperr.Error{Code: apperr.EUNAUTHORIZED, Message: "sign in first"}
	}
	return apperr.Forbidden("your role (%s) does not allow this; ask an admin for a role that can (%s)", p.Role, perm)
}

// CLI is the principal for commands run on the server with direct database
// access; the audit log records them as such.
var CLI = Principal{Role: Admin, Via: "cli"}

// System is the principal for what Candor does by itself (a worker pausing
// a release, a schedule firing); the audit log records it under name.
func System(name string) Principal { return Principal{Role: Admin, Via: name} }

// NormalizeEmail trims and lower-cases an address and checks its syntax.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if s == "" || err != nil || a.Address != s {
		return "", apperr.Invalid("email", "%q is not an email address; write it as name@example.com", s)
	}
	return s, nil
}

// NewUser is the input to create a user.
type NewUser struct {
	Email    string
	Name     string
	Role     Role
	Password string
}

// Validate normalizes and checks the input.
func (n *NewUser) Validate() error {
	var errs apperr.List
	e, err := NormalizeEmail(n.Email)
	if err != nil {
		errs = append(errs, apperr.As(err))
	}
	n.Email = e
	n.Name = strings.TrimSpace(n.Name)
	if utf8.RuneCountInString(n.Name) > 200 {
		errs = append(errs, apperr.Invalid("name", "keep the name under 200 characters"))
	}
	if !n.Role.Valid() {
		errs = append(errs, apperr.Invalid("role", "unknown role %q; use admin, approver, editor, responder or viewer", n.Role))
	}
	if err := CheckPassword(n.Password); err != nil {
		errs = append(errs, apperr.As(err))
	}
	return errs.Err()
}

// MinPassword is the shortest accepted password.
const MinPassword = 12

// CheckPassword enforces the password policy: long enough to resist guessing
// (NIST SP 800-63B favours length over composition rules).
func CheckPassword(pw string) error {
	if len([]rune(pw)) < MinPassword {
		return apperr.Invalid("password", "use at least %d characters; a few unrelated words make a strong password", MinPassword)
	}
	if len(pw) > 1024 {
		return apperr.Invalid("password", "keep the password under 1024 bytes")
	}
	return nil
}
