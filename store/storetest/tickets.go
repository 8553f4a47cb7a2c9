package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
)

var ticketTests = []test{
	{"IDsAndNumbers", testCreateNumbers},
	{"RoundTrip", testTicketRoundTrip},
	{"NotFound", testNotFound},
	{"ResolveTicket", testResolveTicket},
	{"SetFollowedBy", testSetFollowedBy},
}

// Ids are assigned, non-empty and distinct; numbers count from 1 per
// tenant without gaps, whether tickets are created one per transaction or
// several in one.
func testCreateNumbers(t *testing.T, e *env) {
	steps := [][]string{{acme}, {beta}, {acme}, {acme, acme, beta}, {"gamma"}, {acme}, {beta, acme}}
	last := map[string]uint64{}
	seen := map[string]bool{}
	var all []*store.Ticket
	for i, step := range steps {
		var specs []store.Ticket
		for j, tenant := range step {
			specs = append(specs, ticketAt(tenant, tenant+"@example.com", fmt.Sprint("step ", i, ".", j), t0))
		}
		for _, tk := range e.createTickets(t, specs...) {
			last[tk.Tenant]++
			if tk.Number != last[tk.Tenant] {
				t.Errorf("step %d: ticket of %s got number %d, want %d", i, tk.Tenant, tk.Number, last[tk.Tenant])
			}
			if tk.ID == "" || seen[tk.ID] {
				t.Errorf("step %d: ticket id %q is empty or not new", i, tk.ID)
			}
			seen[tk.ID] = true
			all = append(all, tk)
		}
	}
	e.view(t, func(tx store.Tx) error {
		for _, want := range all {
			byNum, err := tx.TicketByNumber(want.Tenant, want.Number)
			if err != nil {
				t.Errorf("TicketByNumber(%s, %d): %v", want.Tenant, want.Number, err)
			} else if byNum.ID != want.ID {
				t.Errorf("TicketByNumber(%s, %d) = %s, want %s", want.Tenant, want.Number, byNum.ID, want.ID)
			}
			byID, err := tx.Ticket(want.ID)
			if err != nil {
				t.Errorf("Ticket(%s): %v", want.ID, err)
			} else if byID.Number != want.Number || byID.Tenant != want.Tenant {
				t.Errorf("Ticket(%s) = %s#%d, want %s#%d", want.ID, byID.Tenant, byID.Number, want.Tenant, want.Number)
			}
		}
		return nil
	})
}

// Every field of a ticket comes back as it was created.
func testTicketRoundTrip(t *testing.T, e *env) {
	spec := store.Ticket{
		Tenant: acme, Channel: acmeSupport, Category: "billing",
		Subject: "Re: Rechnung 42 – überfällig", NormalizedSubject: "rechnung 42 – überfällig",
		Status:    store.StatusOpen,
		Customer:  store.Address{Address: "joerg@example.de", Name: "Jörg Müller"},
		CreatedAt: t0.Add(-time.Hour).In(zone), UpdatedAt: t0.Add(-time.Minute),
		RelatedTo: 7,
	}
	tk := e.createTickets(t, spec)[0]
	want := spec
	want.ID, want.Number = tk.ID, tk.Number
	checkSame(t, "ticket as CreateTicket left it", tk, want)
	e.view(t, func(tx store.Tx) error {
		got, err := tx.Ticket(tk.ID)
		if err != nil {
			return err
		}
		checkSame(t, "Ticket", got, want)
		if len(got.Messages) != 0 {
			t.Errorf("Ticket returned %d messages; it loads none", len(got.Messages))
		}
		got, err = tx.TicketByNumber(acme, tk.Number)
		if err != nil {
			return err
		}
		checkSame(t, "TicketByNumber", got, want)
		return nil
	})
	list, _, err := e.st.ListTickets(e.ctx, store.TicketFilter{})
	if err != nil || len(list) != 1 {
		t.Fatalf("ListTickets: %d tickets, %v", len(list), err)
	}
	checkSame(t, "ListTickets", list[0], want)
}

