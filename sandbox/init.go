package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/boxcli/box/cloexec"
)

// Main is the Init role: the container's first process. It never returns
// on success: it execs the command, or (with Config.Init) runs the reaper
// and exits with the command's status.
func Main() int {
	// Capabilities, no_new_privs and the controlling terminal belong to a
	// thread; keep every step and the final exec on this one.
	runtime.LockOSThread()
	errPipe := os.NewFile(4, "errors")
	fail := func(kind string, err error) int {
		_ = json.NewEncoder(errPipe).Encode(setupError{Kind: kind, Msg: err.Error()})
		return 125
	}
	var cfg Config
	if err := json.NewDecoder(os.NewFile(3, "config")).Decode(&cfg); err != nil {
		return fail("", fmt.Errorf("read init config: %w", err))
	}
	var console *os.File
	if cfg.Tty {
		console = os.NewFile(5, "console")
	}
	ids, err := readIDMaps("/proc/self")
	if err != nil {
		return fail("", err)
	}
	if err := setupRootfs(&cfg, ids.ttyGID() == 5); err != nil {
		return fail("config", err)
	}
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		return fail("", fmt.Errorf("set hostname: %w", err))
	}
	if cfg.NewNet {
		if err := loopbackUp(); err != nil {
			return fail("", fmt.Errorf("bring up lo: %w", err))
		}
	}
	user, err := resolveUser(cfg.User, ids)
	if err != nil {
		return fail("config", err)
	}
	env := defaultEnv(cfg.Env, cfg.Hostname, user.Home, cfg.Tty)
	cwd, err := withRoot(func(root *os.File) (*os.File, error) { return prepareCwd(root, cfg.Cwd, user) })
	if err != nil {
		return fail("config", err)
	}
	if _, err := unix.Setsid(); err != nil {
		return fail("", fmt.Errorf("setsid: %w", err))
	}
	if cfg.Tty {
		if err := attachConsole(console, cfg.Size, user, ids.ttyGID()); err != nil {
			return fail("", err)
		}
	}
	if err := noHostDirStdio(); err != nil {
		return fail("config", err)
	}
	path, err := lookPath(cfg.Args[0], envValue(env, "PATH"))
	if err != nil {
		return fail(execKind(err), err)
	}
	if err := restrict(user, cfg.Security, false); err != nil {
		return fail("", err)
	}
	err = enterCwd(cfg.Cwd, cwd)
	cwd.Close()
	if err != nil {
		return fail("config", err)
	}
	// Whatever fd the stage handed us besides stdio must not reach the
	// command (CVE-2024-21626 class); the error pipe is closed by the exec.
	// main.go did so already; this is the last word before the exec.
	if err := cloexec.All(); err != nil {
		return fail("", err)
	}
	if cfg.Init {
		return reap(path, cfg.Args, env, cfg.Tty, errPipe, fail)
	}
	err = unix.Exec(path, cfg.Args, env)
	return fail(execKind(err), fmt.Errorf("exec %q: %w", cfg.Args[0], err))
}

func execKind(err error) string {
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, unix.ENOENT):
		return "not-found"
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.ENOEXEC), errors.Is(err, unix.EISDIR),
		errors.Is(err, unix.EPERM), errors.Is(err, ErrCannotExecute):
		return "cannot-execute"
	}
	return ""
}

// lookPath finds file the way execvp does, but in the container's PATH.
func lookPath(file, path string) (string, error) {
	check := func(p string) error {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return unix.EISDIR
		}
		return unix.Access(p, unix.X_OK)
	}
	if strings.Contains(file, "/") {
		if err := check(file); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("exec %q: no such file or directory: %w", file, ErrNotFound)
			}
			return "", fmt.Errorf("exec %q: %w: %w", file, ErrCannotExecute, err)
		}
		return file, nil
	}
	var denied error
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		err := check(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, os.ErrNotExist) && denied == nil {
			denied = err
		}
	}
	if denied != nil {
		return "", fmt.Errorf("exec %q: %w: %w", file, ErrCannotExecute, denied)
	}
	return "", fmt.Errorf("exec %q: %w in $PATH", file, ErrNotFound)
}

// resolveUser finds the user spec names in the image's passwd and group
// files, which must be one the user namespace maps (ids).
func resolveUser(spec string, ids idMaps) (User, error) {
	open := func(p string) io.Reader {
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		return f
	}
	passwd, group := open("/etc/passwd"), open("/etc/group")
	defer func() {
		for _, r := range []io.Reader{passwd, group} {
			if c, ok := r.(io.Closer); ok {
				c.Close()
			}
		}
	}()
	u, err := lookupUser(spec, passwd, group)
	if err != nil {
		return User{}, err
	}
	if err := checkMapped(u, ids.uids, ids.gids); err != nil {
		return User{}, fmt.Errorf("user %q: %w", spec, err)
	}
	return u, nil
}

