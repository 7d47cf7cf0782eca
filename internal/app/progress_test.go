package app

import (
	"sync"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/delivery"
)

// A count is shared only when counting is slow, for ten times as long as
// it took; a quick one is made afresh for every caller.
func TestCountBookReusesOnlySlowCounts(t *testing.T) {
	var mu sync.Mutex
	clock := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	var b countBook
	counted, took := 0, time.Millisecond
	count := func() (delivery.Counts, error) {
		counted++
		advance(took)
		return delivery.Counts{delivery.Queued: int64(counted)}, nil
	}
	get := func() int64 {
		t.Helper()
		c, _, err := b.get(1, now, count)
		if err != nil {
			t.Fatal(err)
		}
		c[delivery.Sent] = 99 // callers get their own copy
		return c[delivery.Queued]
	}

	if get() != 1 || get() != 2 {
		t.Fatalf("quick counts were reused: %d counts", counted)
	}
	took = 200 * time.Millisecond
	if n := get(); n != 3 {
		t.Fatalf("slow count: got %d", n)
	}
	advance(time.Second) // 1.2 s after the slow count started: within 2 s
	if n := get(); n != 3 || counted != 3 {
		t.Fatalf("a slow count was not reused within ten times its duration: got %d after %d counts", n, counted)
	}
	advance(time.Second)
	if n := get(); n != 4 {
		t.Fatalf("a slow count was reused for more than ten times its duration: got %d", n)
	}
	if c, _, _ := b.get(1, now, count); c[delivery.Sent] != 0 {
		t.Fatalf("a caller's change to its counts reached the shared copy: %v", c)
	}
	if c, _, _ := b.get(2, now, count); c[delivery.Queued] != 5 {
		t.Fatalf("another release got a shared count: %v", c)
	}
}
