package api

import (
	"net/http"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/playbook"
	"github.com/candorhq/candor/internal/store"
)

// noticeRoutes are the response package's endpoints.
var noticeRoutes = []Route{
	{"GET", "/incidents/{id}/notices"},
	{"POST", "/incidents/{id}/notices"},
	{"POST", "/incidents/{id}/playbook"},
	{"GET", "/notices/{id}"},
	{"PUT", "/notices/{id}"},
	{"GET", "/notices/{id}/versions"},
	{"GET", "/notices/{id}/versions/{version}"},
	{"GET", "/notices/{id}/diff"},
	{"POST", "/notices/{id}/check"},
	{"GET", "/notices/{id}/preview"},
	{"POST", "/notices/{id}/submit"},
	{"POST", "/notices/{id}/review"},
	{"POST", "/notices/{id}/withdraw"},
	{"GET", "/review-queue"},
	{"GET", "/playbooks"},
	{"POST", "/playbooks"},
	{"GET", "/playbooks/{key}"},
	{"PUT", "/playbooks/{key}"},
	{"GET", "/notifications"},
	{"POST", "/notifications/read"},
}

func (h *handler) noticeHandlers() map[string]func(http.ResponseWriter, *http.Request, auth.Principal) (int, any, error) {
	return map[string]func(http.ResponseWriter, *http.Request, auth.Principal) (int, any, error){
		"GET /incidents/{id}/notices":          h.listNotices,
		"POST /incidents/{id}/notices":         h.createNotice,
		"POST /incidents/{id}/playbook":        h.applyPlaybook,
		"GET /notices/{id}":                    h.getNotice,
		"PUT /notices/{id}":                    h.saveNotice,
		"GET /notices/{id}/versions":           h.listNoticeVersions,
		"GET /notices/{id}/versions/{version}": h.getNoticeVersion,
		"GET /notices/{id}/diff":               h.diffNotice,
		"POST /notices/{id}/check":             h.checkNotice,
		"GET /notices/{id}/preview":            h.previewNotice,
		"POST /notices/{id}/submit":            h.submitNotice,
		"POST /notices/{id}/review":            h.reviewNotice,
		"POST /notices/{id}/withdraw":          h.withdrawNotice,
		"GET /review-queue":                    h.reviewQueue,
		"GET /playbooks":                       h.listPlaybooks,
		"POST /playbooks":                      h.createPlaybook,
		"GET /playbooks/{key}":                 h.getPlaybook,
		"PUT /playbooks/{key}":                 h.savePlaybook,
		"GET /notifications":                   h.notifications,
		"POST /notifications/read":             h.readNotifications,
	}
}

type versionOfNotice struct {
	Version     int              `json:"version"`
	State       notice.State     `json:"state"`
	Content     notice.Content   `json:"content"`
	ContentHash string           `json:"content_hash"`
	Approvals   int              `json:"approvals_needed"`
	Reason      string           `json:"reason"`
	Author      string           `json:"author"`
	Reviews     []notice.Review  `json:"reviews"`
	Overrides   []store.Override `json:"overrides"`
	CreatedAt   time.Time        `json:"created_at"`
	UpdatedAt   time.Time        `json:"updated_at"`
}

func noticeVersionView(v store.NoticeVersion) versionOfNotice {
	out := versionOfNotice{Version: v.Number, State: v.State, Content: v.Content, ContentHash: v.ContentHash, Approvals: v.Policy.Approvals,
		Reason: v.Reason, Author: v.Author, Reviews: v.Reviews, Overrides: v.Overrides,
		CreatedAt: time.UnixMicro(v.CreatedAt).UTC(), UpdatedAt: time.UnixMicro(v.UpdatedAt).UTC()}
	if out.Reviews == nil {
		out.Reviews = []notice.Review{}
	}
	if out.Overrides == nil {
		out.Overrides = []store.Override{}
	}
	if out.Content.Variants == nil {
		out.Content.Variants = []notice.Variant{}
	}
	return out
}

