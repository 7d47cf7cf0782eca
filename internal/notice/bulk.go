package notice

import (
	"bytes"
	htmltemplate "html/template"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/template/parse"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	goldhtml "github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
)

// This file is the bulk email renderer. Rendering one email costs three
// expensive steps: executing the template (reflection), turning the
// Markdown into HTML and text (goldmark) and executing the HTML layout
// (html/template). For a bulk send, almost all of that work is the same for
// every recipient: the facts and the company are shared, the recipients
// fall into a handful of classes (their exposed data, jurisdiction,
// attributes) and within a class they differ only by their name. Mailer
// does that work once per class, with a sentinel in place of the name, and
// splices each recipient's name into the result, but only where it can show
// that the splice gives exactly what Template.Email gives; everywhere else
// it falls back to the slow path.
//
// Tiers, fastest first:
//
//  1. Per class (Mailer.fromClass). The template is executed once per class
//     with the name replaced by nameSentinel; the Markdown, HTML and text are
//     computed once and the name is spliced in. Used when the template uses
//     the name only to print it, as an {{if}} condition or through default
//     (see nameUse), and does not use .Recipient.Email.
//  2. Per recipient (Mailer.perRecipient). The template is executed for the
//     recipient as Template.Email does; the Markdown conversion is cached,
//     keyed by the Markdown with the name replaced by the sentinel where
//     that is safe.
//  3. Template.Email itself, for errors and whatever the checks refuse.
//
// Whatever the tier, the layout is filled in from a precomputed split of
// emailLayout (companyLayout).

// nameSentinel stands for the recipient's name in shared renderings. It is
// U+01BB LATIN LETTER TWO WITH STROKE: a caseless letter (category Lo), so
// that Markdown treats it as it treats the letters a name begins and ends
// with (not punctuation, not space: emphasis flanking is unchanged), clean
// keeps it, escapeMarkdown leaves it alone, no case mapping produces it, and
// nobody writes it. Wherever it does occur in the data or the template, the
// sentinel is not used.
const nameSentinel = "\u01bb"

var sentinelBytes = []byte(nameSentinel)

// Mailer renders one template as email for many recipients, reusing the
// work that does not depend on who the recipient is. It is safe for
// concurrent use by several goroutines.
type Mailer struct {
	t    *Template
	plan mailPlan

	layout atomic.Pointer[companyLayout] // for the last company seen

	mu       sync.Mutex               // for changing groups
	groups   atomic.Pointer[[]*group] // most recent first, at most maxGroups; never changed, replaced
	noGroups atomic.Bool              // the shared data cannot be copied: no classes

	md mdCache
}

// Mailer returns a bulk renderer for t.
func (t *Template) Mailer() *Mailer {
	return &Mailer{t: t, plan: planFor(t)}
}

// Email returns exactly what t.Email(d) returns (same Subject, HTML, Text
// byte for byte, same errors), only faster.
func (m *Mailer) Email(d Data) (Email, error) {
	lay := m.companyLayout(&d.Company)
	n := oneLine(d.Recipient.Name)
	if m.plan.shared {
		if g := m.group(&d); g != nil {
			if c := g.class(m, &d, n); c != nil {
				if c.err {
					return m.t.Email(d)
				}
				if !c.perRecipient {
					return m.fromClass(c, &d, n, lay)
				}
			}
		}
	}
	return m.perRecipient(&d, n, lay)
}

// ---------------------------------------------------------------------------
// Tier 1: one execution per class of recipients.

// fromClass renders the email for d from its class.
func (m *Mailer) fromClass(c *class, d *Data, n string, lay *companyLayout) (Email, error) {
	if n == "" {
		// The class was executed for nameless recipients as they are.
		return m.assemble(lay, d, c.subj, spliced{whole: c.md.html}, spliced{whole: c.md.text})
	}
	e := escapeMarkdown(n)
	// The limits Render applies, on the lengths the recipient's own
	// execution would have: each sentinel becomes n in the subject and e
	// in the body.
	if c.subjRaw+c.subjCnt*(len(n)-len(nameSentinel)) > 4*MaxSubject ||
		c.subjRunes+c.subjCnt*(utf8.RuneCountInString(n)-1) > MaxSubject ||
		len(c.body)+c.bodyCnt*(len(e)-len(nameSentinel)) > MaxBodyOutput {
		return m.t.Email(*d)
	}
	subject := c.subj
	if c.subjCnt > 0 {
		subject = strings.ReplaceAll(c.subj, nameSentinel, n)
	}
	if c.bodyCnt == 0 {
		return m.assemble(lay, d, subject, spliced{whole: c.md.html}, spliced{whole: c.md.text})
	}
	if c.md.subst && nameOK(n, e) {
		h, t := nameForms(e)
		return m.assemble(lay, d, subject, spliced{parts: c.md.htmlParts, fill: h}, spliced{parts: c.md.textParts, fill: t})
	}
	// The Markdown is exactly the recipient's; only the conversion
	// cannot be shared.
	dc := parseMarkdown(strings.ReplaceAll(c.body, nameSentinel, e))
	return m.assemble(lay, d, subject, spliced{whole: emailStyles.Replace(dc.html())}, spliced{whole: dc.plainText(false)})
}

