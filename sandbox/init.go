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

	"golang.org/x/sys/unix"
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
	if err := setupRootfs(&cfg, gidMapped(5)); err != nil {
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
	user, err := resolveUser(cfg.User)
	if err != nil {
		return fail("config", err)
	}
	env := defaultEnv(cfg.Env, cfg.Hostname, user.Home, cfg.Tty)
	if err := prepareCwd(cfg.Cwd, user); err != nil {
		return fail("config", err)
	}
	if _, err := unix.Setsid(); err != nil {
		return fail("", fmt.Errorf("setsid: %w", err))
	}
	if cfg.Tty {
		if err := attachConsole(console, cfg.Size, user); err != nil {
			return fail("", err)
		}
	}
	path, err := lookPath(cfg.Args[0], envValue(env, "PATH"))
	if err != nil {
		return fail(execKind(err), err)
	}
	if err := restrict(user, cfg.Security, false); err != nil {
		return fail("", err)
	}
	if err := enterCwd(cfg.Cwd); err != nil {
		return fail("config", err)
	}
	// Whatever fd the stage handed us besides stdio must not reach the
	// command (CVE-2024-21626 class); the error pipe is closed by the exec.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fail("", fmt.Errorf("close fds: %w", err))
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

func resolveUser(spec string) (User, error) {
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
	return lookupUser(spec, passwd, group)
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
// user it will be used by when box creates it.
func prepareCwd(cwd string, u User) error {
	if !filepath.IsAbs(cwd) {
		return fmt.Errorf("working directory %q is not absolute", cwd)
	}
	if _, err := os.Stat(cwd); err == nil {
		return nil
	}
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		return fmt.Errorf("create working dir %q: %w", cwd, err)
	}
	return os.Lchown(cwd, int(u.UID), int(u.GID))
}

// enterCwd changes to the command's working directory and makes sure it
// lies inside the container's root: a path through a descriptor still
// open here (/proc/self/fd/N) could otherwise leave the command in a host
// directory (CVE-2024-21626); the kernel then has no path for it in this
// root, which getcwd reports as an error.
func enterCwd(cwd string) error {
	if err := unix.Chdir(cwd); err != nil {
		return fmt.Errorf("chdir to working dir %q: %w", cwd, err)
	}
	wd, err := unix.Getwd()
	if err != nil || !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("working dir %q is outside the container", cwd)
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
