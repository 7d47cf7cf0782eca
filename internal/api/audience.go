package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
)

// MaxImportBody is the largest CSV accepted by a recipient import. The body
// is streamed into the database, never held in memory.
const MaxImportBody = 512 << 20

// importErrorRows is how many rejected rows an import's reply lists in
// errors_csv; the reply says when there were more.
const importErrorRows = 10000

type audienceJSON struct {
	ID          int64         `json:"id"`
	IncidentID  *int64        `json:"incident_id"` // null for a standing list
	Kind        audience.Kind `json:"kind"`
	KindLabel   string        `json:"kind_label"`
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Recipients  int64         `json:"recipients"`
	Members     int64         `json:"members"`
	Lists       []int64       `json:"lists"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
}

func audienceView(a audience.Audience) audienceJSON {
	v := audienceJSON{ID: a.ID, Kind: a.Kind, KindLabel: a.Kind.Label(), Name: a.Name, Description: a.Description,
		Recipients: a.Recipients, Members: a.Members, Lists: a.Lists, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	if a.IncidentID != 0 {
		id := a.IncidentID
		v.IncidentID = &id
	}
	if v.Lists == nil {
		v.Lists = []int64{}
	}
	return v
}

type recipientJSON struct {
	ID           int64               `json:"id"`
	Email        string              `json:"email"`
	Phone        string              `json:"phone"`
	Name         string              `json:"name"`
	Locale       string              `json:"locale"`
	Jurisdiction string              `json:"jurisdiction"`
	ExternalID   string              `json:"external_id"`
	Exposed      []incident.DataKind `json:"exposed"`
	Attributes   map[string]string   `json:"attributes"`
	CreatedAt    time.Time           `json:"created_at"`
	UpdatedAt    time.Time           `json:"updated_at"`
}

func recipientView(r audience.Recipient) recipientJSON {
	v := recipientJSON{ID: r.ID, Email: r.Email, Phone: r.Phone, Name: r.Name, Locale: r.Locale, Jurisdiction: r.Jurisdiction,
		ExternalID: r.ExternalID, Exposed: r.Exposed, Attributes: r.Attributes, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if v.Exposed == nil {
		v.Exposed = []incident.DataKind{}
	}
	if v.Attributes == nil {
		v.Attributes = map[string]string{}
	}
	return v
}

type segmentJSON struct {
	ID          int64         `json:"id"`
	IncidentID  int64         `json:"incident_id"`
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Rule        audience.Rule `json:"rule"`
	Text        string        `json:"text"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
}

func segmentView(s audience.Segment) segmentJSON {
	return segmentJSON{ID: s.ID, IncidentID: s.IncidentID, Name: s.Name, Description: s.Description, Rule: s.Rule, Text: s.Rule.String(),
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

type audienceBody struct {
	Kind        audience.Kind `json:"kind"`
	Name        string        `json:"name"`
	Description string        `json:"description"`
}

func (h *handler) listAudiences(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	return h.audiences(r, p, id)
}

func (h *handler) listLists(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	return h.audiences(r, p, 0)
}

func (h *handler) audiences(r *http.Request, p auth.Principal, incidentID int64) (int, any, error) {
	as, err := h.svc.Audiences(r.Context(), p, incidentID)
	if err != nil {
		return 0, nil, err
	}
	views := make([]audienceJSON, len(as))
	for i, a := range as {
		views[i] = audienceView(a)
	}
	return http.StatusOK, newPage(views, 0), nil
}

func (h *handler) createAudience(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	return h.create(w, r, p, id)
}

func (h *handler) createList(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	return h.create(w, r, p, 0)
}

func (h *handler) create(w http.ResponseWriter, r *http.Request, p auth.Principal, incidentID int64) (int, any, error) {
	var body audienceBody
	if err := decode(w, r, &body); err != nil {
		return 0, nil, err
	}
	a, err := h.svc.CreateAudience(r.Context(), p, audience.New{IncidentID: incidentID, Kind: body.Kind, Name: body.Name, Description: body.Description})
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", "/api/v1/audiences/"+itoa(a.ID))
	return http.StatusCreated, audienceView(a), nil
}

func (h *handler) getAudience(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	a, err := h.svc.Audience(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, audienceView(a), nil
}

func (h *handler) attachList(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		ListID int64 `json:"list_id"`
	}
	if err := decode(w, r, &body); err != nil {
		return 0, nil, err
	}
	a, err := h.svc.AttachList(r.Context(), p, id, body.ListID)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, audienceView(a), nil
}

func (h *handler) listRecipients(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	cursor, limit, err := listParams(r)
	if err != nil {
		return 0, nil, err
	}
	rs, next, err := h.svc.Recipients(r.Context(), p, id, cursor, limit)
	if err != nil {
		return 0, nil, err
	}
	views := make([]recipientJSON, len(rs))
	for i, rc := range rs {
		views[i] = recipientView(rc)
	}
	return http.StatusOK, newPage(views, next), nil
}

// reportJSON is an import's outcome. errors lists the first 100 rejected
// rows; errors_csv holds up to importErrorRows of them as CSV, ready to save.
type reportJSON struct {
	audience.Report
	ErrorsCSV string `json:"errors_csv,omitempty"`
	// ErrorsURL downloads the same rows as a CSV file, later too.
	ErrorsURL string `json:"errors_url,omitempty"`
}

func reportView(rep audience.Report) reportJSON {
	v := reportJSON{Report: rep}
	if len(rep.Errors) > 0 {
		var b bytes.Buffer
		audience.WriteErrorsCSV(&b, rep.Errors)
		v.ErrorsCSV = b.String()
	}
	if rep.ImportID != 0 {
		v.ErrorsURL = fmt.Sprintf("/api/v1/imports/%d/errors", rep.ImportID)
	}
	if len(v.Errors) > 100 {
		v.Errors = v.Errors[:100]
	}
	if v.Columns == nil {
		v.Columns = []audience.Column{}
	}
	return v
}

func (h *handler) importRecipients(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "text/csv" && mt != "application/csv") {
		return 0, nil, &apperr.Error{Code: codeMediaType, Message: fmt.Sprintf("send the file as CSV with Content-Type: text/csv (got %q)", ct)}
	}
	q := r.URL.Query()
	opt := audience.ImportOptions{KeepErrors: importErrorRows, Total: r.ContentLength}
	switch q.Get("all_or_nothing") {
	case "", "false", "0":
	case "true", "1":
		opt.AllOrNothing = true
	default:
		return 0, nil, apperr.Invalid("all_or_nothing", "use all_or_nothing=true or false")
	}
	if opt.Mapping, err = audience.ParseMapping(q.Get("map")); err != nil {
		return 0, nil, err
	}
	// A large file takes longer to send than the server's default read
	// timeout allows; this request may take its time.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(time.Hour))
	opt.FileName = q.Get("file_name")
	if len(opt.FileName) > audience.MaxName {
		return 0, nil, apperr.Invalid("file_name", "keep the file name under %d bytes", audience.MaxName)
	}
	rep, err := h.svc.ImportRecipients(r.Context(), p, id, http.MaxBytesReader(w, r.Body, MaxImportBody), opt)
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return 0, nil, &apperr.Error{Code: codeTooLarge, Message: fmt.Sprintf("the file is larger than %d MiB; split it and import the parts (rows are merged by email)", maxErr.Limit>>20)}
	case err != nil:
		if e := apperr.As(err); e != nil {
			if _, ok := e.Detail.(audience.Report); ok {
				return 0, nil, &apperr.Error{Code: e.Code, Field: e.Field, Message: e.Message, Detail: reportView(rep)}
			}
		}
		return 0, nil, err
	}
	return http.StatusOK, reportView(rep), nil
}