// class is what one class of recipients shares: the template executed for
// them with the sentinel as the name (or with no name), and its conversion.
type class struct {
	err          bool // execution failed: Template.Email gives the error
	timedOut     bool // err may be the time limit: do not keep the class
	perRecipient bool // the sentinel cannot be used: execute per recipient

	subj      string // subject (after oneLine)
	subjRaw   int    // bytes of the subject as executed, before oneLine
	subjRunes int    // characters of subj
	subjCnt   int    // sentinels in subj
	body      string // Markdown
	bodyCnt   int    // sentinels in body
	md        *mdEntry
	size      int
}

// group holds the classes for one set of shared data: everything in Data
// but the recipient. The data is deep-copied, so that a caller changing its
// slices afterwards cannot make a cached class stale.
type group struct {
	shared  Data // Recipient zero
	sharedS bool // a shared string contains the sentinel

	mu      sync.Mutex                        // for changing classes
	classes atomic.Pointer[map[string]*class] // never changed, replaced
	size    int

	use cacheUse
}

// cacheUse judges, over a cache's first lookups, whether it is worth
// keeping: when nearly every lookup misses (an attribute unique to each
// recipient, say), computing afresh is cheaper than caching.
type cacheUse struct {
	lookups, misses atomic.Int64
	judged, bypass  atomic.Bool
}

// lookup counts one lookup and reports whether to use the cache.
func (u *cacheUse) lookup(hit bool) {
	if u.judged.Load() {
		return
	}
	n := u.lookups.Add(1)
	m := u.misses.Load()
	if !hit {
		m = u.misses.Add(1)
	}
	if n >= bypassAfter {
		u.bypass.Store(m*2 > n)
		u.judged.Store(true)
	}
}

const (
	maxGroups       = 4
	maxClasses      = 256
	maxClassBytes   = 16 << 20
	bypassAfter     = 2048 // lookups before judging whether classes repeat
	maxMDEntries    = 4096
	maxMDBytes      = 32 << 20
	maxMDEntryBytes = 1 << 20
)

// group returns the group for d's shared data, creating it if needed; nil
// when the data cannot be compared or copied (see deepEqual).
func (m *Mailer) group(d *Data) *group {
	if gs := m.groups.Load(); gs != nil {
		for _, g := range *gs {
			if sameShared(&g.shared, d) {
				return g
			}
		}
	}
	if m.noGroups.Load() {
		return nil
	}
	g := &group{}
	if !copyShared(&g.shared, d) || !sameShared(&g.shared, d) {
		m.noGroups.Store(true)
		return nil
	}
	g.sharedS = sharedHasSentinel(&g.shared)
	m.mu.Lock()
	defer m.mu.Unlock()
	var old []*group
	if gs := m.groups.Load(); gs != nil {
		old = *gs
	}
	for _, h := range old { // another goroutine may have added it
		if sameShared(&h.shared, d) {
			return h
		}
	}
	gs := append([]*group{g}, old[:min(len(old), maxGroups-1)]...)
	m.groups.Store(&gs)
	return g
}

