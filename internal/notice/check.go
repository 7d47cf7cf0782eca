package notice

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/incident"
	"github.com/yuin/goldmark/ast"
)

// The checks (Check) run on every save and are shown next to the text.
// Each variant is rendered for its sample recipients and then:
//
//   - Template: Parse and Render errors, with line and column, are errors
//     ("template"); nothing else is checked on a text that does not render.
//   - The four points (what happened; what the reader should do; what the
//     company is doing; where to follow updates), a contact or reply path,
//     an apology, and what was not affected (when the facts list kinds as
//     not exposed). Each is found, in the rendered body, by any of: a
//     heading that says it with text under it ("What you can do", a bold
//     line counts as a heading), a phrase that does it ("we recommend you",
//     "please change", "reply to this email", an email address or phone
//     number, "sorry"/"apologise"), or the facts text its placeholder fills
//     in ({{.Facts.WhatToDo}}). "Not affected" needs a clause that says a
//     kind the facts list as not exposed was not taken/exposed/affected.
//     Missing ones are errors for customer notices; warnings for the press,
//     the website and partners; only what happened and what we are doing,
//     as warnings, for employees; nothing for the response team.
//   - Facts consistency, on the writer's own words only (values filled in
//     by placeholders are told apart with markedMode, and only text that is
//     rendered for some sample counts, so a dead {{if}} branch does not):
//     a number of people ("15,000 customers", "more than 14,000 members",
//     hedges honoured, "our 2 million customers" skipped) that disagrees
//     with the affected count; a date in a sentence about discovery ("we
//     found out on …") or about the breach itself ("happened between …")
//     that disagrees with the facts' dates; a data kind (label or common
//     name) said to be exposed that the facts list as not exposed, or said
//     not to be exposed that the facts list as exposed. Errors, with the
//     position in the source. Literals that agree are info findings asking
//     for the placeholder. A placeholder that prints nothing (an empty fact)
//     and is not guarded by {{if}}, {{with}} or | default is an error.
//   - Plain language: the Flesch–Kincaid grade, always shown (info); a
//     warning above GradeLimit for customer notices.
//   - Legal content (legal.json), for notices to individuals, only where
//     the recipients who get the variant include that jurisdiction:
//     California's title and headings and content elements, GDPR Art. 34
//     and UK GDPR elements, Massachusetts' required elements and its
//     prohibition on stating the nature of the breach or the number
//     affected. Every legal finding carries its citation, source and the
//     reference's verification caveat.
//   - Channels: an email needs a subject; SMS segments are shown.
//
// The heuristics read English. A variant whose locale is another language
// gets one "translation" warning asking a reader to confirm the same points,
// and only the language-independent checks.

// CheckInput is everything Check looks at: one notice version's text and
// what the text will be judged against.
type CheckInput struct {
	Content Content
	// AudienceKind is the audience's kind ("affected_customers",
	// "unaffected_customers", "employees", "response_team", "partners",
	// "press", "regulators", "custom"); it decides which checks apply and
	// how strictly.
	AudienceKind string
	Channels     []Channel
	// Facts and FactsVersion are the incident's facts the text must agree
	// with. Every sample is rendered with these facts, whatever its own.
	Facts        incident.Facts
	FactsVersion int
	// Company and Incident fill the samples that leave them empty.
	Company  Company
	Incident Incident
	// Jurisdictions are those of the audience's recipients (ISO 3166-1 or
	// 3166-2 codes); legal content rules apply only for jurisdictions in
	// this list.
	Jurisdictions []string
	// VariantJurisdictions optionally narrows Jurisdictions per variant
	// (key -1 for the default text) to those of the recipients who get
	// that variant, so that, for instance, a variant for Massachusetts
	// residents is the only text held to Massachusetts' rule. A variant
	// missing from the map is held to Jurisdictions.
	VariantJurisdictions map[int][]string
	// Samples are recipients' data to render each variant for (key -1 for
	// the default text), ideally real recipients of its segment. A
	// variant without samples is rendered for a stand-in recipient who had
	// every exposed kind. Each sample's Facts and FactsVersion are replaced
	// by the input's.
	Samples map[int][]Data
}

// Finding is one result of Check, shown next to the text.
type Finding struct {
	// Key names the check, stable across saves, so that an approver's
	// override can name what it overrides (see Ref): "template",
	// "point:what_happened", "point:what_to_do", "point:what_we_are_doing",
	// "point:updates", "contact", "apology", "not_affected",
	// "facts:number:15000", "facts:date:2025-03-20",
	// "facts:data_kind:card_number", "facts:empty:.Facts.ContactPhone",
	// "readability", "subject", "sms",
	// "legal:<rule id>:<requirement key>".
	Key   string `json:"key"`
	Level Level  `json:"level"`
	// Variant is the index of the variant the finding is about, -1 for the
	// default text.
	Variant int `json:"variant"`
	// Field is "subject" or "body" when the finding is about one of them.
	Field string `json:"field,omitempty"`
	// Position is where in the template source the finding points, when
	// known.
	Position *Position `json:"position,omitempty"`
	// Message says what is wrong and what to do next.
	Message string `json:"message"`
	// Value is the measured or quoted value: the readability grade, the
	// number or date found.
	Value string `json:"value,omitempty"`
	// Citation, SourceURL and Caveat are set on legal findings: the law,
	// where the reference read it, and how far the reference verified it.
	Citation  string `json:"citation,omitempty"`
	SourceURL string `json:"source_url,omitempty"`
	Caveat    string `json:"caveat,omitempty"`
}

