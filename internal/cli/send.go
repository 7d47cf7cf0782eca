package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/config"
	"github.com/candorhq/candor/internal/delivery"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
)

const sendUsage = `Usage:
  candor send release --notice ID [--version N] [--at TIME] [--watch]
  candor send status --release ID [--watch]
  candor send list --notice ID
  candor send pause --release ID [--reason TEXT]
  candor send resume --release ID
  candor send cancel --release ID --reason TEXT
  candor send log --address EMAIL             what did this person receive, and when?
  candor send log --release ID [--state failed]
  candor send release --notice ID --channel status_page   show it on the status page

"release" sends an approved notice to everyone in its audience: it writes
one row per person into the delivery ledger, and the workers of every
running "candor serve" send them (start one if none is running). Only an
approved version can be released. Releasing the same version again adds only
people who joined the audience since. --at schedules it (RFC 3339, e.g.
2026-11-24T05:00:00Z, or a duration from now like 14h); a schedule survives
restarts. --channel status_page publishes the approved text on the public
status page instead (the notice must be written for it); it shows at once.

"status --watch" draws a progress bar until the release is done, paused or
cancelled. "pause" stops sending (messages in flight finish); "resume" goes
on; "cancel" stops it for good and keeps the reason in the audit log.

Examples:
  candor send release --notice 3 --watch
  candor send release --notice 4 --at 2026-11-24T05:00:00Z
  candor send log --address jane@example.com`

func runSend(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprintln(env.Stderr, sendUsage)
		if len(args) == 0 {
			return usagef("say what to do: release, status, list, pause, resume, cancel or log")
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := flags(env, "send "+sub, sendUsage)
	l := config.Register(fs, config.Database)
	var noticeID, releaseID *int64
	var version *int
	var at, reason, address, state, channel *string
	var watch *bool
	switch sub {
	case "release":
		noticeID = fs.Int64("notice", 0, "the notice to send")
		version = fs.Int("version", 0, "the approved version to send (default: the newest approved)")
		at = fs.String("at", "", "when to start: an RFC 3339 time or a duration from now (default: now)")
		watch = fs.Bool("watch", false, "follow the release with a progress bar until it is done")
		channel = fs.String("channel", "email", "email, or status_page to publish it on the public status page")
	case "status":
		releaseID = fs.Int64("release", 0, "the release")
		watch = fs.Bool("watch", false, "follow the release with a progress bar until it is done")
	case "list":
		noticeID = fs.Int64("notice", 0, "the notice whose releases to list")
	case "pause", "cancel":
		releaseID = fs.Int64("release", 0, "the release")
		reason = fs.String("reason", "", "why (kept in the audit log)")
	case "resume":
		releaseID = fs.Int64("release", 0, "the release")
	case "log":
		releaseID = fs.Int64("release", 0, "list this release's deliveries")
		address = fs.String("address", "", "list what this address received")
		state = fs.String("state", "", "only deliveries in this state (sent, failed, deferred, …)")
	default:
		return usagef("unknown send command %q; use release, status, list, pause, resume, cancel or log", sub)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case noticeID != nil && *noticeID <= 0:
		return usagef("--notice is required (candor notice list --incident ID shows the notices)")
	case sub == "log" && *releaseID <= 0 && strings.TrimSpace(*address) == "":
		return usagef("give --address (what did this person receive?) or --release")
	case sub != "log" && releaseID != nil && *releaseID <= 0:
		return usagef("--release is required (candor send list --notice ID shows a notice's releases)")
	case channel != nil && !slices.Contains(notice.Channels, notice.Channel(*channel)):
		return usagef("--channel %q: use email or status_page", *channel)
	case sub == "cancel" && strings.TrimSpace(*reason) == "":
		return usagef("--reason is required: say why the release is cancelled")
	}
	var startAt time.Time
	if at != nil && *at != "" {
		var err error
		if startAt, err = parseWhen(*at, time.Now()); err != nil {
			return usagef("--at %q: %v", *at, err)
		}
	}
	_, _, svc, done, err := setup(ctx, env, l, false)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "release":
		rel, added, err := svc.ReleaseNotice(ctx, auth.CLI, *noticeID, app.ReleaseRequest{Version: *version, StartAt: startAt, Channel: notice.Channel(*channel)})
		if err != nil {
			return err
		}
		if notice.Channel(*channel) == notice.ChannelStatusPage {
			fmt.Fprintf(env.Stdout, "published version %d of notice %d on the status page\n", rel.Version, rel.NoticeID)
			return nil
		}
		fmt.Fprintf(env.Stdout, "release %d: version %d of notice %d, %s recipients new to the ledger, %s\n", rel.ID, rel.Version, rel.NoticeID, group(added), describeRelease(rel))
		if n, err := svc.DB().LiveWorkers(ctx, 30*time.Second); err == nil && n == 0 {
			fmt.Fprintln(env.Stderr, "note: no \"candor serve\" is running on this database, so nothing is sent until one starts")
		}
		if *watch {
			return watchRelease(ctx, env, svc, rel.ID)
		}
	case "status":
		if *watch {
			return watchRelease(ctx, env, svc, *releaseID)
		}
		pr, err := svc.ReleaseProgress(ctx, auth.CLI, *releaseID)
		if err != nil {
			return err
		}
		printProgress(env.Stdout, pr)
	case "list":
		ps, err := svc.Releases(ctx, auth.CLI, *noticeID)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			fmt.Fprintf(env.Stdout, "notice %d has not been released\n", *noticeID)
			return nil
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RELEASE\tVERSION\tCHANNEL\tSTATE\tSENT\tFAILED\tLEFT\tTOTAL\tSTARTS")
		for _, p := range ps {
			c := p.Counts
			fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Release.ID, p.Release.Version, p.Release.Channel, p.Release.State.Label(),
				group(c[delivery.Sent]), group(c[delivery.Failed]+c[delivery.Bounced]), group(c.Total()-c.Finished()), group(c.Total()),
				p.Release.StartAt.Local().Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	case "pause":
		rel, err := svc.PauseRelease(ctx, auth.CLI, *releaseID, *reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "release %d paused; messages in flight finish. Resume with: candor send resume --release %d\n", rel.ID, rel.ID)
	case "resume":
		rel, err := svc.ResumeRelease(ctx, auth.CLI, *releaseID)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "release %d: %s\n", rel.ID, describeRelease(rel))
	case "cancel":
		if _, err := svc.CancelRelease(ctx, auth.CLI, *releaseID, *reason); err != nil {
			return err
		}
		pr, err := svc.ReleaseProgress(ctx, auth.CLI, *releaseID)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "release %d cancelled: %s sent before, %s cancelled\n", pr.Release.ID, group(pr.Counts[delivery.Sent]), group(pr.Counts[delivery.Cancelled]))
	case "log":
		return printLog(ctx, env, svc, store.DeliveryFilter{Address: *address, ReleaseID: *releaseID, State: delivery.State(*state)})
	}
	return nil
}

