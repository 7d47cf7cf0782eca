package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/config"
)

const importUsage = `Usage:
  candor import recipients --audience ID [--map MAPPING] [--all-or-nothing] [--errors FILE] FILE.csv
  (--mapping is the same as --map)

Reads recipients from a CSV file (FILE.csv, or - for standard input) into an
audience or standing list. Get the audience id from ` + "`candor audience list`" + `.
The file is streamed: any size works in constant memory. A progress bar
(rows/s, time left) shows on a terminal; a summary is printed at the end.

The file is UTF-8 (a byte order mark is fine), separated by commas, with a
header row. For example:

  email,name,phone,locale,jurisdiction,exposed,plan
  ana@example.com,"Ruiz, Ana",+14155550123,es-US,US-CA,card_number;card_expiry,business
  bob@example.com,Bob Li,,en-GB,GB,email,free

Headings map to fields, without regard to case:

` + audience.DefaultMappingHelp + `

Override with --map "Heading=field,…", e.g. --map "E-mail Address=email,Plan=attr:plan,Notes=ignore".

Each row needs an email or a phone. A bad row (an address without @, a phone
not in +countrycode form, an unknown jurisdiction or data kind) is skipped
and reported with its line number and column; --errors FILE writes every
rejected row to a CSV (line, column, value, reason) you can fix and import
again. With --all-or-nothing, nothing is kept if any row is bad (exit 1).
A row whose email is already in the audience updates that recipient: its
non-empty cells replace what is stored, empty cells keep it, and attributes
are merged. The import is one transaction: if it fails or is interrupted,
the audience is left as it was.

Every import's report (and its first 10,000 rejected rows) is also kept in
the database: the UI's audience page links to it.

Exit codes:
  0  imported (rejected rows, if any, are listed and were skipped)
  1  nothing imported: the file was refused (binary, wrong delimiter, no
     email or phone column, bad mapping), or --all-or-nothing found a bad row
  2  wrong usage (a missing --audience or file, a malformed --map)
  4  no audience with that id`

func runImport(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprintln(env.Stderr, importUsage)
		if len(args) == 0 {
			return usagef("say what to import: candor import recipients --audience ID FILE.csv")
		}
		return flag.ErrHelp
	}
	if args[0] != "recipients" {
		return usagef("unknown import %q; use candor import recipients --audience ID FILE.csv", args[0])
	}
	fs := flags(env, "import recipients", importUsage)
	l := config.Register(fs, config.Database)
	audienceID := fs.Int64("audience", 0, "the audience or standing list to import into (see candor audience list)")
	mapping := fs.String("map", "", `column mapping overrides, e.g. "E-mail Address=email,Plan=attr:plan"`)
	fs.StringVar(mapping, "mapping", "", "the same as --map")
	allOrNothing := fs.Bool("all-or-nothing", false, "keep nothing if any row is rejected")
	errorsFile := fs.String("errors", "", "write every rejected row to this CSV file")
	// The file may come before or after the flags.
	rest := args[1:]
	var file string
	for {
		if err := fs.Parse(rest); err != nil {
			if err == flag.ErrHelp {
				return err
			}
			return usagef("%v (see candor import --help)", err)
		}
		if fs.NArg() == 0 {
			break
		}
		if file != "" {
			return usagef("import one file at a time (got %q and %q)", file, fs.Arg(0))
		}
		file, rest = fs.Arg(0), fs.Args()[1:]
	}
	if *audienceID <= 0 {
		return usagef("--audience is required (find the id with candor audience list --incident ID, or --lists)")
	}
	if file == "" {
		return usagef("name the CSV file to import (or - for standard input); see candor import --help")
	}
	m, err := audience.ParseMapping(*mapping)
	if err != nil {
		return usagef("--map: %s", apperr.Message(err))
	}

	var in io.Reader = env.Stdin
	var total int64
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("open the file: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			total = st.Size()
		}
		in = f
	}
	_, _, svc, done, err := setup(ctx, env, l, false)
	if err != nil {
		return err
	}
	defer done()
	a, err := svc.Audience(ctx, auth.CLI, *audienceID)
	if err != nil {
		return err
	}
	opt := audience.ImportOptions{Mapping: m, AllOrNothing: *allOrNothing, Total: total, KeepErrors: 10000, FileName: filepath.Base(file)}
	if file == "-" {
		opt.FileName = "standard input"
	}
	var errf *os.File
	if *errorsFile != "" {
		if errf, err = os.Create(*errorsFile); err != nil {
			return fmt.Errorf("create the error file: %w", err)
		}
		defer errf.Close()
		opt.Errors = errf
	}
	bar := newProgressBar(env.Stderr)
	opt.Progress = bar.update
	rep, err := svc.ImportRecipients(ctx, auth.CLI, a.ID, in, opt)
	bar.finish()
	if rep.Rows > 0 || err == nil {
		printReport(env.Stdout, file, a, rep, *errorsFile)
	}
	if errf != nil && rep.Rejected == 0 {
		errf.Close()
		os.Remove(*errorsFile)
	}
	return err
}

