package public

import (
	"bytes"
	"net/http"

	"github.com/valyala/fasthttp"
)

// fastHeader is one header field of a resource, in the form fasthttp
// writes without converting.
type fastHeader struct{ key, value []byte }

// fastHeaders returns res's header fields for FastHandler.
func (res *resource) fastHeaders() []fastHeader {
	var out []fastHeader
	for k, v := range res.hdr {
		if k == "Content-Type" {
			continue
		}
		out = append(out, fastHeader{[]byte(k), []byte(v[0])})
	}
	return out
}

var (
	hLastModified    = []byte("Last-Modified")
	hVary            = []byte("Vary")
	hContentLanguage = []byte("Content-Language")
	hContentEncoding = []byte("Content-Encoding")
	hIfNoneMatch     = []byte("If-None-Match")
	hIfModifiedSince = []byte("If-Modified-Since")
	hAcceptEncoding  = []byte("Accept-Encoding")
	hAcceptLanguage  = []byte("Accept-Language")
	hCookie          = []byte("Cookie")
	vGzip            = []byte("gzip")
	vVaryLocale      = []byte("Accept-Language, Cookie")
	vVaryLocaleGzip  = []byte("Accept-Language, Cookie, Accept-Encoding")
)

// FastHandler serves the site's rendered documents with fasthttp, for a
// listener of the public side's own (--public-addr): on the day of the
// surge, a plain GET of a page, feed or JSON document costs a map lookup
// and one write, with no allocation. Everything else — forms, the
// subscription links, a language chosen by ?lang= or cookie, 404s — goes
// to slow, the same site served through net/http (adapted), so both paths
// answer the same.
func (s *Site) FastHandler(slow fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		cur := s.cur.Load()
		if cur == nil || !(ctx.IsGet() || ctx.IsHead()) {
			slow(ctx)
			return
		}
		path := ctx.Path()
		if string(path) == "/status/" {
			path = path[:len(path)-1]
		}
		res := cur.shared[string(path)]
		loc := ""
		if res == nil {
			h := &ctx.Request.Header
			if len(ctx.URI().QueryString()) > 0 || len(h.PeekBytes(hCookie)) > 0 {
				slow(ctx)
				return
			}
			loc = cur.locales[0]
			if al := h.PeekBytes(hAcceptLanguage); len(al) > 0 {
				loc = Negotiate(cur.locales, string(al))
			}
			if res = cur.byLocale[loc][string(path)]; res == nil {
				slow(ctx)
				return
			}
		}
		if res.fast == nil {
			slow(ctx)
			return
		}
		rh := &ctx.Response.Header
		for _, f := range res.fast {
			rh.SetCanonical(f.key, f.value)
		}
		rh.SetCanonical(hLastModified, cur.modifiedBytes)
		if loc != "" {
			// Replaces the resource's own Vary (Accept-Encoding).
			if res.gz != nil {
				rh.SetCanonical(hVary, vVaryLocaleGzip)
			} else {
				rh.SetCanonical(hVary, vVaryLocale)
			}
			rh.SetCanonical(hContentLanguage, cur.localeBytes[loc])
		}
		if fastNotModified(&ctx.Request.Header, res.etag, cur.modified[0]) {
			ctx.SetStatusCode(http.StatusNotModified)
			ctx.Response.SkipBody = true
			return
		}
		rh.SetContentTypeBytes(res.contentTypeBytes)
		body := res.body
		if res.gz != nil && fastAcceptsGzip(ctx.Request.Header.PeekBytes(hAcceptEncoding)) {
			body = res.gz
			rh.SetCanonical(hContentEncoding, vGzip)
		}
		ctx.SetStatusCode(http.StatusOK)
		ctx.Response.SetBodyRaw(body)
	}
}

func fastNotModified(h *fasthttp.RequestHeader, etag, modified string) bool {
	inm := h.PeekBytes(hIfNoneMatch)
	ims := h.PeekBytes(hIfModifiedSince)
	if len(inm) == 0 && len(ims) == 0 {
		return false
	}
	r := http.Request{Header: http.Header{}}
	if len(inm) > 0 {
		r.Header["If-None-Match"] = []string{string(inm)}
	}
	if len(ims) > 0 {
		r.Header["If-Modified-Since"] = []string{string(ims)}
	}
	return notModified(&r, etag, modified)
}

func fastAcceptsGzip(ae []byte) bool {
	if !bytes.Contains(bytes.ToLower(ae), vGzip) {
		return false
	}
	r := http.Request{Header: http.Header{"Accept-Encoding": {string(ae)}}}
	return acceptsGzip(&r)
}
