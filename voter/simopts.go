package voter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// SimOptions describe a set of simulated clients (`redund voter client`).
type SimOptions struct {
	Server         string // VOTER server host:port
	Password       string // client password; with Count > 1 a format with %d (1..Count)
	HostPassword   string // the server's [general] password
	Count          int
	Mix            bool
	MasterPassword string  // when set, one more client acts as the master timing source
	RSSI           string  // comma-separated RSSI values, one per frame, cycled
	Tone           float64 // Hz; 0 with no WAV: silence
	WAV            string  // 8 kHz 16-bit mono PCM WAV file, looped
	Stamp          bool    // put the send time (ns, big endian) in the first 8 audio bytes
	Every          time.Duration
	Local          string
	// ServerChallenge, when set, makes the clients start sending audio at
	// once with digests for this challenge, without waiting for the server
	// (load through plain relays, or a server with a fixed challenge).
	ServerChallenge string
	SharedSocket    bool // all clients send from one UDP socket
}

// NewSimFromOptions builds the clients described by o.
func NewSimFromOptions(o SimOptions) (*Sim, error) {
	srv, err := netip.ParseAddrPort(o.Server)
	if err != nil {
		return nil, fmt.Errorf("voter: --server: %w", err)
	}
	if o.Count < 0 || o.Every < 0 {
		return nil, errors.New("voter: the client count and the interval must not be negative")
	}
	if o.Count == 0 {
		o.Count = 1
	}
	if o.Count > 1 && !strings.Contains(o.Password, "%d") {
		return nil, errors.New("voter: with several clients the password must contain %d (e.g. \"client%d\")")
	}
	rssi, err := parseRSSIPattern(o.RSSI)
	if err != nil {
		return nil, err
	}
	audio, err := simAudio(o)
	if err != nil {
		return nil, err
	}
	var clients []SimClient
	if o.MasterPassword != "" {
		clients = append(clients, SimClient{Name: "master", Server: srv, Password: o.MasterPassword,
			HostPassword: o.HostPassword, Master: true, RSSI: func(uint64) byte { return 0 }})
	}
	for i := 1; i <= o.Count; i++ {
		pw, name := o.Password, "client"
		if o.Count > 1 {
			pw, name = fmt.Sprintf(o.Password, i), fmt.Sprintf("client%d", i)
		}
		clients = append(clients, SimClient{Name: name, Server: srv, Password: pw, HostPassword: o.HostPassword,
			Mix: o.Mix, RSSI: rssi, Audio: audio})
	}
	s := NewSim(clients)
	s.Every, s.Local, s.Shared = o.Every, o.Local, o.SharedSocket
	if o.ServerChallenge != "" {
		s.assume(MakeChallenge(o.ServerChallenge))
	}
	return s, nil
}

func parseRSSIPattern(s string) (func(uint64) byte, error) {
	if s == "" {
		s = "200"
	}
	var vals []byte
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 0 || v > 255 {
			return nil, fmt.Errorf("voter: --rssi: %q is not 0-255", f)
		}
		vals = append(vals, byte(v))
	}
	return func(n uint64) byte { return vals[n%uint64(len(vals))] }, nil
}

func simAudio(o SimOptions) (func(uint64, []byte), error) {
	var pcm []int16
	switch {
	case o.WAV != "":
		var err error
		if pcm, err = readWAV(o.WAV); err != nil {
			return nil, fmt.Errorf("voter: --wav: %w", err)
		}
	case o.Tone > 0:
		pcm = make([]int16, 8000) // one second of tone at -10 dBFS
		for i := range pcm {
			pcm[i] = int16(10362 * math.Sin(2*math.Pi*o.Tone*float64(i)/8000))
		}
	}
	ulaw := make([]byte, len(pcm)) // encoded once: per packet it was a twentieth of the simulator's CPU
	for i, v := range pcm {
		ulaw[i] = linearToULaw(v)
	}
	return func(n uint64, dst []byte) {
		if len(ulaw) > 0 {
			k := copy(dst, ulaw[int(n*FrameLen)%len(ulaw):])
			for k < len(dst) {
				k += copy(dst[k:], ulaw)
			}
		}
		if o.Stamp {
			binary.BigEndian.PutUint64(dst, uint64(time.Now().UnixNano()))
		}
	}, nil
}

// readWAV reads the samples of an 8 kHz 16-bit mono PCM WAV file.
func readWAV(path string) ([]int16, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errors.New("not a WAV file")
	}
	var fmtOK bool
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		body := b[p+8 : min(p+8+size, len(b))]
		switch id {
		case "fmt ":
			fmtOK = len(body) >= 16 && binary.LittleEndian.Uint16(body[0:2]) == 1 &&
				binary.LittleEndian.Uint16(body[2:4]) == 1 && binary.LittleEndian.Uint32(body[4:8]) == 8000 &&
				binary.LittleEndian.Uint16(body[14:16]) == 16
		case "data":
			if !fmtOK {
				return nil, errors.New("want 8 kHz 16-bit mono PCM")
			}
			out := make([]int16, len(body)/2)
			for i := range out {
				out[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return out, nil
		}
		p += 8 + size + size%2
	}
	return nil, io.ErrUnexpectedEOF
}
