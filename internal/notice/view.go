package notice

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/candorhq/candor/internal/incident"
)

// This file holds the values a template sees. Templates never see
// incident.Facts or a recipient directly: they see views whose only
// accessible members are the methods below, so a template can reach nothing
// else (no arbitrary methods, no struct fields, no maps). Every value a view
// hands out has a type whose String method writes it safely for the part
// being rendered: escaped for Markdown in the body (mdMode), as plain
// single-line text in the subject (plainMode). The mode is a type parameter
// so that one implementation serves both.

// mode decides how values are written into template output.
type mode interface {
	// text writes a single-line value.
	text(s string) string
	// para writes a value that may hold paragraphs (blank-line separated)
	// and line breaks.
	para(s string) string
	// link writes a web address that passed safeURL.
	link(u string) string
	// email writes an address that passed safeEmail.
	email(a string) string
	// raw writes a value that needs no escaping (a number).
	raw(s string) string
}

// mdMode escapes values so that Markdown renders them literally.
type mdMode struct{}

// plainMode writes values as plain text (for the subject line).
type plainMode struct{}

func (mdMode) text(s string) string { return escapeMarkdown(oneLine(s)) }
func (mdMode) para(s string) string {
	paras := paragraphs(s)
	for i, p := range paras {
		lines := strings.Split(p, "\n")
		for j, l := range lines {
			lines[j] = escapeMarkdown(l)
		}
		// A backslash at the end of a line is a hard line break in
		// CommonMark, so the author's line breaks survive.
		paras[i] = strings.Join(lines, "\\\n")
	}
	return strings.Join(paras, "\n\n")
}
func (mdMode) link(u string) string  { return "<" + u + ">" }
func (mdMode) email(a string) string { return "<" + a + ">" }

func (plainMode) text(s string) string  { return oneLine(s) }
func (plainMode) para(s string) string  { return oneLine(s) }
func (plainMode) link(u string) string  { return u }
func (plainMode) email(a string) string { return a }

func (mdMode) raw(s string) string    { return s }
func (plainMode) raw(s string) string { return s }

// markedMode writes values as M does, between markOpen and markClose, so
// that Check can tell the writer's own words from filled-in values in the
// output. Both markers are private-use characters, which clean removes from
// values, so a value can never contain one.
type markedMode[M mode] struct{}

const (
	markOpen  = "\ue000"
	markClose = "\ue001"
)

func mark(s string) string { return markOpen + s + markClose }

// unmark removes the markers markedMode adds.
func unmark(s string) string {
	if !strings.ContainsAny(s, markOpen+markClose) {
		return s
	}
	return strings.NewReplacer(markOpen, "", markClose, "").Replace(s)
}

func (markedMode[M]) text(s string) string  { var m M; return mark(m.text(s)) }
func (markedMode[M]) para(s string) string  { var m M; return mark(m.para(s)) }
func (markedMode[M]) link(u string) string  { var m M; return mark(m.link(u)) }
func (markedMode[M]) email(a string) string { var m M; return mark(m.email(a)) }
func (markedMode[M]) raw(s string) string   { var m M; return mark(m.raw(s)) }

// escapeMarkdown puts a backslash before every ASCII punctuation character,
// which CommonMark guarantees renders that character literally. Letters,
// digits, spaces and non-ASCII characters cannot start Markdown syntax on
// their own, so the result renders as exactly the text of s: no emphasis, no
// links, no HTML, no headings or lists, no autolinks.
func escapeMarkdown(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for _, r := range s {
		if r < 0x80 && unicode.IsPunct(r) || r < 0x80 && unicode.IsSymbol(r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// clean removes characters that have no business in a notice: control
// characters other than tab and newline, and the bidirectional overrides
// that can make text display differently from what it says. CR and the
// Unicode line and paragraph separators become newlines.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r' || r == '\u2028' || r == '\u2029' || r == '\u0085' || r == '\v' || r == '\f':
			return '\n'
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return -1
		case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e', r == '\u200f', r == '\ufeff':
			return -1
		case r == '\ufffd' || r >= 0xe000 && r <= 0xf8ff:
			return -1
		}
		return r
	}, s)
}

// oneLine cleans s and folds all whitespace, line breaks included, into
// single spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(clean(s)), " ") }

// paragraphs cleans s and splits it into paragraphs at blank lines, each a
// list of trimmed, non-empty lines joined by "\n".
func paragraphs(s string) []string {
	var out, cur []string
	for l := range strings.SplitSeq(clean(s), "\n") {
		l = strings.Join(strings.Fields(l), " ")
		if l == "" {
			if len(cur) > 0 {
				out = append(out, strings.Join(cur, "\n"))
				cur = nil
			}
			continue
		}
		cur = append(cur, l)
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, "\n"))
	}
	return out
}

