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
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/peer"
	"github.com/redund/redund/internal/replica"
)

// Roles a node can be in.
const (
	RoleStarting = "starting" // waiting join_wait for the peer
	RoleActive   = "active"
	RoleStandby  = "standby"
)

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
	// Token guards the status page buttons and write endpoints off loopback.
	Token config.Secret
	// AllowedHosts ([admin] allowed_hosts) are also accepted as Host on
	// client_listen.
	AllowedHosts []string
	// PeerListener replaces peer_listen (tests bind 127.0.0.1:0 first).
	PeerListener net.Listener
}

// Gateway is one node of a pair.
type Gateway struct {
	cfg     Config
	opts    Options
	log     *slog.Logger
	store   *replica.Store
	hist    *historyStore
	node    *peer.Node
	started time.Time
	sup     *supervisor

	kick      chan struct{}
	writeMu   sync.RWMutex // writers hold R; role changes away from active hold W
	followers map[string]*follower

	mu          sync.Mutex
	role        string
	roleSince   time.Time
	roleReason  string
	epoch       uint64
	failovers   int
	lastFailAt  time.Time
	peerUp      bool
	peerHello   peer.Hello
	peerRole    string
	peerURL     string
	lastHeard   time.Time
	joinUntil   time.Time
	yieldUntil  time.Time
	handingOver bool
	takingOver  bool // a takeOver is catching up on the state log
	changed     chan struct{}
	clientAddr  string

	evMu      sync.Mutex
	sysEvents []SystemEvent
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
	c := cfg.withDefaults()
	if opts.Log == nil {
		opts.Log = logging.Discard()
	}
	g := &Gateway{cfg: c, opts: opts, log: logging.Component(opts.Log, "gateway", c.NodeID), started: time.Now(),
		kick: make(chan struct{}, 1), followers: map[string]*follower{}, role: RoleStarting,
		roleSince: time.Now(), roleReason: "waiting for the peer (join_wait)", changed: make(chan struct{})}
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("gateway: data_dir: %w", err)
	}
	st, err := replica.Open(filepath.Join(c.DataDir, "replica.db"), replica.Options{
		Providers: []string{ProvConfig, ProvState}, CacheBytes: int64(c.DiskCache), Log: g.log,
		OnEvent: func(e replica.Event) { g.sysEvent(e.Kind, e.Provider+": "+e.Message) }})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.store = st
	if g.hist, err = openHistory(c, st); err != nil {
		st.Close()
		return nil, err
	}
	g.epoch = g.loadEpoch()
	if c.Mode != ModeIndependent {
		if g.node, err = g.newPeer(); err != nil {
			g.close()
			return nil, err
		}
	}
	g.sup = newSupervisor(g)
	return g, nil
}

func (g *Gateway) close() {
	if g.hist != nil {
		g.hist.close()
	}
	g.store.Close()
}

// Run runs the node until ctx ends; the stores are closed on return.
func (g *Gateway) Run(ctx context.Context) error {
	defer g.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g.mu.Lock()
	g.joinUntil = time.Now().Add(g.cfg.JoinWait.D())
	g.mu.Unlock()
	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	errc := make(chan error, 2)
	if g.node != nil {
		run(func(ctx context.Context) { errc <- g.node.Run(ctx) })
		run(func(ctx context.Context) { g.follow(ctx, ProvState, g.shouldFollowState) })
		if g.cfg.Mode == ModeBackup {
			run(func(ctx context.Context) { g.follow(ctx, ProvConfig, g.shouldFollowConfig) })
			run(g.forwardLoop)
		}
	}
	if g.cfg.Mode == ModeMaster {
		run(g.hist.uptimeLoop(g.isActive))
	}
	if g.cfg.ClientListen != "" {
		if err := g.startClientListener(ctx, run); err != nil {
			cancel()
			wg.Wait()
			return err
		}
	}
	run(g.sup.run)
	run(g.roleLoop)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	wg.Wait()
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
func (g *Gateway) Role() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.role
}

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

// notifyLocked wakes the role loop and followers; g.mu is held.
func (g *Gateway) notifyLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
	select {
	case g.kick <- struct{}{}:
	default:
	}
}
