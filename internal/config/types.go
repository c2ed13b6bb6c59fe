package config

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Duration is a time.Duration written in TOML as a string: "1500ms", "3s".
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q (use a number with a unit, e.g. \"1500ms\" or \"3s\")", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as Go formats it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// Secret is a string that must never be printed or logged. In TOML a Secret
// key K may be given inline (K = "..."), from a file (K_file = "/path") or
// from an environment variable (K_env = "NAME").
type Secret string

// Redacted is what a non-empty Secret prints instead of its value.
const Redacted = "[redacted]"

// Reveal returns the secret's value, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return s.String() }

// LogValue hides the value from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON hides the value from JSON documents.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalText hides the value from encoders (TOML, JSON map keys).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
