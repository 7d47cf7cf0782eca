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
	"net/url"
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
	Email         Email
	Approvals     map[string]int
	ConfigFile    string
	Public        Public

	sources map[string]string
}

// Email is how Candor sends email: the relay, the sender, DKIM, and how
// hard to push.
type Email struct {
	// SMTPAddr is the relay's host:port; empty means email is not sent
	// (releases wait in the ledger until a process with a relay runs).
	SMTPAddr     string
	SMTPSecurity string // starttls, tls or none
	SMTPUser     string
	SMTPPassword string
	HeloName     string
	// Chunking sends with BDAT when the relay offers CHUNKING.
	Chunking    bool
	Connections int
	// Rate is the most messages per second (0: as fast as the relay takes).
	Rate float64
	// From is the From header, e.g. "Example Security <security@example.com>".
	From string
	// Domain is the domain of Message-IDs, reply addresses
	// (reply+TOKEN@Domain) and the bounce envelope sender
	// (bounce+TOKEN@Domain); default: the From address's domain.
	Domain string
	// DKIM signing: the selector and a PEM private key file (RSA or
	// Ed25519); DKIMDomain defaults to the From address's domain.
	DKIMSelector string
	DKIMKeyFile  string
	DKIMDomain   string
	// InFlight bounds the messages in flight per process: the most a crash
	// can leave unsure (they are sent again, marked possible_duplicate).
	InFlight int
}

// Public is how the public status site is served.
type Public struct {
	// Addr is an optional second listener that serves only the public
	// site, for its own hostname (status.example.com).
	Addr string
	// URL is the public address of the status page as readers see it,
	// without a trailing slash; default: the listener's URL + /status.
	URL string
	// Locales are the page's languages, the default first.
	Locales []string
	// TrustProxy takes client addresses from X-Forwarded-For.
	TrustProxy bool
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
		set:  boolean("secure cookies", func(c *Config) *bool { return &c.SecureCookies }), get: func(c *Config) string { return strconv.FormatBool(c.SecureCookies) }},
}

func init() {
	settings = append(settings, emailSettings...)
	settings = append(settings, publicSettings...)
}

var publicSettings = []setting{
	{flag: "public-addr", env: "CANDOR_PUBLIC_ADDR", def: "",
		help: "also serve only the public status site on this address (host:port), for its own hostname; it is always on the main address under /status",
		set:  func(c *Config, v string) error { c.Public.Addr = v; return nil }, get: func(c *Config) string { return c.Public.Addr }},
	{flag: "public-url", env: "CANDOR_PUBLIC_URL", def: "",
		help: "the status page's address as readers see it, e.g. https://status.example.com/status (default: this server's address + /status); used in links, feeds, emails and the banner",
		set: func(c *Config, v string) error {
			v = strings.TrimRight(strings.TrimSpace(v), "/")
			if v != "" {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return fmt.Errorf("public URL %q: write it as https://status.example.com/status", v)
				}
			}
			c.Public.URL = v
			return nil
		}, get: func(c *Config) string { return c.Public.URL }},
	{flag: "public-locales", env: "CANDOR_PUBLIC_LOCALES", def: "en,fr,de,es",
		help: "the status page's languages, the default first (comma-separated language tags)",
		set: func(c *Config, v string) error {
			c.Public.Locales = nil
			for _, l := range strings.Split(v, ",") {
				if l = strings.TrimSpace(l); l != "" {
					c.Public.Locales = append(c.Public.Locales, l)
				}
			}
			if len(c.Public.Locales) == 0 {
				return fmt.Errorf("public locales %q: list at least one language, e.g. en,fr", v)
			}
			return nil
		}, get: func(c *Config) string { return strings.Join(c.Public.Locales, ",") }},
	{flag: "trust-proxy", env: "CANDOR_TRUST_PROXY", def: "false",
		help: "take client addresses from X-Forwarded-For (only behind a proxy that sets it); used by the subscribe rate limit",
		set:  boolean("trust proxy", func(c *Config) *bool { return &c.Public.TrustProxy }), get: func(c *Config) string { return strconv.FormatBool(c.Public.TrustProxy) }},
}

func boolean(name string, dst func(c *Config) *bool) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s %q: use true or false", name, v)
		}
		*dst(c) = b
		return nil
	}
}

func positiveInt(name string, dst func(c *Config) *int) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return fmt.Errorf("%s %q: use a whole number above 0", name, v)
		}
		*dst(c) = n
		return nil
	}
}

