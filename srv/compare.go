package srv

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Finding is one difference between the config and what DNS serves, or
// one target problem (does not resolve, is a CNAME, port does not answer).
type Finding struct {
	Name    string `json:"name"`           // owner name or target host
	Type    string `json:"type,omitempty"` // SRV, NAPTR, A/AAAA, tcp, tls, udp
	Kind    string `json:"kind"`           // missing, extra, wrong, unresolved, cname, unreachable, error
	Message string `json:"message"`
}

func (f Finding) String() string {
	if f.Type == "" {
		return fmt.Sprintf("%s: %s", f.Name, f.Message)
	}
	return fmt.Sprintf("%s %s: %s", f.Name, f.Type, f.Message)
}

// Compare returns every difference between the wanted RRset and the
// records got from DNS (only those of the same name and type count). A
// record present on both sides with the same data is equal; an SRV record
// whose target matches but whose priority, weight or port differ is
// reported as wrong, naming the fields; the rest are missing or extra.
// TTLs are not compared: resolvers count them down.
func Compare(want RRSet, got []dns.RR) []Finding {
	var have []dns.RR
	for _, rr := range got {
		h := rr.Header()
		if h.Rrtype == want.Type && strings.EqualFold(dns.Fqdn(h.Name), want.Name) {
			have = append(have, rr)
		}
	}
	need := append([]dns.RR(nil), want.RRs...)
	need, have = dropEqual(need, have)
	var out []Finding
	typ := want.TypeString()
	for _, w := range need {
		if i := sameTarget(w, have); i >= 0 {
			out = append(out, Finding{want.Name, typ, "wrong", wrongMessage(w, have[i])})
			have = append(have[:i], have[i+1:]...)
			continue
		}
		out = append(out, Finding{want.Name, typ, "missing", "missing " + rdata(w)})
	}
	for _, h := range have {
		out = append(out, Finding{want.Name, typ, "extra", "extra " + rdata(h)})
	}
	return out
}

// dropEqual removes the records present on both sides (as a multiset).
func dropEqual(need, have []dns.RR) ([]dns.RR, []dns.RR) {
	var rest []dns.RR
	for _, w := range need {
		found := -1
		for i, h := range have {
			if rdata(w) == rdata(h) {
				found = i
				break
			}
		}
		if found < 0 {
			rest = append(rest, w)
			continue
		}
		have = append(have[:found:found], have[found+1:]...)
	}
	return rest, have
}

// sameTarget finds a got record for the same target (SRV) or the same
// service (NAPTR) as w.
func sameTarget(w dns.RR, have []dns.RR) int {
	for i, h := range have {
		switch a := w.(type) {
		case *dns.SRV:
			if b, ok := h.(*dns.SRV); ok && strings.EqualFold(a.Target, b.Target) {
				return i
			}
		case *dns.NAPTR:
			if b, ok := h.(*dns.NAPTR); ok && strings.EqualFold(a.Service, b.Service) {
				return i
			}
		}
	}
	return -1
}

func wrongMessage(w, h dns.RR) string {
	var diffs []string
	add := func(field string, want, got any) {
		if fmt.Sprint(want) != fmt.Sprint(got) {
			diffs = append(diffs, fmt.Sprintf("%s %v, want %v", field, got, want))
		}
	}
	switch a := w.(type) {
	case *dns.SRV:
		b := h.(*dns.SRV)
		add("priority", a.Priority, b.Priority)
		add("weight", a.Weight, b.Weight)
		add("port", a.Port, b.Port)
		return fmt.Sprintf("%s has %s", strings.ToLower(a.Target), strings.Join(diffs, ", "))
	case *dns.NAPTR:
		b := h.(*dns.NAPTR)
		add("order", a.Order, b.Order)
		add("preference", a.Preference, b.Preference)
		add("flags", fmt.Sprintf("%q", a.Flags), fmt.Sprintf("%q", b.Flags))
		add("regexp", fmt.Sprintf("%q", a.Regexp), fmt.Sprintf("%q", b.Regexp))
		add("replacement", strings.ToLower(a.Replacement), strings.ToLower(b.Replacement))
		return fmt.Sprintf("%s has %s", a.Service, strings.Join(diffs, ", "))
	}
	return "differs"
}

// equalSet reports whether got is exactly want's records with want's TTL
// (what push needs to leave an RRset alone).
func equalSet(want RRSet, got []dns.RR) bool {
	if len(Compare(want, got)) > 0 {
		return false
	}
	n := 0
	for _, rr := range got {
		if h := rr.Header(); h.Rrtype == want.Type && strings.EqualFold(dns.Fqdn(h.Name), want.Name) {
			n++
			if rr.Header().Ttl != want.TTL {
				return false
			}
		}
	}
	return n == len(want.RRs)
}
