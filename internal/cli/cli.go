// Package cli is the candor command: it parses subcommands and flags, builds
// the logger, the store and the service from the configuration, and wires
// them together. It is the only package that knows every other one.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/config"
	"github.com/candorhq/candor/internal/store"
)

// Exit codes, documented in `candor help`.
const (
	ExitOK       = 0
	ExitError    = 1 // the command failed; the message says why
	ExitUsage    = 2 // wrong flags or arguments
	ExitAudit    = 3 // `audit verify` found the chain broken
	ExitNotFound = 4 // the named user, token or object does not exist
)

// Version is set at build time with -ldflags "-X github.com/candorhq/candor/internal/cli.Version=…".
var Version = "dev"

// Env is what a command runs with: its streams and environment, so that
// tests can run commands in-process.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Ready, if set, is called with the command center's URL once a server
	// listens (tests use it to find a :0 port).
	Ready func(url string)
}

// usageError marks an error as the user's wrong invocation (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

type command struct {
	name, summary string
	run           func(ctx context.Context, env *Env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the command center, API and background work", runServe},
		{"demo", "run the command center on a fresh database with a realistic seeded incident", runDemo},
		{"migrate", "apply database migrations and exit", runMigrate},
		{"user", "manage users: add, list, passwd, disable, enable", runUser},
		{"token", "manage API tokens: create, list, revoke", runToken},
		{"audit", "check the audit log's hash chain: verify", runAudit},
		{"audience", "manage audiences and standing lists: create, list, attach", runAudience},
		{"import", "import recipients from a CSV file into an audience", runImport},
		{"playbook", "response packages: list, apply to an incident, save", runPlaybook},
		{"notice", "an incident's notices: list, show, check", runNotice},
		{"segment", "rules over recipients: count, create, list", runSegment},
		{"send", "send an approved notice and follow it: release, status, pause, resume, cancel, log", runSend},
		{"bench", "measure sending speed against a local SMTP sink: send", runBench},
		{"config", "show the effective configuration: dump", runConfig},
		{"version", "print the version", runVersion},
	}
}

const overview = `Candor — the command center for the day your customers' data is stolen.

Usage:
  candor <command> [flags]

Commands:
%s
Start here:
  candor demo                      a seeded incident at http://127.0.0.1:8080 (prints a login)
  candor user add --email you@example.com --role admin
  candor serve --db candor.db      the real thing (SQLite file, or --db postgres://…)

Every command takes --help. Settings come from flags, then CANDOR_* environment
variables, then an optional --config file of CANDOR_*=value lines, then defaults.

Exit codes: 0 ok, 1 failed (the message says why), 2 wrong usage,
3 audit chain broken, 4 not found.
`

// Run runs the command line args (without the program name) and returns the
// process exit code.
func Run(ctx context.Context, args []string, env *Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	cmds := commands()
	help := func(w io.Writer) {
		var b strings.Builder
		for _, c := range cmds {
			fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.summary)
		}
		fmt.Fprintf(w, overview, b.String())
	}
	if len(args) == 0 {
		help(env.Stderr)
		return ExitUsage
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return Run(ctx, []string{args[1], "--help"}, env)
		}
		help(env.Stdout)
		return ExitOK
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return exitCode(env, c.run(ctx, env, args[1:]))
		}
	}
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	sort.Strings(names)
	fmt.Fprintf(env.Stderr, "candor: unknown command %q; the commands are %s (see candor help)\n", args[0], strings.Join(names, ", "))
	return ExitUsage
}

func exitCode(env *Env, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	var ue usageError
	var ae *auditBroken
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(env.Stderr, "candor: %s\n", ue.msg)
		return ExitUsage
	case errors.As(err, &ae):
		fmt.Fprintf(env.Stderr, "candor: %s\n", ae.Error())
		return ExitAudit
	case apperr.Code(err) == apperr.ENOTFOUND:
		fmt.Fprintf(env.Stderr, "candor: %s\n", apperr.Message(err))
		return ExitNotFound
	case apperr.As(err) != nil:
		e := apperr.As(err)
		if e.Field != "" {
			fmt.Fprintf(env.Stderr, "candor: %s: %s\n", e.Field, e.Message)
		} else {
			fmt.Fprintf(env.Stderr, "candor: %s\n", e.Message)
		}
		for f, m := range apperr.Fields(err) {
			if f != e.Field {
				fmt.Fprintf(env.Stderr, "  %s: %s\n", f, m)
			}
		}
		return ExitError
	}
	fmt.Fprintf(env.Stderr, "candor: %v\n", err)
	return ExitError
}

