package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/lifecycle"
	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/peer"
	"github.com/redund/redund/internal/replica"
	"github.com/redund/redund/internal/witness"
)

// Role is the role a node is in; its text ("active") is what the status,
// the peer link and the hooks carry.
type Role string

// Roles a node can be in.
const (
	RoleStarting Role = "starting" // waiting join_wait for the peer
	RoleActive   Role = "active"
	RoleStandby  Role = "standby"
)

// String returns the role's name.
func (r Role) String() string { return string(r) }

// Provider names.
const (
	ProvConfig = "config"
	ProvState  = "state"
)

// Options are the run-time collaborators of a Gateway.
type Options struct {
	Log     *slog.Logger
	Version string
	Ring    *logging.Ring // recent log lines for the status page
	// AllowedHosts ([admin] allowed_hosts) are also accepted as Host on
	// client_listen.
	AllowedHosts []string
	// PeerListener replaces peer_listen (tests bind 127.0.0.1:0 first).
	PeerListener net.Listener
	// Witness is the [witness] table; required with `witness = true`.
	Witness *witness.Config
	// refusal replaces defaultRefusalPolicy (tests)
	refusal *refusalPolicy
}

// LockName is the witness lock the gateway's nodes campaign for (under
// the witness prefix: <prefix>lock/gateway/).
const LockName = "gateway"

// Gateway is one node of a pair. Its role state belongs to the role loop
// (role_loop.go); everything else reads the copy the loop publishes.
type Gateway struct {
	cfg     Config
	params  params
	opts    Options
	log     *slog.Logger
	store   *replica.Store
	hist    *historyStore
	refusal refusalPolicy // how long a refused history batch is retried
	node    *peer.Node
	started time.Time
	sup     *supervisor
	wit     *witness.Witness // nil without `witness = true`
	lock    *witness.Lock

	inputs     chan input // to the role loop
	reloads    chan reloadReq
	live       atomic.Pointer[liveSettings] // published by New and the role loop
	quit       chan struct{}                // closed when Run is ending
	cur        atomic.Pointer[roleView]
	out        *outbox
	reqs       gate         // the peer's requests in flight
	writeMu    sync.RWMutex // writers hold R; the loop holds W to leave the active role
	clientAddr atomic.Pointer[string]
	clientLn   net.Listener  // client_listen, bound by Listen
	token      config.Secret // [admin] token (Register): guards the page's buttons and write endpoints

	listenOnce sync.Once
	listenErr  error
	leadErr    atomic.Pointer[string]  // why this active node does not lead its state log; nil: it does
	leadHook   func(prov string) error // tests: replaces store.Lead

	evMu      sync.Mutex
	sysEvents []SystemEvent
	pings     *lifecycle.Loop // the role loop's answer to PingLoops (liveness.go)
}

// SystemEvent is an entry of the status page's system events.
type SystemEvent struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
}

// New opens the node's stores (data_dir/replica.db and the history store).
func New(cfg *Config, opts Options) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	c := *cfg
	c.SetDefaults()
	if opts.Log == nil {
		opts.Log = logging.Discard()
	}
	g := &Gateway{cfg: c, opts: opts, log: logging.Component(opts.Log, "gateway", c.NodeID), started: time.Now(),
		params: params{NodeID: c.NodeID, Mode: c.Mode, Recovery: c.Recovery, FailoverTimeout: c.FailoverTimeout.D()},
		inputs: make(chan input, 256), reloads: make(chan reloadReq), quit: make(chan struct{}), out: newOutbox(),
		pings: lifecycle.NewLoop("gateway role loop")}
	g.refusal = defaultRefusalPolicy
	if opts.refusal != nil {
		g.refusal = *opts.refusal
	}
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("gateway: data_dir: %w", err)
	}
	st, err := replica.Open(filepath.Join(c.DataDir, "replica.db"), replica.Options{
		Providers: []string{ProvConfig, ProvState}, CacheBytes: int64(c.DiskCache), Log: g.log, KeepOnEmpty: []string{ProvConfig}, Sealed: sealedBuckets,
		OnEvent: func(e replica.Event) { g.sysEvent(e.Kind, e.Provider+": "+e.Message) }})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.store = st
	if err := g.leadConfig(); err != nil {
		st.Close()
		return nil, err
	}
	if g.hist, err = openHistory(c, st); err != nil {
		st.Close()
		return nil, err
	}
	g.live.Store(liveOf(c))
	g.publish(roleState{Role: RoleStarting, Since: time.Now(), Reason: "waiting for the peer (join_wait)", Epoch: g.loadEpoch()})
	if c.Mode != ModeIndependent {
		if g.node, err = g.newPeer(); err != nil {
			g.close()
			return nil, err
		}
	}
	if err := g.newWitness(); err != nil {
		g.close()
		return nil, err
	}
	g.sup = newSupervisor(g)
	return g, nil
}

