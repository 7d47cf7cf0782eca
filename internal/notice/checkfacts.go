package notice

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/candorhq/candor/internal/incident"
)

// This file holds the facts-consistency checks: numbers of people, dates
// and data kinds that the writer typed as literals (the rendered text
// outside placeholder values, found with markedMode) and that disagree with
// the facts, and placeholders that are filled in with nothing.

// kindWords are the ways English text names each data kind, besides its
// label. They are matched on normalized (lower-case) text. Kinds that
// share words ("passwords") are all taken as mentioned.
var kindWords = map[incident.DataKind]string{
	"name":                  `\b(full )?names\b|\byour (full )?name\b`,
	"email":                 `\be-?mail addresses?\b|\byour e-?mail address\b`,
	"postal_address":        `\b(postal|home|mailing|street|billing) addresses?\b`,
	"phone":                 `\b(tele|mobile )?phone numbers?\b|\bmobile numbers?\b`,
	"date_of_birth":         `\bdates? of birth\b|\bbirth ?dates?\b|\bbirthdays?\b`,
	"password_hash":         `\bpasswords?\b`,
	"credentials_plaintext": `\bpasswords?\b`,
	"security_qa":           `\bsecurity questions?\b`,
	"card_number":           `\b(payment |credit |debit |bank )?card (numbers?|details|data|information)\b|\b(credit|debit|payment) cards?\b`,
	"card_expiry":           `\b(card )?expir(y|ation) dates?\b`,
	"card_cvv":              `\b(cvv|cvc|cvv2|card security codes?)\b`,
	"bank_account":          `\bbank (account|details)\b|\biban\b|\bbilling (details|information)\b`,
	"ssn":                   `\bsocial security numbers?\b|\bssns?\b`,
	"government_id":         `\bpassports?( numbers?)?\b|\bdriver'?s licen[cs]es?\b|\bgovernment id\b|\bnational id\b|\bid card\b`,
	"tax_id":                `\btax (identification |id )?numbers?\b|\btax ids?\b`,
	"health":                `\b(health|medical) (information|data|records?)\b`,
	"health_insurance":      `\bhealth insurance\b`,
	"biometric":             `\bbiometric\w*\b|\bfingerprints?\b`,
	"email_contents":        `\bcontents? of (your )?e-?mails?\b|\be-?mail contents?\b`,
	"email_metadata":        `\be-?mail metadata\b`,
	"contract_details":      `\bcontract (details|information)\b`,
	"usage_data":            `\b(usage|browsing) (data|history)\b`,
	"ip_address":            `\bip addresses?\b`,
	"location":              `\blocation data\b|\bprecise location\b`,
	"username":              `\buser ?names?\b`,
}

var kindPatterns = func() map[incident.DataKind]*regexp.Regexp {
	m := map[incident.DataKind]*regexp.Regexp{}
	for _, d := range incident.DataKinds {
		p := labelRe(d.Label)
		if w := kindWords[d.Kind]; w != "" {
			p += "|" + w
		}
		m[d.Kind] = regexp.MustCompile(p)
	}
	return m
}()

// labelRe matches a label without its parenthetical ("Government ID
// numbers (passport, driver's licence)" → "government id numbers").
func labelRe(label string) string {
	l, _, _ := strings.Cut(normalize(label), " (")
	return `\b` + regexp.QuoteMeta(l) + `\b`
}

var labelPatterns = func() map[incident.DataKind]*regexp.Regexp {
	m := map[incident.DataKind]*regexp.Regexp{}
	for _, d := range incident.DataKinds {
		m[d.Kind] = regexp.MustCompile(labelRe(d.Label))
	}
	return m
}()

// mentionsKind reports whether normalized text names data kind k.
func mentionsKind(text string, k incident.DataKind) bool {
	re := kindPatterns[k]
	return re != nil && re.MatchString(text)
}

