package ddns

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/testutil"
)

func TestAdminMaintenanceAndMetrics(t *testing.T) {
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	p := &memProvider{}
	d := startDaemon(t, catConfig(t, main, backup, sorry), p)
	admin := adminapi.NewServer("ddns run", "test", nil, logging.Discard())
	d.Register(admin, "s3cret")
	if err := admin.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = admin.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	testutil.Eventually(t, 2*time.Second, "main", func() bool { return p.current() == "192.0.2.1" })

	req := MaintenanceRequest{Scheme: "cat", Server: "main", On: true}
	call := func(token config.Secret, req MaintenanceRequest) error {
		return adminapi.Target{Endpoint: admin.Addr(), Token: token}.Call(ctx, http.MethodPost, MaintenancePath, req, nil)
	}
	if err := call("wrong", req); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong token: %v", err)
	}
	if err := call("s3cret", MaintenanceRequest{Scheme: "cat", Server: "x", On: true}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown server: %v", err)
	}
	if err := call("s3cret", req); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 2*time.Second, "backup", func() bool {
		ss := d.Scheme("cat").Snapshot()
		return p.current() == "192.0.2.2" && ss.InSync && ss.Decision.Server == "backup"
	})

	testutil.Eventually(t, 2*time.Second, "a result for every server", func() bool {
		for _, sv := range d.Scheme("cat").Snapshot().Servers {
			if sv.Checks == 0 {
				return false
			}
		}
		return true
	})
	resp, err := http.Get("http://" + admin.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`redund_ddns_server_maintenance{scheme="cat",server="main"} 1`,
		`redund_ddns_selected{scheme="cat",server="backup"} 1`,
		`redund_ddns_pushes_total{result="ok",scheme="cat"} 2`,
		`redund_ddns_server_up{scheme="cat",server="sorry"} 1`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	r, err := adminapi.Fetch(ctx, admin.Addr())
	if err != nil || len(r.Instances) != 1 {
		t.Fatalf("status: %v %+v", err, r)
	}
	doc := r.Instances[0]
	if doc.Details["chosen_address"] != "192.0.2.2" || len(doc.Health) != 3 || doc.Health[0].State != "MAINT" {
		t.Errorf("document: %+v", doc)
	}
}

// TestMaintenanceBadRequests: a body that is not a maintenance request is
// refused with the expected form. (That the CLI names a daemon that is not
// there is tested in cmd/redund, which words the error.)
func TestMaintenanceBadRequests(t *testing.T) {
	h := (&Daemon{}).MaintenanceHandler() // never reaches the daemon
	for _, body := range []string{``, `{"scheme":"cat"}`, `{"scheme":"cat","server":"main","of":true}`, `not json`} {
		t.Run(body, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, MaintenancePath, strings.NewReader(body)))
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `want {\"scheme\"`) {
				t.Errorf("body %q: %d %s", body, w.Code, w.Body)
			}
		})
	}
}