// Blocking returns the findings that block approval: the error-level ones.
// An approver may still approve by overriding each with a written reason,
// naming it by Ref.
func Blocking(findings []Finding) []Finding {
	var out []Finding
	for _, f := range findings {
		if f.Level == LevelError {
			out = append(out, f)
		}
	}
	return out
}

// Ref names the finding for an override: its Key for the default text,
// "variants[i]/" + Key for variant i. The same text checked again gives the
// same refs, so an override recorded for a version keeps applying to it.
func (f Finding) Ref() string {
	if f.Variant < 0 {
		return f.Key
	}
	return fmt.Sprintf("variants[%d]/%s", f.Variant, f.Key)
}

// Outstanding returns the blocking findings that no override covers;
// overridden reports whether an approver has overridden a ref with a
// reason. Approval may go ahead when it returns none.
func Outstanding(findings []Finding, overridden func(ref string) bool) []Finding {
	var out []Finding
	for _, f := range Blocking(findings) {
		if overridden == nil || !overridden(f.Ref()) {
			out = append(out, f)
		}
	}
	return out
}

// audience classes decide how strict the content checks are.
type audienceClass int

const (
	classCustomer audienceClass = iota // affected and unaffected customers
	classPublic                        // press, website Q&A and other public text
	classPartner                       // partners and regulators
	classStaff                         // employees
	classTeam                          // the response team: no content checks
)

func classOf(kind string) audienceClass {
	switch kind {
	case "affected_customers", "unaffected_customers":
		return classCustomer
	case "partners", "regulators":
		return classPartner
	case "employees":
		return classStaff
	case "response_team":
		return classTeam
	}
	return classPublic
}

// Check runs every check on every variant of in.Content and returns the
// findings, default text first, then each variant in order; within each,
// errors, then warnings, then information. Check never fails: a template
// that does not parse or render is reported as findings with key "template"
// and the checks that need the rendered text are skipped for it.
func Check(in CheckInput) []Finding {
	var out []Finding
	for v := -1; v < len(in.Content.Variants); v++ {
		fs := checkVariant(&in, v)
		slices.SortStableFunc(fs, func(a, b Finding) int { return levelRank(a.Level) - levelRank(b.Level) })
		out = append(out, fs...)
	}
	return out
}

func levelRank(l Level) int {
	switch l {
	case LevelError:
		return 0
	case LevelWarning:
		return 1
	}
	return 2
}

// collector gathers one variant's findings over its samples: a finding
// several samples produce is kept once, and one that only some produce says
// so.
type collector struct {
	variant int
	list    []Finding
	count   []int
	who     []string
	once    []bool // checked for the first sample only
	index   map[string]int
}

// addOnce adds a finding of a check that runs for the first sample only.
func (c *collector) addOnce(f Finding) {
	c.add("", f)
	c.once[len(c.once)-1] = true
}

func (c *collector) add(who string, f Finding) {
	f.Variant = c.variant
	id := f.Key + "\x00" + f.Field
	if f.Position != nil {
		id += fmt.Sprintf("\x00%d:%d", f.Position.Line, f.Position.Column)
	}
	if i, ok := c.index[id]; ok {
		c.count[i]++
		return
	}
	c.index[id] = len(c.list)
	c.list = append(c.list, f)
	c.count = append(c.count, 1)
	c.who = append(c.who, who)
	c.once = append(c.once, false)
}

func (c *collector) findings(samples int) []Finding {
	for i := range c.list {
		if samples > 1 && c.count[i] < samples && c.who[i] != "" && !c.once[i] {
			c.list[i].Message += fmt.Sprintf(" This happens in the text some recipients get (e.g. %s), not all: check the {{if}} around it.", c.who[i])
		}
	}
	return c.list
}