// literalOnly replaces every marked value in s (see markedMode) by a
// neutral token, leaving the writer's own words.
func literalOnly(s string) string {
	if !strings.ContainsAny(s, markOpen+markClose) {
		return s
	}
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch string(r) {
		case markOpen:
			if depth == 0 {
				b.WriteString(" \ue002 ")
			}
			depth++
		case markClose:
			depth = max(depth-1, 0)
		default:
			if depth == 0 {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// literal is one clause of the writer's own words, normalized.
type literal struct {
	field string // "subject" or "body"
	text  string
}

func literalClauses(subject, body string) []literal {
	var out []literal
	for _, c := range clausesOf(normalize(literalOnly(subject))) {
		out = append(out, literal{"subject", c})
	}
	for _, b := range blocksOf(body) {
		for _, c := range clausesOf(normalize(literalOnly(b.text))) {
			out = append(out, literal{"body", c})
		}
	}
	return out
}

// locate finds a normalized snippet in the template source of field, for a
// position: case and runs of white space aside, and plain quotes matching
// typographic ones.
func locate(t *Template, field, snippet string) *Position {
	src := t.bodySrc
	if field == "subject" {
		src = t.subjectSrc
	}
	words := strings.Fields(snippet)
	if len(words) == 0 {
		return nil
	}
	for i, w := range words {
		w = regexp.QuoteMeta(w)
		w = strings.ReplaceAll(w, "'", "['‘’]")
		w = strings.ReplaceAll(w, `"`, "[\"“”]")
		words[i] = w
	}
	re, err := regexp.Compile(`(?i)` + strings.Join(words, `\s+`))
	if err != nil {
		return nil
	}
	loc := re.FindStringIndex(src)
	if loc == nil {
		return nil
	}
	p := posAt(src, loc[0])
	return &p
}

func checkLiterals(t *Template, markedSubject, markedBody string, facts *incident.Facts, add func(Finding)) {
	for _, l := range literalClauses(markedSubject, markedBody) {
		checkNumbers(t, l, facts, add)
		checkDates(t, l, facts, add)
		checkKinds(t, l, facts, add)
	}
}

// ---------------------------------------------------------------------------
// Numbers of people.

// peopleCount finds a number of people: a number, optionally hedged
// ("about", "more than") and scaled ("15k", "1.2 million"), followed
// within three words by a word for people or accounts.
var peopleCount = rx(`(?:^|[^\w,.])((?:about|around|approximately|approx\.?|roughly|nearly|almost|close to|some|over|more than|at least|fewer than|less than|under|up to|below|above|exactly|just over|just under)\s+)?(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(\s*(?:thousand|million|billion|k|m|bn)\b)?\s+((?:[a-z][a-z'-]*\s+){0,3}?)(customers?|people|persons|accounts?|subscribers?|members?|users?|individuals?|clients?|residents?|patients?|records?|data subjects|cardholders?|households?|consumers?)\b`)

// notPeopleWords between the number and the people word, or notAffected
// after it, show the number is about something else: a time, or the
// company's own people ("2 new security engineers", "100 people on our
// team").
var (
	notPeopleWords = rx(`\b(hours?|days?|weeks?|months?|years?|minutes?|percent|times|per|new|extra|additional|more|team|staff|support|security|engineers?|experts?|agents?|specialists?)\b`)
	notAffected    = rx(`^\s*(of|in|on|at|from|across) (our|the|its|my|this) (own )?(team|staff|company|security|support|engineering|board|response|office)`)
)

func parseCount(num, scale string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.ReplaceAll(num, ",", ""), 64)
	if err != nil {
		return 0, false
	}
	switch strings.TrimSpace(scale) {
	case "thousand", "k":
		v *= 1e3
	case "million", "m":
		v *= 1e6
	case "billion", "bn":
		v *= 1e9
	}
	return v, true
}

// countAgrees reports whether a stated count, with its hedge, is true of
// the actual one.
func countAgrees(hedge string, stated, actual float64) bool {
	switch strings.TrimSpace(hedge) {
	case "", "exactly":
		return stated == actual
	case "over", "more than", "above", "just over":
		return actual > stated
	case "at least":
		return actual >= stated
	case "fewer than", "less than", "under", "below", "just under":
		return actual < stated
	case "up to":
		return actual <= stated
	}
	// about, around, approximately, roughly, nearly, almost, close to, some
	return stated > 0 && abs(stated-actual) <= 0.05*actual
}

func exactOrAbout(hedge string) bool {
	switch strings.TrimSpace(hedge) {
	case "over", "more than", "above", "just over", "at least", "fewer than", "less than", "under", "below", "just under", "up to":
		return false
	}
	return true
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func checkNumbers(t *Template, l literal, facts *incident.Facts, add func(Finding)) {
	for _, m := range peopleCount.FindAllStringSubmatchIndex(l.text, -1) {
		g := func(i int) string {
			if m[2*i] < 0 {
				return ""
			}
			return l.text[m[2*i]:m[2*i+1]]
		}
		hedge, num, scale, between := g(1), g(2), g(3), g(4)
		if notPeopleWords.MatchString(between) || notAffected.MatchString(l.text[m[1]:]) {
			continue
		}
		before := strings.TrimSpace(l.text[:m[4]])
		if strings.HasSuffix(before, "our") || strings.HasSuffix(before, "all") || strings.HasSuffix(before, "all of our") {
			continue // "our 15,000 subscribers": the customer base, not those affected
		}
		stated, ok := parseCount(num, scale)
		if !ok || stated <= 0 {
			continue
		}
		if scale == "" && !strings.Contains(num, ",") && stated >= 1900 && stated <= 2100 {
			continue // a year
		}
		start := m[4]
		if m[2] >= 0 {
			start = m[2]
		}
		phrase := strings.TrimSpace(l.text[start:m[1]])
		key := "facts:number:" + strconv.FormatFloat(stated, 'f', -1, 64)
		pos := locate(t, l.field, num)
		if facts.AffectedTotal <= 0 && len(facts.AffectedBy) == 0 {
			add(Finding{Key: key, Level: LevelWarning, Field: l.field, Position: pos, Value: num,
				Message: fmt.Sprintf("%q states a number of people, but the facts do not say how many are affected yet. Record the number in the facts and write {{.Facts.AffectedCount}} instead.", phrase)})
			continue
		}
		agrees := facts.AffectedTotal > 0 && countAgrees(hedge, stated, float64(facts.AffectedTotal))
		if exactOrAbout(hedge) {
			// A count for one jurisdiction ("2,210 California residents").
			for _, j := range facts.AffectedBy {
				agrees = agrees || (j.Count > 0 && countAgrees(hedge, stated, float64(j.Count)))
			}
		}
		if agrees {
			add(Finding{Key: "facts:literal_number:" + strconv.FormatFloat(stated, 'f', -1, 64), Level: LevelInfo, Field: l.field, Position: pos, Value: num,
				Message: fmt.Sprintf("%q agrees with the facts today, but is typed in: write {{.Facts.AffectedCount}} (or {{.Facts.AffectedIn \"US-CA\"}}) so the notice follows corrections.", phrase)})
			continue
		}
		actual := "an unknown number of"
		if facts.AffectedTotal > 0 {
			actual = groupThousands(facts.AffectedTotal)
		}
		add(Finding{Key: key, Level: LevelError, Field: l.field, Position: pos, Value: num,
			Message: fmt.Sprintf("%q disagrees with the facts: %s people are affected. Write {{.Facts.AffectedCount}} instead, so every notice states the facts of record. If the number is about something else (e.g. all your customers), an approver can override this with a reason.", phrase, actual)})
	}
}

// ---------------------------------------------------------------------------
// Dates.

var months = map[string]time.Month{
	"january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7, "august": 8,
	"september": 9, "october": 10, "november": 11, "december": 12,
	"jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}

const monthRe = `(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?`

var (
	dateMDY = rx(`\b` + monthRe + `\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(\d{4})\b)?`)
	dateDMY = rx(`\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?` + monthRe + `\b(?:,?\s+(\d{4})\b)?`)
	dateISO = rx(`\b(\d{4})-(\d{2})-(\d{2})\b`)
)

// dateRef is a date written in a text; Year is 0 when not written.
type dateRef struct {
	text             string
	year, month, day int
}

func (d dateRef) key() string {
	if d.year == 0 {
		return fmt.Sprintf("%02d-%02d", d.month, d.day)
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.year, d.month, d.day)
}

// findDates finds dates in normalized text: "March 12, 2025", "March 12",
// "12 March 2025", "12th of March", "2025-03-12".
func findDates(text string) []dateRef {
	var out []dateRef
	addRef := func(s string, y, mo, d int) {
		if mo >= 1 && mo <= 12 && d >= 1 && d <= 31 {
			out = append(out, dateRef{s, y, mo, d})
		}
	}
	for _, m := range dateMDY.FindAllStringSubmatch(text, -1) {
		d, _ := strconv.Atoi(m[2])
		y, _ := strconv.Atoi(m[3])
		addRef(m[0], y, int(months[m[1]]), d)
	}
	for _, m := range dateDMY.FindAllStringSubmatch(text, -1) {
		d, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[3])
		addRef(m[0], y, int(months[m[2]]), d)
	}
	for _, m := range dateISO.FindAllStringSubmatch(text, -1) {
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		d, _ := strconv.Atoi(m[3])
		addRef(m[0], y, mo, d)
	}
	return out
}

var (
	discoveryWords = rx(`\b(discover\w*|found out|find out|learn(ed|t)|became aware|become aware|noticed|detected|identified|spotted|first saw)\b`)
	// occurrenceWords make a date one of the period of the breach;
	// weakOccurrence ones only when the clause is not about discovery
	// ("we discovered the breach on …" dates the discovery).
	occurrenceWords = rx(`\b(happen\w*|occur\w*|took place|began|begun|started|lasted|between)\b`)
	weakOccurrence  = rx(`\b(accessed|stolen|taken|copied|exposed|broke in|broke into|breach\w*|attack\w*|compromised|intrusion)\b`)
	futureWords     = rx(`\b(will|shall|going to|next|expect)\b`)
)

func ymd(y, m, d int) int { return y*10000 + m*100 + d }

func sameDay(r dateRef, t *time.Time) bool {
	if t == nil || t.IsZero() {
		return false
	}
	u := t.UTC()
	return int(u.Month()) == r.month && u.Day() == r.day && (r.year == 0 || r.year == u.Year())
}

// inPeriod reports whether r lies within [from, to] (either end may be
// unknown, not both).
func inPeriod(r dateRef, from, to *time.Time) bool {
	y := r.year
	if y == 0 {
		if from != nil {
			y = from.UTC().Year()
		} else {
			y = to.UTC().Year()
		}
	}
	v := ymd(y, r.month, r.day)
	if from != nil && v < ymd(from.UTC().Year(), int(from.UTC().Month()), from.UTC().Day()) {
		return false
	}
	if to != nil && v > ymd(to.UTC().Year(), int(to.UTC().Month()), to.UTC().Day()) {
		return false
	}
	return true
}

func dateText(t *time.Time) string { return t.UTC().Format("January 2, 2006") }

func checkDates(t *Template, l literal, facts *incident.Facts, add func(Finding)) {
	refs := findDates(l.text)
	if len(refs) == 0 || futureWords.MatchString(l.text) {
		return
	}
	disc := discoveryWords.MatchString(l.text)
	occ := occurrenceWords.MatchString(l.text) || (!disc && weakOccurrence.MatchString(l.text))
	if !disc && !occ {
		return
	}
	discKnown := facts.DiscoveredAt != nil || facts.BecameAwareAt != nil || facts.BreachDeterminedAt != nil
	occKnown := facts.OccurredFrom != nil || facts.OccurredTo != nil
	for _, r := range refs {
		pos := locate(t, l.field, r.text)
		key := "facts:date:" + r.key()
		ok := (disc && (sameDay(r, facts.DiscoveredAt) || sameDay(r, facts.BecameAwareAt) || sameDay(r, facts.BreachDeterminedAt))) ||
			(occ && occKnown && inPeriod(r, facts.OccurredFrom, facts.OccurredTo))
		if ok {
			add(Finding{Key: "facts:literal_date:" + r.key(), Level: LevelInfo, Field: l.field, Position: pos, Value: r.text,
				Message: fmt.Sprintf("%q agrees with the facts today, but is typed in: write {{.Facts.DiscoveredAt}}, {{.Facts.OccurredFrom}} or {{.Facts.OccurredTo}} so the notice follows corrections.", r.text)})
			continue
		}
		if (disc && !discKnown && !occ) || (occ && !occKnown && !disc) || (disc && occ && !discKnown && !occKnown) {
			add(Finding{Key: key, Level: LevelWarning, Field: l.field, Position: pos, Value: r.text,
				Message: fmt.Sprintf("%q is given as a date of the incident, but the facts do not record it yet. Record the date in the facts and write {{.Facts.DiscoveredAt}} (or .OccurredFrom, .OccurredTo) instead.", r.text)})
			continue
		}
		var said []string
		if disc && facts.DiscoveredAt != nil {
			said = append(said, "it was discovered on "+dateText(facts.DiscoveredAt))
		}
		if occ && occKnown {
			switch {
			case facts.OccurredFrom != nil && facts.OccurredTo != nil:
				said = append(said, fmt.Sprintf("it happened between %s and %s", dateText(facts.OccurredFrom), dateText(facts.OccurredTo)))
			case facts.OccurredFrom != nil:
				said = append(said, "it began on "+dateText(facts.OccurredFrom))
			default:
				said = append(said, "it ended on "+dateText(facts.OccurredTo))
			}
		}
		if len(said) == 0 && facts.BecameAwareAt != nil {
			said = append(said, "the company became aware on "+dateText(facts.BecameAwareAt))
		}
		add(Finding{Key: key, Level: LevelError, Field: l.field, Position: pos, Value: r.text,
			Message: fmt.Sprintf("%q disagrees with the facts: %s. Write {{.Facts.DiscoveredAt}}, {{.Facts.OccurredFrom}} or {{.Facts.OccurredTo}} instead, or correct the facts.", r.text, strings.Join(said, " and "))})
	}
}

// ---------------------------------------------------------------------------
// Data kinds.

// ownCredentials are the company's own accounts, often part of how a
// breach happened ("a stolen staff password"), which are not customers'
// data; they are left out before looking for data kinds.
var ownCredentials = rx(`\b(staff|employee'?s?|employees'|admin\w*|administrator'?s?|internal|service|system|our) (account )?(passwords?|credentials?|user ?names?|logins?)\b`)

func checkKinds(t *Template, l literal, facts *incident.Facts, add func(Finding)) {
	// Kinds named by their own label ("hashed passwords") are meant
	// exactly; otherwise every kind a word can mean ("passwords").
	text := ownCredentials.ReplaceAllString(l.text, " ")
	var mentioned, byLabel []incident.DataKind
	for _, d := range incident.DataKinds {
		if mentionsKind(text, d.Kind) {
			mentioned = append(mentioned, d.Kind)
			if labelPatterns[d.Kind].MatchString(text) {
				byLabel = append(byLabel, d.Kind)
			}
		}
	}
	if len(byLabel) > 0 {
		mentioned = byLabel
	}
	if len(mentioned) == 0 {
		return
	}
	in := slices.Contains[[]incident.DataKind]
	words := func(k incident.DataKind) string {
		if m := kindPatterns[k].FindString(l.text); m != "" {
			return m
		}
		return strings.ToLower(k.Label())
	}
	if negExposure.MatchString(l.text) {
		for _, k := range mentioned {
			if in(facts.Exposed, k) {
				add(Finding{Key: "facts:data_kind:" + string(k), Level: LevelError, Field: l.field, Position: locate(t, l.field, words(k)), Value: string(k),
					Message: fmt.Sprintf("The text says %s were not exposed, but the facts list %s as exposed. Correct the text (or the facts); {{.Facts.Exposed}} and {{.Facts.NotExposed}} always state the facts of record.", words(k), strings.ToLower(k.Label()))})
			}
		}
		return
	}
	if !posExposure.MatchString(l.text) {
		return
	}
	// Kinds that share words ("passwords") are one claim: it contradicts
	// the facts only if all of them are known not to be exposed.
	allNot, anyExposed := true, false
	for _, k := range mentioned {
		allNot = allNot && in(facts.NotExposed, k)
		anyExposed = anyExposed || in(facts.Exposed, k)
	}
	k := mentioned[0]
	switch {
	case allNot:
		add(Finding{Key: "facts:data_kind:" + string(k), Level: LevelError, Field: l.field, Position: locate(t, l.field, words(k)), Value: string(k),
			Message: fmt.Sprintf("The text says %s were exposed, but the facts say %s were not. Correct the text (or the facts); {{.Facts.Exposed}} and {{.Facts.NotExposed}} always state the facts of record.", words(k), strings.ToLower(k.Label()))})
	case !anyExposed && !slices.ContainsFunc(mentioned, func(k incident.DataKind) bool { return slices.Contains(facts.NotExposed, k) }):
		add(Finding{Key: "facts:data_kind:" + string(k), Level: LevelWarning, Field: l.field, Position: locate(t, l.field, words(k)), Value: string(k),
			Message: fmt.Sprintf("The text says %s were exposed, but the facts do not list %s as exposed. Add it to the facts if it is true, or correct the text.", words(k), strings.ToLower(k.Label()))})
	}
}

// ---------------------------------------------------------------------------
// Placeholders filled in with nothing.

// checkEmpty reports placeholders that print nothing for d: an empty fact
// ("call us at ."), company setting or recipient field. A placeholder
// inside {{if}} or {{with}} on the same value, or followed by | default,
// is guarded and not reported. Recipient fields are reported (as
// warnings) only for real samples.
func checkEmpty(t *Template, d *Data, class audienceClass, given bool, add func(Finding)) {
	for _, part := range []struct {
		field, src string
		tm         *template.Template
	}{{"subject", t.subjectSrc, t.subject}, {"body", t.bodySrc, t.body}} {
		if part.tm == nil || part.tm.Tree == nil || part.tm.Tree.Root == nil {
			continue
		}
		walkActions(part.tm.Tree.Root, nil, true, func(n *parse.ActionNode, guards []string) {
			emptyAction(part.field, part.src, n, guards, d, class, given, add)
		})
	}
}

func walkActions(n parse.Node, guards []string, inScope bool, f func(*parse.ActionNode, []string)) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, x := range n.Nodes {
			walkActions(x, guards, inScope, f)
		}
	case *parse.ActionNode:
		if inScope && len(n.Pipe.Decl) == 0 {
			f(n, guards)
		}
	case *parse.IfNode:
		walkActions(n.List, append(guards[:len(guards):len(guards)], n.Pipe.String()), inScope, f)
		walkActions(n.ElseList, guards, inScope, f)
	case *parse.WithNode:
		walkActions(n.List, nil, false, f)
		walkActions(n.ElseList, guards, inScope, f)
	case *parse.RangeNode:
		walkActions(n.List, nil, false, f)
		walkActions(n.ElseList, guards, inScope, f)
	}
}

func emptyAction(field, src string, n *parse.ActionNode, guards []string, d *Data, class audienceClass, given bool, add func(Finding)) {
	cmds := n.Pipe.Cmds
	if len(cmds) == 0 || len(cmds[0].Args) == 0 {
		return
	}
	fn, ok := cmds[0].Args[0].(*parse.FieldNode)
	if !ok || len(fn.Ident) < 2 {
		return
	}
	for _, c := range cmds[1:] {
		if id, ok := c.Args[0].(*parse.IdentifierNode); ok && id.Ident == "default" {
			return
		}
	}
	chain := fn.String()
	for _, g := range guards {
		if strings.Contains(g, chain) {
			return
		}
	}
	root := fn.Ident[0]
	if root == "Recipient" && !given {
		return
	}
	pipe := n.Pipe.String()
	tm, err := template.New("x").Funcs(funcMap[plainMode]()).Parse("{{" + pipe + "}}")
	if err != nil {
		return
	}
	r := &run{maxSteps: MaxSteps, deadline: time.Now().Add(MaxExecTime)}
	w := &limitedWriter{max: 4096, deadline: r.deadline}
	if err := tm.Execute(w, newRoot[plainMode](d, r)); err != nil || strings.TrimSpace(w.buf.String()) != "" {
		return
	}
	off := int(n.Pos)
	if off > len(src) {
		off = len(src)
	}
	if i := strings.LastIndex(src[:off], "{{"); i >= 0 {
		off = i
	}
	p := posAt(src, off)
	level := LevelError
	if class == classStaff || class == classTeam || root == "Recipient" {
		level = LevelWarning
	}
	var fix string
	switch root {
	case "Facts":
		fix = "Fill it in in the incident's facts"
	case "Company":
		fix = "Fill it in in the organisation's settings"
	case "Incident":
		fix = "Fill it in on the incident"
	default:
		fix = "Some recipients lack this field: use | default \"…\""
	}
	add(Finding{Key: "facts:empty:" + pipe, Level: level, Field: field, Position: &p, Value: pipe,
		Message: fmt.Sprintf("{{%s}} is empty, so the text has a gap where it should be. %s, take it out, or put it inside {{if %s}}…{{end}}.", pipe, fix, chain)})
}
