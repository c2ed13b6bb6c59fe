package replica

import (
	"context"
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redund/redund/internal/testutil"
)

// TestSnapshotPageCappedByTheLeader: the page size a follower asks for is
// capped by the leader: a request for an unbounded page made the leader
// read every document into one answer (memory the size of the data, and a
// frame the link then refused to send).
func TestSnapshotPageCappedByTheLeader(t *testing.T) {
	l := open(t, Options{NoSync: true}) // about sizes, not durability
	const docs = 8
	for i := range docs {
		if _, err := l.Put("config", fmt.Sprintf("doc%d", i), make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 5*time.Second, "the documents checkpointed (a snapshot reads those)", func() bool {
		var done uint64
		_ = l.db.View(func(tx *bolt.Tx) error {
			done = u64(tx.Bucket(bucketName("config", "meta")).Get(keyLogData))
			return nil
		})
		return done == docs
	})
	for _, c := range []struct {
		name     string
		maxBytes uint64
	}{{"unbounded", ^uint64(0)}, {"above the cap", 64 << 20}} {
		t.Run(c.name, func(t *testing.T) {
			body, err := l.Serve(context.Background(), snapReq{Provider: "config", MaxBytes: c.maxBytes}.encode())
			if err != nil {
				t.Fatal(err)
			}
			r, err := decodeSnapResp(body)
			if err != nil {
				t.Fatal(err)
			}
			if len(body) > 5<<20+8<<10 || r.Done || len(r.Keys) >= docs {
				t.Fatalf("a page of %d bytes, %d documents, done %v", len(body), len(r.Keys), r.Done)
			}
		})
	}
}
