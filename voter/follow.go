package voter

import (
	"net/netip"
	"time"
)

// moveQuiet is how long the address a connected client is at must have
// sent nothing before a packet with the client's digest from another
// address moves the client there.
//
// The digest names the client but covers neither the body nor the time
// stamp, so one captured packet, replayed (or rewritten) from any source,
// carries a valid digest. chan_voter follows every such packet at once:
// the client's audio and keepalives go to whoever sent it until the
// client's next packet. A real client sends at least every 1.5 s (GPS
// boards every second, non-GPS keepalives every 1.5 s, audio every 20 ms),
// so while it is there its address is never quiet this long, and a NAT
// that rebinds it leaves the old address quiet for good. Less than the
// 3 s after which the client is dropped, so a rebound client is usually
// followed before that; when it is dropped first, its next packet starts
// a session at the new address, as for any disconnected client.
const moveQuiet = 2 * time.Second

// Why a packet with a client's digest from another address was dropped.
const (
	refusedLive  = "current_address_live"
	refusedStale = "stale_from_new_address"
)

// stamp is a packet's VOTER time stamp as one number that orders both
// shapes: seconds and nanoseconds (GPS time), or seconds (0 without a
// GPS receiver) and a 20 ms sequence number (mix-mode boards).
func stamp(h *Header) uint64 { return uint64(h.Sec)<<32 | uint64(h.Nsec) }

// keepClass reports whether packets of kind k carry whole seconds only:
// boards send keepalives (type 2) and ping echoes (type 5) with their
// clock's second and 0 nanoseconds, audio and auth packets with the
// frame's time (GPS) or sequence number (mix).
func keepClass(k uint16) bool { return k == TypeGPS || k == TypePing }

// follow decides whether a packet with c's digest from `from` is taken,
// and moves c there when `from` is new (mu held). A packet from the
// client's address, or for a client without a session, is always taken.
// From another address it is taken only when the current one has been
// quiet for moveQuiet and the packet is newer than the client's last one
// of its kind; otherwise it is dropped and counted, and the client stays.
func (g *group) follow(c *client, p *Packet, from netip.AddrPort, now time.Time) bool {
	if c.heard && c.addr.IsValid() && c.addr != from {
		why := ""
		switch {
		case now.Sub(c.lastAtAddr) < g.moveQuiet:
			why = refusedLive
		case !c.advances(p):
			why = refusedStale
		}
		if why != "" {
			g.refuseMove(c, from, why, now)
			return false
		}
		g.stats.AddrChanges++
		if ok, held := g.changeLog.Allow(now); ok {
			g.log.Info("client address changed", "instance", c.inst.name, "client", c.name,
				"from", c.addr.String(), "to", from.String(), "quiet_s", now.Sub(c.lastAtAddr).Seconds(),
				"repeated_since_last_log", held)
		}
	}
	c.setAddr(from)
	c.lastAtAddr = now
	if keepClass(p.Kind) {
		c.lastKeepSec = p.Sec
	} else {
		c.lastStamp = stamp(&p.Header)
	}
	return true
}

// advances reports whether p is newer than the client's last accepted
// packet of its kind. A keepalive whose seconds are 0 from a client whose
// keepalives have all been 0 (a mix-mode board without GPS: its clock has
// no time) proves nothing either way: quiet alone decides.
func (c *client) advances(p *Packet) bool {
	if keepClass(p.Kind) {
		if p.Sec == 0 && c.lastKeepSec == 0 {
			return true
		}
		return p.Sec > c.lastKeepSec
	}
	return stamp(&p.Header) > c.lastStamp
}

// moveLogEvery bounds the lines about clients moving, and about packets
// that did not move them, per socket: whoever holds one captured packet
// can send such packets at any rate.
const moveLogEvery = 10 * time.Second

// refuseMove counts a packet that did not move c and logs it, at most
// once per moveLogEvery per socket.
func (g *group) refuseMove(c *client, from netip.AddrPort, why string, now time.Time) {
	if why == refusedLive {
		g.stats.MoveRefusedLive++
	} else {
		g.stats.MoveRefusedStale++
	}
	c.drops++
	if ok, held := g.moveLog.Allow(now); ok {
		g.log.Warn("packet with a client's digest from another address dropped; the client stays",
			"instance", c.inst.name, "client", c.name, "at", c.addr.String(), "from", from.String(),
			"reason", why, "repeated_since_last_log", held)
	}
}
