package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeHE answers like dyn.dns.he.net: HTTP 200 and a text body.
func fakeHE(t *testing.T, answer func(host, pass, ip string) (int, string)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		_ = r.ParseForm()
		code, body := answer(r.PostForm.Get("hostname"), r.PostForm.Get("password"), r.PostForm.Get("myip"))
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHESet(t *testing.T) {
	var seen []string
	srv := fakeHE(t, func(host, pass, ip string) (int, string) {
		seen = append(seen, host+" "+pass+" "+ip)
		switch {
		case pass != "key":
			return 200, "badauth"
		case host != "dyn.example.com":
			return 200, "nohost"
		case ip == "192.0.2.1":
			return 200, "nochg 192.0.2.1"
		case ip == "192.0.2.66":
			return 200, "abuse"
		case ip == "192.0.2.99":
			return 500, "oops"
		}
		return 200, "good " + ip
	})
	h := &HE{BaseURL: srv.URL, Password: "key", Timeout: time.Second}
	ctx := context.Background()
	rec := Record{Name: "dyn.example.com.", Type: "A", Value: "192.0.2.2"}
	if reply, err := h.Set(ctx, rec); err != nil || reply != "good 192.0.2.2" {
		t.Fatalf("good: %q %v", reply, err)
	}
	if seen[0] != "dyn.example.com key 192.0.2.2" {
		t.Errorf("form = %q", seen[0])
	}
	rec.Value = "192.0.2.1"
	if reply, err := h.Set(ctx, rec); err != nil || reply != "nochg 192.0.2.1" {
		t.Fatalf("nochg: %q %v", reply, err)
	}
	cases := []struct {
		mod  func(*HE, *Record)
		code string
	}{
		{func(h *HE, r *Record) { h.Password = "wrong" }, "badauth"},
		{func(h *HE, r *Record) { r.Name = "other.example.com" }, "nohost"},
		{func(h *HE, r *Record) { r.Value = "192.0.2.66" }, "abuse"},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			hh, rr := *h, rec
			c.mod(&hh, &rr)
			_, err := hh.Set(ctx, rr)
			var he *HEError
			if !errors.As(err, &he) || he.Code != c.code {
				t.Errorf("%s: err = %v", c.code, err)
			}
		})
	}
	rec.Value = "192.0.2.99"
	if _, err := h.Set(ctx, rec); err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Errorf("500: %v", err)
	}
	if _, err := h.Set(ctx, Record{Name: "x.example.com", Type: "CNAME", Value: "y."}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("CNAME: %v", err)
	}
}

func TestParseHEReply(t *testing.T) {
	for body, ok := range map[string]bool{"good 1.2.3.4\n": true, "nochg 1.2.3.4": true, "badauth": false,
		"badsys": false, "nohost": false, "abuse": false, "notfqdn": false, "911": false, "": false, "<html>": false} {
		t.Run(body, func(t *testing.T) {
			_, err := ParseHEReply(body)
			if (err == nil) != ok {
				t.Errorf("ParseHEReply(%q) err = %v, want ok=%v", body, err, ok)
			}
		})
	}
}

func TestHETimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(block) })
	h := &HE{BaseURL: srv.URL, Password: "key", Timeout: 100 * time.Millisecond}
	if _, err := h.Set(context.Background(), Record{Name: "a.example.com", Type: "A", Value: "192.0.2.1"}); err == nil {
		t.Fatal("no error from a server that never answers")
	}
}

// TestHEGet reads the current value from a DNS server on loopback.
func TestHEGet(t *testing.T) {
	h := &HE{Server: fakeNS(t, func(q string) []string { return []string{q + " 60 IN A 192.0.2.5"} }), Timeout: time.Second}
	vals, err := h.Get(context.Background(), "dyn.example.com", "A")
	if err != nil || len(vals) != 1 || vals[0] != "192.0.2.5" {
		t.Fatalf("Get = %v, %v", vals, err)
	}
}

// TestHEGetAtCNAME: a name that is a CNAME is answered with the CNAME and
// the target's address; that address is not the name's own record, and
// taking it as such could show a record as already right.
func TestHEGetAtCNAME(t *testing.T) {
	h := &HE{Server: fakeNS(t, func(q string) []string {
		return []string{q + " 60 IN CNAME other.example.com.", "other.example.com. 60 IN A 192.0.2.5"}
	}), Timeout: time.Second}
	vals, err := h.Get(context.Background(), "dyn.example.com", "A")
	if err == nil || !strings.Contains(err.Error(), "is a CNAME (to other.example.com.)") {
		t.Fatalf("Get = %v, %v; want an error naming the CNAME", vals, err)
	}
}

// fakeNS serves on loopback UDP, answering each question with the
// records answer gives for the question's name.
func fakeNS(t *testing.T, answer func(qname string) []string) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	ds := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(ready) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			for _, s := range answer(r.Question[0].Name) {
				rr, _ := dns.NewRR(s)
				m.Answer = append(m.Answer, rr)
			}
			_ = w.WriteMsg(m)
		})}
	go func() { _ = ds.ActivateAndServe() }()
	t.Cleanup(func() { _ = ds.Shutdown() })
	<-ready
	return pc.LocalAddr().String()
}

// TestHESetChecksTheAddressInTheReply: a "good"/"nochg" reply counts only
// when it names the address that was posted; HE (or whatever answered)
// taking another one, or not saying which, is no proof of the push.
func TestHESetChecksTheAddressInTheReply(t *testing.T) {
	cases := []struct {
		name, sent, body string
		ok               bool
	}{
		{"good same", "192.0.2.2", "good 192.0.2.2", true},
		{"nochg same", "192.0.2.2", "nochg 192.0.2.2\n", true},
		{"good v6 other spelling", "2001:db8::1", "good 2001:0db8:0:0::1", true},
		{"good other address", "192.0.2.2", "good 192.0.2.77", false},
		{"nochg other address", "192.0.2.2", "nochg 192.0.2.77", false},
		{"good without address", "192.0.2.2", "good", false},
		{"good garbage", "192.0.2.2", "good <html>", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := fakeHE(t, func(host, pass, ip string) (int, string) { return 200, c.body })
			h := &HE{BaseURL: srv.URL, Password: "key", Timeout: time.Second}
			reply, err := h.Set(context.Background(), Record{Name: "dyn.example.com", Type: "A", Value: c.sent})
			if (err == nil) != c.ok {
				t.Fatalf("Set(%s) with reply %q = %q, %v; want ok=%v", c.sent, c.body, reply, err, c.ok)
			}
			if err != nil && !strings.Contains(err.Error(), c.sent) {
				t.Errorf("error %q does not name the address sent", err)
			}
		})
	}
}

// TestHEDoesNotFollowRedirects: a 307 from the update URL is an error
// naming where it points; following it would post the form, with the
// dynamic DNS key in it, to that other host.
func TestHEDoesNotFollowRedirects(t *testing.T) {
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.PostForm.Get("password") != "" {
			leaked.Store(true)
		}
		fmt.Fprint(w, "good "+r.PostForm.Get("myip"))
	}))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/nic/update", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	h := &HE{BaseURL: srv.URL, Password: "key", Timeout: time.Second}
	reply, err := h.Set(context.Background(), Record{Name: "dyn.example.com", Type: "A", Value: "192.0.2.1"})
	if err == nil || !strings.Contains(err.Error(), "HTTP 307 to "+other.URL) {
		t.Errorf("Set = %q, %v; want an error naming the redirect", reply, err)
	}
	if leaked.Load() {
		t.Error("the form with the dynamic DNS key was posted to the redirect's host")
	}
}
