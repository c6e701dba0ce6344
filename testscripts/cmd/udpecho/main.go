// Command udpecho is a UDP tool for box's behaviour suite, static so it
// also runs inside test containers (busybox's nc has no UDP here):
//
//	udpecho serve PORT     answer each datagram with "echo: " + datagram
//	udpecho send ADDR MSG  send MSG to ADDR until an answer comes (5 s), print it
package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "udpecho:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 2 && args[0] == "serve":
		c, err := net.ListenPacket("udp", ":"+args[1])
		if err != nil {
			return err
		}
		buf := make([]byte, 64<<10)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return err
			}
			if _, err := c.WriteTo(append([]byte("echo: "), buf[:n]...), from); err != nil {
				return err
			}
		}
	case len(args) == 3 && args[0] == "send":
		c, err := net.Dial("udp", args[1])
		if err != nil {
			return err
		}
		buf := make([]byte, 64<<10)
		// Datagrams may be lost while the forwarder starts: try again.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			if _, err := c.Write([]byte(args[2])); err != nil {
				return err
			}
			_ = c.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
			if n, err := c.Read(buf); err == nil {
				fmt.Println(string(buf[:n]))
				return nil
			}
		}
		return fmt.Errorf("no answer from %s", args[1])
	}
	return fmt.Errorf("usage: udpecho serve PORT | udpecho send ADDR MSG")
}
