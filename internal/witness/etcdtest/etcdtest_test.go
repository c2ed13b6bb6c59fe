package etcdtest

import (
	"net"
	"testing"
	"time"
)

func TestClusterKillRestart(t *testing.T) {
	c := Start(t, 3)
	for i, m := range c.Members {
		if !Healthy(m.ClientURL) {
			t.Fatalf("member %d not healthy after Start", i)
		}
	}
	leader := c.Leader()
	if leader < 0 {
		t.Fatal("no leader reported")
	}
	c.Kill(leader)
	if c.Running(leader) || Healthy(c.Members[leader].ClientURL) {
		t.Fatalf("member %d still answers after Kill", leader)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.Leader() < 0 || c.Leader() == leader {
		if time.Now().After(deadline) {
			t.Fatal("the two members left elected no new leader")
		}
		time.Sleep(50 * time.Millisecond) // sleep: polling interval
	}
	c.Restart(t, leader)
	if !Healthy(c.Members[leader].ClientURL) {
		t.Fatal("restarted member not healthy")
	}
}

func TestRelayCutAndHeal(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					c.Write(buf[:n])
				}
			}()
		}
	}()
	r := NewRelay(t, echo.Addr().String())
	conn, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip := func(c net.Conn) error {
		c.SetDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		buf := make([]byte, 4)
		_, err := c.Read(buf)
		return err
	}
	if err := roundTrip(conn); err != nil {
		t.Fatalf("through the relay: %v", err)
	}
	r.Cut()
	if err := roundTrip(conn); err == nil {
		t.Fatal("a byte crossed a cut relay")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("cut connection failed with %v, want silence (a timeout)", err)
	}
	r.Heal()
	conn2, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	if err := roundTrip(conn2); err != nil {
		t.Fatalf("after Heal: %v", err)
	}
}
