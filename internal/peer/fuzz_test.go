package peer

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net"
	"testing"
	"time"

	"github.com/redund/redund/internal/logging"
)

// FuzzReadFrame feeds arbitrary bytes to the frame decoder, with and
// without a MAC key: it must never panic, allocate beyond the limit, or
// accept a frame whose re-encoding differs.
func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	w := newFrameWriter(&buf)
	_ = w.writeFrame(typeHello, []byte(`{"node_id":"a"}`))
	_ = w.writeFrame(TypeApp, []byte("payload"))
	_ = w.flush()
	f.Add(buf.Bytes(), false)
	f.Add([]byte{0, 0, 0, 1, 0x08}, false)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x01}, true)
	f.Fuzz(func(t *testing.T, data []byte, keyed bool) {
		r := newFrameReader(bytes.NewReader(data), 4096)
		if keyed {
			k := sha256.Sum256([]byte("k"))
			r.mac = newMAC(k[:])
		}
		for range 64 {
			typ, body, err := r.readFrame()
			if err != nil {
				return
			}
			if len(body) > 4096 {
				t.Fatalf("body of %d bytes exceeds the limit", len(body))
			}
			if keyed {
				continue
			}
			var out bytes.Buffer
			w := newFrameWriter(&out)
			_ = w.writeFrame(typ, body)
			_ = w.flush()
			back, err := newFrameReader(&out, 4096).readFrameOnly()
			if err != nil || !bytes.Equal(back, body) {
				t.Fatalf("re-encoding changed the frame: %v", err)
			}
		}
	})
}

func (f *frameReader) readFrameOnly() ([]byte, error) {
	_, b, err := f.readFrame()
	return b, err
}

// FuzzParseHello checks the handshake parsers on arbitrary input.
func FuzzParseHello(f *testing.F) {
	f.Add([]byte(`{"node_id":"a","mode":"master","version":"1","epoch":3,"uptime_ms":10,"app":{"role":"active"}}`))
	f.Add([]byte(`{"node_id":""}`))
	f.Add([]byte(`RDP1` + "\x01" + "0123456789abcdef0123456789abcdef"))
	f.Add(encodeFirst([]byte(testSecret), make([]byte, nonceLen), time.UnixMilli(1e12)))
	f.Add([]byte("RDP2\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if h, err := ParseHello(data); err == nil {
			if h.NodeID == "" || h.UptimeMS < 0 {
				t.Fatalf("accepted invalid hello %+v", h)
			}
			if _, err := ParseHello(encodeHello(h)); err != nil {
				t.Fatalf("re-encoded hello rejected: %v", err)
			}
		}
		if f, err := parseFirst(data); err == nil {
			if f.mode == authSecret && (len(f.nonce) != nonceLen || len(f.proof) != proofLen) {
				t.Fatalf("accepted a %d-byte nonce, a %d-byte proof", len(f.nonce), len(f.proof))
			}
			if f.mode == authSecret && !bytes.Equal(encodeFirst([]byte(testSecret), f.nonce, f.sent), data) && f.verify([]byte(testSecret)) {
				t.Fatal("a proof verified for bytes it does not cover")
			}
		}
		_ = reason(data)
	})
}

// FuzzAcceptPreAuth feeds arbitrary bytes, as the first frames of an
// incoming connection, through the listener's own handshake and failure
// handling (the code a real connection runs, on a net.Pipe). The node has
// a secret the input cannot know, so every input fails before
// authentication (a first frame with a valid proof, fresh from f.Add or
// stale in the corpus, still cannot answer the challenge), and must:
// never panic, never allocate a frame above preAuthMaxFrame, never
// produce an event or change the state, and be counted as exactly one
// drop. Seeds are in testdata/fuzz/FuzzAcceptPreAuth (protocol 2 first
// frames: v2_*; other versions: v1_hello, v3_hello).
func FuzzAcceptPreAuth(f *testing.F) {
	f.Add(append([]byte{0, 0, 0, 78, typeAuthHello}, strangerFirst()...))
	f.Add(append([]byte{0, 0, 0, 78, typeAuthHello}, validFirst(time.Now())...))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec := newRecorder()
		n, err := New(&Config{Secret: testSecret}, Options{Listen: "127.0.0.1:0", Hello: hello("m", "master"),
			OnEvent: rec.onEvent, Log: logging.Discard()})
		if err != nil {
			t.Fatal(err)
		}
		server, client := net.Pipe()
		done := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(io.Discard, client); done <- struct{}{} }()
		go func() { _, _ = client.Write(data); _ = client.Close(); done <- struct{}{} }()
		sl, _ := n.slots.admit(server)
		s, _, err := n.handshake(sl)
		if err == nil {
			t.Fatal("a connection without the secret completed the handshake")
		}
		n.acceptFailed(sl, s, err)
		n.slots.release(sl)
		_ = client.Close()
		<-done
		<-done
		if s == nil {
			t.Fatal("no handshake state without TLS")
		}
		if s.r.largest > preAuthMaxFrame {
			t.Fatalf("allocated a frame of %d bytes before authentication", s.r.largest)
		}
		if st := n.Status(); st.Dropped != 1 || st.State != Connecting || st.Reason != "" || len(rec.snapshot()) != 0 {
			t.Fatalf("not a silent drop: status %+v, events %+v", st, rec.snapshot())
		}
	})
}
