//go:build !linux

package voter

import (
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"
)

// batchReader reads datagrams through golang.org/x/net/ipv4 (recvmmsg
// where the system has it); batch_linux.go is the allocation-free version.
type batchReader struct {
	pc   *ipv4.PacketConn
	msgs []ipv4.Message
}

func newBatchReader(c *net.UDPConn, n, size int) (*batchReader, error) {
	r := &batchReader{pc: ipv4.NewPacketConn(c), msgs: make([]ipv4.Message, n)}
	for i := range r.msgs {
		r.msgs[i].Buffers = [][]byte{make([]byte, size)}
	}
	return r, nil
}

func (r *batchReader) read() (int, error) { return r.pc.ReadBatch(r.msgs, 0) }

// stamp is the kernel's receive time of datagram i; not read here (zero).
func (r *batchReader) stamp(int) time.Time { return time.Time{} }

func (r *batchReader) msg(i int) ([]byte, netip.AddrPort) {
	m := &r.msgs[i]
	var from netip.AddrPort
	if ua, ok := m.Addr.(*net.UDPAddr); ok {
		ap := ua.AddrPort()
		from = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return m.Buffers[0][:m.N], from
}

// batchWriter sends datagrams through golang.org/x/net/ipv4.
type batchWriter struct {
	pc   *ipv4.PacketConn
	msgs []ipv4.Message
}

func newBatchWriter(c *net.UDPConn, n int) (*batchWriter, error) {
	w := &batchWriter{pc: ipv4.NewPacketConn(c), msgs: make([]ipv4.Message, n)}
	for i := range w.msgs {
		w.msgs[i].Buffers = make([][]byte, 1)
	}
	return w, nil
}

func (w *batchWriter) write(bufs [][]byte, to []netip.AddrPort) (int, error) {
	n := min(len(bufs), len(w.msgs))
	for i := 0; i < n; i++ {
		w.msgs[i].Buffers[0] = bufs[i]
		w.msgs[i].Addr = net.UDPAddrFromAddrPort(to[i])
	}
	return w.pc.WriteBatch(w.msgs[:n], 0)
}

// connWriter sends datagrams on a connected UDP socket.
type connWriter struct{ c *net.UDPConn }

func newConnWriter(c *net.UDPConn) (*connWriter, error) { return &connWriter{c: c}, nil }

// write sends b to the socket's peer.
func (w *connWriter) write(b []byte) error {
	_, err := w.c.Write(b)
	return err
}
