package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
)

const userColumns = `id, email, name, role, password_hash, disabled, created_at`

func scanUser(s interface{ Scan(...any) error }) (auth.User, error) {
	var u auth.User
	var created int64
	err := s.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.Disabled, &created)
	u.CreatedAt = fromMicros(created)
	return u, err
}

// CreateUser stores a new user whose password is already hashed. Returns
// ECONFLICT if the email is taken.
func (db *DB) CreateUser(ctx context.Context, actor auth.Principal, n auth.NewUser, passwordHash string) (auth.User, error) {
	u := auth.User{Email: n.Email, Name: n.Name, Role: n.Role, PasswordHash: passwordHash, CreatedAt: db.now()}
	err := db.inTx(ctx, func(tx *Tx) error {
		err := tx.queryRow(ctx, `INSERT INTO users (email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			u.Email, u.Name, u.Role, u.PasswordHash, micros(u.CreatedAt)).Scan(&u.ID)
		if isUnique(err) {
			return &apperr.Error{Code: apperr.ECONFLICT, Field: "email", Message: fmt.Sprintf("a user with email %s already exists", u.Email)}
		}
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		_, err = tx.appendAudit(ctx, actor, record{
			Action: "user.create", ObjectType: "user", ObjectID: u.ID,
			Summary: fmt.Sprintf("Added user %s as %s", u.Email, u.Role),
			After:   map[string]any{"email": u.Email, "name": u.Name, "role": u.Role},
		})
		return err
	})
	return u, err
}

// FindUserByID returns ENOTFOUND if there is no such user.
func (db *DB) FindUserByID(ctx context.Context, id int64) (auth.User, error) {
	u, err := scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return u, apperr.NotFound("user %d not found", id)
	}
	return u, err
}

// FindUserByEmail returns ENOTFOUND if there is no such user.
func (db *DB) FindUserByEmail(ctx context.Context, email string) (auth.User, error) {
	u, err := scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
	if errors.Is(err, sql.ErrNoRows) {
		return u, apperr.NotFound("no user with email %s", email)
	}
	return u, err
}

// FindUsers returns users in creation order after the cursor (a user id) and
// the cursor of the next page (0 when there is none).
func (db *DB) FindUsers(ctx context.Context, after int64, limit int) ([]auth.User, int64, error) {
	limit = clampLimit(limit)
	rows, err := db.query(ctx, `SELECT `+userColumns+` FROM users WHERE id > ? ORDER BY id LIMIT ?`, after, limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("find users: %w", err)
	}
	defer rows.Close()
	var out []auth.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("find users: %w", err)
		}
		out = append(out, u)
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, rows.Err()
}

// CountUsers returns how many users exist.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

// UserUpdate holds the fields to change; nil fields stay as they are.
type UserUpdate struct {
	Name         *string
	Role         *auth.Role
	Disabled     *bool
	PasswordHash *string
}

// UpdateUser changes a user and records the change. Disabling a user or
// changing their password or role ends their sessions and, for disabling,
// revokes their API tokens. Returns ENOTFOUND, or EINVALID when the change
// would leave no enabled admin.
func (db *DB) UpdateUser(ctx context.Context, actor auth.Principal, id int64, upd UserUpdate) (auth.User, error) {
	var u auth.User
	err := db.inTx(ctx, func(tx *Tx) error {
		var err error
		u, err = scanUser(tx.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.NotFound("user %d not found", id)
		}
		if err != nil {
			return err
		}
		wasAdmin := u.Role == auth.Admin && !u.Disabled
		before := map[string]any{}
		after := map[string]any{}
		var what []string
		if upd.Name != nil && *upd.Name != u.Name {
			before["name"], after["name"] = u.Name, *upd.Name
			u.Name = *upd.Name
			what = append(what, "name")
		}
		endSessions := false
		if upd.Role != nil && *upd.Role != u.Role {
			before["role"], after["role"] = u.Role, *upd.Role
			u.Role = *upd.Role
			what = append(what, "role to "+string(u.Role))
			endSessions = true
		}
		if upd.Disabled != nil && *upd.Disabled != u.Disabled {
			before["disabled"], after["disabled"] = u.Disabled, *upd.Disabled
			u.Disabled = *upd.Disabled
			if u.Disabled {
				what = append(what, "disabled the account")
			} else {
				what = append(what, "enabled the account")
			}
			endSessions = true
		}
		if upd.PasswordHash != nil {
			u.PasswordHash = *upd.PasswordHash
			what = append(what, "password")
			endSessions = true
		}
		if len(what) == 0 {
			return nil
		}
		if _, err := tx.exec(ctx, `UPDATE users SET name = ?, role = ?, disabled = ?, password_hash = ? WHERE id = ?`,
			u.Name, u.Role, u.Disabled, u.PasswordHash, u.ID); err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		if wasAdmin && (u.Role != auth.Admin || u.Disabled) {
			var admins int
			if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM users WHERE role = 'admin' AND NOT disabled`).Scan(&admins); err != nil {
				return err
			}
			if admins == 0 {
				return apperr.Invalid("role", "this would leave Candor without an enabled admin; make another user admin first")
			}
		}
		if endSessions {
			if _, err := tx.exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, u.ID); err != nil {
				return err
			}
		}
		if u.Disabled {
			if _, err := tx.exec(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, micros(db.now()), u.ID); err != nil {
				return err
			}
		}
		_, err = tx.appendAudit(ctx, actor, record{
			Action: "user.update", ObjectType: "user", ObjectID: u.ID,
			Summary: fmt.Sprintf("Changed user %s: %s", u.Email, joinWords(what)),
			Before:  before, After: after,
		})
		return err
	})
	return u, err
}

