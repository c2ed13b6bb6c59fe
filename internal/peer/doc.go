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
//  2. authentication: with a shared secret, an HMAC-SHA256 challenge-response
//     in both directions (32-byte nonces from crypto/rand, constant-time
//     comparison); afterwards every frame carries a MAC keyed from the
//     secret and both nonces. Plain links (no secret, no TLS) are allowed
//     only with Config.Plain set;
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
// frame larger than Options.MaxFrame, an unknown type or a bad MAC drops the
// connection; the node itself carries on and waits for (or redials) a good
// one. A frame above MaxFrame is also refused when sending (ErrFrameTooLarge
// for that Send or Request; an oversized answer becomes an error answer), so
// a too-large message does not drop the link.
//
// The application sends its own frames with Node.Send (types >= TypeApp,
// delivered in order to Options.OnMessage, so a sequence of Sends is a
// stream) and makes calls with Node.Request (answered by Options.OnRequest
// in its own goroutine). State changes (Connecting, Up, Down, Refused) are
// reported to Options.OnEvent in order (and to the Options.Events channel
// when set) and summarised by Node.Status.
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
