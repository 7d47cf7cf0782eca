// Package public is the public side of Candor: the status page, its feeds,
// the Statuspage-compatible JSON, the site banner, the in-app alert and the
// quiet-period flag. Everything it serves is rendered once per change from
// a status.Snapshot and served from memory with ETag, Last-Modified and
// Cache-Control, so the day everybody reads the page at once costs no
// database work per request, and a CDN in front works.
package public

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/status"
)

// Subscriber handles the subscription requests of the public page. Each
// method must behave the same whether or not the address is already known,
// so that nobody can learn from the answer who is subscribed.
type Subscriber interface {
	// Subscribe records a pending subscription and sends the confirmation
	// email. webhookURL is empty for an email subscription.
	Subscribe(ctx context.Context, email, locale, webhookURL string) error
	// Confirm confirms the subscription a token names.
	Confirm(ctx context.Context, token string) error
	// Unsubscribe ends the subscription a token names.
	Unsubscribe(ctx context.Context, token string) error
}

// Options configure a Site.
type Options struct {
	Log *slog.Logger
	// Subscriber handles subscribe, confirm and unsubscribe; nil refuses
	// them with 503.
	Subscriber Subscriber
	// SubscribeLimit limits subscription requests per client address; nil:
	// 5 at once, then one a minute.
	SubscribeLimit *auth.Limiter
	// TrustProxy takes the client address from X-Forwarded-For (set it
	// only behind a proxy that sets that header).
	TrustProxy bool
}

// Site serves the public side from the latest published snapshot.
type Site struct {
	opt Options
	cur atomic.Pointer[rendered]
}

// NewSite returns a site with nothing published: until the first Publish
// it answers 503.
func NewSite(opt Options) *Site {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.SubscribeLimit == nil {
		opt.SubscribeLimit = auth.NewLimiter(5, time.Minute)
	}
	return &Site{opt: opt}
}

// resource is one rendered document with its validators and the header
// values it is served with, made once so that serving it allocates little.
type resource struct {
	body, gz     []byte
	etag         string
	contentType  string
	cacheControl string
	extra        [][2]string

	// Header values, shared by every response (net/http never changes
	// them): keys are in canonical form.
	hdr        http.Header
	length     []string
	gzLength   []string
	gzEncoding []string
	// For FastHandler.
	fast             []fastHeader
	contentTypeBytes []byte
}

// rendered is everything a snapshot renders to.
type rendered struct {
	snap          *status.Snapshot
	modified      []string // Last-Modified, in HTTP date format
	modifiedBytes []byte
	localeBytes   map[string][]byte
	locales       []string
	// byLocale holds the documents that exist in each language (pages and
	// feeds); shared the others (JSON, CSS, the banner).
	byLocale map[string]map[string]*resource
	shared   map[string]*resource
}

// Cache lifetimes. The page must be fresh on the day of a crisis, yet a
// CDN may serve a slightly stale copy while it fetches a new one.
const (
	cachePage   = "public, max-age=15, stale-while-revalidate=30"
	cacheStatic = "public, max-age=300"
	cacheBanner = "public, max-age=60, stale-while-revalidate=60"
)

