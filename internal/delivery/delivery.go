// Package delivery is the vocabulary of the delivery ledger: releases of an
// approved notice version to its audience on one channel, and the delivery
// of that release to each recipient, with the states both move through.
// The ledger is the proof of who was told what, and when.
package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/candorhq/candor/internal/apperr"
)

// ReleaseState is where a release is.
type ReleaseState string

const (
	// Scheduled: waiting for its start time; a worker starts it then.
	ReleaseScheduled ReleaseState = "scheduled"
	// Running: workers claim and send its deliveries.
	ReleaseRunning ReleaseState = "running"
	// Paused by a person or by the circuit breaker; nothing new is claimed
	// until someone resumes it.
	ReleasePaused ReleaseState = "paused"
	// Cancelled: its unsent deliveries were cancelled.
	ReleaseCancelled ReleaseState = "cancelled"
	// Done: every delivery reached a final state.
	ReleaseDone ReleaseState = "done"
)

// Label is the state as the UI shows it.
func (s ReleaseState) Label() string {
	switch s {
	case ReleaseScheduled:
		return "Scheduled"
	case ReleaseRunning:
		return "Sending"
	case ReleasePaused:
		return "Paused"
	case ReleaseCancelled:
		return "Cancelled"
	case ReleaseDone:
		return "Done"
	}
	return string(s)
}

// Final reports whether nothing more will happen to the release.
func (s ReleaseState) Final() bool { return s == ReleaseCancelled || s == ReleaseDone }

// State is where one delivery is.
type State string

const (
	Queued    State = "queued"    // waiting to be claimed
	Sending   State = "sending"   // claimed by a worker: in flight
	Sent      State = "sent"      // the provider accepted it
	Deferred  State = "deferred"  // a temporary failure; tried again at NotBefore
	Failed    State = "failed"    // a permanent failure, or no address
	Bounced   State = "bounced"   // accepted, then bounced (filled from inbound mail)
	Cancelled State = "cancelled" // the release was cancelled before it was sent
)

// States lists every delivery state in the order progress shows them.
var States = []State{Sent, Sending, Queued, Deferred, Failed, Bounced, Cancelled}

// Final reports whether the delivery is finished.
func (s State) Final() bool {
	return s == Sent || s == Failed || s == Bounced || s == Cancelled
}

// Release is an approved notice version released to its audience on one
// channel.
type Release struct {
	ID         int64
	NoticeID   int64
	VersionID  int64
	Version    int
	AudienceID int64
	Channel    string
	State      ReleaseState
	StartAt    time.Time
	// Reason is why the release is paused or cancelled.
	Reason string
	// StateBy is who (or what: "circuit breaker") last moved its state.
	StateBy    string
	Total      int64
	CreatedBy  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt *time.Time
	// TokenKey signs the reply and bounce tokens of its deliveries.
	TokenKey []byte
}

// Delivery is one row of the ledger: one recipient of one release.
type Delivery struct {
	ID                int64
	ReleaseID         int64
	RecipientID       int64
	Address           string
	Variant           *int
	State             State
	Attempts          int
	NotBefore         time.Time
	LastError         string
	MessageID         string
	ProviderID        string
	PossibleDuplicate bool
	QueuedAt          time.Time
	FirstAttemptAt    *time.Time
	LastAttemptAt     *time.Time
	SentAt            *time.Time
}

// Record is a delivery as a person looks it up: with the notice it carried.
type Record struct {
	Delivery
	NoticeID    int64
	NoticeTitle string
	Version     int
	Channel     string
	IncidentID  int64
}

// Counts is how many deliveries of a release are in each state.
type Counts map[State]int64

// Total is the number of deliveries.
func (c Counts) Total() int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

// Finished is the number of deliveries in a final state.
func (c Counts) Finished() int64 {
	var n int64
	for s, v := range c {
		if s.Final() {
			n += v
		}
	}
	return n
}

// Progress is a release's counts with its rate and estimated time left.
type Progress struct {
	Release Release
	Counts  Counts
	// Rate is deliveries finished per second over the last seconds.
	Rate float64
	// ETA is the estimated time left at Rate; zero when unknown or done.
	ETA time.Duration
	At  time.Time
}

// Percent is the share of deliveries finished, 0–100.
func (p Progress) Percent() float64 {
	t := p.Counts.Total()
	if t == 0 {
		return 100
	}
	return 100 * float64(p.Counts.Finished()) / float64(t)
}

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Token is the delivery's reply and bounce token: the delivery ID and a
// MAC under the release's key, short enough for a local part and safe in
// one (lower-case letters and digits only). The inbound side checks it with
// ParseToken, so nobody can forge a reply to someone else's delivery.
func Token(key []byte, deliveryID int64) string {
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], uint64(deliveryID))
	m := hmac.New(sha256.New, key)
	m.Write(id[:])
	sum := m.Sum(nil)
	return fmt.Sprintf("%d", deliveryID) + "x" + b32.EncodeToString(sum[:10])
}

// TokenDelivery returns the delivery ID a token names, without checking its
// MAC; the caller loads the release's key and calls VerifyToken.
func TokenDelivery(token string) (int64, error) {
	id, _, ok := strings.Cut(token, "x")
	var n int64
	if !ok || id == "" || len(id) > 19 {
		return 0, apperr.Invalid("token", "not a delivery token")
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return 0, apperr.Invalid("token", "not a delivery token")
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// VerifyToken reports whether token is the token of deliveryID under key.
func VerifyToken(key []byte, deliveryID int64, token string) bool {
	return hmac.Equal([]byte(Token(key, deliveryID)), []byte(strings.ToLower(token)))
}

// MessageID is the Message-ID of a delivery. It is derived from the
// delivery and its release's key, never random, so a message sent again
// after a crash carries the same Message-ID as the first attempt and the
// receiving systems can tell it is the same message.
func MessageID(key []byte, deliveryID int64, domain string) string {
	return "<" + Token(key, deliveryID) + "@" + domain + ">"
}

// EncodeKey and DecodeKey convert a release key to and from its stored form.
func EncodeKey(k []byte) string { return hex.EncodeToString(k) }

// DecodeKey is the inverse of EncodeKey.
func DecodeKey(s string) ([]byte, error) { return hex.DecodeString(s) }
