// Command escprobe is box's container-escape probe. Run inside a container,
// it tries one escape after another and prints one line for each:
//
//	BLOCKED <check>: <what stopped it>
//	ESCAPED <check>: <what succeeded>
//	ALLOWED abstract-socket: ...  (reached, as -expect-reachable-abstract says it should)
//	SKIPPED <check>: <why it does not apply: a flag not given, pid 1 is the probe>
//	ERROR <check>: <the probe could not tell: a timeout, a panic, a broken setup>
//
// It exits 0 when nothing escaped, 1 when something did, 3 when nothing
// escaped but some check could not tell, and 2 on a usage error.
//
//	escprobe [-host-pid N -host-cmdline 'WORDS'] [-host-file PATH] [-abstract NAME]
//	         [-ro-mount DIR] [-ro-root] [-ro-files F,G] [-suid-helper PATH]
//	         [-expect-reachable-abstract] [-watch DURATION] [-only a,b]
//
// Modes for the other side of a test:
//
//	escprobe host-sleeper TOKEN [PIDFILE]
//		write the pid to PIDFILE and sleep forever: a host process to aim at
//	escprobe listen-abstract NAME|- [NAMEFILE]
//		listen on the abstract unix socket @NAME (-: a unique name made up),
//		then write the name to NAMEFILE
//	escprobe whoami-caps
//		print euid and capabilities: what the set-uid helper says
//	escprobe swap-loop [-after PATH] [-once] [-hold DUR] [-ready FILE] [-stop FILE] A B TARGET
//		exchange A with B, a symlink to TARGET, in a loop (swap.go): a
//		container racing box on a directory they share
//
// The probe is static (stdlib and golang.org/x/sys/unix) so it runs in any
// image. Every check is independent: a panic or a hang (after -timeout)
// makes that check ERROR and the rest go on.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

type outcome int

const (
	blocked outcome = iota
	escaped
	allowed
	skipped
	failed
)

func (o outcome) String() string {
	return [...]string{"BLOCKED", "ESCAPED", "ALLOWED", "SKIPPED", "ERROR"}[o]
}

type result struct {
	o   outcome
	msg string
}

func blockedf(format string, a ...any) result { return result{blocked, fmt.Sprintf(format, a...)} }
func escapedf(format string, a ...any) result { return result{escaped, fmt.Sprintf(format, a...)} }
func skippedf(format string, a ...any) result { return result{skipped, fmt.Sprintf(format, a...)} }
func errorf(format string, a ...any) result   { return result{failed, fmt.Sprintf(format, a...)} }

// tally collects a check's attempts: it escaped if any attempt did.
type tally struct {
	esc, notes []string
	errs       []string
}

// fail records an attempt that was stopped, and how.
func (t *tally) fail(what string, err error) {
	t.notes = append(t.notes, what+": "+errName(err))
}

// note records something said about the check that is not an escape.
func (t *tally) note(format string, a ...any) { t.notes = append(t.notes, fmt.Sprintf(format, a...)) }

// escape records an attempt that got through.
func (t *tally) escape(format string, a ...any) { t.esc = append(t.esc, fmt.Sprintf(format, a...)) }

// broken records an attempt the probe could not judge.
func (t *tally) broken(format string, a ...any) { t.errs = append(t.errs, fmt.Sprintf(format, a...)) }

func (t *tally) result() result {
	switch {
	case len(t.esc) > 0:
		msg := strings.Join(t.esc, "; ")
		if len(t.notes) > 0 {
			msg += " [also: " + strings.Join(t.notes, "; ") + "]"
		}
		return result{escaped, msg}
	case len(t.errs) > 0:
		return result{failed, strings.Join(append(t.errs, t.notes...), "; ")}
	}
	return result{blocked, strings.Join(t.notes, "; ")}
}

// errName is an error as its errno's name (EPERM), or its text.
func errName(err error) string {
	if err == nil {
		return "ok"
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		if n := unix.ErrnoName(e); n != "" {
			return n
		}
		return e.Error()
	}
	return err.Error()
}

func isErrno(err error, errnos ...syscall.Errno) bool {
	for _, e := range errnos {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// probe is the configuration and what was seen at start.
type probe struct {
	hostPid        int
	hostCmdline    string
	hostFile       string
	abstract       string
	roMount        string
	roRoot         bool     // / is mounted read-only (--read-only)
	roFiles        []string // files bound read-only (/etc/hosts under --read-only)
	suidHelper     string
	expectAbstract bool
	watch          time.Duration // how long peer-caps keeps looking

	self     int
	startFds []fdEntry // /proc/self/fd as main found it
	fdErr    error
	scratch  string // a directory of our own, for files the checks make
}

type fdEntry struct {
	fd     int
	target string
}

type check struct {
	name  string
	group string
	run   func(*probe) result
}

func checks() []check {
	return []check{
		{"leaked-fds", "", (*probe).leakedFds},
		{"host-proc-visible", "", (*probe).hostProcVisible},
		{"host-signal", "", (*probe).hostSignal},
		{"host-file-write", "", (*probe).hostFileWrite},
		{"ro-mount-write", "", (*probe).roMountWrite},
		{"ro-remount", "", (*probe).roRemount},
		{"mount", "", (*probe).mount},
		{"kernel-module", "", (*probe).kernelModule},
		{"proc-sys-write", "", (*probe).procSysWrite},
		{"sysrq", "", (*probe).sysrq},
		{"kcore", "", (*probe).kcore},
		{"kmsg", "", (*probe).kmsg},
		{"proc-keys", "", (*probe).procKeys},
		{"mknod", "", (*probe).mknod},
		{"ptrace-init", "", (*probe).ptraceInit},
		{"peer-caps", "", (*probe).peerCaps},
		{"exe-overwrite", "", (*probe).exeOverwrite},
		{"setuid-regain", "", (*probe).setuidRegain},
		{"userns", "", (*probe).userns},
		{"abstract-socket", "", (*probe).abstractSocket},
		{"bpf", "extras", (*probe).bpf},
		{"perf-event-open", "extras", (*probe).perfEventOpen},
		{"keyctl", "extras", (*probe).keyctl},
		{"add-key", "extras", (*probe).addKey},
		{"kexec-load", "extras", (*probe).kexecLoad},
		{"reboot", "extras", (*probe).reboot},
		{"swapon", "extras", (*probe).swapon},
		{"settimeofday", "extras", (*probe).settimeofday},
		{"clock-settime", "extras", (*probe).clockSettime},
		{"acct", "extras", (*probe).acct},
		{"pivot-root", "extras", (*probe).pivotRoot},
		{"chroot-escape", "extras", (*probe).chrootEscape},
	}
}

func main() {
	// First, before anything opens a file: what this process inherited.
	fds, fdErr := listFds()
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "host-sleeper":
			os.Exit(hostSleeper(os.Args[2:]))
		case "listen-abstract":
			os.Exit(listenAbstract(os.Args[2:]))
		case "whoami-caps":
			os.Exit(whoamiCaps())
		case "swap-loop":
			os.Exit(swapLoop(os.Args[2:]))
		}
	}
	os.Exit(runProbe(os.Args[1:], fds, fdErr))
}

func usage(fs *flag.FlagSet) {
	out := fs.Output()
	fmt.Fprintf(out, "usage: escprobe [flags]          (inside a container: try every escape)\n")
	fmt.Fprintf(out, "       escprobe host-sleeper TOKEN [PIDFILE]\n")
	fmt.Fprintf(out, "       escprobe listen-abstract NAME|- [NAMEFILE]\n")
	fmt.Fprintf(out, "       escprobe whoami-caps\n")
	fmt.Fprintf(out, "       escprobe swap-loop [-after PATH] [-once] [-hold DUR] [-ready FILE] [-stop FILE] A B TARGET\n")
	fs.PrintDefaults()
	var names []string
	for _, c := range checks() {
		names = append(names, c.name)
	}
	fmt.Fprintf(out, "checks: %s (and the group \"extras\")\n", strings.Join(names, ","))
}

func runProbe(args []string, fds []fdEntry, fdErr error) int {
	fs := flag.NewFlagSet("escprobe", flag.ContinueOnError)
	p := &probe{startFds: fds, fdErr: fdErr, self: os.Getpid()}
	fs.IntVar(&p.hostPid, "host-pid", 0, "pid of a host process (escprobe host-sleeper) to look for and signal")
	fs.StringVar(&p.hostCmdline, "host-cmdline", "", "the host process's arguments after argv[0], space-separated (a prefix of them is enough), to recognise it")
	fs.StringVar(&p.hostFile, "host-file", "", "path of a host file outside every mount of the container, to try to write")
	fs.StringVar(&p.abstract, "abstract", "", "name of an abstract unix socket the host listens on (without the @)")
	fs.StringVar(&p.roMount, "ro-mount", "", "a read-only bind mount inside the container")
	fs.BoolVar(&p.roRoot, "ro-root", false, "the container's / is read-only (--read-only): ro-remount attacks it too")
	roFiles := fs.String("ro-files", "", "comma-separated files bound read-only (/etc/hosts under --read-only), for ro-remount")
	fs.DurationVar(&p.watch, "watch", 0, "how long peer-caps keeps looking for more privileged processes (box's helpers come and go); raise -timeout with it")
	fs.StringVar(&p.suidHelper, "suid-helper", "", "a set-uid-root copy of this probe in the image, for a non-root user to run")
	fs.BoolVar(&p.expectAbstract, "expect-reachable-abstract", false, "the container shares the host's network namespace (--network host): reaching -abstract is expected")
	only := fs.String("only", "", "comma-separated checks (or groups) to run; default all")
	timeout := fs.Duration("timeout", 3*time.Second, "how long one check may take")
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "escprobe: unexpected argument %q\n", fs.Arg(0))
		usage(fs)
		return 2
	}
	all := checks()
	selected := all
	if *only != "" {
		want := map[string]bool{}
		for _, n := range strings.Split(*only, ",") {
			if n = strings.TrimSpace(n); n != "" {
				want[n] = true
			}
		}
		selected = nil
		for _, c := range all {
			if want[c.name] || (c.group != "" && want[c.group]) {
				selected = append(selected, c)
				delete(want, c.name)
			}
		}
		for _, c := range all {
			delete(want, c.group)
		}
		if len(want) > 0 {
			var bad []string
			for n := range want {
				bad = append(bad, n)
			}
			sort.Strings(bad)
			fmt.Fprintf(os.Stderr, "escprobe: -only: unknown check %s\n", strings.Join(bad, ", "))
			usage(fs)
			return 2
		}
	}
	if p.hostPid < 0 {
		fmt.Fprintf(os.Stderr, "escprobe: -host-pid must be a pid\n")
		return 2
	}
	for _, f := range strings.Split(*roFiles, ",") {
		if f = strings.TrimSpace(f); f != "" {
			p.roFiles = append(p.roFiles, f)
		}
	}
	if p.hostFile != "" && !filepath.IsAbs(p.hostFile) {
		fmt.Fprintf(os.Stderr, "escprobe: -host-file must be an absolute path\n")
		return 2
	}
	dir, err := os.MkdirTemp("", "escprobe-")
	if err != nil {
		dir = ""
	}
	p.scratch = dir
	defer func() {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}()

	worst := 0
	for _, c := range selected {
		r := runCheck(p, c, *timeout)
		fmt.Printf("%s %s: %s\n", r.o, c.name, oneLine(r.msg))
		switch r.o {
		case escaped:
			worst = 1
		case failed:
			if worst == 0 {
				worst = 3
			}
		}
	}
	return worst
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", `\n`)
	if len(s) > 1500 {
		s = s[:1500] + "..."
	}
	return s
}

