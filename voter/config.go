// Package voter implements redund's voter scheme: VOTER server with redundant proxy mode.
package voter

// Config is the [voter] table (placeholder until the scheme lands).
type Config struct{}

// Validate checks the table and returns every problem with its key path.
func (c *Config) Validate() error { return nil }
