// Package config holds Candor's settings in one tree, read with the
// precedence flags > environment (CANDOR_*) > config file > defaults. The
// config file uses the environment's names, one KEY=value a line, so there
// is one name for each setting wherever it is set. Every setting also has a
// _FILE variant (CANDOR_DB_FILE=/run/secrets/db) for secrets kept in files.
package config

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of the server.
type Config struct {
	DB            string
	Addr          string
	LogLevel      string
	LogFormat     string
	SessionTTL    time.Duration
	SecureCookies bool
	CompanyName   string
	CompanyURL    string
	Approvals     map[string]int
	ConfigFile    string

	sources map[string]string
}

// setting describes one configurable field.
type setting struct {
	flag, env, def, help string
	secret               bool
	set                  func(c *Config, v string) error
	get                  func(c *Config) string
}

var settings = []setting{
	{flag: "db", env: "CANDOR_DB", def: "candor.db", secret: true,
		help: "database: a SQLite file path, or a postgres://user:pass@host/db URL",
		set:  func(c *Config, v string) error { c.DB = v; return nil }, get: func(c *Config) string { return c.DB }},
	{flag: "addr", env: "CANDOR_ADDR", def: "127.0.0.1:8080",
		help: "address the command center listens on (host:port)",
		set:  func(c *Config, v string) error { c.Addr = v; return nil }, get: func(c *Config) string { return c.Addr }},
	{flag: "log-level", env: "CANDOR_LOG_LEVEL", def: "info",
		help: "log level: debug, info, warn or error",
		set: func(c *Config, v string) error {
			switch v {
			case "debug", "info", "warn", "error":
				c.LogLevel = v
				return nil
			}
			return fmt.Errorf("log level %q: use debug, info, warn or error", v)
		}, get: func(c *Config) string { return c.LogLevel }},
	{flag: "log-format", env: "CANDOR_LOG_FORMAT", def: "text",
		help: "log format: text or json",
		set: func(c *Config, v string) error {
			if v != "text" && v != "json" {
				return fmt.Errorf("log format %q: use text or json", v)
			}
			c.LogFormat = v
			return nil
		}, get: func(c *Config) string { return c.LogFormat }},
	{flag: "company-name", env: "CANDOR_COMPANY_NAME", def: "Our company",
		help: "your organisation's name, as notices say it ({{.Company.Name}})",
		set:  func(c *Config, v string) error { c.CompanyName = v; return nil }, get: func(c *Config) string { return c.CompanyName }},
	{flag: "company-url", env: "CANDOR_COMPANY_URL", def: "",
		help: "your organisation's support page, as notices link it ({{.Company.SupportURL}})",
		set:  func(c *Config, v string) error { c.CompanyURL = v; return nil }, get: func(c *Config) string { return c.CompanyURL }},
	{flag: "approvals", env: "CANDOR_APPROVALS", def: "regulators=2",
		help: "approvers (other than the author) a notice needs, per audience kind, e.g. \"regulators=2,press=2\"; kinds not listed need 1 (regulators 2)",
		set: func(c *Config, v string) error {
			m, err := parseApprovals(v)
			c.Approvals = m
			return err
		}, get: func(c *Config) string { return formatApprovals(c.Approvals) }},
	{flag: "session-ttl", env: "CANDOR_SESSION_TTL", def: "12h",
		help: "how long a sign-in lasts without use (e.g. 8h, 30m)",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Minute {
				return fmt.Errorf("session TTL %q: use a duration of at least 1m, like 12h", v)
			}
			c.SessionTTL = d
			return nil
		}, get: func(c *Config) string { return c.SessionTTL.String() }},
	{flag: "secure-cookies", env: "CANDOR_SECURE_COOKIES", def: "true",
		help: "mark the session cookie Secure (browsers still accept it on http://127.0.0.1 and localhost); turn off only for plain HTTP on another host",
		set: func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("secure cookies %q: use true or false", v)
			}
			c.SecureCookies = b
			return nil
		}, get: func(c *Config) string { return strconv.FormatBool(c.SecureCookies) }},
}

// Settings selects which settings a command takes.
type Settings []string

