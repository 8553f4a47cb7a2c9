package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
)

// errRefused is the error the suite's failing changes return.
var errRefused = errors.New("storetest: change refused")

var counterTests = []test{
	{"Incr", testIncr},
	{"EngineCounters", testEngineCounters},
}

// Counters are the sums of every committed Incr.
func testIncr(t *testing.T, e *env) {
	e.update(t, nil, func(tx store.Tx) error {
		for _, inc := range []struct {
			name string
			n    uint64
		}{{"conformance_a", 1}, {"conformance_a", 2}, {"conformance_b", 5}} {
			if err := tx.Incr(inc.name, inc.n); err != nil {
				return err
			}
		}
		return nil
	})
	e.update(t, nil, func(tx store.Tx) error { return tx.Incr("conformance_a", 4) })
	c, err := e.st.Counters(e.ctx)
	if err != nil {
		t.Fatalf("Counters: %v", err)
	}
	if c["conformance_a"] != 7 || c["conformance_b"] != 5 || c["conformance_never"] != 0 {
		t.Errorf("counters a=%d b=%d never=%d; want 7, 5, 0", c["conformance_a"], c["conformance_b"], c["conformance_never"])
	}
}

// The engine counts what /v1/stats shows: tickets created, ticket messages
// and suspended messages.
func testEngineCounters(t *testing.T, e *env) {
	before, err := e.st.Counters(e.ctx)
	if err != nil {
		t.Fatalf("Counters: %v", err)
	}
	raw := e.putRaw(t, []byte("raw"))
	t1 := e.newTicket(t, acme, acmeSupport, "one", t0)
	t2 := e.newTicket(t, beta, betaHelp, "two", t0)
	e.addMessage(t, t1, message("a@example.com", "1@x", t0, raw))
	e.addMessage(t, t1, message("a@example.com", "2@x", t0, raw))
	e.addMessage(t, t2, message("a@example.com", "3@x", t0, raw))
	e.suspend(t, fullSuspended(), "raw")
	after, err := e.st.Counters(e.ctx)
	if err != nil {
		t.Fatalf("Counters: %v", err)
	}
	for name, want := range map[string]uint64{"tickets_created": 2, "ticket_messages": 3, "suspended": 1} {
		if got := after[name] - before[name]; got != want {
			t.Errorf("counter %s grew by %d, want %d", name, got, want)
		}
	}
}

var arrivalTests = []test{
	{"Keep", testArrivalsKeep},
	{"PerSender", testArrivalsPerSender},
	{"AcrossTransactions", testArrivalsAcrossTx},
	{"FailedTransaction", testArrivalsFailed},
	{"Window", testArrivalsWindow},
}

const loopWindow = 10 * time.Minute

// arrive records arrivals from senders in one transaction at its clock and
// returns what RecentArrivals counted for each.
func (e *env) arrive(t *testing.T, tenant, channel string, keep int, senders ...string) []int {
	t.Helper()
	var counts []int
	e.update(t, []string{tenant}, func(tx store.Tx) error {
		counts = counts[:0]
		for _, s := range senders {
			n, err := tx.RecentArrivals(tenant, channel, s, tx.Now(), loopWindow, keep)
			if err != nil {
				return err
			}
			counts = append(counts, n)
		}
		return nil
	})
	return counts
}

func checkCounts(t *testing.T, what string, got []int, want ...int) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: RecentArrivals counted %v, want %v", what, got, want)
	}
}

// RecentArrivals counts at most keep.
func testArrivalsKeep(t *testing.T, e *env) {
	checkCounts(t, "five in one transaction, keep 3", e.arrive(t, acme, acmeSupport, 3, "a@x", "a@x", "a@x", "a@x", "a@x"), 1, 2, 3, 3, 3)
	checkCounts(t, "one more, keep 3", e.arrive(t, acme, acmeSupport, 3, "a@x"), 3)
	checkCounts(t, "keep 1", e.arrive(t, acme, acmeSupport, 1, "b@x", "b@x"), 1, 1)
}

