package auth

import (
	"sync"
	"time"
)

// Limiter is a keyed token bucket: each key may spend Burst attempts at once
// and regains one every Every. It is safe for concurrent use. Login uses it
// per client address and per email so that guessing passwords is slow.
type Limiter struct {
	Burst int
	Every time.Duration
	Now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewLimiter returns a limiter allowing burst attempts, refilled one per every.
func NewLimiter(burst int, every time.Duration) *Limiter {
	return &Limiter{Burst: burst, Every: every, Now: time.Now, buckets: map[string]*bucket{}}
}

// Allow spends one attempt of key and reports whether one was left. When it
// returns false, retry says how long until the next attempt is allowed.
func (l *Limiter) Allow(key string) (ok bool, retry time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Now()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) > 100000 {
			l.sweep(now)
		}
		b = &bucket{tokens: float64(l.Burst), last: now}
		l.buckets[key] = b
	}
	b.tokens += float64(now.Sub(b.last)) / float64(l.Every)
	if b.tokens > float64(l.Burst) {
		b.tokens = float64(l.Burst)
	}
	b.last = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(l.Every))
	}
	b.tokens--
	return true, 0
}

// sweep drops buckets that are full again, bounding memory under attack.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.last))/float64(l.Every) >= float64(l.Burst) {
			delete(l.buckets, k)
		}
	}
}
