package public

// The status site's HTML: the home page, one page per public incident, and
// plain message pages, rendered once per snapshot and locale into complete
// documents. The pages carry no JavaScript and no inline style, so they
// work under the strictest Content-Security-Policy; their one stylesheet is
// served at /status/status.css.

import (
	"bytes"
	"embed"
	"fmt"
	"html"
	"html/template"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/status"
)

// The paths the pages link to. They are root-relative, so the same bytes
// work on the main listener and on the public one.
const (
	pagesHome      = "/status"
	pagesCSS       = "/status/status.css"
	pagesSubscribe = "/status/subscribe"
	pagesAtom      = "/status/feed.atom"
	pagesRSS       = "/status/feed.rss"
)

//go:embed templates/*.html
var pageTemplateFS embed.FS

//go:embed static/status.css
var statusCSS []byte

// pageTemplates are parsed at start-up, so a broken template fails at boot
// and in every test.
var pageTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"heading": headingHTML,
	"add":     func(a, b int) int { return a + b },
}).ParseFS(pageTemplateFS, "templates/*.html"))

// StatusCSS is the stylesheet every public page links to.
func StatusCSS() []byte { return statusCSS }

// Pages renders the public HTML documents of s in locale, keyed by the path
// they are served at: "/status" and "/status/incidents/{id}" for every
// public incident. Locale picks the page's words (English when it has
// none) and the updates' translations. The output depends on s and locale
// alone: the same snapshot gives the same bytes.
func Pages(s *status.Snapshot, locale string) (map[string][]byte, error) {
	locale = htmlLocale(s, locale)
	out := make(map[string][]byte, len(s.Incidents)+1)

	home := newPageView(s, locale, pagesHome)
	home.Title = fmt.Sprintf(home.T.PageTitle, s.Page.Name)
	home.Heading = home.Title
	for _, in := range s.Open() {
		home.Open = append(home.Open, newIncidentView(s, locale, in, 3))
	}
	for _, in := range s.Past() {
		home.Past = append(home.Past, newPastView(s, locale, in))
	}
	b, err := renderPage("home", home)
	if err != nil {
		return nil, fmt.Errorf("render status home page: %w", err)
	}
	out[pagesHome] = b

	for _, in := range s.Incidents {
		path := pagesIncident(in.ID)
		v := newPageView(s, locale, path)
		iv := newIncidentView(s, locale, in, 2)
		v.Incident = &iv
		v.Title = in.Title + " – " + fmt.Sprintf(v.T.PageTitle, s.Page.Name)
		v.Heading = in.Title
		b, err := renderPage("incident", v)
		if err != nil {
			return nil, fmt.Errorf("render incident page %d: %w", in.ID, err)
		}
		out[path] = b
	}
	return out, nil
}

// MessagePage renders a short page in the site's chrome: a title and one
// paragraph of text, with a way back to the status page ("Check your
// inbox", "You are unsubscribed", an error).
func MessagePage(s *status.Snapshot, locale, title, text string) []byte {
	locale = htmlLocale(s, locale)
	v := newPageView(s, locale, pagesHome)
	v.Title = title + " – " + fmt.Sprintf(v.T.PageTitle, s.Page.Name)
	v.Heading = title
	v.Message = text
	b, err := renderPage("message", v)
	if err != nil {
		// The template is fixed and parsed at start-up; this cannot
		// happen short of a bug, and a page with the words is better
		// than none.
		return []byte("<!doctype html><meta charset=\"utf-8\"><title>" + html.EscapeString(title) +
			"</title><h1>" + html.EscapeString(title) + "</h1><p>" + html.EscapeString(text) + "</p>")
	}
	return b
}

