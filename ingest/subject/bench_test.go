package subject

import (
	"strings"
	"testing"
)

func BenchmarkNormalize(b *testing.B) {
	for _, tc := range []struct{ name, s string }{
		{"typical", "Re: AW: [Ticket#123] =?UTF-8?B?5Y+R56Wo6Zeu6aKY?= Printer broken"},
		{"1MB_prefixes", strings.Repeat("Re: ", 1<<18) + "x"},
		{"1MB_tags", strings.Repeat("[Ticket#1]", 1<<17)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.s)))
			for b.Loop() {
				Normalize(tc.s)
			}
		})
	}
}