// safeURL returns u if it is an absolute http(s) address that can be written
// as a Markdown autolink, else "".
func safeURL(u string) string {
	u = strings.TrimSpace(u)
	if u == "" || len(u) > 2000 || strings.ContainsAny(u, "<>\"'` \\\t\n\r") {
		return ""
	}
	for _, r := range u {
		if r < 0x21 || r >= 0x7f {
			return ""
		}
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return ""
	}
	return u
}

// emailShape is the CommonMark email-autolink grammar, so that an address
// that passes is rendered as a mailto link and nothing else.
var emailShape = regexp.MustCompile(`^[a-zA-Z0-9.!#$%&'*+/=?^_{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`)

// safeEmail returns a if it is a plain address usable as an autolink, else "".
func safeEmail(a string) string {
	a = strings.TrimSpace(a)
	if len(a) > 254 || !emailShape.MatchString(a) {
		return ""
	}
	if p, err := mail.ParseAddress(a); err != nil || p.Address != a {
		return ""
	}
	return a
}

// vText is a single-line value (a name, a title, an attribute).
type vText[M mode] string

func (t vText[M]) String() string { var m M; return m.text(string(t)) }

// vPara is a value that may span paragraphs (what happened, what we did).
type vPara[M mode] string

func (t vPara[M]) String() string { var m M; return m.para(string(t)) }

// vLink is a web address; an address that is not a plain http(s) URL is
// written as escaped text, never as a link.
type vLink[M mode] string

func (l vLink[M]) String() string {
	var m M
	if u := safeURL(string(l)); u != "" {
		return m.link(u)
	}
	return m.text(string(l))
}

// vEmail is an email address; one that is not a plain address is written as
// escaped text, never as a link.
type vEmail[M mode] string

func (e vEmail[M]) String() string {
	var m M
	if a := safeEmail(string(e)); a != "" {
		return m.email(a)
	}
	return m.text(string(e))
}

// vDate is a calendar date, written "March 12, 2025" (UTC), or "" if unknown.
type vDate[M mode] string

func (d vDate[M]) String() string { var m M; return m.text(string(d)) }

func dateOf[M mode](t *time.Time) vDate[M] {
	if t == nil || t.IsZero() {
		return ""
	}
	return vDate[M](t.UTC().Format("January 2, 2006"))
}

// vCount is a number of people, written with thousands separators
// ("14,872"). Zero is written as "" because the facts use 0 for "not known
// yet", so an unknown count shows up as an empty placeholder instead of
// "0 customers". Comparisons ({{if gt .Facts.AffectedCount 500}}) see the
// number.
type vCount[M mode] int

func (c vCount[M]) String() string {
	var m M
	if c <= 0 {
		return m.raw("")
	}
	return m.raw(groupThousands(int(c)))
}

func groupThousands(n int) string {
	s := strconv.Itoa(n)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	lead := len(s) % 3
	if lead > 0 {
		b.WriteString(s[:lead])
	}
	for i := lead; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// vKind is one data kind. It prints as its label ("Payment card numbers");
// .Code is the vocabulary code ("card_number") and .Label the label.
type vKind[M mode] string

func (k vKind[M]) String() string { var m M; return m.text(incident.DataKind(k).Label()) }

// Code is the vocabulary code, e.g. "card_number".
func (k vKind[M]) Code() vText[M] { return vText[M](k) }

// Label is the human name, e.g. "Payment card numbers".
func (k vKind[M]) Label() vText[M] { return vText[M](incident.DataKind(k).Label()) }

// vKindList is a list of data kinds. It prints as a sentence fragment
// ("names, email addresses and payment card numbers"), is false in {{if}}
// when empty, and can be ranged over ({{range .Facts.Exposed}}- {{.}}
// {{end}}).
type vKindList[M mode] []vKind[M]

func (l vKindList[M]) String() string {
	var m M
	return m.text(kindSentence(l))
}

// Includes reports whether the list holds any of the given codes.
func (l vKindList[M]) Includes(codes ...string) (bool, error) {
	sub, err := l.filter(codes)
	return len(sub) > 0, err
}

// filter returns the members of l among codes; no codes returns l. An
// unknown code is an error, so a typo cannot silently make a branch vanish.
func (l vKindList[M]) filter(codes []string) (vKindList[M], error) {
	if len(codes) == 0 {
		return l, nil
	}
	var out vKindList[M]
	for _, c := range codes {
		k := incident.DataKind(c)
		if !k.Valid() {
			return nil, unknownKindError(c)
		}
		if slices.Contains(l, vKind[M](k)) && !slices.Contains(out, vKind[M](k)) {
			out = append(out, vKind[M](k))
		}
	}
	return out, nil
}

func unknownKindError(c string) error {
	codes := make([]string, len(incident.DataKinds))
	for i, d := range incident.DataKinds {
		codes[i] = string(d.Kind)
	}
	if s := closest(c, codes); s != "" {
		return fmt.Errorf("unknown data kind %q; did you mean %q?", c, s)
	}
	return fmt.Errorf("unknown data kind %q; use a code such as card_number, email or password_hash", c)
}

// kindSentence joins the labels of l in a sentence: the first letter of
// each label lower-cased, "a, b and c". Labels that themselves contain a
// comma are joined with semicolons so the list stays readable.
func kindSentence[M mode](l vKindList[M]) string {
	if len(l) == 0 {
		return ""
	}
	parts := make([]string, len(l))
	sep := ", "
	for i, k := range l {
		lab := incident.DataKind(k).Label()
		if strings.Contains(lab, ",") {
			sep = "; "
		}
		parts[i] = lowerFirst(lab)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], sep) + " and " + parts[len(parts)-1]
}

