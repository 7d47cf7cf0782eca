// Package audit owns the append-only audit log: what an entry records, how
// each entry's hash covers its content and the previous entry's hash (a hash
// chain), and how a chain is verified so that an altered or removed entry is
// found and named. Package store appends entries in the same transaction as
// the change they record.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Entry is one recorded action.
type Entry struct {
	Seq        int64           `json:"seq"` // 1, 2, 3, … without gaps
	At         time.Time       `json:"at"`
	ActorID    int64           `json:"actor_id,omitempty"` // 0 for the command line or the system
	Actor      string          `json:"actor"`              // who, as shown to people
	Action     string          `json:"action"`             // e.g. "incident.create", "facts.update"
	ObjectType string          `json:"object_type"`        // e.g. "incident", "user"
	ObjectID   string          `json:"object_id"`
	IncidentID int64           `json:"incident_id,omitempty"`
	Summary    string          `json:"summary"`          // one human sentence
	Change     json.RawMessage `json:"change,omitempty"` // {"before":…,"after":…}
	PrevHash   string          `json:"prev_hash"`
	Hash       string          `json:"hash"`
}

// Genesis is the previous hash of the first entry.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// ComputeHash returns the hash of e's content and its PrevHash. Every field
// except Hash itself is covered, each length-prefixed so that no two entries
// can share an encoding.
func ComputeHash(e Entry) string {
	h := sha256.New()
	for _, f := range []string{
		"candor-audit-v1",
		strconv.FormatInt(e.Seq, 10),
		e.At.UTC().Format(time.RFC3339Nano),
		strconv.FormatInt(e.ActorID, 10),
		e.Actor, e.Action, e.ObjectType, e.ObjectID,
		strconv.FormatInt(e.IncidentID, 10),
		e.Summary, string(e.Change), e.PrevHash,
	} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Change encodes a before/after pair for Entry.Change. Either may be nil.
func Change(before, after any) json.RawMessage {
	if before == nil && after == nil {
		return nil
	}
	b, err := json.Marshal(struct {
		Before any `json:"before,omitempty"`
		After  any `json:"after,omitempty"`
	}{before, after})
	if err != nil {
		panic(fmt.Sprintf("audit change: %v", err)) // callers pass plain data
	}
	return b
}

// Problem is the first break found in a chain.
type Problem struct {
	Seq    int64  // the entry concerned
	Kind   string // "altered", "removed" or "reordered"
	Detail string
}

func (p *Problem) Error() string {
	return fmt.Sprintf("audit entry %d %s: %s", p.Seq, p.Kind, p.Detail)
}

// Verifier checks entries fed to it in Seq order. Use it as
//
//	v := audit.Verifier{}
//	for each entry { if p := v.Next(e); p != nil { … } }
//	if p := v.End(headSeq, headHash); p != nil { … }
type Verifier struct {
	prevSeq  int64
	prevHash string
	Checked  int64
}

// Next checks one entry against its own content and the entry before it.
func (v *Verifier) Next(e Entry) *Problem {
	if v.prevHash == "" {
		v.prevHash = Genesis
	}
	switch {
	case e.Seq <= v.prevSeq:
		return &Problem{Seq: e.Seq, Kind: "reordered", Detail: fmt.Sprintf("sequence number %d follows %d", e.Seq, v.prevSeq)}
	case e.Seq != v.prevSeq+1:
		return &Problem{Seq: v.prevSeq + 1, Kind: "removed", Detail: fmt.Sprintf("entries %d to %d are missing", v.prevSeq+1, e.Seq-1)}
	case e.PrevHash != v.prevHash:
		return &Problem{Seq: e.Seq, Kind: "altered", Detail: "its link to the previous entry does not match"}
	case ComputeHash(e) != e.Hash:
		return &Problem{Seq: e.Seq, Kind: "altered", Detail: "its content does not match its hash"}
	}
	v.prevSeq, v.prevHash = e.Seq, e.Hash
	v.Checked++
	return nil
}

// End checks that the chain ends at the head the log recorded (its last
// sequence number and hash), so that removing or rewriting the newest entries
// is caught too.
func (v *Verifier) End(headSeq int64, headHash string) *Problem {
	switch {
	case headSeq > v.prevSeq:
		return &Problem{Seq: v.prevSeq + 1, Kind: "removed", Detail: fmt.Sprintf("the log recorded %d entries but only %d remain", headSeq, v.prevSeq)}
	case headSeq < v.prevSeq:
		return &Problem{Seq: headSeq + 1, Kind: "altered", Detail: fmt.Sprintf("the log recorded %d entries but %d are present", headSeq, v.prevSeq)}
	case headSeq > 0 && headHash != v.prevHash:
		return &Problem{Seq: headSeq, Kind: "altered", Detail: "the newest entry does not match the hash the log recorded for it"}
	}
	return nil
}
