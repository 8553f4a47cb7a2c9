package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sobot/ticketmx/store/pgtest"
)

// The tests of SPEC section 8: several daemons on one PostgreSQL database,
// talking real SMTP on 127.0.0.1.

// quietE2E is e2eConfig logging at info, for the tests that send many
// messages.
var quietE2E = strings.Replace(e2eConfig, "log: {level: debug}", "log: {level: info}", 1)

// TestMultiHostSameMessageAtOnce: the same message delivered to two hosts
// at the same moment (20 messages, each to two channels, each to both
// hosts at once) is stored once per channel, and both hosts answer 250.
func TestMultiHostSameMessageAtOnce(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	hosts := startHosts(t, 2, pgConfig(quietE2E, dsn, "5s"), nil)
	rcpts := []string{"support@acme.example", "sales@acme.example"}
	const n = 20
	codes := make([][2]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		msg := customerMail("dup@example.org", fmt.Sprintf("Sent twice %d", i), fmt.Sprintf("twice-%d@example.org", i))
		for h, e := range hosts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := dialClient(e.smtp, "client.example.org")
				if err != nil {
					codes[i][h] = err.Error()
					return
				}
				defer c.Close()
				<-start // both hosts get message i at the same moment
				res, err := sendOn(c, "dup@example.org", rcpts, msg)
				codes[i][h] = smtpCode(errors.Join(append(res.rcptErrs, res.dataErr, err)...))
			}()
		}
	}
	close(start)
	wg.Wait()
	for i, c := range codes {
		if c != [2]string{"250", "250"} {
			t.Errorf("message %d: hosts answered %q, want 250 from both", i, c)
		}
	}
	counts := pgMessageIDCounts(t, dsn)
	for i := range n {
		if id := fmt.Sprintf("twice-%d@example.org", i); counts[id] != 2 {
			t.Errorf("%s: %d ticket messages, want 2 (one per channel)", id, counts[id])
		}
	}
	for _, ch := range rcpts {
		list := hosts[1].tickets("channel=" + ch + "&limit=1000")
		if len(list) != n {
			t.Errorf("channel %s: %d tickets, want %d", ch, len(list), n)
		}
	}
	// The counters are the sum over both hosts.
	st := hosts[0].stats()
	if st["messages_accepted"] != 2*n || st["ticket_messages"] != 2*n || st["duplicates"] != 2*n {
		t.Errorf("stats: accepted %v, ticket messages %v, duplicates %v; want %d each",
			st["messages_accepted"], st["ticket_messages"], st["duplicates"], 2*n)
	}
}