// lowerFirst lower-cases the first letter unless the first word is an
// acronym ("IP addresses" stays).
func lowerFirst(s string) string {
	w, _, _ := strings.Cut(s, " ")
	if len(w) > 1 && strings.ToUpper(w) == w {
		return s
	}
	for i, r := range s {
		return string(unicode.ToLower(r)) + s[i+len(string(r)):]
	}
	return s
}

const maxKinds = 64

func kindList[M mode](ks []incident.DataKind) vKindList[M] {
	out := make(vKindList[M], 0, len(ks))
	for _, k := range ks {
		if len(out) == maxKinds {
			break
		}
		if !slices.Contains(out, vKind[M](k)) {
			out = append(out, vKind[M](k))
		}
	}
	return out
}

// run is the state of one execution: it bounds the work a template may do.
// Every view method spends one step; loops can only range over lists
// obtained through view methods (the parser enforces it), so total work is
// bounded by steps times the longest list.
type run struct {
	steps    int
	maxSteps int
	deadline time.Time
}

// errBudget is the panic value step uses; text/template turns panics in
// methods into execution errors, and errors.Is finds it in them.
var errBudget = errors.New("the template does too much work: loops nested too deeply or too many placeholders")

func (r *run) step() {
	r.steps++
	if r.steps > r.maxSteps || (r.steps&127 == 0 && time.Now().After(r.deadline)) {
		panic(errBudget)
	}
}

// root is the template's dot: .Facts, .Recipient, .Company, .Incident.
type root[M mode] struct {
	r *run
	f *factsView[M]
	p *recipientView[M]
	c *companyView[M]
	i *incidentView[M]
}

func newRoot[M mode](d *Data, r *run) *root[M] {
	return &root[M]{
		r: r,
		f: &factsView[M]{r: r, f: &d.Facts, version: d.FactsVersion},
		p: &recipientView[M]{r: r, p: &d.Recipient},
		c: &companyView[M]{r: r, c: &d.Company},
		i: &incidentView[M]{r: r, i: &d.Incident},
	}
}

// Facts is the incident's facts.
func (v *root[M]) Facts() *factsView[M] { v.r.step(); return v.f }

// Recipient is the person the notice is rendered for.
func (v *root[M]) Recipient() *recipientView[M] { v.r.step(); return v.p }

// Company is the organisation sending the notice.
func (v *root[M]) Company() *companyView[M] { v.r.step(); return v.c }

// Incident is the incident the notice is about.
func (v *root[M]) Incident() *incidentView[M] { v.r.step(); return v.i }

// String keeps {{.}} from printing internals; Parse rejects it anyway.
func (v *root[M]) String() string { return "" }

type factsView[M mode] struct {
	r       *run
	f       *incident.Facts
	version int
}

func (v *factsView[M]) String() string { return "" }

// WhatHappened is the account of the incident, paragraphs kept.
func (v *factsView[M]) WhatHappened() vPara[M] { v.r.step(); return vPara[M](v.f.WhatHappened) }

// WhatWeDid is what the company has done and is doing.
func (v *factsView[M]) WhatWeDid() vPara[M] { v.r.step(); return vPara[M](v.f.CompanyActions) }

// WhatToDo is what people should do.
func (v *factsView[M]) WhatToDo() vPara[M] { v.r.step(); return vPara[M](v.f.PeopleShould) }

// AffectedCount is the number of people affected.
func (v *factsView[M]) AffectedCount() vCount[M] { v.r.step(); return vCount[M](v.f.AffectedTotal) }

