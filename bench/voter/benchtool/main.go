// Command benchtool is the voter benchmark's helper: a bare batched UDP
// relay (recvmmsg/sendmmsg) to compare against, and a sink that plays the
// VOTER primary for a secondary's liveness link, counts the audio packets
// that arrive and measures their latency from the send time stamped in
// their first audio bytes by `redund voter client --stamp`.
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/redund/redund/voter"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool relay|sink [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "UDP address to receive on")
	to := fs.String("to", "", "relay: where to send")
	rcvbuf := fs.Int("rcvbuf", 4<<20, "socket receive buffer (bytes)")
	hostpw := fs.String("host-password", "", "sink: host password shared with the secondary")
	dur := fs.Duration("duration", 0, "stop after this long (0: at SIGINT/SIGTERM)")
	_ = fs.Parse(os.Args[2:])
	conn, err := net.ListenPacket("udp4", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	uc := conn.(*net.UDPConn)
	_ = uc.SetReadBuffer(*rcvbuf)
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		if *dur > 0 {
			select {
			case <-sig:
			case <-time.After(*dur):
			}
		} else {
			<-sig
		}
		uc.Close()
	}()
	switch os.Args[1] {
	case "relay":
		dst, err := net.ResolveUDPAddr("udp4", *to)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		relay(ipv4.NewPacketConn(uc), dst)
	case "sink":
		sink(uc, *hostpw)
	}
}

// relay forwards every datagram to dst, 64 at a time each way.
func relay(pc *ipv4.PacketConn, dst *net.UDPAddr) {
	const n = 64
	msgs := make([]ipv4.Message, n)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 2048)}
	}
	out := make([]ipv4.Message, n)
	for i := range out {
		out[i].Buffers = make([][]byte, 1)
		out[i].Addr = dst
	}
	for {
		k, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			return
		}
		for i := 0; i < k; i++ {
			out[i].Buffers[0] = msgs[i].Buffers[0][:msgs[i].N]
		}
		for sent := 0; sent < k; {
			m, err := pc.WriteBatch(out[sent:k], 0)
			if err != nil {
				break
			}
			sent += m
		}
	}
}

type result struct {
	Received uint64  `json:"received"`
	LinkPkts uint64  `json:"link_packets"`
	P50US    float64 `json:"p50_us"`
	P99US    float64 `json:"p99_us"`
	MaxUS    float64 `json:"max_us"`
}

// sink answers liveness-link packets as a primary would and records audio.
func sink(uc *net.UDPConn, hostpw string) {
	pc := ipv4.NewPacketConn(uc)
	chal := voter.MakeChallenge("55555")
	msgs := make([]ipv4.Message, 64)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 2048)}
	}
	var res result
	lat := make([]int64, 0, 1<<20)
	var p voter.Packet
	for {
		k, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			break
		}
		now := time.Now().UnixNano()
		for i := 0; i < k; i++ {
			b := msgs[i].Buffers[0][:msgs[i].N]
			if voter.Decode(b, &p) != nil {
				continue
			}
			if !p.Proxied && (p.Kind == voter.TypeAuth || (p.Kind == voter.TypeGPS && p.GPS == nil)) && hostpw != "" {
				res.LinkPkts++
				reply := voter.Packet{Header: voter.Header{Challenge: chal,
					Digest: voter.Digest(p.Challenge.Bytes(), hostpw)}, Kind: voter.TypeAuth, HasFlags: true, Flags: 32}
				_, _ = uc.WriteTo(reply.Append(nil), msgs[i].Addr)
				continue
			}
			if p.Kind != voter.TypeULaw {
				continue
			}
			res.Received++
			sent := int64(binary.BigEndian.Uint64(p.Audio[:8]))
			if len(lat) < cap(lat) {
				lat = append(lat, now-sent)
			}
		}
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		us := func(ns int64) float64 { return float64(ns) / 1000 }
		res.P50US, res.P99US, res.MaxUS = us(lat[len(lat)/2]), us(lat[len(lat)*99/100]), us(lat[len(lat)-1])
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
}
