package schedsync

import (
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestFailoverWhileATransferHangs: a secondary-failover whose primary
// stops answering while a file transfer is in flight (the link cut in the
// middle: the transfer neither ends nor fails for minutes) says
// Unavailable after peer_timeout and promotes itself after
// failover_offset. Only a failed sync request judged the failover rule:
// the node stayed secondary, shown Syncing, for as long as the transfer
// hung (a lab run: still secondary 6 s after a 3 s failover_offset).
func TestFailoverWhileATransferHangs(t *testing.T) {
	f := newFake(t)
	f.put(Entry{Path: "small.txt", Kind: KindFile, Size: 5, Mode: 0o644, Hash: contentSum([]byte("small"))}, []byte("small"))
	_, b, lnA, lnB := pairConfigs(t, ModePrimary, ModeSecondaryFailover, nil)
	lnA.Close()
	b.Peer = "http://" + f.addr
	s := startNode(t, b, lnB)
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })

	big := bigData(1<<20, 3)
	release := f.holdHalf("big.bin")
	t.Cleanup(release)
	f.put(Entry{Path: "big.bin", Kind: KindFile, Size: int64(len(big)), Mode: 0o644, Hash: contentSum(big)}, big)
	testutil.Eventually(t, 10*time.Second, "the transfer of big.bin in flight", func() bool {
		p := s.prog.Load().view()
		return p != nil && p.BytesDone >= int64(len(big)/2)
	})
	f.setMute(true) // the transfer stays held: as on a cut link
	testutil.Eventually(t, 10*time.Second, "Unavailable", func() bool { return s.state() == StateUnavailable })
	testutil.Eventually(t, 15*time.Second, "promoted after failover_offset", func() bool { return s.Role() == RolePrimary })
}