// defaultEnv adds what Docker always sets when the image and user did not.
func defaultEnv(env []string, hostname, home string, tty bool) []string {
	out := append([]string(nil), env...)
	add := func(k, v string) {
		if envValue(out, k) == "" && !hasKey(out, k) {
			out = append(out, k+"="+v)
		}
	}
	add("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	add("HOSTNAME", hostname)
	add("HOME", home)
	if tty {
		add("TERM", "xterm")
	}
	return out
}

func hasKey(env []string, k string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, k+"=") {
			return true
		}
	}
	return false
}

func envValue(env []string, k string) string {
	v := ""
	for _, e := range env {
		if strings.HasPrefix(e, k+"=") {
			v = e[len(k)+1:]
		}
	}
	return v
}

// prepareCwd creates the working directory like Docker does, owned by the
// user it will be used by when box creates it, and returns a handle on it.
// It runs after the pivot, and every component of cwd is resolved inside
// the new root (openat2's RESOLVE_IN_ROOT with no magic links, through
// pathrs-lite) and created relative to its parent's handle: no symlink,
// "..", or /proc/self/fd/N (a descriptor still open here) leads out, and
// a working dir that would lie outside is refused before anything exists.
func prepareCwd(root *os.File, cwd string, u User) (*os.File, error) {
	if !filepath.IsAbs(cwd) {
		return nil, fmt.Errorf("working directory %q is not absolute", cwd)
	}
	if h, err := openCwd(root, cwd); err == nil {
		return h, nil
	}
	h, err := pathrs.MkdirAllHandle(root, cwd, 0o755)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("working dir %q does not resolve inside the container (a link through /proc, or a loop of symlinks)", cwd)
	}
	if err != nil {
		return nil, fmt.Errorf("create working dir %q: %w", cwd, err)
	}
	if err := unix.Fchownat(int(h.Fd()), "", int(u.UID), int(u.GID), unix.AT_EMPTY_PATH); err != nil {
		h.Close()
		return nil, fmt.Errorf("chown working dir %q: %w", cwd, err)
	}
	return h, nil
}

// openCwd returns a handle on the existing directory cwd, resolved inside
// root as prepareCwd resolves it.
func openCwd(root *os.File, cwd string) (*os.File, error) {
	h, err := pathrs.OpenatInRoot(root, cwd)
	if err != nil {
		return nil, fmt.Errorf("working dir %q: %w", cwd, err)
	}
	return h, nil
}

// withRoot calls fn with a handle on this process's root directory.
func withRoot(fn func(root *os.File) (*os.File, error)) (*os.File, error) {
	root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return fn(root)
}

// enterCwd changes to the command's working directory, by its path and
// with the user's own permissions as Docker does, and makes sure it is
// the directory resolved inside the root, want (see prepareCwd): a path
// through a descriptor still open here (/proc/self/fd/N) could otherwise
// leave the command in a host directory (CVE-2024-21626). As a second
// guard, the kernel has no path in this root for a directory outside it,
// which getcwd reports as an error.
func enterCwd(cwd string, want *os.File) error {
	if err := unix.Chdir(cwd); err != nil {
		return fmt.Errorf("chdir to working dir %q: %w", cwd, err)
	}
	var here, there unix.Stat_t
	if err := unix.Stat(".", &here); err != nil {
		return fmt.Errorf("stat working dir %q: %w", cwd, err)
	}
	if err := unix.Fstat(int(want.Fd()), &there); err != nil {
		return fmt.Errorf("stat working dir %q: %w", cwd, err)
	}
	wd, err := unix.Getwd()
	if here.Dev != there.Dev || here.Ino != there.Ino || err != nil || !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("working dir %q is outside the container", cwd)
	}
	return nil
}

// noHostDirStdio refuses a directory as the command's stdin, stdout or
// stderr. box hands a foreground container its caller's stdio as it is,
// and a directory there would be a way out of the root: openat(0, "..")
// walks the host's files from it.
func noHostDirStdio() error {
	for fd, name := range []string{"stdin", "stdout", "stderr"} {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return fmt.Errorf("%s is a directory, which would give the container a way into the host's files; redirect it from a file or a pipe", name)
		}
	}
	return nil
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
