package voter

import (
	"errors"
	"hash/crc32"
)

// Wire sizes of the VOTER protocol (see docs/voter.md and voter-protocol.md).
const (
	HeaderLen      = 24  // packed header: seconds, nanoseconds, challenge[10], digest, type
	ProxyHeaderLen = 19  // ipv4, port, inner type, flags, challenge[10]
	ChallengeLen   = 10  // challenge field, NUL terminated, at most 9 digits
	FrameLen       = 160 // 20 ms of µ-law at 8 kHz
	ADPCMLen       = 163 // 160 bytes of nibbles + predictor(2) + step index(1)
	GPSLen         = 26  // lat[9] lon[10] elev[7]
	PingBodyLen    = 164 // seqno(4) + txtime(16) + starttime(16) + filler(128)
	ULawPacketLen  = HeaderLen + 1 + FrameLen
	ADPCMPacketLen = HeaderLen + 1 + ADPCMLen
	PingPacketLen  = HeaderLen + PingBodyLen
	MaxPacketLen   = HeaderLen + ProxyHeaderLen + PingBodyLen // largest valid packet (207)
)

// Payload types.
const (
	TypeAuth  uint16 = 0
	TypeULaw  uint16 = 1
	TypeGPS   uint16 = 2
	TypeADPCM uint16 = 3
	TypeNULaw uint16 = 4
	TypePing  uint16 = 5
	TypeProxy uint16 = 0xF000
)

// Flag bits of the auth reply and of the proxy header.
const (
	FlagFlat       byte = 1  // nodeemp / hostdeemp
	FlagSendAlways byte = 2  // send audio always
	FlagNoCTCSS    byte = 4  // noplfilter
	FlagMaster     byte = 8  // master timing source
	FlagADPCM      byte = 16 // ADPCM audio
	FlagMix        byte = 32 // mix / general-purpose mode
)

// Decode errors. They are values so decoding never allocates.
var (
	ErrShort    = errors.New("voter: packet shorter than its header")
	ErrSize     = errors.New("voter: wrong size for payload type")
	ErrType     = errors.New("voter: unknown payload type")
	ErrNested   = errors.New("voter: proxy packet inside proxy packet")
	ErrTooLarge = errors.New("voter: packet too large")
)

// Challenge is the 10-byte challenge field: ASCII digits, NUL terminated.
type Challenge [ChallengeLen]byte

// MakeChallenge builds a challenge field from a string of at most 9 bytes
// (longer strings are truncated, as chan_voter's strcpy into 10 bytes would).
func MakeChallenge(s string) Challenge {
	var c Challenge
	copy(c[:ChallengeLen-1], s)
	return c
}

// Bytes returns the challenge up to its first NUL (no allocation).
func (c *Challenge) Bytes() []byte {
	for i, b := range c {
		if b == 0 {
			return c[:i]
		}
	}
	return c[:]
}

// String returns the challenge text.
func (c Challenge) String() string { return string(c.Bytes()) }

// Digest is the VOTER digest: CRC-32 (IEEE) of the challenge text followed
// by the password, without NULs.
func Digest(challenge []byte, password string) uint32 {
	return DigestBytes(challenge, []byte(password))
}

// DigestBytes is Digest for a password held as bytes.
func DigestBytes(challenge, password []byte) uint32 {
	h := crc32.Update(0, crc32.IEEETable, challenge)
	return crc32.Update(h, crc32.IEEETable, password)
}

// Header is the 24-byte packet header.
type Header struct {
	Sec       uint32
	Nsec      uint32 // nanoseconds (GPS clients) or 20 ms sequence (mix clients)
	Challenge Challenge
	Digest    uint32
	Type      uint16
}

// ProxyHeader follows the outer header of a TypeProxy packet.
type ProxyHeader struct {
	Addr      [4]byte // client IPv4 address
	Port      uint16  // client UDP port
	Type      uint16  // inner payload type
	Flags     byte
	Challenge Challenge // bytes after the first NUL may be garbage
}

// Packet is one decoded packet. Slices point into the decoded buffer.
type Packet struct {
	Header
	Proxied  bool        // outer type was TypeProxy
	Proxy    ProxyHeader // valid when Proxied
	Kind     uint16      // effective payload type (inner type when proxied)
	HasFlags bool        // auth packet carried a flags byte
	Flags    byte
	RSSI     byte
	Audio    []byte // 160 µ-law bytes, or 163 ADPCM bytes
	GPS      []byte // 26 or 25 bytes of lat/lon/elev, or nil for a keepalive
	Ping     []byte // 164-byte ping body
}
