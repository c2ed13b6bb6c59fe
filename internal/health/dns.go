package health

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/dnsupdate"
)

// dnsCheck queries a name at one server and expects at least one answer of
// its type, optionally one whose value equals value.
type dnsCheck struct {
	server, name, value string
	qtype               uint16
}

func newDNS(c Config) *dnsCheck {
	t := strings.ToUpper(c.Type) // defaulted by newChecker
	return &dnsCheck{
		server: dnsupdate.WithPort(c.Server),
		name:   dns.Fqdn(c.Name),
		value:  c.Value,
		qtype:  dns.StringToType[t], // checked by Validate
	}
}

func (d *dnsCheck) probe(ctx context.Context) (bool, string) {
	m := new(dns.Msg)
	m.SetQuestion(d.name, d.qtype)
	m.RecursionDesired = true
	in, err := d.exchange(ctx, m)
	if err != nil {
		return false, shortErr(err)
	}
	tname := dns.TypeToString[d.qtype]
	if in.Rcode != dns.RcodeSuccess {
		return false, "DNS " + dns.RcodeToString[in.Rcode]
	}
	var got []string
	for _, rr := range in.Answer {
		if rr.Header().Rrtype == d.qtype {
			got = append(got, rdata(rr))
		}
	}
	if len(got) == 0 {
		return false, fmt.Sprintf("no %s answer for %s", tname, d.name)
	}
	list := trimReason([]byte(strings.Join(got, ", ")))
	if d.value == "" {
		return true, tname + " " + list
	}
	for _, v := range got {
		if sameValue(d.qtype, v, d.value) {
			return true, tname + " " + list
		}
	}
	return false, fmt.Sprintf("no %s answer equal to %q (got %s)", tname, d.value, list)
}

// exchange asks over UDP and retries over TCP when the answer was truncated.
func (d *dnsCheck) exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp"}
	in, _, err := c.ExchangeContext(ctx, m, d.server)
	if err == nil && in.Truncated {
		c.Net = "tcp"
		in, _, err = c.ExchangeContext(ctx, m, d.server)
	}
	return in, err
}

// rdata is the text form of an answer's value: an address for A and AAAA,
// the joined strings for TXT, the zone-file form without the header otherwise
// ("10 5 5060 sip.example.test." for SRV).
func rdata(rr dns.RR) string {
	switch r := rr.(type) {
	case *dns.A:
		return r.A.String()
	case *dns.AAAA:
		return r.AAAA.String()
	case *dns.TXT:
		return strings.Join(r.Txt, "")
	}
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}

// sameValue compares an answer with the expected value: addresses as
// addresses, names without case or trailing dot, TXT exactly.
func sameValue(qtype uint16, got, want string) bool {
	want = strings.TrimSpace(want)
	switch qtype {
	case dns.TypeA, dns.TypeAAAA:
		g, w := net.ParseIP(got), net.ParseIP(want)
		return g != nil && g.Equal(w)
	case dns.TypeTXT:
		return got == want || got == strings.Trim(want, `"`)
	}
	norm := func(s string) string {
		return strings.TrimSuffix(strings.ToLower(strings.Join(strings.Fields(s), " ")), ".")
	}
	return norm(got) == norm(want)
}
