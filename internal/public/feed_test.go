package public

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/status"
	"github.com/candorhq/candor/internal/status/statustest"
)

// feedSnapshot is the example snapshot with one more body that quotes
// markup as code: it must reach the reader as text.
func feedSnapshot() *status.Snapshot {
	s := statustest.Example(exampleNow)
	s.Incidents[1].Updates[0].Body = "The fake site was taken down. Never paste `<script>` tags you are sent."
	return s
}

type wantEntry struct {
	incidentID, update int64
	incidentTitle      string
	status             incident.State
	published, updated time.Time
	contains, lacks    []string
}

// wantEntries are the example's updates in feed order: newest first by
// display time.
func wantEntries() []wantEntry {
	const sec = "Security incident affecting customer accounts"
	const phish = "Phishing emails impersonating us"
	h := func(n int) time.Time { return exampleNow.Add(-time.Duration(n) * time.Hour) }
	d := func(n int) time.Time { return h(24 * n) }
	return []wantEntry{
		{incidentID: 7, update: 33, incidentTitle: sec, status: incident.Identified, published: h(1), updated: h(1),
			contains: []string{"<strong>closed that access</strong>", "15,000 customers"}},
		{incidentID: 7, update: 32, incidentTitle: sec, status: incident.Investigating, published: h(20), updated: h(19),
			contains: []string{"unauthorised access"}, lacks: []string{"<script"}},
		{incidentID: 7, update: 31, incidentTitle: sec, status: incident.Investigating, published: h(26), updated: h(25),
			contains: []string{"suspicious activity"}},
		{incidentID: 3, update: 12, incidentTitle: phish, status: incident.Resolved, published: d(90), updated: d(90),
			contains: []string{"taken down", "<code>&lt;script&gt;</code>"}, lacks: []string{"<script"}},
		{incidentID: 3, update: 11, incidentTitle: phish, status: incident.Contained, published: d(91), updated: d(91)},
		{incidentID: 3, update: 10, incidentTitle: phish, status: incident.Investigating, published: d(92), updated: d(92)},
	}
}

func parseFeedChecked(t *testing.T, b []byte, wantType string) *gofeed.Feed {
	t.Helper()
	checkWellFormed(t, b)
	f, err := gofeed.NewParser().Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gofeed: %v\n%s", err, b)
	}
	if f.FeedType != wantType {
		t.Fatalf("feed type = %q, want %q", f.FeedType, wantType)
	}
	return f
}

// checkWellFormed reads every token with encoding/xml's strict decoder.
func checkWellFormed(t *testing.T, b []byte) {
	t.Helper()
	if !bytes.HasPrefix(b, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		t.Errorf("no XML declaration: %.60s", b)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, b)
		}
	}
}

func checkItems(t *testing.T, f *gofeed.Feed, html func(*gofeed.Item) string) {
	t.Helper()
	want := wantEntries()
	if len(f.Items) != len(want) {
		t.Fatalf("%d items, want %d", len(f.Items), len(want))
	}
	for i, w := range want {
		it := f.Items[i]
		link := fmt.Sprintf("http://status.example.test/status/incidents/%d#update-%d", w.incidentID, w.update)
		if title := w.incidentTitle + " — " + w.status.Label(); it.Title != title {
			t.Errorf("item %d title = %q, want %q", i, it.Title, title)
		}
		if it.Link != link || it.GUID != link {
			t.Errorf("item %d link, id = %q, %q, want %q", i, it.Link, it.GUID, link)
		}
		if it.PublishedParsed == nil || !it.PublishedParsed.Equal(w.published) {
			t.Errorf("item %d published = %v, want %v", i, it.PublishedParsed, w.published)
		}
		content := html(it)
		for _, s := range w.contains {
			if !strings.Contains(content, s) {
				t.Errorf("item %d content %q lacks %q", i, content, s)
			}
		}
		for _, s := range w.lacks {
			if strings.Contains(content, s) {
				t.Errorf("item %d content %q has %q", i, content, s)
			}
		}
	}
}

