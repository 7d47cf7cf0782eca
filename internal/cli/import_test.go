package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestImportRecipients runs the import as a user would from a shell: create
// a standing list, import a file with a bad row, then try all-or-nothing.
func TestImportRecipients(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		env := map[string]string{"CANDOR_DB": dsn, "CANDOR_LOG_LEVEL": "warn"}
		if r := run(t, "", env, "migrate"); r.code != 0 {
			t.Fatalf("migrate: %+v", r)
		}
		r := run(t, "", env, "audience", "create", "--list", "--kind", "custom", "--name", "All customers")
		m := regexp.MustCompile(`created standing list (\d+)`).FindStringSubmatch(r.stdout)
		if r.code != 0 || m == nil {
			t.Fatalf("audience create: %+v", r)
		}
		id := m[1]
		dir := t.TempDir()
		file := filepath.Join(dir, "customers.csv")
		os.WriteFile(file, []byte("\ufeffE-mail,Name,Plan\nana@example.com,\"Ruiz, Ana\",business\nnot-an-address,Bob,free\ncy@example.com,Cy,\n"), 0o600)
		errs := filepath.Join(dir, "errors.csv")
		r = run(t, "", env, "import", "recipients", "--audience", id, "--errors", errs, file)
		if r.code != 0 || !strings.Contains(r.stdout, "3 rows read, 2 new recipients, 0 updated, 1 rows rejected") || !strings.Contains(r.stdout, "line 3, column E-mail:") {
			t.Fatalf("import: %+v", r)
		}
		if b, _ := os.ReadFile(errs); !strings.HasPrefix(string(b), "line,column,value,reason\n3,E-mail,not-an-address,") {
			t.Fatalf("errors file: %q", b)
		}
		// Flags may follow the file; all-or-nothing refuses the whole file.
		r = run(t, "", env, "import", "recipients", file, "--audience", id, "--all-or-nothing", "--mapping", "Plan=attr:plan")
		if r.code != 1 || !strings.Contains(r.stdout, "nothing imported") || !strings.Contains(r.stderr, "all-or-nothing") {
			t.Fatalf("all-or-nothing: %+v", r)
		}
		// Counting a rule over the list's members.
		r = run(t, "", env, "segment", "count", "--audience", id, "--rule", `{"field":"attribute","attribute":"plan","op":"equals","value":"BUSINESS"}`)
		if r.code != 0 || !strings.Contains(r.stdout, "1 of 2 members match: attribute plan = BUSINESS") {
			t.Fatalf("segment count: %+v", r)
		}
		r = run(t, "", env, "segment", "count", "--audience", id, "--rule", `{"all":[{"field":"exposed","op":"includes","value":"shoe_size"}]}`)
		if r.code != 1 || !strings.Contains(r.stderr, "--rule rule.all[0].value: unknown data kind") {
			t.Fatalf("segment count, bad rule: %+v", r)
		}
		r = run(t, "", env, "audience", "list", "--lists")
		if r.code != 0 || !regexp.MustCompile(id+`\s+custom\s+All customers\s+2`).MatchString(r.stdout) {
			t.Fatalf("audience list: %+v", r)
		}
		// Standard input, a wrong delimiter: refused at once.
		r = run(t, "email;name\na@example.com;A\n", env, "import", "recipients", "--audience", id, "-")
		if r.code != 1 || !strings.Contains(r.stderr, "semicolons") {
			t.Fatalf("semicolons: %+v", r)
		}
		if r := run(t, "", env, "import", "recipients", "--audience", "999", file); r.code != 4 {
			t.Fatalf("missing audience: %+v", r)
		}
	})
}

func TestImportUsage(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"import", "--help"}, 0, "email,name,phone,locale,jurisdiction,exposed,plan"},
		{[]string{"import", "recipients", "--help"}, 0, "--all-or-nothing"},
		{[]string{"import", "recipients", "x.csv"}, 2, "--audience is required"},
		{[]string{"import", "recipients", "--audience", "1"}, 2, "name the CSV file"},
		{[]string{"import", "recipients", "--audience", "1", "--map", "Plan", "x.csv"}, 2, "--map"},
		{[]string{"import", "people"}, 2, "unknown import"},
		{[]string{"audience", "create", "--kind", "press", "--name", "P"}, 2, "--incident ID, or --list"},
		{[]string{"audience", "--help"}, 0, "candor audience create --incident ID"},
		{[]string{"segment", "--help"}, 0, "candor segment count --audience ID --rule JSON"},
		{[]string{"segment", "count", "--rule", "{}"}, 2, "--audience is required"},
		{[]string{"segment", "count", "--audience", "1", "--rule", "{nope"}, 2, "--rule is not a rule in JSON"},
		{[]string{"segment", "create", "--incident", "1", "--name", "x"}, 2, "--rule is required"},
		{[]string{"import", "recipients", "--help"}, 0, "Exit codes:"},
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
