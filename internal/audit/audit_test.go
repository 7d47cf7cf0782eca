package audit_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/audit"
)

func sampleEntry() audit.Entry {
	return audit.Entry{
		Seq:        7,
		At:         time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC),
		ActorID:    3,
		Actor:      "alice@example.com",
		Action:     "facts.update",
		ObjectType: "incident",
		ObjectID:   "42",
		IncidentID: 42,
		Summary:    "Updated the facts to version 2",
		Change:     audit.Change(map[string]int{"affected_total": 100}, map[string]int{"affected_total": 1200}),
		PrevHash:   audit.Genesis,
	}
}

func TestComputeHashDeterministic(t *testing.T) {
	e := sampleEntry()
	h := audit.ComputeHash(e)
	if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		t.Fatalf("hash %q is not 64 lower-case hex digits", h)
	}
	if audit.ComputeHash(e) != h || audit.ComputeHash(sampleEntry()) != h {
		t.Error("ComputeHash is not deterministic")
	}
	// The same instant in another zone is the same entry.
	e.At = e.At.In(time.FixedZone("CEST", 2*3600))
	if audit.ComputeHash(e) != h {
		t.Error("hash depends on the time zone the time is expressed in")
	}
	// Hash itself is not covered.
	e.Hash = "anything"
	if audit.ComputeHash(e) != h {
		t.Error("hash depends on the Hash field")
	}
}

func TestComputeHashCoversEveryField(t *testing.T) {
	base := audit.ComputeHash(sampleEntry())
	tests := []struct {
		name string
		edit func(e *audit.Entry)
	}{
		{"seq", func(e *audit.Entry) { e.Seq++ }},
		{"at", func(e *audit.Entry) { e.At = e.At.Add(time.Nanosecond) }},
		{"actor id", func(e *audit.Entry) { e.ActorID = 0 }},
		{"actor", func(e *audit.Entry) { e.Actor = "mallory@example.com" }},
		{"action", func(e *audit.Entry) { e.Action = "facts.delete" }},
		{"object type", func(e *audit.Entry) { e.ObjectType = "user" }},
		{"object id", func(e *audit.Entry) { e.ObjectID = "43" }},
		{"incident id", func(e *audit.Entry) { e.IncidentID = 0 }},
		{"summary", func(e *audit.Entry) { e.Summary += "." }},
		{"change", func(e *audit.Entry) { e.Change = audit.Change(nil, map[string]int{"affected_total": 1200}) }},
		{"change removed", func(e *audit.Entry) { e.Change = nil }},
		{"prev hash", func(e *audit.Entry) { e.PrevHash = strings.Repeat("1", 64) }},
		// Length prefixes: moving text between adjacent fields changes the hash.
		{"text moved from actor to action", func(e *audit.Entry) {
			e.Actor, e.Action = "alice@example.comfacts", ".update"
		}},
		{"text moved from object type to object id", func(e *audit.Entry) {
			e.ObjectType, e.ObjectID = "incident4", "2"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := sampleEntry()
			tt.edit(&e)
			if audit.ComputeHash(e) == base {
				t.Errorf("changing %s does not change the hash", tt.name)
			}
		})
	}
}

func TestChange(t *testing.T) {
	if c := audit.Change(nil, nil); c != nil {
		t.Errorf("Change(nil, nil) = %s, want nil", c)
	}
	var got map[string]any
	if err := json.Unmarshal(audit.Change("old", "new"), &got); err != nil {
		t.Fatal(err)
	}
	if got["before"] != "old" || got["after"] != "new" {
		t.Errorf("Change = %v", got)
	}
	if err := json.Unmarshal(audit.Change(nil, 5), &got); err != nil {
		t.Fatal(err)
	}
}

// chain builds n linked entries the way the store appends them.
func chain(n int) []audit.Entry {
	es := make([]audit.Entry, n)
	prev := audit.Genesis
	t0 := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	for i := range es {
		e := audit.Entry{
			Seq: int64(i + 1), At: t0.Add(time.Duration(i) * time.Minute),
			ActorID: 1, Actor: "alice@example.com", Action: "incident.update",
			ObjectType: "incident", ObjectID: "1", IncidentID: 1,
			Summary: "step " + string(rune('A'+i)), PrevHash: prev,
		}
		e.Hash = audit.ComputeHash(e)
		prev = e.Hash
		es[i] = e
	}
	return es
}

// verify feeds entries to a Verifier and ends it at the head, returning the
// first problem.
func verify(es []audit.Entry, headSeq int64, headHash string) (*audit.Problem, int64) {
	var v audit.Verifier
	for _, e := range es {
		if p := v.Next(e); p != nil {
			return p, v.Checked
		}
	}
	return v.End(headSeq, headHash), v.Checked
}