func TestAtom(t *testing.T) {
	s := feedSnapshot()
	b, err := Atom(s, "")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("<script")) {
		t.Errorf("a <script> tag reached the feed as markup:\n%s", b)
	}
	f := parseFeedChecked(t, b, "atom")
	if f.Title != "Example Corp" || f.Language != "en" || f.Link != "http://status.example.test/status" ||
		f.FeedLink != "http://status.example.test/status/feed.atom" || f.UpdatedParsed == nil || !f.UpdatedParsed.Equal(s.UpdatedAt) {
		t.Errorf("feed = %q lang %q link %q self %q updated %v", f.Title, f.Language, f.Link, f.FeedLink, f.UpdatedParsed)
	}
	checkItems(t, f, func(it *gofeed.Item) string { return it.Content })
	for i, w := range wantEntries() {
		if it := f.Items[i]; it.UpdatedParsed == nil || !it.UpdatedParsed.Equal(w.updated) {
			t.Errorf("item %d updated = %v, want %v", i, it.UpdatedParsed, w.updated)
		}
	}
}

func TestRSS(t *testing.T) {
	s := feedSnapshot()
	b, err := RSS(s, "")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("<script")) {
		t.Errorf("a <script> tag reached the feed as markup:\n%s", b)
	}
	f := parseFeedChecked(t, b, "rss")
	if f.FeedVersion != "2.0" || f.Title != "Example Corp" || f.Description == "" || f.Language != "en" ||
		f.Link != "http://status.example.test/status" || f.FeedLink != "http://status.example.test/status/feed.rss" ||
		f.UpdatedParsed == nil || !f.UpdatedParsed.Equal(s.UpdatedAt) {
		t.Errorf("channel = %+v", f)
	}
	checkItems(t, f, func(it *gofeed.Item) string { return it.Description })
}

