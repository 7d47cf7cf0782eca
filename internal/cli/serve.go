package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/config"
	"github.com/candorhq/candor/internal/demo"
	"github.com/candorhq/candor/internal/email/mailbox"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/public"
	"github.com/candorhq/candor/internal/server"
	"github.com/candorhq/candor/internal/status"
	"github.com/candorhq/candor/internal/web"
)

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := flags(env, "serve", `Usage: candor serve [--addr 127.0.0.1:8080] [--db candor.db|postgres://…]

Runs the command center (admin UI at /, JSON API at /api/v1, /healthz,
/metrics) and the public status site (/status, /api/v2/*.json, /banner.js,
/api/v1/alert, /api/v1/quiet-period; also alone on --public-addr, the fast
way to serve it on announcement day). It applies pending migrations first.
Stop it with Ctrl-C or SIGTERM: requests in flight get 15 seconds to finish.

Before the first start, create an admin:
  candor user add --email you@example.com --role admin

Examples:
  candor serve
  candor serve --addr 0.0.0.0:8080 --db postgres://candor:secret@db:5432/candor
  CANDOR_DB=postgres://… CANDOR_LOG_FORMAT=json candor serve`)
	l := config.Register(fs, config.Server)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, log, svc, done, err := setup(ctx, env, l, true)
	if err != nil {
		return err
	}
	defer done()
	if n, _ := svc.DB().CountUsers(ctx); n == 0 {
		log.Warn("no_users", "hint", "create an admin with: candor user add --email you@example.com --role admin")
	}
	return listenAndServe(ctx, env, cfg, log, svc, nil, web.Options{}, nil)
}

// listenAndServe serves until ctx ends. banner, if set, is printed once the
// listener is up, with the URL.
func listenAndServe(ctx context.Context, env *Env, cfg *config.Config, log *slog.Logger, svc *app.Service, banner func(url string), webOpts web.Options, demoHandler http.Handler) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another program using the port? pick another with --addr)", cfg.Addr, err)
	}
	reg := prometheus.NewRegistry()
	stopSending, err := startSending(ctx, cfg, log, svc, reg)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopSending()
	url := "http://" + ln.Addr().String()
	site, stopPublic, err := startPublic(ctx, cfg, log, svc, url)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopPublic()
	webOpts.Public = site
	h := server.Handler(svc, log, server.Options{SecureCookies: cfg.SecureCookies, Version: Version, Registry: reg, Web: webOpts, Public: site, Demo: demoHandler})
	srv := server.NewHTTPServer(h, log)
	errc := make(chan error, 1)
	if cfg.Public.Addr != "" {
		pln, err := net.Listen("tcp", cfg.Public.Addr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s (--public-addr): %w", cfg.Public.Addr, err)
		}
		psrv := server.NewPublicServer(site, server.PublicHandler(site, log, reg), log, reg)
		log.Info("listening_public", "url", "http://"+pln.Addr().String()+"/status")
		go func() { errc <- server.ServePublic(ctx, psrv, pln, 15*time.Second) }()
	} else {
		close(errc)
	}
	log.Info("listening", "url", url, "status_page", url+"/status", "database", svc.DB().Dialect())
	if banner != nil {
		banner(url)
	}
	if env.Ready != nil {
		env.Ready(url)
	}
	err = server.Serve(ctx, srv, ln, 15*time.Second)
	if perr := <-errc; err == nil {
		err = perr
	}
	log.Info("stopped")
	return err
}

