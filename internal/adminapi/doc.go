// Package adminapi is a daemon's admin listener and its client: the HTTP
// server that serves the status document (GET /v1/status), /metrics,
// /healthz and the schemes' endpoints; its front door (Guard) and the
// access rules of endpoints that change something (Protect, RequireToken);
// the [admin] table (Config); and the client side, Fetch/FetchAll of status
// reports and Call, which sends an operator request to a daemon.
package adminapi
