package cli

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/config"
	"github.com/candorhq/candor/internal/delivery"
	"github.com/candorhq/candor/internal/demo"
	"github.com/candorhq/candor/internal/dispatch"
	"github.com/candorhq/candor/internal/email"
)

const benchUsage = `Usage:
  candor bench send --smtp-addr HOST:PORT [--recipients 100000] [--dkim none|rsa|ed25519] [--db PATH|postgres://…]

Measures how fast Candor tells an audience. It seeds the demo incident with
--recipients affected subscribers (each with a name and their own exposed
data), releases the approved customer alert to them, and sends it with this
process's workers to the SMTP server at --smtp-addr — run
../shared/tools/smtpsink there: it accepts everything and counts duplicates.
Then it reports messages per second from the first message to the last (from
the ledger), the wall time from release to all sent, the process's peak
memory while sending, the CPU time it used from release to all sent (per
message: the figure to compare changes by, steadier than the rate), and the
ledger's counts.

The database is a fresh SQLite file in a temporary directory unless --db
names one (a PostgreSQL URL must name an empty database: the benchmark
migrates it). The relay settings (--smtp-connections, --send-in-flight, …)
are those of candor serve. See docs/performance.md and bench/send.sh.

Example:
  (cd ../shared/tools/smtpsink && go run . -addr 127.0.0.1:2525) &
  candor bench send --smtp-addr 127.0.0.1:2525 --smtp-security none --recipients 100000 --dkim ed25519`

func runBench(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] != "send" {
		fmt.Fprintln(env.Stderr, benchUsage)
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			return nil
		}
		return usagef("say what to measure: candor bench send")
	}
	fs := flags(env, "bench send", benchUsage)
	l := config.Register(fs, append(config.Settings{"db", "log-level", "log-format"}, config.EmailSettings...))
	n := fs.Int("recipients", 100000, "how many affected subscribers to send to")
	dkim := fs.String("dkim", "none", "sign with DKIM: none, rsa (2048-bit) or ed25519 (a key made for the run)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the sending to this file (go tool pprof reads it)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *n <= 0 {
		return usagef("--recipients must be above 0")
	}
	cfg, err := l.Load(env.Getenv)
	if err != nil {
		return usagef("%v", err)
	}
	if cfg.Email.SMTPAddr == "" {
		return usagef("--smtp-addr is required: start ../shared/tools/smtpsink and point it there")
	}
	if cfg.Email.From == "" {
		cfg.Email.From = "linkLINE Security <security@linkline.example>"
	}
	if !isSet(fs, "db") && env.Getenv("CANDOR_DB") == "" {
		tmp, err := os.MkdirTemp("", "candor-bench-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		cfg.DB = filepath.Join(tmp, "bench.db")
	}
	ec, err := emailConfig(cfg.Email)
	if err != nil {
		return usagef("%v", err)
	}
	if ec.DKIM, err = benchDKIM(*dkim); err != nil {
		return usagef("%v", err)
	}
	log := cfg.Logger(env.Stderr)
	db, err := openDB(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer db.Close()
	opts := appOptions(cfg)
	opts.Company = demo.Company
	svc := app.New(db, log, opts)

	fmt.Fprintf(env.Stderr, "seeding the demo incident with %s affected subscribers…\n", group(int64(*n)))
	_, in, err := demo.SeedWith(ctx, svc, "bench-"+auth.NewSecret()[:12], demo.Options{Affected: *n})
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	ns, err := svc.Notices(ctx, auth.CLI, in.ID)
	if err != nil {
		return err
	}
	var noticeID int64
	for _, nt := range ns {
		if nt.ItemKey == "customer-alert" {
			noticeID = nt.ID
		}
	}
	if noticeID == 0 {
		return fmt.Errorf("the demo has no customer alert")
	}

	// Measure the sending, not the seeding (password hashing takes 64 MiB
	// a hash): give memory back, then reset the peak.
	debug.FreeOSMemory()
	resetPeakRSS()
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	d := dispatch.New(db, log, dispatch.Config{InFlight: cfg.Email.InFlight}, svc.PrepareRelease, nil, dispatch.NewEmailSender(ec, log))
	svc.SetDispatcherWake(d.Wake)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()

	t0, cpu0 := time.Now(), cpuTime()
	rel, added, err := svc.ReleaseNotice(ctx, auth.CLI, noticeID, app.ReleaseRequest{})
	if err != nil {
		stop()
		<-done
		return err
	}
	released := time.Since(t0)
	fmt.Fprintf(env.Stderr, "released to %s recipients in %s; sending…\n", group(added), released.Round(time.Millisecond))
	var pr delivery.Progress
	for {
		pr, err = svc.ReleaseProgress(ctx, auth.CLI, rel.ID)
		if err != nil {
			break
		}
		fmt.Fprintf(env.Stderr, "\r%s\x1b[K", releaseLine(pr))
		if pr.Release.State.Final() || pr.Release.State == delivery.ReleasePaused || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	wall, cpu := time.Since(t0), cpuTime()-cpu0
	fmt.Fprintln(env.Stderr)
	stop()
	<-done
	if err != nil {
		return err
	}
	first, last, sent, err := db.SentSpan(ctx, rel.ID)
	if err != nil {
		return err
	}
	rate := 0.0
	if span := last.Sub(first).Seconds(); span > 0 && sent > 1 {
		rate = float64(sent-1) / span
	}
	w := env.Stdout
	fmt.Fprintf(w, "database        %s\n", db.Dialect())
	fmt.Fprintf(w, "dkim            %s\n", *dkim)
	fmt.Fprintf(w, "recipients      %s (released in %s)\n", group(added), released.Round(time.Millisecond))
	fmt.Fprintf(w, "state           %s %s\n", pr.Release.State, pr.Release.Reason)
	fmt.Fprintf(w, "sent            %s   failed %s   deferred %s\n", group(pr.Counts[delivery.Sent]), group(pr.Counts[delivery.Failed]), group(pr.Counts[delivery.Deferred]))
	fmt.Fprintf(w, "rate            %.0f messages/s (first to last message, from the ledger)\n", rate)
	fmt.Fprintf(w, "wall            %s from release to all sent\n", wall.Round(time.Millisecond))
	fmt.Fprintf(w, "peak RSS        %d MB while sending\n", peakRSS()>>20)
	if sent := pr.Counts[delivery.Sent]; cpu > 0 && sent > 0 {
		fmt.Fprintf(w, "CPU             %s in this process from release to all sent, %.0f µs a message\n",
			cpu.Round(10*time.Millisecond), float64(cpu.Microseconds())/float64(sent))
	}
	if pr.Release.State != delivery.ReleaseDone {
		return fmt.Errorf("the release did not finish: %s %s", pr.Release.State, pr.Release.Reason)
	}
	return nil
}

func benchDKIM(kind string) (*email.DKIM, error) {
	var key crypto.Signer
	switch kind {
	case "none", "":
		return nil, nil
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		key = k
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		key = k
	default:
		return nil, fmt.Errorf("--dkim %q: use none, rsa or ed25519", kind)
	}
	return email.NewDKIM("linkline.example", "bench", key)
}

// resetPeakRSS resets the kernel's record of the process's peak memory
// (Linux: writing 5 to /proc/self/clear_refs).
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is the process's peak resident memory (VmHWM) in bytes.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// isSet reports whether a flag was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