// class returns d's class in g, executing the template for it if needed;
// nil when classes are not worth caching for this group.
func (g *group) class(m *Mailer, d *Data, n string) *class {
	if g.use.bypass.Load() {
		return nil
	}
	var buf [256]byte
	key := m.plan.classKey(buf[:0], d, n != "")
	var c *class
	if cs := g.classes.Load(); cs != nil {
		c = (*cs)[string(key)]
	}
	g.use.lookup(c != nil)
	if c != nil {
		return c
	}
	c = m.newClass(g, d, n != "")
	if c.timedOut {
		return c
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	cs := map[string]*class{}
	if old := g.classes.Load(); old != nil {
		if o := (*old)[string(key)]; o != nil {
			return o
		}
		if len(*old) < maxClasses && g.size+c.size <= maxClassBytes {
			cs = maps.Clone(*old)
		} else {
			g.size = 0
		}
	}
	cs[string(key)] = c
	g.size += c.size
	g.classes.Store(&cs)
	return c
}

// newClass executes the template for d's class.
func (m *Mailer) newClass(g *group, d *Data, named bool) *class {
	c := &class{size: 256}
	d2 := *d
	if named {
		// The sentinel must come out of the execution only where the
		// name is printed.
		if g.sharedS || recipientHasSentinel(&d.Recipient) {
			c.perRecipient = true
			return c
		}
		d2.Recipient.Name = nameSentinel
	}
	t := m.t
	start := time.Now()
	subj, err1 := execute[plainMode](t.subject, t.subjectSrc, &d2, 4*MaxSubject)
	body, err2 := execute[mdMode](t.body, t.bodySrc, &d2, MaxBodyOutput)
	if err1 != nil || err2 != nil {
		c.err = true
		c.timedOut = time.Since(start) >= MaxExecTime
		return c
	}
	c.subjRaw = len(subj)
	c.subj = oneLine(subj)
	c.subjRunes = utf8.RuneCountInString(c.subj)
	c.subjCnt = strings.Count(c.subj, nameSentinel)
	if !named && c.subjRunes > MaxSubject {
		c.err = true
		return c
	}
	if strings.Count(subj, nameSentinel) != c.subjCnt {
		c.perRecipient = true // cannot happen: oneLine keeps the sentinel
		return c
	}
	c.body = body
	c.bodyCnt = strings.Count(body, nameSentinel)
	c.md = newMDEntry(body)
	c.size += len(c.subj) + len(c.body) + c.md.size
	return c
}

// ---------------------------------------------------------------------------
// Tier 2: one execution per recipient, shared Markdown conversion.

func (m *Mailer) perRecipient(d *Data, n string, lay *companyLayout) (Email, error) {
	r, err := m.t.Render(*d)
	if err != nil {
		return Email{}, err
	}
	html, txt := m.convert(r.Markdown, n)
	return m.assemble(lay, d, r.Subject, html, txt)
}

// convert turns the recipient's Markdown into the email HTML body (styled)
// and plain text.
func (m *Mailer) convert(md, n string) (spliced, spliced) {
	var e string
	if n != "" {
		e = escapeMarkdown(n)
	}
	switch {
	case n == "" || !strings.Contains(md, e):
		// The Markdown does not mention the name: other recipients
		// may well have the same.
		if x := m.md.get(md); x != nil {
			return spliced{whole: x.html}, spliced{whole: x.text}
		}
	case nameOK(n, e) && !strings.Contains(md, nameSentinel):
		if k, ok := replaceName(md, e); ok {
			if x := m.md.get(k); x != nil && x.subst {
				h, t := nameForms(e)
				return spliced{parts: x.htmlParts, fill: h}, spliced{parts: x.textParts, fill: t}
			}
		}
	}
	dc := parseMarkdown(md)
	return spliced{whole: emailStyles.Replace(dc.html())}, spliced{whole: dc.plainText(false)}
}

// replaceName replaces by the sentinel each occurrence of the escaped name e
// in md that stands as a word of its own (see wordAt); ok reports whether
// there was one.
func replaceName(md, e string) (string, bool) {
	var b strings.Builder
	last, i := 0, 0
	for {
		j := strings.Index(md[i:], e)
		if j < 0 {
			break
		}
		p := i + j
		if wordAt(md, p, p+len(e)) {
			if b.Len() == 0 {
				b.Grow(len(md))
			}
			b.WriteString(md[last:p])
			b.WriteString(nameSentinel)
			last = p + len(e)
			i = last
			continue
		}
		_, w := utf8.DecodeRuneInString(md[p:])
		i = p + w
	}
	if last == 0 {
		return md, false
	}
	b.WriteString(md[last:])
	return b.String(), true
}

// mdCache holds Markdown conversions, keyed by the Markdown. It is dropped
// wholesale when full, so memory stays flat over any number of
// recipients.
type mdCache struct {
	mu   sync.RWMutex
	m    map[string]*mdEntry
	size int

	use cacheUse
}

// get returns the conversion of k, computing it if needed; nil when the
// cache is not worth using.
func (c *mdCache) get(k string) *mdEntry {
	if c.use.bypass.Load() || len(k) > maxMDEntryBytes {
		return nil
	}
	c.mu.RLock()
	e := c.m[k]
	c.mu.RUnlock()
	c.use.lookup(e != nil)
	if e != nil {
		return e
	}
	e = newMDEntry(k)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[k]; old != nil {
		return old
	}
	if c.m == nil || len(c.m) >= maxMDEntries || c.size+e.size+len(k) > maxMDBytes {
		c.m = map[string]*mdEntry{}
		c.size = 0
	}
	c.m[k] = e
	c.size += e.size + len(k)
	return e
}

// ---------------------------------------------------------------------------
// The Markdown conversion and when the name can be spliced into it.

// mdEntry is the conversion of one Markdown text k: exactly what Email
// computes from it. When subst is set, k contains the sentinel and for any
// name n that passes nameOK, splicing the name's forms (nameForms) into the
// parts gives exactly the conversion of k with the sentinel replaced by
// escapeMarkdown(n).
type mdEntry struct {
	html, text           string
	subst                bool
	htmlParts, textParts []string // html and text split at the sentinel
	size                 int
}

func newMDEntry(k string) *mdEntry {
	src := []byte(k)
	pc := parser.NewContext()
	dc := &doc{src: src, root: md.Parser().Parse(text.NewReader(src), parser.WithContext(pc))}
	dc.neutralizeLinks() // as parseMarkdown
	e := &mdEntry{html: emailStyles.Replace(dc.html()), text: dc.plainText(false)}
	e.size = 2*len(e.html) + 2*len(e.text) + 256
	cnt := strings.Count(k, nameSentinel)
	if cnt == 0 || len(pc.References()) > 0 || !wordsAround(k) || !sentinelsInText(dc, cnt) {
		return e
	}
	// Each sentinel is in a text node, which writes it unchanged, once.
	// Anything else that writes the sentinel (a character reference
	// such as &#443; in the writer's text) shows up here as one too
	// many.
	hp, tp := strings.Split(e.html, nameSentinel), strings.Split(e.text, nameSentinel)
	if len(hp) != cnt+1 || len(tp) != cnt+1 {
		return e
	}
	e.subst, e.htmlParts, e.textParts = true, hp, tp
	return e
}

// Why splicing is exact. Let K be a Markdown text with sentinels and M the
// same text with each sentinel replaced by E = escapeMarkdown(n), n a name
// that passes nameOK. M parses as K does, with E where K has the sentinel,
// when:
//
//   - E starts with a letter and ends with a letter or digit, which
//     CommonMark classes as the sentinel (neither punctuation nor space), so
//     delimiter runs next to it flank the same way, no line starts a block
//     differently, and no backslash or character reference spans its edge;
//   - inside E, every ASCII punctuation character is backslash-escaped, so
//     nothing in E opens or closes inline syntax, except in contexts where
//     backslashes are literal (code spans, raw HTML, autolinks), which the
//     paragraph checks below exclude;
//   - the word around each sentinel (the run of non-space characters) is
//     only the sentinel and the punctuation in wordBefore and wordAfter
//     (wordsAround), so no entity, autolink, extended autolink (www.,
//     http:, an address around "@") or HTML tag can be formed with the
//     name's letters;
//   - the paragraph holding a sentinel has no "<" or "`" at all, so E can
//     be neither inside nor part of the end of a raw HTML tag or code span;
//   - K defines no link references (so "[n]" cannot match one); and E is at
//     least as long as the sentinel, so that no length limit of the parser
//     (reference labels: 999 characters) can hold in M and not in K.
//
// And then the sentinel's output is E's output when it is in a plain text
// node (not raw) whose only inline ancestors are emphasis, in a paragraph
// (not a heading, whose plain-text underline has the heading's length, not
// a link, whose plain text compares label and address): the HTML writer
// and unescapeText treat E there as they treat E alone, which is what
// nameForms computes.

// sentinelsInText reports whether every one of the cnt sentinels in dc's
// source is in such a text node.
func sentinelsInText(dc *doc, cnt int) bool {
	var at []int
	ok := true
	_ = ast.Walk(dc.root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		t, isText := n.(*ast.Text)
		if !entering || !isText {
			return ast.WalkContinue, nil
		}
		seg := t.Segment
		v := dc.src[seg.Start:seg.Stop]
		if !bytes.Contains(v, sentinelBytes) {
			return ast.WalkContinue, nil
		}
		if t.IsRaw() || seg.Padding != 0 || !plainInline(t, dc.src) {
			ok = false
			return ast.WalkStop, nil
		}
		for i := 0; ; {
			j := bytes.Index(v[i:], sentinelBytes)
			if j < 0 {
				break
			}
			at = append(at, seg.Start+i+j)
			i += j + len(nameSentinel)
		}
		return ast.WalkContinue, nil
	})
	if !ok {
		return false
	}
	slices.Sort(at)
	return len(slices.Compact(at)) == cnt
}