// startPublic builds the public site and runs what keeps it current; the
// returned function stops it.
func startPublic(ctx context.Context, cfg *config.Config, log *slog.Logger, svc *app.Service, listenURL string) (*public.Site, func(), error) {
	pubURL := cfg.Public.URL
	if pubURL == "" {
		pubURL = listenURL + "/status"
	}
	opt := app.PublicOptions{URL: pubURL, AllowPrivateWebhooks: isLoopbackURL(pubURL)}
	if cfg.Email.SMTPAddr != "" {
		ec, err := emailConfig(cfg.Email)
		if err != nil {
			return nil, nil, usagef("%v", err)
		}
		opt.Mail = transactionalMail(ec)
	}
	svc.SetPublic(opt)
	siteOpt := public.Options{Log: log.With("component", "public"), TrustProxy: cfg.Public.TrustProxy}
	if opt.Mail != nil {
		siteOpt.Subscriber = svc
	}
	site := public.NewSite(siteOpt)
	sum := sha256.Sum256([]byte(pubURL))
	locales := cfg.Public.Locales
	if len(locales) == 0 {
		locales = []string{"en"}
	}
	page := status.Page{ID: hex.EncodeToString(sum[:6]), Name: svc.Company().Name, URL: pubURL, DefaultLocale: locales[0], Locales: locales[1:]}
	r := svc.NewPublicRunner(site, page)
	if err := r.Refresh(ctx); err != nil {
		return nil, nil, fmt.Errorf("build the status page: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(runCtx)
	}()
	go func() {
		<-ctx.Done()
		cancel()
	}()
	return site, func() { cancel(); <-done }, nil
}

// isLoopbackURL reports whether the status page is only reachable on this
// machine (a demo, a test): then webhooks may reach loopback addresses too.
func isLoopbackURL(raw string) bool {
	u, err := neturl.Parse(raw)
	if err != nil {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return u.Hostname() == "localhost" || ip != nil && ip.IsLoopback()
}

func runDemo(ctx context.Context, env *Env, args []string) error {
	fs := flags(env, "demo", `Usage: candor demo [--addr 127.0.0.1:8080] [--dir DIR]

Starts the command center on a fresh SQLite database with a realistic
incident already open: a small internet provider whose 14,872 subscribers'
card numbers were stolen by an extortionist. One account per role is created
and printed with its password, so you can see what each role may do.

Nothing leaves this machine: email goes to a test mailbox inside the
process (a real SMTP server on loopback), and the command center shows what
each recipient received under "Demo mailbox". Release the approved customer
alert from its notice page to watch 15,000 messages go out.

The incident is public: /status is what subscribers read (no sign-in), with
its feeds, Statuspage JSON (/api/v2/summary.json), banner (/banner.js) and
in-app alert (/api/v1/alert). Post an update from the incident page as the
approver, with "Send to subscribers" ticked: three demo subscribers get it
in the mailbox and a partner's status bot gets a signed webhook, shown at
/demo/webhooks.

The database and the mailbox live in DIR (a new temporary directory by
default, removed on exit; with --dir it is kept).`)
	l := config.Register(fs, config.Server)
	dir := fs.String("dir", "", "directory for the demo database (default: a temporary directory, removed on exit)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := l.Load(env.Getenv)
	if err != nil {
		return usagef("%v", err)
	}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "candor-demo-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	} else if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	cfg.DB = filepath.Join(*dir, "candor-demo.db")
	if _, err := os.Stat(cfg.DB); err == nil {
		return usagef("%s already holds a demo database; remove it or pick another --dir", cfg.DB)
	}
	log := cfg.Logger(env.Stderr)
	mb, err := mailbox.Start("127.0.0.1:0", filepath.Join(*dir, "mailbox"), log)
	if err != nil {
		return fmt.Errorf("start the demo mailbox: %w", err)
	}
	defer mb.Close()
	cfg.Email = demoEmail(cfg.Email, mb.Addr())
	db, err := openDB(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer db.Close()
	opts := appOptions(cfg)
	opts.Company = demo.Company // the demo speaks for its made-up provider
	svc := app.New(db, log, opts)
	password := demoPassword()
	logins, in, err := demo.Seed(ctx, svc, password)
	if err != nil {
		return fmt.Errorf("seed the demo: %w", err)
	}
	inbox := demo.NewWebhookInbox(db)
	return listenAndServe(ctx, env, cfg, log, svc, func(url string) {
		if err := demo.SeedSubscribers(ctx, svc, url+"/demo/webhooks"); err != nil {
			log.Error("demo_subscribers", "err", err)
		}
		w := env.Stdout
		fmt.Fprintf(w, "\nCandor demo is running at %s\n\n", url)
		fmt.Fprintf(w, "  Incident: %q (%s)\n  %s/incidents/%d\n\n", in.Title, in.State, url, in.ID)
		fmt.Fprintf(w, "  Sign in as (password for all: %s)\n", password)
		for _, lg := range logins {
			fmt.Fprintf(w, "    %-24s %s\n", lg.Email, lg.Role)
		}
		fmt.Fprintf(w, "\n  Public status page: %s/status   (banner: %s/banner.js, Statuspage JSON: %s/api/v2/summary.json)\n", url, url, url)
		fmt.Fprintf(w, "  Email goes to the demo mailbox (SMTP %s): %s/mailbox\n", mb.Addr(), url)
		fmt.Fprintf(w, "  Webhooks go to the demo receiver: %s/demo/webhooks\n", url)
		fmt.Fprintf(w, "\n  Database: %s\n  Press Ctrl-C to stop.\n\n", cfg.DB)
	}, web.Options{Mailbox: mb}, inbox)
}

// demoEmail routes the demo's email to its mailbox, as linkLINE.
func demoEmail(e config.Email, addr string) config.Email {
	e.SMTPAddr, e.SMTPSecurity, e.SMTPUser, e.SMTPPassword = addr, "none", "", ""
	e.From, e.Domain = "linkLINE Security <security@linkline.example>", "linkline.example"
	e.DKIMSelector, e.DKIMKeyFile = "", ""
	return e
}

// demoPassword is a fresh password for the demo accounts: random, so that a
// demo left running on a reachable address is not open to anyone.
func demoPassword() string {
	return "demo-" + auth.NewSecret()[:12]
}

// appOptions are the service's options from the configuration.
func appOptions(cfg *config.Config) app.Options {
	return app.Options{SessionTTL: cfg.SessionTTL, Company: notice.Company{Name: cfg.CompanyName, SupportURL: cfg.CompanyURL}, Approvals: cfg.Approvals}
}