// TestMultiHostNumbering: three hosts, four connections each, ten new
// tickets per connection, to two tenants (some messages to both at once):
// each tenant's numbers are 1..N with no gap and no repeat.
func TestMultiHostNumbering(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	hosts := startHosts(t, 3, pgConfig(quietE2E, dsn, "5s"), nil)
	const conns, perConn = 4, 10
	want := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for h, e := range hosts {
		for c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl, err := dialClient(e.smtp, "client.example.org")
				if err != nil {
					t.Error(err)
					return
				}
				defer cl.Close()
				for i := range perConn {
					rcpts := [][]string{{"sales@acme.example", "beta@beta.sobot.com"}, {"sales@acme.example"}, {"beta@beta.sobot.com"}}[i%3]
					from := fmt.Sprintf("n%d-%d@example.org", h, c)
					id := fmt.Sprintf("num-%d-%d-%d@example.org", h, c, i)
					res, err := sendOn(cl, from, rcpts, customerMail(from, "Numbered "+id, id))
					if err = errors.Join(append(res.rcptErrs, res.dataErr, err)...); err != nil {
						t.Errorf("%s at host %d: %v", id, h, err)
						continue
					}
					mu.Lock()
					for _, r := range rcpts {
						want[r[strings.IndexByte(r, '@')+1:]]++
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	for tenant, domain := range map[string]string{"acme": "acme.example", "beta": "beta.sobot.com"} {
		list := hosts[2].tickets("tenant=" + tenant + "&limit=1000")
		var nums []int
		for _, tk := range list {
			nums = append(nums, int(tk.Number))
		}
		slices.Sort(nums)
		n := want[domain]
		if n != conns*len(hosts)*7 || len(nums) != n {
			t.Fatalf("tenant %s: %d tickets, %d acknowledged", tenant, len(nums), n)
		}
		for i, got := range nums {
			if got != i+1 {
				t.Fatalf("tenant %s: numbers %v, want 1..%d with no gap and no repeat", tenant, nums, n)
			}
		}
	}
}

// TestMultiHostRules: the rules of SPEC section 2 see what every host did.
// A reply at host B threads into host A's ticket, the merge rule and the
// closed-ticket rule hold across hosts (one injected clock), and the loop
// limit counts the arrivals of both hosts.
func TestMultiHostRules(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	cfg := strings.Replace(e2eConfig, "  auth_policy: tag\n", "  auth_policy: tag\n  loop: {max: 3, window: 10m}\n", 1)
	clock := newFakeClock()
	hosts := startHosts(t, 2, pgConfig(cfg, dsn, "5s"), clock)
	a, b := hosts[0], hosts[1]
	support := []string{"support@acme.example"}

	{ // A reply at host B threads into host A's ticket.
		a.mustSend("ann@example.org", support, customerMail("ann@example.org", "Broken printer", "q1@example.org"))
		b.mustSend("ann@example.org", support, customerMail("ann@example.org", "Re: Broken printer", "q2@example.org", "In-Reply-To: <q1@example.org>"))
		tk := b.ticket("acme#1")
		if len(tk.Messages) != 2 || tk.Messages[1].Decision != "reply" || tk.Subject != "Broken printer" {
			t.Fatalf("reply at host B: %d messages in acme#1 %q", len(tk.Messages), tk.Subject)
		}
	}
	{ // The merge rule sees the other host's ticket.
		a.mustSend("bob@example.org", support, customerMail("bob@example.org", "Invoice missing", "m1@example.org"))
		clock.Add(time.Hour)
		b.mustSend("carl@example.org", support, customerMail("carl@example.org", "RE: Fwd: invoice   MISSING", "m2@example.org"))
		tk := a.ticket("acme#2")
		if len(tk.Messages) != 2 || tk.Messages[1].Decision != "merged" {
			t.Fatalf("merge across hosts: %d messages in acme#2", len(tk.Messages))
		}
		// Past merge.within (48h from the ticket's creation): a new ticket.
		clock.Add(48 * time.Hour)
		b.mustSend("dora@example.org", support, customerMail("dora@example.org", "Invoice missing", "m3@example.org"))
		if tk := a.ticket("acme#3"); tk.Messages[0].Decision != "new" || tk.Subject != "Invoice missing" {
			t.Fatalf("after merge.within: acme#3 %q %q", tk.Subject, tk.Messages[0].Decision)
		}
	}
	{ // The closed-ticket rule: closed at one host, answered at the other.
		if code, _, stderr := b.ctl("tickets", "set-status", "acme#1", "closed"); code != 0 {
			t.Fatalf("set-status at host B: %s", stderr)
		}
		// Within reopen.after (72h): a reply at host A reopens it.
		clock.Add(71 * time.Hour)
		a.mustSend("ann@example.org", support, customerMail("ann@example.org", "Re: Broken printer", "q3@example.org", "In-Reply-To: <q2@example.org>"))
		if tk := b.ticket("acme#1"); tk.Status != "open" || len(tk.Messages) != 3 || tk.Messages[2].Decision != "reopened" {
			t.Fatalf("reply to a closed ticket within reopen.after: %s, %d messages", tk.Status, len(tk.Messages))
		}
		// Closed at host A, answered at host B after the window: a new
		// ticket related to it; a later reply at host A goes there too.
		if code, _, stderr := a.ctl("tickets", "set-status", "acme#1", "closed"); code != 0 {
			t.Fatalf("set-status at host A: %s", stderr)
		}
		clock.Add(72 * time.Hour)
		b.mustSend("ann@example.org", support, customerMail("ann@example.org", "Re: Broken printer", "q4@example.org", "References: <q1@example.org>"))
		tk := a.ticket("acme#4")
		if tk.RelatedTo != 1 || tk.Status != "new" || tk.Messages[0].Decision != "new_after_closed" {
			t.Fatalf("reply after reopen.after: acme#4 related to %d, %s, %q", tk.RelatedTo, tk.Status, tk.Messages[0].Decision)
		}
		a.mustSend("ann@example.org", support, customerMail("ann@example.org", "Re: Broken printer", "q5@example.org", "In-Reply-To: <q1@example.org>"))
		if tk := b.ticket("acme#4"); len(tk.Messages) != 2 {
			t.Fatalf("a later reply to the closed ticket: acme#4 has %d messages, want 2", len(tk.Messages))
		}
		if old := b.ticket("acme#1"); old.Status != "closed" || old.FollowedBy != 4 || len(old.Messages) != 3 {
			t.Fatalf("old ticket: %s, followed by %d, %d messages", old.Status, old.FollowedBy, len(old.Messages))
		}
	}
	{ // The loop window counts both hosts' arrivals.
		for i := range 4 {
			e := hosts[i%2]
			e.mustSend("loopy@example.org", []string{"sales@acme.example"}, customerMail("loopy@example.org", fmt.Sprintf("Loop %d", i), fmt.Sprintf("loop-%d@example.org", i)))
		}
		if n := len(a.tickets("channel=sales@acme.example")); n != 3 {
			t.Fatalf("%d tickets from the looping sender, want 3", n)
		}
		sus := b.suspended()
		if len(sus) != 1 || sus[0].Reason != "loop" || sus[0].MessageID != "loop-3@example.org" {
			t.Fatalf("suspended: %+v; want the 4th message, for loop", sus)
		}
	}
	{ // Two customers, one subject, each at another host at once: one ticket.
		const n = 5
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			for h, e := range hosts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					from := fmt.Sprintf("at-once-%d-%d@example.org", i, h)
					msg := customerMail(from, fmt.Sprintf("Parcel %d damaged", i), fmt.Sprintf("at-once-%d-%d@example.org", i, h))
					c, err := dialClient(e.smtp, "client.example.org")
					if err != nil {
						t.Error(err)
						return
					}
					defer c.Close()
					<-start
					res, err := sendOn(c, from, support, msg)
					if err = errors.Join(append(res.rcptErrs, res.dataErr, err)...); err != nil {
						t.Errorf("%s: %v", from, err)
					}
				}()
			}
		}
		close(start)
		wg.Wait()
		bySubject := map[string]int{}
		for _, tk := range a.tickets("channel=support@acme.example&limit=1000") {
			if strings.HasPrefix(tk.Subject, "Parcel ") {
				bySubject[tk.Subject]++
				if full := b.ticket(tk.ID); len(full.Messages) != 2 || full.Messages[1].Decision != "merged" {
					t.Errorf("%s: %d messages, want 2 (one merged)", tk.Subject, len(full.Messages))
				}
			}
		}
		if len(bySubject) != n {
			t.Errorf("tickets by subject: %v, want one for each of %d", bySubject, n)
		}
		for subj, k := range bySubject {
			if k != 1 {
				t.Errorf("%q: %d tickets, want 1", subj, k)
			}
		}
	}
}