func renderPage(name string, v *pageView) ([]byte, error) {
	var b bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&b, name, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func pagesIncident(id int64) string { return pagesHome + "/incidents/" + strconv.FormatInt(id, 10) }

// pagesLocal is a link to another public page that keeps the reader's
// language when it is not the page's default, so following a link never
// switches a reader who chose French back to their browser's language.
func pagesLocal(s *status.Snapshot, locale, path string) string {
	if strings.EqualFold(locale, htmlLocale(s, "")) {
		return path
	}
	return path + "?lang=" + url.QueryEscape(locale)
}

// htmlLocale is the locale a page is rendered in: the one asked for, or
// the page's default.
func htmlLocale(s *status.Snapshot, locale string) string {
	if locale = strings.TrimSpace(locale); locale != "" {
		return locale
	}
	if s.Page.DefaultLocale != "" {
		return s.Page.DefaultLocale
	}
	return "en"
}

// pageView is what every page template reads.
type pageView struct {
	T       *uiText
	Lang    string
	Page    status.Page
	Title   string // the document's <title>
	Heading string // its <h1>
	// Languages is the language switcher.
	Languages []langLink
	UpdatedAt timeView
	Feeds     feedLinks
	Style     string
	// Home is the status page in this page's language.
	Home string
	// SubscribeAction is where the subscribe form posts.
	SubscribeAction string

	Open     []incidentView // home: the incidents going on
	Past     []pastView     // home: the history
	Incident *incidentView  // incident page
	Message  string         // message page
}

type feedLinks struct{ Atom, RSS string }

type langLink struct {
	Tag     string
	Name    string
	Href    string
	Current bool
}

type timeView struct {
	ISO  string // for <time datetime>
	Text string // in the page's language, UTC
}

type incidentView struct {
	T      *uiText
	ID     int64
	Anchor string // id prefix of the incident's elements
	Title  string
	// Lang is the language of the title and documents, which are written
	// in the page's default language only, when it is not this page's.
	Lang       string
	Href       string
	Open       bool
	Severity   string // the severity's name, a CSS class
	State      string
	Impact     string
	Started    timeView
	Resolved   *timeView
	Latest     *updateView
	WhatToDo   template.HTML
	TodoLang   string
	Contact    contactView
	Updates    []updateView
	Documents  []documentView
	Components []componentView
	// H is the level of the incident's section headings: 3 on the home
	// page (under the incident's h2), 2 on its own page, which does not
	// link to itself.
	H        int
	LinkSelf bool
}

type updateView struct {
	ID        int64
	Time      timeView
	State     string
	Body      template.HTML
	Lang      string // the body's language when it is not the page's
	Edited    bool
	Revisions []revisionView
}

type revisionView struct {
	Replaced timeView
	Reason   string
	Body     template.HTML
	Lang     string
}

type contactView struct {
	Email    string
	Phone    string
	PhoneURL template.URL
	URL      string
}

func (c contactView) Any() bool { return c.Email != "" || c.Phone != "" || c.URL != "" }

type documentView struct {
	Title string
	HTML  template.HTML
}

type componentView struct {
	Name        string
	Description string
	Status      string
	Class       string
}

type pastView struct {
	Title    string
	Lang     string
	Href     string
	State    string
	Started  timeView
	Finished *timeView
}

func newPageView(s *status.Snapshot, locale, path string) *pageView {
	t := uiFor(locale)
	return &pageView{
		T:               t,
		Lang:            locale,
		Page:            s.Page,
		Languages:       pageLanguages(s.Page, locale, path),
		UpdatedAt:       t.time(s.UpdatedAt),
		Feeds:           feedLinks{Atom: pagesAtom, RSS: pagesRSS},
		Style:           pagesCSS,
		Home:            pagesLocal(s, locale, pagesHome),
		SubscribeAction: pagesSubscribe,
	}
}

// pageLanguages is the switcher: the page's default language, then the
// others it offers, each a link to the same page in that language.
func pageLanguages(p status.Page, locale, path string) []langLink {
	tags := []string{p.DefaultLocale}
	tags = append(tags, p.Locales...)
	current := ""
	for _, tag := range tags {
		if strings.EqualFold(tag, locale) {
			current = tag
		}
	}
	if current == "" {
		for _, tag := range tags {
			if strings.EqualFold(tag, status.BaseLanguage(locale)) {
				current = tag
			}
		}
	}
	var out []langLink
	seen := map[string]bool{}
	for _, tag := range tags {
		if tag == "" || seen[strings.ToLower(tag)] {
			continue
		}
		seen[strings.ToLower(tag)] = true
		out = append(out, langLink{Tag: tag, Name: pageLanguageName(tag), Href: path + "?lang=" + url.QueryEscape(tag), Current: tag == current})
	}
	if len(out) < 2 {
		return nil
	}
	return out
}

// pageLanguageName is a language's name in itself, so a reader finds their own.
func pageLanguageName(tag string) string {
	names := map[string]string{"en": "English", "fr": "Français", "de": "Deutsch", "es": "Español"}
	name, ok := names[status.BaseLanguage(tag)]
	if !ok {
		return tag
	}
	if !strings.EqualFold(tag, status.BaseLanguage(tag)) {
		return name + " (" + tag + ")"
	}
	return name
}

func newIncidentView(s *status.Snapshot, locale string, in status.Incident, h int) incidentView {
	t := uiFor(locale)
	contentLang := func(l string) string {
		if l == "" {
			l = s.Page.DefaultLocale
		}
		if l == "" || strings.EqualFold(l, locale) {
			return ""
		}
		return l
	}
	v := incidentView{
		T:        t,
		ID:       in.ID,
		Anchor:   "incident-" + strconv.FormatInt(in.ID, 10),
		Title:    in.Title,
		Lang:     contentLang(""),
		Href:     pagesLocal(s, locale, pagesIncident(in.ID)),
		Open:     in.Open(),
		Severity: string(in.Severity),
		State:    t.state(in.State),
		Impact:   t.severity(in.Severity),
		Started:  t.time(in.StartedAt),
		H:        h,
		LinkSelf: h > 2,
	}
	if in.ResolvedAt != nil && !in.Open() {
		r := t.time(*in.ResolvedAt)
		v.Resolved = &r
	}

	updates := append([]status.Update(nil), in.Updates...)
	sort.SliceStable(updates, func(i, j int) bool {
		if !updates[i].DisplayAt.Equal(updates[j].DisplayAt) {
			return updates[i].DisplayAt.After(updates[j].DisplayAt)
		}
		return updates[i].ID > updates[j].ID
	})
	for _, u := range updates {
		text, l := u.In(locale)
		body, _ := notice.Markdown(text.Body)
		uv := updateView{ID: u.ID, Time: t.time(u.DisplayAt), State: t.state(u.Status), Body: body, Lang: contentLang(l), Edited: u.Edited}
		for i := len(u.Revisions) - 1; i >= 0; i-- {
			r := u.Revisions[i]
			rt, rl := revisionIn(r, locale)
			rbody, _ := notice.Markdown(rt.Body)
			uv.Revisions = append(uv.Revisions, revisionView{Replaced: t.time(r.ReplacedAt), Reason: r.Reason, Body: rbody, Lang: contentLang(rl)})
		}
		v.Updates = append(v.Updates, uv)
	}
	if len(v.Updates) > 0 {
		latest := v.Updates[0]
		v.Latest = &latest
	}

	// The newest non-empty advice, as Incident.WhatToDo picks it, with the
	// language it is really written in: a translation without advice of
	// its own shows the default text.
	for _, u := range updates {
		text, l := u.In(locale)
		if strings.TrimSpace(text.WhatToDo) == "" {
			continue
		}
		if strings.TrimSpace(u.Translations[l].WhatToDo) == "" {
			l = ""
		}
		v.WhatToDo, _ = notice.Markdown(text.WhatToDo)
		v.TodoLang = contentLang(l)
		break
	}

	v.Contact = contactView{Email: in.Contact.Email, Phone: in.Contact.Phone}
	if u, err := url.Parse(in.Contact.URL); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		v.Contact.URL = in.Contact.URL
	}
	if digits := telDigits(in.Contact.Phone); digits != "" {
		v.Contact.PhoneURL = template.URL("tel:" + digits)
	}
	for _, d := range in.Documents {
		v.Documents = append(v.Documents, documentView{Title: d.Title, HTML: nestHeadings(d.HTML, h+2)})
	}
	for _, c := range in.Components {
		v.Components = append(v.Components, componentView{Name: c.Name, Description: c.Description, Status: t.component(c.Status), Class: string(c.Status)})
	}
	return v
}

