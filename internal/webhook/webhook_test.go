package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/webhook"
)

var (
	testKey = webhook.Secret(bytes.Repeat([]byte{0x5a}, 32))
	testNow = time.Unix(1_700_000_000, 0)
)

func headers(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set(webhook.HeaderID, id)
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(webhook.HeaderSignature, sig)
	return h
}

// with returns h with key set to val, or removed when val is empty.
func with(h http.Header, key, val string) http.Header {
	h.Del(key)
	if val != "" {
		h.Set(key, val)
	}
	return h
}

func TestSignKnownVectors(t *testing.T) {
	t.Run("computed from the specification's definition", func(t *testing.T) {
		key := make([]byte, 32)
		for i := range key {
			key[i] = byte(i)
		}
		id, ts, body := "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", int64(1674087231), []byte(`{"type":"incident.updated","data":{"id":7}}`)
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "." + string(body)))
		want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))

		if got := webhook.Sign(key, id, time.Unix(ts, 0), body); got != want {
			t.Errorf("Sign = %s, want %s", got, want)
		}
		// Sub-second precision is not part of the signed string.
		if got := webhook.Sign(key, id, time.Unix(ts, 999_999_999), body); got != want {
			t.Errorf("Sign with nanoseconds = %s, want %s", got, want)
		}
	})
	t.Run("the Standard Webhooks libraries' shared vector", func(t *testing.T) {
		key, err := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
		if err != nil {
			t.Fatal(err)
		}
		got := webhook.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
		if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
			t.Errorf("Sign = %s, want %s", got, want)
		}
	})
}