const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Publish renders snap and makes it what the site serves. On error the
// site keeps serving the previous snapshot.
func (s *Site) Publish(snap *status.Snapshot) error {
	r := &rendered{snap: snap, modified: []string{snap.UpdatedAt.UTC().Format(http.TimeFormat)},
		byLocale: map[string]map[string]*resource{}, shared: map[string]*resource{}}
	r.locales = append([]string{snap.Page.DefaultLocale}, snap.Page.Locales...)
	if r.locales[0] == "" {
		r.locales[0] = "en"
	}
	r.modifiedBytes, r.localeBytes = []byte(r.modified[0]), map[string][]byte{}
	for _, l := range r.locales {
		r.localeBytes[l] = []byte(l)
	}
	for _, loc := range r.locales {
		m := map[string]*resource{}
		pages, err := Pages(snap, loc)
		if err != nil {
			return fmt.Errorf("render status pages (%s): %w", loc, err)
		}
		for path, body := range pages {
			m[path] = newResource(body, "text/html; charset=utf-8", cachePage, [2]string{"Content-Security-Policy", pageCSP})
		}
		atom, err := Atom(snap, loc)
		if err != nil {
			return fmt.Errorf("render Atom feed: %w", err)
		}
		m["/status/feed.atom"] = newResource(atom, "application/atom+xml; charset=utf-8", cachePage, cors)
		rss, err := RSS(snap, loc)
		if err != nil {
			return fmt.Errorf("render RSS feed: %w", err)
		}
		m["/status/feed.rss"] = newResource(rss, "application/rss+xml; charset=utf-8", cachePage, cors)
		r.byLocale[loc] = m
	}
	docs, err := StatuspageDocs(snap)
	if err != nil {
		return fmt.Errorf("render Statuspage JSON: %w", err)
	}
	for path, body := range docs {
		r.shared[path] = newResource(body, "application/json", cachePage, cors)
	}
	alert, err := AlertJSON(snap)
	if err != nil {
		return fmt.Errorf("render alert: %w", err)
	}
	r.shared["/api/v1/alert"] = newResource(alert, "application/json", cachePage, cors)
	quiet, err := QuietJSON(snap)
	if err != nil {
		return fmt.Errorf("render quiet period: %w", err)
	}
	r.shared["/api/v1/quiet-period"] = newResource(quiet, "application/json", cachePage, cors)
	banner, err := BannerJS(snap)
	if err != nil {
		return fmt.Errorf("render banner: %w", err)
	}
	r.shared["/banner.js"] = newResource(banner, "text/javascript; charset=utf-8", cacheBanner, cors, [2]string{"Cross-Origin-Resource-Policy", "cross-origin"})
	r.shared["/status/status.css"] = newResource(StatusCSS(), "text/css; charset=utf-8", cacheStatic)
	s.cur.Store(r)
	return nil
}

var cors = [2]string{"Access-Control-Allow-Origin", "*"}

var varyLocale = []string{"Accept-Language, Cookie"}

// Snapshot returns the snapshot being served (nil before the first
// Publish).
func (s *Site) Snapshot() *status.Snapshot {
	if r := s.cur.Load(); r != nil {
		return r.snap
	}
	return nil
}

func newResource(body []byte, contentType, cacheControl string, extra ...[2]string) *resource {
	sum := sha256.Sum256(body)
	res := &resource{body: body, contentType: contentType, cacheControl: cacheControl, extra: extra,
		etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:15]) + `"`}
	if len(body) > 512 {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		if b.Len() < len(body) {
			res.gz = b.Bytes()
		}
	}
	res.hdr = http.Header{
		"Cache-Control":          {cacheControl},
		"Etag":                   {res.etag},
		"Content-Type":           {contentType},
		"X-Content-Type-Options": {"nosniff"},
		"Referrer-Policy":        {"strict-origin-when-cross-origin"},
	}
	for _, kv := range extra {
		res.hdr[http.CanonicalHeaderKey(kv[0])] = []string{kv[1]}
	}
	res.length = []string{strconv.Itoa(len(body))}
	if res.gz != nil {
		res.hdr["Vary"] = []string{"Accept-Encoding"}
		res.gzLength, res.gzEncoding = []string{strconv.Itoa(len(res.gz))}, []string{"gzip"}
	}
	res.fast, res.contentTypeBytes = res.fastHeaders(), []byte(contentType)
	return res
}

// Paths lists the paths the site answers, for routing.
var Paths = []string{
	"/status", "/status/", "/status/{rest...}",
	"/banner.js", "/api/v1/alert", "/api/v1/quiet-period", "/api/v2/{rest...}",
}

