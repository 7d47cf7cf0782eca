package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/httpauth"
	"github.com/candorhq/candor/internal/incident"
)

// maxImportBody is the largest upload an import accepts. The file is
// streamed into the database as it arrives, never held whole.
const maxImportBody = 512 << 20

// importErrorRows is how many rejected rows an import's report keeps for
// its result page and its CSV download.
const importErrorRows = 10000

// audienceForm is the "new audience" form as typed.
type audienceForm struct {
	Kind, Name, Description string
	Errors                  formErrors
}

type kindTotal struct {
	Kind       audience.Kind
	Audiences  int
	Recipients int64
}

type audiencesPage struct {
	Incident  incident.Incident // zero for the standing lists
	Audiences []audience.Audience
	Totals    []kindTotal
	Form      audienceForm
}

func (d audiencesPage) IsLists() bool { return d.Incident.ID == 0 }

func (h *handler) incidentAudiences(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	h.showAudiences(w, r, p, id, http.StatusOK, audienceForm{Kind: string(audience.AffectedCustomers)})
}

func (h *handler) lists(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	h.showAudiences(w, r, p, 0, http.StatusOK, audienceForm{Kind: string(audience.Custom)})
}

// showAudiences renders an incident's audiences (or, for 0, the standing
// lists) with the form to add one in the state f holds.
func (h *handler) showAudiences(w http.ResponseWriter, r *http.Request, p auth.Principal, incidentID int64, status int, f audienceForm) {
	d := audiencesPage{Form: f}
	var err error
	title := "Standing lists"
	if incidentID != 0 {
		if d.Incident, err = h.svc.Incident(r.Context(), p, incidentID); err != nil {
			h.fail(w, r, err, "see incidents")
			return
		}
		title = "Audiences: " + d.Incident.Title
	}
	if d.Audiences, err = h.svc.Audiences(r.Context(), p, incidentID); err != nil {
		h.fail(w, r, err, "see audiences")
		return
	}
	for _, k := range audience.Kinds {
		t := kindTotal{Kind: k.Kind}
		for _, a := range d.Audiences {
			if a.Kind == k.Kind {
				t.Audiences++
				t.Recipients += a.Members
			}
		}
		if t.Audiences > 0 {
			d.Totals = append(d.Totals, t)
		}
	}
	nav := "incidents"
	if incidentID == 0 {
		nav = "lists"
	}
	h.render(w, r, status, "audiences", page{Title: title, Nav: nav, Data: d})
}

func (h *handler) createIncidentAudience(w http.ResponseWriter, r *http.Request) {
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	h.createAudience(w, r, id)
}

func (h *handler) createList(w http.ResponseWriter, r *http.Request) {
	h.createAudience(w, r, 0)
}

func (h *handler) createAudience(w http.ResponseWriter, r *http.Request, incidentID int64) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	f := audienceForm{Kind: r.PostFormValue("kind"), Name: r.PostFormValue("name"), Description: r.PostFormValue("description")}
	a, err := h.svc.CreateAudience(r.Context(), p, audience.New{IncidentID: incidentID, Kind: audience.Kind(f.Kind), Name: f.Name, Description: f.Description})
	switch apperr.Code(err) {
	case "":
		what := "audience"
		if a.IsList() {
			what = "standing list"
		}
		h.redirect(w, r, fmt.Sprintf("/audiences/%d", a.ID), "ok", fmt.Sprintf("Created the %s %q. Import its recipients from a CSV file below.", what, a.Name))
	case apperr.EINVALID, apperr.ECONFLICT:
		for _, e := range apperr.Flatten(err) {
			f.Errors.add(e.Field, e.Message)
		}
		f.Errors.sortSummary([]string{"kind", "name", "description"})
		h.showAudiences(w, r, p, incidentID, http.StatusUnprocessableEntity, f)
	default:
		h.fail(w, r, err, "create audiences")
	}
}

// importForm is the import form's state after a refused upload (the file
// itself cannot be kept: browsers never refill a file input).
type importForm struct {
	Mapping      string
	AllOrNothing bool
	Errors       formErrors
}

type audiencePage struct {
	Audience   audience.Audience
	Incident   incident.Incident // zero for a standing list
	Stats      audience.Stats
	Lists      []audience.Audience // attached standing lists
	Attachable []audience.Audience // standing lists that could be attached
	Imports    []audience.ImportRecord
	Recipients []audience.Recipient
	Next       int64 // the next page's cursor, 0 on the last page
	Paged      bool
	Import     importForm
	AttachErr  string
	MappingDoc string
	MaxMiB     int
}