var emailSettings = []setting{
	{flag: "smtp-addr", env: "CANDOR_SMTP_ADDR", def: "",
		help: "SMTP relay that sends email, host:port (e.g. smtp.example.com:587, or 127.0.0.1:1025 for Mailpit); empty: email is not sent",
		set:  func(c *Config, v string) error { c.Email.SMTPAddr = v; return nil }, get: func(c *Config) string { return c.Email.SMTPAddr }},
	{flag: "smtp-security", env: "CANDOR_SMTP_SECURITY", def: "starttls",
		help: "how to protect the relay connection: starttls (required when set), tls (implicit TLS, port 465) or none (loopback catchers only)",
		set: func(c *Config, v string) error {
			if v != "starttls" && v != "tls" && v != "none" {
				return fmt.Errorf("smtp security %q: use starttls, tls or none", v)
			}
			c.Email.SMTPSecurity = v
			return nil
		}, get: func(c *Config) string { return c.Email.SMTPSecurity }},
	{flag: "smtp-user", env: "CANDOR_SMTP_USER", def: "",
		help: "SMTP AUTH user name (PLAIN or LOGIN); empty: no AUTH",
		set:  func(c *Config, v string) error { c.Email.SMTPUser = v; return nil }, get: func(c *Config) string { return c.Email.SMTPUser }},
	{flag: "smtp-password", env: "CANDOR_SMTP_PASSWORD", def: "", secret: true,
		help: "SMTP AUTH password (prefer CANDOR_SMTP_PASSWORD_FILE)",
		set:  func(c *Config, v string) error { c.Email.SMTPPassword = v; return nil }, get: func(c *Config) string { return c.Email.SMTPPassword }},
	{flag: "smtp-helo", env: "CANDOR_SMTP_HELO", def: "",
		help: "name Candor gives in EHLO (default: this host's name)",
		set:  func(c *Config, v string) error { c.Email.HeloName = v; return nil }, get: func(c *Config) string { return c.Email.HeloName }},
	{flag: "smtp-chunking", env: "CANDOR_SMTP_CHUNKING", def: "true",
		help: "send with BDAT (RFC 3030 CHUNKING) when the relay offers it: one write a message, nothing for either side to scan; false: always DATA",
		set:  boolean("smtp chunking", func(c *Config) *bool { return &c.Email.Chunking }), get: func(c *Config) string { return strconv.FormatBool(c.Email.Chunking) }},
	{flag: "smtp-connections", env: "CANDOR_SMTP_CONNECTIONS", def: "20",
		help: "most connections open to the relay at once",
		set:  positiveInt("smtp connections", func(c *Config) *int { return &c.Email.Connections }), get: func(c *Config) string { return strconv.Itoa(c.Email.Connections) }},
	{flag: "smtp-rate", env: "CANDOR_SMTP_RATE", def: "0",
		help: "most messages per second to the relay, e.g. 14 for a provider's limit (0: as fast as it takes them)",
		set: func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				return fmt.Errorf("smtp rate %q: use a number of messages per second, 0 for no limit", v)
			}
			c.Email.Rate = f
			return nil
		}, get: func(c *Config) string { return strconv.FormatFloat(c.Email.Rate, 'f', -1, 64) }},
	{flag: "email-from", env: "CANDOR_EMAIL_FROM", def: "",
		help: "From of every notice email, e.g. \"Example Security <security@example.com>\"",
		set:  func(c *Config, v string) error { c.Email.From = v; return nil }, get: func(c *Config) string { return c.Email.From }},
	{flag: "email-domain", env: "CANDOR_EMAIL_DOMAIN", def: "",
		help: "domain of Message-IDs, reply+TOKEN@ reply addresses and the bounce+TOKEN@ envelope sender (default: the From domain); its MX should reach Candor's inbound mail",
		set:  func(c *Config, v string) error { c.Email.Domain = v; return nil }, get: func(c *Config) string { return c.Email.Domain }},
	{flag: "dkim-selector", env: "CANDOR_DKIM_SELECTOR", def: "",
		help: "DKIM selector (the key is published at SELECTOR._domainkey.DOMAIN); empty: no DKIM signature",
		set:  func(c *Config, v string) error { c.Email.DKIMSelector = v; return nil }, get: func(c *Config) string { return c.Email.DKIMSelector }},
	{flag: "dkim-key", env: "CANDOR_DKIM_KEY", def: "",
		help: "file with the DKIM private key in PEM (RSA, 2048 bits or more, or Ed25519)",
		set:  func(c *Config, v string) error { c.Email.DKIMKeyFile = v; return nil }, get: func(c *Config) string { return c.Email.DKIMKeyFile }},
	{flag: "dkim-domain", env: "CANDOR_DKIM_DOMAIN", def: "",
		help: "DKIM signing domain (default: the From domain)",
		set:  func(c *Config, v string) error { c.Email.DKIMDomain = v; return nil }, get: func(c *Config) string { return c.Email.DKIMDomain }},
	{flag: "send-in-flight", env: "CANDOR_SEND_IN_FLIGHT", def: "1024",
		help: "most messages in flight per process; after a crash at most this many are sent twice (marked possible_duplicate, same Message-ID)",
		set:  positiveInt("send in flight", func(c *Config) *int { return &c.Email.InFlight }), get: func(c *Config) string { return strconv.Itoa(c.Email.InFlight) }},
}

// EmailSettings are the settings of the email channel.
var EmailSettings = Settings{"smtp-addr", "smtp-security", "smtp-user", "smtp-password", "smtp-helo", "smtp-chunking", "smtp-connections", "smtp-rate",
	"email-from", "email-domain", "dkim-selector", "dkim-key", "dkim-domain", "send-in-flight"}

// Settings selects which settings a command takes.
type Settings []string

// Server is every setting; Database is what commands that only touch the
// database need.
var (
	Server   = append(append(Settings{"db", "addr", "log-level", "log-format", "session-ttl", "secure-cookies", "company-name", "company-url", "approvals"}, EmailSettings...), "public-addr", "public-url", "public-locales", "trust-proxy")
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
