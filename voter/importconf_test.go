package voter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redund/redund/internal/config"
)

type importRoot struct {
	Voter map[string]*Config `toml:"voter"`
}

// SetDefaults defaults every instance as the root config of cmd/redund
// does (config.Decode calls it).
func (r *importRoot) SetDefaults() {
	for _, c := range r.Voter {
		c.SetDefaults()
	}
}

func TestImportConf(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "voter.conf"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := ImportConf("voter.conf", string(src))
	if err != nil {
		t.Fatal(err)
	}
	checkGoldenText(t, "import", out)
	var root importRoot
	if err := config.Decode("import.toml", out, &root); err != nil {
		t.Fatalf("converted TOML does not load: %v\n%s", err, out)
	}
	i := root.Voter["1999"]
	if i == nil || !i.IsPrimary || i.Linger == nil || *i.Linger != 8 || i.Thresholds != "255,110=45" || !i.HostDeemp ||
		i.Listen != "127.0.0.1:1667" || i.Password != "BLAH" || i.Buflen != 480 {
		t.Fatalf("instance 1999: %+v", i)
	}
	s1 := i.Clients["site1"]
	if s1 == nil || s1.Password != "site1pw" || !s1.Transmit || s1.Prio != 2 {
		t.Fatalf("site1: %+v", s1)
	}
	if s2 := i.Clients["site2"]; !s2.NoDeemp || !s2.NoPLFilter || s2.GPSID == nil || *s2.GPSID != "2" {
		t.Fatalf("site2: %+v", s2)
	}
	if !strings.Contains(out, "# not supported by redund: dynamic") || !strings.Contains(out, "# not used by redund: txctcss") {
		t.Error("dropped keys are not listed")
	}
	// The master on the isprimary instance is what validation must catch.
	if err := i.Validate(); err == nil || !strings.Contains(err.Error(), "clients.gps.master") {
		t.Errorf("validation: %v", err)
	}
	if err := root.Voter["2000"].Validate(); err != nil {
		t.Errorf("instance 2000: %v", err)
	}
}

func TestImportConfErrors(t *testing.T) {
	for _, src := range []string{"key = value\n", "[general\n", "[x]\nnot a pair\n"} {
		t.Run(src, func(t *testing.T) {
			if _, err := ImportConf("voter.conf", src); err == nil {
				t.Errorf("%q: no error", src)
			}
		})
	}
}

func FuzzImportConf(f *testing.F) {
	f.Add("[general]\npassword = x\n[1]\na = b,transmit\n")
	f.Fuzz(func(t *testing.T, src string) {
		out, err := ImportConf("voter.conf", src)
		if err != nil {
			return
		}
		var root importRoot
		_ = config.Decode("fuzz.toml", out, &root) // must not panic
	})
}
