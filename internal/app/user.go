package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/store"
)

// Login checks an email and password and starts a session. It returns the
// session secret to put in a cookie. Attempts are rate-limited per client
// address and per email (ETOOMANY); a wrong email or password gives the same
// EUNAUTHORIZED error and takes the same time, so it does not reveal which
// emails have accounts.
func (s *Service) Login(ctx context.Context, email, password, clientIP, userAgent string) (string, auth.User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if ok, retry := s.loginByIP.Allow("ip:" + clientIP); !ok {
		return "", auth.User{}, &apperr.Error{Code: apperr.ETOOMANY, Message: fmt.Sprintf("too many sign-in attempts from your address; wait %d seconds", int(retry.Seconds())+1)}
	}
	if ok, retry := s.loginByEmail.Allow("email:" + email); !ok {
		return "", auth.User{}, &apperr.Error{Code: apperr.ETOOMANY, Message: fmt.Sprintf("too many sign-in attempts for this account; wait %d seconds", int(retry.Seconds())+1)}
	}
	bad := &apperr.Error{Code: apperr.EUNAUTHORIZED, Field: "password", Message: "that email and password do not match an account; check both and try again"}
	u, err := s.db.FindUserByEmail(ctx, email)
	if apperr.Code(err) == apperr.ENOTFOUND {
		auth.BurnPasswordCheck(password)
		return "", u, bad
	}
	if err != nil {
		return "", u, err
	}
	ok, err := auth.VerifyPassword(u.PasswordHash, password)
	if err != nil {
		return "", u, err
	}
	if !ok {
		return "", u, bad
	}
	if u.Disabled {
		return "", u, &apperr.Error{Code: apperr.EUNAUTHORIZED, Message: "this account is disabled; ask an admin to enable it"}
	}
	secret := auth.NewSecret()
	if _, err := s.db.CreateSession(ctx, u, auth.HashSecret(secret), s.sessionTTL, userAgent); err != nil {
		return "", u, err
	}
	s.log.Info("login", "user_id", u.ID)
	return secret, u, nil
}

// Logout ends the session with this secret.
func (s *Service) Logout(ctx context.Context, p auth.Principal, secret string) error {
	return s.db.DeleteSession(ctx, p, auth.HashSecret(secret))
}

// SessionPrincipal returns who holds the session with this secret, or
// EUNAUTHORIZED when it is unknown, expired or its user is disabled.
func (s *Service) SessionPrincipal(ctx context.Context, secret string) (auth.Principal, error) {
	if secret == "" {
		return auth.Principal{}, &apperr.Error{Code: apperr.EUNAUTHORIZED, Message: "sign in first"}
	}
	_, u, err := s.db.FindSession(ctx, auth.HashSecret(secret), s.sessionTTL)
	if err != nil {
		return auth.Principal{}, err
	}
	return auth.Principal{UserID: u.ID, Email: u.Email, Role: u.Role, Via: "session"}, nil
}

// TokenPrincipal returns who holds this API token. The principal has the
// token's role, which never exceeds its user's current role.
func (s *Service) TokenPrincipal(ctx context.Context, token string) (auth.Principal, error) {
	if !strings.HasPrefix(token, auth.TokenPrefix) {
		return auth.Principal{}, &apperr.Error{Code: apperr.EUNAUTHORIZED, Message: "the API token is not valid; tokens start with " + auth.TokenPrefix}
	}
	t, u, err := s.db.FindAPITokenBySecret(ctx, auth.HashSecret(token))
	if err != nil {
		return auth.Principal{}, err
	}
	role := t.Role
	if !u.Role.Covers(role) {
		role = u.Role
	}
	return auth.Principal{UserID: u.ID, Email: u.Email, Role: role, Via: fmt.Sprintf("token:%d", t.ID)}, nil
}

// CreateUser adds a user (admins only).
func (s *Service) CreateUser(ctx context.Context, p auth.Principal, n auth.NewUser) (auth.User, error) {
	if err := p.Require(auth.ManageUsers); err != nil {
		return auth.User{}, err
	}
	if err := n.Validate(); err != nil {
		return auth.User{}, err
	}
	hash, err := auth.HashPassword(n.Password)
	if err != nil {
		return auth.User{}, err
	}
	return s.db.CreateUser(ctx, p, n, hash)
}