// Server is every setting; Database is what commands that only touch the
// database need.
var (
	Server   = Settings{"db", "addr", "log-level", "log-format", "session-ttl", "secure-cookies", "company-name", "company-url", "approvals"}
	Database = Settings{"db", "log-level", "log-format"}
)

// Loader registers flags on a FlagSet and resolves the final Config.
type Loader struct {
	fs    *flag.FlagSet
	names Settings
	vals  map[string]*string
	file  *string
}

// Register adds the named settings as flags of fs, plus --config.
func Register(fs *flag.FlagSet, names Settings) *Loader {
	l := &Loader{fs: fs, names: names, vals: map[string]*string{}}
	for _, s := range settings {
		if !contains(names, s.flag) {
			continue
		}
		l.vals[s.flag] = fs.String(s.flag, s.def, fmt.Sprintf("%s (env %s)", s.help, s.env))
	}
	l.file = fs.String("config", "", "optional config file of KEY=value lines using the environment names, e.g. CANDOR_DB=… (env CANDOR_CONFIG)")
	return l
}

// Load resolves the settings after fs.Parse, with getenv reading the
// environment (os.Getenv in production).
func (l *Loader) Load(getenv func(string) string) (*Config, error) {
	c := &Config{sources: map[string]string{}}
	setFlags := map[string]bool{}
	l.fs.Visit(func(f *flag.Flag) { setFlags[f.Name] = true })
	file := map[string]string{}
	path := *l.file
	if !setFlags["config"] {
		path = getenv("CANDOR_CONFIG")
	}
	if path != "" {
		var err error
		if file, err = readFile(path); err != nil {
			return nil, err
		}
		c.ConfigFile = path
	}
	for _, s := range settings {
		if !contains(l.names, s.flag) {
			continue
		}
		v, src := s.def, "default"
		switch {
		case setFlags[s.flag]:
			v, src = *l.vals[s.flag], "flag --"+s.flag
		case getenv(s.env) != "":
			v, src = getenv(s.env), "env "+s.env
		case getenv(s.env+"_FILE") != "":
			b, err := os.ReadFile(getenv(s.env + "_FILE"))
			if err != nil {
				return nil, fmt.Errorf("%s_FILE: %w", s.env, err)
			}
			v, src = strings.TrimSpace(string(b)), "file "+getenv(s.env+"_FILE")
		case file[s.env] != "":
			v, src = file[s.env], "config "+path
		}
		if err := s.set(c, v); err != nil {
			return nil, fmt.Errorf("%s (from %s)", err, src)
		}
		c.sources[s.flag] = src
	}
	return c, nil
}

// readFile parses KEY=value lines; blank lines and # comments are skipped.
func readFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	known := map[string]bool{"CANDOR_CONFIG": true}
	for _, s := range settings {
		known[s.env] = true
	}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"'`)
		if !ok {
			return nil, fmt.Errorf("config file %s line %d: write KEY=value (e.g. CANDOR_DB=candor.db)", path, n)
		}
		if !known[k] {
			return nil, fmt.Errorf("config file %s line %d: unknown setting %s; see `candor config dump` for the names", path, n, k)
		}
		out[k] = v
	}
	return out, sc.Err()
}

// Dump writes every setting with its value and where it came from; secrets
// are redacted by redact.
func (c *Config) Dump(w io.Writer, redact func(string) string) {
	for _, s := range settings {
		src, ok := c.sources[s.flag]
		if !ok {
			continue
		}
		v := s.get(c)
		if s.secret {
			v = redact(v)
		}
		fmt.Fprintf(w, "%s=%s\t# %s\n", s.env, v, src)
	}
}

// Logger builds the process's logger from the settings.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseApprovals reads "kind=n,kind=n".
func parseApprovals(v string) (map[string]int, error) {
	m := map[string]int{}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		kind, n, ok := strings.Cut(part, "=")
		k, err := strconv.Atoi(strings.TrimSpace(n))
		if !ok || err != nil || k < 1 || k > 5 || strings.TrimSpace(kind) == "" {
			return nil, fmt.Errorf("approvals %q: write audience_kind=number with a number from 1 to 5, e.g. regulators=2", part)
		}
		m[strings.TrimSpace(kind)] = k
	}
	return m, nil
}

func formatApprovals(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, ",")
}