func runCheck(p *probe, c check, timeout time.Duration) result {
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if e := recover(); e != nil {
				ch <- errorf("panic: %v", e)
			}
		}()
		ch <- c.run(p)
	}()
	select {
	case r := <-ch:
		return r
	case <-time.After(timeout):
		return errorf("timed out after %v", timeout)
	}
}

// ---- helpers ----

// listFds lists /proc/self/fd without the descriptor that reads it.
func listFds() ([]fdEntry, error) {
	dfd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dfd)
	var out []fdEntry
	buf := make([]byte, 8192)
	for {
		n, err := unix.Getdents(dfd, buf)
		if err != nil {
			return out, err
		}
		if n <= 0 {
			break
		}
		_, _, names := unix.ParseDirent(buf[:n], -1, nil)
		for _, name := range names {
			fd, err := strconv.Atoi(name)
			if err != nil || fd == dfd {
				continue
			}
			t, err := os.Readlink("/proc/self/fd/" + name)
			if err != nil {
				t = "(readlink: " + errName(err) + ")"
			}
			out = append(out, fdEntry{fd, t})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].fd < out[j].fd })
	return out, nil
}

// pids lists the processes /proc shows.
func pids() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out
}

// otherPids are the visible processes but this one.
func (p *probe) otherPids() []int {
	var out []int
	for _, n := range pids() {
		if n != p.self {
			out = append(out, n)
		}
	}
	return out
}

func cmdline(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil, nil
	}
	return strings.Split(string(b), "\x00"), nil
}

func comm(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// isHostProcess reports whether argv is the host process's: the words of
// -host-cmdline are a prefix of its arguments (after argv[0]). The probe's
// own argv holds the same words, but after -host-cmdline, never first.
func (p *probe) isHostProcess(argv []string) bool {
	want := strings.Fields(p.hostCmdline)
	if len(want) == 0 || len(argv) < 1+len(want) {
		return false
	}
	for i, w := range want {
		if argv[1+i] != w {
			return false
		}
	}
	return true
}

func statusField(pid, field string) string {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func capEff() uint64 {
	v, _ := strconv.ParseUint(statusField("self", "CapEff"), 16, 64)
	return v
}

func hasCap(c int) bool { return capEff()&(1<<uint(c)) != 0 }

// uidMapped reports whether uid (as this namespace sees it) is mapped.
func uidMapped(uid uint32) bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return true
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		start, _ := strconv.ParseUint(f[0], 10, 32)
		n, _ := strconv.ParseUint(f[2], 10, 64)
		if uint64(uid) >= start && uint64(uid) < start+n {
			return true
		}
	}
	return false
}

func sysctl(name string) string {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	if err != nil {
		return "?(" + errName(err) + ")"
	}
	return strings.TrimSpace(string(b))
}

func sameFile(a, b *unix.Stat_t) bool { return a.Dev == b.Dev && a.Ino == b.Ino }

func devIno(st *unix.Stat_t) string {
	return fmt.Sprintf("dev %d:%d ino %d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
}

// reachable reports whether path, resolved in this container, is the
// file st describes.
func reachable(path string, st *unix.Stat_t) bool {
	if !filepath.IsAbs(path) || strings.HasSuffix(path, " (deleted)") {
		return false
	}
	var here unix.Stat_t
	if err := unix.Stat(path, &here); err != nil {
		return false
	}
	return sameFile(&here, st)
}

// scratchFile makes an empty file of ours for a check to use.
func (p *probe) scratchFile(name string) (string, error) {
	if p.scratch == "" {
		return "", errors.New("no scratch directory")
	}
	path := filepath.Join(p.scratch, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	return path, f.Close()
}

// ---- the checks ----

// leakedFds: nothing but stdio may come in, and cwd and root must be in
// the container (CVE-2024-21626: a leaked host directory fd as cwd).
func (p *probe) leakedFds() result {
	var t tally
	if p.fdErr != nil {
		t.broken("list /proc/self/fd: %v", errName(p.fdErr))
	}
	var std []string
	for _, e := range p.startFds {
		if e.fd <= 2 {
			std = append(std, fmt.Sprintf("%d=%s", e.fd, e.target))
			continue
		}
		t.escape("fd %d inherited: %s", e.fd, e.target)
	}
	t.note("stdio %s", strings.Join(std, " "))
	for _, link := range []string{"cwd", "root"} {
		target, err := os.Readlink("/proc/self/" + link)
		if err != nil {
			t.broken("readlink /proc/self/%s: %s", link, errName(err))
			continue
		}
		var viaProc unix.Stat_t
		if err := unix.Stat("/proc/self/"+link+"/", &viaProc); err != nil {
			t.broken("stat /proc/self/%s: %s", link, errName(err))
			continue
		}
		switch {
		case link == "root" && target != "/":
			t.escape("root is %q, not the container's /", target)
		case !reachable(target, &viaProc):
			t.escape("%s is %q (%s), which is not that directory inside the container", link, target, devIno(&viaProc))
		default:
			t.note("%s %s", link, target)
		}
	}
	// Other processes' descriptors: a directory or file of the host held
	// open by a process of the container (as box's init) is as good as
	// our own.
	for _, pid := range p.otherPids() {
		for _, link := range []string{"cwd", "root"} {
			path := fmt.Sprintf("/proc/%d/%s", pid, link)
			target, err := os.Readlink(path)
			if err != nil {
				continue // not ours to see (the fds say why, below)
			}
			var st unix.Stat_t
			if unix.Stat(path+"/", &st) != nil {
				continue
			}
			if !reachable(target, &st) {
				t.escape("pid %d (%s) has its %s in %q (%s), not reachable inside the container", pid, comm(pid), link, target, devIno(&st))
			}
		}
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.note("pid %d fds: %s", pid, errName(err))
			continue
		}
		var shown []string
		for _, e := range ents {
			fd, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			target, err := os.Readlink(dir + "/" + e.Name())
			if err != nil {
				shown = append(shown, fmt.Sprintf("%d=(%s)", fd, errName(err)))
				continue
			}
			shown = append(shown, fmt.Sprintf("%d=%s", fd, target))
			if fd <= 2 || !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "/memfd:") {
				continue
			}
			var st unix.Stat_t
			if err := unix.Stat(dir+"/"+e.Name(), &st); err != nil {
				continue
			}
			if reachable(target, &st) {
				continue
			}
			if own, what := ownProcfs(dir + "/" + e.Name()); own {
				t.note("pid %d fd %d: %s", pid, fd, what)
				continue
			}
			t.escape("pid %d (%s) holds fd %d on %q (%s), not reachable inside the container", pid, comm(pid), fd, target, devIno(&st))
		}
		t.note("pid %d fds %s", pid, strings.Join(shown, " "))
	}
	return t.result()
}

// ownProcfs reports whether path is a procfs (as a private, detached
// one of filepath-securejoin) that shows only this container's processes.
func ownProcfs(path string) (bool, string) {
	var sfs unix.Statfs_t
	if unix.Statfs(path, &sfs) != nil || sfs.Type != unix.PROC_SUPER_MAGIC {
		return false, ""
	}
	list := func(dir string) map[int]bool {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil
		}
		m := map[int]bool{}
		for _, e := range ents {
			if n, err := strconv.Atoi(e.Name()); err == nil {
				m[n] = true
			}
		}
		return m
	}
	theirs := list(path)
	if theirs == nil {
		return false, ""
	}
	ours := list("/proc")
	var foreign []string
	for n := range theirs {
		if ours[n] {
			continue
		}
		// Gone from both since (it exited): not foreign.
		if _, err := os.Stat(fmt.Sprintf("%s/%d", path, n)); err != nil {
			continue
		}
		foreign = append(foreign, strconv.Itoa(n))
	}
	if len(foreign) > 0 {
		return false, ""
	}
	return true, fmt.Sprintf("a procfs of this container's own processes (%d pids, all visible here)", len(theirs))
}

// hostProcVisible: the host process must not appear in /proc.
func (p *probe) hostProcVisible() result {
	list := pids()
	var shown []string
	for _, n := range list {
		shown = append(shown, fmt.Sprintf("%d(%s)", n, comm(n)))
	}
	seen := fmt.Sprintf("%d pids visible: %s", len(list), strings.Join(shown, " "))
	if p.hostPid == 0 && p.hostCmdline == "" {
		return skippedf("no -host-pid/-host-cmdline; %s", seen)
	}
	var t tally
	if p.hostCmdline != "" {
		for _, n := range list {
			if n == p.self {
				continue
			}
			if argv, err := cmdline(n); err == nil && p.isHostProcess(argv) {
				t.escape("pid %d here is the host process (cmdline %q)", n, strings.Join(argv, " "))
			}
		}
	}
	if p.hostPid > 0 {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", p.hostPid))
		switch {
		case errors.Is(err, os.ErrNotExist):
			t.note("/proc/%d: ENOENT", p.hostPid)
		case err != nil:
			t.note("/proc/%d: %s", p.hostPid, errName(err))
		case p.hostCmdline == "":
			t.broken("/proc/%d exists here; pass -host-cmdline to tell whether it is the host's", p.hostPid)
		default:
			argv, _ := cmdline(p.hostPid)
			if !p.isHostProcess(argv) {
				t.note("/proc/%d exists but is a container process (%q), not the host's", p.hostPid, strings.Join(argv, " "))
			}
		}
	}
	if p.hostCmdline != "" && len(t.esc) == 0 {
		t.note("no process with cmdline %q", p.hostCmdline)
	}
	t.note("%s", seen)
	return t.result()
}

