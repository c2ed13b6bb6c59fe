package dnsupdate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeCF is a small Cloudflare API v4: one zone, records paged, Bearer auth.
type fakeCF struct {
	mu      sync.Mutex
	token   string
	zones   []map[string]any
	records []cfRecord
	calls   []string // "METHOD path?query"
	fail    int      // answer this HTTP status to every request when set
	nextID  int

	// misbehaviours, for the checks of what a reply says
	mangle     func(*cfRecord) // changes the record a POST or PATCH returns (not the one stored)
	noInfo     bool            // list replies without result_info
	ignorePage bool            // list replies always give page 1
}

func newFakeCF(t *testing.T) (*fakeCF, *httptest.Server) {
	f := &fakeCF{token: "tok"}
	// the wanted zone sits on page 2 of the zone list
	f.zones = []map[string]any{{"id": "z-other", "name": "other.com"}, {"id": "z1", "name": "example.com"}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeCF) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.RequestURI())
	if f.fail != 0 {
		w.WriteHeader(f.fail)
		fmt.Fprint(w, "<html>internal error</html>")
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		f.reply(w, 403, false, nil, nil, `[{"code":10000,"message":"Authentication error"}]`)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == "GET" && len(parts) == 1 && parts[0] == "zones":
		var items []any
		for _, z := range f.zones { // the fake ignores the name filter: the client must check names
			items = append(items, z)
		}
		f.page(w, r, items)
	case r.Method == "GET" && len(parts) == 3:
		var items []any
		for _, rec := range f.records {
			if rec.Type == r.URL.Query().Get("type") {
				items = append(items, rec)
			}
		}
		f.page(w, r, items)
	case r.Method == "POST" && len(parts) == 3:
		var rec cfRecord
		_ = json.NewDecoder(r.Body).Decode(&rec)
		f.nextID++
		rec.ID = fmt.Sprintf("new%d", f.nextID)
		f.records = append(f.records, rec)
		f.reply(w, 200, true, f.returned(rec), nil, "[]")
	case (r.Method == "PATCH" || r.Method == "DELETE") && len(parts) == 4:
		f.change(w, r, parts[3])
	default:
		f.reply(w, 400, false, nil, nil, `[{"code":7003,"message":"Could not route"}]`)
	}
}

func (f *fakeCF) change(w http.ResponseWriter, r *http.Request, id string) {
	for i := range f.records {
		if f.records[i].ID != id {
			continue
		}
		if r.Method == "DELETE" {
			f.records = append(f.records[:i], f.records[i+1:]...)
			f.reply(w, 200, true, map[string]string{"id": id}, nil, "[]")
			return
		}
		var p cfRecord
		_ = json.NewDecoder(r.Body).Decode(&p)
		f.records[i].Content, f.records[i].TTL = p.Content, p.TTL
		f.reply(w, 200, true, f.returned(f.records[i]), nil, "[]")
		return
	}
	f.reply(w, 404, false, nil, nil, `[{"code":81044,"message":"Record does not exist."}]`)
}

// returned is what a POST or PATCH answers for rec.
func (f *fakeCF) returned(rec cfRecord) cfRecord {
	if f.mangle != nil {
		f.mangle(&rec)
	}
	return rec
}

func (f *fakeCF) page(w http.ResponseWriter, r *http.Request, items []any) {
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	pg, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if per < 1 || pg < 1 || f.ignorePage {
		per, pg = max(per, 1), 1
	}
	total := (len(items) + per - 1) / per
	lo, hi := min((pg-1)*per, len(items)), min(pg*per, len(items))
	var info any = map[string]int{"page": pg, "per_page": per, "total_pages": total, "total_count": len(items)}
	if f.noInfo {
		info = nil
	}
	f.reply(w, 200, true, items[lo:hi], info, "[]")
}

func (f *fakeCF) reply(w http.ResponseWriter, code int, ok bool, result, info any, errs string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	res, _ := json.Marshal(result)
	inf, _ := json.Marshal(info)
	fmt.Fprintf(w, `{"success":%v,"errors":%s,"messages":[],"result":%s,"result_info":%s}`, ok, errs, res, inf)
}

