package config

import (
	"fmt"
	"slices"
	"strings"
)

// LookupResult is what Lookup found for a recipient (SPEC section 3).
type LookupResult int

// Lookup results. The zero value is none of them.
const (
	Accept         LookupResult = iota + 1 // an enabled channel's address or alias
	UnknownAddress                         // one of our domains, no such channel: 550 5.1.1
	Disabled                               // a channel that is not enabled: 550 5.2.1
	NotOurDomain                           // a domain we do not serve: 550 5.7.1
)

func (r LookupResult) String() string {
	switch r {
	case Accept:
		return "accept"
	case UnknownAddress:
		return "unknown_address"
	case Disabled:
		return "disabled"
	case NotOurDomain:
		return "not_our_domain"
	}
	return fmt.Sprintf("LookupResult(%d)", int(r))
}

// index is built once by Validate and read-only afterwards.
type index struct {
	channels  []*Channel
	byAddress map[string]*Channel // canonical address or alias
	domains   map[string]bool     // "our domains"
	tenants   map[string]int      // id → position in Config.Tenants
}

func (c *Config) index() *index {
	if c.idx != nil {
		return c.idx
	}
	// A hand-built Config that was never validated: build a throw-away
	// index rather than racing to store one.
	var ps problems
	return c.buildIndex(&ps)
}

// Channels returns every effective channel, system channels included (each
// tenant's system channel first, then its channels), in config order. The
// slice is the caller's; the Channels are shared and must not be modified.
func (c *Config) Channels() []*Channel {
	return slices.Clone(c.index().channels)
}

// Lookup finds the channel a recipient address or alias belongs to, in
// O(1). It returns the channel with Accept or Disabled, and nil with
// UnknownAddress (a domain of ours, SPEC section 3: every tenant domain
// and the domain of every channel address and alias) or NotOurDomain.
// The address is normalized first (case, "+tag", angle brackets).
func (c *Config) Lookup(addr string) (*Channel, LookupResult) {
	idx := c.index()
	n := NormalizeAddress(addr)
	if ch := idx.byAddress[n]; n != "" && ch != nil {
		if !ch.Enabled {
			return ch, Disabled
		}
		return ch, Accept
	}
	if d := domainOf(addr); d != "" && idx.domains[d] {
		return nil, UnknownAddress
	}
	return nil, NotOurDomain
}

// IsOurDomain reports whether domain is one of ours (SPEC section 3).
func (c *Config) IsOurDomain(domain string) bool {
	d := normalizeDomain(domain)
	return d != "" && c.index().domains[d]
}

// Tenant returns the tenant with the given id, or nil.
func (c *Config) Tenant(id string) *Tenant {
	i, ok := c.index().tenants[id]
	if !ok {
		return nil
	}
	return &c.Tenants[i]
}

// buildIndex validates the tenants and their channels and builds the
// lookup index from whatever is usable.
func (c *Config) buildIndex(ps *problems) *index {
	idx := &index{
		byAddress: map[string]*Channel{},
		domains:   map[string]bool{},
		tenants:   map[string]int{},
	}
	// Tenant domains first: a channel may not use another tenant's domain,
	// whatever their order.
	owner := map[string]string{} // canonical domain → tenant id
	for i := range c.Tenants {
		t := &c.Tenants[i]
		path := fmt.Sprintf("tenants[%d]", i)
		if !tenantIDRe.MatchString(t.ID) {
			ps.add(path+".id", "invalid tenant id %q: want 1 to 63 of a-z, 0-9, -", t.ID)
		} else if _, dup := idx.tenants[t.ID]; dup {
			ps.add(path+".id", "duplicate tenant id %q", t.ID)
		} else {
			idx.tenants[t.ID] = i
		}
		d := normalizeDomain(t.Domain)
		switch {
		case t.Domain == "":
			ps.add(path+".domain", "must not be empty")
		case d == "":
			ps.add(path+".domain", "invalid domain %q", t.Domain)
		case owner[d] != "":
			ps.add(path+".domain", "domain %q is already used by tenant %q", t.Domain, owner[d])
		default:
			owner[d] = t.ID
			idx.domains[d] = true
		}
	}

	used := map[string]string{} // canonical address → key path that claimed it
	claim := func(path, addr string, ch *Channel) {
		if prev, dup := used[addr]; dup {
			ps.add(path, "address %q is already used by %s", addr, prev)
			return
		}
		used[addr] = path
		idx.byAddress[addr] = ch
		idx.domains[addr[strings.LastIndexByte(addr, '@')+1:]] = true
	}

	for i := range c.Tenants {
		t := &c.Tenants[i]
		path := fmt.Sprintf("tenants[%d]", i)
		domain := normalizeDomain(t.Domain)
		if n := len(t.Channels) + 1; n > MaxChannelsPerTenant {
			ps.add(path+".channels", "%d channels plus the system channel exceed the limit of %d per tenant", len(t.Channels), MaxChannelsPerTenant)
		}

		sys := c.channel(ps, t, domain, path+".system_channel", &t.SystemChannel, true)
		if sys.Address != "" {
			claim(path+".system_channel.address", sys.Address, sys)
		}
		c.claimAliases(ps, path+".system_channel", t, &t.SystemChannel, sys, claim)
		idx.channels = append(idx.channels, sys)

		for j := range t.Channels {
			cp := fmt.Sprintf("%s.channels[%d]", path, j)
			spec := &t.Channels[j]
			ch := c.channel(ps, t, domain, cp, spec, false)
			if ch.Address != "" {
				if d := ch.Address[strings.LastIndexByte(ch.Address, '@')+1:]; owner[d] != "" && owner[d] != t.ID {
					ps.add(cp+".address", "%q is in the domain of tenant %q", spec.Address, owner[d])
				} else {
					claim(cp+".address", ch.Address, ch)
				}
			}
			c.claimAliases(ps, cp, t, spec, ch, claim)
			idx.channels = append(idx.channels, ch)
		}
	}
	return idx
}