// killConfig is crashConfig, one tenant's system channel and no rules in
// reach, on the postgres engine.
func killConfig(dsn string) string { return pgConfig(crashConfig, dsn, "5s") }

// TestMultiHostKill: one of two hosts (the built binary) is killed with
// SIGKILL while several connections deliver to both. Every message that
// got 250 from either host is stored exactly once, and a sender that
// retries every message at the surviving host makes no duplicate.
func TestMultiHostKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs and kills the binary")
	}
	dsn := pgtest.NewDatabase(t)
	var procs [2]*proc
	for i := range procs {
		procs[i] = startProc(t, writeConfig(t, shortDir(t), killConfig(dsn)))
	}
	victim, survivor := procs[0], procs[1]
	killAfter := time.Duration(rand.IntN(300)) * time.Millisecond
	stop := make(chan struct{})
	var ackedB, triedB []string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ackedB, triedB = blastUntil(survivor.smtp, "b", 4, stop, nil)
	}()
	// The kill comes at a random moment after the victim acknowledged
	// its first ten messages.
	var victimAcks atomic.Int64
	go func() {
		for deadline := time.Now().Add(30 * time.Second); victimAcks.Load() < 10 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(killAfter)
		victim.cmd.Process.Kill()
	}()
	ackedA, triedA := blastUntil(victim.smtp, "a", 4, nil, func(_ string, _ time.Time, err error) bool {
		if err == nil {
			victimAcks.Add(1)
		}
		return false // a connection ends at its first error: the kill
	})
	select {
	case <-victim.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the killed host did not end")
	}
	// The survivor keeps taking mail after the kill, for a moment.
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(ackedA) == 0 || len(ackedB) == 0 {
		t.Fatalf("acknowledged: %d at the killed host, %d at the survivor; want some at both", len(ackedA), len(ackedB))
	}
	// Every sender retries everything it tried, at the survivor.
	tried := append(triedA, triedB...)
	checkOnceAfterRetries(t, dsn, survivor.smtp, append(ackedA, ackedB...), tried, nil)
	t.Logf("killed %v after the 10th 250: %d+%d acknowledged, %d tried, all once after the retries", killAfter, len(ackedA), len(ackedB), len(tried))
}

