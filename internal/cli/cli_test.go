package cli_test

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/candorhq/candor/internal/cli"
	"github.com/candorhq/candor/internal/store/storetest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		runChild()
	}
	storetest.Main(m)
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, stdin string, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), args, &cli.Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return result{code, out.String(), errb.String()}
}

func eachDSN(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, storetest.SQLiteDSN(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, storetest.PostgresDSN(t)) })
}

func TestUsersTokensAndAuditVerify(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		env := map[string]string{"CANDOR_DB": dsn, "CANDOR_LOG_LEVEL": "warn"}
		if r := run(t, "", env, "user", "list"); r.code != 1 || !strings.Contains(r.stderr, "candor migrate") {
			t.Fatalf("user list before migrate: %+v", r)
		}
		if r := run(t, "", env, "migrate"); r.code != 0 || strings.Contains(r.stdout, "applied 0 migration") {
			t.Fatalf("migrate: %+v", r)
		}
		if r := run(t, "", env, "migrate"); r.code != 0 || !strings.Contains(r.stdout, "applied 0 migration") {
			t.Fatalf("migrate again: %+v", r)
		}
		if r := run(t, "a long enough passphrase\n", env, "user", "add", "--email", "Ana@Example.com", "--role", "admin", "--name", "Ana"); r.code != 0 {
			t.Fatalf("user add: %+v", r)
		}
		if r := run(t, "short\n", env, "user", "add", "--email", "sam@example.com", "--role", "editor"); r.code != 1 || !strings.Contains(r.stderr, "password") {
			t.Fatalf("short password: %+v", r)
		}
		if r := run(t, "a long enough passphrase\n", env, "user", "add", "--email", "sam@example.com", "--role", "chief"); r.code != 2 || !strings.Contains(r.stderr, "unknown role") {
			t.Fatalf("bad role: %+v", r)
		}
		if r := run(t, "a long enough passphrase\n", env, "user", "add", "--email", "ana@example.com", "--role", "viewer"); r.code != 1 || !strings.Contains(r.stderr, "already exists") {
			t.Fatalf("duplicate: %+v", r)
		}
		r := run(t, "", env, "user", "list")
		if r.code != 0 || !strings.Contains(r.stdout, "ana@example.com") || !strings.Contains(r.stdout, "admin") {
			t.Fatalf("user list: %+v", r)
		}
		if r := run(t, "", env, "user", "disable", "--email", "ana@example.com"); r.code != 1 || !strings.Contains(r.stderr, "without an enabled admin") {
			t.Fatalf("disable last admin: %+v", r)
		}
		if r := run(t, "", env, "user", "disable", "--email", "nobody@example.com"); r.code != 4 {
			t.Fatalf("disable unknown user: %+v", r)
		}
		tok := run(t, "", env, "token", "create", "--email", "ana@example.com", "--name", "ci")
		if tok.code != 0 || !strings.HasPrefix(tok.stdout, "cndr_") {
			t.Fatalf("token create: %+v", tok)
		}
		if r := run(t, "", env, "token", "list"); r.code != 0 || strings.Contains(r.stdout, strings.TrimSpace(tok.stdout)) || !strings.Contains(r.stdout, "ci") {
			t.Fatalf("token list must not show the secret: %+v", r)
		}
		if r := run(t, "", env, "audit", "verify"); r.code != 0 || !strings.Contains(r.stdout, "intact: 2 entries") {
			t.Fatalf("audit verify: %+v", r)
		}

		// Someone edits an entry directly in the database.
		driver := "sqlite"
		if strings.HasPrefix(dsn, "postgres") {
			driver = "pgx"
		}
		raw, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		drop := []string{`DROP TRIGGER audit_log_no_update`}
		if driver == "pgx" {
			drop = []string{`DROP TRIGGER audit_log_no_update ON audit_log`}
		}
		for _, s := range append(drop, `UPDATE audit_log SET actor = 'someone else' WHERE seq = 1`) {
			if _, err := raw.Exec(s); err != nil {
				t.Fatal(err)
			}
		}
		r = run(t, "", env, "audit", "verify")
		if r.code != 3 || !strings.Contains(r.stderr, "entry 1 was altered") {
			t.Fatalf("audit verify after tampering: %+v", r)
		}
	})
}

func TestUsageAndHelp(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Commands:"},
		{[]string{"help"}, 0, "Exit codes"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"serve", "--help"}, 0, "candor user add"},
		{[]string{"serve", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"user", "add"}, 2, "--email is required"},
		{[]string{"audit"}, 2, "candor audit verify"},
		{[]string{"version"}, 0, "candor "},
		{[]string{"serve", "--session-ttl", "soon"}, 2, "--session-ttl"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := run(t, "", nil, c.args...)
			if r.code != c.code || !strings.Contains(r.stdout+r.stderr, c.want) {
				t.Fatalf("got %d\n%s%s\nwant %d and %q", r.code, r.stdout, r.stderr, c.code, c.want)
			}
		})
	}
}

func TestConfigDumpRedacts(t *testing.T) {
	r := run(t, "", map[string]string{"CANDOR_DB": "postgres://candor:hunter2hunter2@db:5432/candor"}, "config", "dump")
	if r.code != 0 || strings.Contains(r.stdout, "hunter2") || !strings.Contains(r.stdout, "CANDOR_DB=postgres://candor:xxxxx@db:5432/candor") {
		t.Fatalf("config dump: %+v", r)
	}
}

// TestDemoServes runs `candor demo` as a user would, signs in with the
// printed login through the API's session flow and shuts down on cancel.
func TestDemoServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	urlc := make(chan string, 1)
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, []string{"demo", "--addr", "127.0.0.1:0", "--dir", t.TempDir()}, &cli.Env{
			Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
			Getenv: func(string) string { return "" }, Ready: func(u string) { urlc <- u },
		})
	}()
	var url string
	select {
	case url = <-urlc:
	case code := <-done:
		t.Fatalf("demo exited %d: %s", code, errb.String())
	case <-time.After(90 * time.Second):
		t.Fatal("demo did not start in 90 s")
	}
	for _, want := range []string{"Candor demo is running", "admin@candor.example", "password for all", "/incidents/1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo banner lacks %q:\n%s", want, out.String())
		}
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("healthz: %d %s", code, body)
	}
	code, body := get("/metrics")
	if code != 200 || !strings.Contains(body, "candor_http_requests_total") || !strings.Contains(body, "go_sql_open_connections") {
		t.Errorf("metrics: %d, missing request or pool metrics", code)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("demo exit code %d after shutdown: %s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not shut down within 20 s of the signal")
	}
}
