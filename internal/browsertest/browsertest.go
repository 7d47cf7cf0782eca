// Package browsertest runs tests in a real headless Chromium through
// chromedp: it finds the browser, starts it with a fresh profile for each
// test, and runs named steps that, when they fail, save a full-page
// screenshot under testdata/failures of the package under test and stop
// the test. Tests are skipped when no Chromium is installed.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Timeout bounds a whole browser test.
const Timeout = 50 * time.Second

// Find returns Debian's chromium, or another Chrome on PATH; it skips the
// test when there is none.
func Find(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("browser tests skipped: no Chromium found; install it with apt-get install chromium")
	return ""
}

// Browser is one headless Chromium tab for a test. Ctx is its chromedp
// context, for actions and event subscriptions; Base is the address of the
// server under test.
type Browser struct {
	T     *testing.T
	Ctx   context.Context
	Base  string
	steps int
}

// New starts a headless Chromium with a fresh profile and a 1280×900
// viewport. The browser stops when the test ends, or after Timeout.
func New(t *testing.T, base string) *Browser {
	t.Helper()
	exe := Find(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoDefaultBrowserCheck,
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, Timeout)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("start chromium (%s): %v", exe, err)
	}
	return &Browser{T: t, Ctx: ctx, Base: base}
}

// Tab opens another tab in the same browser, sharing its cookies and
// storage.
func (b *Browser) Tab() *Browser {
	b.T.Helper()
	ctx, cancel := chromedp.NewContext(b.Ctx)
	b.T.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		b.T.Fatalf("open tab: %v", err)
	}
	return &Browser{T: b.T, Ctx: ctx, Base: b.Base}
}

// Run performs one named step; on failure it saves a screenshot and stops
// the test.
func (b *Browser) Run(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.T.Helper()
	b.steps++
	if err := chromedp.Do(b.Ctx, actions...); err != nil {
		b.Fail(step, err)
	}
}

// Get performs one named step that reads a value.
func Get[T any](b *Browser, step string, a chromedp.Action[T]) T {
	b.T.Helper()
	b.steps++
	v, err := chromedp.Run(b.Ctx, a)
	if err != nil {
		b.Fail(step, err)
	}
	return v
}

// Fail stops the test at step with err, after saving a full-page
// screenshot of where the browser is under testdata/failures.
func (b *Browser) Fail(step string, err error) {
	b.T.Helper()
	shot := ""
	// A fresh context, so a timed-out step can still be photographed.
	if sctx, cancel := context.WithTimeout(b.Ctx, 5*time.Second); sctx.Err() == nil {
		defer cancel()
		if png, e := chromedp.Run(sctx, chromedp.FullScreenshot(100)); e == nil {
			dir := filepath.Join("testdata", "failures")
			os.MkdirAll(dir, 0o755)
			name := strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
					return r
				}
				return '-'
			}, strings.ToLower(fmt.Sprintf("%s-%02d-%s", b.T.Name(), b.steps, step)))
			shot = filepath.Join(dir, name+".png")
			if e := os.WriteFile(shot, png, 0o644); e != nil {
				shot = ""
			}
		}
	}
	if shot != "" {
		abs, _ := filepath.Abs(shot)
		b.T.Fatalf("step %q: %v (screenshot: %s)", step, err, abs)
	}
	b.T.Fatalf("step %q: %v (no screenshot)", step, err)
}

// Text returns the visible text of the page's main element.
func (b *Browser) Text(step string) string {
	b.T.Helper()
	return Get(b, step, chromedp.Text(chromedp.CSS("main")))
}

// Expect fails the step unless the page's main element says every one of
// wants.
func (b *Browser) Expect(step string, wants ...string) {
	b.T.Helper()
	s := b.Text(step)
	for _, w := range wants {
		if !strings.Contains(s, w) {
			b.Fail(step, fmt.Errorf("page does not say %q; it says:\n%s", w, s))
		}
	}
}
