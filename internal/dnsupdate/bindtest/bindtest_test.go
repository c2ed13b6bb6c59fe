package bindtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestStartServesZoneAndRecords(t *testing.T) {
	s := Start(t, "Example.Test", "www 120 IN A 192.0.2.1")
	if s.Zone != "example.test." || s.KeyName != KeyName || s.KeySecret == "" {
		t.Fatalf("server = %+v", s)
	}
	m := new(dns.Msg)
	m.SetQuestion("www.example.test.", dns.TypeA)
	r, err := dns.Exchange(m, s.Addr)
	if err != nil || len(r.Answer) != 1 || !strings.Contains(r.Answer[0].String(), "192.0.2.1") {
		t.Fatalf("answer %v, err %v; log:\n%s", r, err, s.Log())
	}
	if !r.Authoritative {
		t.Error("answer not authoritative")
	}
}

func TestCheckZone(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	bad := filepath.Join(dir, "bad")
	os.WriteFile(good, []byte("$TTL 60\n@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\nns IN A 127.0.0.1\n"), 0o644)
	os.WriteFile(bad, []byte("$TTL 60\n@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\nns IN A 999.0.0.1\n"), 0o644)
	if out, err := CheckZone(t, "example.test", good); err != nil {
		t.Fatalf("good zone rejected: %v\n%s", err, out)
	}
	if out, err := CheckZone(t, "example.test", bad); err == nil {
		t.Fatalf("bad zone accepted:\n%s", out)
	}
}
