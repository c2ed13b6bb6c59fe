package health

import (
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
)

// A decoded check has the defaults its kind uses set, and no key of
// another kind (Validate would reject it); what the file gives is kept.
func TestDecodedDefaults(t *testing.T) {
	d := config.Duration(DefaultTimeout)
	for _, tt := range []struct {
		name, src string
		want      Config
	}{
		{"http", `kind = "http"
url = "http://127.0.0.1/"`, Config{Kind: "http", URL: "http://127.0.0.1/", Method: "GET", MaxBytes: DefaultMaxBytes, Timeout: d}},
		{"dns", `kind = "dns"
server = "127.0.0.1"
name = "a.example"`, Config{Kind: "dns", Server: "127.0.0.1", Name: "a.example", Type: "A", Timeout: d}},
		{"tcp", `kind = "tcp"
address = "127.0.0.1:1"`, Config{Kind: "tcp", Address: "127.0.0.1:1", Timeout: d}},
		{"explicit values kept", `kind = "http"
url = "http://127.0.0.1/"
method = "HEAD"
max_bytes = 10
timeout = "1s"`, Config{Kind: "http", URL: "http://127.0.0.1/", Method: "HEAD", MaxBytes: 10, Timeout: config.Duration(time.Second)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			if err := config.Decode("check.toml", tt.src, &c); err != nil {
				t.Fatal(err)
			}
			if c.Kind != tt.want.Kind || c.URL != tt.want.URL || c.Method != tt.want.Method || c.MaxBytes != tt.want.MaxBytes ||
				c.Server != tt.want.Server || c.Name != tt.want.Name || c.Type != tt.want.Type ||
				c.Address != tt.want.Address || c.Timeout != tt.want.Timeout {
				t.Errorf("decoded\n%+v\nwant\n%+v", c, tt.want)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("the defaulted check is invalid: %v", err)
			}
		})
	}
}
