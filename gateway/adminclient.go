package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/config"
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
	raw, err := adminapi.Call(ctx, c.Endpoint, c.Token, method, path, body)
	var ce *adminapi.CallError
	switch {
	case errors.As(err, &ce):
		return nil, &APIError{Code: ce.Code, Msg: ce.Msg, Redirect: ce.Redirect}
	case err != nil:
		return nil, fmt.Errorf("gateway: is `redund gateway run` running? %w", err)
	}
	return raw, nil
}

// KeyPath returns the API path of a config or state document.
func KeyPath(prov, key string) string {
	return "/v1/gateway/" + prov + "/" + (&url.URL{Path: key}).EscapedPath()
}