// atomDoc holds what RFC 4287 requires of a feed (section 4.1.1) and its
// entries (4.1.2), read with encoding/xml in the Atom namespace.
type atomDoc struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"http://www.w3.org/2005/Atom id"`
	Title   string   `xml:"http://www.w3.org/2005/Atom title"`
	Updated string   `xml:"http://www.w3.org/2005/Atom updated"`
	Authors []struct {
		Name string `xml:"http://www.w3.org/2005/Atom name"`
	} `xml:"http://www.w3.org/2005/Atom author"`
	Links []struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	} `xml:"http://www.w3.org/2005/Atom link"`
	Entries []struct {
		ID      string `xml:"http://www.w3.org/2005/Atom id"`
		Title   string `xml:"http://www.w3.org/2005/Atom title"`
		Updated string `xml:"http://www.w3.org/2005/Atom updated"`
		Authors []struct {
			Name string `xml:"http://www.w3.org/2005/Atom name"`
		} `xml:"http://www.w3.org/2005/Atom author"`
		Content struct {
			Type string `xml:"type,attr"`
			Body string `xml:",chardata"`
		} `xml:"http://www.w3.org/2005/Atom content"`
	} `xml:"http://www.w3.org/2005/Atom entry"`
}

func TestAtomRequiredElements(t *testing.T) {
	for _, locale := range []string{"", "fr"} {
		b, err := Atom(feedSnapshot(), locale)
		if err != nil {
			t.Fatal(err)
		}
		var doc atomDoc
		if err := xml.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		rfc3339 := func(what, v string) {
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				t.Errorf("%q: %s %q is not an RFC 3339 date", locale, what, v)
			}
		}
		if doc.ID == "" || doc.Title == "" {
			t.Errorf("%q: feed id %q, title %q", locale, doc.ID, doc.Title)
		}
		rfc3339("feed updated", doc.Updated)
		hasSelf := false
		for _, l := range doc.Links {
			hasSelf = hasSelf || l.Rel == "self" && l.Href != ""
		}
		if !hasSelf {
			t.Errorf("%q: no self link", locale)
		}
		feedAuthor := len(doc.Authors) > 0 && doc.Authors[0].Name != ""
		ids := map[string]bool{}
		for i, e := range doc.Entries {
			if e.ID == "" || e.Title == "" || ids[e.ID] {
				t.Errorf("%q: entry %d id %q (unique?), title %q", locale, i, e.ID, e.Title)
			}
			ids[e.ID] = true
			rfc3339(fmt.Sprintf("entry %d updated", i), e.Updated)
			if !feedAuthor && (len(e.Authors) == 0 || e.Authors[0].Name == "") {
				t.Errorf("%q: entry %d has no author and neither has the feed", locale, i)
			}
			if e.Content.Type != "html" || !strings.HasPrefix(e.Content.Body, "<p>") {
				t.Errorf("%q: entry %d content (%s) %q, want escaped HTML", locale, i, e.Content.Type, e.Content.Body)
			}
		}
		if len(doc.Entries) == 0 {
			t.Errorf("%q: no entries", locale)
		}
	}
}

func TestFeedLocale(t *testing.T) {
	s := feedSnapshot()
	for _, locale := range []string{"fr", "fr-CA", "FR"} {
		a, err := Atom(s, locale)
		if err != nil {
			t.Fatal(err)
		}
		r, err := RSS(s, locale)
		if err != nil {
			t.Fatal(err)
		}
		af := parseFeedChecked(t, a, "atom")
		rf := parseFeedChecked(t, r, "rss")
		if af.Language != "fr" || rf.Language != "fr" {
			t.Errorf("%s: languages = %q, %q, want fr", locale, af.Language, rf.Language)
		}
		if af.FeedLink != "http://status.example.test/status/feed.atom?lang=fr" || rf.FeedLink != "http://status.example.test/status/feed.rss?lang=fr" {
			t.Errorf("%s: self links = %q, %q", locale, af.FeedLink, rf.FeedLink)
		}
		for _, content := range []string{af.Items[0].Content, rf.Items[0].Description} {
			if !strings.Contains(content, "Nous avons identifié") || !strings.Contains(content, "<strong>fermé cet accès</strong>") {
				t.Errorf("%s: first entry = %q, want the French text", locale, content)
			}
		}
		// Updates nobody translated fall back to the default text, marked
		// as English in Atom.
		if !strings.Contains(af.Items[1].Content, "unauthorised access") {
			t.Errorf("%s: untranslated entry = %q", locale, af.Items[1].Content)
		}
		if !bytes.Contains(a, []byte(`<content type="html" xml:lang="en">`)) {
			t.Errorf("%s: untranslated entries are not marked as English", locale)
		}
	}

	// A language the page does not offer, or the default one, gives the
	// default feed.
	def, _ := Atom(s, "")
	for _, locale := range []string{"de", "en", "en-GB"} {
		if b, _ := Atom(s, locale); !bytes.Equal(b, def) {
			t.Errorf("%s: feed differs from the default one", locale)
		}
	}
}

func TestFeedLimitAndOrder(t *testing.T) {
	s := statustest.Example(exampleNow)
	in := &s.Incidents[1]
	tmpl := in.Updates[0]
	in.Updates = nil
	for i := range 60 {
		u := tmpl
		u.ID = int64(1000 + i)
		// Two updates share each display time: the higher id comes first.
		u.DisplayAt = exampleNow.Add(-time.Duration(200-i/2) * time.Hour)
		in.Updates = append([]status.Update{u}, in.Updates...)
	}
	for name, render := range map[string]func(*status.Snapshot, string) ([]byte, error){"atom": Atom, "rss": RSS} {
		b, err := render(s, "")
		if err != nil {
			t.Fatal(err)
		}
		f, err := gofeed.NewParser().Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Items) != 50 {
			t.Fatalf("%s: %d items, want 50", name, len(f.Items))
		}
		// The open incident's three updates are the newest.
		if !strings.HasSuffix(f.Items[0].Link, "#update-33") || !strings.HasSuffix(f.Items[3].Link, "#update-1059") ||
			!strings.HasSuffix(f.Items[4].Link, "#update-1058") || !strings.HasSuffix(f.Items[49].Link, "#update-1013") {
			t.Errorf("%s: order = %s, %s, %s … %s", name, f.Items[0].Link, f.Items[3].Link, f.Items[4].Link, f.Items[49].Link)
		}
		for i := 1; i < len(f.Items); i++ {
			if f.Items[i].PublishedParsed.After(*f.Items[i-1].PublishedParsed) {
				t.Errorf("%s: item %d is newer than item %d", name, i, i-1)
			}
		}
	}
}

func TestFeedDeterministic(t *testing.T) {
	for name, render := range map[string]func(*status.Snapshot, string) ([]byte, error){"atom": Atom, "rss": RSS} {
		a, err1 := render(feedSnapshot(), "fr")
		b, err2 := render(feedSnapshot(), "fr")
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two renderings (%v, %v)", name, err1, err2)
		}
	}
}

func TestFeedEmpty(t *testing.T) {
	s := &status.Snapshot{Page: status.Page{ID: "p", Name: "Quiet Corp", URL: "https://status.example.com", DefaultLocale: "en"}, UpdatedAt: exampleNow}
	a, err := Atom(s, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := RSS(s, "")
	if err != nil {
		t.Fatal(err)
	}
	if f := parseFeedChecked(t, a, "atom"); len(f.Items) != 0 || f.Title != "Quiet Corp" {
		t.Errorf("atom = %+v", f)
	}
	if f := parseFeedChecked(t, r, "rss"); len(f.Items) != 0 || f.Title != "Quiet Corp" {
		t.Errorf("rss = %+v", f)
	}
}