func (h *handler) listNotices(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	ns, err := h.svc.Notices(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	if ns == nil {
		ns = []notice.Notice{}
	}
	return http.StatusOK, newPage(ns, 0), nil
}

func (h *handler) createNotice(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	var body notice.New
	if err := decode(w, r, &body); err != nil {
		return 0, nil, err
	}
	body.IncidentID = id
	n, err := h.svc.CreateNotice(r.Context(), p, body)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, n, nil
}

func (h *handler) applyPlaybook(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		Key string `json:"key"`
	}
	if err := decode(w, r, &body); err != nil {
		return 0, nil, err
	}
	if body.Key == "" {
		return 0, nil, apperr.Invalid("key", "say which playbook to apply (key; see GET /api/v1/playbooks), e.g. \"customer-data-breach\"")
	}
	created, err := h.svc.ApplyPlaybook(r.Context(), p, id, body.Key)
	if err != nil {
		return 0, nil, err
	}
	if created == nil {
		created = []notice.Notice{}
	}
	return http.StatusCreated, map[string]any{"created": created}, nil
}

func (h *handler) getNotice(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	n, err := h.svc.Notice(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	v, err := h.svc.NoticeVersion(r.Context(), p, id, 0)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"notice": n, "current": noticeVersionView(v)}, nil
}

func (h *handler) saveNotice(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		BaseVersion int              `json:"base_version"`
		Reason      string           `json:"reason"`
		Content     *notice.Content  `json:"content"`
		Title       string           `json:"title"`
		Channels    []notice.Channel `json:"channels"`
		AudienceID  *int64           `json:"audience_id"`
	}
	if err := decode(w, r, &body); err != nil {
		return 0, nil, err
	}
	if body.Content == nil {
		return 0, nil, apperr.Invalid("content", "send the whole content (subject, body, variants): GET the notice, change what you need, PUT it back")
	}
	v, err := h.svc.SaveNotice(r.Context(), p, id, store.NoticeEdit{BaseVersion: body.BaseVersion, Reason: body.Reason, Content: *body.Content,
		Title: body.Title, Channels: body.Channels, AudienceID: body.AudienceID})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, noticeVersionView(v), nil
}

func (h *handler) listNoticeVersions(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	vs, err := h.svc.NoticeVersions(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	views := make([]versionOfNotice, len(vs))
	for i, v := range vs {
		views[i] = noticeVersionView(v)
	}
	return http.StatusOK, newPage(views, 0), nil
}

func (h *handler) getNoticeVersion(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	number, err := pathID(r, "version")
	if err != nil {
		return 0, nil, err
	}
	v, err := h.svc.NoticeVersion(r.Context(), p, id, int(number))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, noticeVersionView(v), nil
}

func (h *handler) diffNotice(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	from, err := queryInt(r, "from")
	if err != nil {
		return 0, nil, err
	}
	to, err := queryInt(r, "to")
	if err != nil {
		return 0, nil, err
	}
	if from == 0 || to == 0 {
		return 0, nil, apperr.Invalid("from", "say which versions to compare: ?from=1&to=2")
	}
	d, err := h.svc.NoticeDiff(r.Context(), p, id, int(from), int(to))
	if err != nil {
		return 0, nil, err
	}
	if d == nil {
		d = []notice.TextDiff{}
	}
	return http.StatusOK, map[string]any{"from": from, "to": to, "changes": d}, nil
}

func (h *handler) checkNotice(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		Version int             `json:"version"`
		Content *notice.Content `json:"content"`
	}
	if err := decode(w, r, &body); err != nil {
		return 0, nil, err
	}
	rep, err := h.svc.CheckNotice(r.Context(), p, id, body.Version, body.Content)
	if err != nil {
		return 0, nil, err
	}
	if rep.Findings == nil {
		rep.Findings = []app.Finding{}
	}
	if rep.Jurisdictions == nil {
		rep.Jurisdictions = []string{}
	}
	return http.StatusOK, rep, nil
}

