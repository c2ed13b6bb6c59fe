package srv

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// RRSet is the records of one owner name and type, as generated from the
// config or as read from DNS.
type RRSet struct {
	Name      string // fully qualified, lower case
	Type      uint16 // dns.TypeSRV or dns.TypeNAPTR
	TTL       uint32
	Zone      string // the config zone it belongs to
	Transport string // udp, tcp or tls for SRV; "" for NAPTR
	RRs       []dns.RR
}

// TypeString is "SRV" or "NAPTR".
func (s *RRSet) TypeString() string { return dns.TypeToString[s.Type] }

// SRVName is the SRV owner name of zone for transport:
// SRVName("tls", "east", "sip.example.com.") is "_sips._tcp.east.sip.example.com.".
func SRVName(transport, zone, domain string) string {
	return transportInfo[transport].label + "." + strings.ToLower(zone) + "." + fqdn(domain)
}

// Generate builds every RRset of the [srv] table in a fixed order: zones
// in config order; per zone the NAPTR set (when enabled), the SRV set of
// each served transport in the configured order, then "." records for the
// transports the zone does not offer (when enabled). Records in an SRV set
// are ordered by priority, then config order. The config must be valid.
func Generate(c *Config) []RRSet {
	out := make([]RRSet, 0, len(c.Zones)*(len(AllTransports)+1))
	served := c.transports()
	for _, z := range c.Zones {
		zoneName := strings.ToLower(z.Name)
		entries := c.entries(z)
		var offered []string
		var srvSets []RRSet
		for _, tr := range served {
			set := c.srvSet(z, tr, entries)
			if len(set.RRs) == 0 {
				continue
			}
			offered = append(offered, tr)
			srvSets = append(srvSets, set)
		}
		if c.NAPTR && len(offered) > 0 {
			out = append(out, c.naptrSet(z, offered))
		}
		out = append(out, srvSets...)
		if !c.NotOffered {
			continue
		}
		for _, tr := range AllTransports {
			if !slices.Contains(offered, tr) {
				out = append(out, c.unavailable(z, zoneName, tr))
			}
		}
	}
	return out
}

func (c *Config) srvSet(z *Zone, tr string, entries []Entry) RRSet {
	name := SRVName(tr, z.Name, c.Domain)
	set := RRSet{Name: name, Type: dns.TypeSRV, TTL: c.ttl(z), Zone: strings.ToLower(z.Name), Transport: tr}
	for _, e := range entries {
		t := c.target(e.Target)
		port := t.port(tr)
		if port <= 0 {
			continue
		}
		set.RRs = append(set.RRs, &dns.SRV{
			Hdr:      dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: set.TTL},
			Priority: uint16(*e.Priority), Weight: uint16(*e.Weight), Port: uint16(port), Target: fqdn(t.Host),
		})
	}
	sort.SliceStable(set.RRs, func(i, j int) bool {
		return set.RRs[i].(*dns.SRV).Priority < set.RRs[j].(*dns.SRV).Priority
	})
	return set
}

// naptrSet builds the RFC 3263 NAPTR records of a zone: one per offered
// transport, order 10, 20, 30 in the configured transport order, flag "s",
// empty regexp, replacement the SRV name.
func (c *Config) naptrSet(z *Zone, offered []string) RRSet {
	name := strings.ToLower(z.Name) + "." + c.DomainFQDN()
	set := RRSet{Name: name, Type: dns.TypeNAPTR, TTL: c.ttl(z), Zone: strings.ToLower(z.Name)}
	for i, tr := range offered {
		set.RRs = append(set.RRs, &dns.NAPTR{
			Hdr:   dns.RR_Header{Name: name, Rrtype: dns.TypeNAPTR, Class: dns.ClassINET, Ttl: set.TTL},
			Order: uint16((i + 1) * 10), Preference: 50, Flags: "s", Service: transportInfo[tr].service,
			Regexp: "", Replacement: SRVName(tr, z.Name, c.Domain),
		})
	}
	return set
}

// unavailable is the RFC 2782 "decidedly not available" record: target ".".
func (c *Config) unavailable(z *Zone, zoneName, tr string) RRSet {
	name := SRVName(tr, z.Name, c.Domain)
	return RRSet{Name: name, Type: dns.TypeSRV, TTL: c.ttl(z), Zone: zoneName, Transport: tr,
		RRs: []dns.RR{&dns.SRV{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: c.ttl(z)}, Target: "."}}}
}

// rdata is the record data as written in a master file.
func rdata(rr dns.RR) string { return string(appendRdata(nil, rr)) }

// appendRdata appends rr's data as written in a master file.
func appendRdata(b []byte, rr dns.RR) []byte {
	switch r := rr.(type) {
	case *dns.SRV:
		b = strconv.AppendUint(b, uint64(r.Priority), 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(r.Weight), 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(r.Port), 10)
		b = append(b, ' ')
		return append(b, strings.ToLower(r.Target)...)
	case *dns.NAPTR:
		return fmt.Appendf(b, "%d %d %q %q %q %s", r.Order, r.Preference, r.Flags, r.Service, r.Regexp, strings.ToLower(r.Replacement))
	}
	h := rr.Header().String()
	return append(b, strings.TrimSpace(strings.TrimPrefix(rr.String(), h))...)
}

// Find returns the generated RRsets whose name is name (any type).
func Find(sets []RRSet, name string) []RRSet {
	name = fqdn(name)
	var out []RRSet
	for _, s := range sets {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}
