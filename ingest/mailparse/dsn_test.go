package mailparse

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// dsnDir holds delivery-status reports as the common MTAs write them.
const dsnDir = "testdata/dsn"

func TestDeliveryReportFixtures(t *testing.T) {
	cases := []struct {
		file   string
		want   DeliveryReport
		failed bool
		diag   string
	}{
		{"postfix.eml", DeliveryReport{
			Action: "failed", Status: "5.1.1", FinalRecipient: "nobody@cust.example",
			DiagnosticCode: "smtp; 550 5.1.1 <nobody@cust.example>: Recipient address rejected: User unknown in virtual mailbox table",
			MessageID:      "20250303090500.r1@acme.com",
		}, true, "5.1.1 smtp; 550 5.1.1 <nobody@cust.example>: Recipient address rejected: User unknown in virtual mailbox table"},
		{"exim.eml", DeliveryReport{
			Action: "failed", Status: "5.0.0", FinalRecipient: "bob@cust.example",
			DiagnosticCode: "smtp; 550-5.1.1 The email account that you tried to reach does not exist. 550 5.1.1 Please check the address and try again.",
			MessageID:      "20250303090500.r2@acme.com",
		}, true, "5.0.0 smtp; 550-5.1.1 The email account that you tried to reach does not exist. 550 5.1.1 Please check the address and try again."},
		{"gmail.eml", DeliveryReport{
			Action: "failed", Status: "5.1.1", FinalRecipient: "no.such.user.4711@gmail.com",
			DiagnosticCode: "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 unnecessary spaces. For more information, go to 550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a640c23a62f3a-abf3f3b4c0asi1234567866b.456 - gsmtp",
			MessageID:      "20250303090600.r3@acme.com",
		}, true, ""},
		{"exchange.eml", DeliveryReport{
			Action: "failed", Status: "5.1.10", FinalRecipient: "nobody@contoso.com",
			DiagnosticCode: "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
			MessageID:      "20250303090700.r4@acme.com",
		}, true, "5.1.10 smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"},
		{"delayed.eml", DeliveryReport{
			Action: "delayed", Status: "4.4.1", FinalRecipient: "slow@cust.example",
			DiagnosticCode: "X-Postfix; connect to mx.cust.example[203.0.113.25]:25: Connection timed out",
			MessageID:      "20250303090500.r5@acme.com",
		}, false, ""},
		{"global.eml", DeliveryReport{
			Action: "failed", Status: "5.1.1", FinalRecipient: "用户@例子.中国",
			DiagnosticCode: "smtp; 550 5.1.1 <用户@例子.中国>: 用户不存在",
			MessageID:      "20250303090800.r6@acme.com",
		}, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dsnDir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(raw, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if m.Report == nil {
				t.Fatal("no report")
			}
			if *m.Report != tc.want {
				t.Errorf("report\n got %+v\nwant %+v", *m.Report, tc.want)
			}
			if m.Report.Failed() != tc.failed {
				t.Errorf("Failed() = %t, want %t", m.Report.Failed(), tc.failed)
			}
			if tc.diag != "" && m.Report.Diagnostic() != tc.diag {
				t.Errorf("Diagnostic() = %q, want %q", m.Report.Diagnostic(), tc.diag)
			}
			if len(m.Defects) != 0 {
				t.Errorf("defects %v", m.Defects)
			}
			if m.Text == "" {
				t.Error("no text: the notification is what an agent reads")
			}
		})
	}
}

