package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/redund/redund/internal/adminapi"
)

func testDaemon(t *testing.T) *daemon {
	t.Helper()
	d, err := newDaemon(&globalOptions{LogLevel: "error", LogFormat: "text"}, "test run")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDaemonRunServesAdminWhileFnRuns(t *testing.T) {
	d := testDaemon(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var addr string
	err := d.run(ctx, adminapi.Config{}, "127.0.0.1:0", func(ctx context.Context) error {
		addr = d.Admin.Addr()
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("healthz: %s", resp.Status)
		}
		cancel() // Ctrl-C
		<-ctx.Done()
		return fmt.Errorf("scheme: %w", ctx.Err())
	})
	if err != nil {
		t.Fatalf("run after the context ended = %v, want nil", err)
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("admin server still answers after run returned")
	}
}

func TestDaemonRunReturnsFnError(t *testing.T) {
	boom := errors.New("scheme: boom")
	if err := testDaemon(t).run(t.Context(), adminapi.Config{}, "127.0.0.1:0", func(context.Context) error { return boom }); err != boom {
		t.Errorf("run = %v, want %v", err, boom)
	}
}

func TestDaemonRunBadAdminAddr(t *testing.T) {
	called := false
	err := testDaemon(t).run(t.Context(), adminapi.Config{}, "127.0.0.1:99999", func(context.Context) error { called = true; return nil })
	if err == nil || called {
		t.Errorf("run on a bad admin address = %v (fn called: %v), want an error before fn", err, called)
	}
}

func TestNewDaemonBadLogFlags(t *testing.T) {
	if _, err := newDaemon(&globalOptions{LogLevel: "loud", LogFormat: "text"}, "x"); err == nil {
		t.Error("newDaemon accepted log level \"loud\"")
	}
}