func cfClient(srv *httptest.Server) *Cloudflare {
	return &Cloudflare{BaseURL: srv.URL, Token: "tok", Zone: "example.com", PerPage: 1, Timeout: 2 * time.Second}
}

func TestCloudflareCreateThenUpdate(t *testing.T) {
	f, srv := newFakeCF(t)
	c := cfClient(srv)
	ctx := context.Background()
	vals, err := c.Get(ctx, "www.example.com.", "A")
	if err != nil || len(vals) != 0 {
		t.Fatalf("Get on empty zone = %v, %v", vals, err)
	}
	reply, err := c.Set(ctx, Record{Name: "www.example.com.", Type: "A", Value: "192.0.2.1", TTL: 30})
	if err != nil || !strings.HasPrefix(reply, "created record") {
		t.Fatalf("Set (create) = %q, %v", reply, err)
	}
	if f.records[0].Name != "www.example.com" || f.records[0].TTL != 60 {
		t.Errorf("created %+v, want name without dot and TTL raised to 60", f.records[0])
	}
	if _, err := c.Set(ctx, Record{Name: "www.example.com", Type: "A", Value: "192.0.2.2", TTL: 1}); err != nil {
		t.Fatal(err)
	}
	vals, err = c.Get(ctx, "www.example.com", "A")
	if err != nil || len(vals) != 1 || vals[0] != "192.0.2.2" || f.records[0].TTL != 1 {
		t.Fatalf("after update Get = %v, %v; records %+v", vals, err, f.records)
	}
}

func TestCloudflareReadsEveryPage(t *testing.T) {
	f, srv := newFakeCF(t)
	// the record wanted is on the last page, behind other names of the same type
	f.records = []cfRecord{
		{ID: "r1", Type: "A", Name: "a.example.com", Content: "192.0.2.9"},
		{ID: "r2", Type: "A", Name: "b.example.com", Content: "192.0.2.9"},
		{ID: "r3", Type: "AAAA", Name: "www.example.com", Content: "2001:db8::1"},
		{ID: "r4", Type: "A", Name: "www.example.com", Content: "192.0.2.7"},
		{ID: "r5", Type: "A", Name: "www.example.com", Content: "192.0.2.8"},
	}
	c := cfClient(srv)
	vals, err := c.Get(context.Background(), "WWW.example.com", "A")
	if err != nil || strings.Join(vals, ",") != "192.0.2.7,192.0.2.8" {
		t.Fatalf("Get = %v, %v; want both records from pages 3 and 4", vals, err)
	}
	reply, err := c.Set(context.Background(), Record{Name: "www.example.com", Type: "A", Value: "192.0.2.1"})
	if err != nil || reply != "updated record r4, deleted r5" {
		t.Fatalf("Set = %q, %v", reply, err)
	}
	vals, _ = c.Get(context.Background(), "www.example.com", "A")
	if len(vals) != 1 || vals[0] != "192.0.2.1" {
		t.Errorf("after Set: %v, want the single new value", vals)
	}
	zoneCalls := 0
	for _, call := range f.calls {
		if strings.HasPrefix(call, "GET /zones?") {
			zoneCalls++
		}
	}
	if zoneCalls != 2 {
		t.Errorf("zone list fetched %d times, want 2 (two pages, then cached)", zoneCalls)
	}
}

func TestCloudflareErrors(t *testing.T) {
	f, srv := newFakeCF(t)
	c := cfClient(srv)
	c.Token = "wrong"
	_, err := c.Get(context.Background(), "www.example.com", "A")
	var ce *CloudflareError
	if !errors.As(err, &ce) || ce.Status != 403 || !strings.Contains(err.Error(), "10000 Authentication error") {
		t.Fatalf("bad token: %v, want HTTP 403 with code 10000", err)
	}
	c.Token = "tok"
	f.fail = 500
	_, err = c.Get(context.Background(), "www.example.com", "A")
	if !errors.As(err, &ce) || ce.Status != 500 || !strings.Contains(err.Error(), "not JSON") {
		t.Fatalf("500: %v", err)
	}
	f.fail = 0
	c.Zone = "missing.com"
	if _, err = c.Get(context.Background(), "www.missing.com", "A"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing zone: %v", err)
	}
}

func TestCloudflareTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c := &Cloudflare{BaseURL: srv.URL, Token: "tok", Zone: "example.com", Timeout: 100 * time.Millisecond}
	start := time.Now()
	_, err := c.Get(context.Background(), "www.example.com", "A")
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v, want about the 100ms timeout", d)
	}
}

func TestCFTTL(t *testing.T) {
	for in, want := range map[int]int{0: 1, 1: 1, 30: 60, 60: 60, 300: 300, 100000: 86400} {
		t.Run(fmt.Sprint(in), func(t *testing.T) {
			if got := cfTTL(in); got != want {
				t.Errorf("cfTTL(%d) = %d, want %d", in, got, want)
			}
		})
	}
}

// TestCloudflareSetChecksTheRecordReturned: a POST or PATCH counts only
// when the record in its result is the one changed, with the name, type
// and value sent; a success envelope around anything else is an error.
func TestCloudflareSetChecksTheRecordReturned(t *testing.T) {
	cases := []struct {
		name   string
		exists bool // a record to PATCH is there (else POST)
		mangle func(*cfRecord)
		want   string // in the error ("" for success)
	}{
		{"patch as sent", true, nil, ""},
		{"post as sent", false, nil, ""},
		{"patch other content", true, func(r *cfRecord) { r.Content = "192.0.2.77" }, `content "192.0.2.77", sent 192.0.2.1`},
		{"post other content", false, func(r *cfRecord) { r.Content = "192.0.2.77" }, `content "192.0.2.77"`},
		{"patch other record", true, func(r *cfRecord) { r.ID = "r9" }, `record id "r9"`},
		{"post no id", false, func(r *cfRecord) { r.ID = "" }, "no record id"},
		{"patch other name", true, func(r *cfRecord) { r.Name = "other.example.com" }, `name "other.example.com"`},
		{"post other type", false, func(r *cfRecord) { r.Type = "AAAA" }, `type "AAAA"`},
		{"patch empty result", true, func(r *cfRecord) { *r = cfRecord{} }, "no record id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, srv := newFakeCF(t)
			if c.exists {
				f.records = []cfRecord{{ID: "r4", Type: "A", Name: "www.example.com", Content: "192.0.2.7"}}
			}
			f.mangle = c.mangle
			reply, err := cfClient(srv).Set(context.Background(), Record{Name: "www.example.com.", Type: "A", Value: "192.0.2.1"})
			if c.want == "" {
				if err != nil {
					t.Fatalf("Set = %q, %v; want success", reply, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Set = %q, %v; want an error with %q", reply, err, c.want)
			}
		})
	}
}

// TestCloudflareCNAMEReturnedWithoutDot: Cloudflare writes CNAME targets
// without the root dot; that is the value sent, not another one.
func TestCloudflareCNAMEReturnedWithoutDot(t *testing.T) {
	f, srv := newFakeCF(t)
	f.mangle = func(r *cfRecord) { r.Content = strings.ToUpper(r.Content) }
	if _, err := cfClient(srv).Set(context.Background(), Record{Name: "www.example.com", Type: "CNAME", Value: "target.example.net."}); err != nil {
		t.Fatal(err)
	}
	if got := f.records[0].Content; got != "target.example.net" {
		t.Errorf("stored %q", got)
	}
}

// TestCloudflarePagingMustBeComplete: a list reply that does not say which
// page it is, or is another page than asked for, cannot show that every
// record was read. A server that ignored the page parameter used to give
// page 1 again and again: the record was listed twice, patched, then
// deleted as an "extra" of itself.
func TestCloudflarePagingMustBeComplete(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*fakeCF)
		want string
	}{
		{"no result_info", func(f *fakeCF) { f.noInfo = true }, "no result_info"},
		{"page ignored", func(f *fakeCF) { f.ignorePage = true }, "asked for page 2, reply is page 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, srv := newFakeCF(t)
			f.zones = f.zones[1:] // the zone on page 1: the records' pages are what is tested
			f.records = []cfRecord{
				{ID: "r4", Type: "A", Name: "www.example.com", Content: "192.0.2.7"},
				{ID: "r5", Type: "A", Name: "www.example.com", Content: "192.0.2.8"},
			}
			c.mod(f)
			reply, err := cfClient(srv).Set(context.Background(), Record{Name: "www.example.com", Type: "A", Value: "192.0.2.1"})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Set = %q, %v; want an error with %q", reply, err, c.want)
			}
			if len(f.records) != 2 {
				t.Errorf("records now %+v: Set changed the zone on an incomplete read", f.records)
			}
		})
	}
}

