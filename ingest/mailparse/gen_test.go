package mailparse

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// go test ./ingest/mailparse -run TestGenerateMail -genmail rewrites the
// generated fixtures in testdata/mail. The .eml files are committed; this
// test only documents how the charset fixtures were produced.
var genMail = flag.Bool("genmail", false, "regenerate testdata/mail charset fixtures")

type charsetFixture struct {
	file, charset string
	enc           encoding.Encoding
	cte           string // body transfer encoding
	subject, body string
}

var charsetFixtures = []charsetFixture{
	{"cs_gbk", "GBK", simplifiedchinese.GBK, "base64", "关于发票的问题", "您好，\n我的发票还没有收到。\n谢谢！\n"},
	{"cs_gb18030", "GB18030", simplifiedchinese.GB18030, "quoted-printable", "订单查询 𠀀 €", "请帮我查询订单 12345 的物流状态。\n"},
	{"cs_gb2312", "gb2312", simplifiedchinese.GBK, "8bit", "退款申请", "我想申请退款，订单号 888。\n"},
	{"cs_big5", "Big5", traditionalchinese.Big5, "base64", "繁體中文測試", "請問我的帳號為什麼被鎖定？\n"},
	{"cs_iso2022jp", "ISO-2022-JP", japanese.ISO2022JP, "7bit", "お問い合わせ", "こんにちは。\n注文の件でご連絡しました。\n"},
	{"cs_shiftjis", "Shift_JIS", japanese.ShiftJIS, "base64", "請求書について", "請求書を再発行してください。\n"},
	{"cs_euckr", "EUC-KR", korean.EUCKR, "quoted-printable", "환불 요청", "안녕하세요. 환불을 요청합니다.\n"},
	{"cs_win1250", "windows-1250", charmap.Windows1250, "quoted-printable", "Žádost o fakturu", "Dobrý den, prosím o zaslání faktury. Děkuji, Łukasz Żółć\n"},
	{"cs_win1251", "windows-1251", charmap.Windows1251, "base64", "Вопрос по заказу", "Здравствуйте! Где мой заказ?\n"},
	{"cs_win1252", "windows-1252", charmap.Windows1252, "quoted-printable", "Réclamation – café", "Bonjour, le café était froid. « Merci » €\n"},
	{"cs_win1253", "windows-1253", charmap.Windows1253, "base64", "Ερώτηση παραγγελίας", "Καλημέρα, πού είναι η παραγγελία μου;\n"},
	{"cs_win1254", "windows-1254", charmap.Windows1254, "quoted-printable", "Sipariş sorunu", "Merhaba, siparişim gelmedi. Teşekkürler, Çağrı\n"},
	{"cs_win1255", "windows-1255", charmap.Windows1255, "base64", "שאלה על הזמנה", "שלום, איפה ההזמנה שלי?\n"},
	{"cs_win1256", "windows-1256", charmap.Windows1256, "base64", "استفسار عن الطلب", "مرحبا، أين طلبي؟\n"},
	{"cs_win1257", "windows-1257", charmap.Windows1257, "quoted-printable", "Užsakymo klausimas", "Laba diena, kur mano užsakymas? Ačiū, Jānis\n"},
	{"cs_win1258", "windows-1258", charmap.Windows1258, "quoted-printable", "Đơn hàng", "Xin chào, đơn hàng đâu?\n"},
	{"cs_iso8859_1", "ISO-8859-1", charmap.ISO8859_1, "quoted-printable", "Grüße aus Köln", "Sehr geehrte Damen und Herren, ich möchte mein Abo kündigen. Straße ½\n"},
	{"cs_iso8859_2", "iso-8859-2", charmap.ISO8859_2, "8bit", "Zamówienie nr 5", "Dzień dobry, gdzie jest moje zamówienie? Łódź\n"},
	{"cs_iso8859_5", "ISO-8859-5", charmap.ISO8859_5, "base64", "Счёт", "Пришлите, пожалуйста, счёт.\n"},
	{"cs_iso8859_7", "ISO-8859-7", charmap.ISO8859_7, "quoted-printable", "Τιμολόγιο", "Παρακαλώ στείλτε το τιμολόγιο.\n"},
	{"cs_iso8859_15", "ISO-8859-15", charmap.ISO8859_15, "quoted-printable", "Facture 50 €", "Montant : 50 € - œuvre, Šárka\n"},
}

