package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/playbook"
)

type playbooksPage struct {
	Playbooks []app.PlaybookInfo
}

func (h *handler) playbooks(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	pbs, err := h.svc.Playbooks(r.Context(), p)
	if err != nil {
		h.fail(w, r, err, "see playbooks")
		return
	}
	h.render(w, r, http.StatusOK, "playbooks", page{Title: "Playbooks", Nav: "playbooks", Data: playbooksPage{pbs}})
}

type playbookItemView struct {
	playbook.Item
	AudienceLabel string
	When          string
}

type playbookPage struct {
	Playbook app.PlaybookInfo
	Items    []playbookItemView
	// The save-a-copy form.
	CopyName string
	Errors   formErrors
}

func (h *handler) showPlaybook(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	h.renderPlaybook(w, r, p, http.StatusOK, playbookPage{})
}

func (h *handler) renderPlaybook(w http.ResponseWriter, r *http.Request, p auth.Principal, status int, d playbookPage) {
	var err error
	if d.Playbook, err = h.svc.Playbook(r.Context(), p, r.PathValue("key")); err != nil {
		h.fail(w, r, err, "see playbooks")
		return
	}
	for _, it := range d.Playbook.Items {
		d.Items = append(d.Items, playbookItemView{Item: it, AudienceLabel: audience.Kind(it.Audience).Label(), When: playbook.DescribeOffset(it.Offset)})
	}
	if d.CopyName == "" && !d.Errors.Has() {
		d.CopyName = d.Playbook.Name + " (our copy)"
	}
	h.render(w, r, status, "playbook", page{Title: "Playbook: " + d.Playbook.Name, Nav: "playbooks", Data: d})
}

func (h *handler) copyPlaybook(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	if !p.Role.Can(auth.EditIncident) {
		h.forbidden(w, r, "save playbooks")
		return
	}
	src, err := h.svc.Playbook(r.Context(), p, r.PathValue("key"))
	if err != nil {
		h.fail(w, r, err, "see playbooks")
		return
	}
	name := r.PostFormValue("name")
	pb, err := h.svc.SavePlaybook(r.Context(), p, playbook.Playbook{Name: name, Description: src.Description, Items: src.Items}, 0)
	switch apperr.Code(err) {
	case "":
		h.redirect(w, r, "/playbooks/"+pb.Key+"/edit", "ok", fmt.Sprintf("Saved a copy as %q. It is yours to edit.", pb.Name))
	case apperr.EINVALID, apperr.ECONFLICT:
		d := playbookPage{CopyName: name}
		for _, e := range apperr.Flatten(err) {
			d.Errors.add("name", e.Message)
		}
		h.renderPlaybook(w, r, p, http.StatusUnprocessableEntity, d)
	default:
		h.fail(w, r, err, "save playbooks")
	}
}

type playbookForm struct {
	Version     int
	Name        string
	Description string
	Items       []playbookItemForm
}

type playbookItemForm struct {
	Key, Title, Audience, Offset, Subject, Body string
	Channels                                    []string
}

func (f playbookItemForm) HasChannel(c notice.Channel) bool {
	for _, x := range f.Channels {
		if x == string(c) {
			return true
		}
	}
	return false
}

func playbookFormFrom(pb playbook.Playbook) playbookForm {
	f := playbookForm{Version: pb.Version, Name: pb.Name, Description: pb.Description}
	for _, it := range pb.Items {
		f.Items = append(f.Items, playbookItemForm{Key: it.Key, Title: it.Title, Audience: it.Audience, Offset: it.Offset, Subject: it.Subject, Body: it.Body, Channels: it.Channels})
	}
	return f
}

