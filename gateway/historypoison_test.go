package gateway

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// A point the pair cannot forward (here a tag larger than the peer link's
// frame limit) must be refused before it is acknowledged: once cached and
// acknowledged, it would block every later point in the backup's cache
// behind it, for ever.
func TestActiveBackupRefusesPointItCannotForward(t *testing.T) {
	m, b, addr := pair(t, func(mc, bc *Config) { mc.History, bc.History = HistoryPartial, HistoryPartial })
	m.stop()
	waitRole(t, b, RoleActive, 5*time.Second)
	now := time.Now().UnixMilli()
	_, bigErr := b.PostHistory([]Point{{Tag: strings.Repeat("x", 17<<20), TSMS: now, Value: 1}})
	_, nulErr := b.PostHistory([]Point{{Tag: "flow\x00", TSMS: now, Value: 2}}) // PostgreSQL text refuses NUL
	if _, err := b.PostHistory([]Point{{Tag: "flow", TSMS: now + 1, Value: 3}}); err != nil {
		t.Fatal(err)
	}
	mc := m.cfg
	mc.JoinWait = 5_000_000_000
	m2 := startGW(t, mc, listen(t, addr))
	waitRole(t, m2, RoleActive, 5*time.Second)
	testutil.Eventually(t, 5*time.Second, "the good point forwarded behind the bad ones", func() bool {
		return len(countByTS(t, m2)) == 1 && b.Detail().History.Cached == 0
	})
	if !errors.Is(bigErr, ErrBadPoint) || !errors.Is(nulErr, ErrBadPoint) {
		t.Fatalf("points that cannot be forwarded were acknowledged: too long %v, NUL %v", bigErr, nulErr)
	}
}