func mustEncode(t *testing.T, enc encoding.Encoding, s string) []byte {
	t.Helper()
	b, err := enc.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("encode %q: %v", s, err)
	}
	return b
}

// crlf turns LF line endings into CRLF, as on the wire.
func crlf(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

func encodeBody(cte string, b []byte) []byte {
	switch cte {
	case "base64":
		s := base64.StdEncoding.EncodeToString(b)
		var out strings.Builder
		for len(s) > 76 {
			out.WriteString(s[:76] + "\n")
			s = s[76:]
		}
		out.WriteString(s + "\n")
		return []byte(out.String())
	case "quoted-printable":
		var buf bytes.Buffer
		w := quotedprintable.NewWriter(&buf)
		w.Write(crlf(b))
		w.Close()
		if !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
			buf.WriteByte('\n')
		}
		return buf.Bytes()
	}
	return b
}

func TestGenerateMail(t *testing.T) {
	if !*genMail {
		t.Skip("run with -genmail to regenerate fixtures")
	}
	for i, f := range charsetFixtures {
		subj := mustEncode(t, f.enc, f.subject)
		body := mustEncode(t, f.enc, f.body)
		name := fixtureName(f)
		fromName, _ := f.enc.NewEncoder().Bytes([]byte(name))
		var b bytes.Buffer
		fmt.Fprintf(&b, "Return-Path: <customer%d@example.org>\n", i)
		fmt.Fprintf(&b, "From: =?%s?B?%s?= <Customer%d@Example.ORG>\n", f.charset, base64.StdEncoding.EncodeToString(fromName), i)
		fmt.Fprintf(&b, "To: support@acme.example\n")
		fmt.Fprintf(&b, "Subject: =?%s?B?%s?=\n", f.charset, base64.StdEncoding.EncodeToString(subj))
		fmt.Fprintf(&b, "Date: Mon, 02 Jun 2025 10:%02d:00 +0800\n", i)
		fmt.Fprintf(&b, "Message-ID: <%s.%d@Mail.Example.ORG>\n", f.file, i)
		fmt.Fprintf(&b, "MIME-Version: 1.0\n")
		fmt.Fprintf(&b, "Content-Type: text/plain; charset=\"%s\"\n", f.charset)
		fmt.Fprintf(&b, "Content-Transfer-Encoding: %s\n\n", f.cte)
		raw := crlf(b.Bytes())
		raw = append(raw, crlf(encodeBody(f.cte, body))...)
		if err := os.WriteFile(filepath.Join("..", "..", "testdata", "mail", f.file+".eml"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fixtureName is the From display name of a charset fixture.
func fixtureName(f charsetFixture) string {
	name := "Kunde Müller"
	switch f.enc {
	case simplifiedchinese.GBK, simplifiedchinese.GB18030:
		name = "张客户"
	case traditionalchinese.Big5:
		name = "陳先生"
	case japanese.ShiftJIS, japanese.ISO2022JP:
		name = "山田太郎"
	case korean.EUCKR:
		name = "김민수"
	}
	if _, err := f.enc.NewEncoder().Bytes([]byte(name)); err != nil {
		name = "Kunde"
	}
	return name
}

// TestCharsetFixtures checks the charset fixtures against the text they were
// generated from, independently of the goldens.
func TestCharsetFixtures(t *testing.T) {
	for _, f := range charsetFixtures {
		raw, err := os.ReadFile(filepath.Join(mailDir, f.file+".eml"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(raw, Limits{})
		if err != nil {
			t.Fatalf("%s: %v", f.file, err)
		}
		if m.Subject != f.subject || m.Text != f.body || m.From.Name != fixtureName(f) {
			t.Errorf("%s: got subject %q text %q name %q, want %q %q %q", f.file, m.Subject, m.Text, m.From.Name, f.subject, f.body, fixtureName(f))
		}
	}
}