func TestVerifyRoundTrip(t *testing.T) {
	body := []byte(`{"type":"incident.published"}`)
	sig := webhook.Sign(testKey, "msg_1", testNow, body)
	if err := webhook.Verify(testKey, headers("msg_1", testNow.Unix(), sig), body, testNow, 0); err != nil {
		t.Fatalf("Verify of a fresh signature: %v", err)
	}
	// The official library must agree with our signature, too.
	wh, err := standardwebhooks.NewWebhookRaw(testKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.VerifyIgnoringTimestamp(body, headers("msg_1", testNow.Unix(), sig)); err != nil {
		t.Errorf("standardwebhooks rejects our signature: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	body := []byte(`{"type":"incident.published"}`)
	ts := testNow.Unix()
	good := webhook.Sign(testKey, "msg_1", testNow, body)
	other := webhook.Secret(bytes.Repeat([]byte{1}, 32))

	tests := []struct {
		name    string
		secret  webhook.Secret
		h       http.Header
		body    string
		want    error
		mention string
	}{
		{"tampered body", testKey, headers("msg_1", ts, good), `{"type":"incident.deleted"}`, webhook.ErrSignature, "matches"},
		{"body with a trailing newline", testKey, headers("msg_1", ts, good), string(body) + "\n", webhook.ErrSignature, "matches"},
		{"tampered id", testKey, headers("msg_2", ts, good), string(body), webhook.ErrSignature, "matches"},
		{"tampered timestamp", testKey, headers("msg_1", ts+1, good), string(body), webhook.ErrSignature, "matches"},
		{"wrong secret", other, headers("msg_1", ts, good), string(body), webhook.ErrSignature, "matches"},
		{"signature without scheme", testKey, headers("msg_1", ts, strings.TrimPrefix(good, "v1,")), string(body), webhook.ErrSignature, "no v1 signature"},
		{"only an asymmetric signature", testKey, headers("msg_1", ts, "v1a,"+strings.TrimPrefix(good, "v1,")), string(body), webhook.ErrSignature, "no v1 signature"},
		{"signature not base64", testKey, headers("msg_1", ts, "v1,!!!"), string(body), webhook.ErrSignature, "matches"},
		{"timestamp six minutes old", testKey, headers("msg_1", ts-360, webhook.Sign(testKey, "msg_1", testNow.Add(-6*time.Minute), body)), string(body), webhook.ErrTimestamp, "6m0s old"},
		{"timestamp six minutes ahead", testKey, headers("msg_1", ts+360, webhook.Sign(testKey, "msg_1", testNow.Add(6*time.Minute), body)), string(body), webhook.ErrTimestamp, "in the future"},
		{"missing id", testKey, with(headers("msg_1", ts, good), webhook.HeaderID, ""), string(body), webhook.ErrHeader, "missing webhook-id"},
		{"missing timestamp", testKey, with(headers("msg_1", ts, good), webhook.HeaderTimestamp, ""), string(body), webhook.ErrHeader, "missing webhook-timestamp"},
		{"missing signature", testKey, with(headers("msg_1", ts, good), webhook.HeaderSignature, ""), string(body), webhook.ErrHeader, "missing webhook-signature"},
		{"timestamp in milliseconds", testKey, headers("msg_1", ts*1000, good), string(body), webhook.ErrTimestamp, "in the future"},
		{"timestamp not a number", testKey, with(headers("msg_1", ts, good), webhook.HeaderTimestamp, "yesterday"), string(body), webhook.ErrHeader, `"yesterday" is not a Unix time`},
		{"timestamp with a plus sign", testKey, with(headers("msg_1", ts, good), webhook.HeaderTimestamp, "+"+strconv.FormatInt(ts, 10)), string(body), webhook.ErrHeader, "not a Unix time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.Verify(tt.secret, tt.h, []byte(tt.body), testNow, 5*time.Minute)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want an error wrapping %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
		})
	}
	t.Run("empty secret", func(t *testing.T) {
		sig := webhook.Sign(nil, "msg_1", testNow, body)
		if err := webhook.Verify(nil, headers("msg_1", ts, sig), body, testNow, 0); err == nil {
			t.Error("Verify with an empty secret accepted a message anyone could have signed")
		}
	})
}

func TestVerifyTolerance(t *testing.T) {
	body := []byte(`{}`)
	for _, tt := range []struct {
		name      string
		age       time.Duration
		tolerance time.Duration
		ok        bool
	}{
		{"exactly the default tolerance old", 5 * time.Minute, 0, true},
		{"one second past the default", 5*time.Minute + time.Second, 0, false},
		{"exactly the default tolerance ahead", -5 * time.Minute, 0, true},
		{"one second too far ahead", -5*time.Minute - time.Second, 0, false},
		{"within a custom tolerance", 20 * time.Minute, 30 * time.Minute, true},
		{"outside a custom tolerance", 40 * time.Second, 30 * time.Second, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sent := testNow.Add(-tt.age)
			err := webhook.Verify(testKey, headers("msg_1", sent.Unix(), webhook.Sign(testKey, "msg_1", sent, body)), body, testNow, tt.tolerance)
			if (err == nil) != tt.ok {
				t.Errorf("Verify = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestVerifyMultipleSignatures(t *testing.T) {
	body := []byte(`{"type":"incident.updated"}`)
	oldKey := webhook.Secret(bytes.Repeat([]byte{0x01}, 24))
	newKey := webhook.Secret(bytes.Repeat([]byte{0x02}, 24))
	rotating := webhook.Sign(oldKey, "msg_9", testNow, body) + " " + webhook.Sign(newKey, "msg_9", testNow, body)
	h := headers("msg_9", testNow.Unix(), "v1a,bm90IGEgcmVhbCBlZDI1NTE5IHNpZ25hdHVyZQ==  v1,AAAA "+rotating)

	for _, key := range []webhook.Secret{oldKey, newKey} {
		if err := webhook.Verify(key, h, body, testNow, 0); err != nil {
			t.Errorf("during rotation a receiver holding either key must verify: %v", err)
		}
	}
	if err := webhook.Verify(testKey, h, body, testNow, 0); !errors.Is(err, webhook.ErrSignature) {
		t.Errorf("Verify with a third key = %v, want ErrSignature", err)
	}
}

func TestSecrets(t *testing.T) {
	s1, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := webhook.NewSecret()
	if s1 == s2 {
		t.Fatal("two NewSecret calls returned the same secret")
	}
	if !strings.HasPrefix(s1, "whsec_") {
		t.Fatalf("NewSecret = %q, want a whsec_ prefix", s1)
	}
	key, err := webhook.ParseSecret(s1)
	if err != nil {
		t.Fatalf("ParseSecret(NewSecret()): %v", err)
	}
	if len(key) < 24 || len(key) > 32 {
		t.Errorf("NewSecret key is %d bytes, want 24 to 32", len(key))
	}
	// The official library must read our secrets.
	wh, err := standardwebhooks.NewWebhook(s1)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := wh.Sign("msg_1", testNow, []byte("x"))
	if sig != webhook.Sign(key, "msg_1", testNow, []byte("x")) {
		t.Error("standardwebhooks and ParseSecret disagree on the key")
	}

	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, n)) }
	for _, tt := range []struct {
		in, mention string
	}{
		{"", `must start with "whsec_"`},
		{b64(32), `must start with "whsec_"`},
		{"whsk_" + b64(32), `must start with "whsec_"`},
		{"whsec_", "nothing after"},
		{"whsec_" + strings.Repeat("%", 40), "not standard base64"},
		{"whsec_" + b64(16), "16 bytes, want 24 to 64"},
		{"whsec_" + b64(65), "65 bytes, want 24 to 64"},
	} {
		_, err := webhook.ParseSecret(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("ParseSecret(%.20q) = %v, want an error mentioning %q", tt.in, err, tt.mention)
			continue
		}
		if len(tt.in) > 10 && strings.Contains(err.Error(), tt.in[6:]) {
			t.Errorf("ParseSecret error %q repeats the secret", err)
		}
	}
	for _, n := range []int{24, 64} {
		if _, err := webhook.ParseSecret("whsec_" + b64(n)); err != nil {
			t.Errorf("ParseSecret of a %d-byte key: %v", n, err)
		}
	}
}

func TestSecretRedacted(t *testing.T) {
	key, _ := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "secret", key)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "secret", key)
	fmt.Fprintf(&buf, "%v %s %x %+v", key, key, key, struct{ S webhook.Secret }{key})
	out := buf.String()
	for _, leak := range []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", fmt.Sprintf("%x", []byte(key)), fmt.Sprint([]byte(key))} {
		if strings.Contains(out, leak) {
			t.Errorf("secret leaked into %q", out)
		}
	}
}