func checkVariant(in *CheckInput, v int) []Finding {
	c := &collector{variant: v, index: map[string]int{}}
	subject, body := in.Content.Text(v)
	t, err := Parse(subject, body)
	if err != nil {
		for _, e := range apperr.Flatten(err) {
			c.add("", templateFinding(e))
		}
		return c.list
	}
	jurisdictions := in.Jurisdictions
	if j, ok := in.VariantJurisdictions[v]; ok {
		jurisdictions = j
	}
	samples, given := in.Samples[v], true
	if len(samples) == 0 {
		samples, given = []Data{standIn(in, jurisdictions)}, false
	}
	class := classOf(in.AudienceKind)
	locale := ""
	if v >= 0 {
		locale = in.Content.Variants[v].Locale
	}
	english := isEnglish(locale)
	rendered := 0
	for i := range samples {
		d := samples[i]
		d.Facts, d.FactsVersion = in.Facts, in.FactsVersion
		if d.Company == (Company{}) {
			d.Company = in.Company
		}
		if d.Incident == (Incident{}) {
			d.Incident = in.Incident
		}
		who := ""
		if given {
			who = sampleName(d.Recipient)
		}
		r, err := t.Render(d)
		if err != nil {
			for _, e := range apperr.Flatten(err) {
				f := templateFinding(e)
				if who != "" {
					f.Message += " (when filled in for " + who + ")"
				}
				c.add(who, f)
			}
			continue
		}
		a := analyze(r.Subject, r.Markdown, &in.Facts)
		add := func(f Finding) { c.add(who, f) }
		if english {
			checkPoints(a, in.AudienceKind, class, lawForbids(in.AudienceKind, jurisdictions), add)
			if ms, mb, ok := renderMarked(t, d); ok {
				checkLiterals(t, ms, mb, &in.Facts, add)
			}
			checkLegal(a, in.AudienceKind, jurisdictions, &in.Facts, add)
		}
		checkEmpty(t, &d, class, given, add)
		if rendered == 0 {
			if english {
				checkReadability(a, class, c.addOnce)
			} else {
				checkByHand(locale, in.AudienceKind, class, jurisdictions, c.addOnce)
			}
			checkChannels(t, d, r, in.Channels, c.addOnce)
		}
		rendered++
	}
	return c.findings(len(samples))
}

func templateFinding(e *apperr.Error) Finding {
	f := Finding{Key: "template", Level: LevelError, Field: e.Field, Message: e.Message}
	if p, ok := e.Detail.(Position); ok {
		f.Position = &p
	}
	if f.Message == "" {
		f.Message = e.Error()
	}
	return f
}

func sampleName(r Recipient) string {
	switch {
	case oneLine(r.Name) != "":
		return oneLine(r.Name)
	case r.Email != "":
		return oneLine(r.Email)
	}
	return "a sample recipient"
}

// standIn is the recipient a variant is rendered for when the caller gave
// no samples: one who had every exposed kind, in the first jurisdiction.
func standIn(in *CheckInput, jurisdictions []string) Data {
	d := Data{Company: in.Company, Incident: in.Incident}
	d.Recipient.Exposed = slices.Clone(in.Facts.Exposed)
	d.Recipient.Locale = "en"
	if len(jurisdictions) > 0 {
		d.Recipient.Jurisdiction = jurisdictions[0]
	}
	return d
}

// renderMarked renders t for d with every filled-in value between markers
// (see markedMode), so the writer's own words can be told apart.
func renderMarked(t *Template, d Data) (subject, body string, ok bool) {
	s, err := execute[markedMode[plainMode]](t.subject, t.subjectSrc, &d, 8*MaxSubject)
	if err != nil {
		return "", "", false
	}
	b, err := execute[markedMode[mdMode]](t.body, t.bodySrc, &d, 2*MaxBodyOutput)
	if err != nil {
		return "", "", false
	}
	return s, b, true
}

// ---------------------------------------------------------------------------
// The rendered text, as the checks see it.

// block is one heading, paragraph, list item or code block of the body.
type block struct {
	heading bool
	text    string // as written (markers, if any, kept)
}

// blocksOf parses Markdown and lists its blocks in order. A paragraph that
// is nothing but bold text ("**What you can do**") counts as a heading, as
// writers use it as one.
func blocksOf(md string) []block {
	d := parseMarkdown(md)
	w := &textWriter{src: d.src, sms: true}
	var out []block
	var walk func(parent ast.Node)
	walk = func(parent ast.Node) {
		for n := parent.FirstChild(); n != nil; n = n.NextSibling() {
			switch n := n.(type) {
			case *ast.Heading:
				out = append(out, block{heading: true, text: w.inline(n)})
			case *ast.Paragraph, *ast.TextBlock:
				bold := n.ChildCount() == 1
				if e, ok := n.FirstChild().(*ast.Emphasis); !ok || e.Level != 2 {
					bold = false
				}
				t := w.inline(n)
				out = append(out, block{heading: bold && len(strings.Fields(t)) <= 12, text: t})
			case *ast.HTMLBlock:
			case *ast.CodeBlock, *ast.FencedCodeBlock:
				out = append(out, block{text: strings.Join(w.block(n, 0), "\n")})
			default:
				walk(n)
			}
		}
	}
	walk(d.root)
	return out
}

// section is a heading and the text under it, up to the next heading.
type section struct {
	heading string // normalized, trailing punctuation removed
	text    string // normalized
}

// analysis is the rendered subject and body, normalized for matching:
// lower case, typographic quotes made plain, whitespace folded.
type analysis struct {
	subject  string
	sections []section // the first has heading "" (text before any heading)
	headings []string
	text     string   // all body text, normalized
	prose    string   // the body's prose as written, for readability
	clauses  []string // normalized sentences split into clauses
	facts    *incident.Facts
}

var norm = strings.NewReplacer("\u2019", "'", "\u2018", "'", "\u201c", `"`, "\u201d", `"`, "\u2013", "-", "\u2014", "-", "\u00a0", " ")

func normalize(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(norm.Replace(s))), " ")
}

