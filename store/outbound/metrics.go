package outbound

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sobot/ticketmx/store"
)

// metrics are the sender's series (names: ticketmx_ prefix, _total for
// counters, base units).
type metrics struct {
	attempts    *prometheus.CounterVec
	connections prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, q store.OutboundQueue, now func() time.Time, log *slog.Logger) *metrics {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketmx_outbound_attempts_total",
			Help: "Reply sending attempts by result: sent, retry (failed, tried again later) or failed (a 5xx, or retry.max_age passed).",
		}, []string{"result"}),
		connections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ticketmx_outbound_connections_total",
			Help: "SMTP connections opened to send replies; a connection carries several replies in a row, so fewer than attempts while reuse works.",
		}),
	}
	for _, r := range []string{"sent", "retry", "failed"} {
		m.attempts.WithLabelValues(r) // shown as 0 before the first
	}
	for _, c := range []prometheus.Collector{m.attempts, m.connections, &queueCollector{q: q, now: now, log: log}} {
		if err := reg.Register(c); err != nil {
			log.Error("outbound: registering metrics", "err", err)
		}
	}
	return m
}

var (
	repliesDesc = prometheus.NewDesc("ticketmx_outbound_replies",
		"Replies by outbound state (queued, sent, failed, bounced), of every host.", []string{"state"}, nil)
	oldestDesc = prometheus.NewDesc("ticketmx_outbound_queue_oldest_seconds",
		"Age of the oldest queued reply (0 when none is queued).", nil, nil)
)

// queueCollector reads both gauges with one OutboundStats call per
// scrape, bounded so that a slow store does not hang the scrape; when the
// store does not answer, the gauges are left out of that scrape.
type queueCollector struct {
	q   store.OutboundQueue
	now func() time.Time
	log *slog.Logger
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- repliesDesc
	ch <- oldestDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	st, err := c.q.OutboundStats(ctx)
	if err != nil {
		c.log.Debug("outbound: queue stats", "err", err)
		return
	}
	for _, state := range []string{store.OutboundQueued, store.OutboundSent, store.OutboundFailed, store.OutboundBounced} {
		ch <- prometheus.MustNewConstMetric(repliesDesc, prometheus.GaugeValue, float64(st.ByState[state]), state)
	}
	oldest := 0.0
	if !st.OldestQueued.IsZero() {
		oldest = max(c.now().Sub(st.OldestQueued).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, oldest)
}