func TestVerifierIntactChain(t *testing.T) {
	for _, n := range []int{1, 2, 5} {
		es := chain(n)
		last := es[n-1]
		if p, checked := verify(es, last.Seq, last.Hash); p != nil || checked != int64(n) {
			t.Errorf("chain of %d: problem %v, checked %d", n, p, checked)
		}
	}
	if p, _ := verify(nil, 0, ""); p != nil {
		t.Errorf("empty log: %v", p)
	}
}

func TestVerifierFindsTampering(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func(es []audit.Entry) []audit.Entry
		headSeq  int64 // 0: the original head
		headHash string
		wantSeq  int64
		wantKind string
	}{
		{
			name:    "altered content",
			tamper:  func(es []audit.Entry) []audit.Entry { es[2].Summary = "nothing to see"; return es },
			wantSeq: 3, wantKind: "altered",
		},
		{
			name: "altered content with its own hash recomputed",
			tamper: func(es []audit.Entry) []audit.Entry {
				es[2].Actor = "bob@example.com"
				es[2].Hash = audit.ComputeHash(es[2])
				return es
			},
			wantSeq: 4, wantKind: "altered", // entry 4 no longer links to it
		},
		{
			name:    "broken link",
			tamper:  func(es []audit.Entry) []audit.Entry { es[3].PrevHash = es[1].Hash; return es },
			wantSeq: 4, wantKind: "altered",
		},
		{
			name: "broken link re-hashed",
			tamper: func(es []audit.Entry) []audit.Entry {
				es[3].PrevHash = audit.Genesis
				es[3].Hash = audit.ComputeHash(es[3])
				return es
			},
			wantSeq: 4, wantKind: "altered",
		},
		{
			name:    "removed middle entry",
			tamper:  func(es []audit.Entry) []audit.Entry { return append(es[:2:2], es[3:]...) },
			wantSeq: 3, wantKind: "removed",
		},
		{
			name:    "removed first entry",
			tamper:  func(es []audit.Entry) []audit.Entry { return es[1:] },
			wantSeq: 1, wantKind: "removed",
		},
		{
			name:    "removed last entry",
			tamper:  func(es []audit.Entry) []audit.Entry { return es[:4] },
			wantSeq: 5, wantKind: "removed",
		},
		{
			name:    "removed last two entries",
			tamper:  func(es []audit.Entry) []audit.Entry { return es[:3] },
			wantSeq: 4, wantKind: "removed",
		},
		{
			name: "last entry rewritten and re-hashed",
			tamper: func(es []audit.Entry) []audit.Entry {
				es[4].Summary = "rewritten"
				es[4].Hash = audit.ComputeHash(es[4])
				return es
			},
			wantSeq: 5, wantKind: "altered",
		},
		{
			name:     "head hash rewritten",
			tamper:   func(es []audit.Entry) []audit.Entry { return es },
			headHash: strings.Repeat("f", 64),
			wantSeq:  5, wantKind: "altered",
		},
		{
			name:    "entries appended beyond the recorded head",
			tamper:  func(es []audit.Entry) []audit.Entry { return chain(6) },
			headSeq: 5, headHash: chain(5)[4].Hash,
			wantSeq: 6, wantKind: "altered",
		},
		{
			name:    "reordered",
			tamper:  func(es []audit.Entry) []audit.Entry { es[1], es[2] = es[2], es[1]; return es },
			wantSeq: 2, wantKind: "removed", // 3 arrives where 2 was due
		},
		{
			name:    "duplicated entry",
			tamper:  func(es []audit.Entry) []audit.Entry { return append(es[:3:3], es[2:]...) },
			wantSeq: 3, wantKind: "reordered",
		},
		{
			name: "whole chain rebuilt without one entry",
			tamper: func(es []audit.Entry) []audit.Entry {
				// An attacker with write access renumbers and re-hashes
				// everything; only the recorded head catches it.
				return chain(4)
			},
			wantSeq: 5, wantKind: "removed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := chain(5)
			headSeq, headHash := orig[4].Seq, orig[4].Hash
			if tt.headSeq != 0 {
				headSeq = tt.headSeq
			}
			if tt.headHash != "" {
				headHash = tt.headHash
			}
			p, _ := verify(tt.tamper(chain(5)), headSeq, headHash)
			if p == nil {
				t.Fatal("tampering not found")
			}
			if p.Seq != tt.wantSeq || p.Kind != tt.wantKind {
				t.Errorf("problem = %+v, want entry %d %s", p, tt.wantSeq, tt.wantKind)
			}
			if p.Detail == "" || !strings.Contains(p.Error(), p.Kind) {
				t.Errorf("problem %q does not explain itself", p.Error())
			}
		})
	}
}

func TestVerifierStopsAtFirstProblem(t *testing.T) {
	es := chain(5)
	es[1].Summary = "changed"
	var v audit.Verifier
	if p := v.Next(es[0]); p != nil {
		t.Fatal(p)
	}
	p := v.Next(es[1])
	if p == nil || p.Seq != 2 {
		t.Fatalf("problem = %v, want entry 2", p)
	}
	if v.Checked != 1 {
		t.Errorf("Checked = %d, want 1", v.Checked)
	}
}
