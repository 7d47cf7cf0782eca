package store_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

// BenchmarkImport imports a generated CSV file of CANDOR_BENCH_ROWS rows
// (default 1,000,000) into a fresh audience on SQLite and on PostgreSQL,
// the way `candor import recipients FILE` does: streamed from the file,
// parsed and validated, and stored in one transaction. It reports rows/s
// and the process's peak resident memory. The file is written before the
// clock starts. Run it with:
//
//	CANDOR_TEST_POSTGRES_URL=postgres://… go test ./internal/store -run '^$' -bench Import -benchtime 1x
//
// docs/performance.md has the figures.
func BenchmarkImport(b *testing.B) {
	rows := 1_000_000
	if s := os.Getenv("CANDOR_BENCH_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	file := filepath.Join(b.TempDir(), "recipients.csv")
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	if err := generate(f, rows); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			var db *store.DB
			if dialect == "sqlite" {
				db = storetest.SQLite(b)
			} else {
				db = storetest.Postgres(b)
			}
			b.ResetTimer()
			var total time.Duration
			for i := range b.N {
				b.StopTimer()
				a, err := db.CreateAudience(ctx, auth.CLI, audience.New{Kind: audience.Custom, Name: fmt.Sprintf("Bench %d", i)})
				if err != nil {
					b.Fatal(err)
				}
				in, err := os.Open(file)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				im, err := audience.StartImport(in, audience.ImportOptions{})
				if err != nil {
					b.Fatal(err)
				}
				src := im.Prefetch()
				rep, err := db.ImportRecipients(ctx, auth.CLI, a.ID, src)
				src.Close()
				in.Close()
				if err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				if rep.Created != int64(rows) {
					b.Fatalf("created %d of %d: %+v", rep.Created, rows, rep)
				}
			}
			b.ReportMetric(float64(rows*b.N)/total.Seconds(), "rows/s")
			b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MB")
		})
	}
}

// generate writes a CSV of n distinct, realistic recipients.
func generate(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("email,name,phone,locale,jurisdiction,exposed,plan,customer_since\n")
	locales := []string{"en-US", "en-GB", "fr-FR", "fr-CA", "de-DE", "es-ES", "pt-BR", "nl"}
	places := []string{"US-CA", "US-NY", "US-TX", "US-MA", "FR", "DE-BY", "GB", "CA-QC", "NL", "BR"}
	exposed := []string{"email;name", "email;card_number;card_expiry", "email;password_hash", "email|phone|postal_address", ""}
	plans := []string{"free", "pro", "business"}
	for i := range n {
		fmt.Fprintf(bw, "person%d@example%d.com,\"Person %d, Jr.\",+1415%07d,%s,%s,%s,%s,%d\n",
			i, i%97, i, i%10_000_000, locales[i%len(locales)], places[i%len(places)], exposed[i%len(exposed)], plans[i%len(plans)], 2010+i%15)
	}
	return bw.Flush()
}

// peakRSS reads the process's peak resident set size in bytes (VmHWM).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
