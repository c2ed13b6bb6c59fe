package schedsync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/status"
)

// ActionResult is the answer of an operator action.
type ActionResult struct {
	Result string            `json:"result"`
	Status []status.Document `json:"status"`
	Error  string            `json:"error,omitempty"`
}

// CallAction asks the daemon listening on the admin address addr
// (host:port or URL) to run an operator action: resync, promote or demote.
func CallAction(ctx context.Context, addr string, token config.Secret, name string) (ActionResult, error) {
	var out ActionResult
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+ActionPath(name), bytes.NewReader(nil))
	if err != nil {
		return out, fmt.Errorf("schedsync: %w", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token.Reveal())
	}
	hc := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		return out, fmt.Errorf("schedsync: is `redund schedsync run` running? %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err := json.Unmarshal(body, &out); err != nil {
		return out, fmt.Errorf("schedsync: %s: HTTP %d: %s", name, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("schedsync: %s: %s", name, orDefault(out.Error, resp.Status))
	}
	return out, nil
}