// ServeHTTP serves the public side.
func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	path := r.URL.Path
	if path == "/status/" {
		path = "/status"
	}
	cur := s.cur.Load()
	if cur == nil {
		h.Set("Retry-After", "5")
		http.Error(w, "the status page is starting; try again in a few seconds", http.StatusServiceUnavailable)
		return
	}
	switch path {
	case "/status/subscribe":
		s.subscribe(w, r, cur)
		return
	case "/status/confirm":
		s.token(w, r, cur, false)
		return
	case "/status/unsubscribe":
		s.token(w, r, cur, true)
		return
	}
	if r.Method == http.MethodOptions && cur.shared[path] != nil {
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", "GET, HEAD")
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	res := cur.shared[path]
	if res == nil {
		loc := s.locale(w, r, cur)
		res = cur.byLocale[loc][path]
		if res != nil {
			h["Vary"] = varyLocale
			h["Content-Language"] = []string{loc}
		}
	}
	if res == nil {
		s.message(w, r, cur, http.StatusNotFound, "not-found", "")
		return
	}
	serve(w, r, res, cur.modified)
}

// serve writes res, or 304 when the client's copy is current.
func serve(w http.ResponseWriter, r *http.Request, res *resource, modified []string) {
	h := w.Header()
	for k, v := range res.hdr {
		if k == "Vary" && len(h["Vary"]) > 0 {
			h[k] = append(h[k], v...)
			continue
		}
		h[k] = v
	}
	h["Last-Modified"] = modified
	if notModified(r, res.etag, modified[0]) {
		delete(h, "Content-Type")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body, length := res.body, res.length
	if res.gz != nil && acceptsGzip(r) {
		body, length = res.gz, res.gzLength
		h["Content-Encoding"] = res.gzEncoding
	}
	h["Content-Length"] = length
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// notModified applies RFC 9110's conditional GET: If-None-Match wins over
// If-Modified-Since.
func notModified(r *http.Request, etag, modified string) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == etag || t == "*" {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		since, err1 := http.ParseTime(ims)
		mod, err2 := http.ParseTime(modified)
		return err1 == nil && err2 == nil && !mod.After(since)
	}
	return false
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			return !strings.Contains(strings.ReplaceAll(params, " ", ""), "q=0") || strings.Contains(params, "q=0.")
		}
	}
	return false
}

// locale picks the page language: ?lang= (remembered in a cookie), then
// the cookie, then Accept-Language, then the default.
func (s *Site) locale(w http.ResponseWriter, r *http.Request, cur *rendered) string {
	if r.URL.RawQuery == "" && r.Header.Get("Cookie") == "" {
		return Negotiate(cur.locales, r.Header.Get("Accept-Language"))
	}
	if q := r.URL.Query().Get("lang"); q != "" {
		if l := match(cur.locales, q); l != "" {
			http.SetCookie(w, &http.Cookie{Name: "lang", Value: l, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode, HttpOnly: true})
			return l
		}
	}
	if c, err := r.Cookie("lang"); err == nil {
		if l := match(cur.locales, c.Value); l != "" {
			return l
		}
	}
	return Negotiate(cur.locales, r.Header.Get("Accept-Language"))
}

// match returns the offered locale equal to tag, or to its base language.
func match(offered []string, tag string) string {
	tag = strings.ToLower(strings.TrimSpace(tag))
	for _, l := range offered {
		if strings.ToLower(l) == tag {
			return l
		}
	}
	base := status.BaseLanguage(tag)
	for _, l := range offered {
		if strings.ToLower(l) == base || status.BaseLanguage(l) == base {
			return l
		}
	}
	return ""
}

// Negotiate picks from offered (the first is the default) the language an
// Accept-Language header prefers most (RFC 9110 section 12.5.4).
func Negotiate(offered []string, header string) string {
	if header == "" {
		return offered[0]
	}
	type pref struct {
		tag string
		q   float64
	}
	var prefs []pref
	for i, part := range strings.Split(header, ",") {
		if i >= 20 {
			break
		}
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
				q = f
			}
		}
		if tag != "" && tag != "*" && q > 0 {
			prefs = append(prefs, pref{tag, q})
		}
	}
	slices.SortStableFunc(prefs, func(a, b pref) int {
		switch {
		case a.q > b.q:
			return -1
		case a.q < b.q:
			return 1
		}
		return 0
	})
	for _, p := range prefs {
		if l := match(offered, p.tag); l != "" {
			return l
		}
	}
	return offered[0]
}

