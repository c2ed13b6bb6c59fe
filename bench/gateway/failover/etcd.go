package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// startEtcd starts three etcd members on loopback (flags as in
// docs/witness.md, raft timing for one LAN) and waits until each is
// healthy; stop kills them.
func startEtcd(dir string) (endpoints []string, stop func()) {
	var peers, clients []string
	for i := range 3 {
		peers = append(peers, fmt.Sprintf("m%d=http://%s", i, freePort()))
		clients = append(clients, "http://"+freePort())
	}
	var cmds []*exec.Cmd
	stop = func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	for i := range 3 {
		peerURL := strings.SplitN(peers[i], "=", 2)[1]
		c := exec.Command("etcd", "--name", fmt.Sprintf("m%d", i), "--data-dir", filepath.Join(dir, fmt.Sprint(i)),
			"--listen-client-urls", clients[i], "--advertise-client-urls", clients[i],
			"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
			"--initial-cluster", strings.Join(peers, ","), "--initial-cluster-token", "redund-bench",
			"--initial-cluster-state", "new", "--heartbeat-interval", "100", "--election-timeout", "500")
		check(os.MkdirAll(dir, 0o700))
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("etcd%d.log", i)))
		check(err)
		c.Stdout, c.Stderr = logf, logf
		check(c.Start())
		cmds = append(cmds, c)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, u := range clients {
		for !healthy(u) {
			if time.Now().After(deadline) {
				stop()
				check(fmt.Errorf("etcd member %s not healthy within 30s", u))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return clients, stop
}

func healthy(url string) bool {
	resp, err := client.Get(url + "/health")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var b [64]byte
	n, _ := resp.Body.Read(b[:])
	return resp.StatusCode == http.StatusOK && strings.Contains(string(b[:n]), `"health":"true"`)
}
