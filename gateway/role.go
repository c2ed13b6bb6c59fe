package gateway

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redund/redund/internal/replica"
)

// errStopping answers a command that arrives while the node stops.
var errStopping = errors.New("the node is stopping")

// Failover forces a failover: an active node hands control to its peer,
// a standby node takes it (and returns once it is active).
func (g *Gateway) Failover(ctx context.Context) (string, error) {
	r := g.ask(ctx, input{Kind: inFailover})
	return r.Msg, r.Err
}

// Resync forces a full snapshot: on a standby node of the providers it
// follows, on the active node by asking the peer to take one.
func (g *Gateway) Resync() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r := g.ask(ctx, input{Kind: inResync})
	return r.Msg, r.Err
}

// handOver answers the peer's handover request: the role loop steps down
// (after draining writers) and answers with where the state log stands,
// so that the peer can catch up before becoming active.
func (g *Gateway) handOver(ctx context.Context) ([]byte, error) {
	r := g.ask(ctx, input{Kind: inHandoverAsked})
	return r.Body, r.Err
}

// catchUp is the work of a takeover: the active peer steps down, then
// this node's state follower catches up to the position it answered. The
// role loop makes the node active only afterwards, so there is never a
// moment with two active nodes.
func (g *Gateway) catchUp(ctx context.Context) error {
	body, err := g.node.Request(ctx, reqHandover, nil)
	if err != nil {
		return fmt.Errorf("handover: %w", err)
	}
	var h handoverResp
	if err := json.Unmarshal(body, &h); err != nil {
		return fmt.Errorf("handover: %w", err)
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		pos, err := g.store.Position(ProvState)
		if err != nil {
			return err
		}
		if pos.SrcLogID == h.StateLogID && pos.Applied >= h.StateLast {
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return errors.New("handover: state did not catch up within 15s")
			}
			return errors.New("handover: the link to the peer dropped while catching up")
		case <-t.C:
		}
	}
}

var bucketGateway = []byte("gateway")

func (g *Gateway) loadEpoch() uint64 {
	var e uint64
	err := g.store.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketGateway); b != nil {
			k := []byte("epoch")
			if sv := b.Get(k); sv != nil {
				v, err := g.store.Unseal(string(bucketGateway), k, sv)
				if err != nil {
					return err
				}
				if len(v) == 8 {
					e = binary.BigEndian.Uint64(v)
				}
			}
		}
		return nil
	})
	if err != nil { // counted and shown by the store; the epoch starts again from 0
		g.log.Error("cannot load the epoch", "err", err)
	}
	return e
}

func (g *Gateway) saveEpoch(e uint64) {
	err := g.store.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketGateway)
		if err != nil {
			return err
		}
		k := []byte("epoch")
		return b.Put(k, replica.Seal(k, binary.BigEndian.AppendUint64(nil, e)))
	})
	if err != nil {
		g.log.Error("cannot save epoch", "err", err)
	}
}
