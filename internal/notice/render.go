package notice

import (
	"bytes"
	htmltemplate "html/template"
	"strings"

	"github.com/candorhq/candor/internal/apperr"
)

// Email is a notice rendered for the email channel.
type Email struct {
	// Subject is one line of plain text: no CR, LF or other line breaks,
	// so it can go into a Subject header as it is (after RFC 2047
	// encoding by the mail writer).
	Subject string
	// HTML is a complete, self-contained HTML document with inline styles.
	HTML string
	// Text is the plain-text alternative.
	Text string
}

// SMS is a notice rendered for text messages.
type SMS struct {
	Text string
	// Encoding is "GSM-7" when every character is in the GSM 7-bit default
	// alphabet or its extension table, else "UCS-2".
	Encoding string
	// Units is the length in septets (GSM-7) or UTF-16 code units (UCS-2).
	Units int
	// Segments is the number of messages the text is sent as.
	Segments int
}

// Page is a notice rendered for a web page (status page, Q&A).
type Page struct {
	Title string // plain text; the page template escapes it
	// HTML is the body as an HTML fragment, safe to embed: every value and
	// all the writer's text is escaped, raw HTML is dropped.
	HTML htmltemplate.HTML
}

// Email renders the notice for d as an email.
func (t *Template) Email(d Data) (Email, error) {
	r, err := t.Render(d)
	if err != nil {
		return Email{}, err
	}
	dc := parseMarkdown(r.Markdown)
	body := emailStyles.Replace(dc.html())
	var b bytes.Buffer
	err = emailLayout.Execute(&b, layoutData{
		Lang:       lang(d.Recipient.Locale),
		Subject:    r.Subject,
		Company:    oneLine(d.Company.Name),
		Body:       htmltemplate.HTML(body), // goldmark output: escaped, raw HTML dropped
		SupportURL: safeURL(d.Company.SupportURL),
		To:         safeEmail(d.Recipient.Email),
	})
	if err != nil {
		return Email{}, apperr.Invalid("body", "the email layout failed: %v", err)
	}
	text := dc.plainText(false)
	if f := footerText(d); f != "" {
		text += "\n--\n" + f + "\n"
	}
	return Email{Subject: r.Subject, HTML: b.String(), Text: text}, nil
}

// SMS renders the notice body for d as a text message. The subject is not
// part of an SMS. Typographic quotes, dashes, ellipses and non-breaking
// spaces are replaced by their plain equivalents first, so a pasted curly
// apostrophe does not switch the whole message to UCS-2 and more than
// double its cost.
func (t *Template) SMS(d Data) (SMS, error) {
	r, err := t.Render(d)
	if err != nil {
		return SMS{}, err
	}
	txt := strings.TrimSpace(smsPunctuation.Replace(parseMarkdown(r.Markdown).plainText(true)))
	enc, units, segs := SMSSegments(txt)
	return SMS{Text: txt, Encoding: enc, Units: units, Segments: segs}, nil
}

var smsPunctuation = strings.NewReplacer(
	"\u2018", "'", "\u2019", "'", "\u201a", "'", "\u201b", "'",
	"\u201c", `"`, "\u201d", `"`, "\u201e", `"`,
	"\u2013", "-", "\u2014", "-", "\u2212", "-",
	"\u2026", "...", "\u00a0", " ", "\u202f", " ", "\u2009", " ",
)

// Page renders the notice for d as an HTML fragment for a web page.
func (t *Template) Page(d Data) (Page, error) {
	r, err := t.Render(d)
	if err != nil {
		return Page{}, err
	}
	return Page{Title: r.Subject, HTML: htmltemplate.HTML(parseMarkdown(r.Markdown).html())}, nil
}

// lang returns a safe lang attribute value from a BCP 47 tag.
func lang(tag string) string {
	tag = strings.TrimSpace(tag)
	if tag == "" || len(tag) > 35 {
		return "en"
	}
	for _, r := range tag {
		if !(r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "en"
		}
	}
	return tag
}

func footerText(d Data) string {
	var parts []string
	if c := oneLine(d.Company.Name); c != "" {
		s := "This message was sent by " + c
		if to := safeEmail(d.Recipient.Email); to != "" {
			s += " to " + to
		}
		parts = append(parts, s+".")
	}
	if u := safeURL(d.Company.SupportURL); u != "" {
		parts = append(parts, "Help: "+u)
	}
	return strings.Join(parts, "\n")
}

type layoutData struct {
	Lang, Subject, Company, SupportURL, To string
	Body                                   htmltemplate.HTML
}

// emailLayout is a single-column layout that renders the same in the common
// clients: tables for structure, styles inline, 16px text at 1.6 line
// height, dark text on white (contrast above 15:1), links underlined,
// role="presentation" on layout tables so screen readers skip them, and
// the document language set from the recipient's locale.
var emailLayout = htmltemplate.Must(htmltemplate.New("email").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}" dir="auto">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<meta name="x-apple-disable-message-reformatting">
<title>{{.Subject}}</title>
</head>
<body style="margin:0;padding:0;background-color:#f4f4f5;">
<div role="article" aria-roledescription="email" aria-label="{{.Subject}}" lang="{{.Lang}}" style="background-color:#f4f4f5;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background-color:#f4f4f5;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="max-width:600px;background-color:#ffffff;border:1px solid #e4e4e7;">
{{- if .Company}}
<tr><td style="padding:24px 32px 0 32px;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:14px;line-height:1.4;color:#52525b;">{{.Company}}</td></tr>
{{- end}}
<tr><td style="padding:16px 32px 8px 32px;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:16px;line-height:1.6;color:#18181b;">
{{.Body}}</td></tr>
<tr><td style="padding:16px 32px 24px 32px;border-top:1px solid #e4e4e7;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:13px;line-height:1.5;color:#52525b;">
{{- if .Company}}This message was sent by {{.Company}}{{if .To}} to {{.To}}{{end}}.{{end}}
{{- if .SupportURL}} Help: <a href="{{.SupportURL}}" style="color:#1d4ed8;text-decoration:underline;">{{.SupportURL}}</a>{{end}}
</td></tr>
</table>
</td></tr>
</table>
</div>
</body>
</html>
`))