// plainInline reports whether text node t sits, through emphasis only, in a
// paragraph whose source has no "<" and no "`".
func plainInline(t *ast.Text, src []byte) bool {
	for p := t.Parent(); p != nil; p = p.Parent() {
		switch p := p.(type) {
		case *ast.Emphasis:
			continue
		case *ast.Paragraph, *ast.TextBlock:
			lines := p.Lines()
			for i := range lines.Len() {
				s := lines.At(i)
				if bytes.ContainsAny(src[s.Start:s.Stop], "<`") {
					return false
				}
			}
			return true
		}
		return false
	}
	return false
}

// wordBefore and wordAfter are the characters that may stand between the
// name and the spaces around it: "**Alex**", "(Alex)", "Alex,", "Alex's"
// does not qualify.
const (
	wordBefore = `*_("'`
	wordAfter  = `*_)"',.!?;:`
)

// wordsAround reports whether every sentinel in k passes wordAt.
func wordsAround(k string) bool {
	for i := 0; ; {
		j := strings.Index(k[i:], nameSentinel)
		if j < 0 {
			return true
		}
		p := i + j
		if !wordAt(k, p, p+len(nameSentinel)) {
			return false
		}
		i = p + len(nameSentinel)
	}
}

// wordAt reports whether s[i:j] is a word of its own: between it and the
// previous space, line break or start of s there are only characters of
// wordBefore, and between it and the next only characters of wordAfter.
func wordAt(s string, i, j int) bool {
	for ; i > 0 && !isWordSpace(s[i-1]); i-- {
		if strings.IndexByte(wordBefore, s[i-1]) < 0 {
			return false
		}
	}
	for ; j < len(s) && !isWordSpace(s[j]); j++ {
		if strings.IndexByte(wordAfter, s[j]) < 0 {
			return false
		}
	}
	return true
}

func isWordSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }

// nameOK reports whether the name n, whose Markdown form is e, can be
// spliced where the sentinel is (see above): it starts with a letter and
// ends with a letter or digit; in between are letters, digits, marks and
// other non-ASCII characters, spaces and only the ASCII punctuation names
// use ('-.,&); it is at least as long as the sentinel; and, for good
// measure, it does not contain "www".
func nameOK(n, e string) bool {
	if len(e) < len(nameSentinel) || strings.Contains(n, nameSentinel) {
		return false
	}
	first, _ := utf8.DecodeRuneInString(n)
	last, _ := utf8.DecodeLastRuneInString(n)
	if !unicode.IsLetter(first) || !unicode.IsLetter(last) && !unicode.IsDigit(last) {
		return false
	}
	w := 0
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c == 'w' || c == 'W' {
			if w++; w == 3 {
				return false
			}
			continue
		}
		w = 0
		switch {
		case c >= 0x80, c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == ' ', c == '\'', c == '-', c == '.', c == ',', c == '&':
		default:
			return false
		}
	}
	return true
}

// nameForms returns what the Markdown text e becomes in the HTML (as
// goldmark writes text) and in the plain text (as plainText writes it).
func nameForms(e string) (html, plain string) {
	var w builderWriter
	w.Grow(len(e) + 16)
	goldhtml.DefaultWriter.Write(&w, []byte(e))
	return w.String(), unescapeText([]byte(e))
}

