package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/sobot/ticketmx/store"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// mustOpen opens a store under t.TempDir and checks the file's consistency
// when the test ends (bbolt's own checker).
func mustOpen(t testing.TB) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub", "tickets.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
		if err != nil {
			t.Errorf("reopen for check: %v", err)
			return
		}
		defer db.Close()
		_ = db.View(func(tx *bbolt.Tx) error {
			for err := range tx.Check() {
				t.Errorf("consistency: %v", err)
			}
			return nil
		})
	})
	return s
}

func mustReopen(t testing.TB, s *Store) *Store {
	t.Helper()
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	return s2
}

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func newTicket(t testing.TB, s *Store, tenant, channel, subj string, at time.Time) *Ticket {
	t.Helper()
	tk := &Ticket{Tenant: tenant, Channel: channel, Subject: subj, NormalizedSubject: subj,
		Status: StatusNew, CreatedAt: at, UpdatedAt: at, Customer: Address{Address: "c@example.com"}}
	err := s.update(context.Background(), func(tx *Tx) error {
		if err := tx.CreateTicket(tk); err != nil {
			return err
		}
		return tx.AddMessage(tk, &Message{MessageID: fmt.Sprintf("%s-%s@x", tenant, tk.ID), From: tk.Customer, ReceivedAt: at})
	})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestPerTenantNumbering(t *testing.T) {
	s := mustOpen(t)
	a1 := newTicket(t, s, "acme", "support@acme.com", "x", t0)
	b1 := newTicket(t, s, "beta", "help@beta.com", "x", t0)
	a2 := newTicket(t, s, "acme", "support@acme.com", "y", t0)
	if a1.Number != 1 || a2.Number != 2 || b1.Number != 1 {
		t.Fatalf("numbers: acme %d,%d beta %d", a1.Number, a2.Number, b1.Number)
	}
	s = mustReopen(t, s)
	a3 := newTicket(t, s, "acme", "support@acme.com", "z", t0)
	if a3.Number != 3 {
		t.Fatalf("after reopen: number %d, want 3", a3.Number)
	}
	tk, err := store.TicketWithMessages(bg, s, "acme#2", nil)
	if err != nil || tk.ID != a2.ID || len(tk.Messages) != 1 {
		t.Fatalf("acme#2: %+v %v", tk, err)
	}
}

func TestGroupCommitConcurrent(t *testing.T) {
	var mu sync.Mutex
	batches := 0
	path := filepath.Join(t.TempDir(), "t.db")
	s, err := Open(path, Options{OnCommit: func(n int, _ time.Duration) { mu.Lock(); batches++; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			newTicket(t, s, "acme", "c", fmt.Sprint(i), t0)
		}()
	}
	wg.Wait()
	c, _ := s.Counters(bg)
	if c["tickets_created"] != n {
		t.Fatalf("tickets_created = %d, want %d", c["tickets_created"], n)
	}
	if batches >= n {
		t.Logf("no batching happened (%d commits for %d changes)", batches, n)
	}
}

func TestFailedChangeDoesNotSinkBatch(t *testing.T) {
	s := mustOpen(t)
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.update(context.Background(), func(tx *Tx) error {
				if err := tx.Incr("n", 1); err != nil {
					return err
				}
				if i%5 == 0 {
					return boom
				}
				if i%7 == 0 {
					panic("hostile")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	want := 0
	for i, err := range errs {
		switch {
		case i%5 == 0:
			if !errors.Is(err, boom) {
				t.Errorf("change %d: %v, want boom", i, err)
			}
		case i%7 == 0:
			if err == nil {
				t.Errorf("change %d: panic not reported", i)
			}
		default:
			want++
			if err != nil {
				t.Errorf("change %d: %v", i, err)
			}
		}
	}
	c, _ := s.Counters(bg)
	if c["n"] != uint64(want) {
		t.Fatalf("counter n = %d, want %d (failed changes must leave nothing)", c["n"], want)
	}
}

func TestQueueFullIsBusy(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "q.db"), Options{QueueSize: 1, MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	block := make(chan struct{})
	started := make(chan struct{})
	go s.update(context.Background(), func(*Tx) error { close(started); <-block; return nil })
	<-started
	go s.update(context.Background(), func(*Tx) error { return nil }) // fills the queue
	for len(s.queue) < 1 {
		time.Sleep(time.Millisecond) // waits for the goroutine above, not for a rule
	}
	got := s.update(context.Background(), func(*Tx) error { return nil })
	close(block)
	if !errors.Is(got, ErrBusy) {
		t.Fatalf("Update with a full queue: %v, want ErrBusy", got)
	}
}

func TestForeignAndCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign.db")
	db, err := bbolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
	db.Close()
	if _, err := Open(foreign, Options{}); !errors.Is(err, ErrForeign) {
		t.Errorf("foreign bbolt file: %v, want ErrForeign", err)
	}
	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, make([]byte, 64<<10), 0o600)
	if _, err := Open(garbage, Options{}); err == nil {
		t.Errorf("garbage file opened")
	}
	s := mustOpen(t)
	if _, err := Open(s.Path(), Options{}); !errors.Is(err, ErrLocked) {
		t.Errorf("second open: %v, want ErrLocked", err)
	}
}

func TestMergeCandidatesWindowAndOrder(t *testing.T) {
	s := mustOpen(t)
	old := newTicket(t, s, "acme", "c", "printer", t0.Add(-100*time.Hour))
	mid := newTicket(t, s, "acme", "c", "printer", t0.Add(-10*time.Hour))
	newer := newTicket(t, s, "acme", "c", "printer", t0.Add(-1*time.Hour))
	newTicket(t, s, "acme", "c", "printer x", t0)
	newTicket(t, s, "acme", "d", "printer", t0)
	newTicket(t, s, "beta", "c", "printer", t0)
	var got []string
	err := s.view(func(tx *Tx) error {
		return tx.MergeCandidates("acme", "c", "printer", t0.Add(-72*time.Hour), func(tk *Ticket) bool {
			got = append(got, tk.ID)
			return true
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{newer.ID, mid.ID}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("candidates %v, want %v (old %s outside window)", got, want, old.ID)
	}
}

func TestListTicketsPaging(t *testing.T) {
	s := mustOpen(t)
	ids := map[string]bool{}
	for i := range 120 {
		tenant := "acme"
		if i%3 == 0 {
			tenant = "beta"
		}
		tk := newTicket(t, s, tenant, tenant+"@x", fmt.Sprint(i), t0)
		if tenant == "acme" {
			ids[tk.ID] = true
		}
	}
	seen := map[string]bool{}
	after, pages, prev := "", 0, "~"
	for {
		list, next, err := s.ListTickets(bg, TicketFilter{Tenant: "acme", Limit: 30, After: after})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, tk := range list {
			if seen[tk.ID] || !ids[tk.ID] || tk.ID >= prev {
				t.Fatalf("page %d: unexpected or out-of-order ticket %s", pages, tk.ID)
			}
			seen[tk.ID], prev = true, tk.ID
		}
		if next == "" {
			break
		}
		after = next
	}
	if len(seen) != len(ids) || pages != 3 {
		t.Fatalf("saw %d of %d tickets in %d pages", len(seen), len(ids), pages)
	}
	// Status filters follow status changes.
	tk := newTicket(t, s, "acme", "acme@x", "s", t0)
	if _, err := store.SetTicketStatus(context.Background(), s, tk.ID, StatusClosed); err != nil {
		t.Fatal(err)
	}
	closed, _, _ := s.ListTickets(bg, TicketFilter{Tenant: "acme", Status: StatusClosed})
	news, _, _ := s.ListTickets(bg, TicketFilter{Status: StatusNew, Limit: 1000})
	if len(closed) != 1 || closed[0].ID != tk.ID || closed[0].ClosedAt == nil {
		t.Fatalf("closed list: %+v", closed)
	}
	byChannel, _, _ := s.ListTickets(bg, TicketFilter{Channel: "acme@x", Status: StatusClosed})
	if len(byChannel) != 1 || byChannel[0].ID != tk.ID {
		t.Fatalf("channel+status list: %+v", byChannel)
	}
	if len(news) != 120 {
		t.Fatalf("new list has %d, want 120", len(news))
	}
	reopened, err := store.SetTicketStatus(context.Background(), s, tk.ID, StatusOpen)
	if err != nil || reopened.ClosedAt != nil {
		t.Fatalf("reopen: %+v %v", reopened, err)
	}
}

func TestBackupIsAStore(t *testing.T) {
	s := mustOpen(t)
	tk := newTicket(t, s, "acme", "c", "x", t0)
	path := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteBackup(bg, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, err := store.TicketWithMessages(bg, b, tk.ID, nil); err != nil || got.Subject != "x" {
		t.Fatalf("ticket in backup: %+v %v", got, err)
	}
}

func TestRecentArrivalsWindow(t *testing.T) {
	s := mustOpen(t)
	counts := []int{}
	for i, d := range []time.Duration{0, time.Minute, 2 * time.Minute, 11*time.Minute + time.Second} {
		_ = i
		_ = s.update(context.Background(), func(tx *Tx) error {
			n, err := tx.RecentArrivals("acme", "c", "A@x", t0.Add(d), 10*time.Minute, 100)
			counts = append(counts, n)
			return err
		})
	}
	if fmt.Sprint(counts) != "[1 2 3 2]" {
		t.Fatalf("counts %v, want [1 2 3 2]", counts)
	}
}

// TestMergeCandidatesIgnoresLookalikeKeys: a subject that starts like
// another and goes on after a separator byte must not be read as one of
// its keys (a hostile subject would otherwise fail every later delivery).
func TestMergeCandidatesIgnoresLookalikeKeys(t *testing.T) {
	s := mustOpen(t)
	newTicket(t, s, "acme", "c", "order status\x00AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", t0)
	real := newTicket(t, s, "acme", "c", "order status", t0.Add(-time.Hour))
	var got []string
	err := s.view(func(tx *Tx) error {
		return tx.MergeCandidates("acme", "c", "order status", t0.Add(-72*time.Hour), func(tk *Ticket) bool {
			got = append(got, tk.ID)
			return true
		})
	})
	if err != nil || len(got) != 1 || got[0] != real.ID {
		t.Fatalf("candidates %v, err %v; want only %s", got, err, real.ID)
	}
}

// The window counts at most keep arrivals, sees the arrivals of its own
// transaction at once and those of others once they commit, and does not
// count a batch that was rolled back and run again twice.
func TestRecentArrivalsInBatches(t *testing.T) {
	s := mustOpen(t)
	arrive := func(tx *Tx, sender string) int {
		n, err := tx.RecentArrivals("acme", "c", sender, t0, 10*time.Minute, 3)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	var inTx []int
	_ = s.update(context.Background(), func(tx *Tx) error {
		inTx = append(inTx, arrive(tx, "a@x"), arrive(tx, "A@x"))
		return nil
	})
	// A change that fails rolls its batch back: the other change runs
	// again, and its arrival must count once.
	// A first change holds the writer until both are queued behind it, so
	// they join its batch; it runs again after the failure, hence the Once.
	var wg sync.WaitGroup
	gate := make(chan struct{})
	block := make(chan struct{})
	var once sync.Once
	go func() {
		_ = s.update(context.Background(), func(tx *Tx) error {
			once.Do(func() { close(block) })
			<-gate
			return nil
		})
	}()
	<-block
	for _, fail := range []bool{false, true} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.update(context.Background(), func(tx *Tx) error {
				arrive(tx, "b@x")
				if fail {
					return errors.New("boom")
				}
				return nil
			})
		}()
	}
	for len(s.queue) < 2 { // both queued behind the blocked change: one batch
		runtime.Gosched()
	}
	close(gate)
	wg.Wait()
	var after []int
	_ = s.update(context.Background(), func(tx *Tx) error {
		after = append(after, arrive(tx, "a@x"), arrive(tx, "a@x"), arrive(tx, "b@x"))
		return nil
	})
	if fmt.Sprint(inTx, after) != "[1 2] [3 3 2]" {
		t.Fatalf("counts %v %v, want [1 2] [3 3 2] (keep 3; b's rolled-back try not counted)", inTx, after)
	}
}

// The window's memory is bounded; a sender with many messages (a loop)
// outlives a flood of senders with fewer when the bound is reached.
func TestArrivalLogsAreBounded(t *testing.T) {
	a := newArrivals(100)
	at := t0.UnixNano()
	var loop []pendingArrival
	for range 5 {
		loop = append(loop, pendingArrival{key: "looper", at: at, expiry: at + int64(time.Hour), keep: 10})
	}
	a.record(loop)
	for i := range 1000 { // forged senders with two messages each
		p := pendingArrival{key: fmt.Sprint("twice", i), at: at, expiry: at + int64(time.Hour), keep: 10}
		a.record([]pendingArrival{p, p})
	}
	if n := len(a.logs); n > 100 {
		t.Fatalf("%d logs kept, bound 100", n)
	}
	if n := a.count("looper", 0); n != 5 {
		t.Fatalf("the looping sender has %d arrivals after the bound was reached, want 5", n)
	}
}

// The unfiltered list walks the tickets bucket, where a ticket's messages
// and senders are keyed under the ticket: each ticket must come once, in
// order, across pages, however many messages it has.
func TestListAllTicketsSkipsTheirMessages(t *testing.T) {
	s := mustOpen(t)
	var want []string
	for i := range 7 {
		tk := newTicket(t, s, "acme", "acme@x", fmt.Sprint(i), t0)
		err := s.update(context.Background(), func(tx *Tx) error {
			for j := range i * 3 {
				m := &Message{MessageID: fmt.Sprintf("%d.%d@x", i, j), From: Address{Address: fmt.Sprintf("S%d@x", j)}, ReceivedAt: t0}
				if err := tx.AddMessage(tk, m); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want = append([]string{tk.ID}, want...)
	}
	var got []string
	for after := ""; ; {
		page, next, err := s.ListTickets(bg, TicketFilter{Limit: 2, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range page {
			got = append(got, tk.ID)
		}
		if next == "" {
			break
		}
		after = next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	tk, err := store.TicketWithMessages(bg, s, want[0], nil)
	if err != nil || len(tk.Messages) != 19 {
		t.Fatalf("last ticket: %d messages, %v", len(tk.Messages), err)
	}
	_ = s.view(func(tx *Tx) error {
		a, _ := tx.HasSender(want[0], "s17@X")
		b, _ := tx.HasSender(want[1], "s17@x")
		if !a || b {
			t.Error("senders are not kept per ticket")
		}
		return nil
	})
}

// Spaces that share a bucket do not see each other's keys.
func TestSpacesAreSeparate(t *testing.T) {
	s := mustOpen(t)
	err := s.update(context.Background(), func(tx *Tx) error {
		for _, sp := range []space{sByTenant, sByChannel, sByStatus} {
			for _, k := range []string{"a", "b"} {
				if err := tx.s(sp).Put([]byte(string(sp.tag)+k), nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.view(func(tx *Tx) error {
		c := tx.s(sByChannel).Cursor()
		var keys []string
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			keys = append(keys, string(k))
		}
		last, _ := c.Last()
		if fmt.Sprint(keys) != "[ca cb]" || string(last) != "cb" {
			t.Errorf("channel space holds %v, last %q", keys, last)
		}
		if k, _ := tx.s(sByStatus).Cursor().Seek([]byte("z")); k != nil {
			t.Errorf("seek past the end of a space found %q", k)
		}
		return nil
	})
}

// Duplicate keys live beside the threading entries of Message-IDs; neither
// may be taken for the other, and they are per channel.
func TestDuplicateKeysBesideMessageIDs(t *testing.T) {
	s := mustOpen(t)
	tk := newTicket(t, s, "acme", "a@x", "s", t0) // threading entry "acme-<id>@x"
	mid := "acme-" + tk.ID + "@x"
	err := s.update(context.Background(), func(tx *Tx) error {
		if err := tx.MarkDuplicateKey("acme", "a@x", "id:"+mid, "m-a"); err != nil {
			return err
		}
		if err := tx.MarkDuplicateKey("acme", "a@x", "sha:00ff", "m-hash"); err != nil {
			return err
		}
		return tx.MarkDuplicateKey("acme", "b@x", "id:"+mid, "m-b")
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.view(func(tx *Tx) error {
		for _, c := range []struct{ channel, dupKey, want string }{
			{"a@x", "id:" + mid, "m-a"}, {"b@x", "id:" + mid, "m-b"}, {"c@x", "id:" + mid, ""},
			{"a@x", "sha:00ff", "m-hash"}, {"b@x", "sha:00ff", ""}, {"a@x", "id:sha:00ff", ""},
		} {
			if got, ok, _ := tx.Duplicate("acme", c.channel, c.dupKey); got != c.want || ok != (c.want != "") {
				t.Errorf("Duplicate(%s, %s) = %q, %v; want %q", c.channel, c.dupKey, got, ok, c.want)
			}
		}
		if ref, ok, _ := tx.LookupMessageID("acme", mid); !ok || ref.TicketID != tk.ID {
			t.Errorf("threading entry: %+v %v", ref, ok)
		}
		return nil
	})
}

// A truncated store file is refused with one clear error, never a panic
// (bbolt panics on some of them, or would read past the end of the file).
func TestOpenTruncated(t *testing.T) {
	for _, keep := range []int64{2, 4, 8, 16} { // sixteenths of the file kept
		dir := t.TempDir()
		path := filepath.Join(dir, "tickets.db")
		s, err := Open(path, Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 200 {
			err := s.update(context.Background(), func(tx *Tx) error {
				_, err := tx.PutRaw(prepareRaw(nil, nil, bytes.Repeat([]byte{byte(i)}, 8000)))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if keep < 16 {
			if err := os.Truncate(path, fi.Size()*keep/16); err != nil {
				t.Fatal(err)
			}
		}
		s, err = Open(path, Options{})
		if keep == 16 {
			if err != nil {
				t.Fatalf("whole file: %v", err)
			}
			s.Close()
			continue
		}
		if err == nil {
			s.Close()
			t.Errorf("%d/16 of the file kept: opened", keep)
		} else if !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("%d/16 of the file kept: %v", keep, err)
		}
	}
}
