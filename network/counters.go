package network

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Counters are the bytes a network namespace's interfaces received and
// sent, loopback left out (Docker's NET I/O).
type Counters struct{ RX, TX int64 }

// CountersOf reads the counters of the namespace process pid is in, from
// /proc/PID/net/dev: the user who owns the container's user namespace may
// read it, no need to enter anything.
func CountersOf(pid int) (Counters, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", pid))
	if err != nil {
		return Counters{}, fmt.Errorf("read the container's network counters: %w", err)
	}
	return parseNetDev(b), nil
}

// parseNetDev reads the kernel's table: two header lines, then
// "iface: rx_bytes rx_packets ... (8 rx fields) tx_bytes ...".
func parseNetDev(b []byte) Counters {
	var c Counters
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		rx, err1 := strconv.ParseInt(f[0], 10, 64)
		tx, err2 := strconv.ParseInt(f[8], 10, 64)
		if err1 == nil && err2 == nil {
			c.RX += rx
			c.TX += tx
		}
	}
	return c
}