// flags returns a FlagSet whose --help prints the given text followed by
// the flags.
func flags(env *Env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("candor "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		w := env.Stderr
		fmt.Fprintln(w, strings.TrimSpace(usage))
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, turning flag errors into usage errors; --help returns
// flag.ErrHelp (exit 0).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v (see candor %s --help)", err, strings.TrimPrefix(fs.Name(), "candor "))
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (see %s --help)", fs.Arg(0), fs.Name())
	}
	return nil
}

// openDB opens and migrates the configured database.
func openDB(ctx context.Context, cfg *config.Config, log *slog.Logger, migrate bool) (*store.DB, error) {
	db, err := store.Open(ctx, cfg.DB, log)
	if err != nil {
		return nil, fmt.Errorf("%w\n  check --db (or CANDOR_DB); for PostgreSQL use postgres://user:password@host:5432/dbname", err)
	}
	if migrate {
		if _, err := db.Migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
	} else if v, err := db.SchemaVersion(ctx); err != nil || v == 0 {
		db.Close()
		return nil, fmt.Errorf("the database %s has no Candor schema; run `candor migrate --db …` first", store.Redact(cfg.DB))
	}
	return db, nil
}

// setup loads the config of fs and opens the database and service.
func setup(ctx context.Context, env *Env, l *config.Loader, migrate bool) (*config.Config, *slog.Logger, *app.Service, func(), error) {
	cfg, err := l.Load(env.Getenv)
	if err != nil {
		return nil, nil, nil, nil, usagef("%v", err)
	}
	log := cfg.Logger(env.Stderr)
	db, err := openDB(ctx, cfg, log, migrate)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	svc := app.New(db, log, appOptions(cfg))
	return cfg, log, svc, func() { db.Close() }, nil
}

func runVersion(ctx context.Context, env *Env, args []string) error {
	fs := flags(env, "version", "Usage: candor version\n\nPrints Candor's version.")
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "candor %s\n", Version)
	return nil
}

func runConfig(ctx context.Context, env *Env, args []string) error {
	const usage = `Usage: candor config dump [flags]

Prints every setting as CANDOR_NAME=value with where it came from (flag, env,
config file or default). Passwords in database URLs are redacted, so the
output is safe to paste into a support ticket.`
	if len(args) == 0 || args[0] != "dump" {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			fmt.Fprintln(env.Stderr, usage)
			return flag.ErrHelp
		}
		return usagef("say what to do: candor config dump")
	}
	fs := flags(env, "config dump", usage)
	l := config.Register(fs, config.Server)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := l.Load(env.Getenv)
	if err != nil {
		return usagef("%v", err)
	}
	cfg.Dump(env.Stdout, store.Redact)
	return nil
}

func runMigrate(ctx context.Context, env *Env, args []string) error {
	fs := flags(env, "migrate", `Usage: candor migrate [--db FILE|postgres://…]

Applies the database migrations Candor needs, each in its own transaction,
and records them. Safe to run again, and from several machines at once.
`+"`candor serve`"+` runs it by itself at start; use this before an upgrade or
to create a database ahead of time.`)
	l := config.Register(fs, config.Database)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := l.Load(env.Getenv)
	if err != nil {
		return usagef("%v", err)
	}
	log := cfg.Logger(env.Stderr)
	db, err := store.Open(ctx, cfg.DB, log)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	v, _ := db.SchemaVersion(ctx)
	fmt.Fprintf(env.Stdout, "applied %d migration(s); %s database %s is at schema version %d\n", n, db.Dialect(), store.Redact(cfg.DB), v)
	return nil
}