// A missing record is ErrNotFound for every lookup, whatever the id looks
// like, including an id of another kind of record.
func testNotFound(t *testing.T, e *env) {
	tk := e.newTicket(t, acme, acmeSupport, "s", t0)
	m := e.addMessage(t, tk, message("a@example.com", "m@x", t0, e.putRaw(t, []byte("raw"))))
	cases := []struct {
		name string
		op   func(tx store.Tx) error
	}{
		{"Ticket/empty id", func(tx store.Tx) error { _, err := tx.Ticket(""); return err }},
		{"Ticket/garbage", func(tx store.Tx) error { _, err := tx.Ticket("no-such-ticket"); return err }},
		{"Ticket/id with a suffix", func(tx store.Tx) error { _, err := tx.Ticket(tk.ID + "0"); return err }},
		{"Ticket/a message id", func(tx store.Tx) error { _, err := tx.Ticket(m.ID); return err }},
		{"Ticket/id, control byte, message id", func(tx store.Tx) error { _, err := tx.Ticket(tk.ID + "\x01" + m.ID); return err }},
		{"Ticket/id, control byte, sender", func(tx store.Tx) error { _, err := tx.Ticket(tk.ID + "\x02a@example.com"); return err }},
		{"TicketByNumber/0", func(tx store.Tx) error { _, err := tx.TicketByNumber(acme, 0); return err }},
		{"TicketByNumber/after the last", func(tx store.Tx) error { _, err := tx.TicketByNumber(acme, 2); return err }},
		{"TicketByNumber/other tenant", func(tx store.Tx) error { _, err := tx.TicketByNumber(beta, 1); return err }},
		{"TicketByNumber/empty tenant", func(tx store.Tx) error { _, err := tx.TicketByNumber("", 1); return err }},
		{"Message/empty id", func(tx store.Tx) error { _, err := tx.Message(""); return err }},
		{"Message/garbage", func(tx store.Tx) error { _, err := tx.Message("no-such-message"); return err }},
		{"Message/a ticket id", func(tx store.Tx) error { _, err := tx.Message(tk.ID); return err }},
		{"Suspended/garbage", func(tx store.Tx) error { _, err := tx.Suspended("no-such-suspended"); return err }},
		{"Suspended/a message id", func(tx store.Tx) error { _, err := tx.Suspended(m.ID); return err }},
		{"Raw/garbage", func(tx store.Tx) error { _, err := tx.Raw("no-such-raw"); return err }},
		{"Raw/a message id", func(tx store.Tx) error { _, err := tx.Raw(m.ID); return err }},
		{"Attachment/unknown sha", func(tx store.Tx) error { _, err := tx.Attachment(shaHex([]byte("never stored"))); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, c.name, e.st.View(e.ctx, c.op), store.ErrNotFound)
		})
	}
}

// ResolveTicket finds a ticket by id and by TENANT#NUMBER; anything else
// is ErrNotFound.
func testResolveTicket(t *testing.T, e *env) {
	a1 := e.newTicket(t, acme, acmeSupport, "a1", t0)
	a2 := e.newTicket(t, acme, acmeSupport, "a2", t0)
	b1 := e.newTicket(t, beta, betaHelp, "b1", t0)
	cases := []struct {
		ref  string
		want string // ticket id, "" for ErrNotFound
	}{
		{a1.ID, a1.ID}, {b1.ID, b1.ID},
		{"acme#1", a1.ID}, {"acme#2", a2.ID}, {"beta#1", b1.ID},
		{"acme#3", ""}, {"beta#2", ""}, {"nobody#1", ""},
		{"acme#0", ""}, {"acme#-1", ""}, {"acme#x", ""}, {"acme#", ""}, {"#1", ""},
		{"", ""}, {"no-such-ticket", ""},
	}
	e.view(t, func(tx store.Tx) error {
		for _, c := range cases {
			tk, err := store.ResolveTicket(tx, c.ref)
			switch {
			case c.want == "":
				wantErr(t, fmt.Sprintf("ResolveTicket(%q)", c.ref), err, store.ErrNotFound)
			case err != nil:
				t.Errorf("ResolveTicket(%q): %v", c.ref, err)
			case tk.ID != c.want:
				t.Errorf("ResolveTicket(%q) = %s, want %s", c.ref, tk.ID, c.want)
			}
		}
		return nil
	})
}