func (h *handler) audience(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	h.showAudience(w, r, p, id, http.StatusOK, audiencePage{})
}

func (h *handler) showAudience(w http.ResponseWriter, r *http.Request, p auth.Principal, id int64, status int, d audiencePage) {
	ctx := r.Context()
	after, ok := h.queryCursor(w, r, "after")
	if !ok {
		return
	}
	var err error
	if d.Audience, err = h.svc.Audience(ctx, p, id); err != nil {
		h.fail(w, r, err, "see audiences")
		return
	}
	if !d.Audience.IsList() {
		if d.Incident, err = h.svc.Incident(ctx, p, d.Audience.IncidentID); err != nil {
			h.fail(w, r, err, "see incidents")
			return
		}
		lists, err := h.svc.Audiences(ctx, p, 0)
		if err != nil {
			h.fail(w, r, err, "see audiences")
			return
		}
		for _, l := range lists {
			attached := false
			for _, id := range d.Audience.Lists {
				attached = attached || id == l.ID
			}
			if attached {
				d.Lists = append(d.Lists, l)
			} else {
				d.Attachable = append(d.Attachable, l)
			}
		}
	}
	if d.Stats, err = h.svc.AudienceStats(ctx, p, id); err != nil {
		h.fail(w, r, err, "see audiences")
		return
	}
	if d.Imports, err = h.svc.Imports(ctx, p, id, 5); err != nil {
		h.fail(w, r, err, "see audiences")
		return
	}
	if d.Recipients, d.Next, err = h.svc.Recipients(ctx, p, id, after, pageSize*2); err != nil {
		h.fail(w, r, err, "see audiences")
		return
	}
	d.Paged = after > 0
	d.MappingDoc = audience.DefaultMappingHelp
	d.MaxMiB = maxImportBody >> 20
	h.render(w, r, status, "audience", page{Title: d.Audience.Name, Nav: navOf(d.Audience), Data: d})
}

func navOf(a audience.Audience) string {
	if a.IsList() {
		return "lists"
	}
	return "incidents"
}

func (h *handler) attachList(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	var listID int64
	fmt.Sscan(r.PostFormValue("list_id"), &listID)
	a, err := h.svc.AttachList(r.Context(), p, id, listID)
	switch apperr.Code(err) {
	case "":
		h.redirect(w, r, fmt.Sprintf("/audiences/%d", id), "ok", fmt.Sprintf("Attached the list. %q now has %s members.", a.Name, formatCount(int(a.Members))))
	case apperr.EINVALID, apperr.ECONFLICT:
		h.showAudience(w, r, p, id, http.StatusUnprocessableEntity, audiencePage{AttachErr: upperFirst(apperr.Message(err)) + "."})
	default:
		h.fail(w, r, err, "attach lists to audiences")
	}
}

// importRecipients reads a multipart upload as a stream: the CSRF token
// and the options come first (forms send their fields in document order),
// then the file, which is imported as it arrives. Nothing is buffered, so
// the file may be far larger than memory. A finished import, kept or
// refused, lands on its report page.
func (h *handler) importRecipients(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	// A role that may not import is refused before the upload is read.
	if !p.Role.Can(auth.EditIncident) {
		h.forbidden(w, r, "import recipients")
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read", "The upload did not arrive as a file upload (multipart/form-data).", "Reload the page and choose the file again.")
		return
	}
	// A large file takes longer to arrive than the server's read timeout.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(time.Hour))
	var f importForm
	csrf := r.Header.Get(httpauth.CSRFHeader)
	checked := false
	// check runs once, before anything is imported.
	check := func() bool {
		if checked {
			return true
		}
		checked = true
		if !auth.CheckCSRF(httpauth.SessionSecret(r), csrf) {
			h.csrfFailed(w, r)
			return false
		}
		return true
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			h.uploadFailed(w, r, err)
			return
		}
		switch part.FormName() {
		case httpauth.CSRFField:
			csrf = readSmall(part, 256)
		case "mapping":
			f.Mapping = readSmall(part, 8<<10)
		case "all_or_nothing":
			f.AllOrNothing = readSmall(part, 16) != ""
		case "file":
			if !check() {
				return
			}
			if part.FileName() == "" {
				continue
			}
			h.runImport(w, r, p, id, part, f)
			return
		}
		part.Close()
	}
	if !check() {
		return
	}
	f.Errors.add("file", "Choose the CSV file to import.")
	h.showAudience(w, r, p, id, http.StatusUnprocessableEntity, audiencePage{Import: f})
}

