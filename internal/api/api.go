// Package api is the JSON API under /api/v1: incidents, facts and their
// versions, state moves, timelines, users, API tokens and the audit log.
// Clients authenticate with `Authorization: Bearer <token>` or a browser
// session (which must then send the X-CSRF-Token header on writes). Every
// error is `{"error":{"code":…,"message":…}}` with a status that matches its
// code. The routes are documented in docs/api.md; a test checks that the
// document and the routes agree.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/httpauth"
)

// MaxBody is the largest request body accepted.
const MaxBody = 1 << 20

type handler struct {
	svc *app.Service
	log *slog.Logger
}

// Route is one documented endpoint.
type Route struct {
	Method, Path string
}

// Routes lists every endpoint, in the order docs/api.md documents them.
var Routes = append([]Route{
	{"GET", "/me"},
	{"GET", "/data-kinds"},
	{"GET", "/incidents"},
	{"POST", "/incidents"},
	{"GET", "/incidents/{id}"},
	{"PATCH", "/incidents/{id}"},
	{"POST", "/incidents/{id}/state"},
	{"GET", "/incidents/{id}/facts"},
	{"PUT", "/incidents/{id}/facts"},
	{"GET", "/incidents/{id}/facts/versions"},
	{"GET", "/incidents/{id}/facts/versions/{version}"},
	{"GET", "/incidents/{id}/facts/diff"},
	{"GET", "/incidents/{id}/timeline"},
	{"GET", "/incidents/{id}/audit"},
	{"GET", "/audit"},
	{"POST", "/audit/verify"},
	{"GET", "/users"},
	{"POST", "/users"},
	{"GET", "/users/{id}"},
	{"PATCH", "/users/{id}"},
	{"GET", "/tokens"},
	{"POST", "/tokens"},
	{"DELETE", "/tokens/{id}"},
	{"GET", "/incidents/{id}/audiences"},
	{"POST", "/incidents/{id}/audiences"},
	{"GET", "/lists"},
	{"POST", "/lists"},
	{"GET", "/audiences/{id}"},
	{"POST", "/audiences/{id}/lists"},
	{"GET", "/audiences/{id}/recipients"},
	{"POST", "/audiences/{id}/recipients"},
	{"POST", "/audiences/{id}/count"},
	{"GET", "/audiences/{id}/stats"},
	{"GET", "/audiences/{id}/imports"},
	{"GET", "/imports/{id}"},
	{"GET", "/imports/{id}/errors"},
	{"GET", "/incidents/{id}/segments"},
	{"POST", "/incidents/{id}/segments"},
	{"GET", "/segments/{id}"},
}, append(append(noticeRoutes, deliveryRoutes...), publicRoutes...)...)

