package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redund/redund/internal/peer"
)

// PostHistory stores points on the active node: the master (or an
// independent node) writes them to its history store; an active backup in
// partial mode caches them for the master, in full mode writes them to
// its own store and, unless that store is a database shared with the
// master (PostgreSQL), also forwards every one (duplicates possible when
// the master was only unreachable; see docs/gateway.md).
func (g *Gateway) PostHistory(points []Point) (int, error) {
	for i, p := range points {
		if err := checkPoint(p); err != nil {
			return 0, badPoint{fmt.Errorf("gateway: point %d: %w", i, err)}
		}
	}
	return whileActive(g, func() (int, error) {
		fence, err := g.fence()
		if err != nil {
			return 0, err
		}
		for i := range points {
			points[i].Fence = fence
		}
		if g.cfg.Mode != ModeBackup {
			return g.hist.insert(points, "")
		}
		if g.cfg.History == HistoryFull {
			if _, err := g.hist.insert(points, ""); err != nil {
				return 0, err
			}
			if g.hist.shared {
				return len(points), nil // written directly to the database both nodes share
			}
		}
		if err := g.hist.cache(points); err != nil {
			return 0, err
		}
		return len(points), nil
	})
}

// ErrBadPoint matches (errors.Is) a history point refused before it is
// stored (the API answers 400).
var ErrBadPoint = errors.New("gateway: bad history point")

type badPoint struct{ error }

func (badPoint) Is(target error) bool { return target == ErrBadPoint }

// maxTag bounds a point's tag, so that a batch of cached points always
// fits in one frame of the peer link (500 × 1 KiB, far below its limit).
const maxTag = 1024

// checkPoint refuses, before it is acknowledged, a point that could not
// be stored or forwarded: one the master would refuse or the link could
// not carry would otherwise block the backup's cache behind it.
func checkPoint(p Point) error {
	switch {
	case p.Tag == "" || p.TSMS <= 0:
		return fmt.Errorf("tag and ts_ms are required")
	case len(p.Tag) > maxTag:
		return fmt.Errorf("tag of %d bytes (limit %d)", len(p.Tag), maxTag)
	case strings.ContainsRune(p.Tag, 0):
		return fmt.Errorf("tag contains a NUL character")
	}
	return nil
}

// QueryHistory returns a tag's points between from and to (unix ms).
func (g *Gateway) QueryHistory(tag string, from, to int64) ([]Point, error) {
	return g.hist.query(tag, from, to)
}

// forwardLoop (backup) sends cached points to the master whenever the link
// is up. In partial mode a point whose time falls in one of the master's
// active intervals is dropped: the master recorded it itself and was only
// unreachable. Points leave the cache only once the master has committed
// them, and the master ignores a (source, seq) it already has, so every
// point is stored exactly once.
func (g *Gateway) forwardLoop(ctx context.Context) {
	var rf refusals
	for ctx.Err() == nil {
		v := g.view()
		up, ch := v.Link == linkUp, v.changed
		if up {
			sent, more, err := g.forwardBatch(ctx, rf.size())
			var wait time.Duration
			var re *peer.RemoteError
			switch {
			case errors.As(err, &re): // the master answered: a refusal
				var setAside bool
				if rf, wait, setAside = rf.refused(g.refusal, len(sent), time.Now()); setAside {
					g.setAsideRefused(sent[0], re.Msg)
					more = true
				}
			case err == nil:
				rf = rf.accepted()
			}
			g.hist.mu.Lock()
			if err != nil {
				g.hist.lastForwardErr = err.Error()
			}
			g.hist.refusedInRow = rf.inRow
			g.hist.mu.Unlock()
			if wait > 0 { // after a refusal, nothing but the end wakes the loop early
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
				continue
			}
			if more {
				continue
			}
		}
		select {
		case <-ctx.Done():
		case <-ch:
		case <-g.hist.wake:
		case <-time.After(time.Second):
		}
	}
}

