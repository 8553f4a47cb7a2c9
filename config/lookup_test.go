package config

import (
	"path/filepath"
	"testing"
)

func TestLookup(t *testing.T) {
	c := mustLoad(t, filepath.Join(testdata, "full.yaml"))
	chs := c.Channels()
	sys, support, sales := chs[0], chs[1], chs[2]
	tests := []struct {
		addr string
		ch   *Channel
		res  LookupResult
	}{
		{"support@acme.com", support, Accept},
		{"Support@ACME.COM", support, Accept},
		{"<support+urgent@acme.com>", support, Accept},
		{" support@acme.com. ", support, Accept},
		{"support-acme@acme.sobot.com", support, Accept},
		{"SUPPORT-ACME+x@Acme.Sobot.Com", support, Accept},
		{"acme@acme.sobot.com", sys, Accept},
		{"sales@acme.com", sales, Disabled},
		{"sales-acme+eu@acme.sobot.com", sales, Disabled},
		{"nobody@acme.sobot.com", nil, UnknownAddress}, // tenant domain
		{"nobody@ACME.com", nil, UnknownAddress},       // channel address domain
		{`"quoted local"@acme.sobot.com`, nil, UnknownAddress},
		{"someone@example.org", nil, NotOurDomain},
		{"support@acme.com.example.org", nil, NotOurDomain},
		{"support@sub.acme.com", nil, NotOurDomain},
		{"", nil, NotOurDomain},
		{"<>", nil, NotOurDomain},
		{"postmaster", nil, NotOurDomain},
		{"user@[192.0.2.1]", nil, NotOurDomain},
	}
	for _, tt := range tests {
		ch, res := c.Lookup(tt.addr)
		if ch != tt.ch || res != tt.res {
			t.Errorf("Lookup(%q) = %v, %v; want %v, %v", tt.addr, ch, res, tt.ch, tt.res)
		}
	}
	if !c.IsOurDomain("ACME.com") || !c.IsOurDomain("acme.sobot.com") || c.IsOurDomain("example.org") {
		t.Error("IsOurDomain is wrong")
	}
}

// TestLookupHandBuilt: Lookup works on a Config never validated, without
// storing anything (no data race for concurrent readers).
func TestLookupHandBuilt(t *testing.T) {
	c := &Config{Tenants: []Tenant{{ID: "x", Domain: "x.sobot.com", SystemChannel: ChannelSpec{Enabled: true}}}}
	if ch, res := c.Lookup("X@x.sobot.com"); res != Accept || ch.Address != "x@x.sobot.com" || !ch.System {
		t.Errorf("Lookup = %+v, %v", ch, res)
	}
	if c.idx != nil {
		t.Error("Lookup stored an index")
	}
}

func TestLookupResultString(t *testing.T) {
	for r, want := range map[LookupResult]string{Accept: "accept", UnknownAddress: "unknown_address",
		Disabled: "disabled", NotOurDomain: "not_our_domain", 0: "LookupResult(0)"} {
		if got := r.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(r), got, want)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	c, err := Parse([]byte(channelsYAML(99)))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c.Lookup("C42+tag@acme.sobot.com")
	}
}