// Arrivals are counted per tenant, channel and sender, whatever the case
// of the sender's address.
func testArrivalsPerSender(t *testing.T, e *env) {
	checkCounts(t, "same transaction", e.arrive(t, acme, acmeSupport, 100, "Sender@Example.com", "sender@example.com", "other@example.com", "SENDER@EXAMPLE.COM"), 1, 2, 1, 3)
	checkCounts(t, "another channel", e.arrive(t, acme, acmeSales, 100, "sender@example.com"), 1)
	checkCounts(t, "another tenant", e.arrive(t, beta, acmeSupport, 100, "sender@example.com"), 1)
	checkCounts(t, "the first again", e.arrive(t, acme, acmeSupport, 100, "sender@EXAMPLE.com", "other@example.com"), 4, 2)
}

// A committed transaction's arrivals count for the transactions after it.
func testArrivalsAcrossTx(t *testing.T, e *env) {
	var got []int
	for range 4 {
		got = append(got, e.arrive(t, acme, acmeSupport, 100, "a@x")...)
	}
	checkCounts(t, "one per transaction", got, 1, 2, 3, 4)
	checkCounts(t, "two in one", e.arrive(t, acme, acmeSupport, 100, "a@x", "a@x"), 5, 6)
}

// The arrivals of a transaction that failed or panicked do not count.
func testArrivalsFailed(t *testing.T, e *env) {
	checkCounts(t, "first", e.arrive(t, acme, acmeSupport, 100, "a@x"), 1)
	err := e.st.Update(e.ctx, []string{acme}, func(tx store.Tx) error {
		for range 3 {
			if _, err := tx.RecentArrivals(acme, acmeSupport, "a@x", tx.Now(), loopWindow, 100); err != nil {
				return err
			}
		}
		return errRefused
	})
	wantErr(t, "Update that fails", err, errRefused)
	checkCounts(t, "after a failed transaction", e.arrive(t, acme, acmeSupport, 100, "a@x"), 2)
	err = e.st.Update(e.ctx, []string{acme}, func(tx store.Tx) error {
		if _, err := tx.RecentArrivals(acme, acmeSupport, "a@x", tx.Now(), loopWindow, 100); err != nil {
			return err
		}
		panic("storetest: hostile change")
	})
	wantErr(t, "Update that panics", err, store.ErrPanic)
	checkCounts(t, "after a panicked transaction", e.arrive(t, acme, acmeSupport, 100, "a@x"), 3)
}

// Arrivals older than the window no longer count (the store's clock,
// moved by the test).
func testArrivalsWindow(t *testing.T, e *env) {
	steps := []struct {
		at   time.Duration // since t0
		want int
	}{
		{0, 1},
		{4 * time.Minute, 2},
		{8 * time.Minute, 3},
		{12 * time.Minute, 3}, // the one at 0 has left the window
		{18*time.Minute + time.Second, 2},
		{30 * time.Minute, 1},
		{30*time.Minute + time.Second, 2},
		{40*time.Minute + 2*time.Second, 1},
	}
	for _, s := range steps {
		e.clk.Set(t0.Add(s.at))
		checkCounts(t, fmt.Sprintf("at +%v", s.at), e.arrive(t, acme, acmeSupport, 100, "a@x"), s.want)
	}
}

var txTests = []test{
	{"FailedUpdateLeavesNothing", testFailedUpdate},
	{"Concurrent", testConcurrent},
	{"ConcurrentWithFailures", testConcurrentWithFailures},
	{"Panic", testPanic},
	{"ViewIsReadOnly", testViewReadOnly},
	{"Now", testNow},
}

