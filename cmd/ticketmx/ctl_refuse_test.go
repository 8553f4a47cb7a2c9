package main

import (
	"strings"
	"testing"
)

// ctl passes the API's refusal of a value that is not a Message-ID or a
// cursor on as a failed command: exit 1, one line naming the field.
func TestCtlRefusesBadMessageIDAndCursor(t *testing.T) {
	d := startCtlDaemon(t)
	d.addTicket(t, "acme", "Order late", []byte("Subject: x\r\n\r\nx\r\n"))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tickets", "outbound", "acme#1", "notanid"}, "message_id: missing or not a Message-ID"},
		{[]string{"tickets", "list", "--after", "zzz"}, `after "zzz": not a cursor of this list`},
		{[]string{"suspended", "list", "--after", "zzz"}, `after "zzz": not a cursor of this list`},
	} {
		code, out, stderr := d.ctl(t, tc.args...)
		if code != 1 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("ctl %v: exit %d, %q %q; want 1 and %q", tc.args, code, out, stderr, tc.want)
		}
	}
}
