package cli

import (
	"testing"
	"time"

	"github.com/candorhq/candor/internal/audience"
)

func TestProgressLine(t *testing.T) {
	cases := []struct {
		p       audience.Progress
		elapsed time.Duration
		want    string
	}{
		{audience.Progress{Rows: 250000, Bytes: 25 << 20, Total: 100 << 20}, 2 * time.Second,
			"[######..................]  25%  250,000 rows  125,000 rows/s  6s left"},
		{audience.Progress{Rows: 1200, Rejected: 3}, time.Second, "1,200 rows  1,200 rows/s  3 rejected"},
	}
	for _, c := range cases {
		if got := progressLine(c.p, c.elapsed); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}