// New returns the API handler; mount it with the /api/v1 prefix stripped.
func New(svc *app.Service, log *slog.Logger) http.Handler {
	h := &handler{svc: svc, log: log.With("component", "api")}
	handlers := map[string]func(http.ResponseWriter, *http.Request, auth.Principal) (int, any, error){
		"GET /me":                                      h.me,
		"GET /data-kinds":                              h.dataKinds,
		"GET /incidents":                               h.listIncidents,
		"POST /incidents":                              h.createIncident,
		"GET /incidents/{id}":                          h.getIncident,
		"PATCH /incidents/{id}":                        h.updateIncident,
		"POST /incidents/{id}/state":                   h.moveIncident,
		"GET /incidents/{id}/facts":                    h.getFacts,
		"PUT /incidents/{id}/facts":                    h.saveFacts,
		"GET /incidents/{id}/facts/versions":           h.listVersions,
		"GET /incidents/{id}/facts/versions/{version}": h.getVersion,
		"GET /incidents/{id}/facts/diff":               h.diffFacts,
		"GET /incidents/{id}/timeline":                 h.timeline,
		"GET /incidents/{id}/audit":                    h.incidentAudit,
		"GET /audit":                                   h.globalAudit,
		"POST /audit/verify":                           h.verifyAudit,
		"GET /users":                                   h.listUsers,
		"POST /users":                                  h.createUser,
		"GET /users/{id}":                              h.getUser,
		"PATCH /users/{id}":                            h.updateUser,
		"GET /tokens":                                  h.listTokens,
		"POST /tokens":                                 h.createToken,
		"DELETE /tokens/{id}":                          h.revokeToken,
		"GET /incidents/{id}/audiences":                h.listAudiences,
		"POST /incidents/{id}/audiences":               h.createAudience,
		"GET /lists":                                   h.listLists,
		"POST /lists":                                  h.createList,
		"GET /audiences/{id}":                          h.getAudience,
		"POST /audiences/{id}/lists":                   h.attachList,
		"GET /audiences/{id}/recipients":               h.listRecipients,
		"POST /audiences/{id}/recipients":              h.importRecipients,
		"POST /audiences/{id}/count":                   h.countMatches,
		"GET /audiences/{id}/stats":                    h.audienceStats,
		"GET /audiences/{id}/imports":                  h.listImports,
		"GET /imports/{id}":                            h.getImport,
		"GET /imports/{id}/errors":                     h.importErrors,
		"GET /incidents/{id}/segments":                 h.listSegments,
		"POST /incidents/{id}/segments":                h.createSegment,
		"GET /segments/{id}":                           h.getSegment,
	}
	for k, fn := range h.noticeHandlers() {
		handlers[k] = fn
	}
	for k, fn := range h.deliveryHandlers() {
		handlers[k] = fn
	}
	for k, fn := range h.publicHandlers() {
		handlers[k] = fn
	}
	mux := http.NewServeMux()
	for _, rt := range Routes {
		fn, ok := handlers[rt.Method+" "+rt.Path]
		if !ok {
			panic("api: no handler for " + rt.Method + " " + rt.Path)
		}
		mux.Handle(rt.Method+" "+rt.Path, h.wrap(fn))
	}
	return h.fallback(mux)
}

// wrap turns a handler that returns (status, body, error) into an
// http.Handler: it requires a principal, checks CSRF for session writes,
// and writes the body or the error as JSON.
func (h *handler) wrap(fn func(http.ResponseWriter, *http.Request, auth.Principal) (int, any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := httpauth.Principal(r)
		if !ok {
			err := httpauth.AuthError(r)
			if err == nil {
				err = &apperr.Error{Code: apperr.EUNAUTHORIZED, Message: "authenticate with Authorization: Bearer <token> (create one with `candor token create`)"}
			}
			h.writeError(w, r, err)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !httpauth.CheckCSRF(r) {
			h.writeError(w, r, apperr.Forbidden("missing or wrong CSRF token: browser sessions must send the %s header on changes", httpauth.CSRFHeader))
			return
		}
		status, body, err := fn(w, r, p)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if f, ok := body.(csvFile); ok {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.name}))
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(status)
			if err := f.write(w); err != nil {
				h.log.Warn("write_csv", "path", r.URL.Path, "err", err)
			}
			return
		}
		writeJSON(w, status, body)
	})
}

// fallback answers unknown paths and wrong methods in JSON, as every other
// error is, instead of the mux's plain text.
func (h *handler) fallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		var allowed []string
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			r2 := r.Clone(r.Context())
			r2.Method = m
			if _, pattern := mux.Handler(r2); pattern != "" {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeJSON(w, http.StatusMethodNotAllowed, errorBody("method_not_allowed", fmt.Sprintf("%s is not allowed here; use %s", r.Method, strings.Join(allowed, " or ")), "", nil))
			return
		}
		writeJSON(w, http.StatusNotFound, errorBody(apperr.ENOTFOUND, "no such endpoint: "+r.URL.Path+"; see docs/api.md", "", nil))
	})
}

var statusOf = map[string]int{
	apperr.EINVALID:      http.StatusUnprocessableEntity,
	apperr.ENOTFOUND:     http.StatusNotFound,
	apperr.ECONFLICT:     http.StatusConflict,
	apperr.EFORBIDDEN:    http.StatusForbidden,
	apperr.EUNAUTHORIZED: http.StatusUnauthorized,
	apperr.ETOOMANY:      http.StatusTooManyRequests,
	codeBadRequest:       http.StatusBadRequest,
	codeTooLarge:         http.StatusRequestEntityTooLarge,
	codeMediaType:        http.StatusUnsupportedMediaType,
}

