package notice

import (
	"bytes"
	"html"
	htmltemplate "html/template"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// md is the Markdown engine: CommonMark plus autolinking of bare web
// addresses in the writer's own text. goldmark's defaults are kept on
// purpose: raw HTML is not rendered (it becomes a comment) and text is
// HTML-escaped. Placeholder values never reach Markdown syntax in the first
// place (see escapeMarkdown), and links whose scheme is not http, https,
// mailto or tel are turned into plain text before rendering.
var md = goldmark.New(goldmark.WithExtensions(extension.Linkify))

// doc is a parsed Markdown body.
type doc struct {
	src  []byte
	root ast.Node
}

func parseMarkdown(s string) *doc {
	src := []byte(s)
	root := md.Parser().Parse(text.NewReader(src))
	d := &doc{src: src, root: root}
	d.neutralizeLinks()
	return d
}

// allowedScheme reports whether a link destination may be rendered as a
// link.
func allowedScheme(dest []byte) bool {
	u, err := url.Parse(strings.TrimSpace(string(dest)))
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return u.Host != ""
	case "mailto", "tel":
		return true
	}
	return false
}

// neutralizeLinks replaces links and images with a disallowed destination
// by their text, so "[x](javascript:…)" shows "x" and links nowhere.
func (d *doc) neutralizeLinks() {
	var bad []ast.Node
	_ = ast.Walk(d.root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Link:
			if !allowedScheme(n.Destination) {
				bad = append(bad, n)
			}
		case *ast.Image:
			if !allowedScheme(n.Destination) || strings.HasPrefix(strings.ToLower(string(n.Destination)), "http:") {
				bad = append(bad, n)
			}
		case *ast.AutoLink:
			if n.AutoLinkType == ast.AutoLinkURL && !allowedScheme(n.URL(d.src)) {
				bad = append(bad, n)
			}
		}
		return ast.WalkContinue, nil
	})
	for _, n := range bad {
		parent := n.Parent()
		if parent == nil {
			continue
		}
		if a, ok := n.(*ast.AutoLink); ok {
			parent.ReplaceChild(parent, n, ast.NewString(a.Label(d.src)))
			continue
		}
		for c := n.FirstChild(); c != nil; {
			next := c.NextSibling()
			parent.InsertBefore(parent, n, c)
			c = next
		}
		parent.RemoveChild(parent, n)
	}
}

// html renders the document as an HTML fragment.
func (d *doc) html() string {
	var b bytes.Buffer
	if err := md.Renderer().Render(&b, d.src, d.root); err != nil {
		return ""
	}
	return b.String()
}

// Inline styles for email clients that ignore <style> blocks. goldmark
// writes these tags without attributes (links and images aside), and every
// "<" that came from text is escaped, so replacing the literal tags only
// ever touches markup goldmark produced.
var emailStyles = strings.NewReplacer(
	"<h1>", `<h1 style="margin:0 0 16px 0;font-size:24px;line-height:1.3;font-weight:bold;color:#18181b;">`,
	"<h2>", `<h2 style="margin:24px 0 8px 0;font-size:19px;line-height:1.3;font-weight:bold;color:#18181b;">`,
	"<h3>", `<h3 style="margin:20px 0 8px 0;font-size:17px;line-height:1.3;font-weight:bold;color:#18181b;">`,
	"<h4>", `<h4 style="margin:16px 0 8px 0;font-size:16px;font-weight:bold;">`,
	"<h5>", `<h5 style="margin:16px 0 8px 0;font-size:16px;font-weight:bold;">`,
	"<h6>", `<h6 style="margin:16px 0 8px 0;font-size:16px;font-weight:bold;">`,
	"<p>", `<p style="margin:0 0 16px 0;">`,
	"<ul>", `<ul style="margin:0 0 16px 0;padding-left:24px;">`,
	"<ol>", `<ol style="margin:0 0 16px 0;padding-left:24px;">`,
	"<li>", `<li style="margin:0 0 6px 0;">`,
	"<blockquote>", `<blockquote style="margin:0 0 16px 0;padding:0 0 0 12px;border-left:4px solid #d4d4d8;color:#3f3f46;">`,
	"<pre>", `<pre style="margin:0 0 16px 0;padding:12px;background-color:#f4f4f5;white-space:pre-wrap;font-size:14px;">`,
	"<code>", `<code style="font-family:Consolas,Menlo,monospace;font-size:14px;">`,
	"<hr>", `<hr style="border:0;border-top:1px solid #e4e4e7;margin:24px 0;">`,
	"<a href=", `<a style="color:#1d4ed8;text-decoration:underline;" href=`,
	"<img ", `<img style="max-width:100%;height:auto;" `,
)

// plainText renders the document as plain text for the email text part and
// SMS: headings underlined (for SMS, just on their own line), list items
// with "- " or "1. ", quotes with "> ", links as "text (address)", blocks
// separated by blank lines. Raw HTML is dropped, as in the HTML output.
func (d *doc) plainText(sms bool) string {
	w := &textWriter{src: d.src, sms: sms}
	return strings.TrimSpace(strings.Join(w.blocks(d.root, 0), "\n")) + "\n"
}

type textWriter struct {
	src []byte
	sms bool
}

// maxNesting is the depth beyond which quotes and lists are no longer
// indented, so that pathological nesting costs linear time.
const maxNesting = 16

