package gateway

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redund/redund/internal/testutil"
)

// TestCheckpointFailureInHealth: when the checkpointer cannot bring the
// documents up to date with the log (here an entry of the log is damaged:
// its checksum does not match), the status document has an ERR health
// entry saying so, naming the bucket. The error was only in the
// providers' JSON (checkpoint_error): redund status showed the node
// healthy. A write made since is still readable (it is durable, and
// newer than the documents).
func TestCheckpointFailureInHealth(t *testing.T) {
	n := startGW(t, Config{NodeID: "solo", Mode: ModeIndependent, DataDir: t.TempDir()}, nil)
	waitRole(t, n, RoleActive, 3*time.Second)
	err := n.Store().DB().Update(func(tx *bolt.Tx) error {
		meta, log := tx.Bucket([]byte("p/config/meta")), tx.Bucket([]byte("p/config/log"))
		last := uint64(0)
		if v := meta.Get([]byte("last")); len(v) == 8 {
			last = binary.BigEndian.Uint64(v)
		}
		next := binary.BigEndian.AppendUint64(nil, last+1)
		if err := log.Put(next, []byte{0xff}); err != nil {
			return err
		}
		return meta.Put([]byte("last"), next)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.SetConfig("after", []byte("v")); err != nil { // durable in the log
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the checkpoint failure in the health", func() bool {
		d := n.Status()[0]
		return len(d.Health) == 1 && d.Health[0].Name == "replica.db integrity" && d.Health[0].State == "ERR" &&
			strings.Contains(d.Health[0].Reason, `bucket "p/config/log"`) && strings.Contains(d.Health[0].Reason, "config: refused")
	})
	if docValue(t, n, ProvConfig, "after") != "v" {
		t.Fatal("the write is not readable")
	}
}
