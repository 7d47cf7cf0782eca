package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, args []string, env map[string]string) (*Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	l := Register(fs, Server)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return l.Load(func(k string) string { return env[k] })
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "candor.conf")
	os.WriteFile(file, []byte("# comment\nCANDOR_DB=from-file.db\nCANDOR_ADDR=127.0.0.1:9000\nCANDOR_SESSION_TTL=2h\n"), 0o600)
	secret := filepath.Join(dir, "db-url")
	os.WriteFile(secret, []byte("postgres://candor:s3cret@db/candor\n"), 0o600)

	c, err := load(t, []string{"--config", file, "--addr", "127.0.0.1:7000"}, map[string]string{"CANDOR_SESSION_TTL": "3h"})
	if err != nil {
		t.Fatal(err)
	}
	if c.DB != "from-file.db" || c.Addr != "127.0.0.1:7000" || c.SessionTTL != 3*time.Hour || c.LogLevel != "info" {
		t.Fatalf("got %+v", c)
	}
	c, err = load(t, nil, map[string]string{"CANDOR_CONFIG": file, "CANDOR_DB_FILE": secret})
	if err != nil || c.DB != "postgres://candor:s3cret@db/candor" {
		t.Fatalf("_FILE over config file: %+v %v", c, err)
	}
	var b strings.Builder
	c.Dump(&b, func(s string) string { return strings.ReplaceAll(s, "s3cret", "xxxxx") })
	if strings.Contains(b.String(), "s3cret") || !strings.Contains(b.String(), "CANDOR_DB=postgres://candor:xxxxx@db/candor") {
		t.Fatalf("dump leaks or misses the secret:\n%s", b.String())
	}
}

func TestBadValuesNameTheSetting(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad ttl flag", []string{"--session-ttl", "soon"}, nil, "flag --session-ttl"},
		{"bad log level env", nil, map[string]string{"CANDOR_LOG_LEVEL": "loud"}, "env CANDOR_LOG_LEVEL"},
		{"bad bool", nil, map[string]string{"CANDOR_SECURE_COOKIES": "maybe"}, "CANDOR_SECURE_COOKIES"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := load(t, c.args, c.env)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, c.want)
			}
		})
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "bad.conf")
	os.WriteFile(file, []byte("CANDOR_DB=x\nCANDOR_TYPO=1\n"), 0o600)
	if _, err := load(t, []string{"--config", file}, nil); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestApprovals(t *testing.T) {
	m, err := parseApprovals(" regulators=2, press = 3 ")
	if err != nil || m["regulators"] != 2 || m["press"] != 3 || formatApprovals(m) != "press=3,regulators=2" {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range []string{"regulators", "press=0", "press=x", "=2", "press=9"} {
		if _, err := parseApprovals(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
