package sandbox

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// attachConsole makes a pty in the container's own devpts (a host pty
// passed in is not a terminal to programs in the container: see
// testbed.md), sends its master to the CLI over the console socket, and
// makes the slave this process's controlling terminal and stdio.
func attachConsole(sock *os.File, size TermSize, u User, ttyGID int) error {
	slave, err := openConsole(sock, size, u, ttyGID)
	if err != nil {
		return err
	}
	defer slave.Close()
	if err := unix.IoctlSetInt(int(slave.Fd()), unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			return fmt.Errorf("dup pty: %w", err)
		}
	}
	return nil
}

// openConsole makes a pty in the container's own devpts, sends its master
// to the CLI over the console socket and returns the slave, which is the
// user's and group ttyGID's (as login(1) would leave it).
func openConsole(sock *os.File, size TermSize, u User, ttyGID int) (*os.File, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	defer master.Close()
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		return nil, fmt.Errorf("get pty number: %w", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	slave, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	fail := func(err error) (*os.File, error) {
		slave.Close()
		return nil, err
	}
	_ = unix.Fchown(int(slave.Fd()), int(u.UID), ttyGID)
	if size.Rows > 0 && size.Cols > 0 {
		ws := &unix.Winsize{Row: size.Rows, Col: size.Cols}
		if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, ws); err != nil {
			return fail(fmt.Errorf("set pty size: %w", err))
		}
	}
	rights := unix.UnixRights(int(master.Fd()))
	if err := unix.Sendmsg(int(sock.Fd()), []byte("pty"), rights, nil, 0); err != nil {
		return fail(fmt.Errorf("send pty to box: %w", err))
	}
	sock.Close()
	return slave, nil
}

// ReceiveConsole is the CLI's side of attachConsole: it waits for the pty
// master on the socket.
func ReceiveConsole(sock *os.File) (*os.File, error) {
	buf := make([]byte, 16)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receive pty: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("receive pty: no file descriptor (container failed to start)")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("receive pty: bad control message")
	}
	return os.NewFile(uintptr(fds[0]), "pty"), nil
}