// receiver is an httptest server that checks each delivery with the official
// Standard Webhooks library, independently of this package's Verify.
type receiver struct {
	*httptest.Server
	hits    atomic.Int32
	lastErr atomic.Value // error from the official verifier, or a request problem
}

func newReceiver(t *testing.T, secret string, status int) *receiver {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		err := wh.Verify(body, r.Header)
		switch {
		case err != nil:
		case r.Method != http.MethodPost:
			err = fmt.Errorf("method %s", r.Method)
		case r.Header.Get("Content-Type") != "application/json":
			err = fmt.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
		case r.Header.Get("webhook-id") != "msg_2Kx9":
			err = fmt.Errorf("webhook-id %q", r.Header.Get("webhook-id"))
		case string(body) != `{"type":"incident.published","data":{"id":42}}`:
			err = fmt.Errorf("body %q", body)
		default:
			err = fmt.Errorf("ok, User-Agent %s", r.UserAgent())
		}
		rc.lastErr.Store(err)
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func TestPostDelivers(t *testing.T) {
	secret, _ := webhook.NewSecret()
	key, _ := webhook.ParseSecret(secret)
	body := []byte(`{"type":"incident.published","data":{"id":42}}`)

	for _, ua := range []string{"", "Candor-Test/9"} {
		rc := newReceiver(t, secret, http.StatusNoContent)
		c := &webhook.Client{AllowPrivate: true, UserAgent: ua}
		res := c.Post(context.Background(), rc.URL+"/hooks/candor", key, "msg_2Kx9", body)
		if !res.OK() || res.Status != 204 || res.Err != "" || res.Retry {
			t.Fatalf("Post = %+v, want a 204 success", res)
		}
		if res.Duration <= 0 {
			t.Errorf("Duration = %v, want > 0", res.Duration)
		}
		want := "ok, User-Agent " + cmp(ua, webhook.DefaultUserAgent)
		if got := fmt.Sprint(rc.lastErr.Load()); got != want {
			t.Errorf("receiver saw %q, want %q", got, want)
		}
	}

	t.Run("a receiver holding another secret rejects it", func(t *testing.T) {
		other, _ := webhook.NewSecret()
		rc := newReceiver(t, other, http.StatusOK)
		c := &webhook.Client{AllowPrivate: true}
		c.Post(context.Background(), rc.URL, key, "msg_2Kx9", body)
		if err, _ := rc.lastErr.Load().(error); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
			t.Errorf("official verifier with the wrong secret: %v, want ErrNoMatchingSignature", err)
		}
	})
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestPostClassifiesStatuses(t *testing.T) {
	secret := webhook.Secret(testKey)
	tests := []struct {
		status  int
		ok      bool
		retry   bool
		mention string
	}{
		{200, true, false, ""},
		{204, true, false, ""},
		{301, false, false, "redirects are not followed"},
		{400, false, false, "400 Bad Request"},
		{404, false, false, "404 Not Found"},
		{408, false, true, "408 Request Timeout"},
		{410, false, false, "wants no more webhooks"},
		{429, false, true, "429 Too Many Requests"},
		{500, false, true, "500 Internal Server Error"},
		{503, false, true, "503 Service Unavailable"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			var moved atomic.Int32
			mux := http.NewServeMux()
			mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
				if tt.status == 301 {
					http.Redirect(w, r, "/moved", tt.status)
					return
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, "some response body")
			})
			mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { moved.Add(1) })
			srv := httptest.NewServer(mux)
			defer srv.Close()

			res := (&webhook.Client{AllowPrivate: true}).Post(context.Background(), srv.URL+"/hook", secret, "msg_1", []byte(`{}`))
			if res.Status != tt.status || res.OK() != tt.ok || res.Retry != tt.retry {
				t.Errorf("Post = %+v, want Status %d, OK %v, Retry %v", res, tt.status, tt.ok, tt.retry)
			}
			if !strings.Contains(res.Err, tt.mention) || (tt.ok && res.Err != "") {
				t.Errorf("Err = %q, want it to mention %q", res.Err, tt.mention)
			}
			if moved.Load() != 0 {
				t.Error("the redirect was followed")
			}
			if tt.status == 301 && !strings.Contains(res.Err, `"/moved"`) {
				t.Errorf("Err = %q, want the redirect's target named", res.Err)
			}
		})
	}
}

func TestPostConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	res := (&webhook.Client{AllowPrivate: true}).Post(context.Background(), "http://"+addr+"/", testKey, "msg_1", []byte(`{}`))
	if res.OK() || !res.Retry || res.Status != 0 || !strings.Contains(res.Err, "connection refused") {
		t.Errorf("Post to a closed port = %+v, want a retryable connection refused", res)
	}
}

func TestPostRetryAfter(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header string
		want   time.Duration
		slack  time.Duration
	}{
		{"seconds on 429", 429, "120", 2 * time.Minute, 0},
		{"seconds on 503", 503, "7", 7 * time.Second, 0},
		{"HTTP date", 503, time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), time.Hour, 3 * time.Second},
		{"date in the past", 503, "Wed, 21 Oct 2015 07:28:00 GMT", 0, 0},
		{"absent", 503, "", 0, 0},
		{"garbage", 503, "soon", 0, 0},
		{"negative", 429, "-5", 0, 0},
		{"capped at six hours", 429, "31536000", 6 * time.Hour, 0},
		{"ignored on a permanent failure", 400, "60", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			res := (&webhook.Client{AllowPrivate: true}).Post(context.Background(), srv.URL, testKey, "msg_1", []byte(`{}`))
			if d := res.RetryAfter - tt.want; d < -tt.slack || d > tt.slack {
				t.Errorf("RetryAfter = %v, want %v", res.RetryAfter, tt.want)
			}
		})
	}
}

func TestPostTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	c := &webhook.Client{AllowPrivate: true, Timeout: 100 * time.Millisecond}
	res := c.Post(context.Background(), srv.URL, testKey, "msg_1", []byte(`{}`))
	if res.OK() || !res.Retry || !strings.Contains(res.Err, "timeout") {
		t.Errorf("Post to a silent receiver = %+v, want a retryable timeout", res)
	}
	if res.Duration < 100*time.Millisecond || res.Duration > 5*time.Second {
		t.Errorf("Duration = %v, want about the 100ms timeout", res.Duration)
	}
}

