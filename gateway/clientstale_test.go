package gateway

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

// A standby redirects clients only to a peer it currently knows active
// over the authenticated link. Once the link is cut, the peer's "active"
// is a memory, not a verified state (it may have stopped, or lost the
// witness lock): the standby answers 503 and names what it last knew,
// and the client retargets itself.
func TestStandbyDoesNotRedirectToPeerAfterLinkCut(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "app")
	}))
	t.Cleanup(app.Close)
	mPort, bPort := testutil.ClosedTCPAddr(t), testutil.ClosedTCPAddr(t)
	var px *proxy
	_, b, _ := pair(t, func(mc, bc *Config) {
		mc.ClientListen, mc.AppURL, mc.ClientURL = mPort, app.URL, "http://"+mPort
		bc.ClientListen, bc.AppURL, bc.ClientURL = bPort, app.URL, "http://"+bPort
		bc.FailoverTimeout = config.Duration(time.Minute) // the backup stays standby through the test
		px = newProxy(t, bc.Peer)
		bc.Peer = px.addr()
	})
	testutil.Eventually(t, 2*time.Second, "backup redirects to the master while linked", func() bool {
		code, _ := do(t, "GET", "http://"+bPort+"/hmi", "", "")
		return code == http.StatusTemporaryRedirect
	})
	var ref *RefusedError
	if _, err := b.SetState("k", []byte("v")); !errors.As(err, &ref) || ref.Redirect == "" {
		t.Fatalf("a state write on the linked standby: %v, want a refusal naming the active master", err)
	}
	px.setCut(true)
	testutil.Eventually(t, 5*time.Second, "backup sees the link down", func() bool { return !b.Detail().PeerConnected })
	if b.Role() != RoleStandby {
		t.Fatalf("backup is %s, want standby within failover_timeout", b.Role())
	}
	// the admin API's 409 to a writer follows the same rule (it sent the
	// writer to the last peer URL whatever the link)
	if _, err := b.SetState("k", []byte("v")); !errors.As(err, &ref) || ref.Redirect != "" {
		t.Fatalf("a state write on the standby with the link cut: %v (redirect %q), want a refusal without a redirect", err, ref.Redirect)
	}
	code, body := do(t, "GET", "http://"+bPort+"/hmi", "", "")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("standby with the link cut answered %d %q, want 503 (the peer's role is not verified)", code, body)
	}
}
