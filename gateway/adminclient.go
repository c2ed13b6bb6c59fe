package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/status"
)

// AdminClient talks to a running `redund gateway run` through its admin
// listener; the CLI commands use it.
type AdminClient struct {
	Endpoint string        // admin address (host:port or URL)
	Token    config.Secret // [admin] token, sent when set
}

// APIError is an error answer of the admin API.
type APIError struct {
	Code     int
	Msg      string
	Redirect string
}

func (e *APIError) Error() string {
	msg := e.Msg
	if !strings.HasPrefix(msg, "gateway:") {
		msg = "gateway: " + msg
	}
	if e.Redirect != "" {
		return fmt.Sprintf("%s (active node: %s)", msg, e.Redirect)
	}
	return msg
}

// Do sends a request to path (e.g. /v1/gateway/config/site) and returns
// the response body of a 200 answer.
func (c AdminClient) Do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	u, err := status.StatusURL(c.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	u = strings.TrimSuffix(u, "/v1/status") + path
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token.Reveal())
	}
	hc := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 30 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("gateway: is `redund gateway run` running? %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
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
	return nil, &APIError{Code: resp.StatusCode, Msg: e.Error, Redirect: e.Redirect}
}

// KeyPath returns the API path of a config or state document.
func KeyPath(prov, key string) string {
	return "/v1/gateway/" + prov + "/" + (&url.URL{Path: key}).EscapedPath()
}
