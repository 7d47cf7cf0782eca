package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/store"
)

const usersPageSize = 100

type usersPage struct {
	Users []auth.User
	Next  string
	Paged bool
	// The add-user form after a refused submission; never the password.
	Email, Name, Role string
	Errors            formErrors
}

func (h *handler) users(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	h.showUsers(w, r, p, http.StatusOK, usersPage{Role: string(auth.Viewer)})
}

func (h *handler) showUsers(w http.ResponseWriter, r *http.Request, p auth.Principal, status int, d usersPage) {
	after, ok := h.queryCursor(w, r, "after")
	if !ok {
		return
	}
	users, next, err := h.svc.Users(r.Context(), p, after, usersPageSize)
	if err != nil {
		h.fail(w, r, err, "manage users")
		return
	}
	d.Users, d.Paged = users, after > 0
	if next > 0 {
		d.Next = "/users?after=" + strconv.FormatInt(next, 10)
	}
	h.render(w, r, status, "users", page{Title: "Users", Nav: "users", Data: d})
}

func (h *handler) createUser(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	d := usersPage{Email: r.PostFormValue("email"), Name: r.PostFormValue("name"), Role: r.PostFormValue("role")}
	u, err := h.svc.CreateUser(r.Context(), p, auth.NewUser{Email: d.Email, Name: d.Name, Role: auth.Role(d.Role), Password: r.PostFormValue("password")})
	switch apperr.Code(err) {
	case "":
		h.redirect(w, r, "/users", "ok", fmt.Sprintf("Added %s as %s. Give them their password in person or by phone, not by email.", u.Email, u.Role))
	case apperr.EINVALID, apperr.ECONFLICT:
		for _, e := range apperr.Flatten(err) {
			f := e.Field
			if apperr.Code(err) == apperr.ECONFLICT && f == "" {
				f = "email"
			}
			d.Errors.add(f, e.Message)
		}
		d.Errors.sortSummary([]string{"email", "name", "role", "password"})
		h.showUsers(w, r, p, http.StatusUnprocessableEntity, d)
	default:
		h.fail(w, r, err, "manage users")
	}
}

func (h *handler) changeRole(w http.ResponseWriter, r *http.Request) {
	role, err := auth.ParseRole(r.PostFormValue("role"))
	h.updateUser(w, r, func(c *app.UserChange) error {
		c.Role = &role
		return err
	}, func(u auth.User) string {
		return fmt.Sprintf("%s is now %s; their sessions have ended, so they sign in again.", u.Email, u.Role)
	})
}

func (h *handler) disableUser(w http.ResponseWriter, r *http.Request) {
	yes := true
	h.updateUser(w, r, func(c *app.UserChange) error { c.Disabled = &yes; return nil }, func(u auth.User) string {
		return fmt.Sprintf("Disabled %s: their sessions ended and their API tokens were revoked.", u.Email)
	})
}

func (h *handler) enableUser(w http.ResponseWriter, r *http.Request) {
	no := false
	h.updateUser(w, r, func(c *app.UserChange) error { c.Disabled = &no; return nil }, func(u auth.User) string {
		return fmt.Sprintf("Enabled %s. Their old API tokens stay revoked.", u.Email)
	})
}

// updateUser runs one change from the user list; a refused change comes back
// to the list with the reason.
func (h *handler) updateUser(w http.ResponseWriter, r *http.Request, change func(*app.UserChange) error, done func(auth.User) string) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	var c app.UserChange
	err := change(&c)
	var u auth.User
	if err == nil {
		u, err = h.svc.UpdateUser(r.Context(), p, id, c)
	}
	switch apperr.Code(err) {
	case "":
		if u.ID == p.UserID && (c.Role != nil || c.Disabled != nil) {
			// Changing your own role or account ends your own sessions.
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		h.redirect(w, r, "/users", "ok", done(u))
	case apperr.EINVALID:
		h.redirect(w, r, "/users", "error", upperFirst(apperr.Message(err))+".")
	default:
		h.fail(w, r, err, "manage users")
	}
}

type tokensPage struct {
	Tokens []store.APIToken
	// The create form after a refused submission.
	Email, Name, Role string
	Errors            formErrors
}

type tokenCreatedPage struct {
	Secret string
	Token  store.APIToken
}

func (h *handler) tokens(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	h.showTokens(w, r, p, http.StatusOK, tokensPage{})
}

func (h *handler) showTokens(w http.ResponseWriter, r *http.Request, p auth.Principal, status int, d tokensPage) {
	var err error
	if d.Tokens, err = h.svc.Tokens(r.Context(), p); err != nil {
		h.fail(w, r, err, "manage API tokens")
		return
	}
	h.render(w, r, status, "tokens", page{Title: "API tokens", Nav: "tokens", Data: d})
}

// createToken shows the new secret on the response itself, not after a
// redirect: it is shown this once and stored nowhere but in its hash.
func (h *handler) createToken(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	d := tokensPage{Email: r.PostFormValue("email"), Name: r.PostFormValue("name"), Role: r.PostFormValue("role")}
	secret, t, err := h.svc.CreateToken(r.Context(), p, d.Email, d.Name, auth.Role(strings.TrimSpace(d.Role)))
	switch apperr.Code(err) {
	case "":
		h.log.Info("token_created", "token_id", t.ID, "user_id", t.UserID)
		h.render(w, r, http.StatusOK, "token_created", page{Title: "API token created", Nav: "tokens", Data: tokenCreatedPage{secret, t}})
	case apperr.EINVALID:
		for _, e := range apperr.Flatten(err) {
			d.Errors.add(e.Field, e.Message)
		}
		d.Errors.sortSummary([]string{"email", "name", "role"})
		h.showTokens(w, r, p, http.StatusUnprocessableEntity, d)
	default:
		h.fail(w, r, err, "manage API tokens")
	}
}

func (h *handler) revokeToken(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	t, err := h.svc.RevokeToken(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err, "manage API tokens")
		return
	}
	h.redirect(w, r, "/tokens", "ok", fmt.Sprintf("Revoked the token %q of %s; programs using it are now refused.", t.Name, t.UserEmail))
}
