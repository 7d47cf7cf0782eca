package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
)

// The segment editor writes a rule as a list of conditions, each of which
// may be negated, joined by "all" or "any": and, or and not without nested
// groups, which covers the segments crisis teams write ("card number
// exposed and not in Massachusetts"). Deeper rules can be made through the
// API; the editor shows them in words.

// condRow is one condition of the editor, as typed.
type condRow struct {
	Not       bool
	Field     string
	Attribute string
	Op        string
	Value     string
}

// Blank reports whether the row was left empty (it is then skipped).
func (c condRow) Blank() bool {
	return c.Field == "" || (c.Op != audience.OpIsSet && strings.TrimSpace(c.Value) == "" && c.Attribute == "")
}

type segmentForm struct {
	Name        string
	Description string
	Match       string // "all" or "any"
	Rows        []condRow
	AudienceID  int64 // the audience counted against
	Errors      formErrors
	// Count is the last count, shown after the Count button.
	Count *audience.Count
	Text  string // the rule in words
}

const minRows = 3

var segmentFields = []struct{ Value, Label string }{
	{"exposed", "Exposed data"},
	{"jurisdiction", "Jurisdiction"},
	{"locale", "Locale"},
	{"attribute", "Attribute"},
	{"email", "Email"},
	{"phone", "Phone"},
	{"name", "Name"},
	{"external_id", "External id"},
}

var segmentOps = []struct{ Value, Label string }{
	{audience.OpIncludes, "includes (exposed data)"},
	{audience.OpEquals, "is"},
	{audience.OpIn, "is one of"},
	{audience.OpStartsWith, "starts with"},
	{audience.OpEndsWith, "ends with"},
	{audience.OpIsSet, "is set"},
}

// parseSegmentForm reads the posted editor: rows are c0.field, c0.op, … up
// to the number the form says it has (rows).
func parseSegmentForm(r *http.Request) segmentForm {
	v := r.PostFormValue
	f := segmentForm{Name: v("name"), Description: v("description"), Match: v("match")}
	if f.Match != "any" {
		f.Match = "all"
	}
	f.AudienceID, _ = strconv.ParseInt(v("audience_id"), 10, 64)
	n, _ := strconv.Atoi(v("rows"))
	n = max(min(n, 50), minRows)
	for i := range n {
		k := func(s string) string { return v(fmt.Sprintf("c%d.%s", i, s)) }
		f.Rows = append(f.Rows, condRow{Not: k("not") != "", Field: k("field"), Attribute: strings.TrimSpace(k("attribute")), Op: k("op"), Value: k("value")})
	}
	return f
}

// rule builds the rule the rows describe, and which form row each of its
// conditions came from.
func (f *segmentForm) rule() (audience.Rule, []int) {
	var conds []audience.Rule
	var rows []int
	for i, c := range f.Rows {
		if c.Blank() {
			continue
		}
		cond := audience.Rule{Field: c.Field, Op: c.Op}
		if c.Field == "attribute" {
			cond.Attribute = c.Attribute
		}
		if c.Op != audience.OpIsSet {
			if c.Op == audience.OpIn || c.Op == audience.OpIncludes {
				for _, x := range strings.Split(c.Value, ",") {
					if x = strings.TrimSpace(x); x != "" {
						cond.Values = append(cond.Values, x)
					}
				}
				if c.Op == audience.OpIncludes && len(cond.Values) == 1 {
					cond.Value, cond.Values = cond.Values[0], nil
				}
			} else {
				cond.Value = c.Value
			}
		}
		if c.Not {
			inner := cond
			cond = audience.Rule{Not: &inner}
		}
		conds = append(conds, cond)
		rows = append(rows, i)
	}
	if f.Match == "any" {
		return audience.Rule{Any: conds}, rows
	}
	if conds == nil {
		conds = []audience.Rule{}
	}
	return audience.Rule{All: conds}, rows
}

// rulePath matches the condition a rule error names: rule.all[2].not.value.
var rulePath = regexp.MustCompile(`^rule\.(?:all|any)\[(\d+)\](?:\.not)?(.*)$`)