// revisionIn is an earlier text of an update in locale, with the locale
// chosen ("" for the default), as Update.In chooses.
func revisionIn(r status.Revision, locale string) (status.Text, string) {
	for _, l := range []string{locale, status.BaseLanguage(locale)} {
		if t, ok := r.Translations[l]; ok && l != "" {
			return t, l
		}
	}
	return r.Text, ""
}

func newPastView(s *status.Snapshot, locale string, in status.Incident) pastView {
	t := uiFor(locale)
	lang := ""
	if d := htmlLocale(s, ""); !strings.EqualFold(d, locale) {
		lang = d
	}
	v := pastView{Title: in.Title, Lang: lang, Href: pagesLocal(s, locale, pagesIncident(in.ID)), State: t.state(in.State), Started: t.time(in.StartedAt)}
	end := in.UpdatedAt
	if in.ResolvedAt != nil {
		end = *in.ResolvedAt
	}
	if !end.IsZero() {
		f := t.time(end)
		v.Finished = &f
	}
	return v
}

// telDigits is a phone number as a tel: link needs it ("+15550100"), or ""
// when it holds anything but digits, spaces and the usual separators.
func telDigits(phone string) string {
	var b strings.Builder
	for i, r := range phone {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return ""
		}
	}
	return b.String()
}

