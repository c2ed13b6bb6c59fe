package termview

import (
	"bytes"
	"strings"
	"testing"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/status"
)

// FuzzRender draws whatever status document the decoder accepts: it must
// not panic, and no control character of the document reaches the
// terminal.
func FuzzRender(f *testing.F) {
	f.Add([]byte(`{"schema":1,"daemon":"ddns run","instances":[]}`))
	f.Add([]byte(`{"schema":1,"instances":[{"instance":"a\u001b[2J","state":"OK"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := status.Decode(bytes.NewReader(b))
		if err != nil {
			return
		}
		got := Render([]adminapi.Result{{Endpoint: "x:1", Report: r}}, Options{Plain: true, Now: now, Width: 60})
		if strings.ContainsAny(got, "\x1b\x07") {
			t.Fatalf("control characters reached the output: %q", got)
		}
	})
}
