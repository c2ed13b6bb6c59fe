// Package peer authenticates the link between the two nodes of a pair, in
// one place for both two-node schemes: gateway (master/backup) runs the
// framed link described below (Node); schedsync (primary/secondary), whose
// nodes both listen and dial over HTTP with several requests in flight,
// uses HTTPAuth (httpsign.go: a MAC on every request, body and named
// headers included, and a proof on every answer, body and trailers
// included) with a bounded ReplayCache (replay.go). Both use PinnedTLS,
// the same derivation of HMAC-SHA256 keys from the secret (proof) and
// constant-time comparison.
//
// On the framed link one node listens (the master), the other dials it
// (the backup) and redials with backoff whenever the link drops. A link
// comes up in four steps:
//
//  1. transport: plain TCP, or TLS where each side pins the SHA-256
//     fingerprint of the other's certificate (self-signed certs are fine);
//  2. authentication: with a shared secret, the dialer's first frame
//     (magic "RDP2": protocol version 2) proves the secret: HMAC-SHA256
//     over the magic, the mode, a fresh 32-byte nonce from crypto/rand and
//     the signing time. The listener verifies it before it sends anything
//     but an AuthFail code (a stranger gets no HMAC output to test guesses
//     of the secret on), refuses a time more than 60 s from its own clock
//     (the nodes' clocks must agree within that: NTP) and a nonce it has
//     seen (a bounded ReplayCache). Then the listener proves the secret
//     over both nonces, the dialer answers, and every frame carries a MAC
//     keyed from the secret and both nonces; comparisons are constant-time.
//     Plain links (no secret, no TLS) are allowed only with Config.Plain
//     set;
//  3. handshake: both sides exchange a Hello (node id, mode, version, epoch,
//     uptime, application fields) and run the caller's Compat function; a
//     refusal reason is sent to the other side, so both report the same
//     Refused event (except a listener whose link is already up: it counts
//     the refused connection in Status.Dropped and stays Up);
//  4. running: heartbeats (ping every PingInterval, a ping unanswered after
//     PingTimeout is missed, MaxMissed misses drop the link) and a silence
//     limit (Options.DownAfter, usually the scheme's failover_timeout).
//
// On the wire every message is a frame: a 4-byte big-endian length, a type
// byte, the payload and, with a shared secret, a 16-byte MAC. A received
// frame larger than the limit, an unknown type or a bad MAC drops the
// connection; the node itself carries on and waits for (or redials) a good
// one. A frame above Options.MaxFrame is also refused when sending
// (ErrFrameTooLarge for that Send or Request; an oversized answer becomes
// an error answer), so a too-large message does not drop the link.
//
// # Before authentication
//
// Anyone who can reach the listener's port can open connections to it, so
// until the other end has authenticated (proved the secret, or presented
// the pinned certificate) a connection is bounded and powerless:
//
//   - a first frame of at most 1 KiB, later frames of at most 64 KiB (the
//     length is checked before anything is allocated), through 4 KiB
//     buffers; Options.MaxFrame and 64 KiB buffers apply once the link is
//     up;
//   - 1 s for the TLS handshake and the first frame, 5 s for the whole
//     handshake;
//   - at most 4 handshakes per source (IPv4 address or IPv6 /64) and 32 in
//     all; a new connection that finds its source or the table full evicts
//     the oldest unauthenticated handshake (of its own source, or of the
//     source holding the most). A handshake whose first frame proved the
//     secret, or whose certificate matched the pin, is never evicted by an
//     unauthenticated one, so a flood, from any number of addresses or
//     from the peer's own /64, cannot keep out a peer whose first frame
//     has arrived, even on a listener that has never seen it (it can evict
//     the peer's connection before that: 32 new connections within half a
//     round trip). Sources that authenticated before are spared besides;
//   - every failure is a drop counted in Status.Dropped and logged at most
//     once a minute: no event, no state change, and nothing the other end
//     wrote is shown. Before authentication a refusal travels as a one-byte
//     code (AuthFail), never as text, and a Refuse frame is discarded
//     unread; the same holds on the dialer for an end that has not proved
//     the secret. A failed TLS handshake has a fixed reason (tlsLabel):
//     crypto/tls quotes the names of a certificate it cannot parse. A
//     replayed first frame gets no answer at all.
//
// Text from an authenticated peer (Refuse and Close reasons, remote errors,
// Hello strings) is shown with control and bidirectional-text characters
// removed, so it cannot drive a terminal or an HTML page.
//
// # Mismatch
//
// A node that answers the handshake is alive, even when it cannot be
// paired. When the other end completes the transport and answers with a
// well-formed challenge whose proof fails, or with an AuthFail code, or
// presents (or rejects) a certificate against the pins, the dialer's link
// is in state Mismatch with reason "secrets differ" or "certificates
// differ" (it never says which side is wrong), "clocks differ by more than
// 60s" (the listener refused the first frame's time), or "the other node
// speaks peer protocol N: run the same redund version on both nodes" (the
// listener's AuthFail code carries its version; a protocol 1 listener,
// which closes on our first frame unanswered, is recognised by a second
// connection that sends a plain protocol 1 hello, which it refuses with
// code 1). A protocol 1 dialer is answered with the code it reads as
// "secrets differ", so an old backup stays standby too. The listener enters Mismatch only when the dialer's certificate
// matched its pin (then it knows the dialer is the peer); otherwise a
// mismatching dialer is one more counted drop, since it cannot be told
// from a stranger. While in Mismatch the dialer redials as usual but at
// least three times per DownAfter, every answer is delivered as a Mismatch
// event (Event.Repeat set after the first, Event.LastHeard fresh), and the
// warning is logged at most once a minute. A scheme may treat "a Mismatch
// within DownAfter" as "the other node is alive" (gateway keeps a backup
// standby); once the other end stops answering the dialer reports Down.
//
// The trade-off: without the secret anyone can imitate a node with another
// secret (a random proof is as good as a wrong one), so whoever answers on
// the address the dialer dials (someone on the path, or who took over the
// listener's address) can make the dialer believe a live peer exists, for
// as long as it keeps answering every redial; a stranger who can merely
// connect to the listener cannot (a listener ignores mismatching
// connections it cannot authenticate). With pinned TLS "secrets differ"
// can only come from the pinned peer; "certificates differ" can always be
// imitated.
//
// The application sends its own frames with Node.Send (types >= TypeApp,
// delivered in order to Options.OnMessage, so a sequence of Sends is a
// stream) and makes calls with Node.Request (answered by Options.OnRequest
// in its own goroutine). State changes (Connecting, Up, Down, Refused,
// Mismatch) are reported to Options.OnEvent in order (and to the
// Options.Events channel when set) and summarised by Node.Status.
//
// Typical use:
//
//	n, err := peer.New(cfg, peer.Options{
//		Listen: ":8088",                  // master; or Dial: "master:8088" on the backup
//		Hello:  func() peer.Hello { return peer.Hello{NodeID: "a", Mode: "master", Version: v} },
//		Compat: func(local, remote peer.Hello) error { ... },
//		OnEvent: func(e peer.Event) { ... },
//		OnMessage: func(typ byte, body []byte) { ... },
//	})
//	go n.Run(ctx)
package peer
