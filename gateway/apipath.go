package gateway

import "net/url"

// KeyPath returns the API path of a config or state document.
func KeyPath(prov, key string) string {
	return "/v1/gateway/" + prov + "/" + (&url.URL{Path: key}).EscapedPath()
}