// A change that fails leaves nothing behind: no ticket, message, index
// entry, counter, raw message or attachment, and no ticket number used up.
func testFailedUpdate(t *testing.T, e *env) {
	r, err := e.st.PrepareRaw(e.ctx, []byte("raw of the failed change"))
	if err != nil {
		t.Fatal(err)
	}
	att := []byte("attachment of the failed change")
	var tkID, msgID, rawID, suspID string
	err = e.st.Update(e.ctx, []string{acme}, func(tx store.Tx) error {
		var err error
		if rawID, err = tx.PutRaw(r); err != nil {
			return err
		}
		tk := ticketAt(acme, acmeSupport, "failed", t0)
		if err := tx.CreateTicket(&tk); err != nil {
			return err
		}
		tkID = tk.ID
		m := message("a@example.com", "failed@x", t0, rawID)
		if err := tx.AddMessage(&tk, &m); err != nil {
			return err
		}
		msgID = m.ID
		s := fullSuspended()
		s.RawID = rawID
		if err := tx.Suspend(&s); err != nil {
			return err
		}
		suspID = s.ID
		for _, op := range []func() error{
			func() error { return tx.MarkDuplicateKey(acme, acmeSupport, "id:failed@x", m.ID) },
			func() error { return tx.RegisterOutbound(&tk, "failed-out@x") },
			func() error { return tx.PutAttachment(shaHex(att), att) },
			func() error { return tx.Incr("conformance_failed", 1) },
			func() error {
				_, err := tx.RecentArrivals(acme, acmeSupport, "a@example.com", tx.Now(), loopWindow, 100)
				return err
			},
		} {
			if err := op(); err != nil {
				return err
			}
		}
		return fmt.Errorf("wrapped: %w", errRefused)
	})
	wantErr(t, "Update", err, errRefused)
	if tkID == "" || msgID == "" {
		t.Fatalf("the failing change did not get as far as its error (ticket %q, message %q)", tkID, msgID)
	}
	e.view(t, func(tx store.Tx) error {
		for _, c := range []struct {
			what string
			err  error
		}{
			{"Ticket", second(tx.Ticket(tkID))},
			{"TicketByNumber", second(tx.TicketByNumber(acme, 1))},
			{"Message", second(tx.Message(msgID))},
			{"Suspended", second(tx.Suspended(suspID))},
			{"Raw", second(tx.Raw(rawID))},
			{"Attachment", second(tx.Attachment(shaHex(att)))},
		} {
			wantErr(t, c.what+" of the failed change", c.err, store.ErrNotFound)
		}
		for _, msgid := range []string{"failed@x", "failed-out@x"} {
			if ref, found, err := tx.LookupMessageID(acme, msgid); err != nil || found {
				t.Errorf("LookupMessageID(%s) after the failed change: %+v, %v, %v", msgid, ref, found, err)
			}
		}
		if ref, found, err := tx.Duplicate(acme, acmeSupport, "id:failed@x"); err != nil || found {
			t.Errorf("Duplicate after the failed change: %q, %v, %v", ref, found, err)
		}
		return nil
	})
	if list, _, err := e.st.ListTickets(e.ctx, store.TicketFilter{}); err != nil || len(list) != 0 {
		t.Errorf("ListTickets after the failed change: %d tickets, %v", len(list), err)
	}
	if list, _, err := e.st.ListSuspended(e.ctx, 0, ""); err != nil || len(list) != 0 {
		t.Errorf("ListSuspended after the failed change: %d, %v", len(list), err)
	}
	c, err := e.st.Counters(e.ctx)
	if err != nil || c["conformance_failed"] != 0 || c["tickets_created"] != 0 || c["ticket_messages"] != 0 {
		t.Errorf("counters after the failed change: %v, %v", c, err)
	}
	if tk := e.newTicket(t, acme, acmeSupport, "next", t0); tk.Number != 1 {
		t.Errorf("the next ticket got number %d, want 1", tk.Number)
	}
	checkCounts(t, "after the failed change", e.arrive(t, acme, acmeSupport, 100, "a@example.com"), 1)
}

func second[T any](_ T, err error) error { return err }