var headingTag = regexp.MustCompile(`<(/?)h([1-6])\b`)

// nestHeadings shifts the headings of a rendered document so that its
// top level becomes level: a Q&A written with "##" sits under the
// document's own title on the page, and the page's outline stays in order.
func nestHeadings(doc template.HTML, level int) template.HTML {
	top := 7
	for _, m := range headingTag.FindAllStringSubmatch(string(doc), -1) {
		if n := int(m[2][0] - '0'); n < top {
			top = n
		}
	}
	if top == 7 || top == level {
		return doc
	}
	return template.HTML(headingTag.ReplaceAllStringFunc(string(doc), func(tag string) string {
		m := headingTag.FindStringSubmatch(tag)
		n := min(max(int(m[2][0]-'0')+level-top, 1), 6)
		return "<" + m[1] + "h" + strconv.Itoa(n)
	}))
}

// headingHTML writes an <hN> with an id; text is escaped.
func headingHTML(level int, id, text string) template.HTML {
	level = min(max(level, 1), 6)
	n := strconv.Itoa(level)
	attr := ""
	if id != "" {
		attr = ` id="` + html.EscapeString(id) + `"`
	}
	return template.HTML("<h" + n + attr + ">" + html.EscapeString(text) + "</h" + n + ">")
}

// uiText is every word of the public site's chrome in one language. Strings
// with a %s or %d take the value named in their comment.
type uiText struct {
	SkipLink      string
	PageTitle     string // %s: the company's name
	LanguageNav   string
	NoIncidents   string
	NoIncidentsP  string
	OngoingOne    string
	OngoingMany   string // %d: how many
	Status        string
	Severity      string
	Started       string
	ResolvedAt    string
	LatestUpdate  string
	WhatToDo      string
	Contact       string
	ContactEmail  string
	ContactPhone  string
	ContactWeb    string
	IncidentLink  string
	Timeline      string
	Edited        string
	EarlierText   string
	Replaced      string // followed by the time
	Reason        string // %s: why
	Documents     string
	Affected      string
	Service       string
	ServiceStatus string
	Subscribe     string
	SubscribeP    string
	EmailLabel    string
	EmailHint     string
	SubscribeBtn  string
	Follow        string
	AtomFeed      string
	RSSFeed       string
	Past          string
	NoPast        string
	LastUpdated   string
	Colon         string // between a label and its value
	BackHome      string
	// The unsubscribe page's title, text and button.
	UnsubTitle    string
	UnsubText     string
	UnsubButton   string
	BannerLead    string
	BannerLink    string
	BannerDismiss string
	BannerRegion  string

	States     map[incident.State]string
	Severities map[incident.Severity]string
	Components map[status.ComponentStatus]string
	// Months are January to December; DateLayout takes the day, the
	// month's name, the year and "15:04".
	Months     [12]string
	DateLayout string
}