func headingKey(s string) string { return strings.TrimRight(normalize(s), " :?.!") }

func analyze(subject, markdown string, facts *incident.Facts) *analysis {
	a := &analysis{subject: normalize(subject), facts: facts, sections: []section{{}}}
	var all, prose []string
	for _, b := range blocksOf(markdown) {
		if b.heading {
			h := headingKey(b.text)
			a.headings = append(a.headings, h)
			a.sections = append(a.sections, section{heading: h})
		} else {
			s := &a.sections[len(a.sections)-1]
			s.text = strings.TrimSpace(s.text + " " + normalize(b.text))
		}
		all = append(all, normalize(b.text))
		// Readability counts sentences of prose: headings are left out
		// (as fragments they would pass for very short sentences), and a
		// list item or line without a full stop ends one.
		if p := strings.TrimSpace(b.text); p != "" && !b.heading {
			if !strings.ContainsAny(p[len(p)-1:], ".!?:") {
				p += "."
			}
			prose = append(prose, p)
		}
		a.clauses = append(a.clauses, clausesOf(normalize(b.text))...)
	}
	a.text = strings.Join(all, " \n ")
	a.prose = strings.Join(prose, "\n")
	return a
}

var (
	sentenceSplit = regexp.MustCompile(`[.!?]+["')\]]*\s+|\n`)
	clauseSplit   = regexp.MustCompile(`;\s+|,?\s+\b(?:but|however|whereas|while)\b\s+|\s+-\s+`)
)

// clausesOf splits text into sentences and those into clauses at "; ",
// " but ", " however ", " whereas ", " while " and " - ", so that "your
// name was taken, but not your password" is two claims.
func clausesOf(text string) []string {
	var out []string
	for _, s := range sentenceSplit.Split(text, -1) {
		for _, c := range clauseSplit.Split(s, -1) {
			if c = strings.TrimSpace(c); c != "" {
				out = append(out, c)
			}
		}
	}
	return out
}

// has reports whether the body text contains a match of re.
func (a *analysis) has(re *regexp.Regexp) bool { return re.MatchString(a.text) }

// headed reports whether a heading matching re has text under it.
func (a *analysis) headed(re *regexp.Regexp) bool {
	for _, s := range a.sections[1:] {
		if re.MatchString(s.heading) && s.text != "" {
			return true
		}
	}
	return false
}

// contains reports whether the body quotes the start of a facts text (what
// a placeholder such as {{.Facts.WhatHappened}} puts there).
func (a *analysis) contains(factText string) bool {
	n := normalize(factText)
	if len(n) < 12 {
		return false
	}
	if len(n) > 60 {
		n = n[:60]
		if i := strings.LastIndexByte(n, ' '); i > 20 {
			n = n[:i]
		}
	}
	return strings.Contains(a.text, n)
}

// ---------------------------------------------------------------------------
// Element detectors. Each says whether the rendered text does something a
// good notice (or the law) asks. They are heuristics over English text: a
// heading that says it (with text under it), a phrase that does it, or the
// facts text the matching placeholder fills in. They err towards finding
// the element: a check that wrongly fails blocks approval, one that wrongly
// passes leaves it to the reviewers, who read every notice anyway.

func rx(s string) *regexp.Regexp { return regexp.MustCompile(s) }

