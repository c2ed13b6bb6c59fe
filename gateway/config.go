// Package gateway implements redund's gateway scheme: master/backup pair with replication and client failover.
package gateway

// Config is the [gateway] table (placeholder until the scheme lands).
type Config struct{}

// Validate checks the table and returns every problem with its key path.
func (c *Config) Validate() error { return nil }
