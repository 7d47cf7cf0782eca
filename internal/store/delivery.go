package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/delivery"
	"github.com/candorhq/candor/internal/notice"
)

const releaseColumns = `rl.id, rl.notice_id, rl.version_id, rl.version, rl.audience_id, rl.channel, rl.state, rl.start_at, rl.reason, rl.state_by,
	rl.token_key, rl.total, COALESCE(u.name, ''), rl.created_at, rl.updated_at, rl.finished_at`

const releaseFrom = ` FROM releases rl LEFT JOIN users u ON u.id = rl.created_by`

func scanRelease(s interface{ Scan(...any) error }) (delivery.Release, error) {
	var r delivery.Release
	var start, created, updated int64
	var finished sql.NullInt64
	var key string
	if err := s.Scan(&r.ID, &r.NoticeID, &r.VersionID, &r.Version, &r.AudienceID, &r.Channel, &r.State, &start, &r.Reason, &r.StateBy,
		&key, &r.Total, &r.CreatedBy, &created, &updated, &finished); err != nil {
		return r, err
	}
	k, err := delivery.DecodeKey(key)
	if err != nil {
		return r, fmt.Errorf("decode key of release %d: %w", r.ID, err)
	}
	r.TokenKey = k
	r.StartAt, r.CreatedAt, r.UpdatedAt, r.FinishedAt = fromMicros(start), fromMicros(created), fromMicros(updated), nullMicros(finished)
	return r, nil
}

// NewRelease is what CreateRelease needs besides the approved version.
type NewRelease struct {
	Channel    notice.Channel
	AudienceID int64
	// StartAt is when sending may begin; zero or past means now.
	StartAt time.Time
	// TokenKey signs the deliveries' reply and bounce tokens (random).
	TokenKey []byte
}

