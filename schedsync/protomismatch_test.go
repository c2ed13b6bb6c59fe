package schedsync

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redund/redund/internal/peer"
	"github.com/redund/redund/internal/testutil"
)

// newerNode serves the peer port as a node of the next protocol (this
// node's ProtocolVersion + 1) with the pair's
// secret would: every request of this node's protocol is refused with a
// 401 that names its protocol (internal/peer's Refuse without a nonce). It
// answers, so it is alive. stop closes it; requests counts what it got.
type newerNode struct {
	addr string
	stop func()

	mu       sync.Mutex
	requests int
}

func startNewerNode(t *testing.T) *newerNode {
	t.Helper()
	auth, err := peer.NewHTTPAuth(peer.HTTPAuthConfig{Secret: testSecret, Proto: "schedsync/" + strconv.Itoa(ProtocolVersion+1),
		RequestHeaders: []string{nodeHeader}, ResponseTrailers: []string{hashHeader}})
	must(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	nn := &newerNode{addr: ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nn.mu.Lock()
		nn.requests++
		nn.mu.Unlock()
		nonce, err := auth.VerifyRequest(r, 1<<20)
		if err == nil {
			t.Errorf("a request of protocol %d verified as protocol %d", ProtocolVersion, ProtocolVersion+1)
		}
		auth.Refuse(w, nonce, http.StatusUnauthorized, fmt.Sprintf("this node speaks schedsync protocol %d", ProtocolVersion+1))
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	var once sync.Once
	nn.stop = func() { once.Do(func() { _ = srv.Close(); <-done }) }
	t.Cleanup(nn.stop)
	return nn
}

func (nn *newerNode) count() int {
	nn.mu.Lock()
	defer nn.mu.Unlock()
	return nn.requests
}

// TestOtherProtocolIsAliveNotUnreachable: a secondary-failover whose
// primary answers in another protocol version stays secondary past
// failover_offset and shows Incompatible with a reason that names both
// protocols; a primary whose secondary does so shows the same. Such an
// answer used to count as "primary unreachable", and the secondary
// promoted while the old primary still ran. Once the newer node stops
// answering at all, failover works as before.
func TestOtherProtocolIsAliveNotUnreachable(t *testing.T) {
	incompatible := func(n *testNode) bool {
		d := n.Status()[0]
		return State(d.State) == StateIncompatible && strings.Contains(d.Reason, fmt.Sprintf("protocol %d", ProtocolVersion)) &&
			strings.Contains(d.Reason, fmt.Sprintf("protocol %d", ProtocolVersion+1))
	}
	t.Run("primary", func(t *testing.T) {
		nn := startNewerNode(t)
		a, _, lnA, _ := pairConfigs(t, ModePrimary, ModeSecondaryCopy, func(a, _ *Config) { a.Peer = "http://" + nn.addr })
		p := startNode(t, a, lnA)
		testutil.Eventually(t, 10*time.Second, "Incompatible naming both protocols", func() bool { return incompatible(p) })
	})
	t.Run("secondary-failover", func(t *testing.T) {
		nn := startNewerNode(t)
		_, b, _, lnB := pairConfigs(t, ModePrimary, ModeSecondaryFailover, func(_, b *Config) { b.Peer = "http://" + nn.addr })
		s := startNode(t, b, lnB)
		testutil.Eventually(t, 10*time.Second, "Incompatible naming both protocols", func() bool { return incompatible(s) })
		offset := b.FailoverOffset.D()
		until := time.Now().Add(offset * 5 / 2)
		for time.Now().Before(until) { // sampled for 2.5 × failover_offset while the newer node answers
			if s.Role() != RoleSecondary {
				t.Fatalf("promoted while the primary answers in another protocol (status %+v)", s.Status()[0])
			}
			if !incompatible(s) {
				t.Fatalf("status %+v, want Incompatible naming protocols %d and %d", s.Status()[0], ProtocolVersion, ProtocolVersion+1)
			}
			time.Sleep(50 * time.Millisecond) // sleep: sampling interval of a window in which the node must not promote
		}
		if nn.count() == 0 {
			t.Fatal("the newer node got no request")
		}
		nn.stop()
		testutil.Eventually(t, 10*time.Second, "promotion once nothing answers", func() bool { return s.Role() == RolePrimary })
	})
}