// Session is a signed-in browser.
type Session struct {
	ID        int64
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
	LastSeen  time.Time
}

// CreateSession stores a session by the hash of its secret and records the
// sign-in.
func (db *DB) CreateSession(ctx context.Context, u auth.User, secretHash string, ttl time.Duration, client string) (Session, error) {
	now := db.now()
	s := Session{UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(ttl), LastSeen: now}
	if len(client) > 200 {
		client = client[:200]
	}
	err := db.inTx(ctx, func(tx *Tx) error {
		if err := tx.queryRow(ctx, `INSERT INTO sessions (secret_hash, user_id, created_at, expires_at, last_seen_at, client) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			secretHash, u.ID, micros(now), micros(s.ExpiresAt), micros(now), client).Scan(&s.ID); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		// Expired sessions are swept on sign-in, so the table stays small
		// without a background job.
		if _, err := tx.exec(ctx, `DELETE FROM sessions WHERE expires_at < ?`, micros(now)); err != nil {
			return err
		}
		_, err := tx.appendAudit(ctx, auth.Principal{UserID: u.ID, Email: u.Email, Role: u.Role, Via: "session"}, record{
			Action: "session.create", ObjectType: "user", ObjectID: u.ID, Summary: fmt.Sprintf("%s signed in", u.Email),
		})
		return err
	})
	return s, err
}

// FindSession returns the live session with this secret hash and its user.
// An expired session, a disabled user or an unknown hash give EUNAUTHORIZED.
// A session used after half its lifetime is extended (sliding expiry).
func (db *DB) FindSession(ctx context.Context, secretHash string, ttl time.Duration) (Session, auth.User, error) {
	var s Session
	var created, expires, seen int64
	row := db.queryRow(ctx, `SELECT s.id, s.user_id, s.created_at, s.expires_at, s.last_seen_at, `+prefixed("u.", userColumns)+`
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.secret_hash = ?`, secretHash)
	var u auth.User
	var ucreated int64
	err := row.Scan(&s.ID, &s.UserID, &created, &expires, &seen, &u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.Disabled, &ucreated)
	unauth := &apperr.Error{Code: apperr.EUNAUTHORIZED, Message: "your session has ended; sign in again"}
	if errors.Is(err, sql.ErrNoRows) {
		return s, u, unauth
	}
	if err != nil {
		return s, u, fmt.Errorf("find session: %w", err)
	}
	s.CreatedAt, s.ExpiresAt, s.LastSeen, u.CreatedAt = fromMicros(created), fromMicros(expires), fromMicros(seen), fromMicros(ucreated)
	now := db.now()
	if !now.Before(s.ExpiresAt) || u.Disabled {
		return s, u, unauth
	}
	if s.ExpiresAt.Sub(now) < ttl/2 {
		s.ExpiresAt = now.Add(ttl)
		if _, err := db.exec(ctx, `UPDATE sessions SET expires_at = ?, last_seen_at = ? WHERE id = ?`, micros(s.ExpiresAt), micros(now), s.ID); err != nil {
			return s, u, fmt.Errorf("extend session: %w", err)
		}
	}
	return s, u, nil
}

// DeleteSession ends a session (sign-out).
func (db *DB) DeleteSession(ctx context.Context, actor auth.Principal, secretHash string) error {
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM sessions WHERE secret_hash = ?`, secretHash)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		_, err = tx.appendAudit(ctx, actor, record{Action: "session.delete", ObjectType: "user", ObjectID: actor.UserID, Summary: fmt.Sprintf("%s signed out", actor.Email)})
		return err
	})
}

