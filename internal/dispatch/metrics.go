package dispatch

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorhq/candor/internal/delivery"
)

// Metrics are the dispatcher's Prometheus metrics.
type Metrics struct {
	outcomes *prometheus.CounterVec
	trips    prometheus.Counter
}

// NewMetrics registers the dispatcher's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "candor_deliveries_total",
			Help: "Delivery attempts finished by this process, by channel and outcome (sent, deferred, failed, queued: retried on another connection).",
		}, []string{"channel", "state"}),
		trips: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "candor_release_breaker_trips_total",
			Help: "Releases paused by the circuit breaker because too many attempts failed.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.outcomes, m.trips)
	}
	return m
}

func (m *Metrics) observe(channel string, s delivery.State) {
	if m != nil {
		m.outcomes.WithLabelValues(channel, string(s)).Inc()
	}
}

func (m *Metrics) tripped() {
	if m != nil {
		m.trips.Inc()
	}
}