// addRuleError puts a rule error next to the row it concerns.
func (f *segmentForm) addRuleError(e *apperr.Error, rows []int) {
	if e.Field == "rule.all" || e.Field == "rule.any" {
		f.Errors.add("c0.field", "Fill in at least one condition.")
		return
	}
	m := rulePath.FindStringSubmatch(e.Field)
	if m == nil {
		f.Errors.add("", e.Message)
		return
	}
	i, _ := strconv.Atoi(m[1])
	if i >= len(rows) {
		f.Errors.add("", e.Message)
		return
	}
	part := strings.TrimPrefix(m[2], ".")
	switch {
	case strings.HasPrefix(part, "value"):
		part = "value"
	case part == "field" || part == "op" || part == "attribute":
	default:
		part = "field"
	}
	f.Errors.add(fmt.Sprintf("c%d.%s", rows[i], part), fmt.Sprintf("Condition %d: %s", rows[i]+1, e.Message))
}

// rowsFromRule turns a saved rule back into editor rows, when it has the
// editor's shape.
func rowsFromRule(r audience.Rule) (match string, rows []condRow, ok bool) {
	conds, match := r.All, "all"
	if r.Any != nil {
		conds, match = r.Any, "any"
	}
	if r.All == nil && r.Any == nil {
		conds = []audience.Rule{r}
	}
	for _, c := range conds {
		row := condRow{}
		if c.Not != nil {
			row.Not, c = true, *c.Not
		}
		if c.Field == "" {
			return "", nil, false
		}
		row.Field, row.Attribute, row.Op, row.Value = c.Field, c.Attribute, c.Op, c.Value
		if len(c.Values) > 0 {
			row.Value = strings.Join(c.Values, ", ")
		}
		rows = append(rows, row)
	}
	return match, rows, true
}

type segmentEditPage struct {
	Incident  incident.Incident
	Audiences []audience.Audience
	Form      segmentForm
	Fields    any
	Ops       any
	Kinds     any
}

func (h *handler) newSegmentForm(w http.ResponseWriter, r *http.Request) {
	p, id, ok := h.editing(w, r, false, "create segments")
	if !ok {
		return
	}
	f := segmentForm{Match: "all", Rows: []condRow{{Field: "exposed", Op: audience.OpIncludes}}}
	if from, _ := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64); from > 0 {
		if sg, err := h.svc.Segment(r.Context(), p, from); err == nil && sg.IncidentID == id {
			if match, rows, ok := rowsFromRule(sg.Rule); ok {
				f.Match, f.Rows = match, rows
				f.Name, f.Description = sg.Name+" (copy)", sg.Description
			}
		}
	}
	f.AudienceID, _ = strconv.ParseInt(r.URL.Query().Get("audience"), 10, 64)
	h.showSegmentEditor(w, r, p, id, http.StatusOK, f)
}

func (h *handler) showSegmentEditor(w http.ResponseWriter, r *http.Request, p auth.Principal, incidentID int64, status int, f segmentForm) {
	d := segmentEditPage{Fields: segmentFields, Ops: segmentOps, Kinds: incident.DataKinds}
	var err error
	if d.Incident, err = h.svc.Incident(r.Context(), p, incidentID); err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	if d.Audiences, err = h.svc.Audiences(r.Context(), p, incidentID); err != nil {
		h.fail(w, r, err, "see audiences")
		return
	}
	if f.AudienceID == 0 && len(d.Audiences) > 0 {
		f.AudienceID = d.Audiences[0].ID
	}
	for len(f.Rows) < minRows {
		f.Rows = append(f.Rows, condRow{})
	}
	d.Form = f
	h.render(w, r, status, "segment_edit", page{Title: "New segment: " + d.Incident.Title, Nav: "incidents", Data: d})
}