// builderWriter is the unbuffered util.BufWriter goldmark's writer needs.
type builderWriter struct{ strings.Builder }

func (*builderWriter) Available() int { return 0 }
func (*builderWriter) Buffered() int  { return 0 }
func (*builderWriter) Flush() error   { return nil }

// ---------------------------------------------------------------------------
// Which templates tier 1 can serve.

// mailPlan is what the template reads of the recipient.
type mailPlan struct {
	// shared: classes can be executed once for all their recipients.
	shared bool
	// The recipient fields that go into the class key.
	jurisdiction, exposed, attr bool
}

// recipientMethods and rootMethods are the methods of the recipient view
// and root, with what planFor knows about them. A method added to either
// that is not listed here turns tier 1 off until it is (see viewsKnown).
var (
	recipientMethods = []string{"Attr", "Email", "Exposed", "Jurisdiction", "Name", "NameOr", "String"}
	rootMethods      = []string{"Company", "Facts", "Incident", "Recipient", "String"}
	viewsKnown       = methodsAre(reflect.TypeFor[*recipientView[mdMode]](), recipientMethods) &&
		methodsAre(reflect.TypeFor[*recipientView[plainMode]](), recipientMethods) &&
		methodsAre(reflect.TypeFor[*root[mdMode]](), rootMethods) &&
		methodsAre(reflect.TypeFor[*root[plainMode]](), rootMethods)
)

func methodsAre(t reflect.Type, names []string) bool {
	var got []string
	for i := range t.NumMethod() {
		got = append(got, t.Method(i).Name)
	}
	sort.Strings(got)
	return slices.Equal(got, names)
}

// planFor decides how t's emails can be shared. Classes need the name to be
// used only where the sentinel behaves as the name would: printed, as the
// condition of {{if}}, or printed through default. They also need the
// recipient fields the template reads to make few classes, which rules out
// .Recipient.Email.
func planFor(t *Template) mailPlan {
	if !viewsKnown || strings.Contains(t.subjectSrc, nameSentinel) || strings.Contains(t.bodySrc, nameSentinel) {
		return mailPlan{}
	}
	u := &nameUse{ok: true, idents: map[string]bool{}}
	for _, tree := range []*parse.Tree{t.subject.Tree, t.body.Tree} {
		if tree != nil && tree.Root != nil {
			u.node(tree.Root)
		}
	}
	if !u.ok || u.idents["Email"] {
		return mailPlan{}
	}
	return mailPlan{shared: true, jurisdiction: u.idents["Jurisdiction"], exposed: u.idents["Exposed"], attr: u.idents["Attr"]}
}

// nameUse walks a template. It collects every field name the template
// uses and clears ok when the recipient's name is used other than in the
// allowed ways. Only field names reach the views, so a field name that does
// not occur is a view method that is never called.
type nameUse struct {
	ok     bool
	idents map[string]bool
}

type pipeUse int

const (
	useOther pipeUse = iota
	usePrint         // {{pipeline}}
	useIf            // {{if pipeline}}
)

func (u *nameUse) node(n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			u.node(c)
		}
	case *parse.ActionNode:
		u.pipe(n.Pipe, usePrint)
	case *parse.IfNode:
		u.pipe(n.Pipe, useIf)
		u.node(n.List)
		u.node(n.ElseList)
	case *parse.RangeNode:
		u.pipe(n.Pipe, useOther)
		u.node(n.List)
		u.node(n.ElseList)
	case *parse.WithNode:
		u.pipe(n.Pipe, useOther)
		u.node(n.List)
		u.node(n.ElseList)
	case *parse.TextNode, *parse.CommentNode, *parse.BreakNode, *parse.ContinueNode:
	default: // {{template}}, {{define}}: Parse refuses them
		u.ok = false
	}
}

func (u *nameUse) pipe(p *parse.PipeNode, use pipeUse) {
	if p == nil {
		return
	}
	for _, v := range p.Decl {
		if v.Ident[0] == "$" {
			u.ok = false // $ no longer the root
		}
	}
	var allowed parse.Node
	if len(p.Decl) == 0 && len(p.Cmds) > 0 && (use == usePrint || use == useIf) {
		c := p.Cmds[0]
		rest := p.Cmds[1:]
		if isName(c) && (len(rest) == 0 || use == usePrint && len(rest) == 1 && isDefault(rest[0])) {
			allowed = c.Args[0]
		}
	}
	for _, c := range p.Cmds {
		for _, a := range c.Args {
			u.arg(a, a == allowed)
		}
	}
}

// isName reports whether c is .Recipient.Name or .Recipient.NameOr "text"
// (or the same from $).
func isName(c *parse.CommandNode) bool {
	if len(c.Args) == 0 {
		return false
	}
	var path []string
	switch a := c.Args[0].(type) {
	case *parse.FieldNode:
		path = a.Ident
	case *parse.VariableNode:
		if a.Ident[0] != "$" {
			return false
		}
		path = a.Ident[1:]
	default:
		return false
	}
	if len(path) != 2 || path[0] != "Recipient" {
		return false
	}
	switch path[1] {
	case "Name":
		return len(c.Args) == 1
	case "NameOr":
		if len(c.Args) != 2 {
			return false
		}
		_, ok := c.Args[1].(*parse.StringNode)
		return ok
	}
	return false
}