func (h *handler) runImport(w http.ResponseWriter, r *http.Request, p auth.Principal, id int64, file io.Reader, f importForm) {
	name := ""
	if part, ok := file.(interface{ FileName() string }); ok {
		name = part.FileName()
	}
	m, err := audience.ParseMapping(strings.ReplaceAll(f.Mapping, "\n", ","))
	if err != nil {
		f.Errors.add("mapping", apperr.Message(err))
		h.showAudience(w, r, p, id, http.StatusUnprocessableEntity, audiencePage{Import: f})
		return
	}
	opt := audience.ImportOptions{Mapping: m, AllOrNothing: f.AllOrNothing, KeepErrors: importErrorRows, FileName: clipName(name), Total: r.ContentLength}
	rep, err := h.svc.ImportRecipients(r.Context(), p, id, file, opt)
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		msg := fmt.Sprintf("Imported %s: %s new recipients, %s updated.", opt.FileName, formatCount(int(rep.Created)), formatCount(int(rep.Updated)))
		if rep.Rejected > 0 {
			msg += fmt.Sprintf(" %s rows were rejected; they are listed below.", formatCount(int(rep.Rejected)))
		}
		h.redirect(w, r, fmt.Sprintf("/imports/%d", rep.ImportID), "ok", msg)
	case errors.As(err, &tooBig):
		f.Errors.add("file", fmt.Sprintf("The file is larger than %d MiB. Split it and import the parts: rows are merged by email.", maxImportBody>>20))
		h.showAudience(w, r, p, id, http.StatusRequestEntityTooLarge, audiencePage{Import: f})
	case apperr.Code(err) == apperr.EINVALID && rep.ImportID != 0:
		h.redirect(w, r, fmt.Sprintf("/imports/%d", rep.ImportID), "error", upperFirst(apperr.Message(err))+".")
	case apperr.Code(err) == apperr.EINVALID:
		field := apperr.As(err).Field
		if field != "map" {
			field = "file"
		} else {
			field = "mapping"
		}
		f.Errors.add(field, apperr.Message(err))
		h.showAudience(w, r, p, id, http.StatusUnprocessableEntity, audiencePage{Import: f})
	default:
		h.fail(w, r, err, "import recipients")
	}
}

// uploadFailed answers an upload that broke off or was too large.
func (h *handler) uploadFailed(w http.ResponseWriter, r *http.Request, err error) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		h.errorPage(w, r, http.StatusRequestEntityTooLarge, "The file is too large", fmt.Sprintf("Candor imports files of up to %d MiB at a time.", maxImportBody>>20), "Split the file and import the parts: rows are merged by email.")
		return
	}
	h.errorPage(w, r, http.StatusBadRequest, "The upload broke off", "The file did not arrive completely. Nothing was imported.", "Try again; if it keeps failing, import it with candor import recipients.")
}

func readSmall(r io.Reader, max int64) string {
	b, _ := io.ReadAll(io.LimitReader(r, max))
	return strings.TrimSpace(string(b))
}

func clipName(s string) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) > audience.MaxName {
		s = s[:audience.MaxName]
	}
	return s
}

type importPage struct {
	Import   audience.ImportRecord
	Audience audience.Audience
	By       string
}

func (h *handler) importReport(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	im, err := h.svc.Import(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err, "see imports")
		return
	}
	a, err := h.svc.Audience(r.Context(), p, im.AudienceID)
	if err != nil {
		h.fail(w, r, err, "see audiences")
		return
	}
	h.render(w, r, http.StatusOK, "import", page{Title: "Import into " + a.Name, Nav: navOf(a), Data: importPage{Import: im, Audience: a}})
}

func (h *handler) importErrors(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	im, err := h.svc.Import(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err, "see imports")
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="import-%d-errors.csv"`, id))
	w.Header().Set("Cache-Control", "no-store")
	if err := audience.WriteErrorsCSV(w, im.Report.Errors); err != nil {
		h.log.Warn("write_errors_csv", "import", id, "err", err)
	}
}
