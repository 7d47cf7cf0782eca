package public

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/template"

	"github.com/candorhq/candor/internal/status"
)

// The banner script (/banner.js) is what a company adds to its own site
// with one tag:
//
//	<script src="https://status.example.com/banner.js" async></script>
//
// While an incident is open it puts an accessible bar at the top of the
// host page, linking to the incident on the status site. The alert is
// embedded in the script when it is rendered, so the script makes no
// request of its own, and the host page's Content-Security-Policy needs
// only to allow the status site's origin in script-src: the bar is built
// with DOM calls and styled through the CSSOM, which style-src does not
// govern. A reader who dismisses the bar does not see it again until a
// newer update is published; the choice is kept in the host origin's
// localStorage under "candor-banner:<page id>", holding the newest update's
// id.

//go:embed static/banner.js
var bannerSource string

var bannerTemplate = template.Must(template.New("banner.js").Parse(bannerSource))

// bannerLocales are the languages the bar speaks; the host page's <html
// lang> picks one, English otherwise.
var bannerLocales = []string{"en", "fr", "de", "es"}

// bannerData is what the script embeds, with short keys because it travels
// with every page view of the host site.
type bannerData struct {
	Page    string              `json:"p"` // the status page's id, so two pages on one host do not share a dismissal
	Update  string              `json:"v"` // the newest update of the open incidents
	URL     string              `json:"u"`
	Strings map[string][]string `json:"t"` // lead, link, dismiss label, region label
}

// BannerJS renders the banner script for s. When no incident is open the
// script is a comment that does nothing. The output depends on s alone.
func BannerJS(s *status.Snapshot) ([]byte, error) {
	open := s.Open()
	if len(open) == 0 {
		return []byte("/* Candor security-incident banner: no incident is open. */\n"), nil
	}
	// Open incidents come newest first: the bar links to the newest, and
	// comes back whenever any of them gets an update.
	var newest int64
	for _, in := range open {
		for _, u := range in.Updates {
			newest = max(newest, u.ID)
		}
	}
	d := bannerData{
		Page:    s.Page.ID,
		Update:  strconv.FormatInt(newest, 10),
		URL:     strings.TrimSuffix(s.Page.URL, "/") + "/incidents/" + strconv.FormatInt(open[0].ID, 10),
		Strings: map[string][]string{},
	}
	for _, l := range bannerLocales {
		t := uiFor(l)
		d.Strings[l] = []string{t.BannerLead, t.BannerLink, t.BannerDismiss, t.BannerRegion}
	}
	// encoding/json escapes <, > and & and the JavaScript line
	// separators, so no value can close the script or break the literal.
	j, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("banner data: %w", err)
	}
	var b strings.Builder
	if err := bannerTemplate.Execute(&b, string(j)); err != nil {
		return nil, fmt.Errorf("render banner: %w", err)
	}
	return []byte(b.String()), nil
}
