package schedsync

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

// TestReloadFailoverSettings: a secondary-failover whose failover_offset
// (1h) would keep it secondary for ever promotes once a reload shortens it,
// and runs the on_promote hook the reload gave it; exclude, which needs a
// restart, is not reported applied.
func TestReloadFailoverSettings(t *testing.T) {
	hooks := filepath.Join(t.TempDir(), "hooks")
	a, b := startPair(t, ModePrimary, ModeSecondaryFailover, func(_, b *Config) {
		b.FailoverOffset = config.Duration(time.Hour)
		b.OnPromote = []string{"sh", "-c", "echo old >> " + hooks}
	})
	testutil.Eventually(t, 5*time.Second, "the secondary to be Synced", func() bool { return b.state() == StateSynced })
	nc := *b.cfg
	nc.FailoverOffset = config.Duration(time.Second)
	nc.OnPromote = []string{"sh", "-c", "echo new >> " + hooks}
	nc.Exclude = []string{"*.tmp"}
	changed := []string{"schedsync.exclude", "schedsync.failover_offset", "schedsync.on_promote"}
	applied, err := b.Reload(context.Background(), &nc, changed)
	if err != nil {
		t.Fatal(err)
	}
	if want := changed[1:]; !slices.Equal(applied, want) {
		t.Errorf("applied %v, want %v", applied, want)
	}
	a.stop()
	testutil.Eventually(t, 10*time.Second, "the secondary to promote itself", func() bool { return b.Role() == RolePrimary })
	testutil.Eventually(t, 5*time.Second, "the new on_promote hook to run", func() bool {
		got, _ := os.ReadFile(hooks)
		return string(got) == "new\n"
	})

	bad := nc
	bad.Workers = 1000
	if _, err := b.Reload(context.Background(), &bad, []string{"schedsync.workers"}); err == nil || b.workers() == 1000 {
		t.Errorf("Reload took workers = 1000 (err %v)", err)
	}
}
