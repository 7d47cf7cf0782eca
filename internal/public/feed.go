package public

// Feeds of the status page: Atom (RFC 4287) and RSS 2.0, one entry per
// published update across every public incident, newest first.

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/status"
)

// maxFeedEntries is how many updates a feed holds; older ones are on the
// incident pages.
const maxFeedEntries = 50

// Atom renders the Atom feed of s in locale (a BCP 47 tag; "" or one the
// page does not offer gives the default language). Entry ids are the
// update's permalink, page URL + "/incidents/{id}#update-{uid}", the same
// in every language; the feed id is its own address. Authors are the page,
// never the staff member who wrote the update.
func Atom(s *status.Snapshot, locale string) ([]byte, error) {
	f := feedOf(s, locale)
	doc := atomFeed{
		Lang:    f.lang,
		ID:      f.self("feed.atom"),
		Title:   s.Page.Name,
		Updated: atomTime(s.UpdatedAt),
		Links: []atomLink{
			{Rel: "self", Type: "application/atom+xml", Href: f.self("feed.atom")},
			{Rel: "alternate", Type: "text/html", Href: f.alternate()},
		},
		Author:  atomPerson{Name: s.Page.Name, URI: s.Page.URL},
		Entries: make([]atomEntry, len(f.entries)),
	}
	for i, e := range f.entries {
		content := atomText{Type: "html", Body: e.html}
		if e.lang != f.lang {
			content.Lang = e.lang
		}
		doc.Entries[i] = atomEntry{
			ID:        e.link,
			Title:     e.title,
			Updated:   atomTime(e.u.UpdatedAt),
			Published: atomTime(e.u.DisplayAt),
			Link:      atomLink{Rel: "alternate", Type: "text/html", Href: e.link},
			Content:   content,
		}
	}
	return marshalFeed(doc, "Atom")
}

// RSS renders the RSS 2.0 feed of s in locale, with the same entries as
// Atom; each item's guid is the update's permalink.
func RSS(s *status.Snapshot, locale string) ([]byte, error) {
	f := feedOf(s, locale)
	doc := rssDoc{
		Version: "2.0",
		AtomNS:  atomNS,
		Channel: rssChannel{
			Title:         s.Page.Name,
			Link:          f.alternate(),
			Description:   s.Page.Name,
			Language:      f.lang,
			LastBuildDate: rssTime(s.UpdatedAt),
			Self:          rssAtomLink{Href: f.self("feed.rss"), Rel: "self", Type: "application/rss+xml"},
			Items:         make([]rssItem, len(f.entries)),
		},
	}
	for i, e := range f.entries {
		doc.Channel.Items[i] = rssItem{
			Title:       e.title,
			Link:        e.link,
			Description: e.html,
			GUID:        rssGUID{IsPermaLink: "true", Value: e.link},
			PubDate:     rssTime(e.u.DisplayAt),
		}
	}
	return marshalFeed(doc, "RSS")
}

func marshalFeed(doc any, kind string) ([]byte, error) {
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render %s feed: %w", kind, err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

// feed is what both formats show.
type feed struct {
	page status.Page
	// locale is the language chosen among the page's others, "" for the
	// default; lang is the language the feed is in.
	locale, lang string
	entries      []feedEntry
}

type feedEntry struct {
	u           status.Update
	title, link string
	html        string // the body, rendered by notice.Markdown
	lang        string // the body's language
}

func feedOf(s *status.Snapshot, locale string) feed {
	f := feed{page: s.Page, locale: pageLocale(s.Page, locale)}
	f.lang = cmp.Or(f.locale, s.Page.DefaultLocale)
	var all []feedEntry
	for _, in := range s.Incidents {
		for _, u := range in.Updates {
			all = append(all, feedEntry{
				u:     u,
				title: in.Title + " — " + cmp.Or(u.Status.Label(), string(u.Status)),
				link:  incidentURL(s.Page, in.ID) + "#update-" + strconv.FormatInt(u.ID, 10),
			})
		}
	}
	slices.SortStableFunc(all, func(a, b feedEntry) int {
		if c := b.u.DisplayAt.Compare(a.u.DisplayAt); c != 0 {
			return c
		}
		return cmp.Compare(b.u.ID, a.u.ID)
	})
	if len(all) > maxFeedEntries {
		all = all[:maxFeedEntries]
	}
	for i := range all {
		e := &all[i]
		text, chosen := e.u.In(f.locale)
		html, _ := notice.Markdown(text.Body)
		e.html = strings.TrimSpace(string(html))
		e.lang = cmp.Or(chosen, s.Page.DefaultLocale)
	}
	f.entries = all
	return f
}

// pageLocale returns the page's own spelling of the non-default language
// that locale asks for ("fr" for "fr-CA" when the page offers "fr"), or ""
// for the default language.
func pageLocale(p status.Page, locale string) string {
	if locale == "" {
		return ""
	}
	for _, l := range p.Locales {
		if strings.EqualFold(l, locale) {
			return l
		}
	}
	if strings.EqualFold(locale, p.DefaultLocale) {
		return ""
	}
	base := status.BaseLanguage(locale)
	for _, l := range p.Locales {
		if strings.EqualFold(l, base) {
			return l
		}
	}
	return ""
}

// self is the address of the feed file name in f's language.
func (f feed) self(name string) string { return f.withLang(f.page.URL + "/" + name) }

// alternate is the status page in f's language.
func (f feed) alternate() string { return f.withLang(f.page.URL) }

func (f feed) withLang(u string) string {
	if f.locale == "" {
		return u
	}
	return u + "?lang=" + url.QueryEscape(f.locale)
}

func atomTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func rssTime(t time.Time) string { return t.UTC().Format(time.RFC1123Z) }

const atomNS = "http://www.w3.org/2005/Atom"

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Lang    string      `xml:"http://www.w3.org/XML/1998/namespace lang,attr,omitempty"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Links   []atomLink  `xml:"link"`
	Author  atomPerson  `xml:"author"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomPerson struct {
	Name string `xml:"name"`
	URI  string `xml:"uri,omitempty"`
}

type atomEntry struct {
	ID        string   `xml:"id"`
	Title     string   `xml:"title"`
	Updated   string   `xml:"updated"`
	Published string   `xml:"published"`
	Link      atomLink `xml:"link"`
	Content   atomText `xml:"content"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Lang string `xml:"http://www.w3.org/XML/1998/namespace lang,attr,omitempty"`
	Body string `xml:",chardata"`
}

type rssDoc struct {
	XMLName xml.Name   `xml:"rss"`
	Version string     `xml:"version,attr"`
	AtomNS  string     `xml:"xmlns:atom,attr"`
	Channel rssChannel `xml:"channel"`
}

type rssChannel struct {
	Title         string      `xml:"title"`
	Link          string      `xml:"link"`
	Description   string      `xml:"description"`
	Language      string      `xml:"language,omitempty"`
	LastBuildDate string      `xml:"lastBuildDate"`
	Self          rssAtomLink `xml:"atom:link"`
	Items         []rssItem   `xml:"item"`
}

// rssAtomLink is the atom:link RSS feeds use to give their own address.
type rssAtomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr"`
}

type rssItem struct {
	Title       string  `xml:"title"`
	Link        string  `xml:"link"`
	Description string  `xml:"description"`
	GUID        rssGUID `xml:"guid"`
	PubDate     string  `xml:"pubDate"`
}

type rssGUID struct {
	IsPermaLink string `xml:"isPermaLink,attr"`
	Value       string `xml:",chardata"`
}
