package dispatch

import (
	"fmt"
	"sort"
)

// breaker watches one release's last attempts and trips when too many
// failed: a relay that rejects everything, a provider that throttles, a
// misconfigured sender domain. Sending on would only burn the audience's
// trust and the sender's reputation, so the release waits for a person.
type breaker struct {
	window []bool // true: failed
	errs   []string
	next   int
	filled int
	failed int
	min    int
	ratio  float64
}

func newBreaker(window, min int, ratio float64) *breaker {
	return &breaker{window: make([]bool, window), errs: make([]string, window), min: min, ratio: ratio}
}

// add records one attempt and reports whether the breaker trips.
func (b *breaker) add(failed bool, err string) bool {
	if b.filled == len(b.window) && b.window[b.next] {
		b.failed--
	}
	b.window[b.next], b.errs[b.next] = failed, err
	if failed {
		b.failed++
	}
	b.next = (b.next + 1) % len(b.window)
	b.filled = min(b.filled+1, len(b.window))
	return b.filled >= b.min && float64(b.failed) > b.ratio*float64(b.filled)
}

// reason says why the breaker tripped, with the most common error.
func (b *breaker) reason() string {
	count := map[string]int{}
	for i := 0; i < b.filled; i++ {
		if b.window[i] && b.errs[i] != "" {
			count[b.errs[i]]++
		}
	}
	type kv struct {
		err string
		n   int
	}
	var top []kv
	for e, n := range count {
		top = append(top, kv{e, n})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].n > top[j].n || top[i].n == top[j].n && top[i].err < top[j].err })
	s := fmt.Sprintf("%d of the last %d attempts failed (more than %.0f%%)", b.failed, b.filled, 100*b.ratio)
	if len(top) > 0 {
		s += fmt.Sprintf("; most often (%d times): %s", top[0].n, top[0].err)
	}
	return s + ". Fix the cause, then resume."
}