// blocks renders the children of parent as lines.
func (w *textWriter) blocks(parent ast.Node, depth int) []string {
	var out []string
	tight := false
	if l, ok := parent.(*ast.ListItem); ok {
		if list, ok := l.Parent().(*ast.List); ok {
			tight = list.IsTight
		}
	}
	for n := parent.FirstChild(); n != nil; n = n.NextSibling() {
		lines := w.block(n, depth)
		if len(lines) == 0 {
			continue
		}
		if len(out) > 0 && !tight {
			out = append(out, "")
		}
		out = append(out, lines...)
	}
	return out
}

func (w *textWriter) block(n ast.Node, depth int) []string {
	switch n := n.(type) {
	case *ast.Heading:
		t := w.inline(n)
		if w.sms || t == "" {
			return []string{t}
		}
		ch := "-"
		if n.Level == 1 {
			ch = "="
		}
		return []string{t, strings.Repeat(ch, min(len([]rune(t)), 72))}
	case *ast.Paragraph, *ast.TextBlock:
		return strings.Split(w.inline(n), "\n")
	case *ast.ThematicBreak:
		return []string{"----"}
	case *ast.CodeBlock, *ast.FencedCodeBlock:
		var out []string
		lines := n.Lines()
		for i := range lines.Len() {
			s := lines.At(i)
			out = append(out, "    "+strings.TrimRight(string(s.Value(w.src)), "\n"))
		}
		return out
	case *ast.Blockquote:
		return prefixLines(w.blocks(n, depth+1), "> ", "> ", depth)
	case *ast.List:
		var out []string
		num := n.Start
		for item := n.FirstChild(); item != nil; item = item.NextSibling() {
			marker := "- "
			if n.IsOrdered() {
				marker = strconv.Itoa(num) + ". "
				num++
			}
			if len(out) > 0 && !n.IsTight {
				out = append(out, "")
			}
			lines := w.blocks(item, depth+1)
			if len(lines) == 0 {
				lines = []string{""}
			}
			out = append(out, prefixLines(lines, marker, strings.Repeat(" ", len(marker)), depth)...)
		}
		return out
	case *ast.HTMLBlock:
		return nil
	}
	return w.blocks(n, depth+1)
}

// prefixLines puts first before the first line and rest before the others
// (blank lines stay blank); beyond maxNesting only the first prefix is
// kept.
func prefixLines(lines []string, first, rest string, depth int) []string {
	for i, l := range lines {
		switch {
		case i == 0:
			lines[i] = strings.TrimRight(first+l, " ")
		case depth < maxNesting && l != "":
			lines[i] = rest + l
		case depth < maxNesting && strings.TrimSpace(rest) != "":
			lines[i] = strings.TrimSpace(rest)
		}
	}
	return lines
}

// inline renders the inline content of n as text.
func (w *textWriter) inline(n ast.Node) string {
	var b strings.Builder
	w.inlines(&b, n)
	return strings.TrimSpace(b.String())
}

func (w *textWriter) inlines(b *strings.Builder, parent ast.Node) {
	for n := parent.FirstChild(); n != nil; n = n.NextSibling() {
		switch n := n.(type) {
		case *ast.Text:
			v := n.Segment.Value(w.src)
			if n.IsRaw() {
				b.Write(v)
			} else {
				b.WriteString(unescapeText(v))
			}
			switch {
			case n.HardLineBreak():
				b.WriteString("\n")
			case n.SoftLineBreak():
				b.WriteString(" ")
			}
		case *ast.String:
			if n.IsCode() || n.IsRaw() {
				b.Write(n.Value)
			} else {
				b.WriteString(unescapeText(n.Value))
			}
		case *ast.CodeSpan:
			for c := n.FirstChild(); c != nil; c = c.NextSibling() {
				if t, ok := c.(*ast.Text); ok {
					b.Write(t.Segment.Value(w.src))
				}
			}
		case *ast.AutoLink:
			b.WriteString(string(n.Label(w.src)))
		case *ast.Link:
			var inner strings.Builder
			w.inlines(&inner, n)
			label := inner.String()
			dest := string(n.Destination)
			shown := strings.TrimPrefix(strings.TrimPrefix(dest, "mailto:"), "tel:")
			switch {
			case label == dest || label == shown:
				b.WriteString(shown)
			case w.sms:
				b.WriteString(label + " " + shown)
			default:
				b.WriteString(label + " (" + shown + ")")
			}
		case *ast.Image:
			var inner strings.Builder
			w.inlines(&inner, n)
			b.WriteString(inner.String())
		case *ast.RawHTML:
		default:
			w.inlines(b, n)
		}
	}
}

// unescapeText resolves backslash escapes and character references in one
// pass, as CommonMark defines them, giving the text a reader sees: "\\&amp;"
// is the five characters "&amp;", "&amp;" is "&".
func unescapeText(v []byte) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v) && util.IsPunct(v[i+1]):
			b.WriteByte(v[i+1])
			i++
		case c == '&':
			if m := entityShape.Find(v[i:]); m != nil {
				if u := html.UnescapeString(string(m)); u != string(m) {
					b.WriteString(u)
					i += len(m) - 1
					continue
				}
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

var entityShape = regexp.MustCompile(`^&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});`)

// escapeHTML is for the few strings the layouts write outside Markdown.
func escapeHTML(s string) string { return html.EscapeString(s) }

// Markdown renders a writer's Markdown (a status update, say) as a safe
// HTML fragment and as plain text, with the same rules as notices: raw
// HTML is not rendered, text is escaped, and links other than http, https,
// mailto and tel become plain text.
func Markdown(s string) (fragment htmltemplate.HTML, text string) {
	d := parseMarkdown(s)
	return htmltemplate.HTML(d.html()), d.plainText(false)
}
