package schedsync

import "github.com/redund/redund/internal/status"

// ActionResult is the answer of an operator action (POST ActionPath).
type ActionResult struct {
	Result string            `json:"result"`
	Status []status.Document `json:"status"`
	Error  string            `json:"error,omitempty"`
}