// SetFollowedBy is stored.
func testSetFollowedBy(t *testing.T, e *env) {
	tk := e.newTicket(t, acme, acmeSupport, "old", t0)
	var mem *store.Ticket
	e.update(t, []string{acme}, func(tx store.Tx) error {
		var err error
		if mem, err = tx.Ticket(tk.ID); err != nil {
			return err
		}
		return tx.SetFollowedBy(mem, 42)
	})
	if got := e.ticket(t, tk.ID); got.FollowedBy != 42 || mem.FollowedBy != 42 {
		t.Errorf("FollowedBy: stored %d, in memory %d; want 42", got.FollowedBy, mem.FollowedBy)
	}
}

var statusTests = []test{
	{"SetStatus", testSetStatus},
	{"SetTicketStatus", testSetTicketStatus},
}

// SetStatus keeps closed_at and updated_at right: set when the ticket
// closes, cleared when it leaves closed, untouched when the status does
// not change.
func testSetStatus(t *testing.T, e *env) {
	tk := e.newTicket(t, acme, acmeSupport, "s", t0)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	steps := []struct {
		status      string
		at          time.Time
		wantClosed  *time.Time
		wantUpdated time.Time
	}{
		{store.StatusOpen, at(1), nil, at(1)},
		{store.StatusOpen, at(2), nil, at(1)}, // same status: nothing changes
		{store.StatusClosed, at(3), new(at(3)), at(3)},
		{store.StatusClosed, at(4), new(at(3)), at(3)},
		{store.StatusResolved, at(5), nil, at(5)},
		{store.StatusClosed, at(6), new(at(6)), at(6)},
		{store.StatusPending, at(7), nil, at(7)},
		{store.StatusNew, at(8), nil, at(8)},
	}
	for i, s := range steps {
		var mem *store.Ticket
		e.update(t, []string{acme}, func(tx store.Tx) error {
			var err error
			if mem, err = tx.Ticket(tk.ID); err != nil {
				return err
			}
			return tx.SetStatus(mem, s.status, s.at)
		})
		stored := e.ticket(t, tk.ID)
		for _, got := range []struct {
			what string
			tk   *store.Ticket
		}{{"in memory", mem}, {"stored", stored}} {
			if got.tk.Status != s.status || !got.tk.UpdatedAt.Equal(s.wantUpdated) || !sameTimePtr(got.tk.ClosedAt, s.wantClosed) {
				t.Errorf("step %d (%s at +%v), %s: status %s, updated_at %v, closed_at %v; want %s, %v, %v",
					i, s.status, s.at.Sub(t0), got.what, got.tk.Status, got.tk.UpdatedAt, fmtTimePtr(got.tk.ClosedAt), s.status, s.wantUpdated, fmtTimePtr(s.wantClosed))
			}
		}
	}
	err := e.st.Update(e.ctx, []string{acme}, func(tx store.Tx) error {
		cur, err := tx.Ticket(tk.ID)
		if err != nil {
			return err
		}
		return tx.SetStatus(cur, "frozen", tx.Now())
	})
	if err == nil {
		t.Errorf("SetStatus(frozen): no error")
	}
	if got := e.ticket(t, tk.ID); got.Status != store.StatusNew {
		t.Errorf("after a refused status: status %s, want new", got.Status)
	}
}

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func fmtTimePtr(p *time.Time) string {
	if p == nil {
		return "nil"
	}
	return p.UTC().String()
}

// store.SetTicketStatus changes the status at the store's clock (Tx.Now),
// by id or TENANT#NUMBER.
func testSetTicketStatus(t *testing.T, e *env) {
	tk := e.newTicket(t, acme, acmeSupport, "s", t0)
	steps := []struct {
		ref, status string
		clock       time.Time
		wantClosed  bool
	}{
		{"acme#1", store.StatusClosed, t0.Add(time.Hour), true},
		{tk.ID, store.StatusOpen, t0.Add(2 * time.Hour), false},
		{tk.ID, store.StatusClosed, t0.Add(3 * time.Hour), true},
	}
	for _, s := range steps {
		e.clk.Set(s.clock)
		got, err := store.SetTicketStatus(e.ctx, e.st, s.ref, s.status)
		if err != nil {
			t.Fatalf("SetTicketStatus(%s, %s): %v", s.ref, s.status, err)
		}
		stored := e.ticket(t, tk.ID)
		for _, g := range []*store.Ticket{got, stored} {
			if g.Status != s.status || !g.UpdatedAt.Equal(s.clock) || (g.ClosedAt != nil) != s.wantClosed || (s.wantClosed && !g.ClosedAt.Equal(s.clock)) {
				t.Errorf("SetTicketStatus(%s, %s) with the clock at %v: status %s, updated_at %v, closed_at %s",
					s.ref, s.status, s.clock, g.Status, g.UpdatedAt, fmtTimePtr(g.ClosedAt))
			}
		}
	}
	_, err := store.SetTicketStatus(e.ctx, e.st, "acme#9", store.StatusOpen)
	wantErr(t, "SetTicketStatus(acme#9)", err, store.ErrNotFound)
	_, err = store.SetTicketStatus(e.ctx, e.st, "no-such-ticket", store.StatusOpen)
	wantErr(t, "SetTicketStatus(no-such-ticket)", err, store.ErrNotFound)
	if _, err := store.SetTicketStatus(e.ctx, e.st, tk.ID, "frozen"); err == nil {
		t.Errorf("SetTicketStatus(frozen): no error")
	}
}

