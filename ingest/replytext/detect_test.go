package replytext

import "testing"

func TestIsAttribution(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"On Tue, Jan 9, 2024 at 1:15 PM Acme Support <support@acme.com> wrote:", true},
		{"On 01/03/11 7:07 PM, Russell Brown wrote:", true},
		{"At 2019-07-04 11:20:38, \"X\" <x@163.com> wrote:", true},
		{"Acme Support wrote:", true},
		{"在 2024年1月5日，10:15，张三 <z@example.com> 写道：", true},
		{"张三 <z@example.com> 于2024年1月5日周五 10:15写道：", true},
		{"張三 <z@example.com> 於 2024年1月5日 週五 上午10:15寫道：", true},
		{"Am 05.01.2024 um 10:15 schrieb Max Mustermann <max@example.de>:", true},
		{"Le ven. 5 janv. 2024 à 10:15, Jean <jean@example.fr> a\u00a0écrit\u00a0:", true},
		{"Le 5 janv. 2024 à 10:15, Jean Dupont <jean@example.fr> a écrit :", true},
		{"El vie, 5 ene 2024 a las 10:15, Juan (<juan@example.es>) escribió:", true},
		{"2024/01/05 10:15、山田太郎 <taro@example.com>のメッセージ:", true},
		{"2024/01/05 10:15、山田太郎 <taro@example.com>のメール:", true},
		{"山田 さんは書きました:", true},
		{"2024年1月5日(金) 10:15 山田太郎 <taro@example.com>:", true},
		{"Em sex., 5 de jan. de 2024 às 10:15, Ana <ana@example.br> escreveu:", true},
		{"On your remote host you can run:", false},
		{"I wrote to you yesterday about it.", false},
		{"Hello", false},
		{"2024年1月5日に注文しました:", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isAttribution(tt.line); got != tt.want {
			t.Errorf("isAttribution(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestIsAttributionStart(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"On Tue, Sep 25, 2012 at 8:59 AM, Chris Wanstrath", true},
		{"Acme 客户成功团队 <customer-success@acme.cn>", true},
		{"Am 05.01.2024 um 10:15 schrieb Max Mustermann", true},
		{"2024/01/05 10:15、山田太郎", true},
		{"<notifications@github.com>wrote:", false},
		{"于2024年1月22日周一 18:30写道：", false},
		{"Thanks a lot", false},
	}
	for _, tt := range tests {
		if got := isAttributionStart(tt.line); got != tt.want {
			t.Errorf("isAttributionStart(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestIsQuoteLine(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"> quoted", true},
		{">>nested", true},
		{">", true},
		{"  > indented", true},
		{"＞ 全角", true},
		{"3 > 2", false},
		{"-> arrow", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isQuoteLine(tt.line); got != tt.want {
			t.Errorf("isQuoteLine(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestIsOriginalMarker(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"-----Original Message-----", true},
		{"----- Original Message -----", true},
		{"------------------ 原始邮件 ------------------", true},
		{"------------------\u00a0原始邮件\u00a0------------------", true},
		{"------------------ Original ------------------", true},
		{"-------- 原始邮件 --------", true},
		{"-----原始邮件-----", true},
		{"---- 回复的原邮件 ----", true},
		{"-----Ursprüngliche Nachricht-----", true},
		{"-----Message d'origine-----", true},
		{"-----Mensaje original-----", true},
		{"_____ Original Message _____", true},
		{"---------- Forwarded message ---------", false},
		{"Original Message", false},
		{"-- the original message is below --x", false},
	}
	for _, tt := range tests {
		if got := isOriginalMarker(tt.line); got != tt.want {
			t.Errorf("isOriginalMarker(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestIsForwardMarker(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"---------- Forwarded message ---------", true},
		{"-------- Forwarded Message --------", true},
		{"-------- 转发的邮件 --------", true},
		{"Begin forwarded message:", true},
		{"Anfang der weitergeleiteten Nachricht:", true},
		{"Début du message réexpédié :", true},
		{"-----Original Message-----", false},
		{"I forwarded message 5 to you:", false},
	}
	for _, tt := range tests {
		if got := isForwardMarker(tt.line); got != tt.want {
			t.Errorf("isForwardMarker(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestLabelOf(t *testing.T) {
	tests := []struct {
		line string
		want labelKind
	}{
		{"From: Acme <a@acme.com>", labelSender},
		{"*From:* Acme", labelSender},
		{"发件人：Acme", labelSender},
		{"寄件者: Acme", labelSender},
		{"差出人: Acme", labelSender},
		{"De : Jean", labelSender},
		{"Sent: Monday", labelDate},
		{"发送时间: 2024年1月5日", labelDate},
		{"送信日時: 2024/01/05", labelDate},
		{"寄件日期: 2024年1月5日", labelDate},
		{"Subject: Hi", labelSubject},
		{"主旨: 帳單", labelSubject},
		{"件名: 見積", labelSubject},
		{"To: x@example.com", labelOther},
		{"Cc: ", labelOther},
		{"Note: call me", labelNone},
		{"From the start it failed", labelNone},
		{"https://example.com/a:b", labelNone},
	}
	for _, tt := range tests {
		if got := labelOf(tt.line); got != tt.want {
			t.Errorf("labelOf(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestIsHeaderBlock(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  bool
	}{
		{"outlook", []string{"From: A", "Sent: Monday", "To: B", "Subject: S"}, true},
		{"three lines with subject", []string{"发件人: A", "收件人: B", "主题: S"}, true},
		{"qq blank before subject", []string{"发件人: A", "发送时间: T", "收件人: B", "", "主题: S"}, true},
		{"wrapped to line", []string{"From: A", "To: b@x.com; c@x.com;", "d@x.com", "Sent: T"}, true},
		{"two lines only", []string{"From: A", "Subject: S", "", "body"}, false},
		{"no date or subject", []string{"From: A", "To: B", "Cc: C"}, false},
		{"not starting with sender", []string{"Subject: S", "From: A", "Date: D"}, false},
	}
	for _, tt := range tests {
		if got := isHeaderBlock(tt.lines, 0); got != tt.want {
			t.Errorf("%s: isHeaderBlock = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestIsSeparator(t *testing.T) {
	for line, want := range map[string]bool{
		"________________________________": true,
		"--------------------------------": true,
		"-----":                            true,
		"-- ":                              false,
		"----":                             false,
		"__init__":                         false,
	} {
		if got := isSeparator(line); got != want {
			t.Errorf("isSeparator(%q) = %v, want %v", line, got, want)
		}
	}
}

func TestIsSignatureDelimiter(t *testing.T) {
	for line, want := range map[string]bool{
		"-- ": true, "--": true, "---": false, "-- x": false, " --": false, "--  ": false,
	} {
		if got := isSignatureDelimiter(line); got != want {
			t.Errorf("isSignatureDelimiter(%q) = %v, want %v", line, got, want)
		}
	}
}

func TestIsMobileFooter(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"Sent from my iPhone", true},
		{"Sent from my Verizon Wireless BlackBerry", true},
		{"Sent from Yahoo Mail on Android", true},
		{"Get Outlook for iOS<https://aka.ms/o0ukef>", true},
		{"发自我的iPhone", true},
		{"从我的 iPhone 发送", true},
		{"來自我的 iPhone", true},
		{"從我的 iPhone 傳送", true},
		{"发自网易邮箱大师", true},
		{"iPhoneから送信", true},
		{"Von meinem iPhone gesendet", true},
		{"Envoyé de mon iPhone", true},
		{"Enviado desde mi iPhone", true},
		{"Sent from our warehouse in Leeds on Monday, tracking number RT554.", false},
		{"I sent from my iPhone", false},
		{"Thanks", false},
	}
	for _, tt := range tests {
		if got := isMobileFooter(tt.line); got != tt.want {
			t.Errorf("isMobileFooter(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}
