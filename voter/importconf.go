package voter

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// instanceKeys are voter.conf instance keys (everything else in an
// instance section is a client line).
var instanceKeys = map[string]bool{"buflen": true, "linger": true, "thresholds": true, "plfilter": true,
	"hostdeemp": true, "mixminus": true, "duplex": true, "txctcss": true, "txctcsslevel": true,
	"txtoctype": true, "gtxgain": true, "isprimary": true, "primary": true, "streams": true, "usedtmf": true}

type confSection struct {
	name  string
	keys  [][2]string
	lines []int
}

// parseConf reads an Asterisk-style config: [section], key = value, key => value, ; comments.
func parseConf(name, src string) ([]*confSection, error) {
	var secs []*confSection
	var cur *confSection
	for i, line := range strings.Split(src, "\n") {
		if j := strings.IndexByte(line, ';'); j >= 0 {
			line = line[:j]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "[") {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return nil, fmt.Errorf("%s:%d: bad section header", name, i+1)
			}
			cur = &confSection{name: strings.TrimSpace(line[1:end])}
			secs = append(secs, cur)
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || cur == nil {
			return nil, fmt.Errorf("%s:%d: expected key = value inside a section", name, i+1)
		}
		v = strings.TrimSpace(strings.TrimPrefix(v, ">"))
		cur.keys = append(cur.keys, [2]string{strings.TrimSpace(k), v})
		cur.lines = append(cur.lines, i+1)
	}
	return secs, nil
}

var bareKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func tomlKey(k string) string {
	if bareKey.MatchString(k) {
		return k
	}
	return strconv.Quote(k)
}

func confBool(v string) bool {
	switch strings.ToLower(v) {
	case "y", "yes", "true", "1", "on":
		return true
	}
	return false
}

// ImportConf converts a chan_voter voter.conf into redund TOML; name (the
// file's path) goes in front of the line numbers of parse errors.
func ImportConf(name, src string) (string, error) {
	secs, err := parseConf(name, src)
	if err != nil {
		return "", err
	}
	general := map[string]string{}
	var b strings.Builder
	for _, s := range secs {
		if s.name == "general" {
			for _, kv := range s.keys {
				general[strings.ToLower(kv[0])] = kv[1]
			}
		}
	}
	port, bind := general["port"], general["bindaddr"]
	if port == "" {
		port = strconv.Itoa(DefaultPort)
	}
	if bind == "" {
		bind = "0.0.0.0"
	}
	b.WriteString("# converted from voter.conf by `redund voter import`\n")
	for _, s := range secs {
		if s.name == "general" {
			continue
		}
		writeInstance(&b, s, general, bind+":"+port)
	}
	return b.String(), nil
}

func writeInstance(b *strings.Builder, s *confSection, general map[string]string, listen string) {
	fmt.Fprintf(b, "\n[voter.%s]\nlisten = %q\npassword = %q\n", tomlKey(s.name), listen, general["password"])
	if v := general["buflen"]; v != "" {
		fmt.Fprintf(b, "buflen = %s\n", numOr(v))
	}
	if general["sanity"] == "0" {
		b.WriteString("sanity = false\n")
	}
	if confBool(general["puckit"]) {
		b.WriteString("puckit = true\n")
	}
	b.WriteString("# rtp_out = \"127.0.0.1:5004\"   # where the voted audio goes (Asterisk chan_rtp, ffmpeg)\n")
	b.WriteString("# rtp_in = \"127.0.0.1:5006\"    # transmit audio for transmit clients\n")
	var clients []string
	var unused []string
	for _, kv := range s.keys {
		k, v := strings.ToLower(kv[0]), kv[1]
		if !instanceKeys[k] {
			clients = append(clients, writeClient(kv[0], v))
			continue
		}
		switch k {
		case "buflen", "linger":
			fmt.Fprintf(b, "%s = %s\n", k, numOr(v))
		case "thresholds", "primary":
			fmt.Fprintf(b, "%s = %q\n", k, v)
		case "hostdeemp", "isprimary", "duplex", "mixminus", "plfilter":
			fmt.Fprintf(b, "%s = %t\n", k, confBool(v))
		default:
			unused = append(unused, fmt.Sprintf("%s = %s", kv[0], v))
		}
	}
	for _, u := range unused {
		fmt.Fprintf(b, "# not used by redund: %s\n", u)
	}
	for _, c := range clients {
		fmt.Fprintf(b, "\n[voter.%s.clients.%s", tomlKey(s.name), c)
	}
}

func numOr(v string) string {
	if _, err := strconv.Atoi(v); err == nil {
		return v
	}
	return strconv.Quote(v) // let validation report it
}

// writeClient renders "name = password,options" (after the table prefix).
func writeClient(name, v string) string {
	parts := strings.Split(v, ",")
	var b strings.Builder
	fmt.Fprintf(&b, "%s]\npassword = %q\n", tomlKey(name), strings.TrimSpace(parts[0]))
	for _, o := range parts[1:] {
		o = strings.TrimSpace(o)
		k, val, _ := strings.Cut(o, "=")
		switch strings.ToLower(k) {
		case "transmit", "master", "adpcm", "nodeemp", "noplfilter":
			fmt.Fprintf(&b, "%s = true\n", strings.ToLower(k))
		case "prio":
			fmt.Fprintf(&b, "prio = %s\n", numOr(val))
		case "gpsid":
			fmt.Fprintf(&b, "gpsid = %q\n", val)
		case "":
		case "dynamic":
			fmt.Fprintf(&b, "# not supported by redund: %s (removed from chan_voter, app_rpt #849)\n", o)
		default:
			fmt.Fprintf(&b, "# not supported by redund: %s\n", o)
		}
	}
	return b.String()
}