var listTests = []test{
	{"Filters", testListFilters},
	{"Paging", testListPaging},
	{"MaxLimit", testListMaxLimit},
	{"BadCursor", testListBadCursor},
}

// Every combination of filters selects exactly its tickets, newest first,
// and follows status changes.
func testListFilters(t *testing.T, e *env) {
	spots := []struct{ tenant, channel string }{{acme, acmeSupport}, {acme, acmeSales}, {beta, betaHelp}}
	var all []*store.Ticket
	for i := range 12 {
		s := spots[i%len(spots)]
		all = append(all, e.newTicket(t, s.tenant, s.channel, fmt.Sprint("subject ", i), t0.Add(time.Duration(i)*time.Minute)))
	}
	status := map[string]string{}
	for _, tk := range all {
		status[tk.ID] = tk.Status
	}
	change := func(changes map[int]string) {
		for i, st := range changes {
			e.setStatus(t, all[i], st)
			status[all[i].ID] = st
		}
	}
	filters := []struct {
		name string
		f    store.TicketFilter
	}{
		{"none", store.TicketFilter{}},
		{"tenant", store.TicketFilter{Tenant: acme}},
		{"other tenant", store.TicketFilter{Tenant: beta}},
		{"unknown tenant", store.TicketFilter{Tenant: "nobody"}},
		{"channel", store.TicketFilter{Channel: acmeSales}},
		{"status new", store.TicketFilter{Status: store.StatusNew}},
		{"status closed", store.TicketFilter{Status: store.StatusClosed}},
		{"status resolved", store.TicketFilter{Status: store.StatusResolved}},
		{"tenant and status", store.TicketFilter{Tenant: acme, Status: store.StatusClosed}},
		{"channel and status", store.TicketFilter{Channel: acmeSupport, Status: store.StatusOpen}},
		{"tenant and channel", store.TicketFilter{Tenant: acme, Channel: acmeSupport}},
		{"tenant and another's channel", store.TicketFilter{Tenant: acme, Channel: betaHelp}},
		{"tenant, channel and status", store.TicketFilter{Tenant: acme, Channel: acmeSales, Status: store.StatusClosed}},
	}
	check := func(round string) {
		for _, c := range filters {
			t.Run(round+"/"+c.name, func(t *testing.T) {
				f := c.f
				f.Limit = 1000
				got, next, err := e.st.ListTickets(e.ctx, f)
				if err != nil {
					t.Fatalf("ListTickets(%+v): %v", f, err)
				}
				want := newestFirst(all, func(tk *store.Ticket) bool {
					return (f.Tenant == "" || tk.Tenant == f.Tenant) && (f.Channel == "" || tk.Channel == f.Channel) &&
						(f.Status == "" || status[tk.ID] == f.Status)
				})
				if !slices.Equal(ticketIDs(got), want) || next != "" {
					t.Errorf("ListTickets(%+v) = %v next %q, want %v next \"\"", f, ticketIDs(got), next, want)
				}
				for _, tk := range got {
					if tk.Status != status[tk.ID] || (tk.ClosedAt != nil) != (tk.Status == store.StatusClosed) {
						t.Errorf("listed ticket %s: status %s closed_at %s, want status %s", tk.ID, tk.Status, fmtTimePtr(tk.ClosedAt), status[tk.ID])
					}
				}
			})
		}
	}
	change(map[int]string{0: store.StatusOpen, 1: store.StatusClosed, 4: store.StatusClosed, 5: store.StatusPending, 7: store.StatusClosed, 9: store.StatusOpen})
	check("before")
	change(map[int]string{1: store.StatusOpen, 4: store.StatusClosed, 7: store.StatusResolved, 2: store.StatusClosed, 10: store.StatusClosed, 9: store.StatusNew})
	check("after")
}