// isDefault reports whether c is default "text".
func isDefault(c *parse.CommandNode) bool {
	if len(c.Args) != 2 {
		return false
	}
	f, ok := c.Args[0].(*parse.IdentifierNode)
	_, lit := c.Args[1].(*parse.StringNode)
	return ok && lit && f.Ident == "default"
}

func (u *nameUse) arg(n parse.Node, allowed bool) {
	switch n := n.(type) {
	case *parse.FieldNode:
		u.path(n.Ident, true, allowed)
	case *parse.VariableNode:
		u.path(n.Ident[1:], n.Ident[0] == "$", allowed)
	case *parse.ChainNode:
		u.arg(n.Node, false)
		u.path(n.Field, false, false)
	case *parse.PipeNode:
		u.pipe(n, useOther)
	}
}

// path records a field chain; rooted when it starts from the root (dot at
// the top level, where Parse allows .Recipient and .Company, or $).
func (u *nameUse) path(p []string, rooted, allowed bool) {
	for _, id := range p {
		u.idents[id] = true
		if id != "Name" && id != "NameOr" {
			continue
		}
		companyName := rooted && len(p) == 2 && p[0] == "Company" && p[1] == "Name"
		if !allowed && !companyName {
			u.ok = false
		}
	}
}

// classKey appends to b what d's class depends on: whether the recipient
// has a name, and the recipient fields the template reads besides it. Each
// part is a tag, then a count or a length, then the contents, so that
// different classes cannot make the same key.
func (p mailPlan) classKey(b []byte, d *Data, named bool) []byte {
	if named {
		b = append(b, 'n')
	} else {
		b = append(b, '-')
	}
	r := &d.Recipient
	if p.jurisdiction {
		b = appendKeyString(append(b, 'j'), r.Jurisdiction)
	}
	if p.exposed {
		b = appendUvarint(append(b, 'x'), uint64(len(r.Exposed)))
		for _, k := range r.Exposed {
			b = appendKeyString(b, string(k))
		}
	}
	if p.attr {
		b = appendUvarint(append(b, 'a'), uint64(len(r.Attributes)))
		keys := make([]string, 0, len(r.Attributes))
		for k := range r.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			b = appendKeyString(appendKeyString(b, k), r.Attributes[k])
		}
	}
	return b
}

// appendKeyString appends s with its length first.
func appendKeyString(b []byte, s string) []byte {
	return append(appendUvarint(b, uint64(len(s))), s...)
}

func appendUvarint(b []byte, n uint64) []byte {
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(b, byte(n))
}

// ---------------------------------------------------------------------------
// Shared data: comparing, copying and searching it by reflection, so that a
// field added to Data, incident.Facts or the types they use is taken into
// account without anyone having to remember this file.

var (
	dataType     = reflect.TypeFor[Data]()
	timeType     = reflect.TypeFor[time.Time]()
	recipientIdx = func() int {
		f, _ := dataType.FieldByName("Recipient")
		return f.Index[0]
	}()
	nameIdx = func() int {
		f, _ := reflect.TypeFor[Recipient]().FieldByName("Name")
		return f.Index[0]
	}()
)

// sameShared reports whether a and b agree on everything but the
// recipient.
func sameShared(a, b *Data) bool {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := range va.NumField() {
		if i != recipientIdx && !deepEqual(va.Field(i), vb.Field(i), 0) {
			return false
		}
	}
	return true
}

// copyShared deep-copies everything in src but the recipient into dst.
func copyShared(dst, src *Data) bool {
	vd, vs := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
	for i := range vd.NumField() {
		if i != recipientIdx && !deepCopy(vd.Field(i), vs.Field(i), 0) {
			return false
		}
	}
	return true
}

const maxDepth = 16