func printReport(w io.Writer, file string, a audience.Audience, rep audience.Report, errorsFile string) {
	if rep.Kept {
		fmt.Fprintf(w, "imported %s into %q (audience %d): %s rows read, %s new recipients, %s updated, %s rows rejected\n",
			file, a.Name, a.ID, group(rep.Rows), group(rep.Created), group(rep.Updated), group(rep.Rejected))
	} else {
		fmt.Fprintf(w, "nothing imported from %s: %s rows read, %s rejected\n", file, group(rep.Rows), group(rep.Rejected))
	}
	if rep.Rejected == 0 {
		return
	}
	fmt.Fprintln(w, "rejected rows:")
	shown := rep.Errors[:min(len(rep.Errors), 20)]
	for _, e := range shown {
		col := ""
		if e.Column != "" {
			col = ", column " + e.Column
		}
		fmt.Fprintf(w, "  line %d%s: %s\n", e.Line, col, e.Reason)
	}
	if more := rep.Rejected - int64(len(shown)); more > 0 {
		fmt.Fprintf(w, "  … and %s more\n", group(more))
	}
	if errorsFile != "" {
		fmt.Fprintf(w, "every rejected row is in %s\n", errorsFile)
	} else {
		fmt.Fprintln(w, "to get every rejected row as CSV, run again with --errors errors.csv")
	}
}

// group writes n with thousands separators (1,234,567).
func group(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// progressBar draws the import's progress on a terminal, at most a few
// times a second; elsewhere it stays silent.
type progressBar struct {
	w     io.Writer
	on    bool
	start time.Time
	mu    sync.Mutex
	last  time.Time
	drawn bool
}

func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	return &progressBar{w: w, on: ok && term.IsTerminal(int(f.Fd())), start: time.Now()}
}

func (b *progressBar) update(p audience.Progress) {
	if !b.on {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if now.Sub(b.last) < 200*time.Millisecond {
		return
	}
	b.last, b.drawn = now, true
	fmt.Fprintf(b.w, "\r%s\x1b[K", progressLine(p, now.Sub(b.start)))
}

func (b *progressBar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprint(b.w, "\r\x1b[K")
	}
}

// progressLine renders one line of progress: rows, rate, and with a known
// size a bar and the time left, estimated from the bytes read.
func progressLine(p audience.Progress, elapsed time.Duration) string {
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(p.Rows) / s
	}
	line := fmt.Sprintf("%s rows  %s rows/s", group(p.Rows), group(int64(rate)))
	if p.Rejected > 0 {
		line += fmt.Sprintf("  %s rejected", group(p.Rejected))
	}
	if p.Total <= 0 || p.Bytes <= 0 {
		return line
	}
	frac := min(float64(p.Bytes)/float64(p.Total), 1)
	const width = 24
	filled := int(frac * width)
	left := time.Duration(float64(elapsed) * (1 - frac) / frac).Round(time.Second)
	return fmt.Sprintf("[%s%s] %3.0f%%  %s  %s left", strings.Repeat("#", filled), strings.Repeat(".", width-filled), frac*100, line, left)
}

const audienceUsage = `Usage:
  candor audience create --incident ID --kind KIND --name NAME [--description TEXT]
  candor audience create --list --kind KIND --name NAME      a standing list (no incident)
  candor audience list --incident ID
  candor audience list --lists
  candor audience attach --audience ID --list LIST_ID        the list's recipients join the audience

Kinds: affected_customers, unaffected_customers, employees, response_team,
partners, press, regulators, custom.

Examples:
  candor audience create --incident 1 --kind affected_customers --name "Card holders"
  candor audience list --incident 1
  candor import recipients --audience 3 customers.csv`

func runAudience(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprintln(env.Stderr, audienceUsage)
		if len(args) == 0 {
			return usagef("say what to do: create, list or attach")
		}
		return flag.ErrHelp
	}
	sub, args := args[0], args[1:]
	fs := flags(env, "audience "+sub, audienceUsage)
	l := config.Register(fs, config.Database)
	var incidentID, audienceID, listID *int64
	var kind, name, description *string
	var isList, lists *bool
	switch sub {
	case "create":
		incidentID = fs.Int64("incident", 0, "the incident the audience belongs to")
		isList = fs.Bool("list", false, "create a standing list instead, outside any incident")
		kind = fs.String("kind", "", "the kind of audience (see above)")
		name = fs.String("name", "", "the audience's name")
		description = fs.String("description", "", "what the audience is, for colleagues")
	case "list":
		incidentID = fs.Int64("incident", 0, "list this incident's audiences")
		lists = fs.Bool("lists", false, "list the standing lists instead")
	case "attach":
		audienceID = fs.Int64("audience", 0, "the incident's audience")
		listID = fs.Int64("list", 0, "the standing list to attach")
	default:
		return usagef("unknown audience command %q; use create, list or attach", sub)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case sub == "create" && (*incidentID > 0) == *isList:
		return usagef("give --incident ID, or --list for a standing list (see candor audience --help)")
	case sub == "list" && (*incidentID > 0) == *lists:
		return usagef("give --incident ID, or --lists for the standing lists")
	case sub == "attach" && (*audienceID <= 0 || *listID <= 0):
		return usagef("--audience and --list are required")
	}
	_, _, svc, done, err := setup(ctx, env, l, false)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "create":
		a, err := svc.CreateAudience(ctx, auth.CLI, audience.New{IncidentID: *incidentID, Kind: audience.Kind(*kind), Name: *name, Description: *description})
		if err != nil {
			return err
		}
		what := "audience"
		if a.IsList() {
			what = "standing list"
		}
		fmt.Fprintf(env.Stdout, "created %s %d, %q (%s)\nimport recipients with: candor import recipients --audience %d FILE.csv\n", what, a.ID, a.Name, a.Kind, a.ID)
	case "list":
		as, err := svc.Audiences(ctx, auth.CLI, *incidentID)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tNAME\tRECIPIENTS")
		for _, a := range as {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", a.ID, a.Kind, a.Name, group(a.Recipients))
		}
		return tw.Flush()
	case "attach":
		a, err := svc.AttachList(ctx, auth.CLI, *audienceID, *listID)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "attached list %d to %q: %s members\n", *listID, a.Name, group(a.Members))
	}
	return nil
}