// channel checks one channel spec and returns its effective Channel
// (without aliases, which claimAliases adds).
func (c *Config) channel(ps *problems, t *Tenant, domain, path string, spec *ChannelSpec, system bool) *Channel {
	ch := &Channel{
		Tenant:       t.ID,
		TenantDomain: domain,
		System:       system,
		Enabled:      spec.Enabled,
		Purpose:      spec.Purpose,
		Category:     spec.Category,
		DisplayName:  spec.DisplayName,
		Send:         effectiveSend(spec.Send),
		Rules:        spec.Rules.clone(),
	}
	if ch.Purpose == "" {
		ch.Purpose = PurposeReceive
	}
	if ch.Category == "" {
		ch.Category = DefaultCategory
	}
	switch ch.Purpose {
	case PurposeReceive, PurposeReceiveSend:
	default:
		ps.add(path+".purpose", "must be receive or receive_send, got %q", spec.Purpose)
	}
	validateRules(ps, path, spec.Rules, &c.Defaults)
	c.validateSend(ps, path, spec, ch.Purpose)

	if system {
		// The system channel is always <id>@<domain>: it cannot be renamed.
		if !tenantIDRe.MatchString(t.ID) || domain == "" {
			return ch // reported with the tenant
		}
		ch.Address = NormalizeAddress(t.ID + "@" + domain)
		if spec.Address != "" && NormalizeAddress(spec.Address) != ch.Address {
			ps.add(path+".address", "the system channel is always %q and cannot be renamed", ch.Address)
		}
		return ch
	}
	switch a := NormalizeAddress(spec.Address); {
	case spec.Address == "":
		ps.add(path+".address", "must not be empty")
	case a == "":
		ps.add(path+".address", "invalid address %q", spec.Address)
	case hasTag(spec.Address):
		ps.add(path+".address", "%q has a +tag; channel addresses are base addresses", spec.Address)
	default:
		ch.Address = a
	}
	return ch
}

func (c *Config) claimAliases(ps *problems, path string, t *Tenant, spec *ChannelSpec, ch *Channel, claim func(path, addr string, ch *Channel)) {
	domain := normalizeDomain(t.Domain)
	for k, alias := range spec.Aliases {
		ap := fmt.Sprintf("%s.aliases[%d]", path, k)
		a := NormalizeAddress(alias)
		switch {
		case a == "":
			ps.add(ap, "invalid address %q", alias)
			continue
		case hasTag(alias):
			ps.add(ap, "%q has a +tag; aliases are base addresses", alias)
			continue
		case domain != "" && a[strings.LastIndexByte(a, '@')+1:] != domain:
			ps.add(ap, "%q is not in the tenant's domain %q", alias, domain)
			continue
		}
		if a == ch.Address {
			ps.add(ap, "%q is the channel's own address", alias)
			continue
		}
		claim(ap, a, ch)
		ch.Aliases = append(ch.Aliases, a)
	}
}

// hasTag reports whether a valid address has a "+tag" that NormalizeAddress
// would strip.
func hasTag(addr string) bool {
	s := strings.TrimPrefix(strings.TrimSpace(addr), "<")
	at := strings.LastIndexByte(s, '@')
	return at > 0 && strings.IndexByte(s[:at], '+') > 0
}
