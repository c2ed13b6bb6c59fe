package dnsupdate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// ErrNotAnswer is the error (wrapped) when a datagram with the request's
// ID is not the answer to it: miekg/dns matches replies by ID (and source
// address) only, so an echo of the request, or an answer to another
// question, would otherwise count.
var ErrNotAnswer = errors.New("reply does not answer the request")

// answers checks that r is a response (QR set) to req: same opcode and,
// when r carries a question section, the same question. A query's reply
// without one is accepted only as an error (FORMERR, NOTIMP... may omit
// it), never as NOERROR or NXDOMAIN. An UPDATE's reply may leave its zone
// section out (RFC 2136 does not require the server to copy it back); QR
// and the opcode still tell it from an echo.
func answers(req, r *dns.Msg) error {
	switch {
	case !r.Response:
		return fmt.Errorf("%w: QR bit not set (an echo of the request?)", ErrNotAnswer)
	case r.Opcode != req.Opcode:
		return fmt.Errorf("%w: opcode %s, sent %s", ErrNotAnswer, dns.OpcodeToString[r.Opcode], dns.OpcodeToString[req.Opcode])
	case len(r.Question) == 0:
		if req.Opcode != dns.OpcodeUpdate && (r.Rcode == dns.RcodeSuccess || r.Rcode == dns.RcodeNameError) {
			return fmt.Errorf("%w: no question section", ErrNotAnswer)
		}
		return nil
	}
	q, a := req.Question[0], r.Question[0]
	if len(r.Question) != 1 || !strings.EqualFold(q.Name, a.Name) || q.Qtype != a.Qtype || q.Qclass != a.Qclass {
		return fmt.Errorf("%w: question %s %s, asked %s %s", ErrNotAnswer,
			a.Name, dns.TypeToString[a.Qtype], q.Name, dns.TypeToString[q.Qtype])
	}
	return nil
}
