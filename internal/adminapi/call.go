package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/text"
)

// maxReply bounds the body of an admin API answer (a gateway config
// export can be large).
const maxReply = 64 << 20

// maxErrMsg bounds the message of an error answer, as CallError keeps it.
const maxErrMsg = 1024

// CallError is an admin API answer other than 200 OK.
type CallError struct {
	Code     int    // HTTP status code
	Status   string // e.g. "409 Conflict"
	Msg      string // the answer's "error" field, else its text
	Redirect string // the answer's "redirect" field (the node to ask instead)
}

func (e *CallError) Error() string { return "daemon answered " + e.Status + ": " + e.Msg }

// Call sends an operator request to the admin listener at endpoint
// (host:port, URL or admin socket, as for Fetch) with token as its bearer
// token when set, and returns the body of a 200 answer. Another answer is a
// *CallError; a daemon that cannot be reached is a plain error, an admin
// socket not trusted a *SocketRefusedError (DefaultTrust).
func Call(ctx context.Context, endpoint string, token config.Secret, method, path string, body []byte) ([]byte, error) {
	return (&Client{}).Call(ctx, endpoint, token, method, path, body)
}

// Call is the package's Call with c's Trust for an admin socket.
func (c *Client) Call(ctx context.Context, endpoint string, token config.Secret, method, path string, body []byte) ([]byte, error) {
	u, err := StatusURL(endpoint)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(u, "/v1/status")+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if len(body) > 0 && json.Valid(body) {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token.Reveal())
	}
	hc := c.clientFor(endpoint) // no proxy, no keep-alive, as for Fetch
	hc.Timeout = 5 * time.Minute
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		return raw, nil
	}
	var e struct {
		Error    string `json:"error"`
		Redirect string `json:"redirect"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(raw))
	}
	return nil, &CallError{Code: resp.StatusCode, Status: text.Clean(resp.Status), Msg: cleanMsg(e.Error),
		Redirect: cleanMsg(e.Redirect)}
}

// cleanMsg is text of an error answer as the operator's terminal may show
// it: without control characters (see text.Clean), at most maxErrMsg bytes.
func cleanMsg(s string) string { return text.CleanCut(s, maxErrMsg) }

// Target is a running daemon's admin listener as an operator's command
// reaches it: the one admin client of the CLI commands.
type Target struct {
	Endpoint string        // host:port or URL, as for Fetch
	Token    config.Secret // sent as the bearer token when set
	// Daemon is the command that serves the listener ("gateway run"): an
	// UnreachableError names it. Empty: the dial error is returned as is.
	Daemon string
	// Trust decides whether an admin socket endpoint is believed (nil:
	// DefaultTrust); a refused one is a *SocketRefusedError.
	Trust *SocketTrust
}

// UnreachableError is a daemon that could not be asked at all.
type UnreachableError struct {
	Daemon string // e.g. "ddns run"
	Err    error
}

func (e *UnreachableError) Error() string {
	return "is `redund " + e.Daemon + "` running? " + e.Err.Error()
}

// Unwrap gives the dial or transport error.
func (e *UnreachableError) Unwrap() error { return e.Err }

// ReplyError is a 200 answer that is not the JSON the caller expects.
type ReplyError struct{ Err error }

func (e *ReplyError) Error() string { return "not the expected answer: " + e.Err.Error() }

// Unwrap gives the decoding error.
func (e *ReplyError) Unwrap() error { return e.Err }

// Call sends method path to the daemon. in is the request body: nil for
// none, a []byte as it is, anything else as its JSON. A 200 answer is
// decoded into out: nil drops it, a *[]byte receives the body as it is,
// anything else is JSON-decoded (a *ReplyError when it does not fit).
// An answer other than 200 is a *CallError (code, message, redirect); a
// daemon that cannot be reached is an *UnreachableError when t.Daemon is
// set.
func (t Target) Call(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	switch v := in.(type) {
	case nil:
	case []byte:
		body = v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding the request: %w", err)
		}
		body = b
	}
	raw, err := (&Client{Trust: t.Trust}).Call(ctx, t.Endpoint, t.Token, method, path, body)
	var ce *CallError
	var se *SocketRefusedError
	switch {
	case errors.As(err, &ce):
		return err
	case errors.As(err, &se): // reached, and not believed: not "is it running?"
		return se
	case err != nil && t.Daemon != "":
		return &UnreachableError{Daemon: t.Daemon, Err: err}
	case err != nil:
		return err
	}
	switch v := out.(type) {
	case nil:
	case *[]byte:
		*v = raw
	default:
		if err := json.Unmarshal(raw, out); err != nil {
			return &ReplyError{Err: err}
		}
	}
	return nil
}