func TestPostRefusesPrivateAddresses(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	c := &webhook.Client{} // production settings
	// "localhost" is resolved by DNS (the hosts file): the refusal happens at
	// dial time, on the address, not on the name.
	for _, u := range []string{srv.URL, fmt.Sprintf("http://localhost:%d/", port)} {
		res := c.Post(context.Background(), u, testKey, "msg_1", []byte(`{}`))
		if res.OK() || res.Retry || !strings.Contains(res.Err, "loopback address") {
			t.Errorf("Post(%s) = %+v, want a permanent refusal naming the loopback address", u, res)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the private server received %d requests", n)
	}
}

func TestPostRejectsBadInput(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c := &webhook.Client{AllowPrivate: true}
	for _, tt := range []struct {
		name, url, id string
		secret        webhook.Secret
		mention       string
	}{
		{"ftp URL", "ftp://example.com/", "msg_1", testKey, "url: must start with https://"},
		{"id with a dot", srv.URL, "msg.1", testKey, "message id"},
		{"id with a newline", srv.URL, "msg_1\nX-Evil: 1", testKey, "message id"},
		{"empty id", srv.URL, "", testKey, "empty message id"},
		{"no secret", srv.URL, "msg_1", nil, "no signing secret"},
	} {
		res := c.Post(context.Background(), tt.url, tt.secret, tt.id, []byte(`{}`))
		if res.OK() || res.Retry || !strings.Contains(res.Err, tt.mention) {
			t.Errorf("%s: Post = %+v, want a permanent failure mentioning %q", tt.name, res, tt.mention)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server received %d requests", n)
	}
}

func TestValidateURL(t *testing.T) {
	tests := []struct {
		url          string
		allowPrivate bool
		mention      string // "" means valid
	}{
		{"https://hooks.example.com/candor", false, ""},
		{"http://hooks.example.com:8080/candor?x=1", false, ""},
		{"https://93.184.215.14/hook", false, ""},
		{"https://[2606:4700:4700::1111]/hook", false, ""},
		{"http://127.0.0.1:8080/hook", true, ""},
		{"http://localhost/hook", true, ""},
		{"", false, "required"},
		{"https://example.com/" + strings.Repeat("a", 2000), false, "longer than 2000"},
		{"hooks.example.com/candor", false, "must start with https://"},
		{"ftp://example.com/", false, "must start with https://"},
		{"javascript:alert(1)", false, "must start with https://"},
		{"https://user:pass@example.com/", false, "user name or password"},
		{"https://user@example.com/", false, "user name or password"},
		{"https:///path", false, "no host"},
		{"https://:443/", false, "no host"},
		{"http://example.com:0/", false, "port"},
		{"http://example.com:70000/", false, "port"},
		{"https://exa mple.com/", false, "not a valid URL"},
		{"http://localhost/", false, "localhost"},
		{"http://LOCALHOST./", false, "localhost"},
		{"http://app.localhost/", false, "localhost"},
		{"http://127.0.0.1/", false, "loopback"},
		{"http://[::1]/", false, "loopback"},
		{"http://[::ffff:127.0.0.1]/", false, "loopback"},
		{"http://10.1.2.3/", false, "private"},
		{"http://172.16.0.1/", false, "private"},
		{"http://192.168.1.1/", false, "private"},
		{"http://[fd00::1]/", false, "private"},
		{"http://169.254.169.254/latest/meta-data/", false, "link-local"},
		{"http://[fe80::1]/", false, "link-local"},
		{"http://0.0.0.0/", false, "unspecified"},
		{"http://[::]/", false, "unspecified"},
		{"http://224.0.0.1/", false, "link-local"},
		{"http://239.255.255.250/", false, "multicast"},
		{"http://[ff02::1]/", false, "link-local"},
		{"http://[ff05::1]/", false, "multicast"},
		{"http://100.100.100.200/", false, "reserved"},
		{"http://0.1.2.3/", false, "reserved"},
		{"http://255.255.255.255/", false, "reserved"},
		{"http://[64:ff9b::7f00:1]/", false, "loopback"},
		{"http://[64:ff9b::808:808]/", false, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.60s", tt.url), func(t *testing.T) {
			err := webhook.ValidateURL(tt.url, tt.allowPrivate)
			if tt.mention == "" {
				if err != nil {
					t.Errorf("ValidateURL = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("ValidateURL = %v, want an error mentioning %q", err, tt.mention)
			}
			if apperr.Code(err) != apperr.EINVALID || apperr.Fields(err)["url"] == "" {
				t.Errorf("ValidateURL error %#v is not an EINVALID error on field url", err)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	ceil := func(attempt int) time.Duration {
		d := 30 * time.Second
		for i := 1; i < attempt && d < 6*time.Hour; i++ {
			d *= 2
		}
		return min(d, 6*time.Hour)
	}
	for _, attempt := range []int{-1, 0, 1, 2, 3, 5, 9, 10, 11, 12, 30, 63, 64, 1000} {
		hi := ceil(max(attempt, 1))
		var top time.Duration
		for range 300 {
			d := webhook.Backoff(attempt)
			if d < 0 || d > hi {
				t.Fatalf("Backoff(%d) = %v, want within [0, %v]", attempt, d, hi)
			}
			top = max(top, d)
		}
		// Full jitter spreads over the whole range: with 300 draws the
		// largest falls below half the ceiling with probability 2^-300.
		if top < hi/2 {
			t.Errorf("Backoff(%d): largest of 300 draws %v, want some above %v", attempt, top, hi/2)
		}
	}
	if ceil(11) != 6*time.Hour || ceil(10) >= 6*time.Hour {
		t.Errorf("test's model: the cap should first bind at attempt 11")
	}
}

func FuzzVerify(f *testing.F) {
	body := []byte(`{"type":"incident.published"}`)
	ts := strconv.FormatInt(testNow.Unix(), 10)
	good := webhook.Sign(testKey, "msg_1", testNow, body)
	f.Add("msg_1", ts, good, body)
	f.Add("msg_1", ts, "v1a,xyz "+good+" v1,", body)
	f.Add("msg_1", ts, good, []byte(`{"type":"incident.deleted"}`))
	f.Add("msg_1", "+"+ts, good, body)
	f.Add("msg_1", "1e9", "v1,", body)
	f.Add("", "", "", []byte(nil))
	f.Add("msg_1", "99999999999999999999", ",,, v1 v1,,", body)
	f.Add("msg_1", "-9223372036854775808", "v1,"+strings.Repeat("A", 43)+"=", body)

	f.Fuzz(func(t *testing.T, id, tsv, sig string, body []byte) {
		h := http.Header{}
		h.Set(webhook.HeaderID, id)
		h.Set(webhook.HeaderTimestamp, tsv)
		h.Set(webhook.HeaderSignature, sig)
		err := webhook.Verify(testKey, h, body, testNow, webhook.DefaultTolerance)

		sec, perr := strconv.ParseInt(tsv, 10, 64)
		canonical := perr == nil && strconv.FormatInt(sec, 10) == tsv
		fresh := canonical && sec >= testNow.Unix()-300 && sec <= testNow.Unix()+300
		want := webhook.Sign(testKey, id, time.Unix(sec, 0), body)
		if err == nil {
			if id == "" || !fresh {
				t.Fatalf("verified with id %q, timestamp %q", id, tsv)
			}
			if !containsField(sig, want) {
				t.Fatalf("verified %q, which does not contain the correct signature %q", sig, want)
			}
		}

		// The correct signature among any others must verify.
		if id != "" && fresh {
			h.Set(webhook.HeaderSignature, sig+" "+want)
			if err := webhook.Verify(testKey, h, body, testNow, webhook.DefaultTolerance); err != nil {
				t.Fatalf("correct signature appended to %q rejected: %v", sig, err)
			}
		}
	})
}

func containsField(list, want string) bool {
	for _, f := range strings.Fields(list) {
		if f == want {
			return true
		}
	}
	return false
}

// A receiver checks a delivery before trusting its body.
func ExampleVerify() {
	key, err := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		panic(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read error", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(key, r.Header, body, time.Now(), webhook.DefaultTolerance); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})

	body := []byte(`{"type":"incident.published"}`)
	now := time.Now()
	for _, sig := range []string{webhook.Sign(key, "msg_1", now, body), "v1,forged"} {
		req := httptest.NewRequest(http.MethodPost, "/hooks/candor", bytes.NewReader(body))
		req.Header.Set(webhook.HeaderID, "msg_1")
		req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		req.Header.Set(webhook.HeaderSignature, sig)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// 204
	// 401
}
