package adminapi

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/redund/redund/internal/config"
)

func TestAdminForFallsBackToListenThenDefault(t *testing.T) {
	var a Config
	if got := a.For("ddns"); got != DefaultAddr {
		t.Errorf("empty table: For(ddns) = %q, want %q", got, DefaultAddr)
	}
	a = Config{Listen: "127.0.0.1:9000", Ddns: "127.0.0.1:9001"}
	if got := a.For("ddns"); got != "127.0.0.1:9001" {
		t.Errorf("For(ddns) = %q, want its own key", got)
	}
	if got := a.For("voter"); got != "127.0.0.1:9000" {
		t.Errorf("For(voter) = %q, want listen", got)
	}
	if got, want := a.Addresses(), []string{"127.0.0.1:9000", "127.0.0.1:9001"}; !slices.Equal(got, want) {
		t.Errorf("Addresses() = %q, want %q", got, want)
	}
}

func TestAdminValidateReportsEveryKeyInOrder(t *testing.T) {
	a := Config{Listen: "x", Voter: "h:0x", Ddns: "h:70000", Gateway: "nohost", Schedsync: ":"}
	want := []string{"listen", "voter", "ddns", "gateway", "schedsync"}
	for range 20 { // a map-ordered loop would shuffle these
		var errs config.Errors
		if !errors.As(a.Validate(), &errs) {
			t.Fatalf("Validate() = %v, want config.Errors", a.Validate())
		}
		var got []string
		for _, e := range errs {
			got = append(got, e.Path)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("problem paths = %q, want %q", got, want)
		}
	}
	if err := (Config{Listen: "127.0.0.1:9180", Ddns: "[::1]:9182"}).Validate(); err != nil {
		t.Errorf("good table: %v", err)
	}
}

func TestAdminValidateAllowedHosts(t *testing.T) {
	good := Config{AllowedHosts: []string{"redund-a.example.net", "ADMIN.example.net.", "gw_b", "10.0.0.5", "::1", "[::1]"}}
	if err := good.Validate(); err != nil {
		t.Errorf("good names: %v", err)
	}
	bad := Config{AllowedHosts: []string{"ok.example", "host:9180", "http://host", "", "a..b", "-x.example", "*.example.net", "h/p"}}
	var errs config.Errors
	if !errors.As(bad.Validate(), &errs) {
		t.Fatalf("bad names: %v", bad.Validate())
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Path)
	}
	want := []string{"allowed_hosts[1]", "allowed_hosts[2]", "allowed_hosts[3]", "allowed_hosts[4]",
		"allowed_hosts[5]", "allowed_hosts[6]", "allowed_hosts[7]"}
	if !slices.Equal(got, want) {
		t.Fatalf("problem paths = %q, want %q (%v)", got, want, errs)
	}
}

// A short token can be guessed over the network (nothing slows the 401s
// down): it is refused like a short pair secret.
func TestAdminValidateTokenLength(t *testing.T) {
	for _, tc := range []struct {
		token string
		ok    bool
	}{{"", true}, {"tok-123456", false}, {"fifteen-chars15", false}, {"sixteen-chars-16", true}} {
		t.Run(tc.token, func(t *testing.T) {
			err := Config{Token: config.Secret(tc.token)}.Validate()
			var errs config.Errors
			if tc.ok != (err == nil) || (err != nil && (!errors.As(err, &errs) || errs[0].Path != "token")) {
				t.Errorf("token of %d characters: %v, want ok=%v", len(tc.token), err, tc.ok)
			}
			if err != nil && strings.Contains(err.Error(), tc.token) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

// "off" is no TCP listener: valid only with socket_dir (the daemon would
// have no admin API otherwise), and never an address to ask.
func TestAdminOff(t *testing.T) {
	a := Config{Listen: Off, Ddns: "127.0.0.1:9182"}
	var errs config.Errors
	if !errors.As(a.Validate(), &errs) || len(errs) != 1 || errs[0].Path != "listen" ||
		!strings.Contains(errs[0].Msg, "needs [admin] socket_dir") {
		t.Errorf("off without socket_dir: %v", a.Validate())
	}
	a.SocketDir = "/run/redund"
	if err := a.Validate(); err != nil {
		t.Errorf("off with socket_dir: %v", err)
	}
	if got := a.For("voter"); got != Off {
		t.Errorf("For(voter) = %q, want off", got)
	}
	if got, want := a.Addresses(), []string{"127.0.0.1:9182"}; !slices.Equal(got, want) {
		t.Errorf("Addresses() = %q, want %q (off is no address)", got, want)
	}
	if got := a.Endpoint("voter"); got != SocketScheme+"/run/redund/voter.sock" {
		t.Errorf("Endpoint(voter) = %q, want its socket", got)
	}
}
