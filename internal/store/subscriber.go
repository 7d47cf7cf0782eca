package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
)

// Subscriber kinds.
const (
	SubscriberEmail   = "email"
	SubscriberWebhook = "webhook"
	SubscriberQuiet   = "quiet"
)

// Subscriber states.
const (
	SubPending      = "pending"
	SubConfirmed    = "confirmed"
	SubUnsubscribed = "unsubscribed"
	SubDisabled     = "disabled"
)

// Subscriber is someone (or some system) told of public changes.
type Subscriber struct {
	ID          int64
	Kind        string
	Email       string // the address told; for webhooks, the owner's
	URL         string
	Locale      string
	State       string
	Secret      string
	Failures    int
	LastError   string
	RecipientID int64
	CreatedAt   time.Time
	ConfirmedAt time.Time
}

const subscriberColumns = `id, kind, email, url, locale, state, secret, failures, last_error, recipient_id, created_at, confirmed_at`

func scanSubscriber(s interface{ Scan(...any) error }) (Subscriber, error) {
	var sub Subscriber
	var rid, confirmed sql.NullInt64
	var created int64
	err := s.Scan(&sub.ID, &sub.Kind, &sub.Email, &sub.URL, &sub.Locale, &sub.State, &sub.Secret, &sub.Failures, &sub.LastError, &rid, &created, &confirmed)
	sub.RecipientID, sub.CreatedAt = rid.Int64, fromMicros(created)
	if confirmed.Valid {
		sub.ConfirmedAt = fromMicros(confirmed.Int64)
	}
	return sub, err
}

// AddSubscriber records a subscription request. An address already
// confirmed stays confirmed (and is returned as it is); one that had
// unsubscribed becomes pending again; secret is kept from the first
// request. state is SubPending, or SubConfirmed for subscriptions an admin
// registers.
func (db *DB) AddSubscriber(ctx context.Context, kind, email, url, locale, secret, state string) (Subscriber, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	var out Subscriber
	err := db.inTx(ctx, func(tx *Tx) error {
		now := micros(tx.db.now())
		var confirmed any
		if state == SubConfirmed {
			confirmed = now
		}
		if _, err := tx.exec(ctx, `INSERT INTO subscribers (kind, email, url, locale, state, secret, created_at, updated_at, confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (kind, email, url) DO UPDATE SET
				state = CASE WHEN subscribers.state IN ('unsubscribed', 'disabled') THEN excluded.state ELSE subscribers.state END,
				failures = CASE WHEN subscribers.state IN ('unsubscribed', 'disabled') THEN 0 ELSE subscribers.failures END,
				locale = CASE WHEN subscribers.state = 'confirmed' THEN subscribers.locale ELSE excluded.locale END,
				updated_at = excluded.updated_at`,
			kind, email, url, locale, state, secret, now, now, confirmed); err != nil {
			return fmt.Errorf("add subscriber: %w", err)
		}
		var err error
		out, err = scanSubscriber(tx.queryRow(ctx, `SELECT `+subscriberColumns+` FROM subscribers WHERE kind = ? AND email = ? AND url = ?`, kind, email, url))
		return err
	})
	return out, err
}

