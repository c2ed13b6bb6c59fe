//go:build !linux

package main

import (
	"net"
	"net/netip"
)

// serve listens on addrs (port 0: a free one; sameport: the first one's
// for all) and answers every connection on a goroutine of its own.
func serve(addrs []netip.AddrPort, sameport bool) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	port := uint16(0)
	for _, a := range addrs {
		if sameport {
			a = netip.AddrPortFrom(a.Addr(), port)
		}
		ln, err := net.Listen("tcp", a.String())
		if err != nil {
			return nil, err
		}
		got := ln.Addr().(*net.TCPAddr).AddrPort()
		if sameport && port == 0 {
			port = got.Port()
		}
		out = append(out, got)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go conn(c)
			}
		}()
	}
	return out, nil
}

func conn(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 0, 4096)
	var resp []byte
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		if err != nil {
			return
		}
		buf = buf[:len(buf)+n]
		used, out, closing := answer(buf, resp[:0])
		resp = out
		buf = buf[:copy(buf, buf[used:])]
		if _, err := c.Write(resp); err != nil || closing {
			return
		}
	}
}
