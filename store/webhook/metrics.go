package webhook

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sobot/ticketmx/store"
)

// metrics are the worker's series (names: ticketmx_ prefix, _total for
// counters, base units).
type metrics struct {
	deliveries *prometheus.CounterVec
	duration   prometheus.Histogram
	latency    prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, q store.EventQueue, now func() time.Time, log *slog.Logger) *metrics {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketmx_webhook_deliveries_total",
			Help: "Webhook delivery attempts by result: delivered, retry (failed, tried again later) or failed (given up: retry.max_age passed).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ticketmx_webhook_delivery_seconds",
			Help:    "Duration of one webhook delivery attempt.",
			Buckets: prometheus.DefBuckets,
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ticketmx_webhook_latency_seconds",
			Help:    "From an event's creation to its delivery at an endpoint.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600},
		}),
	}
	for _, r := range []string{"delivered", "retry", "failed"} {
		m.deliveries.WithLabelValues(r) // shown as 0 before the first
	}
	for _, c := range []prometheus.Collector{m.deliveries, m.duration, m.latency, &queueCollector{q: q, now: now, log: log}} {
		if err := reg.Register(c); err != nil {
			log.Error("webhook: registering metrics", "err", err)
		}
	}
	return m
}

// observe counts one recorded attempt; latency counts only a delivery.
func (m *metrics) observe(result string, elapsed, latency time.Duration) {
	m.deliveries.WithLabelValues(result).Inc()
	m.duration.Observe(elapsed.Seconds())
	if result == "delivered" {
		m.latency.Observe(latency.Seconds())
	}
}

var (
	pendingDesc = prometheus.NewDesc("ticketmx_webhook_pending",
		"Webhook deliveries pending (one per event and endpoint), of every host.", nil, nil)
	oldestDesc = prometheus.NewDesc("ticketmx_webhook_oldest_pending_seconds",
		"Age of the oldest pending webhook delivery (0 when none is pending).", nil, nil)
)

// queueCollector reads both queue gauges with one DeliveryStats call per
// scrape, bounded so that a slow store does not hang the scrape; when the
// store does not answer, the gauges are left out of that scrape.
type queueCollector struct {
	q   store.EventQueue
	now func() time.Time
	log *slog.Logger
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- oldestDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	st, err := c.q.DeliveryStats(ctx)
	if err != nil {
		c.log.Debug("webhook: queue stats", "err", err)
		return
	}
	oldest := 0.0
	if !st.OldestPending.IsZero() {
		oldest = max(c.now().Sub(st.OldestPending).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, oldest)
}