// outage is the state of the database in TestMultiHostDatabaseDown.
type outage struct {
	mu        sync.Mutex
	down      bool // Stop returned and Start not yet called
	since     time.Time
	tempFails int // 4xx answered to messages begun and answered while down
	acks      int
	problems  []string
}

// reply is blastUntil's reply: it checks each answer against the state of
// the database, and lets a connection go on after a 4xx (after a pause,
// as a sender's retry would).
func (o *outage) reply(id string, begun time.Time, err error) bool {
	o.mu.Lock()
	whileDown := o.down && begun.After(o.since)
	var se *smtp.SMTPError
	switch {
	case err == nil:
		o.acks++
		if whileDown {
			o.problems = append(o.problems, id+": 250 while the database was down")
		}
	case errors.As(err, &se) && se.Code/100 == 4:
		if whileDown {
			o.tempFails++
		}
	default:
		o.problems = append(o.problems, fmt.Sprintf("%s: %v (want 250 or a 4xx)", id, err))
	}
	o.mu.Unlock()
	if err != nil {
		time.Sleep(20 * time.Millisecond)
	}
	return se != nil && se.Code/100 == 4
}

// load delivers from conns connections to addr (blastUntil with o's
// reply) until the returned end, which returns what was acknowledged and
// tried; end may be called again.
func (o *outage) load(addr, round string, conns int) (end func() (acked, tried []string)) {
	stop := make(chan struct{})
	done := make(chan struct{})
	var acked, tried []string
	go func() {
		defer close(done)
		acked, tried = blastUntil(addr, round, conns, stop, o.reply)
	}()
	return sync.OnceValues(func() ([]string, []string) {
		close(stop)
		<-done
		return acked, tried
	})
}

func (o *outage) set(down bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.down, o.since = down, time.Now()
}

// waitFor polls cond (under o.mu) for at most 30 s.
func (o *outage) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		o.mu.Lock()
		ok := cond()
		o.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMultiHostDatabaseDown: PostgreSQL stops hard (an immediate shutdown)