// The repository's shared fixture: no empty line between the per-message
// and the recipient fields.
func TestDeliveryReportSharedFixture(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(mailDir, "dsn.eml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(raw, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := DeliveryReport{Action: "failed", Status: "5.1.1", FinalRecipient: "nobody@example.org", MessageID: "out.3@acme.example"}
	if m.Report == nil || *m.Report != want {
		t.Fatalf("report %+v, want %+v", m.Report, want)
	}
}

// report builds a multipart/report around the given parts ("type\n\nbody").
func report(reportType string, parts ...string) string {
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@mx.example\r\nTo: support@acme.com\r\nSubject: failure\r\nMIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: multipart/report; boundary=b")
	if reportType != "" {
		b.WriteString("; report-type=" + reportType)
	}
	b.WriteString("\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nIt failed.\r\n")
	for _, p := range parts {
		b.WriteString("--b\r\n" + strings.ReplaceAll(p, "\n", "\r\n") + "\r\n")
	}
	b.WriteString("--b--\r\n")
	return b.String()
}

const headersPart = "Content-Type: text/rfc822-headers\n\nFrom: support@acme.com\nMessage-ID: <r@acme.com>\n"

func TestDeliveryReportDamage(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		want *DeliveryReport
	}{
		{"not a report", "From: a@b.c\r\nSubject: hi\r\n\r\nhello\r\n", nil},
		{"disposition notification", report("disposition-notification",
			"Content-Type: message/disposition-notification\n\nFinal-Recipient: rfc822; a@b.c\nDisposition: manual-action/MDN-sent-manually; displayed",
			headersPart), nil},
		{"report-type delivery-status, status part lost", report("delivery-status", headersPart),
			&DeliveryReport{MessageID: "r@acme.com"}},
		{"no report-type but a delivery-status part", report("",
			"Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; x@y\nAction: failed\nStatus: 5.2.2",
			headersPart), &DeliveryReport{Action: "failed", Status: "5.2.2", FinalRecipient: "x@y", MessageID: "r@acme.com"}},
		{"no report-type and no delivery-status part", report("", headersPart), nil},
		{"garbage in the status part", report("delivery-status",
			"Content-Type: message/delivery-status\n\n\x00\xff garbage\n: no name\n  folded nothing\nStatus 5.1.1\n"),
			&DeliveryReport{}},
		{"first recipient delivered, second failed, no empty line", report("delivery-status",
			"Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; ok@y\nAction: delivered\nStatus: 2.0.0\nFinal-Recipient: rfc822;<bad@y>\nAction: FAILED\nStatus: 5.7.1 (delivery not authorized)\nDiagnostic-Code: smtp; 554 5.7.1 denied"),
			&DeliveryReport{Action: "failed", Status: "5.7.1", FinalRecipient: "bad@y", DiagnosticCode: "smtp; 554 5.7.1 denied"}},
		{"only delayed recipients: the first", report("delivery-status",
			"Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@y\nAction: delayed\nStatus: 4.4.7\n\nFinal-Recipient: rfc822; b@y\nAction: delayed\nStatus: 4.4.1"),
			&DeliveryReport{Action: "delayed", Status: "4.4.7", FinalRecipient: "a@y"}},
		{"status part in base64", report("delivery-status",
			"Content-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\nRmluYWwtUmVjaXBpZW50OiByZmM4MjI7IHhAeQpBY3Rpb246IGZhaWxlZApTdGF0dXM6IDUuMS4xCg=="),
			&DeliveryReport{Action: "failed", Status: "5.1.1", FinalRecipient: "x@y"}},
		{"broken base64 keeps what decodes", report("delivery-status",
			"Content-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\nRmluYWwtUmVjaXBpZW50OiByZmM4MjI7IHhAeQpBY3Rpb246IGZhaWxlZApTdGF0dXM6IDUuMS4xCg!!!"),
			&DeliveryReport{Action: "failed", Status: "5.1.1", FinalRecipient: "x@y"}},
		{"status without a code, careless spacing", report("delivery-status",
			"Content-Type: message/delivery-status\n\nFinal-Recipient : x@y\nAction : failed\nStatus : failed permanently"),
			&DeliveryReport{Action: "failed", Status: "failed", FinalRecipient: "x@y"}},
		{"returned message without Message-ID", report("delivery-status",
			"Content-Type: message/delivery-status\n\nAction: failed\nStatus: 5.0.0",
			"Content-Type: message/rfc822\n\nFrom: support@acme.com\nSubject: x\n\nMessage-ID: <in-body@acme.com>"),
			&DeliveryReport{Action: "failed", Status: "5.0.0"}},
		{"returned message with an mbox line and leading empty line", report("delivery-status",
			"Content-Type: message/delivery-status\n\nAction: failed\nStatus: 5.0.0",
			"Content-Type: message/rfc822\n\n\nFrom support@acme.com Mon Mar  3 09:00:00 2025\nMessage-Id: r7@ACME.com\n\nbody"),
			&DeliveryReport{Action: "failed", Status: "5.0.0", MessageID: "r7@acme.com"}},
		{"cut before the returned part ends", "From: MAILER-DAEMON@mx\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\nStatus: 5.1.1\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <cut@acme.com>\r\nSubj",
			&DeliveryReport{Action: "failed", Status: "5.1.1", MessageID: "cut@acme.com"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse([]byte(tc.raw), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == nil && m.Report != nil:
				t.Fatalf("report %+v, want none", *m.Report)
			case tc.want != nil && m.Report == nil:
				t.Fatalf("no report, want %+v", *tc.want)
			case tc.want != nil && *m.Report != *tc.want:
				t.Fatalf("report\n got %+v\nwant %+v", *m.Report, *tc.want)
			}
		})
	}
}

