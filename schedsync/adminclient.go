package schedsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/redund/redund/internal/adminapi"
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
	raw, err := adminapi.Call(ctx, addr, token, http.MethodPost, ActionPath(name), nil)
	var ce *adminapi.CallError
	switch {
	case errors.As(err, &ce):
		return out, fmt.Errorf("schedsync: %s: %s", name, ce.Msg)
	case err != nil:
		return out, fmt.Errorf("schedsync: is `redund schedsync run` running? %w", err)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return out, fmt.Errorf("schedsync: %s: not an action result: %w", name, err)
	}
	return out, nil
}
