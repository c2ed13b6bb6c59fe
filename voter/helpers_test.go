package voter

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redund/redund/internal/config"
)

// running is a server started for a test.
type running struct {
	*Server
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *running) stop() {
	r.cancel()
	<-r.done
}

func startServer(t *testing.T, cfgs map[string]*Config) *running {
	t.Helper()
	return startServerOpts(t, cfgs, Options{})
}

func startServerOpts(t *testing.T, cfgs map[string]*Config, opts Options) *running {
	t.Helper()
	s, err := New(cfgs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Server: s, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); _ = s.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

func startSim(t *testing.T, clients ...SimClient) *Sim {
	t.Helper()
	s := NewSim(clients)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// rtpSink collects RTP packets.
type rtpSink struct {
	conn *net.UDPConn
	mu   sync.Mutex
	pkts [][]byte
	done chan struct{}
}

func newRTPSink(t *testing.T) *rtpSink {
	t.Helper()
	return newRTPSinkOn(t, "127.0.0.1")
}

// newRTPSinkOn is newRTPSink on another loopback address (127.0.0.2...:
// Linux answers on all of 127.0.0.0/8).
func newRTPSinkOn(t *testing.T, ip string) *rtpSink {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	s := &rtpSink{conn: c, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 2048)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.pkts = append(s.pkts, append([]byte(nil), buf[:n]...))
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-s.done })
	return s
}

func (s *rtpSink) addr() string { return s.conn.LocalAddr().String() }

func (s *rtpSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pkts)
}

// lastPayloadIs reports whether the newest packet's payload is all v.
func (s *rtpSink) lastPayloadIs(v byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pkts) == 0 {
		return false
	}
	p := s.pkts[len(s.pkts)-1]
	if len(p) != 12+FrameLen {
		return false
	}
	for _, b := range p[12:] {
		if b != v {
			return false
		}
	}
	return true
}

func (s *rtpSink) since(i int) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.pkts[min(i, len(s.pkts)):]...)
}

func rtpSeq(p []byte) uint16  { return binary.BigEndian.Uint16(p[2:4]) }
func rtpTS(p []byte) uint32   { return binary.BigEndian.Uint32(p[4:8]) }
func rtpSSRC(p []byte) uint32 { return binary.BigEndian.Uint32(p[8:12]) }

func constAudio(v byte) func(uint64, []byte) {
	return func(_ uint64, dst []byte) {
		for i := range dst {
			dst[i] = v
		}
	}
}

func varRSSI(v *atomic.Int32) func(uint64) byte { return func(uint64) byte { return byte(v.Load()) } }

func newRSSI(v int32) *atomic.Int32 {
	var a atomic.Int32
	a.Store(v)
	return &a
}

// voterCfg builds an instance config.
func voterCfg(listen, rtpOut string, clients map[string]*ClientConfig) *Config {
	return &Config{Listen: listen, Password: "hostpw", Buflen: 160, RTPOut: rtpOut, Clients: clients}
}

func cl(pw string) *ClientConfig { return &ClientConfig{Password: config.Secret(pw)} }

func sim(name, pw string, srv netip.AddrPort) SimClient {
	return SimClient{Name: name, Server: srv, Password: pw, HostPassword: "hostpw"}
}

// sendTxRTP sends n PCMU RTP packets of 0x55 to an instance's rtp_in.
func sendTxRTP(t *testing.T, s *running, n int) {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(s.RTPInAddr("red")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < n; i++ {
		p := make([]byte, 12+FrameLen)
		p[0] = 0x80
		binary.BigEndian.PutUint16(p[2:], uint16(i+1))
		binary.BigEndian.PutUint32(p[4:], uint32(i*FrameLen))
		for j := 12; j < len(p); j++ {
			p[j] = 0x55
		}
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}
}

// gotAfter reports whether a packet after the first n has a payload of all v.
func (s *rtpSink) gotAfter(n int, v byte) bool {
	for _, p := range s.since(n) {
		if len(p) == 12+FrameLen && allBytes(p[12:], v) {
			return true
		}
	}
	return false
}

func allBytes(b []byte, v byte) bool {
	for _, x := range b {
		if x != v {
			return false
		}
	}
	return true
}