func TestDeliveryReportFailed(t *testing.T) {
	for _, tc := range []struct {
		action, status string
		want           bool
	}{
		{"failed", "5.1.1", true},
		{"failed", "", true},
		{"", "5.1.1", true},
		{"", "", true}, // too damaged to say: the common kind
		{"", "4.4.1", false},
		{"", "2.0.0", false},
		{"delayed", "4.4.1", false},
		{"delivered", "2.0.0", false},
		{"relayed", "", false},
		{"expanded", "", false},
	} {
		r := &DeliveryReport{Action: tc.action, Status: tc.status}
		if got := r.Failed(); got != tc.want {
			t.Errorf("Action %q Status %q: Failed() = %t, want %t", tc.action, tc.status, got, tc.want)
		}
	}
}

// FuzzDeliveryStatus feeds arbitrary delivery-status bodies and returned
// headers through a whole report (FuzzParse covers the surrounding MIME).
func FuzzDeliveryStatus(f *testing.F) {
	f.Add([]byte("Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; x@y\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550\n 5.1.1 no"), []byte("Message-ID: <r@acme.com>\n"))
	f.Add([]byte("Final-Recipient: a\nFinal-Recipient: b\n\n\n\t\n: x\n"), []byte("\n\nFrom x\nMessage-ID:\n <a@b>\n\nMessage-ID: <c@d>"))
	for _, name := range []string{"postfix.eml", "exim.eml", "gmail.eml", "exchange.eml", "global.eml"} {
		if raw, err := os.ReadFile(filepath.Join(dsnDir, name)); err == nil {
			f.Add(raw, []byte(nil))
		}
	}
	f.Fuzz(func(t *testing.T, status, headers []byte) {
		raw := report("delivery-status", "Content-Type: message/delivery-status\n\n"+string(status), "Content-Type: text/rfc822-headers\n\n"+string(headers))
		m, err := Parse([]byte(raw), Limits{MaxDecodedBytes: 1 << 20, MaxHeaderBytes: 64 << 10})
		if err != nil {
			return
		}
		if m.Report == nil {
			// A boundary line inside the fuzzed bodies may take the
			// status part away, never the report-type.
			t.Fatal("no report in a delivery-status report")
		}
		r := m.Report
		for _, s := range []string{r.Action, r.Status, r.DiagnosticCode, r.FinalRecipient, r.MessageID, r.Diagnostic()} {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 %q", s)
			}
			if strings.ContainsAny(s, "\r\n") {
				t.Fatalf("line break in %q", s)
			}
		}
		// Also parse the status body itself, as a whole message would
		// not give it to deliveryReport when it breaks the MIME.
		parseDeliveryStatus(status)
		returnedMessageID(headers)
	})
}
