package schedsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redund/redund/internal/lifecycle"
	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/netlimit"
	"github.com/redund/redund/internal/peer"
	"github.com/redund/redund/internal/witness"
)

// refusedLogEvery is the interval of the refused-request log lines: the
// first refusal of an interval is logged, the others counted and summed
// up once per interval (and in redund_schedsync_refused_requests_total).
const refusedLogEvery = 10 * time.Second

// Options are what the caller supplies besides the config.
type Options struct {
	Version  string                // this build's version (both ends must match)
	Log      *slog.Logger          // nil: discard
	Registry prometheus.Registerer // nil: metrics are registered by Register
	Listener net.Listener          // nil: listen on cfg.Listen
	// Witness is the [witness] table, needed with witness = true; the node
	// runs its own witness (Run runs it).
	Witness *witness.Config
}

// Node is one end of a schedsync pair.
type Node struct {
	// testBeforeApply, when set (tests only), runs between a batch's
	// checks (screen, the stat of its paths) and its first write.
	testBeforeApply atomic.Pointer[func(targets []Entry)]

	cfg        *Config
	opt        Options
	log        *slog.Logger
	auth       *peer.HTTPAuth // nil: pinned TLS alone
	refusedLog *logging.Throttle
	serverLog  *netlimit.ErrorLog
	client     *peerClient
	ln         net.Listener
	w          *writer
	match      *matcher
	metrics    *metrics
	started    time.Time
	live       atomic.Pointer[Config] // cfg with the settings a Reload changed (see reload.go)
	listenOnce sync.Once
	listenErr  error
	app        *applier
	hooks      sync.WaitGroup
	saveMu     sync.Mutex               // one save of state.json at a time
	hookDrains sync.WaitGroup           // readers of hook output pipes (runWithOutput)
	setid      pathNotes                // secondary: paths whose setuid/setgid bits were dropped
	failNotes  pathNotes                // secondary: files that could not be installed, logged once per reason
	skipped    pathNotes                // primary: paths not synced (FIFOs, sockets, unsafe symlinks), logged once
	rehashCh   chan rehashReq           // primary: files a secondary found not matching the manifest
	prog       atomic.Pointer[progress] // secondary: the transfer in flight
	hashes     hashCache                // primary: hashes the scan computed, reused by deltas (hashcache.go)
	wit        *witnessState            // nil without witness = true
	pings      nodePings                // the loops' answers to PingLoops (liveness.go)

	mu           sync.Mutex
	role         Role
	epoch        uint64
	st           syncState
	peer         peerView
	peerEpochMax uint64
	clog         *changeLog             // primary only
	roleCancel   context.CancelFunc     // ends the current role loop
	resync       bool                   // a full resync was requested
	edits        map[string]string      // secondary: local edits found (path → what)
	failed       map[string]*failedFile // secondary: files that could not be installed, retried
	syncFail     syncFailure            // secondary: the sync loop's current run of failures
	failLog      logging.Every          // when syncFail is logged
	mismatchLog  logging.Every          // when an answer that shows the peer alive but unusable is logged
	guard        string                 // secondary: why it refuses to mirror (until resync)
	refused      map[string]string      // secondary: symlinks from the primary refused (path → why)
	hookStarted  uint64                 // hooks started so far
	hookDone     uint64                 // the latest started hook that has finished
	hookErr      string                 // why that hook failed; "": it ran
	hookQueue    []hookJob              // hooks waiting to run, in order
	hookRunning  bool                   // runHooks is running (n.hooks waits for it)
	hookNow      string                 // the hook that runs now ("promote", "demote"); "": none
	hookSince    time.Time              // when it started
	hookPipes    map[*os.File]struct{}  // hook output pipes still read (closed at the stop)
	hookLimit    time.Duration          // a hook's time limit: hookTimeout (shorter in tests)
	appPrimary   bool                   // the hooks last told the application this node is primary (start, promote)
	stopping     bool                   // Run is ending: only the stop hook is queued
	journalErr   string                 // in-place updates a crash left that could not be finished at start; "" once Synced
	stateErr     string                 // why the last save of state.json failed; "" once one succeeded
}

