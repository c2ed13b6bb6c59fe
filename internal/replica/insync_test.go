package replica

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// failing is a Requester whose every request fails.
type failing struct{}

func (failing) Request(context.Context, byte, []byte) ([]byte, error) {
	return nil, errors.New("link down")
}

// TestInSyncNeedsAnAnsweredPull: a follower is in sync only while Follow
// runs and its last answered pull left nothing to apply; a failed run
// shows its error until a pull succeeds. Pending alone (0 before any
// pull) is no proof.
func TestInSyncNeedsAnAnsweredPull(t *testing.T) {
	l, f := open(t, Options{NoSync: true}), open(t, Options{NoSync: true})
	if _, err := l.Put("config", "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if st := f.Stats("config"); st.InSync || st.Pending != 0 {
		t.Fatalf("a follower that never pulled: %+v", st)
	}
	err := f.Follow(context.Background(), "config", failing{}, 0x40)
	if st := f.Stats("config"); err == nil || st.InSync || !strings.Contains(st.FollowError, "link down") {
		t.Fatalf("after a failed run (%v): %+v", err, st)
	}
	stop := follow(t, f, l, "config")
	waitConverged(t, f, l, "config")
	testutil.Eventually(t, 5*time.Second, "both sides in sync", func() bool {
		fs, ls := f.Stats("config"), l.Stats("config")
		return fs.InSync && fs.FollowError == "" && ls.InSync && ls.Pending == 0
	})
	stop()
	if st := f.Stats("config"); st.InSync {
		t.Fatalf("a stopped follower: %+v", st)
	}
}

// TestLeaderCountsAFollowerOfAnotherLogAsBehind: on the leader, a follower
// that pulls with another log (it is about to copy a snapshot, or copies
// one) has everything yet to copy. The leader showed Pending 0, so the
// pair read "Synced" on the leader's side for the whole copy.
func TestLeaderCountsAFollowerOfAnotherLogAsBehind(t *testing.T) {
	l := open(t, Options{NoSync: true})
	for _, k := range []string{"a", "b", "c"} {
		if _, err := l.Put("state", k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name  string
		logID string
	}{{"first sync", ""}, {"another log", "0123456789abcdef"}} {
		t.Run(c.name, func(t *testing.T) {
			body, err := l.Serve(context.Background(), pullReq{Provider: "state", LogID: c.logID, Max: 10}.encode())
			if err != nil {
				t.Fatal(err)
			}
			if r, _ := decodePullResp(body); !r.Full {
				t.Fatalf("answer %+v", r)
			}
			if st := l.Stats("state"); st.Pending != 3 || st.InSync {
				t.Fatalf("leader's figures for a follower of log %q: pending %d, in sync %v", c.logID, st.Pending, st.InSync)
			}
		})
	}
}
