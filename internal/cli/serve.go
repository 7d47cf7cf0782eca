package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
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
	"github.com/candorhq/candor/internal/server"
	"github.com/candorhq/candor/internal/web"
)

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := flags(env, "serve", `Usage: candor serve [--addr 127.0.0.1:8080] [--db candor.db|postgres://…]

Runs the command center (admin UI at /, JSON API at /api/v1, /healthz,
/metrics). It applies pending migrations first. Stop it with Ctrl-C or
SIGTERM: requests in flight get 15 seconds to finish.

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
	return listenAndServe(ctx, env, cfg, log, svc, nil, web.Options{})
}

// listenAndServe serves until ctx ends. banner, if set, is printed once the
// listener is up, with the URL.
func listenAndServe(ctx context.Context, env *Env, cfg *config.Config, log *slog.Logger, svc *app.Service, banner func(url string), webOpts web.Options) error {
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
	h := server.Handler(svc, log, server.Options{SecureCookies: cfg.SecureCookies, Version: Version, Registry: reg, Web: webOpts})
	srv := server.NewHTTPServer(h, log)
	log.Info("listening", "url", url, "database", svc.DB().Dialect())
	if banner != nil {
		banner(url)
	}
	if env.Ready != nil {
		env.Ready(url)
	}
	err = server.Serve(ctx, srv, ln, 15*time.Second)
	log.Info("stopped")
	return err
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
	return listenAndServe(ctx, env, cfg, log, svc, func(url string) {
		w := env.Stdout
		fmt.Fprintf(w, "\nCandor demo is running at %s\n\n", url)
		fmt.Fprintf(w, "  Incident: %q (%s)\n  %s/incidents/%d\n\n", in.Title, in.State, url, in.ID)
		fmt.Fprintf(w, "  Sign in as (password for all: %s)\n", password)
		for _, lg := range logins {
			fmt.Fprintf(w, "    %-24s %s\n", lg.Email, lg.Role)
		}
		fmt.Fprintf(w, "\n  Email goes to the demo mailbox (SMTP %s): %s/mailbox\n", mb.Addr(), url)
		fmt.Fprintf(w, "\n  Database: %s\n  Press Ctrl-C to stop.\n\n", cfg.DB)
	}, web.Options{Mailbox: mb})
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