// hostSignal: the host process must be beyond kill(2).
func (p *probe) hostSignal() result {
	if p.hostPid == 0 {
		return skippedf("no -host-pid")
	}
	var t tally
	pid := p.hostPid
	err := unix.Kill(pid, 0)
	if err == nil {
		// A process of the container may have the same number.
		argv, _ := cmdline(pid)
		switch {
		case pid == p.self:
			t.note("kill(%d, 0) reached this probe itself (the pid numbers collide); SIGTERM not sent", pid)
		case p.isHostProcess(argv):
			t.escape("kill(%d, 0) reached the host process", pid)
			if err := unix.Kill(pid, unix.SIGTERM); err == nil {
				t.escape("kill(%d, SIGTERM) delivered", pid)
			}
		case p.hostCmdline == "":
			t.broken("kill(%d, 0) succeeded; pass -host-cmdline to tell whether it is the host's", pid)
		default:
			t.note("kill(%d, 0) reached a container process (%q), not the host's; SIGTERM not sent", pid, strings.Join(argv, " "))
		}
		return t.result()
	}
	if !isErrno(err, unix.ESRCH, unix.EPERM) {
		t.broken("kill(%d, 0): unexpected %s", pid, errName(err))
	}
	t.fail(fmt.Sprintf("kill(%d, 0)", pid), err)
	if err := unix.Kill(pid, unix.SIGTERM); err == nil {
		t.escape("kill(%d, SIGTERM) delivered although kill(%d, 0) failed", pid, pid)
	} else {
		t.fail(fmt.Sprintf("kill(%d, SIGTERM)", pid), err)
	}
	return t.result()
}

// hostFileWrite: reach the host file through every path that could lead
// out of the container's root, and by file handle (the "shocker" escape).
func (p *probe) hostFileWrite() result {
	var t tally
	if p.hostFile == "" {
		t.note("no -host-file: only the file-handle attempts")
	} else {
		rel := strings.TrimPrefix(p.hostFile, "/")
		up := strings.Repeat("../", 24)
		routes := []string{
			p.hostFile,
			"/proc/1/root/" + rel,
			"/proc/self/root/../../" + rel,
			up + rel, // from the working directory
		}
		if p.roMount != "" {
			routes = append(routes, filepath.Clean(p.roMount)+"/"+up+rel)
		}
		for _, pid := range p.otherPids() {
			if pid == 1 {
				continue
			}
			routes = append(routes, fmt.Sprintf("/proc/%d/root/%s", pid, rel), fmt.Sprintf("/proc/%d/cwd/%s%s", pid, up, rel))
		}
		marker := fmt.Sprintf("escprobe %d was here\n", p.self)
		for _, r := range routes {
			f, err := os.OpenFile(r, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.fail("open "+r, err)
				continue
			}
			var st unix.Stat_t
			_ = unix.Fstat(int(f.Fd()), &st)
			_, werr := f.WriteString(marker)
			f.Close()
			if werr != nil {
				t.escape("opened %s for writing (%s), write: %s", r, devIno(&st), errName(werr))
			} else {
				t.escape("appended to %s (%s)", r, devIno(&st))
			}
		}
		// Creating it: a new file means the path is the container's
		// own (the host's file exists); EEXIST means a file is there.
		for _, r := range []string{p.hostFile, up + rel} {
			f, err := os.OpenFile(r, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			switch {
			case err == nil:
				f.Close()
				os.Remove(r)
				t.note("create %s: made a new file of the container's own (removed)", r)
			case errors.Is(err, os.ErrExist):
				t.escape("create %s: EEXIST, the host file's path exists inside the container", r)
			default:
				t.fail("create "+r, err)
			}
		}
	}
	p.shocker(&t)
	return t.result()
}

// shocker tries open_by_handle_at: a handle of a visible file (is the call
// permitted at all?) and a guessed handle of its filesystem's root inode 2,
// which on a host filesystem behind a bind mount is the host's /.
func (p *probe) shocker(t *tally) {
	cands := []string{"/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/"}
	if p.roMount != "" {
		cands = append(cands, p.roMount)
	}
	var visible []unix.Stat_t
	for _, c := range append([]string{"/"}, cands...) {
		var st unix.Stat_t
		if unix.Stat(c, &st) == nil {
			visible = append(visible, st)
		}
	}
	isVisible := func(st *unix.Stat_t) bool {
		for i := range visible {
			if sameFile(&visible[i], st) {
				return true
			}
		}
		return false
	}
	for _, c := range cands {
		h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, c, 0)
		if err != nil {
			t.fail("name_to_handle_at "+c, err)
			continue
		}
		// Not O_PATH: open_by_handle_at refuses one (EBADF) before it
		// checks anything else.
		mfd, err := unix.Open(c, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			t.fail("open "+c, err)
			continue
		}
		own, err := unix.OpenByHandleAt(mfd, h, unix.O_RDONLY|unix.O_CLOEXEC)
		if err == nil {
			var st unix.Stat_t
			_ = unix.Fstat(own, &st)
			unix.Close(own)
			if isVisible(&st) {
				t.note("open_by_handle_at(own handle of %s): permitted, opened that same file", c)
			} else {
				t.escape("open_by_handle_at(own handle of %s) opened %s, not visible in the container", c, devIno(&st))
			}
		} else {
			t.fail("open_by_handle_at(own handle of "+c+")", err)
		}
		// FILEID_INO32_GEN (1): inode 2, generation 0 (ext4's root).
		guess := unix.NewFileHandle(1, []byte{2, 0, 0, 0, 0, 0, 0, 0})
		fd, err := unix.OpenByHandleAt(mfd, guess, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
		unix.Close(mfd)
		if err != nil {
			t.fail("open_by_handle_at(inode 2 on "+c+"'s fs)", err)
			continue
		}
		var st unix.Stat_t
		_ = unix.Fstat(fd, &st)
		names := readdirNames(fd, 8)
		unix.Close(fd)
		if isVisible(&st) {
			t.note("open_by_handle_at(inode 2 on %s's fs): permitted, but it is a directory the container sees anyway", c)
		} else {
			t.escape("open_by_handle_at(inode 2 on %s's fs) opened a directory outside the container (%s: %s)", c, devIno(&st), strings.Join(names, " "))
		}
	}
}

func readdirNames(fd, max int) []string {
	buf := make([]byte, 8192)
	n, err := unix.Getdents(fd, buf)
	if err != nil || n <= 0 {
		return nil
	}
	_, _, names := unix.ParseDirent(buf[:n], max, nil)
	return names
}

// roMountWrite: a read-only bind mount stays read-only.
func (p *probe) roMountWrite() result {
	if p.roMount == "" {
		return skippedf("no -ro-mount")
	}
	var t tally
	dir := p.roMount
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		return errorf("statfs %s: %s", dir, errName(err))
	}
	if sfs.Flags&unix.ST_RDONLY == 0 {
		t.escape("statfs %s: the mount is not read-only", dir)
	}
	ok := func(err error) bool { return isErrno(err, unix.EROFS, unix.EACCES, unix.EPERM) }
	judge := func(what string, err error, undo func()) {
		switch {
		case err == nil:
			t.escape("%s succeeded", what)
			if undo != nil {
				undo()
			}
		case ok(err):
			t.fail(what, err)
		default:
			t.broken("%s: unexpected %s", what, errName(err))
		}
	}
	newFile := filepath.Join(dir, fmt.Sprintf("escprobe-%d", p.self))
	f, err := os.OpenFile(newFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	judge("create "+newFile, err, func() { f.Close(); os.Remove(newFile) })
	judge("mkdir", os.Mkdir(newFile+".d", 0o755), func() { os.Remove(newFile + ".d") })
	fi, err := os.Stat(dir)
	if err == nil {
		judge("chmod (same mode)", os.Chmod(dir, fi.Mode().Perm()), nil)
	}
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		if !e.Type().IsRegular() || n == 3 {
			continue
		}
		n++
		path := filepath.Join(dir, e.Name())
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		judge("open "+path+" for writing", err, func() { f.Close() })
		judge("rename "+e.Name()+" onto itself", os.Rename(path, path), nil)
		// Its own times again: both UTIME_OMIT would succeed without a
		// check, so give real values (unchanged ones).
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err == nil {
			judge("utimes "+e.Name()+" (unchanged)", unix.UtimesNano(path, []unix.Timespec{st.Atim, st.Mtim}), nil)
		}
	}
	if n == 0 {
		t.note("no existing file in %s to try", dir)
	}
	return t.result()
}

// mount: no mount, remount, unmount or new-API mount.
func (p *probe) mount() result {
	if hasCap(unix.CAP_SYS_ADMIN) {
		return skippedf("we hold CAP_SYS_ADMIN (--cap-add SYS_ADMIN, --privileged): mounts of our own are allowed; ro-remount checks that the read-only ones hold")
	}
	var t tally
	target := "/mnt"
	if fi, err := os.Stat(target); err != nil || !fi.IsDir() {
		target = filepath.Join(p.scratch, "mnt")
		_ = os.Mkdir(target, 0o755)
	}
	undoMount := func() { _ = unix.Unmount(target, unix.MNT_DETACH) }
	try := func(what string, err error, undo func()) {
		if err == nil {
			t.escape("%s succeeded", what)
			if undo != nil {
				undo()
			}
			return
		}
		t.fail(what, err)
	}
	try("mount tmpfs on "+target, unix.Mount("escprobe", target, "tmpfs", 0, "size=4k"), undoMount)
	try("bind / on "+target, unix.Mount("/", target, "", unix.MS_BIND|unix.MS_REC, ""), undoMount)
	try("remount / rw", unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND, ""), nil)
	try("remount /proc/sys rw", unix.Mount("", "/proc/sys", "", unix.MS_REMOUNT|unix.MS_BIND, ""),
		func() { _ = unix.Mount("", "/proc/sys", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, "") })
	if p.roMount != "" {
		try("remount "+p.roMount+" rw", unix.Mount("", p.roMount, "", unix.MS_REMOUNT|unix.MS_BIND, ""), nil)
	}
	try("mount proc on "+target, unix.Mount("proc", target, "proc", 0, ""), undoMount)
	try("mount sysfs on "+target, unix.Mount("sysfs", target, "sysfs", 0, ""), undoMount)
	try("umount /proc/kcore (unmask)", unix.Unmount("/proc/kcore", unix.MNT_DETACH), nil)
	try("umount /proc/sys", unix.Unmount("/proc/sys", unix.MNT_DETACH), nil)
	try("mount_setattr /proc/sys -ro", unix.MountSetattr(unix.AT_FDCWD, "/proc/sys", 0, &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY}), nil)
	if fd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC); err == nil {
		unix.Close(fd)
		t.escape("fsopen(tmpfs) succeeded")
	} else {
		t.fail("fsopen(tmpfs)", err)
	}
	if fd, err := unix.OpenTree(unix.AT_FDCWD, "/", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE); err == nil {
		unix.Close(fd)
		t.escape("open_tree(/, OPEN_TREE_CLONE) succeeded")
	} else {
		t.fail("open_tree(/, OPEN_TREE_CLONE)", err)
	}
	try("move_mount /proc to "+target, unix.MoveMount(unix.AT_FDCWD, "/proc", unix.AT_FDCWD, target, 0),
		func() { _ = unix.MoveMount(unix.AT_FDCWD, target, unix.AT_FDCWD, "/proc", 0) })
	return t.result()
}