// while three connections deliver. While it is down every message gets a
// 4xx (never a 5xx, never a 250) and /readyz fails; nothing acknowledged is
// lost; once it is back the same daemon takes mail again within a bounded
// number of retries and /readyz succeeds.
func TestMultiHostDatabaseDown(t *testing.T) {
	srv := pgtest.StartServer(t)
	srv.CreateDatabase("tmx")
	dsn := srv.DSN("tmx")
	e := startEnvWith(t, withMetrics(pgConfig(crashConfig, dsn, "2s")), nil)
	e.waitReadyz(200)
	var o outage
	endLoad := o.load(e.smtp, "down", 3)
	defer endLoad()
	o.waitFor(t, "20 messages acknowledged before the outage", func() bool { return o.acks >= 20 })

	srv.Stop()
	o.set(true)
	o.waitFor(t, "10 messages answered 4xx during the outage", func() bool { return o.tempFails >= 10 })
	if code := e.readyz(); code != 503 {
		t.Errorf("/readyz with the database down: %d, want 503", code)
	}
	probe := mail([]string{"From: c@example.org", "Subject: probe", "Message-ID: <probe@crash.example>"}, "probe\n")
	if res := e.send("c@example.org", []string{"acme@acme.sobot.com"}, probe); smtpCode(res.dataErr) != "451 4.3.0" {
		t.Errorf("a message with the database down: %s, want 451 4.3.0", smtpCode(res.dataErr))
	}

	o.set(false)
	srv.Start()
	tries := e.sendUntil250(100, "c@example.org", []string{"acme@acme.sobot.com"}, probe)
	e.waitReadyz(200)
	o.mu.Lock()
	acksAtStart := o.acks
	o.mu.Unlock()
	o.waitFor(t, "the load's connections to get 250 again", func() bool { return o.acks > acksAtStart })
	acked, tried := endLoad()
	for _, p := range o.problems {
		t.Error(p)
	}
	// The senders retry what got a 4xx: everything is there once.
	checkOnceAfterRetries(t, dsn, e.smtp, acked, tried, []string{"probe@crash.example"})
	t.Logf("%d acknowledged, %d answered 4xx while down; service back after %d tries", len(acked), o.tempFails, tries)
}

// TestMultiHostBlackHole: the network to the database drops everything
// (no answer, no reset). A message gets 451 4.3.0 within a bound of
// store.postgres.timeout (1s), /readyz fails, and once the network heals
// the sender's retry is taken, once.
func TestMultiHostBlackHole(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	p := pgtest.NewProxy(t, dsnAddr(t, dsn))
	e := startEnvWith(t, withMetrics(pgConfig(crashConfig, p.DSN(dsn), "1s")), nil)
	rcpt := []string{"acme@acme.sobot.com"}
	msg := func(id string) string {
		return mail([]string{"From: c@example.org", "Subject: " + id, "Message-ID: <" + id + ">"}, "body\n")
	}
	e.mustSend("c@example.org", rcpt, msg("before@hole.example"))

	p.BlackHole()
	began := time.Now()
	res := e.send("c@example.org", rcpt, msg("held@hole.example"))
	took := time.Since(began)
	if got := smtpCode(res.dataErr); got != "451 4.3.0" {
		t.Fatalf("a message with the database black-holed: %s, want 451 4.3.0", got)
	}
	if took > 10*time.Second {
		t.Fatalf("451 after %v; store.postgres.timeout is 1s", took)
	}
	if code := e.readyz(); code != 503 {
		t.Errorf("/readyz with the database black-holed: %d, want 503", code)
	}

	p.Restore()
	tries := e.sendUntil250(50, "c@example.org", rcpt, msg("held@hole.example"))
	e.mustSend("c@example.org", rcpt, msg("after@hole.example"))
	e.waitReadyz(200)
	counts := pgMessageIDCounts(t, dsn)
	for _, id := range []string{"before@hole.example", "held@hole.example", "after@hole.example"} {
		if counts[id] != 1 {
			t.Errorf("%s stored %d times, want once", id, counts[id])
		}
	}
	t.Logf("451 after %v; the retry got 250 at try %d", took.Round(time.Millisecond), tries)
}