// Following the cursors lists every ticket once, newest first, in pages of
// the limit (50 by default); the last page has next "".
func testListPaging(t *testing.T, e *env) {
	var specs []store.Ticket
	for i := range 75 {
		tenant, channel := acme, acmeSupport
		if i%3 == 2 {
			tenant, channel = beta, betaHelp
		}
		specs = append(specs, ticketAt(tenant, channel, fmt.Sprint("subject ", i), t0.Add(time.Duration(i)*time.Second)))
	}
	var all []*store.Ticket
	for chunk := range slices.Chunk(specs, 25) {
		all = append(all, e.createTickets(t, chunk...)...)
	}
	cases := []struct {
		name string
		f    store.TicketFilter
	}{
		{"all by 20", store.TicketFilter{Limit: 20}},
		{"all by 25, a whole number of pages", store.TicketFilter{Limit: 25}},
		{"all by the default", store.TicketFilter{}},
		{"all by a negative limit", store.TicketFilter{Limit: -1}},
		{"all in one page of 75", store.TicketFilter{Limit: 75}},
		{"all by 74", store.TicketFilter{Limit: 74}},
		{"tenant by 20", store.TicketFilter{Tenant: acme, Limit: 20}},
		{"tenant by 1", store.TicketFilter{Tenant: beta, Limit: 1}},
		{"channel by 7", store.TicketFilter{Channel: betaHelp, Limit: 7}},
		{"status by 20", store.TicketFilter{Status: store.StatusNew, Limit: 20}},
		{"tenant and status by 10", store.TicketFilter{Tenant: acme, Status: store.StatusNew, Limit: 10}},
		{"nothing matches", store.TicketFilter{Status: store.StatusClosed, Limit: 20}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := newestFirst(all, func(tk *store.Ticket) bool {
				return (c.f.Tenant == "" || tk.Tenant == c.f.Tenant) && (c.f.Channel == "" || tk.Channel == c.f.Channel) &&
					(c.f.Status == "" || tk.Status == c.f.Status)
			})
			if got := walkTickets(t, e, c.f, len(all)); !slices.Equal(got, want) {
				t.Errorf("pages of %+v listed\n%v\nwant\n%v", c.f, got, want)
			}
		})
	}
}

// A page holds at most 1000 tickets, whatever the limit asked for.
func testListMaxLimit(t *testing.T, e *env) {
	specs := make([]store.Ticket, 1001)
	for i := range specs {
		specs[i] = ticketAt(acme, acmeSupport, fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second))
	}
	all := e.createTickets(t, specs...)
	want := newestFirst(all, func(*store.Ticket) bool { return true })
	for _, limit := range []int{1000, 1001, 5000} {
		page, next, err := e.st.ListTickets(e.ctx, store.TicketFilter{Limit: limit})
		if err != nil {
			t.Fatalf("ListTickets(limit %d): %v", limit, err)
		}
		if !slices.Equal(ticketIDs(page), want[:1000]) || next == "" {
			t.Errorf("ListTickets(limit %d): %d tickets (the newest first: %v), next %q; want the 1000 newest and a next cursor",
				limit, len(page), len(page) > 0 && page[0].ID == want[0], next)
			continue
		}
		rest, next, err := e.st.ListTickets(e.ctx, store.TicketFilter{Limit: limit, After: next})
		if err != nil || !slices.Equal(ticketIDs(rest), want[1000:]) || next != "" {
			t.Errorf("ListTickets(limit %d), second page: %v next %q err %v; want [%s] next \"\"", limit, ticketIDs(rest), next, err, want[1000])
		}
	}
	if got := walkTickets(t, e, store.TicketFilter{}, len(all)); !slices.Equal(got, want) {
		t.Errorf("pages of the default size listed %d tickets, want %d in order", len(got), len(want))
	}
}

