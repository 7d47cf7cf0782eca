package public

import (
	"bytes"
	"fmt"
	"html/template"

	"github.com/candorhq/candor/internal/status"
)

// unsubscribeTemplate asks for a click before unsubscribing: link
// scanners in mail systems open every link, and must not unsubscribe
// anyone by doing so. Mail clients that support RFC 8058 POST to the same
// address directly.
var unsubscribeTemplate = template.Must(template.Must(pageTemplates.Clone()).Parse(`{{define "unsubscribe"}}{{template "top" .}}
<h1>{{.Heading}}</h1>
<p class="message">{{.Message}}</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="t" value="{{.Token}}">
<button type="submit">{{.T.UnsubButton}}</button>
</form>
<p><a href="{{.Home}}">{{.T.BackHome}}</a></p>
{{template "bottom" .}}{{end}}`))

type unsubscribeView struct {
	*pageView
	Action string
	Token  string
}

// UnsubscribePage renders the page an unsubscribe link opens: one button
// that unsubscribes.
func UnsubscribePage(s *status.Snapshot, locale, token string) []byte {
	locale = htmlLocale(s, locale)
	v := newPageView(s, locale, pagesHome)
	v.Heading = v.T.UnsubTitle
	v.Title = v.Heading + " – " + fmt.Sprintf(v.T.PageTitle, s.Page.Name)
	v.Message = v.T.UnsubText
	var b bytes.Buffer
	if err := unsubscribeTemplate.ExecuteTemplate(&b, "unsubscribe", unsubscribeView{pageView: v, Action: pagesHome + "/unsubscribe", Token: token}); err != nil {
		title, text := message(locale, "unsub-missing")
		return MessagePage(s, locale, title, text)
	}
	return b.Bytes()
}