// New checks cfg and opens the directory; it binds nothing (Listen does)
// and keeps cfg as it is.
func New(cfg *Config, opt Options) (*Node, error) {
	c := *cfg // the caller's config is not changed
	c.SetDefaults()
	cfg = &c
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, opt: opt, log: logging.Component(opt.Log, "schedsync", cfg.NodeID), started: time.Now(),
		match: newMatcher(cfg.Exclude), metrics: newMetrics(),
		edits: map[string]string{}, refused: map[string]string{}, hookPipes: map[*os.File]struct{}{}, hookLimit: hookTimeout,
		failed: map[string]*failedFile{}, rehashCh: make(chan rehashReq),
		failLog: logging.Every{Period: failLogEvery}, mismatchLog: logging.Every{Period: failLogEvery},
		pings: newNodePings()}
	if opt.Registry != nil {
		if err := n.metrics.register(opt.Registry); err != nil {
			return nil, err
		}
	}
	var err error
	if n.auth, err = newLinkAuth(cfg.Secret.Reveal()); err != nil {
		return nil, err
	}
	n.refusedLog = logging.NewThrottle(n.log, "refused peer request", refusedLogEvery)
	n.serverLog = netlimit.NewErrorLog(n.log, "peer port")
	if cfg.Mode == ModePrimary {
		// A primary never creates its directory: a wrong path must not look
		// like an empty tree that the secondary then mirrors.
		if fi, err := os.Stat(cfg.Dir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("schedsync: dir %s: not an existing directory", cfg.Dir)
		}
	}
	if err := n.newWitness(); err != nil {
		return nil, err
	}
	w, err := openWriter(cfg.Dir)
	if err != nil {
		return nil, err
	}
	n.w = w
	w.conflicts.setLimits(cfg.ConflictsKeep, cfg.ConflictsMaxBytes)
	if err := n.loadState(); err != nil {
		_ = w.close()
		return nil, err
	}
	n.replayJournals()
	if n.client, err = newPeerClient(n); err != nil {
		_ = w.close()
		return nil, err
	}
	n.live.Store(cfg)
	if opt.Listener != nil { // bound by the caller: only wrapped here
		if err := n.Listen(); err != nil {
			_ = w.close()
			return nil, err
		}
	}
	return n, nil
}

// Listen binds the listen address (or takes Options.Listener). Run calls
// it when the caller has not.
func (n *Node) Listen() error {
	n.listenOnce.Do(func() { n.listenErr = n.bind() })
	return n.listenErr
}

// Bound names the socket Listen bound.
func (n *Node) Bound() []lifecycle.Bound {
	if a := n.Addr(); a != "" {
		return []lifecycle.Bound{{Key: "schedsync.listen", Addr: a}}
	}
	return nil
}

func (n *Node) bind() error {
	ln := n.opt.Listener
	if ln == nil && n.cfg.Listen != "" {
		var err error
		if ln, err = net.Listen("tcp", n.cfg.Listen); err != nil {
			return fmt.Errorf("schedsync: listen: %w", err)
		}
	}
	if ln == nil {
		return nil
	}
	wrapped, err := n.wrapListener(netlimit.Wrap(ln, SyncLimits()))
	if err != nil {
		ln.Close()
		return err
	}
	n.ln = wrapped
	return nil
}

// SyncLimits caps the connections of the sync listener: 256 at once
// (netlimit.Budget) and 128 from one source (the peer uses up to 64
// workers).
func SyncLimits() netlimit.Limits { return netlimit.Limits{Total: netlimit.Budget(256), PerSrc: 128} }

// Addr is the sync listener's address ("" when not listening).
func (n *Node) Addr() string {
	if n.ln == nil {
		return ""
	}
	return n.ln.Addr().String()
}

// Role is primary or secondary.
func (n *Node) Role() Role {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.role
}