// kernelModule: no module loading. EPERM (or ENOSYS) is the capability
// check or seccomp; any other error means the kernel looked at our fake
// module, past the check.
func (p *probe) kernelModule() result {
	var t tally
	judge := func(what string, err error) {
		switch {
		case err == nil:
			t.escape("%s succeeded", what)
		case isErrno(err, unix.EPERM, unix.ENOSYS):
			t.fail(what, err)
		default:
			t.escape("%s got past the capability check (%s)", what, errName(err))
		}
	}
	judge("init_module", unix.InitModule(make([]byte, 64), ""))
	fd, err := unix.Open("/proc/self/exe", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return errorf("open /proc/self/exe: %s", errName(err))
	}
	defer unix.Close(fd)
	judge("finit_module", unix.FinitModule(fd, "", 0))
	return t.result()
}

// writeBack opens path for writing and writes value (its current value,
// read first, when value is ""): harmless if it gets through.
func writeBack(t *tally, path, value string) {
	if value == "" {
		b, err := os.ReadFile(path)
		if err != nil {
			t.fail("read "+path, err)
		}
		value = string(b)
		if value == "" {
			value = "\n"
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.fail("open "+path, err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(value); err != nil {
		t.fail("write "+path, err)
		return
	}
	t.escape("wrote %q to %s (opened for writing and written)", strings.TrimSpace(value), path)
}

// procSysWrite: no kernel knob is writable (values are written back
// unchanged, drop_caches gets 4, which drops nothing).
func (p *probe) procSysWrite() result {
	var t tally
	writeBack(&t, "/proc/sys/kernel/hostname", "")
	writeBack(&t, "/proc/sys/vm/drop_caches", "4")
	writeBack(&t, "/proc/sys/kernel/core_pattern", "")
	if _, err := os.Stat("/sys/kernel/uevent_helper"); err == nil {
		writeBack(&t, "/sys/kernel/uevent_helper", "")
	}
	return t.result()
}

// sysrq: 'h' only prints the help to the kernel log.
func (p *probe) sysrq() result {
	var t tally
	writeBack(&t, "/proc/sysrq-trigger", "h")
	return t.result()
}

// readMasked: the file must not open, or read as empty.
func readMasked(t *tally, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.fail("open "+path, err)
		return
	}
	defer f.Close()
	var st unix.Stat_t
	_ = unix.Fstat(int(f.Fd()), &st)
	kind := "not masked: the kernel's own file, which shows nothing to us"
	if st.Mode&unix.S_IFMT == unix.S_IFCHR {
		kind = fmt.Sprintf("masked by char device %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	buf := make([]byte, 4096)
	n, err := f.Read(buf)
	switch {
	case n > 0:
		t.escape("read %d bytes from %s (%s)", n, path, kind)
	case err != nil && err != io.EOF:
		t.fail("read "+path, err)
	default:
		t.note("%s reads 0 bytes (%s)", path, kind)
	}
}

func (p *probe) kcore() result {
	var t tally
	readMasked(&t, "/proc/kcore")
	return t.result()
}

// kmsg: the kernel log through /proc/kmsg (opened only: reading it would
// take the messages from the host's syslog), /dev/kmsg and syslog(2).
func (p *probe) kmsg() result {
	var t tally
	if fd, err := unix.Open("/proc/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
		var st unix.Stat_t
		_ = unix.Fstat(fd, &st)
		unix.Close(fd)
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == unix.Mkdev(1, 3) {
			t.note("/proc/kmsg is masked by /dev/null")
		} else {
			t.escape("opened /proc/kmsg (the host's kernel log; not read)")
		}
	} else {
		t.fail("open /proc/kmsg", err)
	}
	if fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
		buf := make([]byte, 8192)
		n, rerr := unix.Read(fd, buf)
		unix.Close(fd)
		if n > 0 {
			t.escape("read %d bytes of the kernel log from /dev/kmsg", n)
		} else {
			t.escape("opened /dev/kmsg (read: %s)", errName(rerr))
		}
	} else {
		t.fail("open /dev/kmsg", err)
	}
	buf := make([]byte, 4096)
	if n, err := unix.Klogctl(unix.SYSLOG_ACTION_READ_ALL, buf); err == nil {
		t.escape("syslog(READ_ALL) returned %d bytes of the kernel log (dmesg_restrict=%s)", n, sysctl("kernel.dmesg_restrict"))
	} else {
		t.fail("syslog(READ_ALL)", err)
	}
	return t.result()
}

func (p *probe) procKeys() result {
	var t tally
	readMasked(&t, "/proc/keys")
	return t.result()
}

// mknod: device nodes cannot be made, or at least not opened; the host's
// disks and memory devices are not there.
func (p *probe) mknod() result {
	var t tally
	for _, dir := range []string{"/tmp", "/dev"} {
		for _, d := range []struct {
			name         string
			major, minor uint32
		}{{"null", 1, 3}, {"mem", 1, 1}} {
			path := filepath.Join(dir, fmt.Sprintf("escprobe-%s-%d", d.name, p.self))
			err := unix.Mknod(path, unix.S_IFCHR|0o600, int(unix.Mkdev(d.major, d.minor)))
			if err != nil {
				t.fail("mknod "+path, err)
				continue
			}
			fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err == nil {
				unix.Close(fd)
				t.escape("made and opened %s (char %d:%d)", path, d.major, d.minor)
			} else {
				t.note("made %s but open: %s", path, errName(err))
			}
			os.Remove(path)
		}
	}
	devs := []string{"/dev/mem", "/dev/kmem", "/dev/port"}
	for _, g := range []string{"/dev/sd*", "/dev/vd*", "/dev/xvd*", "/dev/nvme*", "/dev/hd*"} {
		m, _ := filepath.Glob(g)
		devs = append(devs, m...)
	}
	var absent []string
	for _, d := range devs {
		fd, err := unix.Open(d, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		switch {
		case err == nil:
			unix.Close(fd)
			t.escape("opened %s", d)
		case errors.Is(err, unix.ENOENT):
			absent = append(absent, d)
		default:
			t.fail("open "+d, err)
		}
	}
	if len(absent) > 0 {
		t.note("absent: %s", strings.Join(absent, " "))
	}
	return t.result()
}

func yama() string {
	b, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope")
	if err != nil {
		return "none"
	}
	return strings.TrimSpace(string(b))
}

// ptraceInit: pid 1, when it is not the probe (box's --init), cannot be
// traced, read or written.
func (p *probe) ptraceInit() result {
	if p.self == 1 {
		return skippedf("pid 1 is this probe (no --init): no other process to attack")
	}
	if hasCap(unix.CAP_SYS_PTRACE) {
		return skippedf("we hold CAP_SYS_PTRACE: tracing pid 1 is allowed; peer-caps checks that it holds no more than we do, and leaked-fds what it holds open")
	}
	var t tally
	t.note("pid 1 is %q, uid %s", comm(1), statusField("1", "Uid"))
	t.note("yama ptrace_scope=%s", yama())
	// ptrace belongs to the thread.
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := unix.PtraceSeize(1)
		if err == nil {
			// Let go again.
			if unix.PtraceInterrupt(1) == nil {
				var ws unix.WaitStatus
				_, _ = unix.Wait4(1, &ws, unix.WALL, nil)
			}
			_ = unix.PtraceDetach(1)
		}
		errc <- err
	}()
	if err := <-errc; err == nil {
		t.escape("PTRACE_SEIZE of pid 1 succeeded")
	} else {
		t.fail("PTRACE_SEIZE 1", err)
	}
	// The text of a static Go binary (box) is at 0x400000; any address
	// does to see whether the access check lets us in (EFAULT: it did).
	buf := make([]byte, 16)
	local := []unix.Iovec{{Base: &buf[0], Len: uint64(len(buf))}}
	remote := []unix.RemoteIovec{{Base: 0x400000, Len: len(buf)}}
	if n, err := unix.ProcessVMReadv(1, local, remote, 0); err == nil {
		t.escape("process_vm_readv of pid 1 read %d bytes", n)
	} else if isErrno(err, unix.EFAULT) {
		t.escape("process_vm_readv of pid 1 passed the access check (EFAULT at the guessed address)")
	} else {
		t.fail("process_vm_readv 1", err)
	}
	if f, err := os.Open("/proc/1/mem"); err == nil {
		f.Close()
		t.escape("opened /proc/1/mem for reading")
	} else {
		t.fail("open /proc/1/mem", err)
	}
	return t.result()
}

// exeOverwrite: the executable of another process of the container must
// not be writable when it is not the container's own file (box's init is
// the box binary: CVE-2019-5736). ETXTBSY protects only while it runs, so a
// file on a writable filesystem that we may write or chmod counts as
// overwritable.
func (p *probe) exeOverwrite() result {
	var t tally
	others := p.otherPids()
	if len(others) == 0 {
		return blockedf("no process visible but this one (pid %d): no executable but our own to aim at", p.self)
	}
	for _, pid := range others {
		p.exeOf(&t, pid)
	}
	return t.result()
}

func (p *probe) exeOf(t *tally, pid int) {
	link := fmt.Sprintf("/proc/%d/exe", pid)
	who := fmt.Sprintf("pid %d (%s)", pid, comm(pid))
	target, err := os.Readlink(link)
	if err != nil {
		target = "?"
		t.fail(who+": readlink exe", err)
	}
	pfd, err := unix.Open(link, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.fail(who+": open exe O_PATH", err)
		// The link's target cannot be reached this way; try writing
		// anyway (it fails the same way when the access check stops it).
		if fd, err := unix.Open(link, unix.O_WRONLY|unix.O_CLOEXEC, 0); err == nil {
			unix.Close(fd)
			t.escape("%s: opened exe %s for writing", who, target)
		}
		return
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		t.broken("%s: fstat exe: %s", who, errName(err))
		return
	}
	if reachable(target, &st) {
		t.note("%s: exe %s is the container's own file, skipped", who, target)
		return
	}
	var sfs unix.Statfs_t
	rdonly := false
	if err := unix.Fstatfs(pfd, &sfs); err == nil {
		rdonly = sfs.Flags&unix.ST_RDONLY != 0
	}
	memfd := strings.HasPrefix(target, "/memfd:")
	seals := -1
	if rfd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", pfd), unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		seals, _ = unix.FcntlInt(uintptr(rfd), unix.F_GET_SEALS, 0)
		unix.Close(rfd)
	}
	sealed := seals >= 0 && seals&(unix.F_SEAL_WRITE|unix.F_SEAL_FUTURE_WRITE) != 0
	desc := fmt.Sprintf("%s: exe %s (%s, uid %d mode %04o, fs magic %#x%s%s%s)", who, target, devIno(&st), st.Uid, st.Mode&0o7777,
		sfs.Type, map[bool]string{true: ", read-only mount", false: ", writable mount"}[rdonly],
		map[bool]string{true: ", memfd", false: ""}[memfd],
		map[bool]string{true: ", sealed against writes", false: ""}[sealed])

	// Opening for writing does not change the file; O_TRUNC is tried only
	// after that failed, so it cannot succeed but by a race (the attack).
	got := false
	for _, a := range []struct {
		what  string
		path  string
		flags int
	}{
		{"open O_WRONLY", link, unix.O_WRONLY},
		{"open O_RDWR|O_TRUNC", link, unix.O_RDWR | unix.O_TRUNC},
		{"reopen O_PATH fd O_WRONLY", fmt.Sprintf("/proc/self/fd/%d", pfd), unix.O_WRONLY},
	} {
		fd, err := unix.Open(a.path, a.flags|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
			t.escape("%s: %s succeeded", desc, a.what)
			got = true
			break
		}
		t.fail(who+": "+a.what, err)
	}
	if got {
		return
	}
	euid := uint32(os.Geteuid())
	var how []string
	if st.Mode&0o002 != 0 {
		how = append(how, "world-writable")
	}
	if st.Uid == euid {
		how = append(how, "owned by our uid (we may chmod and write it)")
	}
	if st.Mode&0o020 != 0 && inGroup(st.Gid) {
		how = append(how, "group-writable for our group")
	}
	if (hasCap(unix.CAP_DAC_OVERRIDE) || hasCap(unix.CAP_FOWNER)) && uidMapped(st.Uid) {
		how = append(how, "owner mapped in our user namespace and we hold CAP_DAC_OVERRIDE/CAP_FOWNER")
	}
	switch {
	case rdonly:
		t.note("%s: cannot be written once it exits either", desc)
	case sealed:
		t.note("%s: sealed, cannot be written", desc)
	case len(how) > 0:
		t.escape("%s: %s, on a writable mount: overwritable as soon as the process exits (ETXTBSY only while it runs)", desc, strings.Join(how, ", "))
	default:
		t.note("%s: not writable by us", desc)
	}
}

func inGroup(gid uint32) bool {
	if uint32(os.Getegid()) == gid {
		return true
	}
	gs, _ := os.Getgroups()
	for _, g := range gs {
		if uint32(g) == gid {
			return true
		}
	}
	return false
}

// setuidRegain: a non-root user gets nothing from a set-uid-root binary
// (no_new_privs) nor from setresuid.
func (p *probe) setuidRegain() result {
	if os.Geteuid() == 0 {
		return skippedf("running as root: run with a non-root --user to try")
	}
	var t tally
	r, err := rawChild(0, []sysCall{{nr: unix.SYS_SETRESUID}}) // setresuid(0, 0, 0)
	switch {
	case err != nil:
		t.broken("setresuid child: %v", err)
	case !r.created:
		t.broken("fork: %s", errName(r.cloneErr))
	case r.errnos[0] == 0:
		t.escape("setresuid(0, 0, 0) succeeded as uid %d", os.Getuid())
	default:
		t.note("setresuid(0, 0, 0): %s", errnoString(r.errnos[0]))
	}
	if p.suidHelper == "" {
		t.note("no -suid-helper")
		return t.result()
	}
	var st unix.Stat_t
	if err := unix.Stat(p.suidHelper, &st); err != nil {
		t.broken("stat %s: %s", p.suidHelper, errName(err))
		return t.result()
	}
	if st.Mode&unix.S_ISUID == 0 || st.Uid != 0 {
		t.broken("%s is not set-uid root (uid %d mode %04o): the test image is wrong", p.suidHelper, st.Uid, st.Mode&0o7777)
		return t.result()
	}
	cmd := exec.Command(p.suidHelper, "whoami-caps")
	cmd.Stderr = os.Stderr
	done := make(chan struct{})
	var out []byte
	go func() { out, err = cmd.Output(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.broken("%s whoami-caps did not finish in 2s", p.suidHelper)
		return t.result()
	}
	if err != nil {
		t.broken("%s whoami-caps: %v", p.suidHelper, err)
		return t.result()
	}
	got := map[string]string{}
	for _, f := range strings.Fields(string(out)) {
		if k, v, ok := strings.Cut(f, "="); ok {
			got[k] = v
		}
	}
	eff, err1 := strconv.ParseUint(got["CapEff"], 16, 64)
	prm, err2 := strconv.ParseUint(got["CapPrm"], 16, 64)
	if got["euid"] == "" || err1 != nil || err2 != nil {
		t.broken("%s whoami-caps said %q", p.suidHelper, strings.TrimSpace(string(out)))
		return t.result()
	}
	said := strings.TrimSpace(string(out))
	if got["euid"] == "0" || eff != 0 || prm != 0 {
		t.escape("set-uid-root %s run by uid %d: %s", p.suidHelper, os.Getuid(), said)
	} else {
		t.note("set-uid-root %s run by uid %d: %s", p.suidHelper, os.Getuid(), said)
	}
	return t.result()
}

// userns: no new namespaces, by any call, and no way into another's.
func (p *probe) userns() result {
	var t tally
	// clone(CLONE_NEWUSER) and clone3: creating the child is the escape.
	if r, err := rawChild(unix.CLONE_NEWUSER, nil); err != nil {
		t.broken("clone(CLONE_NEWUSER): %v", err)
	} else if r.created {
		t.escape("clone(CLONE_NEWUSER) made a child in a new user namespace")
	} else {
		t.fail("clone(CLONE_NEWUSER)", r.cloneErr)
	}
	if r, err := rawChild3(unix.CLONE_NEWUSER, nil); err != nil {
		t.broken("clone3(CLONE_NEWUSER): %v", err)
	} else if r.created {
		t.escape("clone3(CLONE_NEWUSER) made a child in a new user namespace")
	} else {
		t.fail("clone3(CLONE_NEWUSER)", r.cloneErr)
	}
	// unshare in a single-threaded child: a user namespace alone (it would
	// grant the rest), then every other kind without one.
	if r, err := rawChild(0, []sysCall{{nr: unix.SYS_UNSHARE, a1: unix.CLONE_NEWUSER}}); err != nil {
		t.broken("unshare(CLONE_NEWUSER): %v", err)
	} else if !r.created {
		t.broken("fork: %s", errName(r.cloneErr))
	} else if r.errnos[0] == 0 {
		t.escape("unshare(CLONE_NEWUSER) succeeded")
	} else {
		t.note("unshare(CLONE_NEWUSER): %s", errnoString(r.errnos[0]))
	}
	kinds := []struct {
		name string
		flag uintptr
	}{
		{"NEWNS", unix.CLONE_NEWNS}, {"NEWNET", unix.CLONE_NEWNET}, {"NEWPID", unix.CLONE_NEWPID},
		{"NEWUTS", unix.CLONE_NEWUTS}, {"NEWIPC", unix.CLONE_NEWIPC}, {"NEWCGROUP", unix.CLONE_NEWCGROUP},
		{"NEWTIME", unix.CLONE_NEWTIME},
	}
	var calls []sysCall
	for _, k := range kinds {
		calls = append(calls, sysCall{nr: unix.SYS_UNSHARE, a1: k.flag})
	}
	if r, err := rawChild(0, calls); err != nil {
		t.broken("unshare: %v", err)
	} else if !r.created {
		t.broken("fork: %s", errName(r.cloneErr))
	} else {
		var parts []string
		for i, k := range kinds {
			if r.errnos[i] == 0 {
				t.escape("unshare(CLONE_%s) succeeded", k.name)
			} else {
				parts = append(parts, k.name+" "+errnoString(r.errnos[i]))
			}
		}
		if len(parts) > 0 {
			t.note("unshare %s", strings.Join(parts, ", "))
		}
	}
	p.setnsOthers(&t)
	return t.result()
}

// setnsOthers tries to join every namespace of another visible process
// that differs from ours.
func (p *probe) setnsOthers(t *tally) {
	kinds := []string{"user", "mnt", "pid", "net", "uts", "ipc", "cgroup", "time"}
	ours := map[string]uint64{}
	for _, k := range kinds {
		var st unix.Stat_t
		if unix.Stat("/proc/self/ns/"+k, &st) == nil {
			ours[k] = st.Ino
		}
	}
	same, foreign := 0, 0
	var denied []string
	for _, pid := range p.otherPids() {
		for _, k := range kinds {
			path := fmt.Sprintf("/proc/%d/ns/%s", pid, k)
			fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				if !errors.Is(err, unix.ENOENT) {
					denied = append(denied, fmt.Sprintf("%d/%s %s", pid, k, errName(err)))
				}
				continue
			}
			var st unix.Stat_t
			_ = unix.Fstat(fd, &st)
			if st.Ino == ours[k] {
				same++
				unix.Close(fd)
				continue
			}
			foreign++
			r, err := rawChild(0, []sysCall{{nr: unix.SYS_SETNS, a1: uintptr(fd)}})
			unix.Close(fd)
			switch {
			case err != nil:
				t.broken("setns %s: %v", path, err)
			case !r.created:
				t.broken("fork: %s", errName(r.cloneErr))
			case r.errnos[0] == 0:
				t.escape("setns into %s (ns ino %d, ours %d) succeeded", path, st.Ino, ours[k])
			default:
				t.note("setns %s (another %s namespace): %s", path, k, errnoString(r.errnos[0]))
			}
		}
	}
	t.note("other processes' namespaces: %d the same as ours, %d different", same, foreign)
	if len(denied) > 0 {
		t.note("ns files not opened: %s", strings.Join(denied, ", "))
	}
}

// peerCaps: no thread in sight holds a capability this process lacks
// (effective, permitted or in its bounding set). A container may trace
// its peers (with SYS_PTRACE), and one that holds more would hand it over:
// box's helpers before they drop to the container's capabilities, an
// init's other threads. For each such thread: its descriptors and
// PTRACE_SEIZE. -watch keeps looking that long, for helpers that come and
// go while something runs box exec, box cp or healthchecks.
func (p *probe) peerCaps() result {
	var t tally
	mine, err := capsOf("/proc/self/status")
	if err != nil {
		return errorf("read our capabilities: %s", errName(err))
	}
	t.note("ours: CapEff %016x CapBnd %016x", mine.eff, mine.bnd)
	deadline := time.Now().Add(p.watch)
	seen := map[string]bool{}
	passes, threads := 0, 0
	for {
		passes++
		tasks, _ := filepath.Glob("/proc/[0-9]*/task/[0-9]*")
		for _, task := range tasks {
			parts := strings.Split(task, "/")
			pid, _ := strconv.Atoi(parts[2])
			tid, _ := strconv.Atoi(parts[4])
			if pid == p.self || seen[task] {
				continue
			}
			c, err := capsOf(task + "/status")
			if err != nil || !c.beyond(mine) {
				continue
			}
			seen[task] = true
			threads++
			exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
			who := fmt.Sprintf("pid %d thread %d (%s, exe %q) holds CapEff %016x CapBnd %016x", pid, tid, comm(pid), exe, c.eff, c.bnd)
			// Listing /proc/PID/fd needs only our uid; what each entry
			// leads to is behind the ptrace access check.
			if n, err := readableFds(pid); n > 0 {
				t.escape("%s: %d of its descriptors are open to us", who, n)
			} else {
				t.fail(who+": readlink its fds", err)
			}
			if err := seize(tid); err == nil {
				t.escape("%s: PTRACE_SEIZE succeeded", who)
			} else {
				t.fail(who+": PTRACE_SEIZE", err)
			}
		}
		if !time.Now().Before(deadline) {
			break
		}
	}
	t.note("%d passes over every thread in sight, %d held more than we do", passes, threads)
	return t.result()
}

// readableFds counts the descriptors of pid whose link we may read, with
// the error of the first we may not.
func readableFds(pid int) (int, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	var first error
	for _, e := range ents {
		if _, err := os.Readlink(dir + "/" + e.Name()); err == nil {
			n++
		} else if first == nil {
			first = err
		}
	}
	if n == 0 && first == nil {
		first = errors.New("no descriptors")
	}
	return n, first
}

// caps are a thread's capability sets, from its status file.
type caps struct{ eff, prm, bnd uint64 }

func capsOf(status string) (caps, error) {
	b, err := os.ReadFile(status)
	if err != nil {
		return caps{}, err
	}
	var c caps
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			continue
		}
		switch k {
		case "CapEff":
			c.eff = n
		case "CapPrm":
			c.prm = n
		case "CapBnd":
			c.bnd = n
		}
	}
	return c, nil
}