func (t *uiText) state(s incident.State) string {
	if l, ok := t.States[s]; ok {
		return l
	}
	return s.Label()
}

func (t *uiText) severity(s incident.Severity) string {
	if l, ok := t.Severities[s]; ok {
		return l
	}
	return string(s)
}

func (t *uiText) component(s status.ComponentStatus) string {
	if l, ok := t.Components[s]; ok {
		return l
	}
	return s.Label()
}

// time formats a moment in UTC in the page's language.
func (t *uiText) time(at time.Time) timeView {
	if at.IsZero() {
		return timeView{}
	}
	at = at.UTC()
	return timeView{
		ISO:  at.Format(time.RFC3339),
		Text: fmt.Sprintf(t.DateLayout, at.Day(), t.Months[at.Month()-1], at.Year(), at.Format("15:04")),
	}
}

// uiFor returns the words for locale, falling back to its base language
// and then to English.
func uiFor(locale string) *uiText {
	if t, ok := uiCatalog[strings.ToLower(locale)]; ok {
		return t
	}
	if t, ok := uiCatalog[status.BaseLanguage(locale)]; ok {
		return t
	}
	return uiCatalog["en"]
}

var uiCatalog = map[string]*uiText{
	"en": {
		SkipLink:      "Skip to main content",
		PageTitle:     "%s status",
		LanguageNav:   "Language",
		NoIncidents:   "No incidents",
		NoIncidentsP:  "We are not aware of any security incident right now. If that changes, we will say so here first.",
		OngoingOne:    "We are dealing with a security incident. Below is what we know, what you should do and how to reach us.",
		OngoingMany:   "We are dealing with %d security incidents. Below is what we know, what you should do and how to reach us.",
		Status:        "Status",
		Severity:      "Severity",
		Started:       "Started",
		ResolvedAt:    "Resolved",
		LatestUpdate:  "Latest update",
		WhatToDo:      "What you should do",
		Contact:       "How to get in touch",
		ContactEmail:  "Email",
		ContactPhone:  "Phone",
		ContactWeb:    "Web",
		IncidentLink:  "Page of this incident, with every update",
		Timeline:      "All updates, newest first",
		Edited:        "Edited",
		EarlierText:   "Show the earlier text",
		Replaced:      "Before the change on",
		Reason:        "Reason for the change: %s",
		Documents:     "More information",
		Affected:      "Affected services",
		Service:       "Service",
		ServiceStatus: "Status",
		Subscribe:     "Get updates by email",
		SubscribeP:    "We will email you each time we post an update. You can unsubscribe at any time.",
		EmailLabel:    "Email address",
		EmailHint:     "We will send you an email to confirm.",
		SubscribeBtn:  "Subscribe",
		Follow:        "Or follow the updates in a feed reader:",
		AtomFeed:      "Atom feed",
		RSSFeed:       "RSS feed",
		Past:          "Past incidents",
		NoPast:        "No past incidents.",
		LastUpdated:   "Last updated",
		Colon:         ": ",
		BackHome:      "Back to the status page",
		UnsubTitle:    "Unsubscribe",
		UnsubText:     "Stop receiving updates from this status page by email? Press the button to confirm.",
		UnsubButton:   "Unsubscribe",
		BannerLead:    "Important: security incident",
		BannerLink:    "Read what happened and what to do",
		BannerDismiss: "Dismiss this notice",
		BannerRegion:  "Security incident notice",
		States: map[incident.State]string{
			incident.Investigating: "Investigating",
			incident.Identified:    "Cause identified",
			incident.Contained:     "Contained, monitoring",
			incident.Resolved:      "Resolved",
			incident.Closed:        "Closed",
		},
		Severities: map[incident.Severity]string{
			incident.Low:      "Low",
			incident.Medium:   "Medium",
			incident.High:     "High",
			incident.Critical: "Critical",
		},
		Components: map[status.ComponentStatus]string{
			status.Operational:         "Working normally",
			status.DegradedPerformance: "Slower than usual",
			status.PartialOutage:       "Partly unavailable",
			status.MajorOutage:         "Unavailable",
			status.UnderMaintenance:    "Under maintenance",
		},
		Months:     [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
		DateLayout: "%[2]s %[1]d, %[3]d, %[4]s UTC",
	},
	"fr": {
		SkipLink:      "Aller au contenu principal",
		PageTitle:     "État des services de %s",
		LanguageNav:   "Langue",
		NoIncidents:   "Aucun incident",
		NoIncidentsP:  "Nous n’avons connaissance d’aucun incident de sécurité en ce moment. Si cela change, nous le dirons d’abord ici.",
		OngoingOne:    "Nous faisons face à un incident de sécurité. Voici ce que nous savons, ce que vous devez faire et comment nous joindre.",
		OngoingMany:   "Nous faisons face à %d incidents de sécurité. Voici ce que nous savons, ce que vous devez faire et comment nous joindre.",
		Status:        "État",
		Severity:      "Gravité",
		Started:       "Début",
		ResolvedAt:    "Résolu le",
		LatestUpdate:  "Dernière mise à jour",
		WhatToDo:      "Ce que vous devez faire",
		Contact:       "Nous contacter",
		ContactEmail:  "E-mail",
		ContactPhone:  "Téléphone",
		ContactWeb:    "Site web",
		IncidentLink:  "Page de cet incident, avec toutes les mises à jour",
		Timeline:      "Toutes les mises à jour, de la plus récente à la plus ancienne",
		Edited:        "Modifié",
		EarlierText:   "Afficher le texte précédent",
		Replaced:      "Avant la modification du",
		Reason:        "Motif de la modification : %s",
		Documents:     "Plus d’informations",
		Affected:      "Services touchés",
		Service:       "Service",
		ServiceStatus: "État",
		Subscribe:     "Recevoir les mises à jour par e-mail",
		SubscribeP:    "Nous vous écrirons à chaque nouvelle mise à jour. Vous pouvez vous désinscrire à tout moment.",
		EmailLabel:    "Adresse e-mail",
		EmailHint:     "Nous vous enverrons un e-mail de confirmation.",
		SubscribeBtn:  "S’abonner",
		Follow:        "Ou suivez les mises à jour dans un lecteur de flux :",
		AtomFeed:      "Flux Atom",
		RSSFeed:       "Flux RSS",
		Past:          "Incidents passés",
		NoPast:        "Aucun incident passé.",
		LastUpdated:   "Dernière mise à jour",
		Colon:         " : ",
		BackHome:      "Retour à la page d’état",
		UnsubTitle:    "Se désabonner",
		UnsubText:     "Ne plus recevoir par e-mail les mises à jour de cette page d’état ? Appuyez sur le bouton pour confirmer.",
		UnsubButton:   "Se désabonner",
		BannerLead:    "Important : incident de sécurité",
		BannerLink:    "Lire ce qui s’est passé et ce qu’il faut faire",
		BannerDismiss: "Masquer cet avis",
		BannerRegion:  "Avis d’incident de sécurité",
		States: map[incident.State]string{
			incident.Investigating: "Enquête en cours",
			incident.Identified:    "Cause identifiée",
			incident.Contained:     "Maîtrisé, sous surveillance",
			incident.Resolved:      "Résolu",
			incident.Closed:        "Clos",
		},
		Severities: map[incident.Severity]string{
			incident.Low:      "Faible",
			incident.Medium:   "Moyenne",
			incident.High:     "Élevée",
			incident.Critical: "Critique",
		},
		Components: map[status.ComponentStatus]string{
			status.Operational:         "Fonctionne normalement",
			status.DegradedPerformance: "Plus lent que d’habitude",
			status.PartialOutage:       "Partiellement indisponible",
			status.MajorOutage:         "Indisponible",
			status.UnderMaintenance:    "En maintenance",
		},
		Months:     [12]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
		DateLayout: "%[1]d %[2]s %[3]d à %[4]s UTC",
	},
	"de": {
		SkipLink:      "Zum Hauptinhalt springen",
		PageTitle:     "Status von %s",
		LanguageNav:   "Sprache",
		NoIncidents:   "Keine Vorfälle",
		NoIncidentsP:  "Uns ist derzeit kein Sicherheitsvorfall bekannt. Sollte sich das ändern, sagen wir es zuerst hier.",
		OngoingOne:    "Wir bearbeiten einen Sicherheitsvorfall. Hier steht, was wir wissen, was Sie tun sollten und wie Sie uns erreichen.",
		OngoingMany:   "Wir bearbeiten %d Sicherheitsvorfälle. Hier steht, was wir wissen, was Sie tun sollten und wie Sie uns erreichen.",
		Status:        "Status",
		Severity:      "Schweregrad",
		Started:       "Beginn",
		ResolvedAt:    "Behoben am",
		LatestUpdate:  "Neueste Meldung",
		WhatToDo:      "Was Sie tun sollten",
		Contact:       "So erreichen Sie uns",
		ContactEmail:  "E-Mail",
		ContactPhone:  "Telefon",
		ContactWeb:    "Web",
		IncidentLink:  "Seite dieses Vorfalls mit allen Meldungen",
		Timeline:      "Alle Meldungen, neueste zuerst",
		Edited:        "Bearbeitet",
		EarlierText:   "Früheren Text anzeigen",
		Replaced:      "Vor der Änderung vom",
		Reason:        "Grund der Änderung: %s",
		Documents:     "Weitere Informationen",
		Affected:      "Betroffene Dienste",
		Service:       "Dienst",
		ServiceStatus: "Status",
		Subscribe:     "Meldungen per E-Mail erhalten",
		SubscribeP:    "Wir schreiben Ihnen bei jeder neuen Meldung. Sie können sich jederzeit abmelden.",
		EmailLabel:    "E-Mail-Adresse",
		EmailHint:     "Wir senden Ihnen eine E-Mail zur Bestätigung.",
		SubscribeBtn:  "Abonnieren",
		Follow:        "Oder verfolgen Sie die Meldungen in einem Feedreader:",
		AtomFeed:      "Atom-Feed",
		RSSFeed:       "RSS-Feed",
		Past:          "Frühere Vorfälle",
		NoPast:        "Keine früheren Vorfälle.",
		LastUpdated:   "Zuletzt aktualisiert",
		Colon:         ": ",
		BackHome:      "Zurück zur Statusseite",
		UnsubTitle:    "Abmelden",
		UnsubText:     "Keine Meldungen dieser Statusseite mehr per E-Mail erhalten? Drücken Sie zur Bestätigung auf die Schaltfläche.",
		UnsubButton:   "Abmelden",
		BannerLead:    "Wichtig: Sicherheitsvorfall",
		BannerLink:    "Lesen Sie, was passiert ist und was Sie tun sollten",
		BannerDismiss: "Hinweis schließen",
		BannerRegion:  "Hinweis auf einen Sicherheitsvorfall",
		States: map[incident.State]string{
			incident.Investigating: "Wird untersucht",
			incident.Identified:    "Ursache erkannt",
			incident.Contained:     "Eingedämmt, unter Beobachtung",
			incident.Resolved:      "Behoben",
			incident.Closed:        "Abgeschlossen",
		},
		Severities: map[incident.Severity]string{
			incident.Low:      "Gering",
			incident.Medium:   "Mittel",
			incident.High:     "Hoch",
			incident.Critical: "Kritisch",
		},
		Components: map[status.ComponentStatus]string{
			status.Operational:         "Funktioniert normal",
			status.DegradedPerformance: "Langsamer als üblich",
			status.PartialOutage:       "Teilweise nicht verfügbar",
			status.MajorOutage:         "Nicht verfügbar",
			status.UnderMaintenance:    "In Wartung",
		},
		Months:     [12]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
		DateLayout: "%[1]d. %[2]s %[3]d, %[4]s UTC",
	},
	"es": {
		SkipLink:      "Ir al contenido principal",
		PageTitle:     "Estado de %s",
		LanguageNav:   "Idioma",
		NoIncidents:   "Sin incidentes",
		NoIncidentsP:  "No tenemos constancia de ningún incidente de seguridad en este momento. Si eso cambia, lo diremos primero aquí.",
		OngoingOne:    "Estamos gestionando un incidente de seguridad. Aquí está lo que sabemos, lo que debe hacer y cómo contactarnos.",
		OngoingMany:   "Estamos gestionando %d incidentes de seguridad. Aquí está lo que sabemos, lo que debe hacer y cómo contactarnos.",
		Status:        "Estado",
		Severity:      "Gravedad",
		Started:       "Inicio",
		ResolvedAt:    "Resuelto el",
		LatestUpdate:  "Última actualización",
		WhatToDo:      "Lo que debe hacer",
		Contact:       "Cómo contactarnos",
		ContactEmail:  "Correo electrónico",
		ContactPhone:  "Teléfono",
		ContactWeb:    "Web",
		IncidentLink:  "Página de este incidente, con todas las actualizaciones",
		Timeline:      "Todas las actualizaciones, de la más reciente a la más antigua",
		Edited:        "Editado",
		EarlierText:   "Mostrar el texto anterior",
		Replaced:      "Antes del cambio del",
		Reason:        "Motivo del cambio: %s",
		Documents:     "Más información",
		Affected:      "Servicios afectados",
		Service:       "Servicio",
		ServiceStatus: "Estado",
		Subscribe:     "Recibir las actualizaciones por correo",
		SubscribeP:    "Le escribiremos cada vez que publiquemos una actualización. Puede darse de baja cuando quiera.",
		EmailLabel:    "Dirección de correo electrónico",
		EmailHint:     "Le enviaremos un correo para confirmar.",
		SubscribeBtn:  "Suscribirse",
		Follow:        "O siga las actualizaciones en un lector de feeds:",
		AtomFeed:      "Feed Atom",
		RSSFeed:       "Feed RSS",
		Past:          "Incidentes anteriores",
		NoPast:        "No hay incidentes anteriores.",
		LastUpdated:   "Última actualización",
		Colon:         ": ",
		BackHome:      "Volver a la página de estado",
		UnsubTitle:    "Darse de baja",
		UnsubText:     "¿Dejar de recibir por correo las actualizaciones de esta página de estado? Pulse el botón para confirmar.",
		UnsubButton:   "Darme de baja",
		BannerLead:    "Importante: incidente de seguridad",
		BannerLink:    "Lea lo que ha pasado y lo que debe hacer",
		BannerDismiss: "Cerrar este aviso",
		BannerRegion:  "Aviso de incidente de seguridad",
		States: map[incident.State]string{
			incident.Investigating: "En investigación",
			incident.Identified:    "Causa identificada",
			incident.Contained:     "Contenido, en observación",
			incident.Resolved:      "Resuelto",
			incident.Closed:        "Cerrado",
		},
		Severities: map[incident.Severity]string{
			incident.Low:      "Baja",
			incident.Medium:   "Media",
			incident.High:     "Alta",
			incident.Critical: "Crítica",
		},
		Components: map[status.ComponentStatus]string{
			status.Operational:         "Funciona con normalidad",
			status.DegradedPerformance: "Más lento de lo habitual",
			status.PartialOutage:       "Parcialmente no disponible",
			status.MajorOutage:         "No disponible",
			status.UnderMaintenance:    "En mantenimiento",
		},
		Months:     [12]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
		DateLayout: "%[1]d de %[2]s de %[3]d, %[4]s UTC",
	},
}
