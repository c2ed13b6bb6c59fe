package srv

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/redund/redund/internal/config"
)

// benchTable is the [srv] table of bench/srv/run.sh: zones x udp,tcp over
// ten targets, NAPTR on.
func benchTable(zones int) string {
	var b strings.Builder
	b.WriteString("[srv]\ndomain = \"sip.bench.test\"\ntransports = [\"udp\", \"tcp\"]\nnaptr = true\n")
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&b, "[[srv.targets]]\nname = \"ms%d\"\nhost = \"ms%d.bench.test\"\nudp = 5060\ntcp = 5060\n", i, i)
	}
	for z := 1; z <= zones; z++ {
		fmt.Fprintf(&b, "[[srv.zones]]\nname = \"z%d\"\norder = [\"ms%d\", \"ms%d\", \"ms%d\"]\n", z, z%10+1, (z+3)%10+1, (z+7)%10+1)
	}
	return b.String()
}

// BenchmarkGen10k measures each stage of `srv gen` for 10,000 zone x
// transport combinations (go test -bench Gen10k -run XXX ./srv/).
func BenchmarkGen10k(b *testing.B) {
	src := benchTable(5000)
	var tb table
	if err := config.Decode("bench.toml", src, &tb); err != nil {
		b.Fatal(err)
	}
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			var t table
			if err := config.Decode("bench.toml", src, &t); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("validate", func(b *testing.B) {
		for b.Loop() {
			if err := tb.Srv.Validate(); err != nil {
				b.Fatal(err)
			}
		}
	})
	sets := Generate(tb.Srv)
	b.Run("generate", func(b *testing.B) {
		for b.Loop() {
			sets = Generate(tb.Srv)
		}
	})
	for _, f := range Formats {
		b.Run("write-"+f, func(b *testing.B) {
			for b.Loop() {
				if err := Write(io.Discard, f, tb.Srv, sets); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
