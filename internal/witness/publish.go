package witness

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Keys, under the prefix:
//
//	lock/<lock>/<lease id, hex>   one per campaigning node; value: node name
//	pub/<topic>/<node>            a node's published value, on its lease

func (w *Witness) lockPrefix(lock string) string { return w.prefix + "lock/" + lock }

func (w *Witness) lockKey(lock string, lease int64) string {
	return fmt.Sprintf("%s/%x", w.lockPrefix(lock), lease)
}

func (w *Witness) pubPrefix(topic string) string { return w.prefix + "pub/" + topic + "/" }

func (w *Witness) pubKey(topic, node string) string { return w.pubPrefix(topic) + node }

// pubValue is what this node publishes in a topic.
type pubValue struct {
	value   string
	deleted bool
	version uint64
	setAt   time.Time // when the latest value was set
}

// Publish sets this node's value in topic (letters, digits, '.', '_', ':',
// '-'). The witness writes it with the lease, writes it again on every new
// lease, and etcd deletes it when the lease ends: only live nodes' values
// are there. It returns at once.
func (w *Witness) Publish(topic, value string) error {
	return w.setPub(topic, value, false)
}

// Unpublish deletes this node's value in topic.
func (w *Witness) Unpublish(topic string) error { return w.setPub(topic, "", true) }

func (w *Witness) setPub(topic, value string, deleted bool) error {
	if !nameRe.MatchString(topic) {
		return fmt.Errorf("witness: topic %q: use letters, digits, '.', '_', ':' or '-'", topic)
	}
	w.mu.Lock()
	p := w.pubs[topic]
	if p == nil {
		p = &pubValue{}
		w.pubs[topic] = p
	}
	p.value, p.deleted = value, deleted
	p.version++
	p.setAt = time.Now()
	w.mu.Unlock()
	w.poke()
	return nil
}

// Publication is how this node's value in a topic stands in etcd.
type Publication struct {
	// InEtcd: the latest value set is written on the current lease (the
	// others see it); false while a write is pending or failing, or
	// without a lease (etcd deleted the old one's keys).
	InEtcd bool
	Since  time.Time // when the latest value was set (zero: none)
}

// Publication returns how this node's value in topic stands in etcd, as of
// the witness loop's last step.
func (w *Witness) Publication(topic string) Publication {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.pubs[topic]
	if p == nil {
		return Publication{}
	}
	done, ok := w.snap.pubDone[topic]
	return Publication{InEtcd: ok && done == p.version, Since: p.setAt}
}

// Value is one node's published value.
type Value struct {
	Node     string `json:"node"`
	Key      string `json:"key"` // its etcd key
	Value    string `json:"value"`
	Revision int64  `json:"revision"` // etcd revision of the last write
}

// Holder is the node that holds a lock, as etcd has it.
type Holder struct {
	Node  string `json:"node"`
	Fence int64  `json:"fence"`
	Lease int64  `json:"lease"`
}