var (
	headWhatHappened = rx(`^(what (has )?happened|what's happened|what happened since|what we know|the incident|about the incident|about this incident|what is going on|what's going on|overview|summary|nature of the breach|details of the incident)\b`)
	phraseHappened   = rx(`\b(someone|an attacker|attackers|hackers?|criminals?|intruders?|an unauthori[sz]ed (person|party|third party|user)|a third party|a former (employee|contractor)|an employee)\b[^.]{0,80}\b(broke|got|gained|accessed|stole|took|copied|downloaded|used|obtained|viewed|exfiltrated|posted|sent|published|encrypted)\b` +
		`|\b(was|were|been)\s+((also|then|later|illegally|unlawfully|wrongly|possibly|likely|probably)\s+)?(stolen|taken|accessed|exposed|copied|leaked|compromised|hacked|breached|downloaded|viewed|published|posted)\b` +
		`|\b(data|security) breach\b|\bsecurity incident\b|\bunauthori[sz]ed access\b|\b(we were|we've been|we have been|was|were) hacked\b|\bbroke into\b|\bcyber ?attack\b|\bransomware\b|\bphishing attack\b`)

	headWhatToDo = rx(`^(what (you|customers|members|users|cardholders) (can|should|need to|must) do|what to do|what (can|should) (i|you|we) do|steps (you can|to) take|how (to|you can) protect (yourself|your)|how to stay safe|how you can stay safe|staying safe|(our )?(recommendations?|advice)( for you)?|next steps|what we (recommend|ask of you)|what customers should do|what you should do now)\b`)
	phraseToDo   = rx(`\bwe (strongly )?(recommend|advise|suggest|urge|encourage|ask)( that)? (you|all|customers|members|users)\b` +
		`|\bplease (change|reset|update|check|review|monitor|watch|be (alert|careful|vigilant|wary|on the lookout)|contact|call|enable|turn on|look out|keep an eye|remove|reconnect|sign in|log in|report|tell|do not|don't|ignore|delete|consider|make sure|use|go to|visit)\b` +
		`|\byou (should|can|may want to|might want to|need to|must|will need to) (also )?(change|reset|update|check|review|monitor|watch|be|contact|call|enable|turn|look|keep|remove|reconnect|report|tell|ignore|delete|consider|place|freeze|request|order|sign up|enrol|enroll|use|choose|protect|get)\b` +
		`|\b(change|reset) your passwords?\b|\bkeep an eye on\b|\bcheck your (card |bank |credit |account )?(statements?|accounts?|reports?)\b` +
		`|\bnothing (you need|for you) to do\b|\byou (do not|don't) (need|have) to (do anything|take any action)\b|\bno action is (needed|required|necessary)\b|\bturn on two[- ](factor|step)\b`)

	headWhatWeDo = rx(`^(what we (are|'re|have been|were) doing|what we're doing|what we('ve| have)? done|what we did|what we (have )?changed|what we are changing|what we're changing|our response|steps we (have )?(taken|are taking)|what (the company|[a-z0-9]+) is doing( about it)?|measures (taken|we have taken)|what are you doing( about it)?|how we are responding|done so far)\b`)
	phraseWeDo   = rx(`\bwe('ve| have| had)? (already |immediately |quickly |also |since |now )?(locked|reset|fixed|closed|patched|secured|removed|disabled|blocked|notified|reported|contacted|hired|engaged|brought in|added|changed|strengthened|stopped|shut|revoked|rotated|informed|begun|started|launched|taken|put|made|asked|alerted|hidden|disconnected|turned off|called in|appointed|updated|upgraded|installed|deployed|improved|tightened|cut off|isolated|restored|rebuilt|required|forced|invalidated|suspended|deleted)\b` +
		`|\bwe('re| are) (\w+ )?(working|investigating|reviewing|strengthening|adding|notifying|contacting|monitoring|cooperating|checking|improving|fixing|rebuilding|putting|taking|offering|providing|writing)\b` +
		`|\bwe will (\w+ )?(offer|provide|pay|cover|reimburse|strengthen|review|add|fix|notify|monitor|require)\b`)

	headUpdates   = rx(`^(for more information|more information|where to (get|find|follow|read) (updates|more)|updates|keep(ing)? (you )?(up to date|informed|updated)|stay(ing)? (informed|up to date)|where to follow updates|following updates|what happens next|what('s| is) next|what is still open)\b`)
	phraseUpdates = rx(`\bupdates?\b[^.]{0,50}\b(at|on|here|page|site|blog)\b` +
		`|\bwe('ll| will) (keep you (updated|posted|informed|up to date)|post|publish|share|update|let you know|tell you|follow up|write( to you)? again|send (you )?(an? )?(update|more)|be in touch|keep this page)\b` +
		`|\b(status|incident|updates?) page\b|\bcheck back\b|\bfollow (us|our|along)\b|\bkeep this page up to date\b`)

	phraseContact = rx(`[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}` +
		`|\+\d[\d ().-]{6,}\d|\(?\b\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b|\b0\d{2,4}[ ]\d{3,4}[ ]?\d{3,4}\b` +
		`|\b(reply|respond) to this (email|e-mail|message|letter|text)\b|\b(hit|press|click) reply\b` +
		`|\b(contact|call|email|e-mail|phone|write to|reach|text|message|ask) (us|our|the (support|help|response|security|customer|privacy|data protection))\b` +
		`|\bget in touch\b|\b(customer )?(service|support|help|care) (team|desk|line|centre|center)\b|\bdata protection officer\b`)

	phraseApology = rx(`\b(sorry|apologi[sz]e|apologi[sz]ing|apologies|apology|we regret|deeply regret)\b`)

	// negExposure is a clause saying data was not exposed.
	negExposure = rx(`\b(not|never|no longer)\b(\s+[a-z']+){0,3}?\s+(taken|stolen|exposed|accessed|involved|affected|copied|leaked|compromised|included|part of|breached|seen|viewed|downloaded|obtained|acquired|at risk)\b` +
		`|n't(\s+[a-z']+){0,3}?\s+(taken|stolen|exposed|accessed|involved|affected|copied|leaked|compromised|included|part of|breached|seen|viewed|downloaded|obtained|acquired|at risk)\b` +
		`|\b(no|none of (your|the|our))\b[^.]{0,60}\b(was|were|has been|have been)\s+(taken|stolen|exposed|accessed|involved|affected|copied|leaked|compromised|included|breached|seen|viewed)\b` +
		`|\b(is|are|was|were|remains?|remained|stayed?) (safe|secure|unaffected|not affected)\b|\bunaffected\b|\bdoes not include\b|\bdid not include\b|\bdo not include\b|\bwere never\b`)
	// posExposure is a clause saying data was exposed.
	posExposure = rx(`\b(taken|stolen|exposed|accessed|involved|affected|copied|leaked|compromised|included|includes|include|including|breached|seen|viewed|downloaded|obtained|acquired|exfiltrated)\b`)

	phraseConsequences = rx(`\b(could|might|may|can)\b[^.]{0,60}\b(fraud\w*|phishing|identity theft|scams?|misuse\w*|used|use (it|this|them|the)|try|trick\w*|impersonat\w+|target\w*|charges?|lead to|mean|result in)\b|\b(risks?|at risk|consequences?|likely to)\b|\b(watch|look) out for\b`)
	headConsequences   = rx(`^(likely consequences|what this means( for you)?|what could happen|the risks?|risks? to you)\b`)
	phraseBreachNature = rx(`\bhack\w*\b|\bphishing\b|\bmalware\b|\bransomware\b|\bstolen (staff |employee |admin )?(password|credentials?)\b|\bbroke into\b|\bunauthori[sz]ed access\b|\bvulnerabilit\w+\b|\bmisconfigur\w+\b|\battack\w*\b|\bcopied\b|\bexfiltrat\w+\b|\bintrud\w+\b|\bbreach of (our|the) systems?\b`)
	phrasePolice       = rx(`\bpolice report\b`)
	phraseFreeze       = rx(`\b(security|credit) freeze\b`)
	phraseFreezeFree   = rx(`\bfreeze\b[^.]{0,120}\b(free|no (charge|cost|fee))\b|\b(free|no (charge|cost|fee))\b[^.]{0,120}\bfreeze\b`)
	phraseMitigation   = rx(`\bcredit monitoring\b|\bidentity (theft )?(protection|monitoring|restoration|prevention|mitigation)\b`)
	phraseCRA          = rx(`\b(equifax|experian|transunion)\b`)
)

