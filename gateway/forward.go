package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// PostHistory stores points on the active node: the master (or an
// independent node) writes them to its history store; an active backup in
// partial mode caches them for the master, in full mode writes them to
// its own store and, unless that store is a database shared with the
// master (PostgreSQL), also forwards every one (duplicates possible when
// the master was only unreachable; see docs/gateway.md).
func (g *Gateway) PostHistory(points []Point) (int, error) {
	for i, p := range points {
		if p.Tag == "" || p.TSMS <= 0 {
			return 0, fmt.Errorf("gateway: point %d: tag and ts_ms are required", i)
		}
	}
	return whileActive(g, func() (int, error) {
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
	for ctx.Err() == nil {
		v := g.view()
		up, ch := v.Link == linkUp, v.changed
		if up {
			more, err := g.forwardBatch(ctx)
			g.hist.mu.Lock()
			if err != nil {
				g.hist.lastForwardErr = err.Error()
			}
			g.hist.mu.Unlock()
			if more && err == nil {
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

func (g *Gateway) forwardBatch(ctx context.Context) (bool, error) {
	points, total, err := g.hist.cached(500)
	if err != nil || len(points) == 0 {
		return false, err
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	send, drop := points, []Point(nil)
	if g.cfg.History == HistoryPartial {
		body, err := g.node.Request(rctx, reqUptime, nil)
		if err != nil {
			return false, err
		}
		var ivs []interval
		if err := json.Unmarshal(body, &ivs); err != nil {
			return false, err
		}
		send, drop = splitByIntervals(points, ivs)
	}
	if len(send) > 0 {
		body, _ := json.Marshal(forwardReq{Source: g.cfg.NodeID, Points: send})
		if _, err := g.node.Request(rctx, reqHistory, body); err != nil {
			return false, err
		}
	}
	if err := g.hist.uncache(points); err != nil {
		return false, err
	}
	g.hist.mu.Lock()
	g.hist.forwarded += int64(len(send))
	g.hist.dropped += int64(len(drop))
	g.hist.lastForward, g.hist.lastForwardErr = time.Now(), ""
	g.hist.mu.Unlock()
	if len(drop) > 0 {
		g.sysEvent("history", fmt.Sprintf("dropped %d cached points the master recorded itself (it was only unreachable)", len(drop)))
	}
	return total > len(points), nil
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