// Run serves the peer, plays the node's role and switches role on
// promotion or demotion, until ctx ends.
func (n *Node) Run(ctx context.Context) error {
	defer n.w.close()
	if err := n.Listen(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if n.ln != nil {
		hs := netlimit.HTTPServer(n.handler(), n.serverLog) // TLS handshake errors: throttled
		wg.Go(func() { _ = hs.Serve(n.ln) })
		defer func() { _ = hs.Close(); wg.Wait() }()
	}
	if n.cfg.Peer != "" {
		wg.Go(func() { n.helloLoop(ctx) })
	}
	wg.Go(func() { n.refusedLog.Run(ctx) })
	wg.Go(func() { n.serverLog.Run(ctx) })
	wg.Go(func() { n.persistLoop(ctx) })
	// The lease outlives ctx until the stop hook has run (below): the
	// other node must not take over while this node's application runs.
	leaseCtx, releaseLease := context.WithCancel(context.WithoutCancel(ctx))
	defer releaseLease()
	witDone, witLoopDone := make(chan struct{}), make(chan struct{})
	if n.wit != nil {
		go func() { // waited for below, after the stop hook
			defer close(witDone)
			if err := n.wit.w.Run(leaseCtx); err != nil {
				n.log.Error("witness stopped", "err", err)
			}
		}()
		go func() { defer close(witLoopDone); n.runWitness(ctx) }() // waited for below
	} else {
		close(witDone)
		close(witLoopDone)
	}
	if n.w.symlinkSafe() {
		n.log.Info("paths are resolved with openat2 without following symlinks (symlink_safe)")
	} else {
		n.log.Warn("openat2 is refused here (old kernel or seccomp): a symlink swapped in between redund's check and its write is followed when it stays inside the tree (symlink_safe false)")
	}
	if c, err := n.w.cleanTemps(); err == nil && c > 0 {
		n.log.Info("removed temporary files left by a crash", "count", c)
	}
	n.boundConflicts()
	n.startHook() // without the witness: at once; with it, once the lock is held (runWitness)
	for ctx.Err() == nil {
		n.runRole(ctx)
	}
	cancel()
	<-witLoopDone // the witness rules change no role from here
	n.mu.Lock()
	n.stopping = true // no hook is queued after the stop hook (runHook)
	n.mu.Unlock()
	n.stopHook()
	n.hooks.Wait() // on_demote (stop) has run before the lock goes
	releaseLease()
	<-witDone // the lease is revoked: the other node can take over at once
	n.closeHookOutputs()
	n.client.hc.CloseIdleConnections()
	return nil
}

func (n *Node) runRole(ctx context.Context) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n.mu.Lock()
	n.roleCancel = cancel
	role := n.role
	n.mu.Unlock()
	n.notePrimaryGauge()
	var err error
	if role == RolePrimary {
		err = n.runPrimary(rctx)
	} else {
		err = n.runSecondary(rctx)
	}
	if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
		n.log.Error("role loop failed; restarting", "role", role, "err", err)
		n.setState(StateNotSynced, err.Error())
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// info is this node's side of the handshake.
func (n *Node) info() nodeInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	i := nodeInfo{Node: n.cfg.NodeID, Mode: n.cfg.Mode, Role: n.role, Version: n.opt.Version,
		Proto: ProtocolVersion, Epoch: n.epoch, Uptime: time.Since(n.started).Seconds(),
		State: n.st.Name, Reason: n.st.Reason}
	if n.role == RolePrimary {
		i.LogID, i.Seq = n.clogCurrentLocked()
	} else if n.app != nil {
		i.LogID, i.Seq = n.app.position()
		i.Progress = n.prog.Load().view()
	}
	return i
}

// boundConflicts applies conflicts_keep and conflicts_max_bytes to what
// earlier runs left in .redund/conflicts (the writer keeps them from then
// on, at every move).
func (n *Node) boundConflicts() {
	if err := n.w.indexConflicts(); err != nil {
		n.log.Warn("cannot read the conflicts directory; it is bounded once it can be read", "dir", conflictDir, "err", err)
		return
	}
	if c := n.w.conflicts.rotatedCount(); c > 0 {
		n.log.Info("removed the oldest entries of the conflicts directory (conflicts_keep, conflicts_max_bytes)",
			"dir", conflictDir, "removed", c)
	}
}