// beyond says whether c holds a capability that ours lacks.
func (c caps) beyond(ours caps) bool {
	return c.eff&^ours.eff != 0 || c.prm&^ours.prm != 0 || c.bnd&^ours.bnd != 0
}

// seize tries PTRACE_SEIZE on thread tid, and lets it go again.
func seize(tid int) error {
	errc := make(chan error, 1)
	go func() {
		// ptrace belongs to the thread.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := unix.PtraceSeize(tid)
		if err == nil {
			if unix.PtraceInterrupt(tid) == nil {
				var ws unix.WaitStatus
				_, _ = unix.Wait4(tid, &ws, unix.WALL, nil)
			}
			_ = unix.PtraceDetach(tid)
		}
		errc <- err
	}()
	return <-errc
}

// roRemount: a read-only mount (-ro-mount, / with -ro-root, -ro-files)
// stays read-only and in place whatever this process may do to mounts:
// with CAP_SYS_ADMIN in its user namespace it may remount, mount_setattr,
// clone a mount (open_tree) or bind it elsewhere and change the copy, and
// unmount or move a mount (to see, or replace, what it hides). The kernel
// refuses all that for mounts that came from a more privileged mount
// namespace (mount_namespaces(7)), which is how box makes them.
func (p *probe) roRemount() result {
	var targets []string
	if p.roMount != "" {
		targets = append(targets, filepath.Clean(p.roMount))
	}
	if p.roRoot {
		targets = append(targets, "/")
	}
	targets = append(targets, p.roFiles...)
	if len(targets) == 0 {
		return skippedf("no -ro-mount, -ro-root or -ro-files")
	}
	if p.scratch == "" {
		return errorf("no scratch directory")
	}
	var t tally
	t.note("CAP_SYS_ADMIN %v", hasCap(unix.CAP_SYS_ADMIN))
	for i, target := range targets {
		p.attackReadOnly(&t, target, filepath.Join(p.scratch, fmt.Sprintf("ro-%d", i)))
	}
	return t.result()
}