// FindSubscriberByID returns ENOTFOUND when there is none.
func (db *DB) FindSubscriberByID(ctx context.Context, id int64) (Subscriber, error) {
	s, err := scanSubscriber(db.queryRow(ctx, `SELECT `+subscriberColumns+` FROM subscribers WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return s, apperr.NotFound("subscriber %d not found", id)
	}
	return s, err
}

func (tx *Tx) subscriber(ctx context.Context, id int64) (Subscriber, error) {
	s, err := scanSubscriber(tx.queryRow(ctx, `SELECT `+subscriberColumns+` FROM subscribers WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return s, apperr.NotFound("subscription %d not found", id)
	}
	return s, err
}

// FindSubscribers lists subscribers of a kind ("" for all) in a state (""
// for any), oldest first.
func (db *DB) FindSubscribers(ctx context.Context, kind, state string) ([]Subscriber, error) {
	q := `SELECT ` + subscriberColumns + ` FROM subscribers WHERE 1 = 1`
	var args []any
	if kind != "" {
		q += ` AND kind = ?`
		args = append(args, kind)
	}
	if state != "" {
		q += ` AND state = ?`
		args = append(args, state)
	}
	rows, err := db.query(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("find subscribers: %w", err)
	}
	defer rows.Close()
	var out []Subscriber
	for rows.Next() {
		s, err := scanSubscriber(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// SubscriberCounts counts subscribers by kind and state.
func (db *DB) SubscriberCounts(ctx context.Context) (map[string]map[string]int64, error) {
	rows, err := db.query(ctx, `SELECT kind, state, COUNT(*) FROM subscribers GROUP BY kind, state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]int64{}
	for rows.Next() {
		var k, s string
		var n int64
		if err := rows.Scan(&k, &s, &n); err != nil {
			return nil, err
		}
		if out[k] == nil {
			out[k] = map[string]int64{}
		}
		out[k][s] = n
	}
	return out, rows.Err()
}

// SubscribersAudience is the standing audience that holds confirmed email
// subscribers, so that updates reach them through the delivery ledger.
const SubscribersAudience = "Status page subscribers"

// subscribersAudience returns the id of the standing subscribers audience,
// creating it on first use.
func (tx *Tx) subscribersAudience(ctx context.Context) (int64, error) {
	var id int64
	err := tx.queryRow(ctx, `SELECT id FROM audiences WHERE incident_id IS NULL AND lower(name) = lower(?)`, SubscribersAudience).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	now := micros(tx.db.now())
	err = tx.queryRow(ctx, `INSERT INTO audiences (incident_id, kind, name, description, created_at, updated_at) VALUES (NULL, ?, ?, ?, ?, ?) RETURNING id`,
		audience.Custom, SubscribersAudience, "People who subscribed to updates on the public status page and confirmed their address. Candor keeps this list itself.", now, now).Scan(&id)
	return id, err
}

// SubscribersAudienceID returns the id of the standing audience of
// confirmed email subscribers, creating it on first use.
func (db *DB) SubscribersAudienceID(ctx context.Context) (int64, error) {
	var id int64
	err := db.inTx(ctx, func(tx *Tx) (err error) {
		id, err = tx.subscribersAudience(ctx)
		return err
	})
	return id, err
}

// ConfirmSubscriber confirms a pending subscription. An email subscriber
// becomes a member of the subscribers audience, with attributes (the
// unsubscribe address) that update emails render. Confirming twice is not
// an error.
func (db *DB) ConfirmSubscriber(ctx context.Context, id int64, attributes func(Subscriber) map[string]string) (Subscriber, error) {
	var out Subscriber
	err := db.inTx(ctx, func(tx *Tx) error {
		now := micros(tx.db.now())
		s, err := tx.subscriber(ctx, id)
		if err != nil {
			return err
		}
		if s.State == SubUnsubscribed || s.State == SubDisabled {
			return apperr.NotFound("subscription %d has ended; subscribe again", id)
		}
		if s.State == SubConfirmed {
			out = s
			return nil
		}
		if s.Kind == SubscriberEmail {
			aid, err := tx.subscribersAudience(ctx)
			if err != nil {
				return fmt.Errorf("subscribers audience: %w", err)
			}
			attrs, _ := jsonText(attributes(s))
			if err := tx.queryRow(ctx, `INSERT INTO recipients (audience_id, email, locale, attributes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (audience_id, email) DO UPDATE SET locale = excluded.locale, attributes = excluded.attributes, updated_at = excluded.updated_at RETURNING id`,
				aid, strings.ToLower(s.Email), s.Locale, attrs, now, now).Scan(&s.RecipientID); err != nil {
				return fmt.Errorf("add subscriber to audience: %w", err)
			}
		}
		if _, err := tx.exec(ctx, `UPDATE subscribers SET state = 'confirmed', confirmed_at = ?, updated_at = ?, recipient_id = ?, failures = 0 WHERE id = ?`,
			now, now, nullInt(s.RecipientID), id); err != nil {
			return fmt.Errorf("confirm subscriber: %w", err)
		}
		s.State = SubConfirmed
		out = s
		return nil
	})
	return out, err
}

// EndSubscription unsubscribes (state SubUnsubscribed) or disables
// (SubDisabled, after repeated failures) a subscriber. An email subscriber
// leaves the subscribers audience, and the update emails still queued for
// it are cancelled, so nothing more reaches them.
func (db *DB) EndSubscription(ctx context.Context, id int64, state, reason string) (Subscriber, error) {
	var out Subscriber
	err := db.inTx(ctx, func(tx *Tx) error {
		now := micros(tx.db.now())
		s, err := tx.subscriber(ctx, id)
		if err != nil {
			return err
		}
		out = s
		if s.State == state {
			return nil
		}
		if s.RecipientID != 0 {
			// Recipient ids are unique across audiences: these rows are
			// this subscriber's update emails.
			if _, err := tx.exec(ctx, `UPDATE deliveries SET state = 'cancelled', last_error = ?, not_before = 0 WHERE recipient_id = ?
				AND (state = 'deferred' OR state = 'queued' AND `+notLeased+`)`,
				"unsubscribed", s.RecipientID); err != nil {
				return fmt.Errorf("cancel queued emails: %w", err)
			}
			if _, err := tx.exec(ctx, `DELETE FROM recipients WHERE id = ?`, s.RecipientID); err != nil {
				return fmt.Errorf("remove subscriber from audience: %w", err)
			}
		}
		if _, err := tx.exec(ctx, `UPDATE subscribers SET state = ?, ended_at = ?, updated_at = ?, recipient_id = NULL, last_error = CASE WHEN ? = '' THEN last_error ELSE ? END WHERE id = ?`,
			state, now, now, reason, reason, id); err != nil {
			return fmt.Errorf("end subscription: %w", err)
		}
		if _, err := tx.exec(ctx, `UPDATE webhook_deliveries SET state = 'cancelled', last_error = ? WHERE subscriber_id = ? AND state = 'queued'`, "subscription ended: "+state, id); err != nil {
			return err
		}
		out.State, out.RecipientID = state, 0
		return nil
	})
	return out, err
}

// AddQuietSubscriber registers a system to be told when the quiet period
// starts and ends; an admin does it, so it needs no confirmation.
func (db *DB) AddQuietSubscriber(ctx context.Context, actor auth.Principal, owner, url, secret string) (Subscriber, error) {
	s, err := db.AddSubscriber(ctx, SubscriberQuiet, owner, url, "", secret, SubConfirmed)
	if err != nil {
		return s, err
	}
	err = db.inTx(ctx, func(tx *Tx) error {
		_, err := tx.appendAudit(ctx, actor, record{Action: "webhook.register", ObjectType: "subscriber", ObjectID: s.ID,
			Summary: fmt.Sprintf("Registered %s to be told when the quiet period starts and ends", url), After: map[string]any{"url": url, "owner": owner}})
		return err
	})
	return s, err
}

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// ---- Outgoing webhooks ----

// WebhookDelivery is one event POSTed to one subscriber, with retries.
type WebhookDelivery struct {
	ID           int64
	SubscriberID int64
	URL          string
	Secret       string
	Owner        string
	EventType    string
	MsgID        string
	Body         []byte
	State        string
	Attempts     int
	LastStatus   int
	LastError    string
	CreatedAt    time.Time
	SentAt       time.Time
}

// EnqueueWebhook queues one event for one subscriber inside tx. msgID is
// unique: queueing the same event twice does nothing.
func (tx *Tx) EnqueueWebhook(ctx context.Context, subscriberID int64, eventType, msgID string, body []byte) error {
	now := micros(tx.db.now())
	_, err := tx.exec(ctx, `INSERT INTO webhook_deliveries (subscriber_id, event_type, msg_id, body, state, not_before, created_at) VALUES (?, ?, ?, ?, 'queued', ?, ?)
		ON CONFLICT (msg_id) DO NOTHING`, subscriberID, eventType, msgID, string(body), now, now)
	if err != nil {
		return fmt.Errorf("queue webhook: %w", err)
	}
	return nil
}

// EnqueueWebhookOnce queues one event for one subscriber; msgID is unique,
// so it is queued at most once, ever.
func (db *DB) EnqueueWebhookOnce(ctx context.Context, subscriberID int64, eventType, msgID string, body []byte) (bool, error) {
	var did bool
	err := db.inTx(ctx, func(tx *Tx) error {
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM webhook_deliveries WHERE msg_id = ?`, msgID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		did = true
		return tx.EnqueueWebhook(ctx, subscriberID, eventType, msgID, body)
	})
	return did, err
}

// EnqueueWebhooks queues, in one transaction, an event for every
// confirmed subscriber of kind; body renders the payload for one.
func (db *DB) EnqueueWebhooks(ctx context.Context, kind, eventType, key string, body func(Subscriber) ([]byte, error)) (int, error) {
	subs, err := db.FindSubscribers(ctx, kind, SubConfirmed)
	if err != nil {
		return 0, err
	}
	n := 0
	err = db.inTx(ctx, func(tx *Tx) error {
		n = 0
		for _, s := range subs {
			b, err := body(s)
			if err != nil {
				return err
			}
			if err := tx.EnqueueWebhook(ctx, s.ID, eventType, fmt.Sprintf("msg_%s_%d", key, s.ID), b); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// ClaimWebhooks takes up to limit due deliveries, leasing each for lease:
// a process that dies holding one lets another retry it after the lease,
// with the same webhook-id.
func (db *DB) ClaimWebhooks(ctx context.Context, limit int, lease time.Duration) ([]WebhookDelivery, error) {
	var out []WebhookDelivery
	err := db.inTx(ctx, func(tx *Tx) error {
		now := tx.db.now()
		lock := ""
		if db.dialect.name() == "postgres" {
			lock = " FOR UPDATE OF w SKIP LOCKED"
		}
		rows, err := tx.query(ctx, `SELECT w.id, w.subscriber_id, s.url, s.secret, s.email, w.event_type, w.msg_id, w.body, w.attempts
			FROM webhook_deliveries w JOIN subscribers s ON s.id = w.subscriber_id
			WHERE w.state = 'queued' AND w.not_before <= ? ORDER BY w.not_before, w.id LIMIT ?`+lock, micros(now), limit)
		if err != nil {
			return fmt.Errorf("claim webhooks: %w", err)
		}
		for rows.Next() {
			var d WebhookDelivery
			var body string
			if err := rows.Scan(&d.ID, &d.SubscriberID, &d.URL, &d.Secret, &d.Owner, &d.EventType, &d.MsgID, &body, &d.Attempts); err != nil {
				rows.Close()
				return err
			}
			d.Body = []byte(body)
			out = append(out, d)
		}
		rows.Close()
		for i := range out {
			out[i].Attempts++
			if _, err := tx.exec(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, not_before = ? WHERE id = ?`, micros(now.Add(lease)), out[i].ID); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// WebhookOutcome is what one attempt did.
type WebhookOutcome struct {
	OK     bool
	Status int
	Error  string
	// Retry at this time; zero: give up (a permanent failure).
	RetryAt time.Time
}

// RecordWebhook stores an attempt's outcome and keeps the subscriber's
// count of consecutive failures. It reports whether this failure disabled
// the subscriber (maxFailures in a row).
func (db *DB) RecordWebhook(ctx context.Context, d WebhookDelivery, o WebhookOutcome, maxFailures int) (disabled bool, err error) {
	err = db.inTx(ctx, func(tx *Tx) error {
		disabled = false // this attempt's answer, if an earlier one was rolled back
		now := micros(tx.db.now())
		// The subscriber's row first, in every path: two deliveries to one
		// subscriber recorded at once then queue here instead of
		// deadlocking on each other's delivery rows.
		if _, err := tx.exec(ctx, `UPDATE subscribers SET updated_at = updated_at WHERE id = ?`, d.SubscriberID); err != nil {
			return err
		}
		switch {
		case o.OK:
			if _, err := tx.exec(ctx, `UPDATE webhook_deliveries SET state = 'sent', sent_at = ?, last_status = ?, last_error = '' WHERE id = ?`, now, o.Status, d.ID); err != nil {
				return err
			}
			_, err := tx.exec(ctx, `UPDATE subscribers SET failures = 0, last_error = '' WHERE id = ?`, d.SubscriberID)
			return err
		case o.RetryAt.IsZero():
			if _, err := tx.exec(ctx, `UPDATE webhook_deliveries SET state = 'failed', last_status = ?, last_error = ? WHERE id = ?`, o.Status, o.Error, d.ID); err != nil {
				return err
			}
		default:
			if _, err := tx.exec(ctx, `UPDATE webhook_deliveries SET not_before = ?, last_status = ?, last_error = ? WHERE id = ?`, micros(o.RetryAt), o.Status, o.Error, d.ID); err != nil {
				return err
			}
		}
		var failures int
		if err := tx.queryRow(ctx, `UPDATE subscribers SET failures = failures + 1, last_error = ? WHERE id = ? RETURNING failures`, o.Error, d.SubscriberID).Scan(&failures); err != nil {
			return err
		}
		if failures >= maxFailures {
			res, err := tx.exec(ctx, `UPDATE subscribers SET state = 'disabled', ended_at = ?, updated_at = ? WHERE id = ? AND state = 'confirmed'`, now, now, d.SubscriberID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				disabled = true
				if _, err := tx.exec(ctx, `UPDATE webhook_deliveries SET state = 'cancelled', last_error = 'subscription disabled after repeated failures' WHERE subscriber_id = ? AND state = 'queued'`, d.SubscriberID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return disabled, err
}

// FindWebhookDeliveries lists a subscriber's deliveries (0: all), newest
// first.
func (db *DB) FindWebhookDeliveries(ctx context.Context, subscriberID int64, limit int) ([]WebhookDelivery, error) {
	q := `SELECT w.id, w.subscriber_id, s.url, s.email, w.event_type, w.msg_id, w.state, w.attempts, w.last_status, w.last_error, w.created_at, w.sent_at
		FROM webhook_deliveries w JOIN subscribers s ON s.id = w.subscriber_id`
	var args []any
	if subscriberID != 0 {
		q += ` WHERE w.subscriber_id = ?`
		args = append(args, subscriberID)
	}
	rows, err := db.query(ctx, q+` ORDER BY w.id DESC LIMIT ?`, append(args, clampLimit(limit))...)
	if err != nil {
		return nil, fmt.Errorf("find webhook deliveries: %w", err)
	}
	defer rows.Close()
	var out []WebhookDelivery
	for rows.Next() {
		var d WebhookDelivery
		var created int64
		var sent sql.NullInt64
		if err := rows.Scan(&d.ID, &d.SubscriberID, &d.URL, &d.Owner, &d.EventType, &d.MsgID, &d.State, &d.Attempts, &d.LastStatus, &d.LastError, &created, &sent); err != nil {
			return nil, err
		}
		d.CreatedAt = fromMicros(created)
		if sent.Valid {
			d.SentAt = fromMicros(sent.Int64)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
