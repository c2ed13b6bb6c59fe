package health

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
)

// benchProbe runs one HTTP check of a loopback status page b.N times. The
// server runs in the same process; profile with
// -cpuprofile and look at the client side (internal/health, net, net/http).
func benchProbe(b *testing.B, c Config) {
	s := startHTTPB(b)
	c.Kind, c.URL, c.MustHave, c.Timeout = "http", s+"/status", "status=OK", config.Duration(time.Second)
	ck, err := New(c)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if r := ck.Check(ctx); !r.OK {
			b.Fatalf("probe failed: %s", r.Reason)
		}
	}
}

// BenchmarkHTTPProbe is the default probe: a fresh connection each time.
func BenchmarkHTTPProbe(b *testing.B) { benchProbe(b, Config{}) }

func startHTTPB(b *testing.B) string {
	mux := http.NewServeMux()
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("status=OK\n")) })
	s := &http.Server{Handler: mux}
	ln := listenB(b)
	go func() { _ = s.Serve(ln) }()
	b.Cleanup(func() { _ = s.Close() })
	return "http://" + ln.Addr().String()
}

func listenB(b *testing.B) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	return ln
}

// BenchmarkHTTPProbeKeepAlive is a keepalive probe through a Probes' pool
// (the path of `ddns run` with keepalive = true).
func BenchmarkHTTPProbeKeepAlive(b *testing.B) {
	s := startHTTPB(b)
	pool := newConnPool()
	defer pool.close()
	pool.setContext(context.Background()) // as Probes.Run does
	ck, err := newChecker(Config{Kind: "http", URL: s + "/status", MustHave: "status=OK", KeepAlive: true,
		Timeout: config.Duration(time.Second)}, pool)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if r := ck.Check(ctx); !r.OK {
			b.Fatalf("probe failed: %s", r.Reason)
		}
	}
}
