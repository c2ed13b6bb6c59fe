package schedsync

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestStateSaveFailureShown: a promotion whose state.json could not be
// saved is shown in the status (health "state", ERR: a restart would
// start in the old role) until a save succeeds, which the node tries
// again by itself. It was only logged: the status said primary, and a
// restart brought the node back as secondary.
func TestStateSaveFailureShown(t *testing.T) {
	_, s := startPair(t, ModePrimary, ModeSecondaryFailover, nil)
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	block := filepath.Join(s.dir, tempDir)
	must(t, os.RemoveAll(block))
	must(t, os.MkdirAll(filepath.Dir(block), 0o700))
	must(t, os.WriteFile(block, nil, 0o644)) // a file where the temporary files go: no save can be written
	must(t, s.Promote(context.Background()))
	health := func() string {
		for _, h := range s.Status()[0].Health {
			if h.Name == "state" {
				return h.State + " " + h.Reason
			}
		}
		return ""
	}
	if h := health(); !strings.HasPrefix(h, "ERR cannot save .redund/state.json (role primary") {
		t.Fatalf("state health %q after a failed save", h)
	}
	must(t, os.RemoveAll(block))
	testutil.Eventually(t, 10*time.Second, "saved again, the health entry gone", func() bool { return health() == "" })
	b, err := os.ReadFile(filepath.Join(s.dir, stateFile))
	if err != nil || !strings.Contains(string(b), `"role": "primary"`) {
		t.Fatalf("state.json %q, %v", b, err)
	}
}
