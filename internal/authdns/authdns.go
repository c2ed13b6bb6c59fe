// Package authdns is a small embedded authoritative DNS server that accepts
// TSIG-signed RFC 2136 updates. `redund demo` uses it so that ddns and srv
// can run end to end with nothing installed; tests use BIND9 instead.
package authdns

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Server serves one zone from memory over UDP and TCP on the same port.
type Server struct {
	zone    string
	keyName string // canonical (lower-case FQDN); empty: updates refused
	secret  string // base64

	mu      sync.RWMutex
	rrs     map[rrKey][]dns.RR
	serial  uint32
	updates uint64

	udp, tcp *dns.Server
	addr     string
}

type rrKey struct {
	name  string
	rtype uint16
}

// New returns a server for zone that accepts updates signed with the
// hmac-sha256 key keyName/secret (base64). It starts with a SOA and an NS.
func New(zone, keyName, secret string) *Server {
	s := &Server{zone: canon(zone), secret: secret, rrs: map[rrKey][]dns.RR{}, serial: 1}
	if keyName != "" {
		s.keyName = canon(keyName)
	}
	soa := &dns.SOA{Hdr: hdr(s.zone, dns.TypeSOA, 60), Ns: "ns." + s.zone, Mbox: "hostmaster." + s.zone,
		Serial: s.serial, Refresh: 60, Retry: 30, Expire: 3600, Minttl: 5}
	s.rrs[rrKey{s.zone, dns.TypeSOA}] = []dns.RR{soa}
	s.rrs[rrKey{s.zone, dns.TypeNS}] = []dns.RR{&dns.NS{Hdr: hdr(s.zone, dns.TypeNS, 60), Ns: "ns." + s.zone}}
	return s
}

func canon(name string) string { return strings.ToLower(dns.Fqdn(name)) }

func hdr(name string, t uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
}

// Add inserts records (in zone) as if by an update.
func (s *Server) Add(rrs ...dns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rr := range rrs {
		s.insert(rr)
	}
}

// Lookup returns a copy of the RRset name/type.
func (s *Server) Lookup(name string, rtype uint16) []dns.RR {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []dns.RR
	for _, rr := range s.rrs[rrKey{canon(name), rtype}] {
		out = append(out, dns.Copy(rr))
	}
	return out
}

// Updates is the number of updates applied.
func (s *Server) Updates() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.updates
}

// Start listens on addr (host:port, port 0 picks one) for UDP and TCP and
// returns once both are serving.
func (s *Server) Start(addr string) error {
	var err error
	for try := 0; try < 10; try++ {
		if err = s.listen(addr); err == nil {
			return nil
		}
	}
	return err
}

func (s *Server) listen(addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("authdns: %w", err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return fmt.Errorf("authdns: %w", err)
	}
	s.addr = pc.LocalAddr().String()
	var tsig map[string]string
	if s.keyName != "" {
		tsig = map[string]string{s.keyName: s.secret}
	}
	accept := func(dns.Header) dns.MsgAcceptAction { return dns.MsgAccept }
	s.udp = &dns.Server{PacketConn: pc, Handler: s, TsigSecret: tsig, MsgAcceptFunc: accept}
	s.tcp = &dns.Server{Listener: ln, Handler: s, TsigSecret: tsig, MsgAcceptFunc: accept}
	ready := make(chan struct{}, 2)
	s.udp.NotifyStartedFunc = func() { ready <- struct{}{} }
	s.tcp.NotifyStartedFunc = func() { ready <- struct{}{} }
	go func() { _ = s.udp.ActivateAndServe() }()
	go func() { _ = s.tcp.ActivateAndServe() }()
	<-ready
	<-ready
	return nil
}

// Addr is the address both listeners are bound to.
func (s *Server) Addr() string { return s.addr }

// Close stops both listeners.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if s.udp != nil {
		_ = s.udp.ShutdownContext(ctx)
	}
	if s.tcp != nil {
		_ = s.tcp.ShutdownContext(ctx)
	}
}

// ServeDNS answers queries and applies updates.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	switch r.Opcode {
	case dns.OpcodeQuery:
		s.answer(m, r)
	case dns.OpcodeUpdate:
		m.SetReply(r)
		m.Rcode = s.update(w, r)
	default:
		m.SetRcode(r, dns.RcodeNotImplemented)
	}
	if t := r.IsTsig(); t != nil && w.TsigStatus() == nil {
		m.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
	}
	_ = w.WriteMsg(m)
}

