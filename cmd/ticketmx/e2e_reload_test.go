package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/smtpd"
)

// occupy holds a port on 127.0.0.1 for the test, as another program would.
func occupy(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

// metricValue reads one series of the daemon's registry; labels are all
// its name, value pairs.
func (e *testEnv) metricValue(name string, labels ...string) float64 {
	e.t.Helper()
	mfs, err := e.d.metrics.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var have []string
			for _, l := range m.GetLabel() {
				have = append(have, l.GetName(), l.GetValue())
			}
			if !slices.Equal(have, labels) {
				continue
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// checkRefused checks what every refused reload leaves: ctl reload exits 1
// naming the problems, the metrics count a failure, the log says refused,
// and the running config, listeners, verifier and log format stay.
func (e *testEnv) checkRefused(smtpAddrs int, want ...string) {
	e.t.Helper()
	verifier := e.d.verifier.Load()
	logged := len(e.logs.String())
	code, out, stderr := e.ctl("reload")
	if code != 1 || strings.Contains(out, "config reloaded") {
		e.t.Fatalf("ctl reload: exit %d, %q %q; want a refusal", code, out, stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			e.t.Errorf("ctl reload says %q, want it to name %q", stderr, w)
		}
	}
	if got := e.metricValue("ticketmx_config_last_reload_successful"); got != 0 {
		e.t.Errorf("ticketmx_config_last_reload_successful = %v, want 0", got)
	}
	if got := e.metricValue("ticketmx_config_reloads_total", "result", "failure"); got != 1 {
		e.t.Errorf("failed reloads = %v, want 1", got)
	}
	log := e.logs.String()[logged:]
	if !strings.Contains(log, "config reload refused") || strings.Contains(log, "config reloaded") {
		e.t.Errorf("log of the reload:\n%s", log)
	}
	// The old config: the disabled channel stays disabled, on the old
	// port, with no new SMTP listener, the same verifier, and the text log.
	if got := e.rcptCode("old@acme.example"); got != "550 5.2.1" {
		e.t.Errorf("RCPT to the channel the refused config enables: %s", got)
	}
	if got := e.d.smtp.Addrs(); len(got) != smtpAddrs {
		e.t.Errorf("SMTP listeners after the refusal: %v, want %d", got, smtpAddrs)
	}
	if e.d.verifier.Load() != verifier {
		e.t.Error("the verifier of the refused config is in use")
	}
	if strings.Contains(e.logs.String()[logged:], `{"time":`) {
		e.t.Error("the log format of the refused config is in use")
	}
}

// TestOpsReloadRefusedSMTPPortTaken: a reload that moves SMTP onto a port
// another program holds is refused whole, and SMTP still answers on the
// old port. It relies on smtpd's Apply being all or nothing.
func TestOpsReloadRefusedSMTPPortTaken(t *testing.T) {
	e := startEnv(t)
	e.d.unwatch() // only ctl reload reads the file
	taken := occupy(t)
	e.editConfig(`listen: ["127.0.0.1:0"]`, fmt.Sprintf("listen: [%q]", taken))
	e.editConfig(disabledChannel, enabledChannel)
	e.editConfig("log: {level: debug}", "log: {level: debug, format: json}")
	e.checkRefused(1, "smtp.listen[0]", taken, "address already in use")

	// The same file with a free port is accepted.
	e.editConfig(fmt.Sprintf("listen: [%q]", taken), `listen: ["127.0.0.1:0"]`)
	if code, _, stderr := e.ctl("reload"); code != 0 {
		t.Fatalf("ctl reload: %s", stderr)
	}
	if got := e.rcptCode("old@acme.example"); got != "250" {
		t.Errorf("after the accepted reload: %s", got)
	}
	if got := e.metricValue("ticketmx_config_last_reload_successful"); got != 1 {
		t.Errorf("ticketmx_config_last_reload_successful = %v, want 1", got)
	}
}

// TestOpsReloadRefusedMetricsPortTaken: metrics and pprof move to ports
// another program holds, and SMTP gets a new listener: the reload is
// refused whole, both keys are named, the metrics keep being served on the
// old address and no SMTP listener is added.
func TestOpsReloadRefusedMetricsPortTaken(t *testing.T) {
	e := startEnvWith(t, strings.Replace(e2eConfig, "log: {level: debug}",
		"log: {level: debug}\nmetrics: {listen: \"127.0.0.1:0\"}\ndebug: {pprof_listen: \"127.0.0.1:0\"}", 1), nil)
	e.d.unwatch()
	metricsAddr := e.d.httpMet.boundAddr().String()
	taken, taken2 := occupy(t), occupy(t)
	e.editConfig(`metrics: {listen: "127.0.0.1:0"}`, fmt.Sprintf("metrics: {listen: %q}", taken))
	e.editConfig(`debug: {pprof_listen: "127.0.0.1:0"}`, fmt.Sprintf("debug: {pprof_listen: %q}", taken2))
	e.editConfig(`listen: ["127.0.0.1:0"]`, `listen: ["127.0.0.1:0", "localhost:0"]`)
	e.editConfig(disabledChannel, enabledChannel)
	e.editConfig("log: {level: debug}", "log: {level: debug, format: json}")
	e.checkRefused(1, "metrics.listen: cannot listen on "+taken, "debug.pprof_listen: cannot listen on "+taken2, "address already in use")

	if got := e.d.httpMet.boundAddr().String(); got != metricsAddr {
		t.Errorf("metrics moved to %s", got)
	}
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatalf("metrics on the old address: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "ticketmx_config_last_reload_successful 0") {
		t.Errorf("scrape after the refusal lacks ticketmx_config_last_reload_successful 0")
	}
}

// TestAdminAnswersWhileStarting calls the admin API in the moment its
// socket answers and the SMTP listeners are not bound yet: stats answer
// (the SMTP front exists), and a reload asked for then waits for the start
// and succeeds.
func TestAdminAnswersWhileStarting(t *testing.T) {
	type answer struct {
		code int
		body string
		err  error
	}
	call := func(sock, method, path string) answer {
		client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
		req, _ := http.NewRequest(method, "http://ticketmx"+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			return answer{err: err}
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return answer{code: resp.StatusCode, body: string(b)}
	}
	var stats answer
	reloaded := make(chan answer, 1)
	testAdminListening = func(d *daemon) {
		sock := d.cfg.Load().Admin.Socket
		stats = call(sock, "GET", "/v1/stats")
		go func() { reloaded <- call(sock, "POST", "/v1/reload") }()
	}
	defer func() { testAdminListening = nil }()
	e := startEnv(t)
	testAdminListening = nil
	if stats.err != nil || stats.code != 200 || !strings.Contains(stats.body, `"smtp_active_connections":0`) {
		t.Errorf("stats while starting: %d %q %v", stats.code, stats.body, stats.err)
	}
	if r := <-reloaded; r.err != nil || r.code != 200 {
		t.Errorf("reload while starting: %d %q %v", r.code, r.body, r.err)
	}
	if got := e.rcptCode("support@acme.example"); got != "250" {
		t.Errorf("after start: %s", got)
	}
}

func TestSMTPApplyErrorNamesKey(t *testing.T) {
	var c config.Config
	c.SMTP.Listen = []string{"127.0.0.1:25", "127.0.0.1:2525", "0.0.0.0:25"}
	c.SMTP.ProxyListen = []string{"10.0.0.1:25"}
	c.SMTP.ImplicitTLSListen = []string{"127.0.0.1:465"}
	busy := errors.New("bind: address already in use")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&smtpd.ListenError{Addr: "127.0.0.1:2525", Err: busy}, "smtp.listen[1]: smtpd: listen 127.0.0.1:2525: bind"},
		{&smtpd.ListenError{Addr: "10.0.0.1:25", Err: busy}, "smtp.proxy_listen[0]: "},
		{&smtpd.ListenError{Addr: "127.0.0.1:465", Err: busy}, "smtp.implicit_tls_listen[0]: "},
		{errors.Join(&smtpd.ListenError{Addr: "127.0.0.1:25", Err: busy}, &smtpd.ListenError{Addr: "0.0.0.0:25", Err: busy}),
			"smtp.listen[0]: smtpd: listen 127.0.0.1:25: bind: address already in use\nsmtp.listen[2]: "},
		{&smtpd.CertError{Err: errors.New("open /x.pem: no such file")}, "smtp.tls: smtpd: load TLS certificate: open /x.pem"},
		{errors.New("smtpd: something else"), "smtp: smtpd: something else"},
	} {
		if got := smtpApplyError(&c, tc.err).Error(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%v → %q, want prefix %q", tc.err, got, tc.want)
		}
	}
}

// TestCheckConfigRefusesWhatServeRefuses: check-config names the problems
// serve or reload would only meet later.
func TestCheckConfigRefusesWhatServeRefuses(t *testing.T) {
	dir := t.TempDir()
	tenant := "tenants: [{id: acme, domain: acme.sobot.com}]\n"
	missing := filepath.Join(dir, "missing.pem")
	for name, tc := range map[string]struct {
		yaml string
		want []string
	}{
		"empty file": {"", []string{"tenants: no tenant defined"}},
		"clash": {"smtp: {listen: [\"127.0.0.1:2525\"]}\nmetrics: {listen: \"127.0.0.1:2525\"}\n" + tenant,
			[]string{`metrics.listen: "127.0.0.1:2525" is already used by smtp.listen[0]`}},
		"certificate": {fmt.Sprintf("smtp: {tls: {cert_file: %q, key_file: %q}}\n", missing, missing) + tenant,
			[]string{"smtp.tls.cert_file: cannot read it: open " + missing, "smtp.tls.key_file: cannot read it"}},
		"zone": {"auth: {trusted_forwarders: [\"fe80::1%eth0\"]}\n" + tenant,
			[]string{`auth.trusted_forwarders[0]: "fe80::1%eth0" has an IPv6 zone`}},
	} {
		f := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		if err := os.WriteFile(f, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errb strings.Builder
		if code := runCheckConfig([]string{f}, &out, &errb); code != 1 {
			t.Errorf("%s: exit %d, want 1: %s", name, code, out.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(errb.String(), f+": "+w) {
				t.Errorf("%s: stderr %q lacks %q", name, errb.String(), w)
			}
		}
	}
}

// The metrics listener moves on its own port in one reload, wider (as
// 0.0.0.0) or narrower (a hardening step): the new address is bound once
// the old server has let the port go.
func TestHTTPListenerMovesOnItsPort(t *testing.T) {
	for _, tc := range []struct{ from, to string }{
		{"127.0.0.1", "0.0.0.0"},
		{"0.0.0.0", "127.0.0.1"},
	} {
		h, port := startHTTPListener(t, tc.from+":0")
		to := fmt.Sprintf("%s:%d", tc.to, port)
		c, err := h.prepare(to)
		if err != nil {
			t.Fatalf("prepare %s: %v", to, err)
		}
		c.commit()
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			t.Fatalf("%s to %s: %v", tc.from, tc.to, err)
		}
		resp.Body.Close()
		if got := h.boundAddr().(*net.TCPAddr).Port; got != port || h.addr != to {
			t.Fatalf("%s to %s: bound port %d, addr %s", tc.from, tc.to, got, h.addr)
		}
	}
}

// Another program on the same port at another address is not this
// server's: moving there is refused at prepare, and metrics keep serving.
func TestHTTPListenerRefusesForeignPort(t *testing.T) {
	h, port := startHTTPListener(t, "127.0.0.1:0")
	other, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if c, err := h.prepare(fmt.Sprintf("127.0.0.2:%d", port)); err == nil {
		c.commit()
		t.Fatalf("prepare accepted a port another program holds; bound %v", h.boundAddr())
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatalf("metrics after a refused move: %v", err)
	}
	resp.Body.Close()
}

// startHTTPListener serves a test handler on addr and returns its port.
func startHTTPListener(t *testing.T, addr string) (*httpListener, int) {
	t.Helper()
	h := &httpListener{key: "metrics.listen", name: "metrics", log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })}
	t.Cleanup(h.close)
	c, err := h.prepare(addr)
	if err != nil {
		t.Fatal(err)
	}
	c.commit()
	return h, h.boundAddr().(*net.TCPAddr).Port
}
