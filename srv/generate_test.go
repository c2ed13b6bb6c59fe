package srv

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redund/redund/internal/config"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// table is the part of redund.toml these tests read.
type table struct {
	Srv *Config `toml:"srv"`
}

// loadFile decodes and validates a test config.
func loadFile(t testing.TB, path string) *Config {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return loadString(t, string(src))
}

func loadString(t testing.TB, src string) *Config {
	t.Helper()
	var tb table
	if err := config.Decode("test.toml", src, &tb); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if err := tb.Srv.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	return tb.Srv
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test -update rewrites it):\n%s", path, UnifiedDiff(path, "output", string(want), string(got), 3))
	}
}

func TestGenerateGolden(t *testing.T) {
	c := loadFile(t, "testdata/three-zones.toml")
	for _, f := range Formats {
		t.Run(f, func(t *testing.T) {
			var a, b bytes.Buffer
			if err := Write(&a, f, c, Generate(c)); err != nil {
				t.Fatal(err)
			}
			// deterministic: a second run from a fresh decode is byte-identical
			c2 := loadFile(t, "testdata/three-zones.toml")
			if err := Write(&b, f, c2, Generate(c2)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatal("two runs gave different output")
			}
			golden(t, "three-zones."+f, a.Bytes())
		})
	}
}

func TestGenerateMinimalGolden(t *testing.T) {
	c := loadString(t, `
[srv]
domain = "Voice.Example.ORG."
naptr = true
not_offered = true
[[srv.targets]]
name = "a"
host = "A.Example.Org"
udp = 5060
[[srv.targets]]
name = "b"
host = "b.example.org"
weight = 0
udp = 5060
tcp = 5060
[[srv.zones]]
name = "hq"
order = ["a", "b"]
[srv.push]
server = "127.0.0.1:53"
zone = "example.org"
[srv.push.tsig]
name = "k."
secret = "c2VjcmV0"
`)
	for _, f := range Formats {
		var b bytes.Buffer
		if err := Write(&b, f, c, Generate(c)); err != nil {
			t.Fatal(err)
		}
		golden(t, "minimal."+f, b.Bytes())
	}
}

func TestGenerateRules(t *testing.T) {
	c := loadFile(t, "testdata/three-zones.toml")
	sets := Generate(c)
	var names []string
	for _, s := range sets {
		names = append(names, s.TypeString()+" "+s.Name)
	}
	got := strings.Join(names, "\n")
	for _, want := range []string{
		"NAPTR east.sip.example.com.",
		"SRV _sip._udp.east.sip.example.com.",
		"SRV _sips._tcp.west.sip.example.com.", // tls served by ms1, ms2
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing RRset %s in\n%s", want, got)
		}
	}
	west := Find(sets, "_sip._udp.west.sip.example.com")
	if len(west) != 1 || rdata(west[0].RRs[0]) != "10 10 5080 ms3.example.net." || west[0].TTL != 120 {
		t.Errorf("west udp = %+v", west)
	}
}

func TestGenerateNotOfferedDot(t *testing.T) {
	c := loadString(t, `
[srv]
domain = "sip.example.com"
transports = ["udp"]
not_offered = true
[[srv.targets]]
name = "a"
host = "a.example.com"
udp = 5060
tls = 5061
[[srv.zones]]
name = "z"
order = ["a"]
`)
	sets := Generate(c)
	if len(sets) != 3 {
		t.Fatalf("got %d RRsets, want udp + . for tcp and tls: %+v", len(sets), sets)
	}
	for _, s := range sets[1:] {
		if rdata(s.RRs[0]) != "0 0 0 ." {
			t.Errorf("%s: %s, want the . record", s.Name, rdata(s.RRs[0]))
		}
	}
}
