// Package store is the only package that speaks SQL. It keeps Candor's data
// in SQLite (one file, pure-Go driver, the default) or PostgreSQL (pgx), with
// one schema, hand-written SQL that is portable where it can be, and the few
// dialect differences in dialect.go. Every user action is one transaction
// that also appends its audit entry, so nothing is ever half-written.
//
// Errors are application errors from package apperr: ENOTFOUND for a missing
// object, ECONFLICT for a duplicate or a write based on stale data, EINVALID
// for a refused state move. Anything else is an internal error.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DB is Candor's database. It is safe for concurrent use.
type DB struct {
	sql     *sql.DB
	dialect dialect
	log     *slog.Logger
	// Now is the clock every stored time comes from; tests replace it.
	Now func() time.Time
	// writer, on SQLite, is held by the process's one writer at a time.
	// SQLite allows one writer; a writer that waits on the database's
	// own lock sleeps and retries, and can be overtaken again and again
	// by a busy worker's next transaction (a person's "Cancel" waiting
	// behind a send to a million). Waiting here instead is first come,
	// first served. Other processes still wait on SQLite's lock.
	writer chan struct{}
}

// Open connects to the database named by dsn: a postgres:// or
// postgresql:// URL selects PostgreSQL, anything else is a SQLite file path
// (created if missing). It does not apply migrations; call Migrate.
func Open(ctx context.Context, dsn string, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db := &DB{log: log.With("component", "store"), Now: time.Now}
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://"):
		db.dialect = postgres{}
		db.sql, err = sql.Open("pgx", dsn)
		if err == nil {
			db.sql.SetMaxOpenConns(20)
			db.sql.SetMaxIdleConns(10)
			db.sql.SetConnMaxIdleTime(5 * time.Minute)
		}
	default:
		db.dialect = sqliteDialect{}
		db.sql, err = sql.Open("sqlite", sqliteDSN(dsn))
		if err == nil {
			// WAL lets readers proceed during a write; writes are
			// serialised by SQLite itself (BEGIN IMMEDIATE + busy timeout).
			db.sql.SetMaxOpenConns(8)
			db.sql.SetMaxIdleConns(8)
			db.writer = make(chan struct{}, 1)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.sql.PingContext(pingCtx); err != nil {
		db.sql.Close()
		return nil, fmt.Errorf("connect to %s database %s: %w", db.dialect.name(), Redact(dsn), err)
	}
	return db, nil
}

// sqliteDSN turns a file path into a DSN whose pragmas apply to every pooled
// connection: busy_timeout before journal_mode, so that switching to WAL
// waits for a lock instead of failing; foreign keys on; and BEGIN IMMEDIATE
// for transactions, so that a read-then-write transaction takes the write
// lock at its start instead of failing with SQLITE_BUSY halfway through.
func sqliteDSN(path string) string {
	path = strings.TrimPrefix(path, "sqlite://")
	path = strings.TrimPrefix(path, "file:")
	base, query, _ := strings.Cut(path, "?")
	q, _ := url.ParseQuery(query)
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	return "file:" + base + "?" + q.Encode()
}

// Redact hides the password in a database URL so that it can be logged.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Close closes the connection pool.
func (db *DB) Close() error { return db.sql.Close() }

// SQL returns the underlying pool, for metrics and tests.
func (db *DB) SQL() *sql.DB { return db.sql }

// Dialect is "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect.name() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }

// now returns the current time as stored: UTC, to the microsecond.
func (db *DB) now() time.Time { return db.Now().UTC().Truncate(time.Microsecond) }

// Tx is one transaction. Its query methods take SQL written with ? placeholders.
type Tx struct {
	tx *sql.Tx
	db *DB
}

func (t *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.db.dialect.rebind(q), args...)
}

func (t *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.db.dialect.rebind(q), args...)
}

func (t *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.db.dialect.rebind(q), args...)
}

func (db *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return db.sql.QueryContext(ctx, db.dialect.rebind(q), args...)
}

func (db *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return db.sql.QueryRowContext(ctx, db.dialect.rebind(q), args...)
}

func (db *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if err := db.lockWriter(ctx); err != nil {
		return nil, err
	}
	defer db.unlockWriter()
	return db.sql.ExecContext(ctx, db.dialect.rebind(q), args...)
}

// lockWriter waits for the process's turn to write (SQLite only).
func (db *DB) lockWriter(ctx context.Context) error {
	if db.writer == nil {
		return nil
	}
	select {
	case db.writer <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (db *DB) unlockWriter() {
	if db.writer != nil {
		<-db.writer
	}
}

// bulkRows is the number of rows written at once after which the
// planner's statistics of the table are refreshed (see dialect.analyze).
const bulkRows = 1000

// refreshStats refreshes the planner's statistics of a table that a
// committed bulk write changed. It is an optimisation only: a failure is
// logged, and the write stands.
func (db *DB) refreshStats(ctx context.Context, table string, rows int64) {
	q := db.dialect.analyze(table)
	if q == "" || rows < bulkRows {
		return
	}
	start := time.Now()
	if _, err := db.sql.ExecContext(ctx, q); err != nil {
		db.log.Warn("refresh planner statistics", "table", table, "err", err)
		return
	}
	db.log.Debug("refreshed planner statistics", "table", table, "rows_written", rows, "took", time.Since(start))
}

// inTx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise. A transaction that lost a race for SQLite's write lock
// (SQLITE_BUSY after the busy timeout) or a PostgreSQL serialisation failure
// is retried a few times, since nothing was written.
func (db *DB) inTx(ctx context.Context, fn func(*Tx) error) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = db.tryTx(ctx, fn)
		if !db.dialect.retryable(err) {
			break
		}
		db.log.Warn("transaction_retry", "attempt", attempt+1, "err", err)
	}
	return translate(err)
}

func (db *DB) tryTx(ctx context.Context, fn func(*Tx) error) (err error) {
	if err := db.lockWriter(ctx); err != nil {
		return err
	}
	defer db.unlockWriter()
	sqlTx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			sqlTx.Rollback()
			panic(p)
		}
		if err != nil {
			sqlTx.Rollback()
		}
	}()
	if err = fn(&Tx{tx: sqlTx, db: db}); err != nil {
		return err
	}
	if err = sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// isUnique reports whether err is a unique-constraint violation.
func isUnique(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		c := sqErr.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// translate maps driver errors that mean something to the user onto
// application errors; everything else passes through.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w", notFound("object"))
	}
	return err
}

// micros converts a time to its stored form.
func micros(t time.Time) int64 { return t.UTC().UnixMicro() }

// fromMicros converts a stored time back.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullMicros converts an optional stored time back.
func nullMicros(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}
