package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
)

type userJSON struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      auth.Role `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

func userView(u auth.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Disabled: u.Disabled, CreatedAt: u.CreatedAt}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (h *handler) listUsers(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	cursor, limit, err := listParams(r)
	if err != nil {
		return 0, nil, err
	}
	us, next, err := h.svc.Users(r.Context(), p, cursor, limit)
	if err != nil {
		return 0, nil, err
	}
	views := make([]userJSON, len(us))
	for i, u := range us {
		views[i] = userView(u)
	}
	return http.StatusOK, newPage(views, next), nil
}

func (h *handler) createUser(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	var body struct {
		Email    string    `json:"email"`
		Name     string    `json:"name"`
		Role     auth.Role `json:"role"`
		Password string    `json:"password"`
	}
	if err := decode(w, r, &body); err != nil {
		return 0, nil, err
	}
	u, err := h.svc.CreateUser(r.Context(), p, auth.NewUser{Email: body.Email, Name: body.Name, Role: body.Role, Password: body.Password})
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", "/api/v1/users/"+itoa(u.ID))
	return http.StatusCreated, userView(u), nil
}

func (h *handler) getUser(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	u, err := h.svc.User(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, userView(u), nil
}

func (h *handler) updateUser(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		Name     *string    `json:"name"`
		Role     *auth.Role `json:"role"`
		Disabled *bool      `json:"disabled"`
		Password *string    `json:"password"`
	}
	if err := decode(w, r, &body); err != nil {
		return 0, nil, err
	}
	u, err := h.svc.UpdateUser(r.Context(), p, id, app.UserChange{Name: body.Name, Role: body.Role, Disabled: body.Disabled, Password: body.Password})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, userView(u), nil
}

func (h *handler) listTokens(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	ts, err := h.svc.Tokens(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, newPage(ts, 0), nil
}

func (h *handler) createToken(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	var body struct {
		Email string    `json:"email"`
		Name  string    `json:"name"`
		Role  auth.Role `json:"role"`
	}
	if err := decode(w, r, &body); err != nil {
		return 0, nil, err
	}
	secret, t, err := h.svc.CreateToken(r.Context(), p, body.Email, body.Name, body.Role)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{"token": t, "secret": secret, "note": "store the secret now: it is shown only once"}, nil
}

func (h *handler) revokeToken(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	t, err := h.svc.RevokeToken(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, t, nil
}
