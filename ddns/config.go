// Package ddns implements redund's ddns scheme: health-checked DNS failover.
package ddns

// Config is the [ddns] table (placeholder until the scheme lands).
type Config struct{}

// Validate checks the table and returns every problem with its key path.
func (c *Config) Validate() error { return nil }
