//go:build !linux

package adminapi

import (
	"errors"
	"io/fs"
	"net"
)

type ucred struct{ pid, uid, gid int }

// peerCred: the admin socket's peer checks need Linux's SO_PEERCRED.
func peerCred(net.Conn) (ucred, error) { return ucred{}, errors.New("SO_PEERCRED needs Linux") }

func ownerUID(fs.FileInfo) int { return -1 }