func describeRelease(r delivery.Release) string {
	switch r.State {
	case delivery.ReleaseScheduled:
		return "scheduled for " + r.StartAt.Local().Format("Mon 2 Jan 15:04 MST")
	case delivery.ReleasePaused:
		if r.Reason != "" {
			return "paused: " + r.Reason
		}
		return "paused"
	}
	return strings.ToLower(r.State.Label())
}

// parseWhen reads a start time: RFC 3339, or a duration from now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("a negative duration is in the past")
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("write a time like 2026-11-24T05:00:00Z or a duration like 14h")
	}
	return t, nil
}

func printProgress(w io.Writer, p delivery.Progress) {
	fmt.Fprintf(w, "release %d: %s\n%s\n", p.Release.ID, describeRelease(p.Release), releaseLine(p))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	for _, s := range delivery.States {
		if n := p.Counts[s]; n > 0 {
			fmt.Fprintf(tw, "  %s\t%s\t\n", s, group(n))
		}
	}
	tw.Flush()
}

// releaseLine is one line of progress: a bar, the share finished, the
// counts that matter, the rate and the time left.
func releaseLine(p delivery.Progress) string {
	const width = 24
	frac := p.Percent() / 100
	filled := int(frac * width)
	c := p.Counts
	line := fmt.Sprintf("[%s%s] %3.0f%%  %s of %s sent", strings.Repeat("#", filled), strings.Repeat(".", width-filled), frac*100,
		group(c[delivery.Sent]), group(c.Total()))
	if f := c[delivery.Failed] + c[delivery.Bounced]; f > 0 {
		line += fmt.Sprintf("  %s failed", group(f))
	}
	if d := c[delivery.Deferred]; d > 0 {
		line += fmt.Sprintf("  %s deferred", group(d))
	}
	if p.Rate > 0 {
		line += fmt.Sprintf("  %s/s", group(int64(p.Rate)))
	}
	if p.ETA > 0 {
		line += fmt.Sprintf("  %s left", p.ETA.Round(time.Second))
	}
	return line
}

// watchRelease follows a release until it stops moving: a bar redrawn in
// place on a terminal, a line every few seconds elsewhere.
func watchRelease(ctx context.Context, env *Env, svc *app.Service, id int64) error {
	f, ok := env.Stdout.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd()))
	every := 500 * time.Millisecond
	if !tty {
		every = 3 * time.Second
	}
	for {
		pr, err := svc.ReleaseProgress(ctx, auth.CLI, id)
		if err != nil {
			return err
		}
		line := releaseLine(pr)
		stop := pr.Release.State.Final() || pr.Release.State == delivery.ReleasePaused
		if tty {
			fmt.Fprintf(env.Stdout, "\r%s\x1b[K", line)
			if stop {
				fmt.Fprintln(env.Stdout)
			}
		} else {
			fmt.Fprintln(env.Stdout, line)
		}
		if stop {
			fmt.Fprintf(env.Stdout, "release %d: %s\n", id, describeRelease(pr.Release))
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

func printLog(ctx context.Context, env *Env, svc *app.Service, f store.DeliveryFilter) error {
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DELIVERY\tADDRESS\tNOTICE\tVERSION\tSTATE\tATTEMPTS\tSENT\tMESSAGE-ID\tNOTE")
	rows := 0
	f.Limit = 500
	for {
		ds, err := svc.Deliveries(ctx, auth.CLI, f)
		if err != nil {
			return err
		}
		for _, d := range ds {
			sent := "-"
			if d.SentAt != nil {
				sent = d.SentAt.Local().Format("2006-01-02 15:04:05")
			}
			note := d.LastError
			if d.PossibleDuplicate {
				note = strings.TrimSpace("possible duplicate (same Message-ID) " + note)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\n", d.ID, d.Address, d.NoticeTitle, d.Version, d.State, d.Attempts, sent, d.MessageID, note)
			rows++
		}
		if len(ds) < f.Limit {
			break
		}
		f.After = ds[len(ds)-1].ID
	}
	if rows == 0 {
		tw.Flush()
		fmt.Fprintln(env.Stdout, "no deliveries")
		return nil
	}
	return tw.Flush()
}