// setAsideRefused moves a cached point the master keeps refusing into the
// quarantine, so that the points behind it are forwarded.
func (g *Gateway) setAsideRefused(p Point, why string) {
	why = fmt.Sprintf("the master refused it %d times over at least %v: %s", g.refusal.Strikes, g.refusal.MinSpan, why)
	if err := g.hist.quarantine(p.Seq); err != nil {
		g.log.Error("history cache: cannot set aside a refused point", "seq", p.Seq, "err", err)
		return
	}
	g.log.Warn("history cache: a point the master refuses set aside (quarantined)", "seq", p.Seq, "tag", p.Tag, "why", why)
	g.sysEvent("history", fmt.Sprintf("set aside cached point %d (tag %.100q, kept in the quarantine bucket of replica.db): %s", p.Seq, p.Tag, why))
}

// forwardBatch forwards up to n cached points and returns the points it
// sent (the master refused them when the error is a *peer.RemoteError)
// and whether more wait.
func (g *Gateway) forwardBatch(ctx context.Context, n int) ([]Point, bool, error) {
	points, total, bad, err := g.hist.forwardable(n)
	if len(bad) > 0 {
		g.log.Warn("history cache: entries that cannot be forwarded set aside (quarantined)", "count", len(bad), "first", bad[0])
		g.sysEvent("history", fmt.Sprintf("set aside %d cached entries that cannot be forwarded (kept in the quarantine bucket of replica.db); first: %s",
			len(bad), bad[0]))
	}
	if err != nil || len(points) == 0 {
		return nil, false, err
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	send, drop := points, []Point(nil)
	if g.cfg.History == HistoryPartial {
		body, err := g.node.Request(rctx, reqUptime, nil)
		if err != nil {
			// not a refusal of the points (%v: errors.As finds no RemoteError)
			return nil, false, fmt.Errorf("the master's active intervals: %v", err)
		}
		var ivs []interval
		if err := json.Unmarshal(body, &ivs); err != nil {
			return nil, false, err
		}
		send, drop = splitByIntervals(points, ivs)
	}
	inserted, err := g.sendCached(rctx, send)
	if err != nil {
		return send, false, err
	}
	if err := g.hist.uncache(points); err != nil {
		return send, false, err
	}
	g.hist.mu.Lock()
	g.hist.forwarded += int64(inserted)
	g.hist.repeated += int64(len(send) - inserted)
	g.hist.dropped += int64(len(drop))
	g.hist.lastForward, g.hist.lastForwardErr = time.Now(), ""
	g.hist.mu.Unlock()
	if len(drop) > 0 {
		g.sysEvent("history", fmt.Sprintf("dropped %d cached points the master recorded itself (it was only unreachable)", len(drop)))
	}
	return send, total > len(points), nil
}

// sendCached forwards points to the master and returns how many it stored
// now, from its reply (the others it already had: a repeat after a lost
// reply). A reply that does not say so is not an acknowledgement.
func (g *Gateway) sendCached(ctx context.Context, send []Point) (int, error) {
	if len(send) == 0 {
		return 0, nil
	}
	body, _ := json.Marshal(forwardReq{Source: g.hist.source(), Points: send})
	reply, err := g.node.Request(ctx, reqHistory, body)
	if err != nil {
		return 0, err
	}
	var r struct {
		Inserted *int `json:"inserted"`
	}
	if err := json.Unmarshal(reply, &r); err != nil || r.Inserted == nil || *r.Inserted < 0 || *r.Inserted > len(send) {
		return 0, fmt.Errorf("the master's answer to %d forwarded points is not an acknowledgement: %.100q", len(send), reply)
	}
	return *r.Inserted, nil
}

// splitByIntervals separates points taken while the master was down (to
// forward) from those taken while it was active (to drop).
func splitByIntervals(points []Point, ivs []interval) (send, drop []Point) {
	for _, p := range points {
		in := false
		for _, iv := range ivs {
			if p.TSMS >= iv.From && p.TSMS <= iv.To {
				in = true
				break
			}
		}
		if in {
			drop = append(drop, p)
		} else {
			send = append(send, p)
		}
	}
	return send, drop
}