func (p *probe) attackReadOnly(t *tally, target, scratch string) {
	fi, err := os.Stat(target)
	if err != nil {
		t.broken("stat %s: %s", target, errName(err))
		return
	}
	dir := fi.IsDir()
	// A mount point of the same kind as target, in our scratch space.
	spot := func(name string) string {
		at := scratch + "-" + name
		if dir {
			_ = os.Mkdir(at, 0o755)
		} else if f, err := os.Create(at); err == nil {
			f.Close()
		}
		return at
	}
	// writes reports whether something can be written at path (a directory
	// or a file), undoing it.
	writes := func(path string) bool {
		if dir {
			f := filepath.Join(path, fmt.Sprintf(".escprobe-%d", p.self))
			fd, err := unix.Open(f, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
			if err != nil {
				return false
			}
			unix.Close(fd)
			_ = unix.Unlink(f)
			return true
		}
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CLOEXEC, 0)
		if err != nil {
			return false
		}
		unix.Close(fd)
		return true
	}
	if writes(target) {
		t.escape("%s is writable before any attack", target)
		return
	}
	flip := func(what string, err error, at string) {
		if err != nil {
			t.fail(what, err)
			return
		}
		if writes(at) {
			t.escape("%s succeeded, and %s could be written", what, at)
		} else {
			t.escape("%s succeeded (the read-only flag came off)", what)
		}
		_ = unix.Mount("", at, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, "")
	}
	flip("remount "+target+" rw (MS_BIND)", unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND, ""), target)
	flip("remount "+target+" rw", unix.Mount("", target, "", unix.MS_REMOUNT, ""), target)
	flip("mount_setattr "+target+" -rdonly", unix.MountSetattr(unix.AT_FDCWD, target, 0, &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY}), target)
	// A copy of the mount, changed where nothing else sees it.
	if fd, err := unix.OpenTree(unix.AT_FDCWD, target, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC); err != nil {
		t.fail("open_tree("+target+", OPEN_TREE_CLONE)", err)
	} else {
		err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY})
		if err != nil {
			t.fail("mount_setattr -rdonly on a clone of "+target, err)
		} else {
			at := spot("clone")
			if merr := unix.MoveMount(fd, "", unix.AT_FDCWD, at, unix.MOVE_MOUNT_F_EMPTY_PATH); merr == nil {
				flip("a read-write clone of "+target, nil, at)
				_ = unix.Unmount(at, unix.MNT_DETACH)
			} else {
				t.escape("mount_setattr -rdonly on a clone of %s succeeded (move_mount: %s)", target, errName(merr))
			}
		}
		unix.Close(fd)
	}
	// A bind elsewhere, remounted read-write.
	bind := spot("bind")
	if err := unix.Mount(target, bind, "", unix.MS_BIND, ""); err != nil {
		t.fail("bind "+target+" elsewhere", err)
	} else {
		flip("remount a bind of "+target+" rw", unix.Mount("", bind, "", unix.MS_REMOUNT|unix.MS_BIND, ""), bind)
		_ = unix.Unmount(bind, unix.MNT_DETACH)
	}
	if target == "/" {
		return
	}
	// Taken apart: moved away (and back), or unmounted, shows what it
	// hides and lets something else take its place.
	moved := spot("moved")
	if err := unix.Mount(target, moved, "", unix.MS_MOVE, ""); err != nil {
		t.fail("move "+target, err)
	} else {
		t.escape("moved %s away", target)
		_ = unix.Mount(moved, target, "", unix.MS_MOVE, "")
	}
	if err := unix.MoveMount(unix.AT_FDCWD, target, unix.AT_FDCWD, moved, 0); err != nil {
		t.fail("move_mount "+target, err)
	} else {
		t.escape("move_mount took %s away", target)
		_ = unix.MoveMount(unix.AT_FDCWD, moved, unix.AT_FDCWD, target, 0)
	}
	if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
		t.fail("umount -l "+target, err)
	} else {
		t.escape("unmounted %s (what it hid shows)", target)
	}
}

// abstractSocket: abstract unix sockets live in the network namespace; the
// host's are out of reach unless the container shares it.
func (p *probe) abstractSocket() result {
	if p.abstract == "" {
		return skippedf("no -abstract")
	}
	c, err := net.DialTimeout("unix", "@"+p.abstract, 2*time.Second)
	if err == nil {
		c.Close()
		if p.expectAbstract {
			return result{allowed, fmt.Sprintf("connected to @%s (expected: the host's network namespace)", p.abstract)}
		}
		return escapedf("connected to the host's abstract socket @%s", p.abstract)
	}
	msg := fmt.Sprintf("connect @%s: %s", p.abstract, errName(err))
	if p.expectAbstract {
		msg += " (though -expect-reachable-abstract said it would be reachable)"
	}
	return blockedf("%s", msg)
}