// Users lists users (admins only).
func (s *Service) Users(ctx context.Context, p auth.Principal, after int64, limit int) ([]auth.User, int64, error) {
	if err := p.Require(auth.ManageUsers); err != nil {
		return nil, 0, err
	}
	return s.db.FindUsers(ctx, after, limit)
}

// User returns one user (admins only).
func (s *Service) User(ctx context.Context, p auth.Principal, id int64) (auth.User, error) {
	if err := p.Require(auth.ManageUsers); err != nil {
		return auth.User{}, err
	}
	return s.db.FindUserByID(ctx, id)
}

// UserChange holds the fields to change; nil fields stay as they are.
type UserChange struct {
	Name     *string
	Role     *auth.Role
	Disabled *bool
	Password *string
}

// UpdateUser changes a user (admins only).
func (s *Service) UpdateUser(ctx context.Context, p auth.Principal, id int64, c UserChange) (auth.User, error) {
	if err := p.Require(auth.ManageUsers); err != nil {
		return auth.User{}, err
	}
	upd := store.UserUpdate{Role: c.Role, Disabled: c.Disabled}
	if c.Name != nil {
		n := strings.TrimSpace(*c.Name)
		if len(n) > 200 {
			return auth.User{}, apperr.Invalid("name", "keep the name under 200 characters")
		}
		upd.Name = &n
	}
	if c.Role != nil && !c.Role.Valid() {
		return auth.User{}, apperr.Invalid("role", "unknown role %q; use admin, approver, editor, responder or viewer", *c.Role)
	}
	if c.Password != nil {
		if err := auth.CheckPassword(*c.Password); err != nil {
			return auth.User{}, err
		}
		h, err := auth.HashPassword(*c.Password)
		if err != nil {
			return auth.User{}, err
		}
		upd.PasswordHash = &h
	}
	return s.db.UpdateUser(ctx, p, id, upd)
}

// CreateToken creates an API token for the user with this email and returns
// its secret, which is shown once and never stored. The token's role may not
// exceed the user's (admins only).
func (s *Service) CreateToken(ctx context.Context, p auth.Principal, email, name string, role auth.Role) (string, store.APIToken, error) {
	if err := p.Require(auth.ManageTokens); err != nil {
		return "", store.APIToken{}, err
	}
	email, err := auth.NormalizeEmail(email)
	if err != nil {
		return "", store.APIToken{}, err
	}
	u, err := s.db.FindUserByEmail(ctx, email)
	if err != nil {
		if apperr.Code(err) == apperr.ENOTFOUND {
			return "", store.APIToken{}, apperr.Invalid("email", "no user with email %s; add the user first", email)
		}
		return "", store.APIToken{}, err
	}
	if u.Disabled {
		return "", store.APIToken{}, apperr.Invalid("email", "%s is disabled; enable the account first", email)
	}
	if role == "" {
		role = u.Role
	}
	if !role.Valid() {
		return "", store.APIToken{}, apperr.Invalid("role", "unknown role %q", role)
	}
	if !u.Role.Covers(role) {
		return "", store.APIToken{}, apperr.Invalid("role", "a token cannot have more power than its user: %s is %s", email, u.Role)
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "API token"
	}
	if len(name) > 100 {
		return "", store.APIToken{}, apperr.Invalid("name", "keep the token name under 100 characters")
	}
	secret := auth.NewAPIToken()
	t, err := s.db.CreateAPIToken(ctx, p, u, name, role, auth.HashSecret(secret))
	return secret, t, err
}

// Tokens lists API tokens (admins only).
func (s *Service) Tokens(ctx context.Context, p auth.Principal) ([]store.APIToken, error) {
	if err := p.Require(auth.ManageTokens); err != nil {
		return nil, err
	}
	return s.db.FindAPITokens(ctx)
}

// RevokeToken revokes an API token (admins only).
func (s *Service) RevokeToken(ctx context.Context, p auth.Principal, id int64) (store.APIToken, error) {
	if err := p.Require(auth.ManageTokens); err != nil {
		return store.APIToken{}, err
	}
	return s.db.RevokeAPIToken(ctx, p, id)
}
