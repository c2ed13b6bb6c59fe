package srv

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/text"
)

// Output formats of `srv gen`.
const (
	FormatZone     = "zone"     // RFC 1035 master-file fragment with absolute names ($INCLUDE it)
	FormatNSUpdate = "nsupdate" // a script for nsupdate(1): delete and re-add every RRset
	FormatJSON     = "json"     // one document with every RRset
)

// Formats lists the output formats.
var Formats = []string{FormatZone, FormatNSUpdate, FormatJSON}

// Write writes the generated records in format. The output depends only
// on c and sets: the same input gives byte-identical output.
func Write(w io.Writer, format string, c *Config, sets []RRSet) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var err error
	switch format {
	case FormatZone, "":
		writeZone(bw, c, sets)
	case FormatNSUpdate:
		writeNSUpdate(bw, c, sets)
	case FormatJSON:
		err = writeJSON(bw, c, sets)
	default:
		return fmt.Errorf("srv: unknown format %q (use %s)", format, strings.Join(Formats, ", "))
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

func header(c *Config, sets []RRSet) string {
	n := 0
	for _, s := range sets {
		n += len(s.RRs)
	}
	return fmt.Sprintf("; redund srv gen: %s in %s for %s (%s, %s)\n"+
		"; generated from the [srv] table: edit the config, not this file\n",
		plural(n, "record"), plural(len(sets), "RRset"), c.DomainFQDN(), plural(len(c.Zones), "zone"), plural(len(c.Targets), "target"))
}

func writeZone(w *bufio.Writer, c *Config, sets []RRSet) {
	w.WriteString(header(c, sets))
	width := 0
	for _, s := range sets {
		width = max(width, len(s.Name))
	}
	zone := ""
	pad := []byte(strings.Repeat(" ", width+1))
	var line []byte
	for _, s := range sets {
		if s.Zone != zone || zone == "" {
			zone = s.Zone
			fmt.Fprintf(w, "\n; zone %s\n", zone)
		}
		// name, padding, TTL left-aligned in 7 columns, class, type in 6
		prefix := append([]byte(s.Name), pad[:width-len(s.Name)+1]...)
		ttl := strconv.AppendUint(nil, uint64(s.TTL), 10)
		prefix = append(append(prefix, ttl...), pad[:max(1, 7-len(ttl))]...)
		prefix = append(prefix, "IN "...)
		typ := s.TypeString()
		prefix = append(append(prefix, typ...), pad[:6-len(typ)]...)
		for _, rr := range s.RRs {
			line = appendRdata(append(line[:0], prefix...), rr)
			w.Write(append(line, '\n'))
		}
	}
}

func writeNSUpdate(w *bufio.Writer, c *Config, sets []RRSet) {
	w.WriteString(header(c, sets))
	w.WriteString("; apply with: nsupdate -k KEYFILE THIS-FILE (one UPDATE per zone, each applied atomically)\n")
	if c.Push != nil {
		if host, port, err := net.SplitHostPort(c.Push.Server); err == nil {
			fmt.Fprintf(w, "server %s %s\n", host, port)
		}
		fmt.Fprintf(w, "zone %s\n", c.Push.Client(c.Domain).Zone)
	}
	zone, pending := "", false
	for _, s := range sets {
		if s.Zone != zone && pending {
			w.WriteString("send\n")
		}
		if s.Zone != zone {
			zone = s.Zone
			fmt.Fprintf(w, "; zone %s\n", zone)
		}
		typ := s.TypeString()
		fmt.Fprintf(w, "update delete %s %s\n", s.Name, typ)
		for _, rr := range s.RRs {
			fmt.Fprintf(w, "update add %s %d IN %s %s\n", s.Name, s.TTL, typ, rdata(rr))
		}
		pending = true
	}
	if pending {
		w.WriteString("send\n")
	}
}

// JSONDoc is the json output format.
type JSONDoc struct {
	Domain string      `json:"domain"`
	RRSets []JSONRRSet `json:"rrsets"`
}

// JSONRRSet is one RRset in the json output.
type JSONRRSet struct {
	Name      string      `json:"name"`
	Type      string      `json:"type"`
	TTL       uint32      `json:"ttl"`
	Zone      string      `json:"zone"`
	Transport string      `json:"transport,omitempty"`
	SRV       []JSONSRV   `json:"srv,omitempty"`
	NAPTR     []JSONNAPTR `json:"naptr,omitempty"`
}

// JSONSRV is one SRV record.
type JSONSRV struct {
	Priority uint16 `json:"priority"`
	Weight   uint16 `json:"weight"`
	Port     uint16 `json:"port"`
	Target   string `json:"target"`
}

// JSONNAPTR is one NAPTR record.
type JSONNAPTR struct {
	Order       uint16 `json:"order"`
	Preference  uint16 `json:"preference"`
	Flags       string `json:"flags"`
	Service     string `json:"service"`
	Regexp      string `json:"regexp"`
	Replacement string `json:"replacement"`
}

// writeJSON writes the JSONDoc by hand, byte-identical to encoding/json
// with two-space indentation (the golden tests hold it to that), about
// ten times faster.
func writeJSON(w *bufio.Writer, c *Config, sets []RRSet) error {
	w.WriteString("{\n  \"domain\": ")
	writeJSONString(w, c.DomainFQDN())
	if len(sets) == 0 {
		w.WriteString(",\n  \"rrsets\": []\n}\n")
		return nil
	}
	w.WriteString(",\n  \"rrsets\": [\n")
	for i, s := range sets {
		w.WriteString("    {\n      \"name\": ")
		writeJSONString(w, s.Name)
		w.WriteString(",\n      \"type\": ")
		writeJSONString(w, s.TypeString())
		fmt.Fprintf(w, ",\n      \"ttl\": %d,\n      \"zone\": ", s.TTL)
		writeJSONString(w, s.Zone)
		if s.Transport != "" {
			w.WriteString(",\n      \"transport\": ")
			writeJSONString(w, s.Transport)
		}
		writeJSONRecords(w, s)
		w.WriteString("\n    }")
		if i < len(sets)-1 {
			w.WriteByte(',')
		}
		w.WriteByte('\n')
	}
	w.WriteString("  ]\n}\n")
	return nil
}

func writeJSONRecords(w *bufio.Writer, s RRSet) {
	if len(s.RRs) == 0 {
		return
	}
	key := "srv"
	if s.Type == dns.TypeNAPTR {
		key = "naptr"
	}
	fmt.Fprintf(w, ",\n      %q: [\n", key)
	for i, rr := range s.RRs {
		switch r := rr.(type) {
		case *dns.SRV:
			fmt.Fprintf(w, "        {\n          \"priority\": %d,\n          \"weight\": %d,\n          \"port\": %d,\n          \"target\": ", r.Priority, r.Weight, r.Port)
			writeJSONString(w, r.Target)
		case *dns.NAPTR:
			fmt.Fprintf(w, "        {\n          \"order\": %d,\n          \"preference\": %d,\n          \"flags\": ", r.Order, r.Preference)
			writeJSONString(w, r.Flags)
			w.WriteString(",\n          \"service\": ")
			writeJSONString(w, r.Service)
			w.WriteString(",\n          \"regexp\": ")
			writeJSONString(w, r.Regexp)
			w.WriteString(",\n          \"replacement\": ")
			writeJSONString(w, r.Replacement)
		}
		w.WriteString("\n        }")
		if i < len(s.RRs)-1 {
			w.WriteByte(',')
		}
		w.WriteByte('\n')
	}
	w.WriteString("      ]")
}

// writeJSONString writes s as a JSON string; plain ASCII is written as is,
// anything else goes through encoding/json for the same escaping.
func writeJSONString(w *bufio.Writer, s string) {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b > 0x7e || b == '"' || b == '\\' || b == '<' || b == '>' || b == '&' {
			q, _ := json.Marshal(s)
			w.Write(q)
			return
		}
	}
	w.WriteByte('"')
	w.WriteString(s)
	w.WriteByte('"')
}

func plural(n int, what string) string { return text.Plural(n, what) }
