// Package witness lets redund nodes take part in locks (leader elections)
// kept by an etcd cluster, so that two nodes that cannot see each other
// still never both act: etcd is the distributed engine, redund writes no
// consensus of its own.
//
// A Witness holds one etcd lease for this node (granted with the TTL of the
// [witness] table) and any number of named locks on it, built on etcd's
// concurrency package (Session, Election). Each holding has a fencing
// token, the revision at which the lock key was created, which grows with
// every new holder. The lease is kept alive with one keep-alive at a time;
// the holder gives the lease up, and reports every lock Lost, at a deadline
// on its own monotonic clock (one that also counts the time the host was
// suspended, clock.go): the send time of the last answered keep-alive
// plus TTL minus a quarter of the TTL. etcd cannot have started the lease's
// TTL before that send, so the holder stops before etcd can expire the
// lease and before anyone else can acquire the lock, even when it never
// hears from etcd again.
//
// A node can also publish values with its lease (Publish), which vanish
// when the node stops or is cut off, and read or watch every node's value
// of a topic (Values, Watch): the view each ddns decider shares.
package witness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/redund/redund/internal/logging"
)

// ErrClosed is returned by calls made after Run has returned.
var ErrClosed = errors.New("witness: closed")

// Witness is this node's membership in the etcd witness. New never dials;
// Run does, and keeps the lease and the locks until its context ends.
type Witness struct {
	cfg    Config
	node   string
	prefix string
	t      timing
	log    *slog.Logger
	tls    *tls.Config
	now    func() time.Time // time.Now, plus the time the host spent suspended (clock.go)

	started  atomic.Bool
	nudge    chan struct{}  // user wishes changed (capacity 1)
	inputs   chan any       // effect results for the loop
	ready    chan struct{}  // closed once the client exists
	loopDone chan struct{}  // closed when the loop has returned
	done     chan struct{}  // closed when Run has returned
	wg       sync.WaitGroup // every goroutine but drops
	drops    sync.WaitGroup // lease revocations, waited for before the client closes

	mu        sync.Mutex // guards what follows; never held across I/O
	closing   bool       // no new goroutines
	closed    bool       // Close was called
	cancelRun context.CancelFunc
	cli       *clientv3.Client
	ectx      context.Context // effects' context, ends after the loop
	locks     map[string]*Lock
	pubs      map[string]*pubValue
	sessions  map[int64]*concurrency.Session
	cancels   map[string]context.CancelFunc // running campaigns, by lock
	deadline  time.Time                     // of the current lease; zero: none
	snap      snapshot
	members   []Member
	holders   map[string]Holder
}

// New checks cfg and returns a Witness; it reads the TLS files but does
// not dial. log may be nil.
func New(cfg Config, log *slog.Logger) (*Witness, error) {
	cfg.SetDefaults() // cfg is a copy
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	node, err := cfg.nodeName()
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	tc, err := cfg.tlsConfig()
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	if log == nil {
		log = logging.Discard()
	}
	return &Witness{
		cfg: cfg, node: node, prefix: cfg.Prefix, t: newTiming(cfg.TTL.D()), tls: tc, now: suspendAware(bootTime),
		log:   log.With("component", "witness", "node", node),
		nudge: make(chan struct{}, 1), inputs: make(chan any), ready: make(chan struct{}),
		loopDone: make(chan struct{}), done: make(chan struct{}),
		locks: map[string]*Lock{}, pubs: map[string]*pubValue{},
		sessions: map[int64]*concurrency.Session{}, cancels: map[string]context.CancelFunc{},
		holders: map[string]Holder{},
	}, nil
}

// ErrNoTable is Open's answer to a scheme with `witness = true` and no
// [witness] table.
var ErrNoTable = errors.New("witness = true needs the [witness] table (the etcd members)")

// Open is how a scheme with `witness = true` takes part: the Witness of
// the [witness] table cfg (nil: ErrNoTable) and its lock called lock. Like
// New it does not dial; the caller runs the Witness (Run) and reads the
// lock's Events.
func Open(cfg *Config, lock string, log *slog.Logger) (*Witness, *Lock, error) {
	if cfg == nil {
		return nil, nil, ErrNoTable
	}
	w, err := New(*cfg, log)
	if err != nil {
		return nil, nil, err
	}
	l, err := w.Lock(lock)
	if err != nil {
		return nil, nil, err
	}
	return w, l, nil
}

// Node is this node's name in etcd.
func (w *Witness) Node() string { return w.node }

// TTL is the lease's time to live.
func (w *Witness) TTL() time.Duration { return w.t.ttl }

// Lock returns the lock called name (letters, digits, '.', '_', ':', '-'),
// the same one for every call with that name. Locks can be had before or
// while Run runs.
func (w *Witness) Lock(name string) (*Lock, error) {
	if !nameRe.MatchString(name) {
		return nil, fmt.Errorf("witness: lock name %q: use letters, digits, '.', '_', ':' or '-'", name)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if l := w.locks[name]; l != nil {
		return l, nil
	}
	l := &Lock{w: w, name: name, events: make(chan Event, eventBuffer)}
	if w.closing {
		close(l.events) // Run has returned: nothing will be sent
		return l, nil
	}
	w.locks[name] = l
	return l, nil
}

// poke tells the loop that the users' wishes changed.
func (w *Witness) poke() {
	select {
	case w.nudge <- struct{}{}:
	default:
	}
}

// Close stops Run (as cancelling its context does) and waits until it has
// returned: held locks are reported Lost and the lease is revoked, which
// deletes this node's keys so that a waiting node takes over at once.
func (w *Witness) Close() {
	w.mu.Lock()
	w.closed = true
	cancel := w.cancelRun
	w.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if w.started.Load() {
		<-w.done
	}
}

// Run connects to etcd and keeps the lease, the locks and the published
// values until ctx ends or Close is called; then it revokes the lease and
// returns nil. Run may be called once.
func (w *Witness) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("witness: Run called twice")
	}
	defer close(w.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.mu.Lock()
	w.cancelRun = cancel
	if w.closed {
		cancel()
	}
	w.mu.Unlock()
	cli, err := w.dial(ctx)
	if err != nil {
		w.finish(nil)
		return nil // ctx ended while dialing
	}
	ectx, ecancel := context.WithCancel(context.WithoutCancel(ctx))
	w.mu.Lock()
	w.cli, w.ectx = cli, ectx
	w.mu.Unlock()
	close(w.ready)
	w.log.Info("witness started", "endpoints", w.cfg.Endpoints, "ttl_s", w.t.ttl.Seconds(), "prefix", w.prefix)
	w.spawn(func() { w.probe(ectx) })
	w.loop(ctx, ectx)
	w.drops.Wait() // the lease is revoked (or the attempt timed out)
	ecancel()
	w.finish(cli)
	w.log.Info("witness stopped")
	return nil
}

