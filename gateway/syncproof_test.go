package gateway

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redund/redund/internal/testutil"
)

// TestBackupNotSyncedWhileItsPullsFail: a backup whose every pull fails
// (here the master's log entry it needs is corrupt, so the master answers
// each pull with an error) must not say "Synced". It did: the state word
// read only the pending count of the last pull that succeeded, 0 in a
// freshly started process, and the follower's errors went to the debug log.
func TestBackupNotSyncedWhileItsPullsFail(t *testing.T) {
	m, b, _ := pair(t, nil)
	testutil.Eventually(t, 5*time.Second, "the backup follows the master's config log", func() bool {
		mp, _ := m.Store().Position(ProvConfig)
		bp, _ := b.Store().Position(ProvConfig)
		return bp.SrcLogID == mp.LogID
	})
	bc := b.cfg
	b.stop()
	seq, err := m.SetConfig("doc", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	corruptLogEntry(t, m, ProvConfig, seq)
	b2 := startGW(t, bc, nil)
	waitRole(t, b2, RoleStandby, 5*time.Second)
	testutil.Eventually(t, 5*time.Second, "the backup says its pulls fail", func() bool {
		d := b2.Status()[0]
		return d.State == "Sync failing" && len(d.Health) == 1 && d.Health[0].Name == "config replication" &&
			strings.Contains(d.Health[0].Reason, "corrupt log entry")
	})
	if s := m.Status()[0].State; s == "Synced" {
		t.Fatalf("the master says %q while its backup cannot pull", s)
	}
	if docValue(t, b2, ProvConfig, "doc") != "<missing>" {
		t.Fatal("the corrupt entry was applied")
	}
}

// corruptLogEntry overwrites entry seq of provider p's log on node n once
// the checkpointer has copied it into the documents (so that n itself
// keeps working): a pull that needs it fails to decode it.
func corruptLogEntry(t *testing.T, n *gw, p string, seq uint64) {
	t.Helper()
	db := n.Store().DB()
	testutil.Eventually(t, 5*time.Second, "the entry is in the documents", func() bool {
		done := false
		_ = db.View(func(tx *bolt.Tx) error {
			v := tx.Bucket([]byte("p/" + p + "/meta")).Get([]byte("log_data"))
			done = len(v) == 8 && binary.BigEndian.Uint64(v) >= seq
			return nil
		})
		return done
	})
	err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("p/"+p+"/log")).Put(binary.BigEndian.AppendUint64(nil, seq), []byte{0xff})
	})
	if err != nil {
		t.Fatal(err)
	}
}
