package srv

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

// table is the part of redund.toml these tests read.
type table struct {
	Srv *Config `toml:"srv"`
}

// SetDefaults defaults the [srv] table as the root config of cmd/redund
// does (config.Decode calls it).
func (t *table) SetDefaults() {
	if t.Srv != nil {
		t.Srv.SetDefaults()
	}
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
	if testutil.Updating() {
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

// encodingJSON is what encoding/json makes of the document; the hand
// writer must match it byte for byte.
func encodingJSON(t testing.TB, c *Config, sets []RRSet) []byte {
	doc := JSONDoc{Domain: c.DomainFQDN(), RRSets: []JSONRRSet{}}
	for _, s := range sets {
		js := JSONRRSet{Name: s.Name, Type: s.TypeString(), TTL: s.TTL, Zone: s.Zone, Transport: s.Transport}
		for _, rr := range s.RRs {
			switch r := rr.(type) {
			case *dns.SRV:
				js.SRV = append(js.SRV, JSONSRV{r.Priority, r.Weight, r.Port, r.Target})
			case *dns.NAPTR:
				js.NAPTR = append(js.NAPTR, JSONNAPTR{r.Order, r.Preference, r.Flags, r.Service, r.Regexp, r.Replacement})
			}
		}
		doc.RRSets = append(doc.RRSets, js)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestJSONWriterMatchesEncodingJSON(t *testing.T) {
	var odd table // not valid (Validate rejects these names), but the writer must still escape them
	if err := config.Decode("odd.toml", `
[srv]
domain = "bücher.example"
[[srv.targets]]
name = "a"
host = "a<&>.example"
udp = 1
[[srv.zones]]
name = "z"
order = ["a"]
`, &odd); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Config{loadFile(t, "testdata/three-zones.toml"), odd.Srv} {
		sets := Generate(c)
		var b bytes.Buffer
		if err := Write(&b, FormatJSON, c, sets); err != nil {
			t.Fatal(err)
		}
		if want := encodingJSON(t, c, sets); !bytes.Equal(b.Bytes(), want) {
			t.Errorf("hand-written JSON differs from encoding/json:\n%s", UnifiedDiff("encoding/json", "writeJSON", string(want), b.String(), 2))
		}
	}
}