// Concurrent changes all commit, and numbers stay gapless per tenant.
func testConcurrent(t *testing.T, e *env) {
	const n = 50
	type result struct {
		tk  *store.Ticket
		err error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			tenant, channel := acme, acmeSupport
			if i%2 == 1 {
				tenant, channel = beta, betaHelp
			}
			var tk *store.Ticket
			err := e.st.Update(e.ctx, []string{tenant}, func(tx store.Tx) error {
				c := ticketAt(tenant, channel, fmt.Sprint(i), t0)
				tk = &c
				return tx.CreateTicket(tk)
			})
			results[i] = result{tk, err}
		})
	}
	wg.Wait()
	numbers := map[string][]uint64{}
	ids := map[string]bool{}
	for i, r := range results {
		if r.err != nil {
			t.Errorf("change %d: %v", i, r.err)
			continue
		}
		numbers[r.tk.Tenant] = append(numbers[r.tk.Tenant], r.tk.Number)
		if ids[r.tk.ID] {
			t.Errorf("change %d: id %s given twice", i, r.tk.ID)
		}
		ids[r.tk.ID] = true
	}
	want := make([]uint64, n/2)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	for _, tenant := range []string{acme, beta} {
		got := slices.Sorted(slices.Values(numbers[tenant]))
		if !slices.Equal(got, want) {
			t.Errorf("%s's numbers %v, want 1 to %d once each", tenant, got, n/2)
		}
		list, _, err := e.st.ListTickets(e.ctx, store.TicketFilter{Tenant: tenant})
		if err != nil || len(list) != n/2 {
			t.Errorf("ListTickets(%s): %d tickets, %v; want %d", tenant, len(list), err, n/2)
		}
	}
}

// Concurrent changes that fail or panic take nothing with them and use up
// no numbers; the others all commit.
func testConcurrentWithFailures(t *testing.T, e *env) {
	const n = 40
	errs := make([]error, n)
	numbers := make([]uint64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = e.st.Update(e.ctx, []string{acme}, func(tx store.Tx) error {
				tk := ticketAt(acme, acmeSupport, fmt.Sprint(i), t0)
				if err := tx.CreateTicket(&tk); err != nil {
					return err
				}
				numbers[i] = tk.Number
				if err := tx.Incr("conformance_n", 1); err != nil {
					return err
				}
				switch {
				case i%4 == 0:
					return errRefused
				case i%7 == 3:
					panic("storetest: hostile change")
				}
				return nil
			})
		})
	}
	wg.Wait()
	var got []uint64
	for i, err := range errs {
		switch {
		case i%4 == 0:
			wantErr(t, fmt.Sprint("change ", i), err, errRefused)
		case i%7 == 3:
			wantErr(t, fmt.Sprint("change ", i), err, store.ErrPanic)
		case err != nil:
			t.Errorf("change %d: %v", i, err)
		default:
			got = append(got, numbers[i])
		}
	}
	slices.Sort(got)
	for i, num := range got {
		if num != uint64(i+1) {
			t.Fatalf("numbers of the committed changes %v, want 1 to %d once each", got, len(got))
		}
	}
	c, err := e.st.Counters(e.ctx)
	if err != nil || c["conformance_n"] != uint64(len(got)) {
		t.Errorf("counter conformance_n = %d (%v), want %d: one per committed change", c["conformance_n"], err, len(got))
	}
}

// A change that panics fails with ErrPanic, leaves nothing behind, and the
// store goes on working.
func testPanic(t *testing.T, e *env) {
	for _, v := range []any{"storetest: hostile change", errRefused, 42} {
		err := e.st.Update(e.ctx, []string{acme}, func(tx store.Tx) error {
			tk := ticketAt(acme, acmeSupport, "panics", t0)
			if err := tx.CreateTicket(&tk); err != nil {
				return err
			}
			if err := tx.Incr("conformance_panic", 1); err != nil {
				return err
			}
			panic(v)
		})
		wantErr(t, fmt.Sprintf("Update that panics with %v", v), err, store.ErrPanic)
	}
	if tk := e.newTicket(t, acme, acmeSupport, "after", t0); tk.Number != 1 {
		t.Errorf("ticket after the panics got number %d, want 1", tk.Number)
	}
	c, err := e.st.Counters(e.ctx)
	if err != nil || c["conformance_panic"] != 0 {
		t.Errorf("counter of the panicked changes = %d, %v; want 0", c["conformance_panic"], err)
	}
}

