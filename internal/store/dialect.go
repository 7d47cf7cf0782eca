package store

import (
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds every difference between SQLite and PostgreSQL that the
// rest of the package must not know about.
type dialect interface {
	name() string
	// rebind turns ? placeholders into the dialect's own.
	rebind(q string) string
	// retryable reports whether a failed transaction may simply be run again.
	retryable(err error) bool
	// analyze is the statement that refreshes the planner's statistics of
	// a table after a bulk write ("" when the planner needs none).
	analyze(table string) string
}

type sqliteDialect struct{}

func (sqliteDialect) name() string           { return "sqlite" }
func (sqliteDialect) rebind(q string) string { return q }

// SQLite's planner picks the ledger's and the recipients' indexes by their
// shape alone; ANALYZE would scan every row for nothing.
func (sqliteDialect) analyze(string) string { return "" }
func (sqliteDialect) retryable(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		c := e.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

type postgres struct{}

func (postgres) name() string { return "postgres" }

// PostgreSQL plans from sampled statistics, which autovacuum refreshes
// only a minute or so after a bulk write. Until then a table that just
// gained 100,000 queued deliveries looks as if it had a few hundred, and
// the planner reads every queued row to record a batch of 256 outcomes.
func (postgres) analyze(table string) string { return "ANALYZE " + table }

// rebind numbers placeholders $1, $2, …. Candor's SQL never has a literal
// question mark inside a string, so a plain scan is enough.
func (postgres) rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (postgres) retryable(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && (e.Code == "40001" || e.Code == "40P01")
}
