package mailparse

import (
	"reflect"
	"testing"
)

func TestNormalizeMessageID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<ABC.123@Mail.Example.COM>", "ABC.123@mail.example.com"},
		{"  <abc@example.com>  ", "abc@example.com"},
		{"abc@EXAMPLE.com", "abc@example.com"},
		{"<abc@EXAMPLE.com", "abc@example.com"},
		{"\"Quoted@Local\"@Example.COM", "\"Quoted@Local\"@example.com"},
		{"<abc\r\n @example.com>", "abc@example.com"},
		{"<NoDomain>", "NoDomain"},
		{"<>", ""},
		{"", ""},
		{"   ", ""},
	}
	for _, tt := range tests {
		if got := NormalizeMessageID(tt.in); got != tt.want {
			t.Errorf("NormalizeMessageID(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseIDList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"<a@X.com>", []string{"a@x.com"}},
		{"<a@x.com> <B@Y.com>", []string{"a@x.com", "B@y.com"}},
		{"<a@x.com>,<b@y.com>", []string{"a@x.com", "b@y.com"}},
		{"<a@x.com>\r\n\t<b@y.com>", []string{"a@x.com", "b@y.com"}},
		{"a@x.com b@y.com", []string{"a@x.com", "b@y.com"}},
		{"<a@x.com> (comment (nested) <c@z.com>) <b@y.com>", []string{"a@x.com", "b@y.com"}},
		{"<a@x.com> <A@X.COM> <a@x.com>", []string{"a@x.com", "A@x.com"}},
		{"<a@x.com", []string{"a@x.com"}},
		{"<a@x.com> (unterminated", []string{"a@x.com"}},
		{"<>, <>", nil},
		{"", nil},
	}
	for _, tt := range tests {
		if got := ParseIDList(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseIDList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
