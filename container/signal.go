package container

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ParseSignal reads Docker's forms: KILL, SIGKILL, sigkill, 9.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q: numbers go from 1 to 64", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	for n := 1; n < 32; n++ {
		if strings.TrimPrefix(strings.ToUpper(unix.SignalName(syscall.Signal(n))), "SIG") == name {
			return syscall.Signal(n), nil
		}
	}
	return 0, fmt.Errorf("invalid signal %q: use a name such as TERM or KILL, or a number", s)
}

// StopSig is the signal that stops the container: its --stop-signal (or
// its image's STOPSIGNAL), else SIGTERM.
func (c Config) StopSig() (syscall.Signal, error) {
	if c.StopSignal == "" {
		return syscall.SIGTERM, nil
	}
	return ParseSignal(c.StopSignal)
}
