// Package storetest gives tests a fresh, migrated database of each dialect:
// SQLite always, and PostgreSQL when CANDOR_TEST_POSTGRES_URL names a server
// or PostgreSQL's server binaries are installed (then a throwaway cluster is
// started in a temporary directory for the test binary and removed after).
//
// Packages that use PostgreSQL call Main from TestMain so that the cluster
// is stopped when their tests end:
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/candorhq/candor/internal/store"
)

// EnvURL names a PostgreSQL server to use instead of a throwaway cluster. The
// user must be allowed to create databases; each test creates and drops its own.
const EnvURL = "CANDOR_TEST_POSTGRES_URL"

// Main runs the tests and then stops any cluster they started.
func Main(m *testing.M) {
	code := m.Run()
	shutdown()
	os.Exit(code)
}

// Each runs fn as a subtest once per available dialect ("sqlite", "postgres"),
// each with a fresh migrated database. The PostgreSQL case is skipped, saying
// how to enable it, when no server is available.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite returns a fresh migrated SQLite database in a temporary directory.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "candor.db"))
}

// SQLiteDSN returns the path of a fresh, not yet migrated, SQLite database.
func SQLiteDSN(t testing.TB) string {
	return filepath.Join(t.TempDir(), "candor.db")
}

// Postgres returns a fresh migrated PostgreSQL database, or skips the test.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	return open(t, PostgresDSN(t))
}

// PostgresDSN creates an empty PostgreSQL database for this test, dropped
// when the test ends, and returns its URL; it skips the test when no server
// is available.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base, err := server()
	if err != nil {
		t.Skipf("PostgreSQL cases skipped: %v. To run them, set %s=postgres://user@host:port/db or install PostgreSQL's server (apt-get install postgresql)", err, EnvURL)
	}
	name := fmt.Sprintf("candor_t%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, seq.Add(1))
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", base, err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	u, _ := url.Parse(base)
	u.Path = "/" + name
	return u.String()
}

var seq atomic.Int64

func open(t testing.TB, dsn string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

var (
	once    sync.Once
	baseURL string
	baseErr error
	stop    func()
)

// server returns the URL of a PostgreSQL server's maintenance database,
// starting a throwaway cluster the first time when no URL is configured.
func server() (string, error) {
	once.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			baseURL = u
			return
		}
		baseURL, stop, baseErr = startCluster()
	})
	return baseURL, baseErr
}

func shutdown() {
	if stop != nil {
		stop()
	}
}

// binDir finds the directory holding initdb and pg_ctl.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", fmt.Errorf("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

// startCluster initialises a cluster in a temporary directory and starts it
// on a free loopback port. PostgreSQL refuses to run as root, so as root the
// cluster runs as the "postgres" system user.
func startCluster() (string, func(), error) {
	bin, err := binDir()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "candor-pg-*")
	if err != nil {
		return "", nil, err
	}
	var asUser []string
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("running as root and there is no postgres user to run a throwaway cluster as")
		}
		asUser = []string{"runuser", "-u", "postgres", "--"}
		_ = os.Chmod(dir, 0o777)
		if err := exec.Command("chown", pg.Uid+":"+pg.Gid, dir).Run(); err != nil {
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("chown cluster dir: %w", err)
		}
	}
	run := func(name string, args ...string) ([]byte, error) {
		full := append(append([]string{}, asUser...), filepath.Join(bin, name))
		full = append(full, args...)
		return exec.Command(full[0], full[1:]...).CombinedOutput()
	}
	data := filepath.Join(dir, "data")
	if out, err := run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("initdb: %v: %s", err, strings.TrimSpace(string(out)))
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off", port, dir)
	if out, err := run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("pg_ctl start: %v: %s", err, strings.TrimSpace(string(out)))
	}
	stopFn := func() {
		_, _ = run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
		os.RemoveAll(dir)
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), stopFn, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
