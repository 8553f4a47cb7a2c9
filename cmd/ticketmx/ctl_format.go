package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/sobot/ticketmx/store"
)

// ctlTable is an aligned table on w; Flush writes it.
func ctlTable(w io.Writer, header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	return tw
}

// ctlRow writes one table row; empty cells show "-" so columns stay
// readable.
func ctlRow(tw io.Writer, cells ...string) {
	for i, c := range cells {
		if c = ctlClean(c); c == "" {
			c = "-"
		}
		cells[i] = c
	}
	fmt.Fprintln(tw, strings.Join(cells, "\t"))
}

// ctlClean makes text from mail safe for one terminal cell: control
// characters (escape sequences, tabs, newlines) become spaces.
func ctlClean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// ctlCleanBlock keeps newlines and tabs of a text body and drops every
// other control character.
func ctlCleanBlock(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// ctlTime is t in local time for people; "-" for none.
func ctlTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func ctlTimePtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return ctlTime(*t)
}

// ctlTruncate cuts s to n runes, marking the cut with "…".
func ctlTruncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// ctlAddr is "Name <address>" or the bare address.
func ctlAddr(a store.Address) string {
	if a.Name == "" {
		return a.Address
	}
	return fmt.Sprintf("%s <%s>", a.Name, a.Address)
}

func ctlAddrs(list []store.Address) string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = ctlAddr(a)
	}
	return strings.Join(out, ", ")
}

// ctlSize is a byte count for people (1536 → "1.5 KiB").
func ctlSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// ctlCount is "1 ticket" / "3 tickets", with where the next page starts.
func ctlCount(n int, one, many, next string) string {
	s := fmt.Sprintf("%d %s", n, many)
	if n == 1 {
		s = "1 " + one
	}
	if next != "" {
		s += "; more: --after " + next
	}
	return s
}

// ctlNumber is the TENANT#NUMBER name of a ticket.
func ctlNumber(tenant string, n uint64) string { return fmt.Sprintf("%s#%d", tenant, n) }
