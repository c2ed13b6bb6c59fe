package schedsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/reaper"
)

// hookTimeout bounds on_promote / on_demote.
const hookTimeout = 60 * time.Second

// ErrRefused is returned by operator actions that do not apply now.
var ErrRefused = errors.New("schedsync: refused")

// Promote makes this node primary ("Make primary"): epoch + 1, on_promote.
func (n *Node) Promote(ctx context.Context) error {
	if n.Role() == RolePrimary {
		return fmt.Errorf("%w: already primary", ErrRefused)
	}
	if n.wit != nil {
		return n.promoteWithWitness(ctx)
	}
	n.promote("promoted by the operator")
	return nil
}

// Demote makes this primary a secondary that follows the peer. Files that
// differ from the new primary's are moved to .redund/conflicts, not lost.
func (n *Node) Demote(_ context.Context) error {
	if n.Role() != RolePrimary {
		return fmt.Errorf("%w: not primary", ErrRefused)
	}
	if n.cfg.Peer == "" {
		return fmt.Errorf("%w: no peer configured to follow", ErrRefused)
	}
	if n.wit != nil {
		n.mu.Lock()
		n.wit.stayDown = true
		n.mu.Unlock()
	}
	n.demote("demoted by the operator")
	return nil
}

// Resync is "Resync now". On a secondary: a full comparison (every file
// re-hashed) and repair. On a primary: a full rescan, and the secondary is
// asked to resync. With two primaries, the node with the newer epoch is
// kept: the other one is demoted (itself, or the peer by request). Which
// epoch is newer is judged on this node's saved epoch and the peer's hello
// fetched and verified now, never on what a request claimed.
func (n *Node) Resync(ctx context.Context) error {
	n.mu.Lock()
	role, p := n.role, n.peer
	n.mu.Unlock()
	if role == RoleSecondary {
		if p.connected && p.info.Role == RoleSecondary {
			return fmt.Errorf("%w: both nodes are secondaries; promote one first", ErrRefused)
		}
		n.requestResync()
		return nil
	}
	if p.connected && p.info.Role == RolePrimary {
		return n.resolveTwoPrimaries(ctx)
	}
	n.requestRescan()
	if p.connected {
		return n.client.post(ctx, "/v1/peer/resync")
	}
	return nil
}

// resolveTwoPrimaries keeps the primary with the newer epoch: this node
// steps down, or asks the peer to (which checks the epochs itself).
func (n *Node) resolveTwoPrimaries(ctx context.Context) error {
	other, err := n.verifiedPeer(ctx)
	if err != nil {
		return fmt.Errorf("%w: cannot read the peer's epoch: %v", ErrRefused, err)
	}
	epoch, err := n.savedEpoch()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	switch {
	case other.Role != RolePrimary:
		n.requestRescan()
		return n.client.post(ctx, "/v1/peer/resync")
	case epoch < other.Epoch:
		n.demote(fmt.Sprintf("resync: the peer holds the newer epoch (%d > %d)", other.Epoch, epoch))
		return nil
	case epoch > other.Epoch:
		return n.client.post(ctx, demotePath)
	default:
		return fmt.Errorf("%w: both primaries hold epoch %d; demote one explicitly", ErrRefused, epoch)
	}
}

// verifiedPeer fetches the peer's hello from its configured address: its
// answer is authenticated (a refusal's too), so the role and epoch in it
// are the peer's own, not a caller's claim.
func (n *Node) verifiedPeer(ctx context.Context) (nodeInfo, error) {
	hctx, cancel := context.WithTimeout(ctx, n.peerTimeout())
	defer cancel()
	info, err := n.client.hello(hctx)
	var re *refusedError
	if asRefused(err, &re) && re.peer.Node != "" {
		return re.peer, nil // two primaries: a 409 with the peer's info
	}
	return info, err
}