// Every method that writes fails in a View, and changes nothing.
func testViewReadOnly(t *testing.T, e *env) {
	tk := e.newTicket(t, acme, acmeSupport, "s", t0)
	rawID := e.putRaw(t, []byte("raw"))
	m := e.addMessage(t, tk, message("a@example.com", "m@x", t0, rawID))
	s := e.suspend(t, fullSuspended(), "raw s")
	r, err := e.st.PrepareRaw(e.ctx, []byte("raw in a view"))
	if err != nil {
		t.Fatal(err)
	}
	ticket := func() *store.Ticket { c := *tk; return &c }
	ops := []struct {
		name string
		op   func(tx store.Tx) error
	}{
		{"Incr", func(tx store.Tx) error { return tx.Incr("conformance_view", 1) }},
		{"PutRaw", func(tx store.Tx) error { _, err := tx.PutRaw(r); return err }},
		{"PutAttachment", func(tx store.Tx) error { return tx.PutAttachment(shaHex([]byte("view")), []byte("view")) }},
		{"MarkDuplicateKey", func(tx store.Tx) error { return tx.MarkDuplicateKey(acme, acmeSupport, "id:view@x", m.ID) }},
		{"RegisterOutbound", func(tx store.Tx) error { return tx.RegisterOutbound(ticket(), "view-out@x") }},
		{"CreateTicket", func(tx store.Tx) error { c := ticketAt(acme, acmeSupport, "view", t0); return tx.CreateTicket(&c) }},
		{"SetFollowedBy", func(tx store.Tx) error { return tx.SetFollowedBy(ticket(), 9) }},
		{"SetStatus", func(tx store.Tx) error { return tx.SetStatus(ticket(), store.StatusClosed, tx.Now()) }},
		{"AddMessage", func(tx store.Tx) error {
			c := message("a@example.com", "view@x", t0, rawID)
			return tx.AddMessage(ticket(), &c)
		}},
		{"Suspend", func(tx store.Tx) error { c := fullSuspended(); c.RawID = rawID; return tx.Suspend(&c) }},
		{"DeleteSuspended", func(tx store.Tx) error { return tx.DeleteSuspended(s.ID) }},
		{"RecentArrivals", func(tx store.Tx) error {
			_, err := tx.RecentArrivals(acme, acmeSupport, "a@example.com", tx.Now(), loopWindow, 100)
			return err
		}},
	}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			if err := e.st.View(e.ctx, o.op); err == nil {
				t.Errorf("%s in a View: no error", o.name)
			}
		})
	}
	got := e.ticket(t, tk.ID)
	checkSame(t, "ticket after the writes in Views", got, tk)
	e.view(t, func(tx store.Tx) error {
		if _, err := tx.Suspended(s.ID); err != nil {
			t.Errorf("suspended message after DeleteSuspended in a View: %v", err)
		}
		if ref, found, _ := tx.Duplicate(acme, acmeSupport, "id:view@x"); found {
			t.Errorf("duplicate key marked in a View: %q", ref)
		}
		for _, msgid := range []string{"view@x", "view-out@x"} {
			if ref, found, _ := tx.LookupMessageID(acme, msgid); found {
				t.Errorf("Message-ID %s from a View: %+v", msgid, ref)
			}
		}
		if _, err := tx.Attachment(shaHex([]byte("view"))); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("attachment stored in a View: %v", err)
		}
		return nil
	})
	if list, _, err := e.st.ListTickets(e.ctx, store.TicketFilter{}); err != nil || len(list) != 1 {
		t.Errorf("ListTickets: %d tickets, %v; want the 1 made outside the Views", len(list), err)
	}
	if list, _, err := e.st.ListSuspended(e.ctx, 0, ""); err != nil || len(list) != 1 {
		t.Errorf("ListSuspended: %d, %v; want the 1 made outside the Views", len(list), err)
	}
	if c, err := e.st.Counters(e.ctx); err != nil || c["conformance_view"] != 0 {
		t.Errorf("counter incremented in a View: %d, %v", c["conformance_view"], err)
	}
	checkCounts(t, "after RecentArrivals in a View", e.arrive(t, acme, acmeSupport, 100, "a@example.com"), 1)
}