func parsePlaybookForm(r *http.Request) playbookForm {
	v := r.PostFormValue
	f := playbookForm{Name: v("name"), Description: v("description")}
	f.Version, _ = strconv.Atoi(v("version"))
	n, _ := strconv.Atoi(v("item_count"))
	for i := range min(n, 100) {
		k := func(s string) string { return fmt.Sprintf("items[%d].%s", i, s) }
		if v(k("remove")) != "" {
			continue
		}
		f.Items = append(f.Items, playbookItemForm{Key: v(k("key")), Title: v(k("title")), Audience: v(k("audience")), Offset: strings.TrimSpace(v(k("offset"))),
			Subject: v(k("subject")), Body: v(k("body")), Channels: r.PostForm[k("channels")]})
	}
	return f
}

type playbookEditPage struct {
	Key    string
	Form   playbookForm
	Errors formErrors
}

func (h *handler) editPlaybook(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	if !p.Role.Can(auth.EditIncident) {
		h.forbidden(w, r, "edit playbooks")
		return
	}
	pb, err := h.svc.Playbook(r.Context(), p, r.PathValue("key"))
	if err != nil {
		h.fail(w, r, err, "see playbooks")
		return
	}
	if pb.Builtin {
		h.redirect(w, r, "/playbooks/"+pb.Key, "error", "Built-in playbooks cannot be edited; save a copy and edit that.")
		return
	}
	h.render(w, r, http.StatusOK, "playbook_edit", page{Title: "Edit playbook: " + pb.Name, Nav: "playbooks",
		Data: playbookEditPage{Key: pb.Key, Form: playbookFormFrom(pb.Playbook)}})
}

func (h *handler) savePlaybook(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	key := r.PathValue("key")
	f := parsePlaybookForm(r)
	if r.PostFormValue("op") == "add_item" {
		// Nothing is saved: the form comes back with a blank notice to fill
		// in, and what was typed so far kept.
		if !p.Role.Can(auth.EditIncident) {
			h.forbidden(w, r, "edit playbooks")
			return
		}
		f.Items = append(f.Items, playbookItemForm{Audience: "affected_customers", Offset: "0", Channels: []string{"email"}})
		h.render(w, r, http.StatusOK, "playbook_edit", page{Title: "Edit playbook: " + f.Name, Nav: "playbooks", Data: playbookEditPage{Key: key, Form: f}})
		return
	}
	pb := playbook.Playbook{Key: key, Name: f.Name, Description: f.Description}
	for _, it := range f.Items {
		chans := it.Channels
		if chans == nil {
			chans = []string{}
		}
		pb.Items = append(pb.Items, playbook.Item{Key: it.Key, Title: it.Title, Audience: it.Audience, Channels: chans, Offset: it.Offset, Subject: it.Subject, Body: it.Body})
	}
	var err error
	if _, builtin := playbook.BuiltinByKey(key); builtin {
		err = apperr.Invalid("", "built-in playbooks cannot be edited; save a copy and edit that")
	}
	if err == nil && f.Version <= 0 {
		err = apperr.Invalid("", "the form does not say which version it edits; reload the page and edit again")
	}
	if err == nil {
		pb, err = h.svc.SavePlaybook(r.Context(), p, pb, f.Version)
	}
	switch apperr.Code(err) {
	case "":
		h.redirect(w, r, "/playbooks/"+pb.Key, "ok", fmt.Sprintf("Saved version %d of the playbook.", pb.Version))
		return
	case apperr.EINVALID, apperr.ECONFLICT:
		if !p.Role.Can(auth.EditIncident) {
			h.forbidden(w, r, "edit playbooks")
			return
		}
		d := playbookEditPage{Key: key, Form: f}
		for _, e := range apperr.Flatten(err) {
			field := e.Field
			if i := strings.Index(field, ".channels"); i >= 0 {
				field = field[:i] + ".channels"
			}
			d.Errors.add(field, e.Message)
		}
		h.render(w, r, http.StatusUnprocessableEntity, "playbook_edit", page{Title: "Edit playbook: " + f.Name, Nav: "playbooks", Data: d})
		return
	}
	h.fail(w, r, err, "edit playbooks")
}