// savedEpoch is this node's epoch as saved in state.json, or the one in
// memory when that is newer (a save that failed): the larger one, so an
// old number never makes the node step down.
func (n *Node) savedEpoch() (uint64, error) {
	n.mu.Lock()
	epoch := n.epoch
	n.mu.Unlock()
	b, err := n.w.root.ReadFile(stateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return epoch, nil
	}
	if err != nil {
		return 0, fmt.Errorf("schedsync: %w", err)
	}
	var s persistedState
	if err := json.Unmarshal(b, &s); err != nil {
		return 0, fmt.Errorf("schedsync: %s: %w", stateFile, err)
	}
	return max(epoch, s.Epoch), nil
}

// requestRescan restarts the primary role loop, which rescans everything
// (and starts a new change log, so the secondary compares in full).
func (n *Node) requestRescan() {
	n.mu.Lock()
	cancel := n.roleCancel
	n.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// demotePath is the peer's request to step down. It is served even to a
// peer the compatibility check refuses (two primaries is the very case it
// exists for); demoteFor makes its own check. The request carries no
// epoch that is believed: an older node's ?epoch= is ignored.
const demotePath = "/v1/peer/demote"

// demoteFor handles the peer's request to step down. The request only
// asks: this node fetches the peer's hello itself and steps down only when
// that verified answer shows a primary whose epoch is newer than this
// node's saved epoch. from (the caller's X-Redund-Node) must name the same
// node, or the request did not come from the configured peer.
func (n *Node) demoteFor(ctx context.Context, from nodeInfo) error {
	if n.Role() != RolePrimary {
		return nil
	}
	other, err := n.verifiedPeer(ctx)
	if err != nil {
		return fmt.Errorf("%w: cannot verify the peer's epoch: %v", ErrRefused, err)
	}
	if other.Node != from.Node {
		return fmt.Errorf("%w: the request names node %q, the peer at %s is %q",
			ErrRefused, clean(from.Node), n.cfg.Peer, clean(other.Node))
	}
	epoch, err := n.savedEpoch()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	if other.Role != RolePrimary {
		return fmt.Errorf("%w: the peer is %s, not primary", ErrRefused, other.Role)
	}
	if other.Epoch <= epoch {
		return fmt.Errorf("%w: this node's epoch %d is not older than the peer's %d", ErrRefused, epoch, other.Epoch)
	}
	n.demote(fmt.Sprintf("the peer holds the newer epoch (%d > %d)", other.Epoch, epoch))
	return nil
}

func (n *Node) promote(reason string) { n.promoteIf(false, reason) }

// promoteIf promotes the node; with onlySecondary, only if it is still
// secondary when it takes the lock (the failover rule is judged by the
// sync loop and by the hello loop: one promotion, not two).
func (n *Node) promoteIf(onlySecondary bool, reason string) bool {
	n.mu.Lock()
	if onlySecondary && n.role != RoleSecondary {
		n.mu.Unlock()
		return false
	}
	n.role = RolePrimary
	n.epoch = max(n.epoch, n.peerEpochMax) + 1
	n.st = syncState{} // a new role: the status (and its since) starts over
	clear(n.failed)    // what the secondary could not install is no longer pending
	clear(n.refused)
	n.syncFail = syncFailure{}
	n.failLog.Reset()
	n.noteRoleStartLocked()
	epoch := n.epoch
	cancel := n.roleCancel
	n.mu.Unlock()
	n.log.Warn("promoted to primary", "epoch", epoch, "reason", reason)
	n.metrics.promotions.Inc()
	n.metrics.epoch.Set(float64(epoch))
	if err := n.saveState(); err != nil {
		n.log.Error("cannot save state", "err", err)
	}
	n.runHook(n.set().OnPromote, "promote", RolePrimary, epoch, reason)
	if cancel != nil {
		cancel()
	}
	return true
}

func (n *Node) demote(reason string) {
	n.mu.Lock()
	n.role = RoleSecondary
	epoch := n.epoch
	cancel := n.roleCancel
	n.setStateLocked(StateConnecting, reason)
	n.noteRoleStartLocked()
	n.mu.Unlock()
	n.log.Warn("demoted to secondary", "epoch", epoch, "reason", reason)
	n.app.forget() // what differs from the new primary is moved aside, not overwritten
	if err := n.saveState(); err != nil {
		n.log.Error("cannot save state", "err", err)
	}
	n.runHook(n.set().OnDemote, "demote", RoleSecondary, epoch, reason)
	if cancel != nil {
		cancel()
	}
}

// startHook runs on_promote (event "start") on a node that started as
// primary, once it may publish (with the witness: holds the lock): the
// stop ran on_demote, so the start tells the application again. It does
// nothing once a hook has told the application this node is primary.
func (n *Node) startHook() {
	n.mu.Lock()
	due := n.role == RolePrimary && !n.appPrimary && n.mayPublish()
	epoch := n.epoch
	n.mu.Unlock()
	if due {
		n.runHook(n.set().OnPromote, "start", RolePrimary, epoch, "the daemon started as primary")
	}
}

// stopHook runs on_demote (event "stop") when the daemon stops on a node
// whose application was told it is primary: the other node may take over
// (at once with the witness, which Run releases only after this hook; after
// failover_offset without it), and two applications must not run as
// primary.
func (n *Node) stopHook() {
	n.mu.Lock()
	due := n.appPrimary
	epoch := n.epoch
	n.mu.Unlock()
	if due {
		n.runHook(n.set().OnDemote, "stop", RoleSecondary, epoch, "the daemon is stopping")
	}
}

// hookJob is one hook to run: on_promote or on_demote with its
// environment, numbered in the order of the role changes.
type hookJob struct {
	seq  uint64
	argv []string
	what string
	env  []string
}

// hookWaitDelay is how long, after a hook exited, its output is read
// before it counts as finished: a program it started in the background
// that keeps the output open does not keep the hook running. That
// output is still read (and dropped) until the program closes it, so the
// program never writes into a closed pipe.
const hookWaitDelay = time.Second

// hookReaperDelay is how long a hook's reaper has, after the timeout, to
// kill and reap what the hook left before os/exec kills the reaper (what
// it has not killed then goes to init).
const hookReaperDelay = 5 * time.Second

// hookOutputMax is how much of a hook's output is kept (its end) for the
// log and the status.
const hookOutputMax = 64 << 10

// runHook queues argv with the new role in its environment; it never
// blocks the sync. Hooks run one at a time, in the order of the role
// changes, so an on_demote ("stop the application") never finishes after
// the on_promote that followed it. Its failure is logged and shown in the
// status until a hook started later runs.
func (n *Node) runHook(argv []string, what string, role Role, epoch uint64, reason string) {
	env := append([]string{"REDUND_SCHEDSYNC_EVENT=" + what, "REDUND_SCHEDSYNC_ROLE=" + role.String(),
		"REDUND_SCHEDSYNC_EPOCH=" + strconv.FormatUint(epoch, 10), "REDUND_SCHEDSYNC_DIR=" + n.cfg.Dir,
		"REDUND_SCHEDSYNC_REASON=" + reason}, n.fenceEnv()...)
	n.mu.Lock()
	if n.stopping && what != "stop" {
		// a role change racing the stop (an admin action, the hello
		// loop): the stop hook, queued last, says what counts; nothing is
		// queued once Run waits for the hooks
		n.mu.Unlock()
		return
	}
	n.appPrimary = role == RolePrimary
	if len(argv) == 0 {
		n.mu.Unlock()
		return
	}
	n.hookStarted++
	n.hookQueue = append(n.hookQueue, hookJob{seq: n.hookStarted, argv: argv, what: what, env: env})
	start := !n.hookRunning
	n.hookRunning = true
	n.mu.Unlock()
	if start {
		n.hooks.Go(n.runHooks)
	}
}

// runHooks runs the queued hooks in order until the queue is empty.
func (n *Node) runHooks() {
	for {
		n.mu.Lock()
		if len(n.hookQueue) == 0 {
			n.hookRunning = false
			n.mu.Unlock()
			return
		}
		j := n.hookQueue[0]
		n.hookQueue = n.hookQueue[1:]
		n.hookNow, n.hookSince = j.what, time.Now()
		n.mu.Unlock()
		n.runHookJob(j)
		n.mu.Lock()
		n.hookNow = ""
		n.mu.Unlock()
	}
}

// hookRunningLocked is details.hook_running (n.mu held): the hook that
// runs now, for how long, and how many wait behind it; nil when none runs.
func (n *Node) hookRunningLocked() map[string]any {
	if n.hookNow == "" {
		return nil
	}
	return map[string]any{"hook": "on_" + n.hookNow, "running_s": time.Since(n.hookSince).Seconds(),
		"queued": len(n.hookQueue)}
}

func (n *Node) runHookJob(j hookJob) {
	ctx, cancel := context.WithTimeout(context.Background(), n.hookLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, j.argv[0], j.argv[1:]...)
	cmd.Env = hookEnv(config.ChildEnv(), j.env)
	out := &tailBuffer{max: hookOutputMax}
	err := n.runWithOutput(cmd, out)
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v and killed, with all it started", n.hookLimit)
	}
	n.hookFinished(j.seq, j.what, err, out.bytes())
	if err != nil {
		n.log.Error("hook failed", "hook", j.what, "err", err, "output", string(out.bytes()))
		return
	}
	n.log.Info("hook ran", "hook", j.what, "output", string(out.bytes()))
}