func detectHappened(a *analysis) bool {
	return a.headed(headWhatHappened) || a.contains(a.facts.WhatHappened) || a.has(phraseHappened)
}
func detectToDo(a *analysis) bool {
	return a.headed(headWhatToDo) || a.contains(a.facts.PeopleShould) || a.has(phraseToDo)
}
func detectWeDo(a *analysis) bool {
	return a.headed(headWhatWeDo) || a.contains(a.facts.CompanyActions) || a.has(phraseWeDo)
}
func detectUpdates(a *analysis) bool {
	if u := normalize(a.facts.Contact.URL); u != "" && strings.Contains(a.text, u) {
		return true
	}
	return a.headed(headUpdates) || a.has(phraseUpdates)
}
func detectContact(a *analysis) bool { return a.has(phraseContact) }
func detectApology(a *analysis) bool { return a.has(phraseApology) }

// detectNotAffected reports whether a clause says one of the kinds the
// facts list as not exposed was not exposed.
func detectNotAffected(a *analysis) bool {
	for _, c := range a.clauses {
		if !negExposure.MatchString(c) {
			continue
		}
		for _, k := range a.facts.NotExposed {
			if mentionsKind(c, k) {
				return true
			}
		}
	}
	return false
}

func detectConsequences(a *analysis) bool {
	return a.headed(headConsequences) || a.has(phraseConsequences)
}

func detectBreachNature(a *analysis) bool {
	return a.headed(headWhatHappened) || a.contains(a.facts.WhatHappened) || a.has(phraseBreachNature)
}

func detectNumberAffected(a *analysis) bool {
	if a.facts.AffectedTotal > 0 && strings.Contains(a.text, groupThousands(a.facts.AffectedTotal)) {
		return true
	}
	for _, j := range a.facts.AffectedBy {
		if j.Count > 0 && strings.Contains(a.text, groupThousands(j.Count)) {
			return true
		}
	}
	return peopleCount.MatchString(a.text)
}

func detectCategories(a *analysis) bool {
	for _, k := range incident.DataKinds {
		if mentionsKind(a.text, k.Kind) {
			return true
		}
	}
	return false
}

func detectDate(a *analysis) bool { return len(findDates(a.text)) > 0 }

// detectors are the element detectors legal.json's "present" and
// "absent" requirements name.
var detectors = map[string]func(*analysis) bool{
	"nature_of_breach":             detectHappened,
	"contact_point":                detectContact,
	"likely_consequences":          detectConsequences,
	"measures_taken":               detectWeDo,
	"mitigation_advice":            detectToDo,
	"breach_details":               detectBreachNature,
	"number_affected":              detectNumberAffected,
	"categories_of_data":           detectCategories,
	"date_of_breach":               detectDate,
	"police_report_right":          func(a *analysis) bool { return a.has(phrasePolice) },
	"security_freeze_instructions": func(a *analysis) bool { return a.has(phraseFreeze) },
	"security_freeze_free":         func(a *analysis) bool { return a.has(phraseFreezeFree) },
	"mitigation_services":          func(a *analysis) bool { return a.has(phraseMitigation) },
	"cra_contact_info":             func(a *analysis) bool { return a.has(phraseCRA) },
}

// ---------------------------------------------------------------------------
// The four points, contact, apology, what was not affected.

type pointCheck struct {
	key    string
	detect func(*analysis) bool
	advice string
}