// TestCloudflareRecordListedTwice: a record seen on two pages (the list
// shifted while paging) is one record, not an extra to delete.
func TestCloudflareRecordListedTwice(t *testing.T) {
	f, srv := newFakeCF(t)
	f.zones = f.zones[1:]
	f.records = []cfRecord{
		{ID: "r4", Type: "A", Name: "www.example.com", Content: "192.0.2.7"},
		{ID: "r4", Type: "A", Name: "www.example.com", Content: "192.0.2.7"},
	}
	reply, err := cfClient(srv).Set(context.Background(), Record{Name: "www.example.com", Type: "A", Value: "192.0.2.1"})
	if err != nil || reply != "updated record r4" {
		t.Fatalf("Set = %q, %v; want the one record updated and nothing deleted", reply, err)
	}
}

// TestCloudflareCondition: a Set that requires what the caller read is
// refused, with nothing changed, when the zone holds something else by
// the time Set lists the records (a deposed ddns leader pushing on an old
// read); it goes through while the zone still holds what was read.
func TestCloudflareCondition(t *testing.T) {
	cases := []struct {
		name   string
		read   []string
		stored []cfRecord
		ok     bool
	}{
		{"unchanged", []string{"192.0.2.7"}, []cfRecord{{ID: "r4", Type: "A", Name: "www.example.com", Content: "192.0.2.7"}}, true},
		{"changed since", []string{"192.0.2.7"}, []cfRecord{{ID: "r4", Type: "A", Name: "www.example.com", Content: "192.0.2.8"}}, false},
		{"created since", nil, []cfRecord{{ID: "r4", Type: "A", Name: "www.example.com", Content: "192.0.2.8"}}, false},
		{"deleted since", []string{"192.0.2.7"}, nil, false},
		{"still none", nil, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, srv := newFakeCF(t)
			f.records = c.stored
			_, err := cfClient(srv).Set(context.Background(), Record{Name: "www.example.com", Type: "A", Value: "192.0.2.1", If: &Condition{Values: c.read}})
			if c.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrConditionFailed) {
				t.Fatalf("Set = %v, want ErrConditionFailed", err)
			}
			for _, call := range f.calls {
				if !strings.HasPrefix(call, "GET ") {
					t.Errorf("a refused Set still sent %s", call)
				}
			}
		})
	}
}

// TestCloudflareOddReplies: a rate-limit reply is an error carrying
// Cloudflare's own words, with or without its JSON envelope, and a reply
// past the read bound says so instead of claiming it is not JSON.
func TestCloudflareOddReplies(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"rate limited", 429, `{"success":false,"errors":[{"code":971,"message":"Please wait and consider throttling your request speed"}],"result":null}`,
			"HTTP 429: 971 Please wait and consider throttling your request speed"},
		{"rate limited, html", 429, "<html><body>Too Many Requests</body></html>", "HTTP 429: reply is not JSON: <html><body>Too Many Requests</body></html>"},
		{"success false on 200", 200, `{"success":false,"errors":[{"code":1001,"message":"Invalid zone"}],"result":null}`, "HTTP 200: 1001 Invalid zone"},
		{"too large", 200, `{"success":true,"result":"` + strings.Repeat("x", maxReply) + `"}`, "reply larger than 1048576 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.status)
				fmt.Fprint(w, c.body)
			}))
			t.Cleanup(srv.Close)
			_, err := cfClient(srv).Get(context.Background(), "www.example.com", "A")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Get = %v, want an error with %q", err, c.want)
			}
		})
	}
}
