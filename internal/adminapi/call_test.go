package adminapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redund/redund/internal/testutil"
)

func TestCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/v1/echo":
			if r.Header.Get("Authorization") != "Bearer s3cret" {
				http.Error(w, `{"error":"bad token"}`, http.StatusUnauthorized)
				return
			}
			w.Write(append([]byte(r.Method+" "+r.Header.Get("Content-Type")+" "), body...))
		case "/v1/standby":
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"error":"this node is the standby","redirect":"http://b:8080"}`))
		default:
			http.Error(w, "no such thing", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	host := strings.TrimPrefix(srv.URL, "http://")

	got, err := Call(ctx, host, "s3cret", http.MethodPost, "/v1/echo", []byte(`{"on":true}`))
	if err != nil || string(got) != `POST application/json {"on":true}` {
		t.Fatalf("200 answer: %q %v", got, err)
	}
	_, err = Call(ctx, srv.URL, "wrong", http.MethodPost, "/v1/echo", nil)
	var ce *CallError
	if !errors.As(err, &ce) || ce.Code != 401 || ce.Msg != "bad token" {
		t.Fatalf("401 answer: %#v", err)
	}
	_, err = Call(ctx, srv.URL, "", http.MethodPost, "/v1/standby", nil)
	if !errors.As(err, &ce) || ce.Code != 409 || ce.Redirect != "http://b:8080" || ce.Msg != "this node is the standby" {
		t.Fatalf("409 answer: %#v", err)
	}
	_, err = Call(ctx, srv.URL, "", http.MethodGet, "/v1/nothing", nil)
	if !errors.As(err, &ce) || ce.Msg != "no such thing" || !strings.Contains(err.Error(), "404 Not Found: no such thing") {
		t.Fatalf("plain-text answer: %v", err)
	}

	if _, err := Call(ctx, testutil.ClosedTCPAddr(t), "", http.MethodPost, "/v1/echo", nil); err == nil || errors.As(err, &ce) {
		t.Fatalf("unreachable daemon: %v", err)
	}
	if _, err := Call(ctx, "ftp://x", "", http.MethodPost, "/v1/echo", nil); err == nil {
		t.Fatal("a bad endpoint must be refused")
	}
}