// runWithOutput runs cmd with its output (stdout and stderr, one pipe)
// read into out, and returns when cmd has exited and its output has
// ended, or hookWaitDelay after the exit when a child it started keeps
// the output open. The pipe is read to its end all the same, in a
// goroutine that Run waits for (closeHookOutputs ends it at the stop),
// so such a child never writes into a closed pipe. The write end is a
// file: cmd.Wait returns when the hook exits, whatever its children hold.
func (n *Node) runWithOutput(cmd *exec.Cmd, out *tailBuffer) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = w, w
	drained := make(chan struct{})
	n.mu.Lock()
	n.hookPipes[r] = struct{}{}
	n.mu.Unlock()
	n.hookDrains.Go(func() {
		defer close(drained)
		_, _ = io.Copy(out, r)
		n.mu.Lock()
		delete(n.hookPipes, r)
		n.mu.Unlock()
		_ = r.Close()
	})
	// under a reaper (internal/reaper): a hook killed at its timeout
	// leaves nothing running, not even a child that called setsid or
	// double-forked; one that exits by itself may leave a program it
	// started (an application) running, as before
	cmd.WaitDelay = hookReaperDelay
	err = reaper.RunWith(cmd, reaper.Options{KeepOnExit: true})
	_ = w.Close() // the reader sees the end when the hook's children (if any are left) close theirs
	select {
	case <-drained:
	case <-time.After(hookWaitDelay):
	}
	return err
}