// leadConfig makes a node that is not a backup the writer of its config
// log before anything can write it (the mode changes only with a restart).
// A node that followed a master's config log (it was the backup) starts a
// log of its own with everything it holds: its backup then copies it whole
// instead of continuing from where it stood in the old master's log, which
// would mix the two histories and show the backup in sync while it is not.
func (g *Gateway) leadConfig() error {
	if g.cfg.Mode == ModeBackup {
		return nil
	}
	pos, err := g.store.Position(ProvConfig)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if err := g.store.Lead(ProvConfig); err != nil {
		return fmt.Errorf("gateway: cannot lead the config log: %w", err)
	}
	if pos.SrcLogID != "" {
		msg := fmt.Sprintf("config: this node followed the master's config log %s (applied up to seq %d) and is now %s: it writes a new config log of its own, which its backup copies in full",
			pos.SrcLogID, pos.Applied, g.cfg.Mode)
		g.log.Warn("leading the config log after a mode change", "followed", pos.SrcLogID, "mode", g.cfg.Mode)
		g.sysEvent("config", msg)
	}
	return nil
}

func (g *Gateway) close() {
	if g.hist != nil {
		g.hist.close()
	}
	g.store.Close()
}

// Listen binds peer_listen (a master) and client_listen (when set). Run
// calls it when the caller has not.
func (g *Gateway) Listen() error {
	g.listenOnce.Do(func() {
		if g.node != nil {
			if g.listenErr = g.node.Listen(); g.listenErr != nil {
				g.listenErr = fmt.Errorf("gateway: %w", g.listenErr)
				return
			}
		}
		if g.cfg.ClientListen != "" {
			g.listenErr = g.bindClient()
		}
	})
	return g.listenErr
}

// Bound names the sockets Listen bound.
func (g *Gateway) Bound() []lifecycle.Bound {
	var out []lifecycle.Bound
	if g.node != nil && g.cfg.Mode == ModeMaster {
		out = append(out, lifecycle.Bound{Key: "gateway.peer_listen", Addr: g.node.Addr()})
	}
	if a := g.clientAddr.Load(); a != nil {
		out = append(out, lifecycle.Bound{Key: "gateway.client_listen", Addr: *a})
	}
	return out
}

// Run runs the node until ctx ends. Every goroutine it starts has ended,
// and the peer's requests in flight have been answered, when it returns;
// the stores are closed then.
func (g *Gateway) Run(ctx context.Context) error {
	defer g.close()
	if err := g.Listen(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	errc := make(chan error, 1)
	if g.node != nil {
		run(func(ctx context.Context) { errc <- g.node.Run(ctx) })
		run(func(ctx context.Context) { g.out.run(ctx, g.node.Send) })
		if g.cfg.Mode == ModeBackup {
			run(g.forwardLoop)
		}
	}
	if g.cfg.Mode == ModeMaster {
		run(g.hist.uptimeLoop(g.isActive))
	}
	stop := func() {
		cancel()
		close(g.quit)
		wg.Wait()
		g.reqs.close()
	}
	if g.cfg.ClientListen != "" {
		if err := g.startClientListener(ctx, run); err != nil {
			stop()
			return err
		}
	}
	if g.wit != nil {
		run(func(ctx context.Context) { _ = g.wit.Run(ctx) })
	}
	run(g.sup.run)
	run(g.runRoles)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	stop()
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

// sysEvent records a system event for the status page.
func (g *Gateway) sysEvent(kind, msg string) {
	g.evMu.Lock()
	defer g.evMu.Unlock()
	g.sysEvents = append(g.sysEvents, SystemEvent{Time: time.Now(), Kind: kind, Message: msg})
	if len(g.sysEvents) > 200 {
		g.sysEvents = g.sysEvents[len(g.sysEvents)-200:]
	}
}

// Role returns the node's current role.
func (g *Gateway) Role() Role { return g.view().Role }

func (g *Gateway) isActive() bool { return g.Role() == RoleActive }

// Store gives access to the replicated store (tests, tools).
func (g *Gateway) Store() *replica.Store { return g.store }

// PeerAddr is the peer listener's address on a master (after it listens).
func (g *Gateway) PeerAddr() string {
	if g.node == nil {
		return ""
	}
	<-g.node.Ready()
	return g.node.Addr()
}

// gate counts the peer's requests in flight so that Run can wait for them.
type gate struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func (t *gate) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	return true
}

func (t *gate) leave() { t.wg.Done() }

// close refuses new requests and waits for those in flight.
func (t *gate) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.wg.Wait()
}
