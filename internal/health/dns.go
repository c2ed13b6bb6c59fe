package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/dnsupdate"
)

// dnsCheck queries a name at one server and expects at least one answer of
// its type, optionally one whose value equals value.
type dnsCheck struct {
	server, name, value string
	qtype               uint16
	// lateAt is when the answer the last probe read late had arrived
	// (zero: none read late); only the probe touches it
	lateAt time.Time
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

// probeUntil runs one probe that ends by deadline (zero: none).
func (d *dnsCheck) probeUntil(ctx context.Context, deadline time.Time) (bool, string) {
	d.lateAt = time.Time{}
	m := new(dns.Msg)
	m.SetQuestion(d.name, d.qtype)
	m.RecursionDesired = true
	in, err := d.exchange(ctx, deadline, m)
	if err != nil {
		d.lateAt = time.Time{}
		return false, shortErr(err)
	}
	tname := dns.TypeToString[d.qtype]
	if in.Rcode != dns.RcodeSuccess {
		return false, "DNS " + rcodeText(in.Rcode)
	}
	var got []string
	for _, rr := range answersFor(in.Answer, d.name, d.qtype) {
		got = append(got, rdata(rr))
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

// rcodeText names an rcode ("NXDOMAIN"), or gives its number when it has
// no name ("rcode 13"): a server may send any.
func rcodeText(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return "rcode " + strconv.Itoa(rcode)
}

// answersFor returns the records of answer that answer the question (name,
// qtype): of that type and class IN, owned by name or by a name that a
// CNAME chain in answer leads to from it. A record of another name (a
// broken or lying server's) is no answer to the question, as a resolver
// would not take it as one either.
func answersFor(answer []dns.RR, name string, qtype uint16) []dns.RR {
	owners := map[string]bool{strings.ToLower(name): true}
	if qtype != dns.TypeCNAME {
		// follow the chain from name, one step per CNAME at most (a
		// server's loop or a long chain costs the walk the answer's size)
		next := map[string]string{}
		for _, rr := range answer {
			if c, ok := rr.(*dns.CNAME); ok && c.Hdr.Class == dns.ClassINET {
				if k := strings.ToLower(c.Hdr.Name); next[k] == "" {
					next[k] = strings.ToLower(c.Target)
				}
			}
		}
		for n := strings.ToLower(name); next[n] != "" && !owners[next[n]]; {
			n = next[n]
			owners[n] = true
		}
	}
	var out []dns.RR
	for _, rr := range answer {
		h := rr.Header()
		if h.Rrtype == qtype && h.Class == dns.ClassINET && owners[strings.ToLower(h.Name)] {
			out = append(out, rr)
		}
	}
	return out
}

// exchange asks over UDP and retries over TCP when the answer was truncated.
func (d *dnsCheck) exchange(ctx context.Context, deadline time.Time, m *dns.Msg) (*dns.Msg, error) {
	in, err := d.exchangeUDP(ctx, deadline, m)
	if err == nil && in.Truncated {
		d.lateAt = time.Time{}
		if !deadline.IsZero() {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline)
			defer cancel()
		}
		c := &dns.Client{Net: "tcp"}
		in, _, err = c.ExchangeContext(ctx, m, d.server)
		if err == nil && !answers(in, m) {
			return nil, errNotAnswer
		}
	}
	return in, err
}

// answers reports whether in is a response to the query m: its ID, the QR
// bit and the very question.
func answers(in, m *dns.Msg) bool {
	return in.Id == m.Id && in.Response && len(in.Question) == 1 && in.Question[0] == m.Question[0]
}

// errNotAnswer: the server's TCP reply is not a response to the question.
var errNotAnswer = errors.New("the reply over TCP is not an answer to the question")

// exchangeUDP sends m over UDP and returns the first answer to it (same
// ID, QR bit and question, from the server: the socket is connected to it; other
// datagrams are skipped). When the deadline passes before the probe reads
// it, an answer the kernel had received by then still counts (arrivedBy,
// as HTTP probes do): a prober short of CPU does not blame the server.
func (d *dnsCheck) exchangeUDP(ctx context.Context, deadline time.Time, m *dns.Msg) (*dns.Msg, error) {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "udp", d.server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	uc, _ := conn.(*net.UDPConn)
	if uc != nil {
		stampArrivals(uc)
	}
	// the timeout is the socket's deadline, which leaves an answer that
	// came in time for a late read; a cancellation closes
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	co := &dns.Conn{Conn: conn, UDPSize: dns.MinMsgSize}
	if err := co.WriteMsg(m); err != nil {
		return nil, err
	}
	if afterRequest != nil && uc != nil {
		deadline = afterRequest(uc, deadline)
	}
	var late error // the deadline's error, once the probe reads late
	for {
		if late != nil {
			n, at := arrivedBy(uc, deadline)
			if n == 0 {
				return nil, late // nothing more came in time
			}
			d.lateAt = at // a datagram that is there: reading it does not wait
		}
		in, err := co.ReadMsg()
		if err != nil && late == nil && uc != nil && !deadline.IsZero() && errors.Is(err, os.ErrDeadlineExceeded) &&
			uc.SetReadDeadline(time.Time{}) == nil {
			late = err
			continue
		}
		if err != nil {
			return nil, err
		}
		if answers(in, m) {
			return in, nil
		}
	}
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