// Tx.Now is the Opener's clock, in UTC, in Update and in View.
func testNow(t *testing.T, e *env) {
	for _, at := range []time.Time{t0, t0.Add(90*time.Minute + 5*time.Second), t0.Add(-400 * 24 * time.Hour)} {
		e.clk.Set(at)
		var inUpdate, inView time.Time
		e.update(t, nil, func(tx store.Tx) error { inUpdate = tx.Now(); return nil })
		e.view(t, func(tx store.Tx) error { inView = tx.Now(); return nil })
		for _, g := range []struct {
			what string
			now  time.Time
		}{{"Update", inUpdate}, {"View", inView}} {
			if !g.now.Equal(at) || g.now.Location() != time.UTC {
				t.Errorf("Tx.Now in %s = %v, want %v in UTC", g.what, g.now, at)
			}
		}
	}
}

var storeTests = []test{
	{"SizeAndReady", testSizeAndReady},
	{"WriteBackup", testWriteBackup},
	{"Close", testClose},
}

// fill writes a little of everything.
func (e *env) fill(t *testing.T) {
	t.Helper()
	tk := e.newTicket(t, acme, acmeSupport, "s", t0)
	e.addMessage(t, tk, message("a@example.com", "m@x", t0, e.putRaw(t, randomBytes(64<<10, 3))))
	e.suspend(t, fullSuspended(), "raw")
}

// Ready is nil on an open store; Size counts what was written.
func testSizeAndReady(t *testing.T, e *env) {
	if err := e.st.Ready(e.ctx); err != nil {
		t.Errorf("Ready on a new store: %v", err)
	}
	e.fill(t)
	if n, err := e.st.Size(e.ctx); err != nil || n <= 0 {
		t.Errorf("Size after writes = %d, %v; want > 0", n, err)
	}
	if err := e.st.Ready(e.ctx); err != nil {
		t.Errorf("Ready after writes: %v", err)
	}
}

// WriteBackup writes a copy and reports its size, or is not supported.
func testWriteBackup(t *testing.T, e *env) {
	e.fill(t)
	var buf bytes.Buffer
	n, err := e.st.WriteBackup(e.ctx, &buf)
	switch {
	case errors.Is(err, store.ErrNotSupported):
		t.Logf("WriteBackup: %v", err)
	case err != nil:
		t.Errorf("WriteBackup: %v; want success or ErrNotSupported", err)
	case n <= 0 || n != int64(buf.Len()):
		t.Errorf("WriteBackup reported %d bytes and wrote %d; want the same, > 0", n, buf.Len())
	}
}

// After Close, Update fails with ErrClosed and Ready fails; a second Close
// is harmless.
func testClose(t *testing.T, e *env) {
	e.newTicket(t, acme, acmeSupport, "s", t0)
	if err := e.st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err := e.st.Update(e.ctx, []string{acme}, func(tx store.Tx) error {
		c := ticketAt(acme, acmeSupport, "after close", t0)
		return tx.CreateTicket(&c)
	})
	wantErr(t, "Update after Close", err, store.ErrClosed)
	if err := e.st.Ready(e.ctx); err == nil {
		t.Errorf("Ready after Close: nil, want an error")
	}
	if err := e.st.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
