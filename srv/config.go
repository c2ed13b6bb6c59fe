// Package srv implements redund's srv scheme: SRV + NAPTR failover records for SIP phones.
package srv

// Config is the [srv] table (placeholder until the scheme lands).
type Config struct{}

// Validate checks the table and returns every problem with its key path.
func (c *Config) Validate() error { return nil }
