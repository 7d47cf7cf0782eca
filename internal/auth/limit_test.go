package auth_test

import (
	"sync"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/auth"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newLimiter(burst int, every time.Duration) (*auth.Limiter, *clock) {
	c := &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	l := auth.NewLimiter(burst, every)
	l.Now = c.now
	return l, c
}

func TestLimiterBurstThenRefused(t *testing.T) {
	l, _ := newLimiter(5, time.Minute)
	for i := 1; i <= 5; i++ {
		if ok, retry := l.Allow("203.0.113.7"); !ok || retry != 0 {
			t.Fatalf("attempt %d: Allow = %v, %v; want allowed", i, ok, retry)
		}
	}
	ok, retry := l.Allow("203.0.113.7")
	if ok {
		t.Fatal("attempt 6 allowed, want refused")
	}
	if retry != time.Minute {
		t.Errorf("retry = %v, want 1m", retry)
	}
}

func TestLimiterRefill(t *testing.T) {
	tests := []struct {
		name      string
		wait      time.Duration
		wantOK    int           // attempts allowed after waiting
		wantRetry time.Duration // retry reported by the first refused attempt
	}{
		{"no wait", 0, 0, time.Minute},
		{"half the interval", 30 * time.Second, 0, 30 * time.Second},
		{"just under one interval", time.Minute - time.Second, 0, time.Second},
		{"one interval", time.Minute, 1, time.Minute},
		{"two and a half intervals", 150 * time.Second, 2, 30 * time.Second},
		{"much longer than the burst takes to refill", 24 * time.Hour, 3, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, c := newLimiter(3, time.Minute)
			for i := 0; i < 3; i++ {
				l.Allow("k")
			}
			c.advance(tt.wait)
			for i := 0; i < tt.wantOK; i++ {
				if ok, _ := l.Allow("k"); !ok {
					t.Fatalf("attempt %d after %v refused", i+1, tt.wait)
				}
			}
			ok, retry := l.Allow("k")
			if ok {
				t.Fatalf("attempt %d after %v allowed; want only %d", tt.wantOK+1, tt.wait, tt.wantOK)
			}
			if d := retry - tt.wantRetry; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("retry = %v, want %v", retry, tt.wantRetry)
			}
		})
	}
}

func TestLimiterRetryIsHonest(t *testing.T) {
	// Waiting exactly the retry duration must be enough.
	l, c := newLimiter(2, 10*time.Second)
	l.Allow("k")
	l.Allow("k")
	c.advance(3 * time.Second)
	ok, retry := l.Allow("k")
	if ok {
		t.Fatal("allowed too early")
	}
	c.advance(retry)
	if ok, _ := l.Allow("k"); !ok {
		t.Errorf("refused after waiting the advertised %v", retry)
	}
}

func TestLimiterRefusalsDoNotExtendTheWait(t *testing.T) {
	l, c := newLimiter(1, time.Minute)
	l.Allow("k")
	for i := 0; i < 10; i++ {
		c.advance(time.Second)
		l.Allow("k") // hammering while locked out
	}
	c.advance(50 * time.Second)
	if ok, retry := l.Allow("k"); !ok {
		t.Errorf("refused a minute after the last success (retry %v)", retry)
	}
}

func TestLimiterKeysAreIndependent(t *testing.T) {
	l, _ := newLimiter(2, time.Hour)
	l.Allow("ip:203.0.113.7")
	l.Allow("ip:203.0.113.7")
	if ok, _ := l.Allow("ip:203.0.113.7"); ok {
		t.Fatal("third attempt allowed")
	}
	for _, k := range []string{"ip:203.0.113.8", "email:alice@example.com", ""} {
		if ok, _ := l.Allow(k); !ok {
			t.Errorf("key %q refused because another key is exhausted", k)
		}
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l, _ := newLimiter(50, time.Hour)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if ok, _ := l.Allow("shared"); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if allowed != 50 {
		t.Errorf("%d of 160 concurrent attempts allowed, want exactly the burst of 50", allowed)
	}
}