// oneLine checks that s is one non-empty line.
func oneLine(t *testing.T, what, s string) {
	t.Helper()
	if s == "" || strings.Count(strings.TrimSuffix(s, "\n"), "\n") != 0 {
		t.Errorf("%s: want one line, got %q", what, s)
	}
}

// TestMultiHostStartupFaults: serve refuses to start with one clear line
// and exit 1 when the database refuses the password (in the DSN or in
// PGPASSWORD) or cannot be reached, never showing the password; a DSN that
// does not parse is named by check-config.
func TestMultiHostStartupFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	dsn := pgtest.NewDatabase(t)
	good := dsnPassword(dsn)
	const wrong = "Wr0ngPassw0rd-x7"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	for _, c := range []struct {
		name string
		dsn  string
		env  []string
		want string
	}{
		{"wrong password", withPassword(dsn, wrong), nil, "password authentication failed"},
		{"wrong PGPASSWORD", withPassword(dsn, ""), []string{"PGPASSWORD=" + wrong}, "password authentication failed"},
		{"closed port", strings.Replace(dsn, "port="+strings.Split(dsnAddr(t, dsn), ":")[1], fmt.Sprintf("port=%d", closed), 1), nil, "database"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := shortDir(t)
			cfg := writeConfig(t, dir, pgConfig(crashConfig, c.dsn, "2s"))
			code, stdout, stderr := runBinary(t, c.env, "serve", "--config", cfg)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr %q", code, stderr)
			}
			oneLine(t, "stderr", stderr)
			t.Logf("stderr: %s", stderr)
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q does not name the problem (%q)", stderr, c.want)
			}
			for _, pw := range []string{wrong, good} {
				if strings.Contains(stdout+stderr, pw) {
					t.Errorf("the output shows a password: %q", stdout+stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "admin.sock")); err == nil {
				t.Errorf("the admin socket was made before the store opened")
			}
		})
	}
	t.Run("malformed dsn", func(t *testing.T) {
		cfg := writeConfig(t, shortDir(t), pgConfig(crashConfig, "host=127.0.0.1 port=notaport password="+wrong, "2s"))
		var out, errb strings.Builder
		if code := run([]string{"check-config", cfg}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "store.postgres.dsn") {
			t.Errorf("check-config: exit %d, %q; want 1 naming store.postgres.dsn", code, errb.String())
		}
		code, stdout, stderr := runBinary(t, nil, "serve", "--config", cfg)
		if code != 1 || !strings.Contains(stderr, "store.postgres.dsn") {
			t.Errorf("serve: exit %d, %q; want 1 naming store.postgres.dsn", code, stderr)
		}
		t.Logf("check-config: %sserve: %s", errb.String(), stderr)
		if strings.Contains(out.String()+errb.String()+stdout+stderr, wrong) {
			t.Errorf("the output shows the password: %q %q", errb.String(), stderr)
		}
	})
}

