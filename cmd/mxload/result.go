package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Result is what one run measured. Times are in milliseconds.
type Result struct {
	Addr      string         `json:"addr"`
	Conns     int            `json:"conns"`
	Size      int            `json:"size"`
	Attempted int            `json:"attempted"`
	Sent      int            `json:"sent"`
	Failed    int            `json:"failed"`
	Failures  map[string]int `json:"failures"`
	Kinds     map[string]int `json:"kinds"`
	ElapsedS  float64        `json:"elapsed_s"`
	Rate      float64        `json:"msgs_per_s"`
	P50       float64        `json:"p50_ms"`
	P90       float64        `json:"p90_ms"`
	P99       float64        `json:"p99_ms"`
	Max       float64        `json:"max_ms"`
	ClientCPU float64        `json:"client_cpu_s"`
}

func summarize(o *Options, workers []*worker, elapsed time.Duration) *Result {
	r := &Result{
		Addr: o.Addr, Conns: o.Conns, Size: o.Size,
		Failures: map[string]int{}, Kinds: map[string]int{},
		ElapsedS: elapsed.Seconds(),
	}
	var lat []time.Duration
	for _, w := range workers {
		r.Attempted += w.attempts
		lat = append(lat, w.latencies...)
		for code, n := range w.failures {
			r.Failures[code] += n
			r.Failed += n
		}
		for k, n := range w.kinds {
			r.Kinds[Kind(k).String()] += n
		}
	}
	r.Sent = len(lat)
	if elapsed > 0 {
		r.Rate = float64(r.Sent) / elapsed.Seconds()
	}
	slices.Sort(lat)
	r.P50, r.P90, r.P99 = ms(percentile(lat, 50)), ms(percentile(lat, 90)), ms(percentile(lat, 99))
	if len(lat) > 0 {
		r.Max = ms(lat[len(lat)-1])
	}
	return r
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.999999) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Print writes the human-readable summary.
func (r *Result) Print(w io.Writer) {
	fmt.Fprintf(w, "target     %s, %d connections, %d-byte messages\n", r.Addr, r.Conns, r.Size)
	fmt.Fprintf(w, "sent       %d of %d (new %d, reply %d, merge %d)\n", r.Sent, r.Attempted, r.Kinds["new"], r.Kinds["reply"], r.Kinds["merge"])
	fmt.Fprintf(w, "failures   %d%s\n", r.Failed, failureList(r.Failures))
	fmt.Fprintf(w, "elapsed    %.3fs\n", r.ElapsedS)
	fmt.Fprintf(w, "rate       %.1f msgs/s\n", r.Rate)
	fmt.Fprintf(w, "latency    p50 %.2fms  p90 %.2fms  p99 %.2fms  max %.2fms\n", r.P50, r.P90, r.P99, r.Max)
	fmt.Fprintf(w, "client cpu %.2fs (%.0f%% of one core)\n", r.ClientCPU, 100*r.ClientCPU/max(r.ElapsedS, 1e-9))
}

func failureList(f map[string]int) string {
	if len(f) == 0 {
		return ""
	}
	codes := make([]string, 0, len(f))
	for c := range f {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	var b strings.Builder
	b.WriteString(" (")
	for i, c := range codes {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %d", c, f[c])
	}
	b.WriteString(")")
	return b.String()
}

// cpuTime is the user+system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
