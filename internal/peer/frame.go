package peer

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Frame types. Types below TypeApp belong to the link; the application uses
// TypeApp and above.
const (
	typeAuthHello byte = 0x01 // dialer: magic, auth mode, nonce
	typeAuthChal  byte = 0x02 // listener: nonce, MAC over both nonces
	typeAuthResp  byte = 0x03 // dialer: MAC over both nonces
	typeHello     byte = 0x04 // JSON Hello
	typeRefuse    byte = 0x05 // UTF-8 reason, then close
	typeReady     byte = 0x06 // dialer accepted the listener's Hello
	typeClose     byte = 0x07 // UTF-8 reason for a clean close
	typePing      byte = 0x08 // 8-byte id
	typePong      byte = 0x09 // the ping's id
	typeRequest   byte = 0x0a // 8-byte id, app type, body
	typeResponse  byte = 0x0b // 8-byte id, status (0 ok, 1 error), body
	typeAuthOK    byte = 0x0c // listener accepted the dialer's proof; MACs start
	typeAuthFail  byte = 0x0d // 1-byte code: the credentials differ (before authentication)

	// TypeApp is the first frame type available to the application.
	TypeApp byte = 0x20
)

const macLen = 16

// ErrFrameTooLarge is returned when a frame's length exceeds the limit.
var ErrFrameTooLarge = errors.New("peer: frame too large")

// frameReader decodes frames, checking the length limit before allocating
// and, once keyed, the MAC of every frame.
type frameReader struct {
	r       *bufio.Reader
	under   io.Reader // what r reads
	max     int       // the largest frame length accepted
	mac     hash.Hash
	seq     uint64
	largest int // the largest frame buffer allocated so far (tests)
}

func newFrameReader(r io.Reader, max int) *frameReader {
	return newFrameReaderSize(r, max, linkBuffer)
}

// newFrameReaderSize reads through a buffer of size bytes.
func newFrameReaderSize(r io.Reader, max, size int) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, size), under: r, max: max}
}

// grow gives the reader a buffer of size bytes, keeping what it has
// buffered.
func (f *frameReader) grow(size int) {
	if f.r.Size() >= size {
		return
	}
	var src io.Reader = f.r
	if f.r.Buffered() == 0 {
		src = f.under
	}
	f.r = bufio.NewReaderSize(src, size)
}

// readFrame returns the next frame's type and payload.
func (f *frameReader) readFrame() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(f.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:4]))
	extra := 0
	if f.mac != nil {
		extra = macLen
	}
	if n < 1+extra {
		return 0, nil, fmt.Errorf("peer: bad frame length %d", n)
	}
	if n > f.max {
		return 0, nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrFrameTooLarge, n, f.max)
	}
	f.largest = max(f.largest, n-1)
	buf := make([]byte, n-1)
	if _, err := io.ReadFull(f.r, buf); err != nil {
		return 0, nil, err
	}
	typ := hdr[4]
	if f.mac == nil {
		return typ, buf, nil
	}
	body, sum := buf[:len(buf)-macLen], buf[len(buf)-macLen:]
	if !hmac.Equal(sum, frameMAC(f.mac, f.seq, typ, body)) {
		return 0, nil, errors.New("peer: frame MAC mismatch")
	}
	f.seq++
	return typ, body, nil
}

// frameWriter encodes frames into a buffered writer; Flush sends them.
type frameWriter struct {
	w     *bufio.Writer
	under io.Writer // what w writes to
	mac   hash.Hash
	seq   uint64
}

func newFrameWriter(w io.Writer) *frameWriter { return newFrameWriterSize(w, linkBuffer) }

// newFrameWriterSize writes through a buffer of size bytes.
func newFrameWriterSize(w io.Writer, size int) *frameWriter {
	return &frameWriter{w: bufio.NewWriterSize(w, size), under: w}
}

// grow gives the writer a buffer of size bytes; it must have been
// flushed.
func (f *frameWriter) grow(size int) {
	if f.w.Size() < size && f.w.Buffered() == 0 {
		f.w = bufio.NewWriterSize(f.under, size)
	}
}

func (f *frameWriter) writeFrame(typ byte, parts ...[]byte) error {
	n := 1
	for _, p := range parts {
		n += len(p)
	}
	if f.mac != nil {
		n += macLen
	}
	var hdr [5]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(n))
	hdr[4] = typ
	if _, err := f.w.Write(hdr[:]); err != nil {
		return err
	}
	for _, p := range parts {
		if _, err := f.w.Write(p); err != nil {
			return err
		}
	}
	if f.mac != nil {
		if _, err := f.w.Write(frameMAC(f.mac, f.seq, typ, parts...)); err != nil {
			return err
		}
		f.seq++
	}
	return nil
}

func (f *frameWriter) flush() error { return f.w.Flush() }

// frameLen is the length field of a keyed frame carrying parts.
func frameLen(parts ...[]byte) int {
	n := 1 + macLen
	for _, p := range parts {
		n += len(p)
	}
	return n
}

// frameMAC is HMAC(key, seq || type || body) truncated to macLen bytes; the
// sequence number stops replay and reordering within a connection.
func frameMAC(h hash.Hash, seq uint64, typ byte, parts ...[]byte) []byte {
	h.Reset()
	var hdr [9]byte
	binary.BigEndian.PutUint64(hdr[:8], seq)
	hdr[8] = typ
	h.Write(hdr[:])
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)[:macLen]
}

func newMAC(key []byte) hash.Hash { return hmac.New(sha256.New, key) }