func (s *Server) answer(m, r *dns.Msg) {
	m.SetReply(r)
	m.Authoritative = true
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return
	}
	q := r.Question[0]
	name := canon(q.Name)
	if !dns.IsSubDomain(s.zone, name) {
		m.Rcode = dns.RcodeRefused
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	m.Answer = append(m.Answer, s.rrs[rrKey{name, q.Qtype}]...)
	if len(m.Answer) == 0 && !s.nameExists(name) {
		m.Rcode = dns.RcodeNameError
	}
	if len(m.Answer) == 0 {
		m.Ns = append(m.Ns, s.rrs[rrKey{s.zone, dns.TypeSOA}]...)
	}
}

func (s *Server) nameExists(name string) bool {
	for k := range s.rrs {
		if k.name == name || strings.HasSuffix(k.name, "."+name) {
			return true
		}
	}
	return false
}

// update applies an RFC 2136 update (no prerequisites supported) and
// returns the rcode.
func (s *Server) update(w dns.ResponseWriter, r *dns.Msg) int {
	if len(r.Question) != 1 || canon(r.Question[0].Name) != s.zone {
		return dns.RcodeNotAuth
	}
	if s.keyName == "" || r.IsTsig() == nil || w.TsigStatus() != nil || canon(r.IsTsig().Hdr.Name) != s.keyName {
		return dns.RcodeRefused
	}
	if len(r.Answer) > 0 {
		return dns.RcodeNotImplemented // prerequisites
	}
	for _, rr := range r.Ns {
		if !dns.IsSubDomain(s.zone, canon(rr.Header().Name)) {
			return dns.RcodeNotZone
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rr := range r.Ns {
		s.apply(rr)
	}
	s.updates++
	s.serial++
	// a new SOA, not the old one changed: answers being written hold it
	k := rrKey{s.zone, dns.TypeSOA}
	if old, ok := s.rrs[k][0].(*dns.SOA); ok {
		soa := dns.Copy(old).(*dns.SOA)
		soa.Serial = s.serial
		s.rrs[k] = []dns.RR{soa}
	}
	return dns.RcodeSuccess
}

func (s *Server) apply(rr dns.RR) {
	h := rr.Header()
	name := canon(h.Name)
	switch h.Class {
	case dns.ClassANY:
		for k := range s.rrs {
			if k.name == name && (h.Rrtype == dns.TypeANY || k.rtype == h.Rrtype) && k.rtype != dns.TypeSOA {
				delete(s.rrs, k)
			}
		}
	case dns.ClassNONE:
		if h.Rrtype == dns.TypeSOA {
			return // SOA deletions are ignored (RFC 2136 3.4.2.4)
		}
		k := rrKey{name, h.Rrtype}
		kept := s.rrs[k][:0]
		for _, old := range s.rrs[k] {
			if !sameData(old, rr) {
				kept = append(kept, old)
			}
		}
		s.rrs[k] = kept
		if len(kept) == 0 {
			delete(s.rrs, k)
		}
	default:
		s.insert(rr)
	}
}

func (s *Server) insert(rr dns.RR) {
	rr = dns.Copy(rr)
	h := rr.Header()
	h.Name = canon(h.Name)
	h.Class = dns.ClassINET
	k := rrKey{h.Name, h.Rrtype}
	for i, old := range s.rrs[k] {
		if sameData(old, rr) {
			s.rrs[k][i] = rr
			return
		}
	}
	s.rrs[k] = append(s.rrs[k], rr)
	sort.SliceStable(s.rrs[k], func(i, j int) bool { return s.rrs[k][i].String() < s.rrs[k][j].String() })
}

// sameData compares two records ignoring TTL and class.
func sameData(a, b dns.RR) bool {
	ca, cb := dns.Copy(a), dns.Copy(b)
	for _, h := range []*dns.RR_Header{ca.Header(), cb.Header()} {
		h.Ttl, h.Class, h.Rdlength = 0, dns.ClassINET, 0
		h.Name = canon(h.Name)
	}
	return dns.IsDuplicate(ca, cb)
}