var (
	pointHappened = pointCheck{"point:what_happened", detectHappened,
		"Say what happened: add a heading \"What happened\" with {{.Facts.WhatHappened}} under it, or a sentence such as \"Someone gained access to …\"."}
	pointToDo = pointCheck{"point:what_to_do", detectToDo,
		"Add a sentence saying what the reader should do, e.g. a heading \"What you can do\" with {{.Facts.WhatToDo}} under it, or \"We recommend you change your password\". If there is nothing to do, say so: \"You do not need to do anything.\""}
	pointWeDo = pointCheck{"point:what_we_are_doing", detectWeDo,
		"Say what you are doing about it: add a heading \"What we are doing\" with {{.Facts.WhatWeDid}} under it, or a sentence such as \"We have locked the account and …\"."}
	pointUpdates = pointCheck{"point:updates", detectUpdates,
		"Say where to follow updates: e.g. \"We will post every update at {{.Facts.ContactURL}}.\" under a heading \"For more information\"."}
	pointContact = pointCheck{"contact", detectContact,
		"Give a way to reach you: \"Reply to this email\", {{.Facts.ContactEmail}} or {{.Facts.ContactPhone}}."}
	pointApology = pointCheck{"apology", detectApology,
		"Apologise plainly, e.g. \"We are sorry.\" Customers forgive a breach more easily than an excuse."}
	pointNotAffected = pointCheck{"not_affected", detectNotAffected,
		"Say what was not affected — the facts list it: e.g. \"{{if .Facts.NotExposed}}These were not taken: {{.Facts.NotExposed}}.{{end}}\""}
)

// pointLevels says, per audience class, which points a notice must make
// and how serious a missing one is.
func pointLevels(kind string, class audienceClass) []struct {
	p     pointCheck
	level Level
} {
	type pl = struct {
		p     pointCheck
		level Level
	}
	switch class {
	case classCustomer:
		return []pl{{pointHappened, LevelError}, {pointToDo, LevelError}, {pointWeDo, LevelError}, {pointUpdates, LevelError},
			{pointContact, LevelError}, {pointApology, LevelError}, {pointNotAffected, LevelError}}
	case classPublic:
		return []pl{{pointHappened, LevelWarning}, {pointToDo, LevelWarning}, {pointWeDo, LevelWarning}, {pointUpdates, LevelWarning},
			{pointContact, LevelWarning}, {pointNotAffected, LevelWarning}}
	case classPartner:
		return []pl{{pointHappened, LevelWarning}, {pointWeDo, LevelWarning}, {pointContact, LevelWarning}}
	case classStaff:
		return []pl{{pointHappened, LevelWarning}, {pointWeDo, LevelWarning}}
	}
	return nil
}

var pointNames = map[string]string{
	"point:what_happened":     "say what happened",
	"point:what_to_do":        "tell the reader what to do",
	"point:what_we_are_doing": "say what you are doing about it",
	"point:updates":           "say where to follow updates",
	"contact":                 "give a way to reach you",
	"apology":                 "apologise",
	"not_affected":            "say what was not affected",
}

// pointElements are the points a law can forbid a notice to make: the
// point's key and the legal element detector that finds it.
var pointElements = map[string]string{"point:what_happened": "breach_details"}

// lawForbids returns, for each point a rule that applies to these
// recipients forbids stating, the rule's name: Massachusetts forbids
// stating the nature of the breach to its residents, so a variant for them
// is not asked to say what happened. Only a rule that covers every one of
// the jurisdictions counts: a text that also goes elsewhere must still say
// it (and the legal check asks for a variant).
func lawForbids(kind string, jurisdictions []string) map[string]string {
	out := map[string]string{}
	for _, r := range legal.Rules {
		if hit := r.applies(kind, jurisdictions); len(hit) == 0 || len(hit) < len(jurisdictions) {
			continue
		}
		for _, q := range r.Requirements {
			for point, element := range pointElements {
				if q.Check == "absent" && q.Element == element {
					out[point] = r.Name
				}
			}
		}
	}
	return out
}

func checkPoints(a *analysis, kind string, class audienceClass, forbidden map[string]string, add func(Finding)) {
	for _, x := range pointLevels(kind, class) {
		if x.p.key == "not_affected" && len(a.facts.NotExposed) == 0 {
			continue
		}
		if law, ok := forbidden[x.p.key]; ok {
			add(Finding{Key: x.p.key, Level: LevelInfo, Field: "body",
				Message: fmt.Sprintf("Not asked to %s: %s's law forbids stating it to these recipients.", pointNames[x.p.key], law)})
			continue
		}
		if x.p.detect(a) {
			continue
		}
		who := "A notice to " + strings.ReplaceAll(kind, "_", " ")
		if kind == "" {
			who = "This notice"
		}
		add(Finding{Key: x.p.key, Level: x.level, Field: "body",
			Message: fmt.Sprintf("%s should %s. %s", who, pointNames[x.p.key], x.p.advice)})
	}
}

// ---------------------------------------------------------------------------
// Readability and channels.

// GradeLimit is the Flesch–Kincaid grade above which a customer notice gets
// a warning.
const GradeLimit = 9.0