const (
	codeBadRequest = "bad_request"
	codeTooLarge   = "too_large"
	codeMediaType  = "unsupported_media_type"
)

func errorBody(code, msg, field string, extra map[string]any) map[string]any {
	e := map[string]any{"code": code, "message": msg}
	if field != "" {
		e["field"] = field
	}
	for k, v := range extra {
		e[k] = v
	}
	return map[string]any{"error": e}
}

// writeError maps an error to its status and JSON body. Internal errors are
// logged here, once, and reach the client only as a generic message.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := apperr.As(err)
	if e == nil {
		h.log.Error("api_internal_error", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, errorBody(apperr.EINTERNAL, apperr.Message(err), "", nil))
		return
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	extra := map[string]any{}
	if fields := apperr.Fields(err); len(fields) > 1 {
		extra["fields"] = fields
	}
	if e.Detail != nil {
		if _, isList := e.Detail.(apperr.List); !isList {
			extra["detail"] = e.Detail
		}
	}
	if e.Code == apperr.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="candor"`)
	}
	writeJSON(w, status, errorBody(e.Code, e.Message, e.Field, extra))
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if body == nil {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(body)
}

// decode reads a JSON request body into v: it must be declared as JSON, be
// under MaxBody, hold exactly one value, and use only known fields.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return &apperr.Error{Code: codeMediaType, Message: fmt.Sprintf("send the body as JSON with Content-Type: application/json (got %q)", ct)}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return &apperr.Error{Code: codeBadRequest, Message: "the body holds more than one JSON value; send exactly one object"}
	}
	return nil
}

func decodeError(err error) error {
	var maxErr *http.MaxBytesError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &maxErr):
		return &apperr.Error{Code: codeTooLarge, Message: fmt.Sprintf("the body is larger than %d bytes", maxErr.Limit)}
	case errors.As(err, &syntaxErr):
		return &apperr.Error{Code: codeBadRequest, Message: fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)}
	case errors.As(err, &typeErr):
		field := typeErr.Field
		return &apperr.Error{Code: codeBadRequest, Field: field, Message: fmt.Sprintf("%s must be %s, not %s", orBody(field), jsonType(typeErr.Type.Kind().String()), typeErr.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &apperr.Error{Code: codeBadRequest, Field: field, Message: fmt.Sprintf("unknown field %q; see docs/api.md for the fields this endpoint takes", field)}
	case err.Error() == "EOF":
		return &apperr.Error{Code: codeBadRequest, Message: "the body is empty; send a JSON object"}
	case strings.Contains(err.Error(), "parsing time"):
		return &apperr.Error{Code: codeBadRequest, Message: "a time is not in RFC 3339 form; write times like 2026-11-20T14:00:00Z"}
	}
	return &apperr.Error{Code: codeBadRequest, Message: "malformed JSON: " + err.Error()}
}

func orBody(field string) string {
	if field == "" {
		return "the body"
	}
	return field
}

func jsonType(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "true or false"
	case kind == "slice":
		return "an array"
	case kind == "struct", kind == "map":
		return "an object"
	}
	return "a " + kind
}

// pathID parses the {name} path value as a positive integer.
func pathID(r *http.Request, name string) (int64, error) {
	s := r.PathValue(name)
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.Invalid(name, "%q is not a valid %s; use a positive whole number", s, name)
	}
	return id, nil
}

// queryInt parses an optional integer query parameter.
func queryInt(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, apperr.Invalid(name, "%q is not a valid %s; use a positive whole number", s, name)
	}
	return n, nil
}

// page is a list response with its cursor.
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func newPage[T any](items []T, next int64) page[T] {
	if items == nil {
		items = []T{}
	}
	p := page[T]{Items: items}
	if next > 0 {
		p.NextCursor = strconv.FormatInt(next, 10)
	}
	return p
}

// listParams reads the cursor and limit of a list request.
func listParams(r *http.Request) (cursor int64, limit int, err error) {
	if cursor, err = queryInt(r, "cursor"); err != nil {
		return
	}
	l, err := queryInt(r, "limit")
	if err != nil {
		return
	}
	if l > 500 {
		return 0, 0, apperr.Invalid("limit", "at most 500 items a page")
	}
	return cursor, int(l), nil
}
