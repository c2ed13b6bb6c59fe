package adminapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redund/redund/internal/config"
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

// Target.Call sends a typed body and decodes a typed answer, and its
// errors say which of three things went wrong.
func TestTargetCall(t *testing.T) {
	type in struct {
		On bool `json:"on"`
	}
	type out struct {
		Result string `json:"result"`
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/v1/echo":
			WriteJSON(w, http.StatusOK, out{Result: r.Method + " " + r.Header.Get("Content-Type") + " " + string(body)})
		case "/v1/html":
			_, _ = w.Write([]byte("<html>not redund</html>"))
		default:
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error":"this node is the standby","redirect":"http://b:8080"}`))
		}
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	tg := Target{Endpoint: srv.URL, Daemon: "gateway run"}
	for _, tc := range []struct {
		name   string
		tg     Target
		path   string
		in     any
		want   string // the decoded result, or the error text
		errKey string // "call", "reply", "unreachable", "plain" or "" for none
	}{
		{"typed body and answer", tg, "/v1/echo", in{On: true}, `PUT application/json {"on":true}`, ""},
		{"raw body", tg, "/v1/echo", []byte("x=1"), "PUT  x=1", ""},
		{"no body", tg, "/v1/echo", nil, "PUT  ", ""},
		{"refusal", tg, "/v1/standby", nil, "daemon answered 409 Conflict: this node is the standby", "call"},
		{"not JSON", tg, "/v1/html", nil, "not the expected answer: invalid character", "reply"},
		{"nobody there", Target{Endpoint: testutil.ClosedTCPAddr(t), Daemon: "ddns run"}, "/v1/echo", nil,
			"is `redund ddns run` running? ", "unreachable"},
		{"nobody there, no daemon named", Target{Endpoint: testutil.ClosedTCPAddr(t)}, "/v1/echo", nil,
			"connection refused", "plain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got out
			err := tc.tg.Call(ctx, http.MethodPut, tc.path, tc.in, &got)
			var ce *CallError
			var re *ReplyError
			var ue *UnreachableError
			switch tc.errKey {
			case "":
				if err != nil || got.Result != tc.want {
					t.Fatalf("got %q, %v; want %q", got.Result, err, tc.want)
				}
				return
			case "call":
				if !errors.As(err, &ce) || ce.Redirect != "http://b:8080" {
					t.Fatalf("want a CallError with the redirect: %#v", err)
				}
			case "reply":
				if !errors.As(err, &re) {
					t.Fatalf("want a ReplyError: %#v", err)
				}
			case "unreachable":
				if !errors.As(err, &ue) || ue.Daemon != "ddns run" {
					t.Fatalf("want an UnreachableError: %#v", err)
				}
			case "plain":
				if err == nil || errors.As(err, &ue) || errors.As(err, &ce) {
					t.Fatalf("want the dial error as is: %#v", err)
				}
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
	var raw []byte
	if err := tg.Call(ctx, http.MethodGet, "/v1/html", nil, &raw); err != nil || string(raw) != "<html>not redund</html>" {
		t.Errorf("*[]byte gets the body as is: %q, %v", raw, err)
	}
}

// An error answer is printed to the operator's terminal: its message and
// redirect lose control characters (an escape sequence could rewrite the
// screen, e.g. hide the refusal) and a huge one is cut.
func TestCallErrorIsCleaned(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/json":
			WriteJSON(w, http.StatusConflict, map[string]string{"error": "refused\x1b[2K\x1b[1Adone\r", "redirect": "http://b\x1b]0;x\x07:1"})
		case "/v1/huge":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(strings.Repeat("x", 1<<20)))
		}
	}))
	t.Cleanup(srv.Close)
	_, err := Call(context.Background(), srv.URL, "", http.MethodPost, "/v1/json", nil)
	var ce *CallError
	if !errors.As(err, &ce) || strings.ContainsAny(ce.Msg+ce.Redirect+err.Error(), "\x1b\x07\r") ||
		!strings.HasPrefix(ce.Msg, "refused") {
		t.Errorf("control characters kept: %q (redirect %q)", err, ce.Redirect)
	}
	_, err = Call(context.Background(), srv.URL, "", http.MethodPost, "/v1/huge", nil)
	if !errors.As(err, &ce) || len(ce.Msg) > maxErrMsg+len("…") {
		t.Errorf("a 1 MiB error answer: message of %d bytes", len(ce.Msg))
	}
}

// TestCallDoesNotFollowRedirects: an answer that redirects (from whatever
// answers on the admin address) is an error; the request and its token
// do not go to the place it names. Before, the client followed it and
// sent the bearer token along to another port of the same host.
func TestCallDoesNotFollowRedirects(t *testing.T) {
	var got atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization"))
		_, _ = io.WriteString(w, "{}")
	}))
	defer other.Close()
	squatter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer squatter.Close()
	_, err := Call(context.Background(), squatter.URL, config.Secret("0123456789abcdef-token"), http.MethodPost, "/v1/gateway/failover", nil)
	var ce *CallError
	if !errors.As(err, &ce) || ce.Code != http.StatusTemporaryRedirect {
		t.Fatalf("Call = %v, want the 307 as an error", err)
	}
	if tok := got.Load(); tok != nil {
		t.Fatalf("the redirect was followed, with Authorization %q", tok)
	}
}
