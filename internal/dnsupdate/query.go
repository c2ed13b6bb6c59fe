package dnsupdate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// QueryValues asks server for name/qtype and returns the answers of that
// type as normalised text (addresses, or fully qualified targets).
func QueryValues(ctx context.Context, server, name string, qtype uint16, timeout time.Duration, recurse bool) ([]string, error) {
	r, err := exchange(ctx, server, name, qtype, timeout, recurse)
	if err != nil {
		return nil, err
	}
	return RRValues(r.Answer, qtype), nil
}

// RRValues returns the values of the rrs of type qtype, normalised and sorted.
func RRValues(rrs []dns.RR, qtype uint16) []string {
	var vals []string
	for _, rr := range rrs {
		if rr.Header().Rrtype != qtype {
			continue
		}
		switch x := rr.(type) {
		case *dns.A:
			vals = append(vals, x.A.String())
		case *dns.AAAA:
			vals = append(vals, x.AAAA.String())
		case *dns.CNAME:
			vals = append(vals, x.Target)
		case *dns.TXT:
			vals = append(vals, strings.Join(x.Txt, ""))
		}
	}
	return sortValues(dns.TypeToString[qtype], vals)
}

// QueryValuesAny is QueryValues with recursion desired that also returns
// NS targets (for NS lookups).
func QueryValuesAny(ctx context.Context, server, name string, qtype uint16, timeout time.Duration) ([]string, error) {
	if qtype != dns.TypeNS {
		return QueryValues(ctx, server, name, qtype, timeout, true)
	}
	r, err := exchange(ctx, server, name, qtype, timeout, true)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range r.Answer {
		if ns, ok := rr.(*dns.NS); ok {
			out = append(out, strings.ToLower(ns.Ns))
		}
	}
	return sortValues("NS", out), nil
}

// FindZone returns the zone name holds: the owner of the SOA record in the
// answer or authority section of a SOA query for name.
func FindZone(ctx context.Context, server, name string, timeout time.Duration) (string, error) {
	r, err := exchange(ctx, server, name, dns.TypeSOA, timeout, true)
	if err != nil {
		return "", err
	}
	for _, rr := range append(r.Answer, r.Ns...) {
		if soa, ok := rr.(*dns.SOA); ok {
			return strings.ToLower(soa.Hdr.Name), nil
		}
	}
	return "", fmt.Errorf("no SOA for %s at %s", name, server)
}

func exchange(ctx context.Context, server, name string, qtype uint16, timeout time.Duration, recurse bool) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = recurse
	cl := &dns.Client{Timeout: timeout}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, _, err := cl.ExchangeContext(ctx, m, server)
	if err == nil && r.Truncated {
		cl.Net = "tcp"
		r, _, err = cl.ExchangeContext(ctx, m, server)
	}
	if err == nil {
		err = answers(m, r)
	}
	if err != nil {
		return nil, fmt.Errorf("query %s at %s: %w", name, server, err)
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("query %s at %s: %s", name, server, dns.RcodeToString[r.Rcode])
	}
	return r, nil
}
