package peer

import (
	"bytes"
	"crypto/sha256"
	"testing"
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
	f.Fuzz(func(t *testing.T, data []byte) {
		if h, err := ParseHello(data); err == nil {
			if h.NodeID == "" || h.UptimeMS < 0 {
				t.Fatalf("accepted invalid hello %+v", h)
			}
			if _, err := ParseHello(encodeHello(h)); err != nil {
				t.Fatalf("re-encoded hello rejected: %v", err)
			}
		}
		if mode, n, err := parseAuthHello(data); err == nil {
			if mode == authSecret && len(n) != nonceLen {
				t.Fatalf("accepted a %d-byte nonce", len(n))
			}
		}
		_ = reason(data)
	})
}
