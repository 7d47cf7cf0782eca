package cli_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/cli"
	"github.com/candorhq/candor/internal/delivery"
	"github.com/candorhq/candor/internal/email/smtptest"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

// childEnv makes the test binary run the candor command line instead of
// the tests, so a test can start real candor processes and kill them.
const childEnv = "CANDOR_CLI_CHILD"

func runChild() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], &cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}

// TestKill9WhileSending starts real candor processes sending a release to
// a sink, kills each with SIGKILL at a random moment, and restarts: in the
// end everyone got the notice, the only duplicates are messages that were
// in flight at a kill (at most --send-in-flight per kill), and every copy
// carries the first attempt's Message-ID.
func TestKill9WhileSending(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills candor processes")
	}
	eachDSN(t, func(t *testing.T, dsn string) {
		const n, inFlight, kills = 4000, 64, 3
		db, err := store.Open(context.Background(), dsn, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		f := storetest.NewFixture(t, db, storetest.Recipients(n), notice.Content{Subject: "Your account, {{.Recipient.Name}}",
			Body: "Dear {{.Recipient.Name}},\n\nsomeone copied our customer records. We are sorry."})
		rel, _, err := db.CreateRelease(context.Background(), f.Approver, f.Approved, store.NewRelease{Channel: notice.ChannelEmail, AudienceID: f.Audience.ID, TokenKey: []byte("crash-test-key")})
		if err != nil {
			t.Fatal(err)
		}
		s := smtptest.Start(t)
		start := func() *exec.Cmd {
			cmd := exec.Command(os.Args[0], "serve", "--db", dsn, "--addr", "127.0.0.1:0", "--smtp-addr", s.Addr, "--smtp-security", "none",
				"--email-from", "Example Security <security@example.com>", "--send-in-flight", fmt.Sprint(inFlight), "--smtp-connections", "8",
				"--log-level", "warn")
			cmd.Env = append(os.Environ(), childEnv+"=1")
			cmd.Stderr = &prefixWriter{t: t}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			return cmd
		}
		deadline := time.Now().Add(3 * time.Minute)
		for k := 0; k < kills; k++ {
			before := s.Count()
			// Kill somewhere in the next quarter of the audience.
			at := before + 1 + rand.IntN(n/4)
			cmd := start()
			for s.Count() < at && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			t.Logf("kill %d at %d messages received (aimed at %d)", k+1, s.Count(), at)
		}
		cmd := start()
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		for {
			r, err := db.FindReleaseByID(context.Background(), rel.ID)
			if err != nil {
				t.Fatal(err)
			}
			if r.State == delivery.ReleaseDone {
				break
			}
			if time.Now().After(deadline) {
				c, _ := db.ReleaseCounts(context.Background(), rel.ID)
				t.Fatalf("release not done in time: %s, %v, sink %d", r.State, c, s.Count())
			}
			time.Sleep(20 * time.Millisecond)
		}
		c, err := db.ReleaseCounts(context.Background(), rel.ID)
		if err != nil || c[delivery.Sent] != n {
			t.Fatalf("ledger: %v %v; want %d sent", c, err, n)
		}
		got := map[string][]string{}
		for _, m := range s.Messages() {
			for _, rc := range m.To {
				got[rc] = append(got[rc], m.Header("Message-Id"))
			}
		}
		dups := 0
		for i := range n {
			addr := fmt.Sprintf("r%d@example.com", i)
			ids := got[addr]
			if len(ids) == 0 {
				t.Fatalf("%s never received the notice", addr)
			}
			for _, id := range ids[1:] {
				dups++
				if id != ids[0] {
					t.Fatalf("%s received Message-IDs %v: a copy must carry the first attempt's", addr, ids)
				}
			}
		}
		if len(got) != n {
			t.Fatalf("sink saw %d recipients, want %d", len(got), n)
		}
		if dups > kills*inFlight {
			t.Fatalf("%d duplicates after %d kills; the bound is %d (in flight per process)", dups, kills, kills*inFlight)
		}
		flagged := countFlagged(t, db, rel.ID)
		for addr, ids := range got {
			if len(ids) > 1 && !flagged[addr] {
				t.Fatalf("%s received %d copies but its ledger row is not marked possible_duplicate", addr, len(ids))
			}
		}
		t.Logf("%d recipients, %d kills, %d duplicates at the sink, %d rows marked possible_duplicate", n, kills, dups, len(flagged))
	})
}

func countFlagged(t *testing.T, db *store.DB, releaseID int64) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	f := store.DeliveryFilter{ReleaseID: releaseID, Limit: 500}
	for {
		ds, err := db.FindDeliveries(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.PossibleDuplicate {
				out[d.Address] = true
			}
		}
		if len(ds) < 500 {
			return out
		}
		f.After = ds[len(ds)-1].ID
	}
}

// prefixWriter passes a child's log lines to the test log.
type prefixWriter struct {
	t  *testing.T
	mu sync.Mutex
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.t.Log("candor: " + l)
	}
	return len(p), nil
}