// saveSegment handles the editor's three buttons: add a condition row,
// count (without saving) and save.
func (h *handler) saveSegment(w http.ResponseWriter, r *http.Request) {
	p, id, ok := h.editing(w, r, true, "create segments")
	if !ok {
		return
	}
	f := parseSegmentForm(r)
	rule, rows := f.rule()
	switch r.PostFormValue("action") {
	case "add":
		f.Rows = append(f.Rows, condRow{})
		h.showSegmentEditor(w, r, p, id, http.StatusOK, f)
		return
	case "count":
		status := http.StatusOK
		if f.AudienceID == 0 {
			f.Errors.add("audience_id", "Create an audience first: counts are of an audience's members.")
		} else if c, err := h.svc.CountMatches(r.Context(), p, f.AudienceID, rule); err == nil {
			f.Count, f.Text = &c, rule.String()
		} else if apperr.Code(err) == apperr.EINVALID {
			f.addRuleError(apperr.As(err), rows)
			status = http.StatusUnprocessableEntity
		} else {
			h.fail(w, r, err, "count segments")
			return
		}
		h.showSegmentEditor(w, r, p, id, status, f)
		return
	}
	sg, err := h.svc.CreateSegment(r.Context(), p, audience.NewSegment{IncidentID: id, Name: f.Name, Description: f.Description, Rule: rule})
	switch apperr.Code(err) {
	case "":
		h.redirect(w, r, fmt.Sprintf("/segments/%d", sg.ID), "ok", fmt.Sprintf("Saved the segment %q.", sg.Name))
	case apperr.EINVALID, apperr.ECONFLICT:
		for _, e := range apperr.Flatten(err) {
			if strings.HasPrefix(e.Field, "rule") {
				f.addRuleError(e, rows)
			} else {
				f.Errors.add(e.Field, e.Message)
			}
		}
		h.showSegmentEditor(w, r, p, id, http.StatusUnprocessableEntity, f)
	default:
		h.fail(w, r, err, "create segments")
	}
}

// countJSON is the live count's answer to the editor's script.
type countJSON struct {
	Members  int64  `json:"members"`
	Matching int64  `json:"matching"`
	Text     string `json:"text,omitempty"`
	Error    string `json:"error,omitempty"`
	Field    string `json:"field,omitempty"` // the form field at fault
}

// countSegment is the live count: the editor's script posts the form here
// as it is edited, and shows the answer next to the rule.
func (h *handler) countSegment(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	if _, ok := h.pathID(w, r, "id"); !ok {
		return
	}
	if !p.Role.Can(auth.EditIncident) {
		h.forbidden(w, r, "create segments")
		return
	}
	f := parseSegmentForm(r)
	rule, rows := f.rule()
	var out countJSON
	status := http.StatusOK
	c, err := h.svc.CountMatches(r.Context(), p, f.AudienceID, rule)
	switch apperr.Code(err) {
	case "":
		out = countJSON{Members: c.Members, Matching: c.Matching, Text: rule.String()}
	case apperr.EINVALID:
		f.addRuleError(apperr.As(err), rows)
		status = http.StatusUnprocessableEntity
		out.Error = f.Errors.Summary[0].Message
		out.Field = fieldID(f.Errors.Summary[0].Field)
	case apperr.ENOTFOUND:
		status = http.StatusNotFound
		out.Error = "Choose an audience to count."
	default:
		h.log.Error("count_segment", "err", err)
		status = http.StatusInternalServerError
		out.Error = "Candor could not count; try the Count button."
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(out)
}

type segmentCount struct {
	Audience audience.Audience
	Count    audience.Count
}

type segmentsPage struct {
	Incident incident.Incident
	Segments []audience.Segment
}

func (h *handler) segments(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	d := segmentsPage{}
	var err error
	if d.Incident, err = h.svc.Incident(r.Context(), p, id); err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	if d.Segments, err = h.svc.Segments(r.Context(), p, id); err != nil {
		h.fail(w, r, err, "see segments")
		return
	}
	h.render(w, r, http.StatusOK, "segments", page{Title: "Segments: " + d.Incident.Title, Nav: "incidents", Data: d})
}

type segmentPage struct {
	Segment  audience.Segment
	Incident incident.Incident
	Counts   []segmentCount
	Editable bool // the editor can open a copy of the rule
}

func (h *handler) segment(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	var d segmentPage
	var err error
	if d.Segment, err = h.svc.Segment(r.Context(), p, id); err != nil {
		h.fail(w, r, err, "see segments")
		return
	}
	if d.Incident, err = h.svc.Incident(r.Context(), p, d.Segment.IncidentID); err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	as, err := h.svc.Audiences(r.Context(), p, d.Segment.IncidentID)
	if err != nil {
		h.fail(w, r, err, "see audiences")
		return
	}
	for _, a := range as {
		c, err := h.svc.CountMatches(r.Context(), p, a.ID, d.Segment.Rule)
		if err != nil {
			h.fail(w, r, err, "see segments")
			return
		}
		d.Counts = append(d.Counts, segmentCount{a, c})
	}
	_, _, d.Editable = rowsFromRule(d.Segment.Rule)
	h.render(w, r, http.StatusOK, "segment", page{Title: d.Segment.Name, Nav: "incidents", Data: d})
}