// wait returns the client once Run has one.
func (w *Witness) wait(ctx context.Context) (*clientv3.Client, context.Context, error) {
	select {
	case <-w.ready:
	case <-w.done:
		return nil, nil, ErrClosed
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	select {
	case <-w.done:
		return nil, nil, ErrClosed
	default:
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cli, w.ectx, nil
}

// Holder returns who holds lock now; ok is false when nobody does. It
// waits for Run to connect.
func (w *Witness) Holder(ctx context.Context, lock string) (h Holder, ok bool, err error) {
	cli, _, err := w.wait(ctx)
	if err != nil {
		return Holder{}, false, err
	}
	resp, err := cli.Get(ctx, w.lockPrefix(lock)+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return Holder{}, false, fmt.Errorf("witness: holder of %s: %w", lock, err)
	}
	if len(resp.Kvs) == 0 {
		return Holder{}, false, nil
	}
	kv := resp.Kvs[0]
	return Holder{Node: string(kv.Value), Fence: kv.CreateRevision, Lease: kv.Lease}, true, nil
}

// Values returns every live node's value in topic, by node name.
func (w *Witness) Values(ctx context.Context, topic string) ([]Value, error) {
	cli, _, err := w.wait(ctx)
	if err != nil {
		return nil, err
	}
	vals, _, err := w.getValues(ctx, cli, topic)
	if err != nil {
		return nil, err
	}
	return sortedValues(vals), nil
}

func (w *Witness) getValues(ctx context.Context, cli *clientv3.Client, topic string) (map[string]Value, int64, error) {
	prefix := w.pubPrefix(topic)
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("witness: values of %s: %w", topic, err)
	}
	vals := map[string]Value{}
	for _, kv := range resp.Kvs {
		node := strings.TrimPrefix(string(kv.Key), prefix)
		vals[node] = Value{Node: node, Key: string(kv.Key), Value: string(kv.Value), Revision: kv.ModRevision}
	}
	return vals, resp.Header.Revision, nil
}

func sortedValues(m map[string]Value) []Value {
	out := make([]Value, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

// WatchUpdate is one message of Watch: every live node's value in the
// topic, or, with Err set, why the watch is down. The witness sets the
// watch up again by itself; until an update with values comes, the last
// values may be out of date.
type WatchUpdate struct {
	Values []Value
	Err    error
}

// Watch sends every live node's value in topic (as Values) now and after
// every change, until ctx ends or Run returns; then the channel is closed.
// When the watch fails, or etcd does not answer a progress request within
// the TTL (a partition is silent), it sends the error and reads the whole
// set again after a pause. A reader that falls behind gets the newest
// update only.
func (w *Witness) Watch(ctx context.Context, topic string) (<-chan WatchUpdate, error) {
	cli, ectx, err := w.wait(ctx)
	if err != nil {
		return nil, err
	}
	ch := make(chan WatchUpdate, 1)
	if !w.spawn(func() { defer close(ch); w.watch(ctx, ectx, cli, topic, ch) }) {
		return nil, ErrClosed
	}
	return ch, nil
}

func (w *Witness) watch(ctx, ectx context.Context, cli *clientv3.Client, topic string, ch chan WatchUpdate) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ectx, cancel)
	defer stop()
	for ctx.Err() == nil {
		err := w.watchOnce(ctx, cli, topic, ch)
		if ctx.Err() != nil {
			return
		}
		offer(ch, WatchUpdate{Err: err})
		select { // the watch ended: read the whole set again
		case <-ctx.Done():
		case <-time.After(w.t.retry):
		}
	}
}

// watchOnce reads the set and follows changes until the watch fails, or
// etcd leaves it without an answer (an event or a progress notification)
// for the TTL.
func (w *Witness) watchOnce(ctx context.Context, cli *clientv3.Client, topic string, ch chan WatchUpdate) error {
	gctx, gcancel := context.WithTimeout(ctx, w.t.ttl)
	vals, rev, err := w.getValues(gctx, cli, topic)
	gcancel()
	if err != nil {
		return err
	}
	offer(ch, WatchUpdate{Values: sortedValues(vals)})
	// require a leader: a member cut off from the others ends the watch
	// instead of going quiet
	wctx, cancel := context.WithCancelCause(clientv3.WithRequireLeader(ctx))
	defer cancel(nil)
	// silence for the TTL ends the watch, even while cli.Watch waits for
	// etcd to confirm it
	silent := fmt.Errorf("witness: watch of %s: no answer from etcd within %s", topic, w.t.ttl)
	watchdog := time.AfterFunc(w.t.ttl, func() { cancel(silent) })
	defer watchdog.Stop()
	prefix := w.pubPrefix(topic)
	wch := cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	tick := time.NewTicker(w.t.renew)
	defer tick.Stop()
	for {
		select {
		case wr, ok := <-wch:
			if !ok {
				if err := context.Cause(wctx); err == silent {
					return err
				}
				return fmt.Errorf("witness: watch of %s: closed by the client", topic)
			}
			if err := wr.Err(); err != nil {
				return fmt.Errorf("witness: watch of %s: %w", topic, err)
			}
			watchdog.Reset(w.t.ttl)
			if len(wr.Events) == 0 {
				continue // a progress notification
			}
			applyEvents(vals, prefix, wr.Events)
			offer(ch, WatchUpdate{Values: sortedValues(vals)})
		case <-tick.C:
			// the answer (a progress notification) comes on wch; a
			// request that cannot be sent shows as silence
			pctx, pcancel := context.WithTimeout(wctx, w.t.renew)
			_ = cli.RequestProgress(pctx)
			pcancel()
		}
	}
}

// applyEvents applies a watch's events to the set.
func applyEvents(vals map[string]Value, prefix string, evs []*clientv3.Event) {
	for _, ev := range evs {
		node := strings.TrimPrefix(string(ev.Kv.Key), prefix)
		if ev.Type == mvccpb.DELETE {
			delete(vals, node)
		} else {
			vals[node] = Value{Node: node, Key: string(ev.Kv.Key), Value: string(ev.Kv.Value), Revision: ev.Kv.ModRevision}
		}
	}
}

// offer replaces an unread set with the newest (single sender).
func offer(ch chan WatchUpdate, v WatchUpdate) {
	select {
	case <-ch:
	default:
	}
	ch <- v
}