func (h *handler) previewNotice(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	version, err := queryInt(r, "version")
	if err != nil {
		return 0, nil, err
	}
	recipient, err := queryInt(r, "recipient")
	if err != nil {
		return 0, nil, err
	}
	pv, err := h.svc.PreviewNotice(r.Context(), p, id, int(version), recipient)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, pv, nil
}

type transitionBody struct {
	Version   int               `json:"version"`
	Comment   string            `json:"comment"`
	Decision  string            `json:"decision"`
	Overrides map[string]string `json:"overrides"`
	Reason    string            `json:"reason"`
}

func (h *handler) transition(w http.ResponseWriter, r *http.Request, do func(id int64, b transitionBody) (store.NoticeVersion, error)) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	var body transitionBody
	if err := decode(w, r, &body); err != nil {
		return 0, nil, err
	}
	if body.Version <= 0 {
		return 0, nil, apperr.Invalid("version", "say which version (version) you are acting on, so you never act on text you have not seen")
	}
	v, err := do(id, body)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, noticeVersionView(v), nil
}

func (h *handler) submitNotice(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	return h.transition(w, r, func(id int64, b transitionBody) (store.NoticeVersion, error) {
		return h.svc.SubmitNotice(r.Context(), p, id, b.Version, b.Comment)
	})
}

func (h *handler) reviewNotice(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	return h.transition(w, r, func(id int64, b transitionBody) (store.NoticeVersion, error) {
		return h.svc.ReviewNotice(r.Context(), p, id, b.Version, app.Review{Decision: b.Decision, Comment: b.Comment, Overrides: b.Overrides})
	})
}

func (h *handler) withdrawNotice(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	return h.transition(w, r, func(id int64, b transitionBody) (store.NoticeVersion, error) {
		return h.svc.WithdrawNotice(r.Context(), p, id, b.Version, b.Reason)
	})
}

func (h *handler) reviewQueue(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	ns, err := h.svc.ReviewQueue(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	if ns == nil {
		ns = []notice.Notice{}
	}
	return http.StatusOK, newPage(ns, 0), nil
}

func (h *handler) listPlaybooks(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	pbs, err := h.svc.Playbooks(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, newPage(pbs, 0), nil
}

func (h *handler) getPlaybook(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	pb, err := h.svc.Playbook(r.Context(), p, r.PathValue("key"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, pb, nil
}

func (h *handler) createPlaybook(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	var body struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		IncidentID  int64           `json:"incident_id"`
		Items       []playbook.Item `json:"items"`
	}
	if err := decode(w, r, &body); err != nil {
		return 0, nil, err
	}
	var pb playbook.Playbook
	var err error
	if body.IncidentID != 0 {
		if body.Items != nil {
			return 0, nil, apperr.Invalid("items", "send either incident_id (save that incident's notices) or items, not both")
		}
		pb, err = h.svc.SaveIncidentAsPlaybook(r.Context(), p, body.IncidentID, body.Name, body.Description)
	} else {
		pb, err = h.svc.SavePlaybook(r.Context(), p, playbook.Playbook{Name: body.Name, Description: body.Description, Items: body.Items}, 0)
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, pb, nil
}

func (h *handler) savePlaybook(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	var body struct {
		Version     int             `json:"version"`
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Items       []playbook.Item `json:"items"`
	}
	if err := decode(w, r, &body); err != nil {
		return 0, nil, err
	}
	if body.Version <= 0 {
		return 0, nil, apperr.Invalid("version", "say which version of the playbook your edit is based on (version)")
	}
	pb, err := h.svc.SavePlaybook(r.Context(), p, playbook.Playbook{Key: r.PathValue("key"), Name: body.Name, Description: body.Description, Items: body.Items}, body.Version)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, pb, nil
}

func (h *handler) notifications(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	ns, unread, err := h.svc.Notifications(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	if ns == nil {
		ns = []store.Notification{}
	}
	return http.StatusOK, map[string]any{"items": ns, "unread": unread}, nil
}

func (h *handler) readNotifications(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	if err := h.svc.MarkNotificationsRead(r.Context(), p); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}