// ---- extras: calls Docker's seccomp profile or capability set denies ----

// bpf loads the smallest socket filter ("r0 = 0; exit").
func (p *probe) bpf() result {
	insns := []uint64{
		0x00000000000000b7, // BPF_ALU64|BPF_MOV|BPF_K r0 = 0
		0x0000000000000095, // BPF_JMP|BPF_EXIT
	}
	license := cstr("GPL")
	var attr [128]byte
	*(*uint32)(unsafe.Pointer(&attr[0])) = unix.BPF_PROG_TYPE_SOCKET_FILTER
	*(*uint32)(unsafe.Pointer(&attr[4])) = uint32(len(insns))
	*(*uint64)(unsafe.Pointer(&attr[8])) = uint64(uintptr(unsafe.Pointer(&insns[0])))
	*(*uint64)(unsafe.Pointer(&attr[16])) = uint64(uintptr(unsafe.Pointer(license)))
	fd, _, e := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr[0])), unsafe.Sizeof(attr))
	runtime.KeepAlive(insns)
	runtime.KeepAlive(license)
	if e == 0 {
		unix.Close(int(fd))
		return escapedf("bpf(BPF_PROG_LOAD) loaded a socket filter (unprivileged_bpf_disabled=%s)", sysctl("kernel.unprivileged_bpf_disabled"))
	}
	return blockedf("bpf(BPF_PROG_LOAD): %s (unprivileged_bpf_disabled=%s)", errName(e), sysctl("kernel.unprivileged_bpf_disabled"))
}

// perfEventOpen counts our own task clock, user space only: what
// perf_event_paranoid 2 still allows everyone.
func (p *probe) perfEventOpen() result {
	attr := unix.PerfEventAttr{
		Type:   unix.PERF_TYPE_SOFTWARE,
		Config: unix.PERF_COUNT_SW_TASK_CLOCK,
		Bits:   unix.PerfBitDisabled | unix.PerfBitExcludeKernel | unix.PerfBitExcludeHv,
	}
	attr.Size = uint32(unsafe.Sizeof(attr))
	fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err == nil {
		unix.Close(fd)
		return escapedf("perf_event_open(own task clock) succeeded (perf_event_paranoid=%s)", sysctl("kernel.perf_event_paranoid"))
	}
	return blockedf("perf_event_open: %s (perf_event_paranoid=%s)", errName(err), sysctl("kernel.perf_event_paranoid"))
}

// keyctl joins a new anonymous session keyring, in a child (keyrings are
// not namespaced: the host user's are reachable from the container).
func (p *probe) keyctl() result {
	r, err := rawChild(0, []sysCall{{nr: unix.SYS_KEYCTL, a1: unix.KEYCTL_JOIN_SESSION_KEYRING}})
	switch {
	case err != nil:
		return errorf("%v", err)
	case !r.created:
		return errorf("fork: %s", errName(r.cloneErr))
	case r.errnos[0] == 0:
		return escapedf("keyctl(KEYCTL_JOIN_SESSION_KEYRING) succeeded")
	}
	return blockedf("keyctl(KEYCTL_JOIN_SESSION_KEYRING): %s", errnoString(r.errnos[0]))
}

// addKey adds a key to a child's own process keyring.
func (p *probe) addKey() result {
	typ, desc, payload := cstr("user"), cstr("escprobe"), cstr("x")
	r, err := rawChild(0, []sysCall{{nr: unix.SYS_ADD_KEY, a1: ptr(typ), a2: ptr(desc), a3: ptr(payload), a4: 1,
		a5: negArg(unix.KEY_SPEC_PROCESS_KEYRING)}})
	runtime.KeepAlive(typ)
	runtime.KeepAlive(desc)
	runtime.KeepAlive(payload)
	switch {
	case err != nil:
		return errorf("%v", err)
	case !r.created:
		return errorf("fork: %s", errName(r.cloneErr))
	case r.errnos[0] == 0:
		return escapedf("add_key(user, process keyring) succeeded")
	}
	return blockedf("add_key: %s", errnoString(r.errnos[0]))
}

// kexecLoad asks for 17 segments, one more than the kernel takes: past the
// permission check it fails EINVAL, so nothing is ever loaded or unloaded.
func (p *probe) kexecLoad() result {
	_, _, e := unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 17, 0, 0, 0, 0)
	switch e {
	case 0:
		return escapedf("kexec_load succeeded")
	case unix.EPERM, unix.ENOSYS:
		return blockedf("kexec_load: %s", errName(e))
	}
	return escapedf("kexec_load got past the permission check (%s)", errName(e))
}

// reboot(CAD_OFF): in a pid namespace other than the first, with
// CAP_SYS_BOOT the call fails EINVAL after the capability check.
func (p *probe) reboot() result {
	err := unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF)
	switch {
	case err == nil:
		return escapedf("reboot(LINUX_REBOOT_CMD_CAD_OFF) succeeded")
	case isErrno(err, unix.EPERM):
		return blockedf("reboot(CAD_OFF): EPERM")
	}
	return escapedf("reboot(CAD_OFF) got past the CAP_SYS_BOOT check (%s): the container may reboot(RESTART) its pid namespace", errName(err))
}

// swapon on an empty file: past the capability check it fails EINVAL.
func (p *probe) swapon() result {
	path, err := p.scratchFile("swap")
	if err != nil {
		path = "/dev/null"
	}
	s := cstr(path)
	_, _, e := unix.Syscall(unix.SYS_SWAPON, ptr(s), 0, 0)
	runtime.KeepAlive(s)
	switch e {
	case 0:
		_, _, _ = unix.Syscall(unix.SYS_SWAPOFF, ptr(s), 0, 0)
		return escapedf("swapon(%s) succeeded", path)
	case unix.EPERM:
		return blockedf("swapon: EPERM")
	}
	return escapedf("swapon got past the capability check (%s)", errName(e))
}

// settimeofday sets the clock to what it reads: harmless if it works.
func (p *probe) settimeofday() result {
	var tv unix.Timeval
	if err := unix.Gettimeofday(&tv); err != nil {
		return errorf("gettimeofday: %s", errName(err))
	}
	if err := unix.Settimeofday(&tv); err != nil {
		return blockedf("settimeofday: %s", errName(err))
	}
	return escapedf("settimeofday succeeded (set to the current time)")
}

func (p *probe) clockSettime() result {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return errorf("clock_gettime: %s", errName(err))
	}
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return blockedf("clock_settime(CLOCK_REALTIME): %s", errName(err))
	}
	return escapedf("clock_settime(CLOCK_REALTIME) succeeded (set to the current time)")
}

// acct turns process accounting on to a file of ours (and off again).
func (p *probe) acct() result {
	path, err := p.scratchFile("acct")
	if err != nil {
		return errorf("scratch file: %v", err)
	}
	if err := unix.Acct(path); err != nil {
		return blockedf("acct: %s", errName(err))
	}
	_, _, _ = unix.Syscall(unix.SYS_ACCT, 0, 0, 0)
	return escapedf("acct(%s) turned process accounting on (turned off again)", path)
}

// pivotRoot with a put_old that does not exist: past the permission check
// (may_mount) it fails ENOENT, in a child anyway.
func (p *probe) pivotRoot() result {
	nr, old := cstr("/proc"), cstr("/escprobe-no-such-dir")
	r, err := rawChild(0, []sysCall{{nr: unix.SYS_PIVOT_ROOT, a1: ptr(nr), a2: ptr(old)}})
	runtime.KeepAlive(nr)
	runtime.KeepAlive(old)
	switch {
	case err != nil:
		return errorf("%v", err)
	case !r.created:
		return errorf("fork: %s", errName(r.cloneErr))
	case r.errnos[0] == uintptr(unix.EPERM):
		return blockedf("pivot_root: EPERM")
	case r.errnos[0] == 0:
		return escapedf("pivot_root succeeded")
	}
	return escapedf("pivot_root got past the permission check (%s)", errnoString(r.errnos[0]))
}

// chrootEscape is the classic break: keep a descriptor of /, chroot into a
// subdirectory, fchdir to the descriptor, walk up with "..", chroot("."),
// then see whether / is anything but the container's root. In a child, so
// the probe's own root never moves.
func (p *probe) chrootEscape() result {
	sub := filepath.Join(p.scratch, "chroot")
	if err := os.Mkdir(sub, 0o755); err != nil {
		return errorf("mkdir %s: %s", sub, errName(err))
	}
	rootfd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return errorf("open /: %s", errName(err))
	}
	defer unix.Close(rootfd)
	subc, dotdot, dot, slash := cstr(sub), cstr(".."), cstr("."), cstr("/")
	var stx unix.Statx_t
	calls := []sysCall{
		{nr: unix.SYS_CHROOT, a1: ptr(subc), stop: true},
		{nr: unix.SYS_FCHDIR, a1: uintptr(rootfd), stop: true},
	}
	for i := 0; i < 64; i++ {
		calls = append(calls, sysCall{nr: unix.SYS_CHDIR, a1: ptr(dotdot), stop: true})
	}
	calls = append(calls,
		sysCall{nr: unix.SYS_CHROOT, a1: ptr(dot), stop: true},
		sysCall{nr: unix.SYS_STATX, a1: negArg(unix.AT_FDCWD), a2: ptr(slash), a3: 0, a4: unix.STATX_INO, a5: ptr(&stx), stop: true},
		sysCall{nr: unix.SYS_WRITE, pipeArg: 1, a2: ptr(&stx), a3: unsafe.Sizeof(stx), stop: true},
	)
	var hostc *byte
	if p.hostFile != "" {
		hostc = cstr(p.hostFile)
		calls = append(calls, sysCall{nr: unix.SYS_FACCESSAT, a1: negArg(unix.AT_FDCWD), a2: ptr(hostc), a3: unix.F_OK})
	}
	r, err := rawChild(0, calls)
	runtime.KeepAlive(subc)
	runtime.KeepAlive(dotdot)
	runtime.KeepAlive(dot)
	runtime.KeepAlive(slash)
	runtime.KeepAlive(hostc)
	switch {
	case err != nil:
		return errorf("%v", err)
	case !r.created:
		return errorf("fork: %s", errName(r.cloneErr))
	}
	for i, e := range r.errnos {
		if e == 0 || e == errSkipped || (hostc != nil && i == len(calls)-1) {
			continue
		}
		if i == 0 {
			return blockedf("chroot: %s", errnoString(e))
		}
		return errorf("chroot break: step %d failed: %s", i, errnoString(e))
	}
	if len(r.data) < int(unsafe.Sizeof(stx)) {
		return errorf("chroot break: no stat of / came back")
	}
	got := *(*unix.Statx_t)(unsafe.Pointer(&r.data[0]))
	var mine unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, "/", 0, unix.STATX_INO, &mine); err != nil {
		return errorf("statx /: %s", errName(err))
	}
	if got.Ino != mine.Ino || got.Dev_major != mine.Dev_major || got.Dev_minor != mine.Dev_minor {
		return escapedf("after chroot+fchdir+.. the root is dev %d:%d ino %d, not the container's (dev %d:%d ino %d)",
			got.Dev_major, got.Dev_minor, got.Ino, mine.Dev_major, mine.Dev_minor, mine.Ino)
	}
	if hostc != nil && r.errnos[len(calls)-1] == 0 {
		return escapedf("after chroot+fchdir+.. the host file %s is visible", p.hostFile)
	}
	return blockedf("chroot works (CAP_SYS_CHROOT), but the .. walk ends at the container's root: the mount namespace's root is the container's")
}

