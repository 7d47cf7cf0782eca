package notice

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
	"unicode/utf8"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/incident"
)

// Data is everything a notice can draw on when it is rendered for one
// recipient.
type Data struct {
	Facts        incident.Facts
	FactsVersion int // shown by {{.Facts.Version}}
	Company      Company
	Incident     Incident
	Recipient    Recipient
}

// Company is the organisation sending the notice.
type Company struct {
	Name       string
	SupportURL string
}

// Incident is what a notice may say about the incident record itself.
type Incident struct {
	Title string
}

// Recipient is the person a notice is rendered for. Its fields mirror the
// audience package's recipient, so a caller converts field by field.
type Recipient struct {
	Name         string
	Email        string
	Phone        string
	Locale       string // BCP 47; decides the lang attribute of HTML output
	Jurisdiction string // ISO 3166-1/3166-2, e.g. US-CA
	Exposed      []incident.DataKind
	Attributes   map[string]string
}

// Limits on templates and their output. They keep one notice from tying up
// a worker: a template that exceeds them fails with apperr.EINVALID.
const (
	MaxSubjectTemplate = 1000      // bytes of subject template source
	MaxBodyTemplate    = 64 << 10  // bytes of body template source
	MaxSubject         = 300       // characters of rendered subject
	MaxBodyOutput      = 256 << 10 // bytes of rendered body Markdown
	// MaxSteps bounds placeholder evaluations per execution (see run).
	MaxSteps = 20000
	// MaxExecTime bounds one execution's wall time.
	MaxExecTime = time.Second
)

// Position is where a template error is: 1-based line and column
// (characters, not bytes). It is the Detail of each *apperr.Error that
// Parse and Validate return.
type Position struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// Template is a parsed notice: a subject and a Markdown body with
// placeholders. It is immutable and safe for concurrent use.
type Template struct {
	subjectSrc, bodySrc string
	subject, body       *template.Template
}

// Subject returns the subject template source.
func (t *Template) Subject() string { return t.subjectSrc }

// Body returns the body template source.
func (t *Template) Body() string { return t.bodySrc }

// Parse parses and statically checks a subject and body. The error, if any,
// is an apperr.EINVALID carrying every problem found (apperr.List in Detail
// when there are several), each with Field "subject" or "body", a message
// of the form "line 3, column 14: unknown field …" and a Position in its
// Detail. Parse does not execute the template; Validate does.
func Parse(subject, body string) (*Template, error) {
	var errs apperr.List
	st, e1 := parsePart("subject", subject, MaxSubjectTemplate)
	bt, e2 := parsePart("body", body, MaxBodyTemplate)
	errs = append(append(errs, e1...), e2...)
	if len(errs) > 0 {
		return nil, errs.Err()
	}
	return &Template{subjectSrc: subject, bodySrc: body, subject: st, body: bt}, nil
}

// Validate parses subject and body and executes them against each sample
// (SampleData when none is given), returning every problem found as one
// apperr.EINVALID error (see Parse), or nil. A template that validates
// renders without error for any data of the same shape, except where an
// execution limit is reached.
func Validate(subject, body string, samples ...Data) error {
	t, err := Parse(subject, body)
	if err != nil {
		return err
	}
	if len(samples) == 0 {
		samples = []Data{SampleData()}
	}
	var errs apperr.List
	seen := map[string]bool{}
	for i := range samples {
		if _, err := t.Render(samples[i]); err != nil {
			for _, e := range apperr.Flatten(err) {
				if k := e.Field + e.Message; !seen[k] {
					seen[k] = true
					errs = append(errs, e)
				}
			}
		}
	}
	return errs.Err()
}

// Rendered is a notice rendered for one recipient, before channel
// formatting: the subject as one line of plain text, and the body as
// Markdown in which every placeholder value is escaped.
type Rendered struct {
	Subject  string
	Markdown string
}