// TestMultiHostCtl: ctl works unchanged on postgres with two hosts: tickets
// list and show, stats as the sum over the hosts; backup is refused (exit 1
// naming pg_dump; GET /v1/backup 501). No log shows the password.
func TestMultiHostCtl(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	hosts := startHosts(t, 2, pgConfig(e2eConfig, dsn, "5s"), nil)
	const n = 6
	for i := range n {
		id := fmt.Sprintf("ctl-%d@example.org", i)
		hosts[i%2].mustSend("ann@example.org", []string{"sales@acme.example"}, customerMail("ann@example.org", "Ctl on postgres "+id, id))
	}
	for h, e := range hosts {
		code, out, stderr := e.ctl("--json", "stats")
		var st map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st["messages_accepted"] != float64(n) {
			t.Errorf("host %d: ctl stats: exit %d, %s %s; want messages_accepted %d (both hosts)", h, code, out, stderr, n)
		}
		if code, out, _ := e.ctl("stats"); code != 0 || !strings.Contains(out, "messages_accepted") {
			t.Errorf("host %d: ctl stats: exit %d:\n%s", h, code, out)
		}
		code, out, stderr = e.ctl("tickets", "list", "--tenant", "acme")
		if code != 0 || !strings.Contains(out, fmt.Sprintf("%d tickets", n)) || !strings.Contains(out, "acme#1") || !strings.Contains(out, fmt.Sprintf("acme#%d", n)) {
			t.Errorf("host %d: ctl tickets list: exit %d:\n%s%s", h, code, out, stderr)
		}
		code, out, stderr = e.ctl("tickets", "show", "acme#2")
		if code != 0 || !strings.Contains(out, "text of ctl-1@example.org") {
			t.Errorf("host %d: ctl tickets show acme#2: exit %d:\n%s%s", h, code, out, stderr)
		}
	}
	e := hosts[0]
	file := filepath.Join(t.TempDir(), "b.db")
	code, out, stderr := e.ctl("backup", file)
	if code != 1 || !strings.Contains(stderr, "pg_dump") {
		t.Errorf("ctl backup: exit %d, %q %q; want 1 naming pg_dump", code, out, stderr)
	}
	oneLine(t, "ctl backup", stderr)
	if _, err := os.Stat(file); err == nil {
		t.Errorf("ctl backup left %s", file)
	}
	if code := e.api("GET", "/v1/backup", nil, nil); code != 501 {
		t.Errorf("GET /v1/backup: %d, want 501", code)
	}
	for h, e := range hosts {
		if pw := dsnPassword(dsn); strings.Contains(e.logs.String(), pw) {
			t.Errorf("host %d's log shows the database password", h)
		}
	}
}

// idleInTransaction counts the database's sessions that hold a tenant's
// lock in a transaction left open, waiting for their client: one row a
// session, as Exec counts the rows of a SELECT.
func idleInTransaction(t *testing.T, dsn string) int {
	t.Helper()
	return int(pgtest.Exec(t, dsn, `SELECT DISTINCT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
		WHERE a.datname = current_database() AND a.state LIKE 'idle in transaction%'
		AND l.relation = 'tenants'::regclass AND l.mode = 'RowShareLock'`))
}

// TestMultiHostPartitionedHost: host A loses its network to the database
// (black hole) in the middle of its transactions, holding the tenant's
// lock; host B, which reaches the database, takes the tenant's mail again
// within a bound: a partitioned host does not stop the others.
func TestMultiHostPartitionedHost(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	p := pgtest.NewProxy(t, dsnAddr(t, dsn))
	a := startEnvWith(t, pgConfig(crashConfig, p.DSN(dsn), "1s"), nil)
	b := startEnvWith(t, pgConfig(crashConfig, dsn, "1s"), nil)
	var o outage
	endLoad := o.load(a.smtp, "part", 3)
	defer endLoad()
	// Cut A off while one of its transactions is open (bounded tries).
	caught := false
	for try := 0; try < 20 && !caught; try++ {
		acks := func() int { o.mu.Lock(); defer o.mu.Unlock(); return o.acks }()
		o.waitFor(t, "host A to acknowledge more", func() bool { return o.acks > acks+5 })
		p.BlackHole()
		caught = idleInTransaction(t, dsn) > 0
		if !caught {
			p.Restore()
		}
	}
	if !caught {
		t.Fatal("host A had no transaction open at any of 20 cuts")
	}
	began := time.Now()
	probe := mail([]string{"From: c@example.org", "Subject: probe", "Message-ID: <probe@crash.example>"}, "probe\n")
	tries := b.sendUntil250(30, "c@example.org", []string{"acme@acme.sobot.com"}, probe)
	took := time.Since(began)
	if took > 10*time.Second {
		t.Errorf("host B took the tenant's mail again only after %v", took)
	}
	p.Restore()
	acked, tried := endLoad()
	checkOnceAfterRetries(t, dsn, b.smtp, acked, tried, []string{"probe@crash.example"})
	t.Logf("host B took mail again after %v (%d tries) with host A cut off mid-transaction", took.Round(time.Millisecond), tries)
}
