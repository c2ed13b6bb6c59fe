package voter

import "encoding/binary"

var be = binary.BigEndian

// DecodeHeader reads the 24-byte header at the start of b.
func DecodeHeader(b []byte, h *Header) error {
	if len(b) < HeaderLen {
		return ErrShort
	}
	h.Sec = be.Uint32(b[0:4])
	h.Nsec = be.Uint32(b[4:8])
	copy(h.Challenge[:], b[8:18])
	h.Digest = be.Uint32(b[18:22])
	h.Type = be.Uint16(b[22:24])
	return nil
}

// Decode parses one packet into p, checking the size for its payload type.
// The slices in p point into b. Decode never allocates and never panics.
func Decode(b []byte, p *Packet) error {
	*p = Packet{}
	if err := DecodeHeader(b, &p.Header); err != nil {
		return err
	}
	if len(b) > MaxPacketLen {
		return ErrTooLarge
	}
	body := b[HeaderLen:]
	p.Kind = p.Type
	if p.Type == TypeProxy {
		if len(body) < ProxyHeaderLen {
			return ErrSize
		}
		decodeProxyHeader(body, &p.Proxy)
		p.Proxied = true
		p.Kind = p.Proxy.Type
		if p.Kind == TypeProxy {
			return ErrNested
		}
		body = body[ProxyHeaderLen:]
	}
	return decodeBody(p, body)
}

func decodeProxyHeader(b []byte, x *ProxyHeader) {
	copy(x.Addr[:], b[0:4])
	x.Port = be.Uint16(b[4:6])
	x.Type = be.Uint16(b[6:8])
	x.Flags = b[8]
	copy(x.Challenge[:], b[9:19])
}

func decodeBody(p *Packet, body []byte) error {
	n := len(body)
	switch p.Kind {
	case TypeAuth:
		if n > 1 {
			return ErrSize
		}
		if n == 1 {
			p.HasFlags, p.Flags = true, body[0]
		}
	case TypeULaw, TypeNULaw:
		if n != 1+FrameLen {
			return ErrSize
		}
		p.RSSI, p.Audio = body[0], body[1:]
	case TypeADPCM:
		if n != 1+ADPCMLen {
			return ErrSize
		}
		p.RSSI, p.Audio = body[0], body[1:]
	case TypeGPS:
		if n != 0 && n != GPSLen && n != GPSLen-1 {
			return ErrSize
		}
		if n > 0 {
			p.GPS = body
		}
	case TypePing:
		if n != PingBodyLen {
			return ErrSize
		}
		p.Ping = body
	default:
		return ErrType
	}
	return nil
}

// AppendHeader appends the 24-byte header.
func AppendHeader(dst []byte, h *Header) []byte {
	dst = be.AppendUint32(dst, h.Sec)
	dst = be.AppendUint32(dst, h.Nsec)
	dst = append(dst, h.Challenge[:]...)
	dst = be.AppendUint32(dst, h.Digest)
	return be.AppendUint16(dst, h.Type)
}

// AppendProxyHeader appends the 19-byte proxy header.
func AppendProxyHeader(dst []byte, x *ProxyHeader) []byte {
	dst = append(dst, x.Addr[:]...)
	dst = be.AppendUint16(dst, x.Port)
	dst = be.AppendUint16(dst, x.Type)
	dst = append(dst, x.Flags)
	return append(dst, x.Challenge[:]...)
}

// Append encodes p (header, proxy header when Proxied, then the body for
// p.Kind) and appends it to dst. With enough capacity in dst it does not
// allocate. The header's Type is set from Kind and Proxied.
func (p *Packet) Append(dst []byte) []byte {
	h := p.Header
	h.Type = p.Kind
	if p.Proxied {
		h.Type = TypeProxy
	}
	dst = AppendHeader(dst, &h)
	if p.Proxied {
		x := p.Proxy
		x.Type = p.Kind
		dst = AppendProxyHeader(dst, &x)
	}
	switch p.Kind {
	case TypeAuth:
		if p.HasFlags {
			dst = append(dst, p.Flags)
		}
	case TypeULaw, TypeNULaw, TypeADPCM:
		dst = append(dst, p.RSSI)
		dst = append(dst, p.Audio...)
	case TypeGPS:
		dst = append(dst, p.GPS...)
	case TypePing:
		dst = append(dst, p.Ping...)
	}
	return dst
}
