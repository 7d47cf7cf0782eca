package store_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/delivery"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

// BenchmarkLedger measures the ledger's share of sending: a release to
// CANDOR_BENCH_ROWS recipients (default 50,000) is claimed and recorded
// as sent in rounds of 256, the way a worker does with 1,024 messages in
// flight, with no sending at all. It reports the ledger's cost per
// delivery on SQLite and on PostgreSQL:
//
//	CANDOR_TEST_POSTGRES_URL=postgres://… go test ./internal/store -run '^$' -bench Ledger -benchtime 1x
func BenchmarkLedger(b *testing.B) {
	rows := 50_000
	if s := os.Getenv("CANDOR_BENCH_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	csv := storetest.Recipients(rows)
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			var total time.Duration
			for range b.N {
				b.StopTimer()
				var db *store.DB
				if dialect == "sqlite" {
					db = storetest.SQLite(b)
				} else {
					db = storetest.Postgres(b)
				}
				f := storetest.NewFixture(b, db, csv, content)
				rel, _, err := db.CreateRelease(ctx, auth.CLI, f.Approved, store.NewRelease{Channel: notice.ChannelEmail, AudienceID: f.Audience.ID, TokenKey: []byte("key")})
				if err != nil {
					b.Fatal(err)
				}
				if q := os.Getenv("LB_SQL"); q != "" && dialect == "postgres" {
					if _, err := db.SQL().Exec(q); err != nil {
						b.Fatal(err)
					}
				}
				w, err := db.RegisterWorker(ctx, "bench", 1)
				if err != nil {
					b.Fatal(err)
				}
				mid := func(r, d int64) string { return delivery.MessageID(rel.TokenKey, d, "example.com") }
				zero := -1
				b.StartTimer()
				start := time.Now()
				var inflight [][]store.Claimed
				var outs []store.Outcome
				var done []int64
				sent := 0
				for {
					got, err := db.RecordAndClaim(ctx, outs, store.ClaimSpec{WorkerID: w, Releases: []int64{rel.ID}, Limit: 256, MessageID: mid, DoneLeases: done})
					if err != nil {
						b.Fatal(err)
					}
					outs, done = outs[:0], done[:0]
					if len(got) > 0 {
						inflight = append(inflight, got)
					}
					if len(inflight) < 4 && len(got) > 0 {
						continue
					}
					if len(inflight) == 0 {
						break
					}
					now := time.Now()
					for _, c := range inflight[0] {
						outs = append(outs, store.Outcome{ID: c.ID, Lease: c.Lease, State: delivery.Sent, Variant: &zero, MessageID: c.MessageID, At: now})
					}
					// A round claims one lease, recorded whole here.
					done = append(done, inflight[0][0].Lease)
					sent += len(inflight[0])
					inflight = inflight[1:]
				}
				total += time.Since(start)
				b.StopTimer()
				if sent != rows {
					b.Fatalf("sent %d of %d", sent, rows)
				}
				c, err := db.ReleaseCounts(ctx, rel.ID)
				if err != nil || c[delivery.Sent] != int64(rows) {
					b.Fatalf("counts %v %v", c, err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N*rows), "µs/delivery")
			b.ReportMetric(float64(b.N*rows)/total.Seconds(), "deliveries/s")
		})
	}
}
