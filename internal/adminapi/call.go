package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/redund/redund/internal/config"
)

// maxReply bounds the body of an admin API answer (a gateway config
// export can be large).
const maxReply = 64 << 20

// CallError is an admin API answer other than 200 OK.
type CallError struct {
	Code     int    // HTTP status code
	Status   string // e.g. "409 Conflict"
	Msg      string // the answer's "error" field, else its text
	Redirect string // the answer's "redirect" field (the node to ask instead)
}

func (e *CallError) Error() string { return "daemon answered " + e.Status + ": " + e.Msg }

// Call sends an operator request to the admin listener at endpoint
// (host:port or URL, as for Fetch) with token as its bearer token when set,
// and returns the body of a 200 answer. Another answer is a *CallError; a
// daemon that cannot be reached is a plain error.
func Call(ctx context.Context, endpoint string, token config.Secret, method, path string, body []byte) ([]byte, error) {
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
	hc := (&Client{}).httpClient() // no proxy, no keep-alive, as for Fetch
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
	return nil, &CallError{Code: resp.StatusCode, Status: resp.Status, Msg: e.Error, Redirect: e.Redirect}
}