// A cursor the engine did not make is ErrBadCursor.
func testListBadCursor(t *testing.T, e *env) {
	e.newTicket(t, acme, acmeSupport, "s", t0)
	e.suspend(t, store.Suspended{Tenant: acme, Channel: acmeSupport, Reason: "test", ReceivedAt: t0}, "raw")
	for _, cur := range []string{"garbage", "not a cursor!", "\x00\xff\xfe", strings.Repeat("~", 300)} {
		for _, f := range []store.TicketFilter{{}, {Tenant: acme}, {Channel: acmeSupport, Status: store.StatusNew}} {
			f.After = cur
			_, _, err := e.st.ListTickets(e.ctx, f)
			wantErr(t, fmt.Sprintf("ListTickets(%#v)", f), err, store.ErrBadCursor)
		}
		_, _, err := e.st.ListSuspended(e.ctx, 10, cur)
		wantErr(t, fmt.Sprintf("ListSuspended(after %q)", cur), err, store.ErrBadCursor)
	}
}

var mergeTests = []test{
	{"MergeCandidates", testMergeCandidates},
}

// MergeCandidates yields the tickets of one tenant, channel and normalized
// subject created at or after since, newest (by CreatedAt) first, until fn
// says stop.
func testMergeCandidates(t *testing.T, e *env) {
	since := t0.Add(-72 * time.Hour)
	const subj = "printer jam"
	mk := func(tenant, channel, norm string, at time.Time) *store.Ticket {
		return e.newTicket(t, tenant, channel, norm, at)
	}
	mk(acme, acmeSupport, subj, since.Add(-time.Second)) // before the window
	atSince := mk(acme, acmeSupport, subj, since)
	older := mk(acme, acmeSupport, subj, t0.Add(-time.Hour))
	newest := mk(acme, acmeSupport, subj, t0.Add(-30*time.Minute))
	middle := mk(acme, acmeSupport, subj, t0.Add(-10*time.Hour)) // created after older ones
	longer := mk(acme, acmeSupport, subj+" again", t0)
	shorter := mk(acme, acmeSupport, "printer", t0)
	mk(acme, acmeSales, subj, t0)
	mk(beta, acmeSupport, subj, t0)
	mk(beta, betaHelp, subj, t0)
	cases := []struct {
		name    string
		tenant  string
		channel string
		norm    string
		since   time.Time
		stopAt  int // fn returns false on this call (0: never)
		want    []*store.Ticket
	}{
		{"all in the window, newest first", acme, acmeSupport, subj, since, 0, []*store.Ticket{newest, older, middle, atSince}},
		{"stop after the first", acme, acmeSupport, subj, since, 1, []*store.Ticket{newest}},
		{"stop after two", acme, acmeSupport, subj, since, 2, []*store.Ticket{newest, older}},
		{"a narrower window", acme, acmeSupport, subj, t0.Add(-2 * time.Hour), 0, []*store.Ticket{newest, older}},
		{"a window after all", acme, acmeSupport, subj, t0.Add(time.Hour), 0, nil},
		{"a subject that is a prefix of others", acme, acmeSupport, "printer", since, 0, []*store.Ticket{shorter}},
		{"a subject that others are prefixes of", acme, acmeSupport, subj + " again", since, 0, []*store.Ticket{longer}},
		{"a subject nobody has", acme, acmeSupport, "printer ja", since, 0, nil},
		{"another channel", acme, "other@acme.example", subj, since, 0, nil},
		{"another tenant", "nobody", acmeSupport, subj, since, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			e.view(t, func(tx store.Tx) error {
				got = got[:0]
				return tx.MergeCandidates(c.tenant, c.channel, c.norm, c.since, func(tk *store.Ticket) bool {
					got = append(got, tk.ID)
					if tk.Tenant != c.tenant || tk.Channel != c.channel || tk.NormalizedSubject != c.norm {
						t.Errorf("candidate %s is %s/%s/%q", tk.ID, tk.Tenant, tk.Channel, tk.NormalizedSubject)
					}
					return len(got) != c.stopAt
				})
			})
			if want := ticketIDs(c.want); !slices.Equal(got, want) {
				t.Errorf("MergeCandidates(%s, %s, %q, since %v) = %v, want %v", c.tenant, c.channel, c.norm, c.since, got, want)
			}
		})
	}
}
