package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/store"
)

// previewRecipients is how many members the recipient picker lists.
const previewRecipients = 50

type previewPage struct {
	noticeHead
	Version    int // the version shown
	Versions   []store.NoticeVersion
	Recipients []audience.Recipient
	// RecipientID is the chosen recipient (0: the first member).
	RecipientID int64
	Preview     app.Preview
	Variants    []app.VariantPreview // the side-by-side view only
	// Error is why the text could not be rendered for this recipient.
	Error string
	// Query is the version and recipient, for links between the views.
	Query    string
	EmailURL string
}

// previewQuery reads ?version= and ?recipient=.
func (h *handler) previewQuery(w http.ResponseWriter, r *http.Request) (version int, recipient int64, ok bool) {
	q := r.URL.Query()
	if s := q.Get("version"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			h.badRequest(w, r, fmt.Sprintf("%q is not a version number.", s))
			return 0, 0, false
		}
		version = n
	}
	if s := q.Get("recipient"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			h.badRequest(w, r, fmt.Sprintf("%q is not a recipient number.", s))
			return 0, 0, false
		}
		recipient = n
	}
	return version, recipient, true
}

// loadPreview fills what both preview views share.
func (h *handler) loadPreview(r *http.Request, p auth.Principal, id int64, version int, recipient int64) (previewPage, error) {
	var d previewPage
	var err error
	if d.noticeHead, err = h.noticeHead(r, p, id); err != nil {
		return d, err
	}
	if d.Versions, err = h.svc.NoticeVersions(r.Context(), p, id); err != nil {
		return d, err
	}
	d.Version = version
	if d.Version == 0 {
		d.Version = d.Notice.CurrentVersion
	}
	if d.Notice.AudienceID != 0 {
		if d.Recipients, _, err = h.svc.Recipients(r.Context(), p, d.Notice.AudienceID, 0, previewRecipients); err != nil {
			return d, err
		}
	}
	d.RecipientID = recipient
	q := url.Values{"version": {strconv.Itoa(d.Version)}}
	if recipient != 0 {
		q.Set("recipient", strconv.FormatInt(recipient, 10))
	}
	d.Query = q.Encode()
	d.EmailURL = fmt.Sprintf("/notices/%d/preview/email?%s", id, d.Query)
	return d, nil
}

// renderError turns a rendering failure into words for the page, or
// reports that it is not one.
func renderError(err error) (string, bool) {
	if apperr.Code(err) != apperr.EINVALID {
		return "", false
	}
	msg := ""
	for _, e := range apperr.Flatten(err) {
		if msg != "" {
			msg += " "
		}
		if e.Field != "" {
			msg += e.Field + ": "
		}
		msg += upperFirst(e.Message) + "."
	}
	return msg, true
}

func (h *handler) previewNotice(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	version, recipient, ok := h.previewQuery(w, r)
	if !ok {
		return
	}
	d, err := h.loadPreview(r, p, id, version, recipient)
	if err != nil {
		h.fail(w, r, err, "see notices")
		return
	}
	d.Preview, err = h.svc.PreviewNotice(r.Context(), p, id, d.Version, recipient)
	if err != nil {
		msg, ok := renderError(err)
		if !ok || d.Preview.VariantName == "" {
			h.fail(w, r, err, "see notices")
			return
		}
		d.Error = msg
	}
	h.render(w, r, http.StatusOK, "notice_preview", page{Title: "Preview: " + d.Notice.Title, Nav: "incidents", Data: d})
}

func (h *handler) previewVariants(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	version, recipient, ok := h.previewQuery(w, r)
	if !ok {
		return
	}
	d, err := h.loadPreview(r, p, id, version, recipient)
	if err != nil {
		h.fail(w, r, err, "see notices")
		return
	}
	d.Preview, d.Variants, err = h.svc.PreviewVariants(r.Context(), p, id, d.Version, recipient)
	if err != nil {
		h.fail(w, r, err, "see notices")
		return
	}
	h.render(w, r, http.StatusOK, "notice_variants", page{Title: "Variants side by side: " + d.Notice.Title, Nav: "incidents", Data: d})
}

// previewEmail serves the email's HTML alone, for the preview page's
// sandboxed iframe. The email carries its styles inline, as mail clients
// need, so this response has its own policy: inline styles, no scripts, no
// requests anywhere, a sandbox, and framing by this site only.
func (h *handler) previewEmail(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	version, recipient, ok := h.previewQuery(w, r)
	if !ok {
		return
	}
	pv, err := h.svc.PreviewNotice(r.Context(), p, id, version, recipient)
	if err != nil {
		h.fail(w, r, err, "see notices")
		return
	}
	if pv.Email == nil {
		h.errorPage(w, r, http.StatusNotFound, "No email", "This notice is not sent by email.", "")
		return
	}
	writeEmailHTML(w, pv.Email.HTML)
}

// writeEmailHTML serves an email's HTML for a sandboxed iframe: no script,
// no requests anywhere, framed only by the command center itself.
func writeEmailHTML(w http.ResponseWriter, html string) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox")
	hd.Set("X-Frame-Options", "SAMEORIGIN")
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	w.Write([]byte(html))
}