// APIToken is a bearer token for the API. Only the hash of its secret is
// stored; the secret is shown once, when it is created.
type APIToken struct {
	ID        int64      `json:"id"`
	UserID    int64      `json:"user_id"`
	UserEmail string     `json:"user_email"`
	Name      string     `json:"name"`
	Role      auth.Role  `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	LastUsed  *time.Time `json:"last_used_at"`
	Revoked   *time.Time `json:"revoked_at"`
}

// CreateAPIToken stores a token for user u with the given role, which must
// not exceed the user's own.
func (db *DB) CreateAPIToken(ctx context.Context, actor auth.Principal, u auth.User, name string, role auth.Role, secretHash string) (APIToken, error) {
	t := APIToken{UserID: u.ID, UserEmail: u.Email, Name: name, Role: role, CreatedAt: db.now()}
	err := db.inTx(ctx, func(tx *Tx) error {
		if err := tx.queryRow(ctx, `INSERT INTO api_tokens (user_id, name, role, secret_hash, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			u.ID, name, role, secretHash, micros(t.CreatedAt)).Scan(&t.ID); err != nil {
			return fmt.Errorf("insert token: %w", err)
		}
		_, err := tx.appendAudit(ctx, actor, record{
			Action: "token.create", ObjectType: "api_token", ObjectID: t.ID,
			Summary: fmt.Sprintf("Created API token %q for %s with role %s", name, u.Email, role),
			After:   map[string]any{"name": name, "user": u.Email, "role": role},
		})
		return err
	})
	return t, err
}

const tokenColumns = `t.id, t.user_id, u.email, t.name, t.role, t.created_at, t.last_used_at, t.revoked_at`

func scanToken(s interface{ Scan(...any) error }) (APIToken, error) {
	var t APIToken
	var created int64
	var used, revoked sql.NullInt64
	err := s.Scan(&t.ID, &t.UserID, &t.UserEmail, &t.Name, &t.Role, &created, &used, &revoked)
	t.CreatedAt, t.LastUsed, t.Revoked = fromMicros(created), nullMicros(used), nullMicros(revoked)
	return t, err
}

// FindAPITokenBySecret returns a live token by the hash of its secret, with
// its user, and marks it used. A revoked token, a disabled user or an unknown
// hash give EUNAUTHORIZED.
func (db *DB) FindAPITokenBySecret(ctx context.Context, secretHash string) (APIToken, auth.User, error) {
	t, err := scanToken(db.queryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.secret_hash = ?`, secretHash))
	unauth := &apperr.Error{Code: apperr.EUNAUTHORIZED, Message: "the API token is not valid; create a new one"}
	if errors.Is(err, sql.ErrNoRows) {
		return t, auth.User{}, unauth
	}
	if err != nil {
		return t, auth.User{}, fmt.Errorf("find token: %w", err)
	}
	if t.Revoked != nil {
		return t, auth.User{}, unauth
	}
	u, err := db.FindUserByID(ctx, t.UserID)
	if err != nil {
		return t, u, err
	}
	if u.Disabled {
		return t, u, unauth
	}
	now := db.now()
	// Written at most once a minute per token, so that busy API clients do
	// not turn every read into a write.
	if t.LastUsed == nil || now.Sub(*t.LastUsed) > time.Minute {
		if _, err := db.exec(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, micros(now), t.ID); err != nil {
			return t, u, fmt.Errorf("touch token: %w", err)
		}
		t.LastUsed = &now
	}
	return t, u, nil
}

// FindAPITokens returns every token, newest first.
func (db *DB) FindAPITokens(ctx context.Context) ([]APIToken, error) {
	rows, err := db.query(ctx, `SELECT `+tokenColumns+` FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("find tokens: %w", err)
	}
	defer rows.Close()
	var out []APIToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("find tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeAPIToken revokes a token. Returns ENOTFOUND for an unknown token;
// revoking a revoked token changes nothing.
func (db *DB) RevokeAPIToken(ctx context.Context, actor auth.Principal, id int64) (APIToken, error) {
	var t APIToken
	err := db.inTx(ctx, func(tx *Tx) error {
		var err error
		t, err = scanToken(tx.queryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.NotFound("API token %d not found", id)
		}
		if err != nil || t.Revoked != nil {
			return err
		}
		now := db.now()
		t.Revoked = &now
		if _, err := tx.exec(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ?`, micros(now), id); err != nil {
			return err
		}
		_, err = tx.appendAudit(ctx, actor, record{Action: "token.revoke", ObjectType: "api_token", ObjectID: id,
			Summary: fmt.Sprintf("Revoked API token %q of %s", t.Name, t.UserEmail)})
		return err
	})
	return t, err
}
