package voter

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// chan_voter's "puckit" ([general] puckit): some Garmin LVC-18 GPS pucks
// are sometimes exactly one second off. With puckit the server keeps, per
// client, the difference between the client's GPS time and the master's
// (taken when the client's GPS packet arrives) and applies it to the time
// it places the client's audio by and to the seconds it stamps transmit
// audio and pings with.

// puckOffset is the client's time minus the master's in ns (0 without
// puckit).
func (c *client) puckOffset() int64 {
	if !c.inst.cfg.PuckIt {
		return 0
	}
	return c.lastGPS - c.lastMasterGPS
}

// puck sets h.Sec to the master time moved by the client's offset, as
// chan_voter's mkpucked does (the nanoseconds field keeps the master's
// nanoseconds or the mix sequence number).
func (c *client) puck(h *Header, masterSec, masterNsec uint32) {
	t := int64(masterSec)*1e9 + int64(masterNsec) + c.puckOffset()
	h.Sec = uint32(t / 1e9)
}

// noteGPS records the times of a client's GPS or keepalive packet.
func (g *group) noteGPS(c *client, p *Packet) {
	c.lastGPS = int64(p.Sec)*1e9 + int64(p.Nsec)
	if c == g.master {
		g.masterGPS = c.lastGPS
	}
	c.lastMasterGPS = g.masterGPS
}

// gpsWrite is one GPS file to write, outside the lock.
type gpsWrite struct {
	path, line string
}

// gpsFileEvery is the least time between two GPS file writes for one
// client. Boards report their position once a second; the digest does not
// cover the position, so without it whoever saw one of the client's
// packets could make the server write and rename a file per datagram.
const gpsFileEvery = 500 * time.Millisecond

// queueGPSFile hands a gpsid client's position to the group's GPS writer
// (file I/O stays out of the lock); when the writer is behind, the
// position is dropped and the next one replaces it.
func (g *group) queueGPSFile(c *client, pos []byte, now time.Time) {
	path, ok := c.cfg.GPSFile(c.inst.cfg.GPSDir)
	if !ok || len(pos) < 19 || g.gpsq == nil {
		return
	}
	if since := now.Sub(c.gpsFileAt); !c.gpsFileAt.IsZero() && since >= 0 && since < gpsFileEvery {
		return
	}
	select {
	case g.gpsq <- gpsWrite{path, fmt.Sprintf("%d %s\n", now.Unix(), gpsString(pos))}:
		c.gpsFileAt = now
	default:
	}
}

// gpsWriter writes GPS files as chan_voter does: one line
// "unixtime lat lon elevM" to gps<id>.tmp, renamed to gps<id>.dat.
func (g *group) gpsWriter(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case w := <-g.gpsq:
			tmp := strings.TrimSuffix(w.path, ".dat") + ".tmp"
			err := os.WriteFile(tmp, []byte(w.line), 0o644)
			if err == nil {
				err = os.Rename(tmp, w.path)
			}
			if err != nil {
				g.log.Error("GPS file", "path", w.path, "err", err)
			}
		}
	}
}