// clientIP is the address subscription limits count against.
func (s *Site) clientIP(r *http.Request) string {
	if s.opt.TrustProxy {
		if f := r.Header.Get("X-Forwarded-For"); f != "" {
			first, _, _ := strings.Cut(f, ",")
			return strings.TrimSpace(first)
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// message answers with a page in the site's chrome: the message key's
// title and text in the reader's language, or text when it is given (an
// error that names the problem).
func (s *Site) message(w http.ResponseWriter, r *http.Request, cur *rendered, code int, key, text string) {
	loc := s.locale(w, r, cur)
	title, said := message(loc, key)
	if text == "" {
		text = said
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	w.WriteHeader(code)
	w.Write(MessagePage(cur.snap, loc, title, text))
}

// maxForm bounds a subscription request's body.
const maxForm = 4 << 10

func (s *Site) subscribe(w http.ResponseWriter, r *http.Request, cur *rendered) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		s.message(w, r, cur, http.StatusMethodNotAllowed, "use-form", "")
		return
	}
	if s.opt.Subscriber == nil {
		s.message(w, r, cur, http.StatusServiceUnavailable, "off", "")
		return
	}
	if ok, retry := s.opt.SubscribeLimit.Allow(s.clientIP(r)); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())+1))
		s.message(w, r, cur, http.StatusTooManyRequests, "too-many", "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		s.message(w, r, cur, http.StatusBadRequest, "bad-form", "")
		return
	}
	loc := match(cur.locales, r.PostForm.Get("lang"))
	if loc == "" {
		loc = s.locale(w, r, cur)
	}
	err := s.opt.Subscriber.Subscribe(r.Context(), strings.TrimSpace(r.PostForm.Get("email")), loc, strings.TrimSpace(r.PostForm.Get("webhook_url")))
	if err != nil {
		if e := apperr.As(err); e.Code == apperr.EINVALID {
			s.message(w, r, cur, http.StatusBadRequest, "bad-address", e.Message)
			return
		}
		s.opt.Log.Error("subscribe", "err", err)
		s.message(w, r, cur, http.StatusInternalServerError, "failed", "")
		return
	}
	s.message(w, r, cur, http.StatusOK, "inbox", "")
}

// token handles confirmation links (GET) and unsubscription (GET shows a
// button; POST, from that button or a mail client's one-click request per
// RFC 8058, unsubscribes).
func (s *Site) token(w http.ResponseWriter, r *http.Request, cur *rendered, unsubscribe bool) {
	if s.opt.Subscriber == nil {
		s.message(w, r, cur, http.StatusServiceUnavailable, "off", "")
		return
	}
	tok := r.URL.Query().Get("t")
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		r.ParseForm()
		if v := r.PostForm.Get("t"); v != "" {
			tok = v
		}
	}
	var err error
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodPost:
		w.Header().Set("Allow", "GET, POST")
		s.message(w, r, cur, http.StatusMethodNotAllowed, "not-allowed", "")
		return
	case !unsubscribe:
		err = s.opt.Subscriber.Confirm(r.Context(), tok)
	case r.Method == http.MethodGet:
		// A link scanner following the link must not unsubscribe anyone:
		// a GET shows a button that POSTs.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", pageCSP)
		w.Write(UnsubscribePage(cur.snap, s.locale(w, r, cur), tok))
		return
	default:
		err = s.opt.Subscriber.Unsubscribe(r.Context(), tok)
	}
	if err != nil {
		if e := apperr.As(err); e.Code == apperr.EINVALID || e.Code == apperr.ENOTFOUND {
			s.message(w, r, cur, http.StatusBadRequest, "bad-link", "")
			return
		}
		s.opt.Log.Error("subscription_token", "err", err)
		s.message(w, r, cur, http.StatusInternalServerError, "link-failed", "")
		return
	}
	if unsubscribe {
		s.message(w, r, cur, http.StatusOK, "unsubscribed", "")
		return
	}
	s.message(w, r, cur, http.StatusOK, "confirmed", "")
}

// ErrNotPublished is returned before the first snapshot.
var ErrNotPublished = errors.New("public: nothing published yet")