func checkReadability(a *analysis, class audienceClass, add func(Finding)) {
	r := FleschKincaid(a.prose)
	if r.Words == 0 {
		return
	}
	f := Finding{Key: "readability", Level: LevelInfo, Field: "body", Value: fmt.Sprintf("%.1f", r.Grade),
		Message: fmt.Sprintf("Reading grade %.1f (Flesch–Kincaid: %d words in %d sentences). Plain language for the public aims at grade 8 or below.", r.Grade, r.Words, r.Sentences)}
	if class == classCustomer && r.Grade > GradeLimit {
		f.Level = LevelWarning
		f.Message = fmt.Sprintf("Reading grade %.1f is above %.0f: many customers will struggle. Use shorter sentences (now %.0f words on average) and everyday words, and aim for grade 8 or below.",
			r.Grade, GradeLimit, float64(r.Words)/float64(r.Sentences))
	}
	add(f)
}

func checkChannels(t *Template, d Data, r Rendered, channels []Channel, add func(Finding)) {
	if slices.Contains(channels, ChannelEmail) && strings.TrimSpace(r.Subject) == "" {
		add(Finding{Key: "subject", Level: LevelError, Field: "subject",
			Message: "The email has no subject. Write one that says what this is about, e.g. \"Notice of Data Breach: your card details were taken\"."})
	}
	if slices.Contains(channels, ChannelSMS) {
		if s, err := t.SMS(d); err == nil {
			f := Finding{Key: "sms", Level: LevelInfo, Field: "body", Value: fmt.Sprint(s.Segments),
				Message: fmt.Sprintf("As a text message this is %d segment(s) (%s, %d units).", s.Segments, s.Encoding, s.Units)}
			if s.Segments > 10 {
				f.Message += " Long texts arrive split or as a link on some phones: consider a short SMS variant that points to the full notice."
			}
			add(f)
		}
	}
}

// ---------------------------------------------------------------------------
// Legal content.

func checkLegal(a *analysis, kind string, jurisdictions []string, facts *incident.Facts, add func(Finding)) {
	for _, r := range legal.Rules {
		hit := r.applies(kind, jurisdictions)
		if len(hit) == 0 {
			continue
		}
		where := fmt.Sprintf("%s (recipients in %s)", r.Name, strings.Join(hit, ", "))
		split := " If only some recipients are there, you can put this in a variant for their segment."
		for _, q := range r.Requirements {
			if len(q.WhenExposed) > 0 && !slices.ContainsFunc(q.WhenExposed, func(k string) bool { return slices.Contains(facts.Exposed, incident.DataKind(k)) }) {
				continue
			}
			var msg string
			switch q.Check {
			case "title":
				want := normalize(q.Text)
				if strings.Contains(a.subject, want) || slices.Contains(a.headings, headingKey(q.Text)) {
					continue
				}
				msg = fmt.Sprintf("%s: the notice must be titled %q. Put it in the subject, e.g. \"%s: …\", or as the first heading.", where, q.Text, q.Text)
			case "heading":
				if slices.Contains(a.headings, headingKey(q.Text)) {
					continue
				}
				msg = fmt.Sprintf("%s: add the heading %q (as \"## %s\") with its text under it.", where, q.Text, q.Text)
			case "present":
				det := detectors[q.Element]
				if det == nil || det(a) {
					continue
				}
				msg = fmt.Sprintf("%s: the notice must state %s. Add it.", where, q.Text)
			case "absent":
				det := detectors[q.Element]
				if det == nil || !det(a) {
					continue
				}
				msg = fmt.Sprintf("%s: the notice must not state %s, but this text does. Remove it.", where, q.Text)
			default:
				continue
			}
			if len(hit) < len(jurisdictions) {
				msg += split
			}
			field := "body"
			if q.Check == "title" {
				field = "subject"
			}
			add(Finding{Key: "legal:" + r.ID + ":" + q.Key, Level: r.Level, Field: field, Message: msg,
				Citation: r.Citation, SourceURL: r.SourceURL, Caveat: r.fullCaveat()})
		}
	}
}

// isEnglish reports whether a variant's locale is English, or unset (the
// default text and variants for any language are taken to be English).
func isEnglish(locale string) bool {
	l := strings.ToLower(strings.TrimSpace(locale))
	return l == "" || l == "en" || strings.HasPrefix(l, "en-") || strings.HasPrefix(l, "en_")
}

// checkByHand stands in for the content checks on a translation: their
// heuristics read English only, so instead of failing a good French text
// they ask a reader of the language to check the same things.
func checkByHand(locale, kind string, class audienceClass, jurisdictions []string, add func(Finding)) {
	var asks []string
	for _, x := range pointLevels(kind, class) {
		asks = append(asks, pointNames[x.p.key])
	}
	for _, r := range legal.Rules {
		if len(r.applies(kind, jurisdictions)) > 0 {
			asks = append(asks, "meet "+r.Name+"'s content rules ("+r.Citation+")")
		}
	}
	msg := fmt.Sprintf("The content checks read English only, so this %s text was not checked for content or readability.", locale)
	if len(asks) > 0 {
		msg += " Have a reader of the language confirm that it does what the English text does: " + strings.Join(asks, "; ") + "."
	}
	add(Finding{Key: "translation", Level: LevelWarning, Field: "body", Message: msg})
}