// Render executes the template for d. Errors are apperr.EINVALID with
// positions, as from Parse.
func (t *Template) Render(d Data) (Rendered, error) {
	var errs apperr.List
	subj, err := execute[plainMode](t.subject, t.subjectSrc, &d, 4*MaxSubject)
	if err != nil {
		errs = append(errs, err)
	}
	body, err := execute[mdMode](t.body, t.bodySrc, &d, MaxBodyOutput)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return Rendered{}, errs.Err()
	}
	subj = oneLine(subj)
	if n := utf8.RuneCountInString(subj); n > MaxSubject {
		return Rendered{}, withPos(apperr.Invalid("subject", "the subject is %d characters long once filled in; keep it under %d", n, MaxSubject), Position{1, 1})
	}
	return Rendered{Subject: subj, Markdown: body}, nil
}

// outputLimit is the writer error when a template writes too much or runs
// too long.
type outputLimit struct{ msg string }

func (e *outputLimit) Error() string { return e.msg }

type limitedWriter struct {
	buf      bytes.Buffer
	max      int
	deadline time.Time
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.max {
		return 0, &outputLimit{fmt.Sprintf("the text is longer than %d KiB once filled in; shorten it or check for loops", w.max>>10)}
	}
	if time.Now().After(w.deadline) {
		return 0, &outputLimit{"the template takes too long to fill in; simplify its loops"}
	}
	return w.buf.Write(p)
}

func execute[M mode](tm *template.Template, src string, d *Data, max int) (string, *apperr.Error) {
	deadline := time.Now().Add(MaxExecTime)
	r := &run{maxSteps: MaxSteps, deadline: deadline}
	w := &limitedWriter{max: max, deadline: deadline}
	if err := tm.Execute(w, newRoot[M](d, r)); err != nil {
		return "", execError(tm.Name(), src, err)
	}
	return w.buf.String(), nil
}

// withPos attaches a position to e.
func withPos(e *apperr.Error, p Position) *apperr.Error {
	e.Message = fmt.Sprintf("line %d, column %d: %s", p.Line, p.Column, e.Message)
	e.Detail = p
	return e
}

// posAt converts a byte offset in src to a Position.
func posAt(src string, off int) Position {
	off = max(0, min(off, len(src)))
	line := 1 + strings.Count(src[:off], "\n")
	start := strings.LastIndexByte(src[:off], '\n') + 1
	return Position{Line: line, Column: 1 + utf8.RuneCountInString(src[start:off])}
}

// lineStart returns the byte offset where 1-based line n starts.
func lineStart(src string, n int) int {
	off := 0
	for i := 1; i < n; i++ {
		j := strings.IndexByte(src[off:], '\n')
		if j < 0 {
			return len(src)
		}
		off += j + 1
	}
	return off
}

func lineText(src string, n int) (string, int) {
	s := lineStart(src, n)
	e := strings.IndexByte(src[s:], '\n')
	if e < 0 {
		return src[s:], s
	}
	return src[s : s+e], s
}

// allowedFuncs are the functions a template may call: logic and comparison
// from text/template, len, and default. Everything else text/template
// offers (call, index, slice, print, printf, println, html, js, urlquery)
// is refused: notices need none of them and some can call arbitrary code,
// allocate without bound or produce unescaped output.
var allowedFuncs = []string{"and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len", "default"}

func funcMap[M mode]() template.FuncMap {
	return template.FuncMap{
		// default returns v, or fallback when v prints as nothing:
		// {{.Recipient.Attr "plan" | default "standard"}}.
		"default": func(fallback string, v any) any {
			if v == nil || unmark(fmt.Sprint(v)) == "" {
				return vText[M](fallback)
			}
			return v
		},
	}
}