// CreateRelease releases an approved notice version to every member of an
// audience on one channel: one ledger row per member, written by one
// set-based statement per member source, in one transaction with the
// release and its audit entry. Members without an address for the channel
// get a failed row that says so, so nobody is skipped silently.
//
// Releasing the same version on the same channel again creates no new
// release; it adds rows only for members who joined the audience since
// (added says how many), and none when nobody did. Returns EFORBIDDEN when
// the version stopped being approved in the meantime, ECONFLICT when the
// earlier release was cancelled.
func (db *DB) CreateRelease(ctx context.Context, actor auth.Principal, av notice.ApprovedVersion, nr NewRelease) (rel delivery.Release, added int64, err error) {
	v := av.Version()
	if v.ID == 0 {
		return rel, 0, apperr.Forbidden("only an approved notice version can be released")
	}
	err = db.inTx(ctx, func(tx *Tx) error {
		now := tx.db.now()
		// Lock the version and check, inside this transaction, that it is
		// still the text that was approved.
		var state notice.State
		var hash string
		if err := tx.queryRow(ctx, `UPDATE notice_versions SET updated_at = updated_at WHERE id = ? RETURNING state, content_hash`, v.ID).Scan(&state, &hash); err != nil {
			return fmt.Errorf("lock notice version: %w", err)
		}
		if state != notice.Approved || hash != v.ContentHash {
			return apperr.Forbidden("notice %d version %d is no longer approved (it is %s); it cannot be released", v.NoticeID, v.Number, state.Label())
		}
		n, err := tx.notice(ctx, v.NoticeID)
		if err != nil {
			return err
		}
		a, err := tx.audience(ctx, nr.AudienceID)
		if err != nil {
			return err
		}
		if a.Lists, err = attachedLists(ctx, tx, a.ID); err != nil {
			return err
		}
		start := nr.StartAt.UTC()
		rstate := delivery.ReleaseRunning
		if start.After(now) {
			rstate = delivery.ReleaseScheduled
		} else {
			start = now
		}
		created := false
		rel, err = tx.releaseByVersion(ctx, v.ID, string(nr.Channel))
		switch {
		case apperr.Code(err) == apperr.ENOTFOUND:
			var id int64
			if err := tx.queryRow(ctx, `INSERT INTO releases (notice_id, version_id, version, audience_id, channel, state, start_at, token_key, created_by, created_at, updated_at, state_by)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				v.NoticeID, v.ID, v.Number, nr.AudienceID, string(nr.Channel), rstate, micros(start), delivery.EncodeKey(nr.TokenKey),
				nullInt(actor.UserID), micros(now), micros(now), actor.Label()).Scan(&id); err != nil {
				return fmt.Errorf("insert release: %w", err)
			}
			created = true
			rel.ID = id
		case err != nil:
			return err
		case rel.State == delivery.ReleaseCancelled:
			return apperr.Conflict("version %d of %q was released and then cancelled; edit the notice and have the new version approved to send it again", v.Number, n.Title)
		case rel.AudienceID != nr.AudienceID:
			return apperr.Conflict("version %d of %q was already released to another audience (%d)", v.Number, n.Title, rel.AudienceID)
		}
		if !created {
			// New rows must take ids after every claim's: a claim locks
			// the release too (see claimFresh).
			if _, err := tx.exec(ctx, `UPDATE releases SET updated_at = updated_at WHERE id = ?`, rel.ID); err != nil {
				return fmt.Errorf("lock release: %w", err)
			}
		}
		if added, err = tx.insertDeliveries(ctx, rel.ID, a, nr.Channel, now); err != nil {
			return err
		}
		if !created && added == 0 {
			return nil
		}
		if _, err := tx.exec(ctx, `UPDATE releases SET total = total + ?, updated_at = ?,
				state = CASE WHEN state = 'done' THEN 'running' ELSE state END, finished_at = CASE WHEN state = 'done' THEN NULL ELSE finished_at END
			WHERE id = ?`, added, micros(now), rel.ID); err != nil {
			return fmt.Errorf("count release: %w", err)
		}
		summary := fmt.Sprintf("Released %q version %d by %s to %s: %d recipients", n.Title, v.Number, nr.Channel, a.Name, added)
		if !created {
			summary = fmt.Sprintf("Released %q version %d by %s again: %d recipients new to %s", n.Title, v.Number, nr.Channel, added, a.Name)
		}
		if rstate == delivery.ReleaseScheduled && created {
			summary += ", starting " + start.Format(time.RFC3339)
		}
		if _, err := tx.appendAudit(ctx, actor, record{
			Action: "release.create", ObjectType: "release", ObjectID: rel.ID, IncidentID: n.IncidentID, Summary: summary,
			After: map[string]any{"notice_id": v.NoticeID, "version": v.Number, "content_hash": v.ContentHash, "channel": nr.Channel,
				"audience_id": nr.AudienceID, "recipients": added, "start_at": start.Format(time.RFC3339)},
		}); err != nil {
			return err
		}
		rel, err = tx.release(ctx, rel.ID)
		return err
	})
	if err == nil {
		db.refreshStats(ctx, "deliveries", added)
	}
	return rel, added, err
}

// insertDeliveries writes the ledger rows for every member of a not yet in
// the release: the audience's own recipients, then each attached list's
// whose address is not already a member, as in EachMember.
func (tx *Tx) insertDeliveries(ctx context.Context, releaseID int64, a audience.Audience, ch notice.Channel, now time.Time) (int64, error) {
	addr, missing := "r.email", "no email address; reach this person by another channel"
	if ch == notice.ChannelSMS {
		addr, missing = "NULLIF(r.phone, '')", "no phone number; reach this person by another channel"
	}
	sources := append([]int64{a.ID}, a.Lists...)
	var total int64
	for i, src := range sources {
		q := `INSERT INTO deliveries (release_id, recipient_id, address, state, last_error, queued_at, not_before)
			SELECT ?, r.id, COALESCE(` + addr + `, ''),
				CASE WHEN ` + addr + ` IS NULL THEN 'failed' ELSE 'queued' END,
				CASE WHEN ` + addr + ` IS NULL THEN ? ELSE '' END, ?, 0
			FROM recipients r WHERE r.audience_id = ?`
		if i > 0 {
			q += ` AND (r.email IS NULL OR NOT EXISTS (SELECT 1 FROM recipients p WHERE p.email = r.email AND p.audience_id IN (` + placeholders(i) + `)))`
		}
		q += ` ORDER BY r.id ON CONFLICT (release_id, recipient_id) DO NOTHING`
		args := append([]any{releaseID, missing, micros(now), src}, int64Args(sources[:i])...)
		res, err := tx.exec(ctx, q, args...)
		if err != nil {
			return 0, fmt.Errorf("write deliveries: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("write deliveries: %w", err)
		}
		total += n
	}
	return total, nil
}

func (tx *Tx) releaseByVersion(ctx context.Context, versionID int64, channel string) (delivery.Release, error) {
	r, err := scanRelease(tx.queryRow(ctx, `SELECT `+releaseColumns+releaseFrom+` WHERE rl.version_id = ? AND rl.channel = ?`, versionID, channel))
	if err == sql.ErrNoRows {
		return r, notFound("release")
	}
	return r, err
}

func (tx *Tx) release(ctx context.Context, id int64) (delivery.Release, error) {
	r, err := scanRelease(tx.queryRow(ctx, `SELECT `+releaseColumns+releaseFrom+` WHERE rl.id = ?`, id))
	if err == sql.ErrNoRows {
		return r, notFound("release")
	}
	return r, err
}

// FindReleaseByID returns a release. Returns ENOTFOUND.
func (db *DB) FindReleaseByID(ctx context.Context, id int64) (delivery.Release, error) {
	r, err := scanRelease(db.queryRow(ctx, `SELECT `+releaseColumns+releaseFrom+` WHERE rl.id = ?`, id))
	if err == sql.ErrNoRows {
		return r, notFound("release")
	}
	if err != nil {
		return r, fmt.Errorf("find release: %w", err)
	}
	return r, nil
}

// FindReleases returns a notice's releases, newest first (noticeID 0: every
// release in the given states, oldest first).
func (db *DB) FindReleases(ctx context.Context, noticeID int64, states ...delivery.ReleaseState) ([]delivery.Release, error) {
	q := `SELECT ` + releaseColumns + releaseFrom + ` WHERE 1 = 1`
	var args []any
	order := ` ORDER BY rl.id DESC`
	if noticeID != 0 {
		q += ` AND rl.notice_id = ?`
		args = append(args, noticeID)
	} else {
		order = ` ORDER BY rl.id`
	}
	if len(states) > 0 {
		q += ` AND rl.state IN (` + placeholders(len(states)) + `)`
		for _, s := range states {
			args = append(args, string(s))
		}
	}
	rows, err := db.query(ctx, q+order, args...)
	if err != nil {
		return nil, fmt.Errorf("find releases: %w", err)
	}
	defer rows.Close()
	var out []delivery.Release
	for rows.Next() {
		r, err := scanRelease(rows)
		if err != nil {
			return nil, fmt.Errorf("scan release: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ReleaseCounts counts a release's deliveries by state. It reads only
// small indexes: the queue (queued, deferred), the rows in flight and the
// exceptions (failed, bounced, cancelled); sent is what remains of the
// release's total. So progress costs what is left to send, not what was
// sent, and the ledger's writes keep no index over every row's state.
func (db *DB) ReleaseCounts(ctx context.Context, releaseID int64) (delivery.Counts, error) {
	// Queued rows a lease holds (up to leased_to) are in flight: sending.
	rows, err := db.query(ctx, `SELECT 'queued', COUNT(*) FROM deliveries WHERE release_id = ? AND state = 'queued'
			AND id > (SELECT leased_to FROM releases WHERE id = ?)
		UNION ALL SELECT 'sending', COUNT(*) FROM deliveries WHERE release_id = ? AND state = 'queued'
			AND id <= (SELECT leased_to FROM releases WHERE id = ?)
		UNION ALL SELECT 'deferred', COUNT(*) FROM deliveries WHERE release_id = ? AND state = 'deferred'
		UNION ALL SELECT 'sending', COUNT(*) FROM deliveries WHERE release_id = ? AND state = 'sending'
		UNION ALL SELECT state, COUNT(*) FROM deliveries WHERE release_id = ? AND state IN ('failed', 'bounced', 'cancelled') GROUP BY state
		UNION ALL SELECT 'total', total FROM releases WHERE id = ?`,
		releaseID, releaseID, releaseID, releaseID, releaseID, releaseID, releaseID, releaseID)
	if err != nil {
		return nil, fmt.Errorf("count deliveries: %w", err)
	}
	defer rows.Close()
	c := delivery.Counts{}
	var total, counted int64
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("count deliveries: %w", err)
		}
		switch {
		case s == "total":
			total = n
		case n > 0:
			c[delivery.State(s)] += n
			counted += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count deliveries: %w", err)
	}
	if sent := total - counted; sent > 0 {
		c[delivery.Sent] = sent
	}
	return c, nil
}

// ReleaseMove is a change of a release's state by a person or a worker.
type ReleaseMove struct {
	From   []delivery.ReleaseState
	To     delivery.ReleaseState
	Reason string
	// Action and Summary go into the audit log ("release.pause", "Paused").
	Action, Summary string
}

// MoveRelease changes a release's state when it is in one of m.From;
// cancelling also cancels every delivery not yet claimed, in the same
// transaction. Returns ENOTFOUND, or EINVALID naming the current state.
func (db *DB) MoveRelease(ctx context.Context, actor auth.Principal, id int64, m ReleaseMove) (delivery.Release, error) {
	var out delivery.Release
	err := db.inTx(ctx, func(tx *Tx) error {
		now := tx.db.now()
		if _, err := tx.exec(ctx, `UPDATE releases SET updated_at = updated_at WHERE id = ?`, id); err != nil {
			return fmt.Errorf("lock release: %w", err)
		}
		r, err := tx.release(ctx, id)
		if err != nil {
			return err
		}
		ok := false
		for _, s := range m.From {
			ok = ok || r.State == s
		}
		if !ok {
			return apperr.Invalid("state", "the release is %s; it cannot be %s", strings.ToLower(r.State.Label()), strings.ToLower(m.Summary))
		}
		var finished any
		if m.To.Final() {
			finished = micros(now)
		}
		if _, err := tx.exec(ctx, `UPDATE releases SET state = ?, reason = ?, state_by = ?, updated_at = ?, finished_at = ? WHERE id = ?`,
			m.To, m.Reason, actor.Label(), micros(now), finished, id); err != nil {
			return fmt.Errorf("update release: %w", err)
		}
		after := map[string]any{"state": m.To}
		if m.Reason != "" {
			after["reason"] = m.Reason
		}
		if m.To == delivery.ReleaseCancelled {
			// What a worker holds is in flight: its outcome is recorded.
			var n int64
			for _, q := range []string{`UPDATE deliveries SET state = 'cancelled', last_error = ? WHERE release_id = ? AND state = 'deferred'`,
				`UPDATE deliveries SET state = 'cancelled', last_error = ? WHERE release_id = ? AND state = 'queued' AND ` + notLeased} {
				res, err := tx.exec(ctx, q, "cancelled by "+actor.Label(), id)
				if err != nil {
					return fmt.Errorf("cancel deliveries: %w", err)
				}
				k, _ := res.RowsAffected()
				n += k
			}
			after["cancelled_deliveries"] = n
		}
		var incidentID int64
		if err := tx.queryRow(ctx, `SELECT incident_id FROM notices WHERE id = ?`, r.NoticeID).Scan(&incidentID); err != nil {
			return fmt.Errorf("find notice of release: %w", err)
		}
		summary := fmt.Sprintf("%s release %d (notice %d version %d)", m.Summary, id, r.NoticeID, r.Version)
		if m.Reason != "" {
			summary += ": " + m.Reason
		}
		if _, err := tx.appendAudit(ctx, actor, record{
			Action: m.Action, ObjectType: "release", ObjectID: id, IncidentID: incidentID, Summary: summary,
			Before: map[string]any{"state": r.State}, After: after,
		}); err != nil {
			return err
		}
		out, err = tx.release(ctx, id)
		return err
	})
	return out, err
}

// notLeased is true of a queued delivery no lease holds: one that no
// worker has in flight.
const notLeased = `NOT EXISTS (SELECT 1 FROM leases l WHERE l.release_id = deliveries.release_id
	AND deliveries.id > l.after_id AND deliveries.id <= l.last_id)`

// StartDueReleases moves scheduled releases whose start time has come to
// running, and returns how many it started. Any worker may call it: the
// conditional update starts each release once.
func (db *DB) StartDueReleases(ctx context.Context) (int64, error) {
	now := db.now()
	res, err := db.exec(ctx, `UPDATE releases SET state = 'running', updated_at = ?, state_by = 'schedule' WHERE state = 'scheduled' AND start_at <= ?`, micros(now), micros(now))
	if err != nil {
		return 0, fmt.Errorf("start scheduled releases: %w", err)
	}
	return res.RowsAffected()
}

// FinishReleases marks running releases with nothing left to send as done.
func (db *DB) FinishReleases(ctx context.Context) error {
	now := db.now()
	_, err := db.exec(ctx, `UPDATE releases SET state = 'done', updated_at = ?, finished_at = ?
		WHERE state = 'running' AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.release_id = releases.id AND d.state = 'queued')
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.release_id = releases.id AND d.state = 'deferred')
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.release_id = releases.id AND d.state = 'sending')`,
		micros(now), micros(now))
	if err != nil {
		return fmt.Errorf("finish releases: %w", err)
	}
	return nil
}

// RegisterWorker records a sending process and returns its ID.
func (db *DB) RegisterWorker(ctx context.Context, host string, pid int) (int64, error) {
	now := micros(db.now())
	var id int64
	if err := db.queryRow(ctx, `INSERT INTO workers (host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?) RETURNING id`, host, pid, now, now).Scan(&id); err != nil {
		return 0, fmt.Errorf("register worker: %w", err)
	}
	return id, nil
}

// Heartbeat tells other processes that a worker is alive.
func (db *DB) Heartbeat(ctx context.Context, workerID int64) error {
	if _, err := db.exec(ctx, `UPDATE workers SET heartbeat_at = ? WHERE id = ?`, micros(db.now()), workerID); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

// LiveWorkers counts the sending processes whose heartbeat is fresher than
// stale.
func (db *DB) LiveWorkers(ctx context.Context, stale time.Duration) (int, error) {
	var n int
	if err := db.queryRow(ctx, `SELECT COUNT(*) FROM workers WHERE heartbeat_at >= ?`, micros(db.now().Add(-stale))).Scan(&n); err != nil {
		return 0, fmt.Errorf("count workers: %w", err)
	}
	return n, nil
}

// SentSpan returns when a release's first and last messages were sent,
// and how many were.
func (db *DB) SentSpan(ctx context.Context, releaseID int64) (first, last time.Time, n int64, err error) {
	var f, l sql.NullInt64
	if err = db.queryRow(ctx, `SELECT MIN(sent_at), MAX(sent_at), COUNT(sent_at) FROM deliveries WHERE release_id = ?`, releaseID).Scan(&f, &l, &n); err != nil {
		return first, last, 0, fmt.Errorf("sent span: %w", err)
	}
	return fromMicros(f.Int64), fromMicros(l.Int64), n, nil
}

// Worker is a registered sending process.
type Worker struct {
	ID        int64
	Host      string
	PID       int
	Heartbeat time.Time
}

// RecoverDeliveries puts back in the queue the deliveries that dead workers
// had claimed: those of every worker other than self whose heartbeat is
// older than stale, or that dead(w) says is gone (a process on this host
// that no longer exists). They may have reached their recipient before the
// worker died, so they are marked possible_duplicate; their Message-ID is
// derived from the delivery, so a second copy carries the same one. Dead workers are
// then forgotten. Returns how many deliveries were recovered.
func (db *DB) RecoverDeliveries(ctx context.Context, self int64, stale time.Duration, dead func(Worker) bool) (int64, error) {
	rows, err := db.query(ctx, `SELECT id, host, pid, heartbeat_at FROM workers WHERE id <> ?`, self)
	if err != nil {
		return 0, fmt.Errorf("find workers: %w", err)
	}
	var gone []int64
	limit := db.now().Add(-stale)
	for rows.Next() {
		var w Worker
		var hb int64
		if err := rows.Scan(&w.ID, &w.Host, &w.PID, &hb); err != nil {
			rows.Close()
			return 0, fmt.Errorf("scan worker: %w", err)
		}
		w.Heartbeat = fromMicros(hb)
		if w.Heartbeat.Before(limit) || (dead != nil && dead(w)) {
			gone = append(gone, w.ID)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("find workers: %w", err)
	}
	var total int64
	err = db.inTx(ctx, func(tx *Tx) error {
		total = 0
		now := micros(tx.db.now())
		// Retries the dead had claimed.
		q := `UPDATE deliveries SET state = 'deferred', not_before = ?, possible_duplicate = TRUE, worker_id = NULL,
			last_error = ?
			WHERE state = 'sending' AND (worker_id IS NULL`
		args := []any{now, inFlightLost}
		if len(gone) > 0 {
			q += ` OR worker_id IN (` + placeholders(len(gone)) + `)`
			args = append(args, int64Args(gone)...)
		}
		q += `)`
		res, err := tx.exec(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("recover deliveries: %w", err)
		}
		total, _ = res.RowsAffected()
		// What their leases held and they did not record.
		n, err := tx.recoverLeases(ctx, self, gone, now)
		if err != nil {
			return err
		}
		total += n
		if len(gone) > 0 {
			if _, err := tx.exec(ctx, `DELETE FROM workers WHERE id IN (`+placeholders(len(gone))+`)`, int64Args(gone)...); err != nil {
				return fmt.Errorf("forget workers: %w", err)
			}
		}
		return tx.requeueUnleased(ctx, now)
	})
	return total, err
}

const inFlightLost = "the sending process stopped while this message was in flight; sent again with the same Message-ID"

// recoverLeases ends the leases of the gone workers (and of any worker
// that is no longer registered) and makes what they held retries, marked
// possible_duplicate, with the lease's attempt counted.
func (tx *Tx) recoverLeases(ctx context.Context, self int64, gone []int64, now int64) (int64, error) {
	q := `SELECT id, release_id, after_id, last_id, claimed_at FROM leases WHERE worker_id <> ? AND (worker_id NOT IN (SELECT id FROM workers)`
	args := []any{self}
	if len(gone) > 0 {
		q += ` OR worker_id IN (` + placeholders(len(gone)) + `)`
		args = append(args, int64Args(gone)...)
	}
	rows, err := tx.query(ctx, q+`)`, args...)
	if err != nil {
		return 0, fmt.Errorf("find leases: %w", err)
	}
	type lease struct{ id, release, after, last, at int64 }
	var dead []lease
	for rows.Next() {
		var l lease
		if err := rows.Scan(&l.id, &l.release, &l.after, &l.last, &l.at); err != nil {
			rows.Close()
			return 0, fmt.Errorf("scan lease: %w", err)
		}
		dead = append(dead, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("find leases: %w", err)
	}
	var total int64
	for _, l := range dead {
		res, err := tx.exec(ctx, `UPDATE deliveries SET state = 'deferred', not_before = ?, possible_duplicate = TRUE, last_error = ?,
			attempts = attempts + 1, first_attempt_at = COALESCE(first_attempt_at, ?), last_attempt_at = ?
			WHERE release_id = ? AND state = 'queued' AND id > ? AND id <= ?`, now, inFlightLost, l.at, l.at, l.release, l.after, l.last)
		if err != nil {
			return 0, fmt.Errorf("recover leased deliveries: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
		if _, err := tx.exec(ctx, `DELETE FROM leases WHERE id = ?`, l.id); err != nil {
			return 0, fmt.Errorf("end lease: %w", err)
		}
	}
	return total, nil
}

// requeueUnleased is a safety net: a never-tried delivery below its
// release's leased_to that no lease holds would never be claimed, so it
// becomes a retry. (Releases lock so that this does not happen; see
// CreateRelease.)
func (tx *Tx) requeueUnleased(ctx context.Context, now int64) error {
	rows, err := tx.query(ctx, `SELECT id, leased_to FROM releases WHERE leased_to > 0 AND state IN ('running', 'paused')`)
	if err != nil {
		return fmt.Errorf("find leased releases: %w", err)
	}
	var rels [][2]int64
	for rows.Next() {
		var r [2]int64
		if err := rows.Scan(&r[0], &r[1]); err != nil {
			rows.Close()
			return fmt.Errorf("scan release: %w", err)
		}
		rels = append(rels, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find leased releases: %w", err)
	}
	for _, r := range rels {
		// The queued rows up to leased_to are only those in flight, so
		// this reads few rows.
		if _, err := tx.exec(ctx, `UPDATE deliveries SET state = 'deferred', not_before = ?
			WHERE release_id = ? AND state = 'queued' AND id <= ? AND `+notLeased, now, r[0], r[1]); err != nil {
			return fmt.Errorf("requeue unleased deliveries: %w", err)
		}
	}
	return nil
}

// Claimed is a delivery a worker claimed, with its recipient as they are
// now (nil when the recipient was deleted since the release).
type Claimed struct {
	delivery.Delivery
	Recipient *audience.Recipient
	// Lease is the lease that holds the delivery (0: a retry, claimed by
	// marking its row sending); its outcome must name it.
	Lease int64
}

// Outcome is what happened to one claimed delivery.
type Outcome struct {
	ID    int64
	Lease int64          // Claimed.Lease
	State delivery.State // sent, deferred, failed, or queued (try again soon: recorded as deferred)
	// Variant is the text sent (-1: default); nil when nothing was rendered.
	Variant    *int
	ProviderID string
	Error      string
	NotBefore  time.Time // deferred and queued: when to try again
	// PossibleDuplicate: the message may have reached the recipient even
	// though it is being tried again (the connection broke after the data
	// was sent).
	PossibleDuplicate bool
	At                time.Time
	// MessageID is the Message-ID the delivery was sent with; it is
	// derived from the delivery, so a retry after a crash that lost it
	// carries the same one.
	MessageID string
}

// ClaimSpec says what a worker wants to claim.
type ClaimSpec struct {
	WorkerID int64
	// Releases to claim from, in order; Limit rows in all.
	Releases []int64
	Limit    int
	// MessageID returns the Message-ID of a delivery that has none yet.
	MessageID func(releaseID, deliveryID int64) string
	// DoneLeases are this worker's leases whose every outcome is among
	// the outcomes recorded now (or was recorded before): they are
	// deleted.
	DoneLeases []int64
}

// RecordAndClaim is a worker's one round trip to the ledger: it claims the
// next deliveries and records the outcomes of those it finished, in one
// transaction.
//
// Never-tried deliveries are claimed by lease: the worker takes the
// release's next queued rows in id order and one lease row records the
// run, so a delivery is written once, when its outcome is recorded. On
// PostgreSQL the release's row is locked while its next run is taken, so
// several processes take different runs. Retries (deferred rows that are
// due) are claimed by marking each row sending, skipping rows other
// workers have locked (FOR UPDATE SKIP LOCKED). Claimed deliveries carry
// the attempt being made; one without a Message-ID yet is given
// spec.MessageID's, which the outcome stores.
//
// Outcomes for deliveries this worker no longer holds (its lease or claim
// was recovered by another process that thought it dead) are ignored.
// Claims come first so that every transaction locks releases before
// deliveries.
func (db *DB) RecordAndClaim(ctx context.Context, outcomes []Outcome, spec ClaimSpec) ([]Claimed, error) {
	var out []Claimed
	err := db.inTx(ctx, func(tx *Tx) error {
		out = out[:0]
		now := micros(tx.db.now())
		for _, rid := range spec.Releases {
			if len(out) >= spec.Limit {
				break
			}
			got, err := tx.claimRetries(ctx, spec, rid, spec.Limit-len(out), now)
			if err != nil {
				return err
			}
			out = append(out, got...)
			if len(out) >= spec.Limit {
				break
			}
			if got, err = tx.claimFresh(ctx, spec, rid, spec.Limit-len(out), now); err != nil {
				return err
			}
			out = append(out, got...)
		}
		if err := tx.recordOutcomes(ctx, spec.WorkerID, outcomes); err != nil {
			return err
		}
		if len(spec.DoneLeases) > 0 {
			if _, err := tx.exec(ctx, `DELETE FROM leases WHERE worker_id = ? AND id IN (`+placeholders(len(spec.DoneLeases))+`)`,
				append([]any{spec.WorkerID}, int64Args(spec.DoneLeases)...)...); err != nil {
				return fmt.Errorf("end leases: %w", err)
			}
		}
		return tx.attachRecipients(ctx, out)
	})
	return out, err
}

// outcomeRow is one outcome as the record statement reads it from JSON.
type outcomeRow struct {
	ID         int64  `json:"id"`
	State      string `json:"state"`
	Variant    *int   `json:"variant"`
	ProviderID string `json:"provider_id"`
	LastError  string `json:"last_error"`
	NotBefore  int64  `json:"not_before"`
	Dup        bool   `json:"dup"`
	At         int64  `json:"at"`
	MessageID  string `json:"message_id"`
	Lease      int64  `json:"lease"`
}

// outcomesSQL reads the outcomes from one JSON parameter, so the statement
// is the same text whatever the batch size (no parse of a long VALUES list
// per round).
var outcomesSQL = map[string]string{
	"sqlite": `SELECT value ->> 'id' AS id, value ->> 'state' AS state, value ->> 'variant' AS variant, value ->> 'provider_id' AS provider_id,
		value ->> 'last_error' AS last_error, value ->> 'not_before' AS not_before, value ->> 'dup' AS dup, value ->> 'at' AS at,
		value ->> 'message_id' AS message_id, value ->> 'lease' AS lease FROM jsonb_each(jsonb(?))`,
	"postgres": `SELECT * FROM jsonb_to_recordset(CAST(? AS jsonb)) AS x (id bigint, state text, variant integer, provider_id text,
		last_error text, not_before bigint, dup boolean, at bigint, message_id text, lease bigint)`,
}

func (tx *Tx) recordOutcomes(ctx context.Context, workerID int64, os []Outcome) error {
	if len(os) == 0 {
		return nil
	}
	rows := make([]outcomeRow, len(os))
	for i, o := range os {
		state := o.State
		if state == delivery.Queued {
			// Only claims by lease take queued rows: one to try again
			// goes back as a retry.
			state = delivery.Deferred
		}
		rows[i] = outcomeRow{ID: o.ID, State: string(state), Variant: o.Variant, ProviderID: o.ProviderID, LastError: o.Error,
			Dup: o.PossibleDuplicate, At: micros(o.At), MessageID: o.MessageID, Lease: o.Lease}
		if !o.NotBefore.IsZero() {
			rows[i].NotBefore = micros(o.NotBefore)
		}
	}
	js, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("record deliveries: %w", err)
	}
	// A leased delivery's attempt is counted now, at the lease's time; a
	// retry's was counted when its row was claimed.
	q := `WITH v AS (` + outcomesSQL[tx.db.dialect.name()] + `)
		UPDATE deliveries SET state = v.state, variant = COALESCE(v.variant, deliveries.variant), provider_id = v.provider_id,
		last_error = v.last_error, not_before = v.not_before, possible_duplicate = (deliveries.possible_duplicate OR v.dup),
		sent_at = CASE WHEN v.state = 'sent' THEN v.at ELSE deliveries.sent_at END, worker_id = NULL,
		message_id = CASE WHEN v.message_id <> '' THEN v.message_id ELSE deliveries.message_id END,
		attempts = deliveries.attempts + CASE WHEN l.id IS NULL THEN 0 ELSE 1 END,
		first_attempt_at = COALESCE(deliveries.first_attempt_at, l.claimed_at),
		last_attempt_at = COALESCE(l.claimed_at, deliveries.last_attempt_at)
		FROM v LEFT JOIN leases l ON l.id = v.lease AND l.worker_id = ?
		WHERE deliveries.id = v.id AND (l.id IS NOT NULL AND deliveries.state = 'queued' AND deliveries.release_id = l.release_id
			OR v.lease = 0 AND deliveries.state = 'sending' AND deliveries.worker_id = ?)`
	if _, err := tx.exec(ctx, q, string(js), workerID, workerID); err != nil {
		return fmt.Errorf("record deliveries: %w", err)
	}
	return nil
}

// claimRetries claims due deferred deliveries by marking them sending.
func (tx *Tx) claimRetries(ctx context.Context, spec ClaimSpec, releaseID int64, limit int, now int64) ([]Claimed, error) {
	pick := `SELECT id FROM deliveries WHERE release_id = ? AND state = 'deferred'
		AND not_before <= ? ORDER BY not_before, id LIMIT ?`
	if tx.db.dialect.name() == "postgres" {
		pick += ` FOR UPDATE SKIP LOCKED`
	}
	rows, err := tx.query(ctx, `UPDATE deliveries SET state = 'sending', worker_id = ?, attempts = attempts + 1, last_attempt_at = ?,
		first_attempt_at = COALESCE(first_attempt_at, ?) WHERE id IN (`+pick+`)
		RETURNING id, recipient_id, address, attempts, possible_duplicate, message_id, queued_at`,
		spec.WorkerID, now, now, releaseID, now, limit)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	defer rows.Close()
	var got []Claimed
	for rows.Next() {
		var c Claimed
		var queued int64
		if err := rows.Scan(&c.ID, &c.RecipientID, &c.Address, &c.Attempts, &c.PossibleDuplicate, &c.MessageID, &queued); err != nil {
			return nil, fmt.Errorf("scan claimed delivery: %w", err)
		}
		c.ReleaseID, c.QueuedAt, c.State = releaseID, fromMicros(queued), delivery.Sending
		if c.MessageID == "" && spec.MessageID != nil {
			c.MessageID = spec.MessageID(releaseID, c.ID)
		}
		got = append(got, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	// RETURNING keeps no order; send in the order of the queue.
	slices.SortFunc(got, func(a, b Claimed) int { return cmp.Compare(a.ID, b.ID) })
	return got, nil
}

// claimFresh leases the release's next never-tried deliveries: up to
// limit queued rows after the release's leased_to, in id order. It writes
// one lease row and moves leased_to, and no delivery row.
func (tx *Tx) claimFresh(ctx context.Context, spec ClaimSpec, releaseID int64, limit int, now int64) ([]Claimed, error) {
	lock := ""
	if tx.db.dialect.name() == "postgres" {
		lock = ` FOR UPDATE`
	}
	var after int64
	if err := tx.queryRow(ctx, `SELECT leased_to FROM releases WHERE id = ?`+lock, releaseID).Scan(&after); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	// The recipients come in the same query: one round trip, and no list
	// of ids to send back.
	rows, err := tx.query(ctx, `SELECT d.id, d.recipient_id, d.address, d.attempts, d.possible_duplicate, d.message_id, d.queued_at, `+joinedRecipientColumns+`
		FROM deliveries d LEFT JOIN recipients r ON r.id = d.recipient_id
		WHERE d.release_id = ? AND d.state = 'queued' AND d.id > ? ORDER BY d.id LIMIT ?`, releaseID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	defer rows.Close()
	var got []Claimed
	tried := fromMicros(now)
	for rows.Next() {
		var c Claimed
		var queued int64
		r := new(audience.Recipient)
		dest, decode := recipientDest(r)
		if err := rows.Scan(append([]any{&c.ID, &c.RecipientID, &c.Address, &c.Attempts, &c.PossibleDuplicate, &c.MessageID, &queued}, dest...)...); err != nil {
			return nil, fmt.Errorf("scan claimed delivery: %w", err)
		}
		if r.ID != 0 {
			if err := decode(); err != nil {
				return nil, err
			}
			c.Recipient = r
		}
		c.ReleaseID, c.QueuedAt, c.State, c.LastAttemptAt = releaseID, fromMicros(queued), delivery.Queued, &tried
		c.Attempts++ // the attempt being made
		if c.MessageID == "" && spec.MessageID != nil {
			c.MessageID = spec.MessageID(releaseID, c.ID)
		}
		got = append(got, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	rows.Close()
	if len(got) == 0 {
		return nil, nil
	}
	last := got[len(got)-1].ID
	var lease int64
	if err := tx.queryRow(ctx, `INSERT INTO leases (worker_id, release_id, after_id, last_id, claimed_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		spec.WorkerID, releaseID, after, last, now).Scan(&lease); err != nil {
		return nil, fmt.Errorf("lease deliveries: %w", err)
	}
	if _, err := tx.exec(ctx, `UPDATE releases SET leased_to = ? WHERE id = ?`, last, releaseID); err != nil {
		return nil, fmt.Errorf("lease deliveries: %w", err)
	}
	for i := range got {
		got[i].Lease = lease
	}
	return got, nil
}

// attachRecipients reads the recipients of claimed retries.
func (tx *Tx) attachRecipients(ctx context.Context, cs []Claimed) error {
	byID := make(map[int64][]int, len(cs))
	ids := make([]any, 0, len(cs))
	for i, c := range cs {
		if c.Lease != 0 {
			continue // claimFresh read it with the delivery
		}
		if _, ok := byID[c.RecipientID]; !ok {
			ids = append(ids, c.RecipientID)
		}
		byID[c.RecipientID] = append(byID[c.RecipientID], i)
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.query(ctx, `SELECT `+recipientColumns+` FROM recipients WHERE id IN (`+placeholders(len(ids))+`)`, ids...)
	if err != nil {
		return fmt.Errorf("read claimed recipients: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r := new(audience.Recipient)
		if err := scanRecipient(rows, r); err != nil {
			return err
		}
		for _, i := range byID[r.ID] {
			cs[i].Recipient = r
		}
	}
	return rows.Err()
}

// DeliveryFilter selects ledger rows.
type DeliveryFilter struct {
	// Address matches the address exactly, ignoring case.
	Address   string
	ReleaseID int64
	State     delivery.State
	// After is a cursor: only rows with a larger ID.
	After int64
	Limit int
}

// deliveryState is a delivery's state as people see it: a queued row
// that a lease holds (d is the delivery, rl its release) is sending.
const deliveryState = `CASE WHEN d.state = 'queued' AND d.id <= rl.leased_to THEN 'sending' ELSE d.state END`

// FindDeliveries returns ledger rows with the notice each carried, oldest
// first: "what did jane@example.com receive, and when?".
func (db *DB) FindDeliveries(ctx context.Context, f DeliveryFilter) ([]delivery.Record, error) {
	q := `SELECT d.id, d.release_id, d.recipient_id, d.address, d.variant, ` + deliveryState + `, d.attempts, d.not_before, d.last_error, d.message_id,
		d.provider_id, d.possible_duplicate, d.queued_at, d.first_attempt_at, d.last_attempt_at, d.sent_at,
		rl.notice_id, n.title, rl.version, rl.channel, n.incident_id
		FROM deliveries d JOIN releases rl ON rl.id = d.release_id JOIN notices n ON n.id = rl.notice_id WHERE d.id > ?`
	args := []any{f.After}
	if f.Address != "" {
		q += ` AND lower(d.address) = ?`
		args = append(args, strings.ToLower(strings.TrimSpace(f.Address)))
	}
	if f.ReleaseID != 0 {
		q += ` AND d.release_id = ?`
		args = append(args, f.ReleaseID)
	}
	if f.State != "" {
		q += ` AND ` + deliveryState + ` = ?`
		args = append(args, string(f.State))
	}
	q += ` ORDER BY d.id LIMIT ` + strconv.Itoa(clampLimit(f.Limit))
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("find deliveries: %w", err)
	}
	defer rows.Close()
	var out []delivery.Record
	for rows.Next() {
		var r delivery.Record
		var variant, first, last, sent sql.NullInt64
		var nb, queued int64
		if err := rows.Scan(&r.ID, &r.ReleaseID, &r.RecipientID, &r.Address, &variant, &r.State, &r.Attempts, &nb, &r.LastError, &r.MessageID,
			&r.ProviderID, &r.PossibleDuplicate, &queued, &first, &last, &sent,
			&r.NoticeID, &r.NoticeTitle, &r.Version, &r.Channel, &r.IncidentID); err != nil {
			return nil, fmt.Errorf("scan delivery: %w", err)
		}
		if variant.Valid {
			v := int(variant.Int64)
			r.Variant = &v
		}
		if nb > 0 {
			r.NotBefore = fromMicros(nb)
		}
		r.QueuedAt, r.FirstAttemptAt, r.LastAttemptAt, r.SentAt = fromMicros(queued), nullMicros(first), nullMicros(last), nullMicros(sent)
		out = append(out, r)
	}
	return out, rows.Err()
}
