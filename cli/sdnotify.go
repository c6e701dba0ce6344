package cli

import (
	"fmt"
	"net"
	"os"
	"strconv"
)

// sdnotifyFlag is podman's --sdnotify, for containers run from systemd
// units with Type=notify: conmon (box itself, which does conmon's job
// here) tells systemd the service is up once the container runs; ignore
// says nothing, for units that do not wait.
type sdnotifyFlag struct {
	SdNotify string `name:"sdnotify" default:"ignore" enum:"ignore,conmon,container" help:"Tell systemd (Type=notify units) the service is up: conmon (box does, once the container runs) or ignore."`
}

func (f *sdnotifyFlag) checkSdNotify() error {
	if f.SdNotify == "container" {
		return fmt.Errorf("--sdnotify=container is not supported: box does not hand systemd's socket to the container; use --sdnotify=conmon (box says ready once the container runs)")
	}
	return nil
}

// ready says READY=1 on $NOTIFY_SOCKET when --sdnotify=conmon asks for it
// and a systemd unit listens. MAINPID names this process, the unit's main
// one, which stays until the container ends.
func (f *sdnotifyFlag) ready() error {
	sock := osEnv("NOTIFY_SOCKET")
	if f.SdNotify != "conmon" || sock == "" {
		return nil
	}
	// Go's net takes a leading @ as the abstract namespace, as systemd means it.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("tell systemd the container runs: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("READY=1\nMAINPID=" + strconv.Itoa(os.Getpid()) + "\n")); err != nil {
		return fmt.Errorf("tell systemd the container runs: %w", err)
	}
	return nil
}
