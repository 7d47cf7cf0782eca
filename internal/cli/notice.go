package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/config"
	"github.com/candorhq/candor/internal/playbook"
)

const playbookUsage = `Usage:
  candor playbook list
  candor playbook apply --incident ID KEY       draft every notice of playbook KEY
  candor playbook save --incident ID --name N   save the incident's notices as a playbook

A playbook is a prepared response package: one notice per audience and
channel, each with its moment relative to the announcement (T+0 customer
alert, T+14h press release, …). The built-in "customer-data-breach" playbook
has ten. Applying one to an incident drafts every notice the incident does
not have yet, addressed to the incident's audience of each kind; applying
twice creates nothing new. Drafts are then edited, checked and approved in
the command center (an approver other than the author must approve each).

Example:
  candor playbook apply --incident 1 customer-data-breach`

func runPlaybook(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprintln(env.Stderr, playbookUsage)
		if len(args) == 0 {
			return usagef("say what to do: list, apply or save")
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := flags(env, "playbook "+sub, playbookUsage)
	l := config.Register(fs, config.Database)
	var incidentID *int64
	var name, description *string
	switch sub {
	case "list":
	case "apply":
		incidentID = fs.Int64("incident", 0, "the incident to draft the notices for")
	case "save":
		incidentID = fs.Int64("incident", 0, "the incident whose notices to save")
		name = fs.String("name", "", "the new playbook's name, e.g. \"Card breach\"")
		description = fs.String("description", "", "what the playbook is for")
	default:
		return usagef("unknown playbook command %q; use list, apply or save", sub)
	}
	pos, err := parsePositional(fs, args, 1)
	if err != nil {
		return err
	}
	if incidentID != nil && *incidentID <= 0 {
		return usagef("--incident is required (see the incident list in the command center, or the API's GET /api/v1/incidents)")
	}
	if sub == "apply" && len(pos) != 1 {
		return usagef("say which playbook to apply, e.g. candor playbook apply --incident 1 customer-data-breach (see candor playbook list)")
	}
	if name != nil && strings.TrimSpace(*name) == "" {
		return usagef("--name is required")
	}
	_, _, svc, done, err := setup(ctx, env, l, false)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "list":
		pbs, err := svc.Playbooks(ctx, auth.CLI)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tNAME\tVERSION\tNOTICES\tSOURCE")
		for _, pb := range pbs {
			src := "saved"
			if pb.Builtin {
				src = "built-in"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", pb.Key, pb.Name, pb.Version, len(pb.Items), src)
		}
		return tw.Flush()
	case "apply":
		created, err := svc.ApplyPlaybook(ctx, auth.CLI, *incidentID, pos[0])
		if err != nil {
			return err
		}
		if len(created) == 0 {
			fmt.Fprintf(env.Stdout, "incident %d already has every notice of %s; nothing drafted\n", *incidentID, pos[0])
			return nil
		}
		fmt.Fprintf(env.Stdout, "drafted %d notices for incident %d:\n", len(created), *incidentID)
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tWHEN\tAUDIENCE\tCHANNELS\tTITLE")
		for _, n := range created {
			chans := make([]string, len(n.Channels))
			for i, c := range n.Channels {
				chans[i] = string(c)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", n.ID, playbook.DescribeOffset(n.Offset), n.AudienceKind, strings.Join(chans, ","), n.Title)
		}
		return tw.Flush()
	case "save":
		pb, err := svc.SaveIncidentAsPlaybook(ctx, auth.CLI, *incidentID, *name, *description)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "saved playbook %s (%q) with %d notices\n", pb.Key, pb.Name, len(pb.Items))
	}
	return nil
}

const noticeUsage = `Usage:
  candor notice list --incident ID
  candor notice show ID [--version N]     the text, state and reviews
  candor notice check ID [--version N]    run the checks; exit 1 if one blocks approval

Notices are written, reviewed and approved in the command center or through
the API, where every person acts under their own name: an approver other
than the author must approve each version before anything is sent.`

func runNotice(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprintln(env.Stderr, noticeUsage)
		if len(args) == 0 {
			return usagef("say what to do: list, show or check")
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := flags(env, "notice "+sub, noticeUsage)
	l := config.Register(fs, config.Database)
	var incidentID *int64
	var version *int
	switch sub {
	case "list":
		incidentID = fs.Int64("incident", 0, "the incident whose notices to list")
	case "show", "check":
		version = fs.Int("version", 0, "the version (default: the current one)")
	default:
		return usagef("unknown notice command %q; use list, show or check", sub)
	}
	pos, err := parsePositional(fs, args, 1)
	if err != nil {
		return err
	}
	if incidentID != nil && *incidentID <= 0 {
		return usagef("--incident is required")
	}
	var id int64
	if sub != "list" {
		if len(pos) != 1 {
			return usagef("say which notice, e.g. candor notice %s 7 (see candor notice list --incident ID)", sub)
		}
		if id, err = strconv.ParseInt(pos[0], 10, 64); err != nil || id <= 0 {
			return usagef("%q is not a notice id; use a positive whole number", pos[0])
		}
	}
	_, _, svc, done, err := setup(ctx, env, l, false)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "list":
		ns, err := svc.Notices(ctx, auth.CLI, *incidentID)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tWHEN\tAUDIENCE\tVERSION\tSTATE\tTITLE")
		for _, n := range ns {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", n.ID, playbook.DescribeOffset(n.Offset), n.AudienceKind, n.CurrentVersion, n.State, n.Title)
		}
		return tw.Flush()
	case "show":
		n, err := svc.Notice(ctx, auth.CLI, id)
		if err != nil {
			return err
		}
		v, err := svc.NoticeVersion(ctx, auth.CLI, id, *version)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s — version %d of %d, %s (needs %d approval(s))\nAudience: %s; channels: %v\nAuthor: %s — %s\n\nSubject: %s\n\n%s\n",
			n.Title, v.Number, n.CurrentVersion, v.State.Label(), v.Policy.Approvals, n.AudienceKind, n.Channels, v.Author, v.Reason, v.Content.Subject, v.Content.Body)
		for i, vr := range v.Content.Variants {
			fmt.Fprintf(env.Stdout, "\n--- variant %d: %s (segment %d, locale %q)\nSubject: %s\n\n%s\n", i, vr.Name, vr.SegmentID, vr.Locale, vr.Subject, vr.Body)
		}
		for _, r := range v.Reviews {
			fmt.Fprintf(env.Stdout, "\n%s %s %s: %s", r.At.Format("2006-01-02 15:04"), r.Reviewer, r.Decision, r.Comment)
		}
		if len(v.Reviews) > 0 {
			fmt.Fprintln(env.Stdout)
		}
	case "check":
		rep, err := svc.CheckNotice(ctx, auth.CLI, id, *version, nil)
		if err != nil {
			return err
		}
		for _, vc := range rep.Variants {
			fmt.Fprintf(env.Stdout, "%-30s %d recipients\n", vc.Name, vc.Count)
		}
		if rep.Unreachable > 0 {
			fmt.Fprintf(env.Stdout, "%-30s %d recipients (no address for the notice's channels)\n", "Unreachable", rep.Unreachable)
		}
		for _, f := range rep.Findings {
			where := ""
			if f.Variant >= 0 {
				where = fmt.Sprintf(" [variant %d]", f.Variant)
			}
			fmt.Fprintf(env.Stdout, "%-7s %s%s: %s\n", f.Level, f.Key, where, f.Message)
		}
		if b := rep.Blocking(); len(b) > 0 {
			return fmt.Errorf("%d check(s) block approval; fix the notice or have an approver override them with a reason", len(b))
		}
		fmt.Fprintln(env.Stdout, "no check blocks approval")
	}
	return nil
}

// parsePositional parses flags that may come before or after up to max
// positional arguments, and returns the positional ones.
func parsePositional(fs *flag.FlagSet, args []string, max int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v (see candor %s --help)", err, strings.TrimPrefix(fs.Name(), "candor "))
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		if len(pos) == max {
			return nil, usagef("unexpected argument %q (see candor %s --help)", fs.Arg(0), strings.TrimPrefix(fs.Name(), "candor "))
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
}