func (h *handler) countMatches(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		Rule      *audience.Rule `json:"rule"`
		SegmentID int64          `json:"segment_id"`
	}
	if err := decode(w, r, &body); err != nil {
		return 0, nil, err
	}
	var rule audience.Rule
	switch {
	case body.Rule != nil && body.SegmentID == 0:
		rule = *body.Rule
	case body.Rule == nil && body.SegmentID > 0:
		sg, err := h.svc.Segment(r.Context(), p, body.SegmentID)
		if err != nil {
			return 0, nil, err
		}
		rule = sg.Rule
	default:
		return 0, nil, apperr.Invalid("rule", "send either a rule or a segment_id")
	}
	c, err := h.svc.CountMatches(r.Context(), p, id, rule)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, c, nil
}

func (h *handler) listSegments(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	sgs, err := h.svc.Segments(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	views := make([]segmentJSON, len(sgs))
	for i, s := range sgs {
		views[i] = segmentView(s)
	}
	return http.StatusOK, newPage(views, 0), nil
}

func (h *handler) createSegment(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		Name        string        `json:"name"`
		Description string        `json:"description"`
		Rule        audience.Rule `json:"rule"`
	}
	if err := decode(w, r, &body); err != nil {
		return 0, nil, err
	}
	sg, err := h.svc.CreateSegment(r.Context(), p, audience.NewSegment{IncidentID: id, Name: body.Name, Description: body.Description, Rule: body.Rule})
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", "/api/v1/segments/"+itoa(sg.ID))
	return http.StatusCreated, segmentView(sg), nil
}

func (h *handler) getSegment(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	sg, err := h.svc.Segment(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, segmentView(sg), nil
}

func (h *handler) audienceStats(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	st, err := h.svc.AudienceStats(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	orEmpty := func(ts []audience.Tally) []audience.Tally {
		if ts == nil {
			return []audience.Tally{}
		}
		return ts
	}
	return http.StatusOK, map[string]any{
		"recipients": st.Recipients, "with_email": st.WithEmail, "with_phone": st.WithPhone,
		"by_jurisdiction": orEmpty(st.ByJurisdiction), "by_locale": orEmpty(st.ByLocale),
		"by_exposed": orEmpty(st.ByExposed), "none_exposed": st.NoneExposed,
	}, nil
}

type importJSON struct {
	reportJSON
	ID         int64     `json:"id"`
	AudienceID int64     `json:"audience_id"`
	CreatedAt  time.Time `json:"created_at"`
}

func importView(im audience.ImportRecord) importJSON {
	v := importJSON{reportJSON: reportView(im.Report), ID: im.ID, AudienceID: im.AudienceID, CreatedAt: im.CreatedAt}
	v.ErrorsCSV = ""
	return v
}

func (h *handler) listImports(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	if _, err := h.svc.Audience(r.Context(), p, id); err != nil {
		return 0, nil, err
	}
	ims, err := h.svc.Imports(r.Context(), p, id, 50)
	if err != nil {
		return 0, nil, err
	}
	views := make([]importJSON, len(ims))
	for i, im := range ims {
		views[i] = importView(im)
	}
	return http.StatusOK, newPage(views, 0), nil
}

func (h *handler) getImport(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	im, err := h.svc.Import(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, importView(im), nil
}

func (h *handler) importErrors(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	im, err := h.svc.Import(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, csvFile{name: fmt.Sprintf("import-%d-errors.csv", id), write: func(w io.Writer) error {
		return audience.WriteErrorsCSV(w, im.Report.Errors)
	}}, nil
}

// csvFile is a reply that is a CSV file to save rather than JSON.
type csvFile struct {
	name  string
	write func(io.Writer) error
}
