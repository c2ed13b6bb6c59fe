package peer

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// protoVersion is the link protocol this build speaks, the digit that
// ends the magic of the dialer's first frame ("RDP2"). Version 1 sent the
// dialer's nonce alone, so the listener proved the secret first, to
// anyone who connected.
const protoVersion byte = 2

// magicPrefix starts the magic; a digit, the protocol version, follows.
const magicPrefix = "RDP"

// clockWindow: the listener refuses a first frame signed further than
// this from its own clock, so the two nodes' clocks must agree within it
// (NTP). Nonces are remembered while their signing time is inside it.
const clockWindow = 60 * time.Second

// maxFirstNonces bounds the first-frame nonces remembered (ReplayCache):
// only frames whose proof verified are recorded, so only a holder of the
// secret can fill it.
const maxFirstNonces = 4096

// Lengths in the first frame.
const (
	stampLen = 8 // signing time: unix milliseconds, big-endian
	proofLen = sha256.Size
)

// firstProofLabel keys the dialer's first-frame proof: protocol and role,
// distinct from (and no prefix of) the labels of the later proofs.
const firstProofLabel = "redund-peer/2 dialer first frame"

// firstFrame is the dialer's first frame, parsed. With a secret it
// carries a fresh nonce, the signing time and a proof of the secret over
// the magic, the mode, the nonce and the time.
type firstFrame struct {
	mode   byte
	nonce  []byte
	sent   time.Time
	signed []byte // the bytes the proof covers
	proof  []byte
}

// versionError: the first frame is a redund peer's, of another protocol
// version.
type versionError struct{ version byte }

func (e *versionError) Error() string { return reasonVersion(e.version) }

// reasonVersion is the Mismatch reason (and log text) for a node of
// another protocol version.
func reasonVersion(v byte) string {
	return fmt.Sprintf("the other node speaks peer protocol %d: run the same redund version on both nodes", v)
}

// encodeFirst builds the dialer's first frame (no secret: magic and mode
// alone).
func encodeFirst(secret, nd []byte, sent time.Time) []byte {
	b := append([]byte(magicPrefix), '0'+protoVersion, authPlain)
	if len(secret) == 0 {
		return b
	}
	b[len(b)-1] = authSecret
	b = append(b, nd...)
	b = binary.BigEndian.AppendUint64(b, uint64(sent.UnixMilli()))
	return append(b, firstProof(secret, b)...)
}

func firstProof(secret, signed []byte) []byte {
	return proof(secret, firstProofLabel, signed, nil)
}

// parseFirst checks the dialer's first frame: a *versionError for a
// redund peer of another protocol version, another error for anything
// that is not a redund peer.
func parseFirst(b []byte) (firstFrame, error) {
	pre := len(magicPrefix)
	if len(b) < pre+2 || !bytes.Equal(b[:pre], []byte(magicPrefix)) || b[pre] < '1' || b[pre] > '9' {
		return firstFrame{}, errors.New("not a redund peer (bad magic)")
	}
	if v := b[pre] - '0'; v == 1 && !wellFormedV1(b[pre+1:]) {
		return firstFrame{}, errors.New("bad first frame (protocol 1)")
	} else if v != protoVersion {
		return firstFrame{}, &versionError{version: v}
	}
	f := firstFrame{mode: b[pre+1]}
	rest := b[pre+2:]
	switch {
	case f.mode == authPlain && len(rest) == 0:
		return f, nil
	case f.mode != authSecret || len(rest) != nonceLen+stampLen+proofLen:
		return firstFrame{}, errors.New("bad first frame")
	}
	f.nonce = rest[:nonceLen]
	f.sent = time.UnixMilli(int64(binary.BigEndian.Uint64(rest[nonceLen:])))
	f.signed, f.proof = b[:len(b)-proofLen], rest[nonceLen+stampLen:]
	return f, nil
}

// wellFormedV1 reports whether rest (after "RDP1") is a protocol 1
// hello: mode plain alone, or mode secret and a nonce.
func wellFormedV1(rest []byte) bool {
	return (rest[0] == authPlain && len(rest) == 1) || (rest[0] == authSecret && len(rest) == 1+nonceLen)
}

// verify reports whether the frame's proof was made with secret.
func (f firstFrame) verify(secret []byte) bool {
	return hmac.Equal(f.proof, firstProof(secret, f.signed))
}

// replayKey is the part of the nonce the ReplayCache remembers (the
// proof covers all of it).
func (f firstFrame) replayKey() (k [16]byte) {
	copy(k[:], f.nonce)
	return k
}

// newFirstNonces is the listener's cache of first-frame nonces. Unlike
// NewReplayCache it accepts times up to clockWindow before its creation:
// a backup whose clock is a little behind is not refused after the
// master restarts. (A first frame captured before the restart can then be
// replayed once; it wins a handshake slot until its handshake fails, as
// it cannot answer the challenge.)
func newFirstNonces() *ReplayCache {
	c := NewReplayCache(clockWindow, maxFirstNonces)
	c.floor = time.Now().Add(-clockWindow).UnixMilli() - 1
	return c
}
