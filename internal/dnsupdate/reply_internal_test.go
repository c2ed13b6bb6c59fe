package dnsupdate

import (
	"testing"

	"github.com/miekg/dns"
)

// TestAnswersWithoutQuestion: a reply with no question section counts for
// an UPDATE (servers need not copy the zone section back) and as a query's
// error, not as a query's NOERROR; an echo never counts.
func TestAnswersWithoutQuestion(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opcode int
		rcode  int
		echo   bool
		ok     bool
	}{
		{"update NOERROR", dns.OpcodeUpdate, dns.RcodeSuccess, false, true},
		{"update REFUSED", dns.OpcodeUpdate, dns.RcodeRefused, false, true},
		{"update echoed", dns.OpcodeUpdate, dns.RcodeSuccess, true, false},
		{"query NOERROR", dns.OpcodeQuery, dns.RcodeSuccess, false, false},
		{"query FORMERR", dns.OpcodeQuery, dns.RcodeFormatError, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := new(dns.Msg)
			req.SetQuestion("example.test.", dns.TypeSOA)
			req.Opcode = tc.opcode
			r := new(dns.Msg)
			r.SetRcode(req, tc.rcode)
			r.Question = nil
			r.Response = !tc.echo
			if err := answers(req, r); (err == nil) != tc.ok {
				t.Errorf("answers: %v, want ok %v", err, tc.ok)
			}
		})
	}
}
