// Package schedsync implements redund's schedsync scheme: primary/secondary sync of a data directory.
package schedsync

// Config is the [schedsync] table (placeholder until the scheme lands).
type Config struct{}

// Validate checks the table and returns every problem with its key path.
func (c *Config) Validate() error { return nil }
