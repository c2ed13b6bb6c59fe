package gateway

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestReloadHooks: a reload of the backup's on_active (and of a key that
// needs a restart) while it runs: the failover that follows runs the new
// hook, not the old one, and only the hook's key is reported applied.
func TestReloadHooks(t *testing.T) {
	dir := t.TempDir()
	out := func(n string) string { return filepath.Join(dir, n) }
	m, b, _ := pair(t, func(_, bc *Config) {
		bc.OnActive = []string{"sh", "-c", "echo old >> " + out("hooks")}
	})
	nc := b.cfg
	nc.OnActive = []string{"sh", "-c", "echo new >> " + out("hooks")}
	nc.History = HistoryFull // needs a restart
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	changed := []string{"gateway.history", "gateway.on_active"}
	applied, err := b.Reload(ctx, &nc, changed)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"gateway.on_active"}; !slices.Equal(applied, want) {
		t.Errorf("applied %v, want %v", applied, want)
	}
	m.stop()
	waitRole(t, b, RoleActive, 3*time.Second)
	testutil.Eventually(t, 3*time.Second, "the new on_active hook to run", func() bool { return readFile(out("hooks")) == "new\n" })
	if got := b.Detail().Settings["history"]; got != HistoryPartial {
		t.Errorf("history = %v after a reload, want %s (it needs a restart)", got, HistoryPartial)
	}

	bad := nc
	bad.Recovery = "sometimes"
	if _, err := b.Reload(ctx, &bad, []string{"gateway.recovery"}); err == nil {
		t.Error("Reload took recovery = \"sometimes\"")
	}
}
