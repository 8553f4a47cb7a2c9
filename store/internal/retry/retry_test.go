package retry

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{1, 0, 5 * time.Second},
		{2, 0, 10 * time.Second},
		{4, 0, 40 * time.Second},
		{20, 0, time.Minute},                           // capped at maxInterval
		{1, 0.5, 5*time.Second + 250*time.Millisecond}, // plus r×10%
		{20, 0.999, time.Minute + time.Duration(float64(time.Minute)*0.0999)},
	}
	for _, tt := range tests {
		if got := Backoff(tt.n, 5*time.Second, time.Minute, tt.r); got != tt.want {
			t.Errorf("Backoff(%d, 5s, 1m, %v) = %v, want %v", tt.n, tt.r, got, tt.want)
		}
	}
}

func TestStoreBackoff(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {30, MaxStoreBackoff}} {
		if got := StoreBackoff(time.Second, tt.n); got != tt.want {
			t.Errorf("StoreBackoff(1s, %d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestOrDefault(t *testing.T) {
	if OrDefault(0, time.Second) != time.Second || OrDefault(-1, time.Second) != time.Second || OrDefault(time.Minute, time.Second) != time.Minute {
		t.Error("OrDefault")
	}
}

func TestSleepAndWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Error("Sleep ran its hour on a done context")
	}
	if !Sleep(context.Background(), time.Millisecond) {
		t.Error("Sleep did not report its time passed")
	}
	var wg sync.WaitGroup
	wg.Add(1)
	if Wait(&wg, 10*time.Millisecond) {
		t.Error("Wait reported a group that is not done")
	}
	wg.Done()
	if !Wait(&wg, time.Second) {
		t.Error("Wait did not see the group done")
	}
}