func parsePart(part, src string, limit int) (*template.Template, apperr.List) {
	if len(src) > limit {
		return nil, apperr.List{withPos(apperr.Invalid(part, "the %s template is %d bytes; keep it under %d", part, len(src), limit), Position{1, 1})}
	}
	if !utf8.ValidString(src) {
		off := 0
		for off < len(src) {
			r, n := utf8.DecodeRuneInString(src[off:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			off += n
		}
		return nil, apperr.List{withPos(apperr.Invalid(part, "the text is not valid UTF-8"), posAt(src, off))}
	}
	if i := strings.IndexFunc(src, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\r' && r != '\t' }); i >= 0 {
		return nil, apperr.List{withPos(apperr.Invalid(part, "the text contains a control character (U+%04X); remove it", src[i]), posAt(src, i))}
	}
	var tm *template.Template
	var err error
	if part == "subject" {
		tm, err = template.New(part).Funcs(funcMap[plainMode]()).Parse(src)
	} else {
		tm, err = template.New(part).Funcs(funcMap[mdMode]()).Parse(src)
	}
	if err != nil {
		return nil, apperr.List{parseError(part, src, err)}
	}
	c := &checker{part: part, src: src}
	if len(tm.Templates()) > 1 {
		i := strings.Index(src, "define")
		if j := strings.Index(src, "block"); i < 0 || (j >= 0 && j < i) {
			i = j
		}
		c.errorf(max(i, 0), "{{define}} and {{block}} are not available in notices")
		return nil, c.errs
	}
	if tm.Tree == nil || tm.Tree.Root == nil {
		return tm, nil
	}
	var dot reflect.Type
	if part == "subject" {
		dot = reflect.TypeFor[*root[plainMode]]()
	} else {
		dot = reflect.TypeFor[*root[mdMode]]()
	}
	c.root = dot
	c.walk(tm.Tree.Root, dot, map[string]reflect.Type{"$": dot})
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	return tm, nil
}

var (
	parseErrShape = regexp.MustCompile(`^template: \w+:(\d+): (.*)$`)
	execErrShape  = regexp.MustCompile(`(?s)^template: \w+:(\d+):(\d+): executing "[^"]*" at <.*?>: (.*)$`)
	quoted        = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)
)

// parseError turns a text/template parse error into a message a writer can
// act on, with the line text/template reports and a best-effort column.
func parseError(part, src string, err error) *apperr.Error {
	m := parseErrShape.FindStringSubmatch(err.Error())
	if m == nil {
		return withPos(apperr.Invalid(part, "%s", strings.TrimPrefix(err.Error(), "template: ")), Position{1, 1})
	}
	line, _ := strconv.Atoi(m[1])
	msg := m[2]
	text, start := lineText(src, line)
	col := strings.Index(text, "{{")
	if q := quoted.FindStringSubmatch(msg); q != nil {
		if uq, err := strconv.Unquote(`"` + q[1] + `"`); err == nil && uq != "" {
			if i := strings.Index(text, uq); i >= 0 {
				col = i
			}
		}
	}
	switch {
	case strings.HasPrefix(msg, "function ") && strings.HasSuffix(msg, " not defined"):
		name := strings.TrimSuffix(strings.TrimPrefix(msg, "function "), " not defined")
		name, _ = strconv.Unquote(name)
		msg = fmt.Sprintf("unknown function %q", name)
		if s := closest(name, allowedFuncs); s != "" {
			msg += fmt.Sprintf("; did you mean %s?", s)
		} else {
			msg += "; notices can use " + strings.Join(allowedFuncs, ", ")
		}
	case msg == "unexpected EOF":
		msg = "the text ends inside an action or before an {{end}}: every {{if}}, {{with}} and {{range}} needs its {{end}}"
		line = strings.Count(src, "\n") + 1
		text, start = lineText(src, line)
		col = len(text)
	case strings.HasPrefix(msg, "unclosed action"):
		msg = "an action opened with {{ is not closed with }}"
	case strings.HasPrefix(msg, "unexpected {{end}}"):
		msg = "this {{end}} has no matching {{if}}, {{with}} or {{range}}"
		if i := strings.Index(text, "end"); i >= 0 {
			col = i
		}
	}
	if col < 0 {
		col = 0
	}
	return withPos(apperr.Invalid(part, "%s", msg), posAt(src, start+col))
}

var argCountShape = regexp.MustCompile(`^wrong number of args for (\w+): want (at least )?(\d+) got (\d+)$`)

// execError turns an execution error into an apperr with a position.
func execError(part, src string, err error) *apperr.Error {
	var lim *outputLimit
	if errors.As(err, &lim) {
		return withPos(apperr.Invalid(part, "%s", lim.msg), Position{1, 1})
	}
	m := execErrShape.FindStringSubmatch(err.Error())
	if m == nil {
		msg := strings.TrimPrefix(err.Error(), "template: ")
		if errors.Is(err, errBudget) {
			msg = errBudget.Error()
		}
		return withPos(apperr.Invalid(part, "%s", msg), Position{1, 1})
	}
	line, _ := strconv.Atoi(m[1])
	byteCol, _ := strconv.Atoi(m[2])
	msg := m[3]
	switch {
	case errors.Is(err, errBudget):
		msg = errBudget.Error()
	case strings.HasPrefix(msg, "error calling "):
		_, msg, _ = strings.Cut(strings.TrimPrefix(msg, "error calling "), ": ")
	}
	if a := argCountShape.FindStringSubmatch(msg); a != nil {
		msg = fmt.Sprintf("%s takes %s%s argument(s), not %s", a[1], strings.TrimSpace(a[2]), a[3], a[4])
	}
	return withPos(apperr.Invalid(part, "%s", msg), posAt(src, lineStart(src, line)+byteCol))
}

// closest returns the candidate nearest to s by edit distance (ignoring
// case), if it is near enough to be a plausible typo.
func closest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	ls := strings.ToLower(s)
	for _, c := range candidates {
		d := editDistance(ls, strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	limit := 1
	if len(s) > 5 {
		limit = len(s) / 3
	}
	if bestD <= limit {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// checker walks a parsed template, following the type of dot, and reports
// what the template language allows but notices must not do, and mistakes
// that execution against one sample might not reach (a typo in a branch the
// sample does not take).
type checker struct {
	part, src string
	root      reflect.Type
	errs      apperr.List
}

func (c *checker) errorf(off int, format string, args ...any) {
	c.errs = append(c.errs, withPos(apperr.Invalid(c.part, format, args...), posAt(c.src, off)))
}

var (
	boolType = reflect.TypeFor[bool]()
	intType  = reflect.TypeFor[int]()
)

// viewName names a view type for messages, "" for values.
func viewName(t reflect.Type) string {
	if t == nil || t.Kind() != reflect.Pointer {
		return ""
	}
	n := t.Elem().Name()
	switch {
	case strings.HasPrefix(n, "root["):
		return "."
	case strings.HasPrefix(n, "factsView["):
		return ".Facts"
	case strings.HasPrefix(n, "recipientView["):
		return ".Recipient"
	case strings.HasPrefix(n, "companyView["):
		return ".Company"
	case strings.HasPrefix(n, "incidentView["):
		return ".Incident"
	}
	return ""
}

func isKindList(t reflect.Type) bool {
	return t != nil && t.Kind() == reflect.Slice && strings.HasPrefix(t.Name(), "vKindList[")
}

// fieldsOf lists the placeholder names available on t.
func fieldsOf(t reflect.Type) []string {
	var out []string
	for i := range t.NumMethod() {
		if n := t.Method(i).Name; n != "String" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func copyVars(v map[string]reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, len(v))
	for k, t := range v {
		m[k] = t
	}
	return m
}

func (c *checker) walk(n parse.Node, dot reflect.Type, vars map[string]reflect.Type) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, x := range n.Nodes {
			c.walk(x, dot, vars)
		}
	case *parse.ActionNode:
		t := c.pipe(n.Pipe, dot, vars)
		if len(n.Pipe.Decl) == 0 {
			if v := viewName(t); v != "" {
				c.errorf(int(n.Pos), "%s cannot be written out as it is; use one of its fields: %s", v, strings.Join(fieldsOf(t), ", "))
			}
		}
		c.declare(n.Pipe, t, vars)
	case *parse.IfNode:
		inner := copyVars(vars)
		c.declare(n.Pipe, c.pipe(n.Pipe, dot, inner), inner)
		c.walk(n.List, dot, inner)
		c.walk(n.ElseList, dot, copyVars(vars))
	case *parse.WithNode:
		inner := copyVars(vars)
		t := c.pipe(n.Pipe, dot, inner)
		c.declare(n.Pipe, t, inner)
		c.walk(n.List, t, inner)
		c.walk(n.ElseList, dot, copyVars(vars))
	case *parse.RangeNode:
		inner := copyVars(vars)
		t := c.pipe(n.Pipe, dot, inner)
		var elem reflect.Type
		if c.rangeable(n.Pipe) && isKindList(t) {
			elem = t.Elem()
		} else {
			c.errorf(int(n.Pos), "{{range}} works only over a list of data kinds, such as .Facts.Exposed or .Recipient.Exposed")
		}
		switch len(n.Pipe.Decl) {
		case 1:
			inner[n.Pipe.Decl[0].Ident[0]] = elem
		case 2:
			inner[n.Pipe.Decl[0].Ident[0]] = intType
			inner[n.Pipe.Decl[1].Ident[0]] = elem
		}
		c.walk(n.List, elem, inner)
		c.walk(n.ElseList, dot, copyVars(vars))
	case *parse.TemplateNode:
		c.errorf(int(n.Pos), "{{template}} is not available in notices")
	}
}

// rangeable reports whether a range pipeline is a plain field chain, so
// every iteration of an enclosing loop spends view steps to reach it.
func (c *checker) rangeable(p *parse.PipeNode) bool {
	if len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode:
		return true
	case *parse.VariableNode:
		return len(a.Ident) > 1
	}
	return false
}

func (c *checker) declare(p *parse.PipeNode, t reflect.Type, vars map[string]reflect.Type) {
	if p == nil {
		return
	}
	for _, d := range p.Decl {
		vars[d.Ident[0]] = t
	}
}

func (c *checker) pipe(p *parse.PipeNode, dot reflect.Type, vars map[string]reflect.Type) reflect.Type {
	if p == nil {
		return nil
	}
	var t reflect.Type
	for i, cmd := range p.Cmds {
		t = c.command(cmd, dot, vars, min(i, 1))
	}
	return t
}

// command returns the type of cmd's result; piped is 1 when cmd receives
// the previous command's result as its last argument.
func (c *checker) command(cmd *parse.CommandNode, dot reflect.Type, vars map[string]reflect.Type, piped int) reflect.Type {
	if len(cmd.Args) == 0 {
		return nil
	}
	for _, a := range cmd.Args[1:] {
		c.arg(a, dot, vars)
	}
	switch a := cmd.Args[0].(type) {
	case *parse.IdentifierNode:
		if !slices.Contains(allowedFuncs, a.Ident) {
			c.errorf(int(a.Pos), "the function %q is not available in notices; notices can use %s", a.Ident, strings.Join(allowedFuncs, ", "))
			return nil
		}
		switch a.Ident {
		case "not", "eq", "ne", "lt", "le", "gt", "ge":
			return boolType
		case "len":
			return intType
		}
		return nil
	case *parse.FieldNode:
		return c.fields(dot, a.Ident, c.chainStart(int(a.Pos), a.String()), cmd.Args[1:], piped)
	case *parse.VariableNode:
		base, ok := vars[a.Ident[0]]
		if !ok {
			return nil // text/template reports undefined variables
		}
		start := c.chainStart(int(a.Pos), a.String())
		return c.fields(base, a.Ident[1:], start+len(a.Ident[0]), cmd.Args[1:], piped)
	case *parse.ChainNode:
		base := c.arg(a.Node, dot, vars)
		return c.fields(base, a.Field, -1, cmd.Args[1:], piped)
	default:
		return c.arg(a, dot, vars)
	}
}

// arg returns the type of an argument node.
func (c *checker) arg(n parse.Node, dot reflect.Type, vars map[string]reflect.Type) reflect.Type {
	switch a := n.(type) {
	case *parse.DotNode:
		return dot
	case *parse.FieldNode, *parse.VariableNode, *parse.ChainNode:
		return c.command(&parse.CommandNode{Args: []parse.Node{a}}, dot, vars, 0)
	case *parse.PipeNode:
		return c.pipe(a, dot, vars)
	case *parse.IdentifierNode:
		return c.command(&parse.CommandNode{Args: []parse.Node{a}}, dot, vars, 0)
	case *parse.BoolNode:
		return boolType
	}
	return nil
}

// chainStart finds where the chain text begins: text/template positions a
// multi-part chain at its second part.
func (c *checker) chainStart(pos int, text string) int {
	end := min(len(c.src), pos+len(text))
	if i := strings.LastIndex(c.src[:end], text); i >= 0 {
		return i
	}
	return pos
}

// fields resolves .A.B.C from base; start is the offset of the first ".",
// or -1 when unknown. args are the arguments of the last method.
func (c *checker) fields(base reflect.Type, idents []string, start int, args []parse.Node, piped int) reflect.Type {
	t := base
	off := start
	for i, id := range idents {
		identOff := off + 1
		if start < 0 {
			identOff = -1
		}
		off += 1 + len(id)
		if t == nil {
			return nil
		}
		m, ok := t.MethodByName(id)
		if !ok || id == "String" {
			names := fieldsOf(t)
			var msg string
			switch {
			case len(names) == 0 && i > 0:
				msg = fmt.Sprintf("unknown field %q: %s is a value and has no fields", id, idents[i-1])
			case closest(id, names) != "":
				msg = fmt.Sprintf("unknown field %q; did you mean %s?", id, closest(id, names))
			default:
				owner := viewName(t)
				if owner == "" && i > 0 {
					owner = idents[i-1]
				}
				msg = fmt.Sprintf("unknown field %q; %s has %s", id, owner, strings.Join(names, ", "))
			}
			if identOff < 0 {
				identOff = 0
			}
			c.errorf(identOff, "%s", msg)
			return nil
		}
		fixed := m.Type.NumIn() - 1 // without the receiver
		if m.Type.IsVariadic() {
			fixed--
		}
		switch {
		case i < len(idents)-1 && fixed > 0:
			c.errorf(max(identOff, 0), "%s needs %s, so it must come last, e.g. {{.Recipient.Attr \"plan\"}}", id, plural(fixed, "argument"))
			return nil
		case i == len(idents)-1 && len(args)+piped < fixed:
			c.errorf(max(identOff, 0), "%s needs %s", id, plural(fixed, "argument"))
			return nil
		case i == len(idents)-1 && !m.Type.IsVariadic() && len(args)+piped > fixed:
			c.errorf(max(identOff, 0), "%s takes %s, not %d", id, plural(fixed, "argument"), len(args)+piped)
			return nil
		}
		if i == len(idents)-1 && (id == "Exposed" || id == "NotExposed" || id == "Includes") {
			for _, a := range args {
				if s, ok := a.(*parse.StringNode); ok && !incident.DataKind(s.Text).Valid() {
					c.errorf(int(s.Pos), "%s", unknownKindError(s.Text).Error())
				}
			}
		}
		t = m.Type.Out(0)
	}
	return t
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