// finish closes the client, waits for every goroutine and closes the
// locks' event channels.
func (w *Witness) finish(cli *clientv3.Client) {
	w.mu.Lock()
	w.closing = true
	w.mu.Unlock()
	if cli != nil {
		_ = cli.Close() // ends calls still waiting for a connection
	}
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.locks {
		close(l.events)
	}
	w.locks = map[string]*Lock{}
}

// spawn runs f in a goroutine that Run waits for; false when Run is
// finishing (f does not run).
func (w *Witness) spawn(f func()) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing {
		return false
	}
	w.wg.Go(f)
	return true
}

// loop owns the machine: it feeds it inputs one at a time and carries out
// its effects in order.
func (w *Witness) loop(ctx, ectx context.Context) {
	defer close(w.loopDone)
	m := newMachine(w.t)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var in any = w.wishes()
	for {
		now := w.now()
		lastErr := m.lastErr
		effs := m.step(in, now)
		if m.lastErr != lastErr && m.lastErr != "" {
			w.log.Warn("witness: "+m.lastErr, "lease", fmt.Sprintf("%x", m.lease))
		}
		w.record(m, now)
		w.apply(ectx, effs)
		if m.stopping {
			return
		}
		timer.Reset(untilWake(m.wake(), now))
		select {
		case <-ctx.Done():
			in = inStop{}
		case in = <-w.inputs:
		case <-w.nudge:
			in = w.wishes()
		case <-timer.C:
			in = inTick{}
		}
	}
}

func untilWake(wake, now time.Time) time.Duration {
	if wake.IsZero() {
		return time.Hour
	}
	return max(wake.Sub(now), 0)
}

// wishes reads what the users want now.
func (w *Witness) wishes() inSync {
	w.mu.Lock()
	defer w.mu.Unlock()
	in := inSync{wants: map[string]bool{}, pubs: map[string]uint64{}}
	for name, l := range w.locks {
		in.wants[name] = l.want
	}
	for topic, p := range w.pubs {
		in.pubs[topic] = p.version
	}
	return in
}

// report hands an effect's result to the loop (dropped once it stopped).
func (w *Witness) report(in any) {
	select {
	case w.inputs <- in:
	case <-w.loopDone:
	}
}

// apply carries out effects in order: events, cancellations and the
// lease deadline at once, calls to etcd in goroutines of their own.
func (w *Witness) apply(ctx context.Context, effs []effect) {
	for _, e := range effs {
		switch e := e.(type) {
		case effEvent:
			w.emit(e)
		case effCancel:
			w.mu.Lock()
			if c := w.cancels[e.lock]; c != nil {
				c()
			}
			w.mu.Unlock()
		case effGrant:
			w.spawn(func() { w.grant(ctx) })
		case effRenew:
			w.spawn(func() { w.renew(ctx, e.lease) })
		case effCampaign:
			w.startCampaign(ctx, e)
		case effGuard:
			w.startCall(ctx, e.lock, func(ctx context.Context) { w.guard(ctx, e) })
		case effResign:
			w.spawn(func() { w.resign(ctx, e) })
		case effPut:
			w.spawn(func() { w.put(ctx, e) })
		case effDrop:
			w.drops.Go(func() { w.drop(ctx, e.lease) })
		}
	}
}

func (w *Witness) emit(e effEvent) {
	// At is on the witness's clock, which a host suspend puts ahead of
	// time.Now: the users compare it with time.Now, so it is given as
	// the same age on that clock
	e.ev.At = time.Now().Add(-w.now().Sub(e.ev.At))
	w.mu.Lock()
	l := w.locks[e.lock]
	w.mu.Unlock()
	if e.ev.Kind == Acquired {
		w.log.Info("lock acquired", "lock", e.lock, "fence", e.ev.Fence)
	} else {
		w.log.Warn("lock lost", "lock", e.lock, "fence", e.ev.Fence, "reason", e.ev.Reason)
	}
	if l != nil {
		l.deliver(e.ev)
	}
}

func (w *Witness) startCampaign(ctx context.Context, e effCampaign) {
	w.startCall(ctx, e.lock, func(ctx context.Context) { w.campaign(ctx, e.lock, e.lease) })
}

// startCall runs f, the lock's call (a campaign or a guard), in a
// goroutine that effCancel ends.
func (w *Witness) startCall(ctx context.Context, lock string, f func(context.Context)) {
	cctx, cancel := context.WithCancel(ctx)
	w.mu.Lock()
	w.cancels[lock] = cancel
	w.mu.Unlock()
	if !w.spawn(func() { defer cancel(); f(cctx) }) {
		cancel()
	}
}