// AffectedIn is the number of people affected in one jurisdiction
// ("US-CA").
func (v *factsView[M]) AffectedIn(code string) vCount[M] {
	v.r.step()
	code = incident.NormalizeJurisdiction(code)
	for _, j := range v.f.AffectedBy {
		if j.Code == code {
			return vCount[M](j.Count)
		}
	}
	return 0
}

// Exposed is the data exposed; with codes, only those of them that were.
func (v *factsView[M]) Exposed(codes ...string) (vKindList[M], error) {
	v.r.step()
	return kindList[M](v.f.Exposed).filter(codes)
}

// NotExposed is the data known not to be exposed; with codes, only those.
func (v *factsView[M]) NotExposed(codes ...string) (vKindList[M], error) {
	v.r.step()
	return kindList[M](v.f.NotExposed).filter(codes)
}

// Includes reports whether any of the codes was exposed.
func (v *factsView[M]) Includes(codes ...string) (bool, error) {
	v.r.step()
	if len(codes) == 0 {
		return false, errors.New("Includes needs at least one data kind, e.g. .Facts.Includes \"card_number\"")
	}
	return kindList[M](v.f.Exposed).Includes(codes...)
}

// DiscoveredAt is when the incident was discovered.
func (v *factsView[M]) DiscoveredAt() vDate[M] { v.r.step(); return dateOf[M](v.f.DiscoveredAt) }

// OccurredFrom is when the exposure began.
func (v *factsView[M]) OccurredFrom() vDate[M] { v.r.step(); return dateOf[M](v.f.OccurredFrom) }

// OccurredTo is when the exposure ended.
func (v *factsView[M]) OccurredTo() vDate[M] { v.r.step(); return dateOf[M](v.f.OccurredTo) }

// BecameAwareAt is when the company became aware of the breach.
func (v *factsView[M]) BecameAwareAt() vDate[M] { v.r.step(); return dateOf[M](v.f.BecameAwareAt) }

// ContactEmail is the address people should write to.
func (v *factsView[M]) ContactEmail() vEmail[M] { v.r.step(); return vEmail[M](v.f.Contact.Email) }

// ContactPhone is the number people should call.
func (v *factsView[M]) ContactPhone() vText[M] { v.r.step(); return vText[M](v.f.Contact.Phone) }

// ContactURL is the web page for updates and questions.
func (v *factsView[M]) ContactURL() vLink[M] { v.r.step(); return vLink[M](v.f.Contact.URL) }

// Version is the facts version the notice was rendered from.
func (v *factsView[M]) Version() int { v.r.step(); return v.version }

type recipientView[M mode] struct {
	r *run
	p *Recipient
}

func (v *recipientView[M]) String() string { return "" }

// DefaultName is what .Recipient.Name says when the name is unknown, chosen
// to read well after "Dear" and "Hello".
const DefaultName = "customer"

// Name is the recipient's name, or DefaultName.
func (v *recipientView[M]) Name() vText[M] { return v.NameOr(DefaultName) }

// NameOr is the recipient's name, or fallback when it is unknown.
func (v *recipientView[M]) NameOr(fallback string) vText[M] {
	v.r.step()
	if n := oneLine(v.p.Name); n != "" {
		return vText[M](n)
	}
	return vText[M](fallback)
}

// Email is the recipient's email address.
func (v *recipientView[M]) Email() vEmail[M] { v.r.step(); return vEmail[M](v.p.Email) }

// Jurisdiction is the recipient's jurisdiction code ("US-CA").
func (v *recipientView[M]) Jurisdiction() vText[M] { v.r.step(); return vText[M](v.p.Jurisdiction) }

// Exposed is the recipient's own exposed data; with codes, only those of
// them that were.
func (v *recipientView[M]) Exposed(codes ...string) (vKindList[M], error) {
	v.r.step()
	return kindList[M](v.p.Exposed).filter(codes)
}

// Attr is one of the recipient's free attributes, "" if absent.
func (v *recipientView[M]) Attr(key string) vText[M] {
	v.r.step()
	return vText[M](v.p.Attributes[key])
}

type companyView[M mode] struct {
	r *run
	c *Company
}

func (v *companyView[M]) String() string { return "" }

// Name is the company's name.
func (v *companyView[M]) Name() vText[M] { v.r.step(); return vText[M](v.c.Name) }

// SupportURL is the company's support page.
func (v *companyView[M]) SupportURL() vLink[M] { v.r.step(); return vLink[M](v.c.SupportURL) }

type incidentView[M mode] struct {
	r *run
	i *Incident
}

func (v *incidentView[M]) String() string { return "" }

// Title is the incident's title.
func (v *incidentView[M]) Title() vText[M] { v.r.step(); return vText[M](v.i.Title) }
