// Command tcpbench is the in-container half of box's network benchmark
// (make bench): a static program bind-mounted into a busybox container.
//
//	tcpbench serve ADDR         answer push and pull requests on ADDR (:5001)
//	tcpbench send ADDR BYTES    send BYTES to a server at ADDR, print the result
//	tcpbench recv ADDR BYTES    receive BYTES from a server at ADDR, print the result
//
// send and recv print one JSON object (package tcpbench's Result) and exit
// 1 unless the receiver got exactly BYTES. The protocol is in package
// github.com/boxcli/box/bench/tcpbench.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/boxcli/box/bench/tcpbench"
)

const usage = "usage: tcpbench serve ADDR | send ADDR BYTES | recv ADDR BYTES"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 2 && args[0] == "serve" {
		ln, err := net.Listen("tcp", args[1])
		if err != nil {
			fmt.Fprintf(os.Stderr, "tcpbench: %v\n", err)
			return 1
		}
		fmt.Printf("listening on %s\n", ln.Addr())
		onPush := func(r tcpbench.Received) {
			fmt.Printf("received %d of %d bytes from %s\n", r.Got, r.Want, r.From)
		}
		if err := tcpbench.Serve(ln, os.Stderr, onPush); err != nil {
			fmt.Fprintf(os.Stderr, "tcpbench: %v\n", err)
			return 1
		}
		return 0
	}
	if len(args) != 3 || (args[0] != "send" && args[0] != "recv") {
		fmt.Fprintln(os.Stderr, usage)
		return 2
	}
	n, err := strconv.ParseInt(args[2], 10, 64)
	if err != nil || n < 0 {
		fmt.Fprintf(os.Stderr, "tcpbench: BYTES %q is not a byte count\n", args[2])
		return 2
	}
	transfer := tcpbench.Push
	if args[0] == "recv" {
		transfer = tcpbench.Pull
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := transfer(ctx, args[1], n)
	_ = json.NewEncoder(os.Stdout).Encode(r)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tcpbench: %v\n", err)
		return 1
	}
	return 0
}