// deepEqual compares values of the same type. It errs towards "different":
// functions, channels and NaNs are never equal, nor is anything nested
// deeper than maxDepth. time.Time values are compared with ==.
func deepEqual(a, b reflect.Value, depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch a.Kind() {
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64:
		return a.Float() == b.Float()
	case reflect.Complex64, reflect.Complex128:
		return a.Complex() == b.Complex()
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() && b.IsNil()
		}
		return deepEqual(a.Elem(), b.Elem(), depth+1)
	case reflect.Struct:
		if a.Type() == timeType {
			if !a.CanAddr() || !b.CanAddr() {
				return false
			}
			return *(*time.Time)(a.Addr().UnsafePointer()) == *(*time.Time)(b.Addr().UnsafePointer())
		}
		for i := range a.NumField() {
			if !deepEqual(a.Field(i), b.Field(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		fallthrough
	case reflect.Array:
		for i := range a.Len() {
			if !deepEqual(a.Index(i), b.Index(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		it := a.MapRange()
		for it.Next() {
			w := b.MapIndex(it.Key())
			if !w.IsValid() || !deepEqual(it.Value(), w, depth+1) {
				return false
			}
		}
		return true
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() && b.IsNil()
		}
		return a.Elem().Type() == b.Elem().Type() && deepEqual(a.Elem(), b.Elem(), depth+1)
	}
	return false
}

// deepCopy copies src into dst (settable, same type) sharing nothing
// mutable; false if it cannot (a struct with unexported fields other than
// time.Time, a function, a channel).
func deepCopy(dst, src reflect.Value, depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch src.Kind() {
	case reflect.Pointer:
		if src.IsNil() {
			return true
		}
		p := reflect.New(src.Type().Elem())
		if !deepCopy(p.Elem(), src.Elem(), depth+1) {
			return false
		}
		dst.Set(p)
		return true
	case reflect.Struct:
		if src.Type() == timeType {
			dst.Set(src)
			return true
		}
		for i := range src.NumField() {
			if !src.Type().Field(i).IsExported() {
				return false
			}
			if !deepCopy(dst.Field(i), src.Field(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if src.IsNil() {
			return true
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := range src.Len() {
			if !deepCopy(s.Index(i), src.Index(i), depth+1) {
				return false
			}
		}
		dst.Set(s)
		return true
	case reflect.Array:
		for i := range src.Len() {
			if !deepCopy(dst.Index(i), src.Index(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Map:
		if src.IsNil() {
			return true
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		it := src.MapRange()
		for it.Next() {
			k := reflect.New(src.Type().Key()).Elem()
			v := reflect.New(src.Type().Elem()).Elem()
			if !deepCopy(k, it.Key(), depth+1) || !deepCopy(v, it.Value(), depth+1) {
				return false
			}
			m.SetMapIndex(k, v)
		}
		dst.Set(m)
		return true
	case reflect.Interface:
		if src.IsNil() {
			return true
		}
		v := reflect.New(src.Elem().Type()).Elem()
		if !deepCopy(v, src.Elem(), depth+1) {
			return false
		}
		dst.Set(v)
		return true
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return false
	}
	dst.Set(src)
	return true
}

// hasString reports whether any string in v contains s (or v cannot be
// searched).
func hasString(v reflect.Value, s string, depth int) bool {
	if depth > maxDepth {
		return true
	}
	switch v.Kind() {
	case reflect.String:
		return strings.Contains(v.String(), s)
	case reflect.Pointer, reflect.Interface:
		return !v.IsNil() && hasString(v.Elem(), s, depth+1)
	case reflect.Struct:
		if v.Type() == timeType {
			return false
		}
		for i := range v.NumField() {
			if hasString(v.Field(i), s, depth+1) {
				return true
			}
		}
		return false
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if hasString(v.Index(i), s, depth+1) {
				return true
			}
		}
		return false
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if hasString(it.Key(), s, depth+1) || hasString(it.Value(), s, depth+1) {
				return true
			}
		}
		return false
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return true
	}
	return false
}

func sharedHasSentinel(d *Data) bool {
	v := reflect.ValueOf(d).Elem()
	for i := range v.NumField() {
		if i != recipientIdx && hasString(v.Field(i), nameSentinel, 0) {
			return true
		}
	}
	return false
}

// recipientHasSentinel searches every recipient field but the name.
func recipientHasSentinel(r *Recipient) bool {
	v := reflect.ValueOf(r).Elem()
	for i := range v.NumField() {
		if i != nameIdx && hasString(v.Field(i), nameSentinel, 0) {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// The layout.

// companyLayout is emailLayout filled in for one company, split around the
// values that vary per recipient: lits[0], slot 0, lits[1], … Slots are
// 'L' (lang), 'S' (subject), 'T' (recipient address), all written with the
// escaping html/template gives them there, and 'B' (the body, as it is).
type companyLayout struct {
	rawName, rawURL string // the Company fields it was made from
	company, url    string // oneLine(Name), safeURL(SupportURL)
	lits            [2][]string
	slots           [2][]byte // [0] without a recipient address, [1] with
	ok              bool      // the split was verified; else execute emailLayout
}

func (m *Mailer) companyLayout(c *Company) *companyLayout {
	if l := m.layout.Load(); l != nil && l.rawName == c.Name && l.rawURL == c.SupportURL {
		return l
	}
	l := newCompanyLayout(c)
	m.layout.Store(l)
	return l
}

const (
	slotOpen  = "\uf8f0"
	slotClose = "\uf8f1"
)

func newCompanyLayout(c *Company) *companyLayout {
	l := &companyLayout{rawName: c.Name, rawURL: c.SupportURL, company: oneLine(c.Name), url: safeURL(c.SupportURL)}
	l.ok = true
	for i, to := range []string{"", slotOpen + "T" + slotClose} {
		var b bytes.Buffer
		err := emailLayout.Execute(&b, layoutData{
			Lang:       slotOpen + "L" + slotClose,
			Subject:    slotOpen + "S" + slotClose,
			Company:    l.company,
			Body:       htmltemplate.HTML(slotOpen + "B" + slotClose),
			SupportURL: l.url,
			To:         to,
		})
		if err != nil {
			l.ok = false
			return l
		}
		s := b.String()
		for {
			j := strings.Index(s, slotOpen)
			if j < 0 {
				break
			}
			rest := s[j+len(slotOpen):]
			if len(rest) < 1+len(slotClose) || !strings.HasPrefix(rest[1:], slotClose) || strings.IndexByte("LSTB", rest[0]) < 0 {
				l.ok = false
				return l
			}
			l.lits[i] = append(l.lits[i], s[:j])
			l.slots[i] = append(l.slots[i], rest[0])
			s = rest[1+len(slotClose):]
		}
		l.lits[i] = append(l.lits[i], s)
	}
	// Check the split and the escaping against html/template itself,
	// with values holding every character the escapers treat specially.
	for _, to := range []string{"", layoutProbe + "@example.com"} {
		ld := layoutData{Lang: layoutProbe, Subject: layoutProbe, Company: l.company, Body: layoutProbeBody, SupportURL: l.url, To: to}
		var want bytes.Buffer
		if emailLayout.Execute(&want, ld) != nil || l.html(ld.Lang, ld.Subject, ld.To, spliced{whole: string(ld.Body)}) != want.String() {
			l.ok = false
			return l
		}
	}
	return l
}

var layoutProbe = func() string {
	var b strings.Builder
	for c := range 0x80 {
		b.WriteByte(byte(c))
	}
	b.WriteString("\u00e9\u2028\ufdd0\uffff\U0001f600" + nameSentinel + slotOpen + "\xff")
	return b.String()
}()

const layoutProbeBody = htmltemplate.HTML("<p>&amp; \" ' + <b>x</b>\x00</p>\n")

// html fills in the layout (which must be ok).
func (l *companyLayout) html(lang, subject, to string, body spliced) string {
	i := 0
	if to != "" {
		i = 1
	}
	lits, slots := l.lits[i], l.slots[i]
	n := body.len()
	for j, lit := range lits {
		n += len(lit)
		if j < len(slots) {
			switch slots[j] {
			case 'L':
				n += htmlEscLen(lang)
			case 'S':
				n += htmlEscLen(subject)
			case 'T':
				n += htmlEscLen(to)
			}
		}
	}
	var b strings.Builder
	b.Grow(n)
	for j, lit := range lits {
		b.WriteString(lit)
		if j < len(slots) {
			switch slots[j] {
			case 'L':
				writeHTMLEsc(&b, lang)
			case 'S':
				writeHTMLEsc(&b, subject)
			case 'T':
				writeHTMLEsc(&b, to)
			case 'B':
				body.writeTo(&b)
			}
		}
	}
	return b.String()
}

// htmlEsc is html/template's escaping of a string in HTML text, in a quoted
// attribute value and in RCDATA (<title>): htmlReplacementTable, applied
// rune by rune, which for UTF-8 is byte by byte since every entry is ASCII.
var htmlEsc = [0x80]string{
	0:    "\uFFFD",
	'"':  "&#34;",
	'&':  "&amp;",
	'\'': "&#39;",
	'+':  "&#43;",
	'<':  "&lt;",
	'>':  "&gt;",
}

func htmlEscLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x80 && htmlEsc[c] != "" {
			n += len(htmlEsc[c]) - 1
		}
	}
	return n
}

func writeHTMLEsc(b *strings.Builder, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x80 && htmlEsc[c] != "" {
			b.WriteString(s[last:i])
			b.WriteString(htmlEsc[c])
			last = i + 1
		}
	}
	b.WriteString(s[last:])
}

// spliced is a text given whole, or as parts to be joined with fill.
type spliced struct {
	whole string
	parts []string
	fill  string
}

func (s spliced) len() int {
	if s.parts == nil {
		return len(s.whole)
	}
	n := (len(s.parts) - 1) * len(s.fill)
	for _, p := range s.parts {
		n += len(p)
	}
	return n
}

func (s spliced) writeTo(b *strings.Builder) {
	if s.parts == nil {
		b.WriteString(s.whole)
		return
	}
	for i, p := range s.parts {
		if i > 0 {
			b.WriteString(s.fill)
		}
		b.WriteString(p)
	}
}

func (s spliced) String() string {
	if s.parts == nil {
		return s.whole
	}
	var b strings.Builder
	b.Grow(s.len())
	s.writeTo(&b)
	return b.String()
}

// assemble puts the email together as Email does from the subject, the
// styled HTML body and the plain text.
func (m *Mailer) assemble(l *companyLayout, d *Data, subject string, body, txt spliced) (Email, error) {
	to := safeEmail(d.Recipient.Email)
	var html string
	if l.ok {
		html = l.html(lang(d.Recipient.Locale), subject, to, body)
	} else {
		var b bytes.Buffer
		err := emailLayout.Execute(&b, layoutData{
			Lang:       lang(d.Recipient.Locale),
			Subject:    subject,
			Company:    l.company,
			Body:       htmltemplate.HTML(body.String()),
			SupportURL: l.url,
			To:         to,
		})
		if err != nil {
			return Email{}, apperr.Invalid("body", "the email layout failed: %v", err)
		}
		html = b.String()
	}
	// The footer, as footerText.
	const sentBy, help = "This message was sent by ", "Help: "
	n := txt.len()
	if l.company != "" || l.url != "" {
		n += len("\n--\n") + 1
		if l.company != "" {
			n += len(sentBy) + len(l.company) + 1
			if to != "" {
				n += len(" to ") + len(to)
			}
		}
		if l.url != "" {
			if l.company != "" {
				n++
			}
			n += len(help) + len(l.url)
		}
	}
	var b strings.Builder
	b.Grow(n)
	txt.writeTo(&b)
	if l.company != "" || l.url != "" {
		b.WriteString("\n--\n")
		if l.company != "" {
			b.WriteString(sentBy)
			b.WriteString(l.company)
			if to != "" {
				b.WriteString(" to ")
				b.WriteString(to)
			}
			b.WriteByte('.')
		}
		if l.url != "" {
			if l.company != "" {
				b.WriteByte('\n')
			}
			b.WriteString(help)
			b.WriteString(l.url)
		}
		b.WriteByte('\n')
	}
	return Email{Subject: subject, HTML: html, Text: b.String()}, nil
}
