package ddnsbench

import (
	"crypto/rand"
	"encoding/base64"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// updServer is a small RFC 2136 server for one A record that keeps a log
// of every update: which TSIG key signed it (each decider has its own),
// whether its prerequisite held, and what it wrote. It answers queries for
// the record, checks "RRset exists (value dependent)" and "RRset does not
// exist" prerequisites atomically with the update, and refuses unsigned or
// badly signed messages. With it a test can tell who pushed and whether
// two deciders ever pushed against each other.
type updServer struct {
	Addr string
	Zone string // "example.test."
	Name string // "cat.example.test."
	keys map[string]string

	mu      sync.Mutex
	value   []string // the record's A values
	updates []update
}

// update is one UPDATE the server got.
type update struct {
	At      time.Time
	Key     string   // the TSIG key name that signed it
	Require []string // prerequisite: the RRset must be exactly these values
	Absent  bool     // prerequisite: the RRset must not exist
	Prereq  bool     // the message carried a prerequisite
	Applied bool     // the prerequisite held and the record was written
	Value   []string // the values written (Applied)
}

// startUpdServer serves name (in zone example.test) with value on a UDP
// port of 127.0.0.1, accepting updates signed by any of keys (name ->
// base64 hmac-sha256 secret).
func startUpdServer(t testing.TB, value string, keys map[string]string) *updServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &updServer{Addr: pc.LocalAddr().String(), Zone: "example.test.", Name: "cat.example.test.", keys: keys}
	if value != "" {
		s.value = []string{value}
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: s, TsigSecret: keys, NotifyStartedFunc: func() { close(started) },
		MsgAcceptFunc: acceptQueryAndUpdate}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return s
}

// acceptQueryAndUpdate lets UPDATE through (miekg/dns's default refuses
// every opcode but QUERY and NOTIFY with NOTIMP).
func acceptQueryAndUpdate(dh dns.Header) dns.MsgAcceptAction {
	if dh.Bits&(1<<15) != 0 { // a response
		return dns.MsgIgnore
	}
	if op := int(dh.Bits>>11) & 0xF; op != dns.OpcodeQuery && op != dns.OpcodeUpdate {
		return dns.MsgRejectNotImplemented
	}
	return dns.MsgAccept
}

// newKey is a fresh hmac-sha256 secret, base64.
func newKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func (s *updServer) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	tsig := r.IsTsig()
	if tsig == nil || w.TsigStatus() != nil {
		m.Rcode = dns.RcodeNotAuth
		_ = w.WriteMsg(m)
		return
	}
	switch {
	case r.Opcode == dns.OpcodeQuery && len(r.Question) == 1:
		s.query(m, r.Question[0])
	case r.Opcode == dns.OpcodeUpdate:
		m.Rcode = s.apply(tsig.Hdr.Name, r)
	default:
		m.Rcode = dns.RcodeNotImplemented
	}
	m.SetTsig(tsig.Hdr.Name, tsig.Algorithm, 300, time.Now().Unix())
	_ = w.WriteMsg(m)
}

func (s *updServer) query(m *dns.Msg, q dns.Question) {
	m.Authoritative = true
	if !strings.EqualFold(q.Name, s.Name) || q.Qtype != dns.TypeA {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.value {
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: s.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A: net.ParseIP(v)})
	}
}

// apply checks the prerequisites (the message's answer section) and
// carries out the update section for the A record, in one step.
func (s *updServer) apply(key string, r *dns.Msg) int {
	u := update{At: time.Now(), Key: key}
	for _, rr := range r.Answer { // prerequisites
		u.Prereq = true
		switch {
		case rr.Header().Class == dns.ClassINET && rr.Header().Rrtype == dns.TypeA:
			u.Require = append(u.Require, rr.(*dns.A).A.String())
		case rr.Header().Class == dns.ClassNONE:
			u.Absent = true
		}
	}
	var insert []string
	for _, rr := range r.Ns {
		if a, ok := rr.(*dns.A); ok && rr.Header().Class == dns.ClassINET {
			insert = append(insert, a.A.String())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rcode := dns.RcodeSuccess
	switch {
	case u.Absent && len(s.value) > 0:
		rcode = dns.RcodeYXRrset
	case len(u.Require) > 0 && !sameSet(u.Require, s.value):
		rcode = dns.RcodeNXRrset
	default:
		s.value, u.Applied, u.Value = insert, true, insert
	}
	s.updates = append(s.updates, u)
	return rcode
}

func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}

// Value is the record's current value ("" for none, values joined by ",").
func (s *updServer) Value() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.value, ",")
}

// Updates is a copy of the log.
func (s *updServer) Updates() []update {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.updates)
}