// closeHookOutputs ends the reading of every hook output still open
// (children of hooks that outlive the daemon) and waits for the readers.
func (n *Node) closeHookOutputs() {
	n.mu.Lock()
	for r := range n.hookPipes {
		_ = r.Close()
	}
	n.mu.Unlock()
	n.hookDrains.Wait()
}

// hookEnv is a hook's environment: the inherited one without any
// REDUND_SCHEDSYNC_* or REDUND_FENCE of its own (a daemon started by
// another redund's hook or supervisor inherits that one's: a hook must
// never take it for this node's fencing token), then own.
func hookEnv(inherited, own []string) []string {
	out := make([]string, 0, len(inherited)+len(own))
	for _, kv := range inherited {
		k, _, _ := strings.Cut(kv, "=")
		if k != "REDUND_FENCE" && !strings.HasPrefix(k, "REDUND_SCHEDSYNC_") {
			out = append(out, kv)
		}
	}
	return append(out, own...)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.b...)
}

// lastLine is the last non-empty line of a hook's output, at most 200 runes.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(strings.ToValidUTF8(string(out), "?")), "\n")
	r := []rune(strings.TrimSpace(lines[len(lines)-1]))
	if len(r) > 200 {
		r = append(r[:200], '…')
	}
	return string(r)
}

// hookFinished records the outcome of hook seq unless a later one has
// finished first: the latest hook's failure is what the status shows.
func (n *Node) hookFinished(seq uint64, what string, err error, out []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if seq < n.hookDone {
		return
	}
	n.hookDone, n.hookErr = seq, ""
	if err != nil {
		n.hookErr = fmt.Sprintf("on_%s hook failed: %v", what, err)
		if o := lastLine(out); o != "" {
			n.hookErr += ": " + o
		}
	}
}
