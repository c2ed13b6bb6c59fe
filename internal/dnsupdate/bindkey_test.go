package dnsupdate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redund/redund/internal/config"
)

// tsigKeygen is what `tsig-keygen -a hmac-sha512 ddns-key.example.` writes.
const tsigKeygen = `key "ddns-key.example." {
	algorithm hmac-sha512;
	secret "mF6ZVl3T0cKI6JgqdjVdJ4ea0ahyu9y2cRGcbTyn8xpdxRUoyq1gQkYKhxAdmZP6kDM+NBnOLGeUwpLK6oZ0Ww==";
};
`

func TestParseBINDKey(t *testing.T) {
	for _, tc := range []struct {
		name, src, wantName, wantAlg, wantErr string
	}{
		{"tsig-keygen", tsigKeygen, "ddns-key.example.", "hmac-sha512", ""},
		{"comments and one line", "# made by hand\n/* a\nb */ key ddns { algorithm \"hmac-sha256\"; // x\n secret \"c2VjcmV0\"; };",
			"ddns", "hmac-sha256", ""},
		{"no algorithm", `key "k" { secret "c2VjcmV0"; };`, "k", "", ""},
		{"two keys", tsigKeygen + tsigKeygen, "", "", "2 key statements"},
		{"no secret", `key "k" { algorithm hmac-sha256; };`, "", "", "has no secret"},
		{"unclosed", `key "k" { secret "c2VjcmV0";`, "", "", "not closed"},
		{"unknown clause", `key "k" { colour red; secret "c2VjcmV0"; };`, "", "", `unknown clause "colour"`},
		{"unterminated string", `key "k { secret c2VjcmV0; };`, "", "", "unterminated"},
		{"not a key", `zone "example" { };`, "", "", "expected key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := parseBINDKey(tc.src)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || k.Name != tc.wantName || k.Algorithm != tc.wantAlg || k.Secret == "" {
				t.Fatalf("got %+v, %v", k, err)
			}
		})
	}
}

// TestTSIGFromKeyFile: secret_file may name the key file tsig-keygen wrote;
// name and algorithm come from it where the config leaves them out, and
// must agree where it gives them.
func TestTSIGFromKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ddns.key")
	if err := os.WriteFile(path, []byte(tsigKeygen), 0o600); err != nil {
		t.Fatal(err)
	}
	type table struct {
		Key *TSIG `toml:"key"`
	}
	for _, tc := range []struct{ name, extra, wantErr string }{
		{"file alone", "", ""},
		{"same name and algorithm", "name = \"DDNS-key.example\"\nalgorithm = \"hmac-sha512\"\n", ""},
		{"other name", "name = \"other\"\n", `the key file's key is "ddns-key.example.", but name is "other"`},
		{"other algorithm", "algorithm = \"hmac-sha256\"\n", "the key file's algorithm is hmac-sha512, but algorithm is hmac-sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tb table
			src := "[key]\n" + tc.extra + "secret_file = \"" + path + "\"\n"
			if err := config.Decode("redund.toml", src, &tb); err != nil {
				t.Fatal(err)
			}
			err := tb.Key.Validate()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tb.Key.KeyName() != "ddns-key.example." || tb.Key.Secret.Reveal() != "mF6ZVl3T0cKI6JgqdjVdJ4ea0ahyu9y2cRGcbTyn8xpdxRUoyq1gQkYKhxAdmZP6kDM+NBnOLGeUwpLK6oZ0Ww==" {
				t.Fatalf("key %+v", tb.Key)
			}
			if alg, _ := tb.Key.Alg(); alg != "hmac-sha512." {
				t.Fatalf("algorithm %q", alg)
			}
		})
	}
}

func FuzzParseBINDKey(f *testing.F) {
	f.Add(tsigKeygen)
	f.Add(`key k { secret "x"; };`)
	f.Add("/* */ # \n key \"")
	f.Fuzz(func(t *testing.T, src string) {
		k, err := parseBINDKey(src)
		if err == nil && k.Secret == "" {
			t.Fatalf("accepted a key without a secret: %q", src)
		}
	})
}