// ---- the other modes ----

// hostSleeper is the host process to aim at: it writes its pid and sleeps.
func hostSleeper(args []string) int {
	if len(args) < 1 || len(args) > 2 {
		fmt.Fprintln(os.Stderr, "usage: escprobe host-sleeper TOKEN [PIDFILE]")
		return 2
	}
	if len(args) == 2 {
		tmp := args[1] + ".tmp"
		if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "escprobe:", err)
			return 1
		}
		if err := os.Rename(tmp, args[1]); err != nil {
			fmt.Fprintln(os.Stderr, "escprobe:", err)
			return 1
		}
	}
	for {
		time.Sleep(time.Hour)
	}
}

// listenAbstract listens on @NAME and closes every connection it accepts.
// Once it listens, it writes the name to NAMEFILE (so "-", a name made up
// here, can be found).
func listenAbstract(args []string) int {
	if len(args) < 1 || len(args) > 2 {
		fmt.Fprintln(os.Stderr, "usage: escprobe listen-abstract NAME|- [NAMEFILE]")
		return 2
	}
	name := args[0]
	if name == "-" {
		name = fmt.Sprintf("escprobe-%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	l, err := net.Listen("unix", "@"+name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "escprobe:", err)
		return 1
	}
	fmt.Println("listening on @" + name)
	if len(args) == 2 {
		tmp := args[1] + ".tmp"
		if err := os.WriteFile(tmp, []byte(name+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "escprobe:", err)
			return 1
		}
		if err := os.Rename(tmp, args[1]); err != nil {
			fmt.Fprintln(os.Stderr, "escprobe:", err)
			return 1
		}
	}
	for {
		c, err := l.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "escprobe:", err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "escprobe: accepted a connection")
		c.Close()
	}
}

// whoamiCaps is what the set-uid helper says about itself.
func whoamiCaps() int {
	fmt.Printf("euid=%d uid=%d CapEff=%s CapPrm=%s NoNewPrivs=%s\n", os.Geteuid(), os.Getuid(),
		statusField("self", "CapEff"), statusField("self", "CapPrm"), statusField("self", "NoNewPrivs"))
	return 0
}

// ---- raw children ----

// Some attempts only mean something from a single-threaded process: the
// kernel refuses unshare(CLONE_NEWUSER) and setns into a user or mount
// namespace to a process with other threads (EINVAL), and a Go program
// always has several. Others (chroot, keyrings, setresuid) would change the
// whole probe. So they run in a child made by a raw clone(2) without
// CLONE_VM: a copy of this process with only the calling thread, which
// makes a fixed list of raw system calls, writes their errnos to a pipe
// and exits, never touching the Go runtime (the way syscall.forkExec's
// child runs).

// sysCall is one raw system call for the child to make.
type sysCall struct {
	nr                     uintptr
	a1, a2, a3, a4, a5, a6 uintptr
	// stop: if this call fails, skip the rest (their errno stays
	// errSkipped).
	stop bool
	// pipeArg (1 to 6) is an argument to replace with the write end of
	// the result pipe, so the call can send data back (a write of a
	// buffer an earlier call filled); 0: none.
	pipeArg int
}

// errSkipped marks a call the child did not make.
const errSkipped = ^uintptr(0)

// childResult is what came back from a raw child.
type childResult struct {
	created  bool          // the clone itself succeeded
	cloneErr syscall.Errno // why it did not
	errnos   []uintptr     // per call: 0, an errno, or errSkipped
	data     []byte        // what the calls themselves wrote to the pipe (see pipeArg)
	status   unix.WaitStatus
}

// forkRun is the only code the child runs. It must not grow the stack,
// allocate or reach the scheduler: nosplit, and only raw system calls.
//
//go:nosplit
//go:norace
func forkRun(clonenr, a1, a2 uintptr, calls []sysCall, res []uintptr, w uintptr) (uintptr, syscall.Errno) {
	pid, _, e := syscall.RawSyscall6(clonenr, a1, a2, 0, 0, 0, 0)
	if e != 0 || pid != 0 {
		return pid, e
	}
	// The child.
	for i := 0; i < len(calls); i++ {
		c := &calls[i]
		_, _, e := syscall.RawSyscall6(c.nr, c.a1, c.a2, c.a3, c.a4, c.a5, c.a6)
		res[i] = uintptr(e)
		if e != 0 && c.stop {
			break
		}
	}
	if len(res) > 0 {
		syscall.RawSyscall(unix.SYS_WRITE, w, uintptr(unsafe.Pointer(&res[0])), uintptr(len(res))*unsafe.Sizeof(res[0]))
	}
	for {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
	}
}

// rawChild clones with flags (plus SIGCHLD) and runs calls in the child.
func rawChild(flags uintptr, calls []sysCall) (childResult, error) {
	return rawChildWith(unix.SYS_CLONE, flags|uintptr(unix.SIGCHLD), 0, calls)
}

// cloneArgs is struct clone_args (CLONE_ARGS_SIZE_VER0 = 64 bytes).
type cloneArgs struct {
	flags, pidfd, childTid, parentTid, exitSignal, stack, stackSize, tls uint64
}

// rawChild3 is rawChild through clone3(2).
func rawChild3(flags uint64, calls []sysCall) (childResult, error) {
	args := &cloneArgs{flags: flags, exitSignal: uint64(unix.SIGCHLD)}
	r, err := rawChildWith(unix.SYS_CLONE3, uintptr(unsafe.Pointer(args)), unsafe.Sizeof(*args), calls)
	runtime.KeepAlive(args)
	return r, err
}

func rawChildWith(nr, a1, a2 uintptr, calls []sysCall) (childResult, error) {
	var r childResult
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return r, fmt.Errorf("pipe: %w", err)
	}
	rd, wr := p[0], p[1]
	defer unix.Close(rd)
	cs := make([]sysCall, len(calls))
	copy(cs, calls)
	for i := range cs {
		if n := cs[i].pipeArg; n >= 1 && n <= 6 {
			*[]*uintptr{&cs[i].a1, &cs[i].a2, &cs[i].a3, &cs[i].a4, &cs[i].a5, &cs[i].a6}[n-1] = uintptr(wr)
		}
	}
	res := make([]uintptr, len(cs))
	for i := range res {
		res[i] = errSkipped
	}

	runtime.LockOSThread()
	// No signal handler may run in the child: block them all on this
	// thread (the child inherits the mask), and restore after.
	all, old := ^uint64(0), uint64(0)
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&old)), 8, 0, 0)
	pid, e := forkRun(nr, a1, a2, cs, res, uintptr(wr))
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
	runtime.UnlockOSThread()
	unix.Close(wr)
	runtime.KeepAlive(calls)
	if e != 0 {
		r.cloneErr = e
		return r, nil
	}
	r.created = true
	// The child makes a few non-blocking calls; give it two seconds.
	deadline := time.Now().Add(2 * time.Second)
	for {
		wpid, err := unix.Wait4(int(pid), &r.status, unix.WNOHANG|unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return r, fmt.Errorf("wait for child %d: %w", pid, err)
		}
		if wpid == int(pid) {
			break
		}
		if time.Now().After(deadline) {
			_ = unix.Kill(int(pid), unix.SIGKILL)
			_, _ = unix.Wait4(int(pid), &r.status, unix.WALL, nil)
			return r, fmt.Errorf("child %d did not finish in 2s", pid)
		}
		time.Sleep(time.Millisecond)
	}
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(rd, buf)
		if n > 0 {
			out = append(out, buf[:n]...)
		}
		if err == unix.EINTR {
			continue
		}
		if n <= 0 || err != nil {
			break
		}
	}
	resLen := len(res) * int(unsafe.Sizeof(uintptr(0)))
	if len(out) < resLen {
		return r, fmt.Errorf("child %d sent %d bytes, want at least %d (status %v)", pid, len(out), resLen, r.status)
	}
	r.data = out[:len(out)-resLen]
	tail := out[len(out)-resLen:]
	r.errnos = make([]uintptr, len(res))
	for i := range r.errnos {
		r.errnos[i] = *(*uintptr)(unsafe.Pointer(&tail[i*int(unsafe.Sizeof(uintptr(0)))]))
	}
	return r, nil
}

// cstr is a NUL-terminated copy of s; the caller keeps it alive while a
// raw call may use it.
func cstr(s string) *byte {
	b, err := unix.BytePtrFromString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func ptr[T any](p *T) uintptr { return uintptr(unsafe.Pointer(p)) }

// negArg passes a negative int (AT_FDCWD, a special keyring) as a raw
// argument, sign-extended as the kernel reads it.
func negArg(v int) uintptr { return uintptr(v) }

// errnoString names a raw errno as rawChild reports it.
func errnoString(e uintptr) string {
	switch e {
	case 0:
		return "ok"
	case errSkipped:
		return "not tried"
	}
	return errName(syscall.Errno(e))
}
