package security

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestUnconfinedAndPrivileged(t *testing.T) {
	for _, o := range []Options{{Seccomp: Unconfined}, {Privileged: true}} {
		prog, err := o.Filter()
		if err != nil || prog != nil {
			t.Errorf("%+v: Filter() = %d instructions, %v; want none", o, len(prog), err)
		}
	}
}

func TestCaps(t *testing.T) {
	names := func(o Options) []string {
		caps, err := o.Caps()
		if err != nil {
			t.Fatal(err)
		}
		return CapNames(caps)
	}
	def := names(Options{})
	if len(def) != 14 {
		t.Errorf("default set has %d capabilities: %v", len(def), def)
	}
	got := names(Options{CapDrop: []string{all}, CapAdd: []string{"CAP_NET_ADMIN"}})
	if len(got) != 1 || got[0] != "CAP_NET_ADMIN" {
		t.Errorf("drop ALL add NET_ADMIN = %v", got)
	}
	got = names(Options{CapDrop: []string{"CAP_CHOWN"}})
	for _, n := range got {
		if n == "CAP_CHOWN" {
			t.Errorf("CAP_CHOWN not dropped: %v", got)
		}
	}
	if n := len(names(Options{Privileged: true})); n < 38 {
		t.Errorf("privileged has %d capabilities", n)
	}
	if n := len(names(Options{CapAdd: []string{all}, CapDrop: []string{"CAP_SYS_ADMIN"}})); n < 37 {
		t.Errorf("add ALL drop SYS_ADMIN has %d capabilities", n)
	}
}

func TestParse(t *testing.T) {
	read := func(string) ([]byte, error) { return []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`), nil }
	o, err := Parse(false, []string{"net_admin", "CAP_SYS_TIME"}, []string{"all"},
		[]string{"seccomp=p.json", "no-new-privileges:false", "mask=/proc/x:/sys/y", "unmask=/proc/kcore", "label=disable"}, read)
	if err != nil {
		t.Fatal(err)
	}
	if o.CapAdd[0] != "CAP_NET_ADMIN" || o.CapAdd[1] != "CAP_SYS_TIME" || o.CapDrop[0] != all {
		t.Errorf("caps %v %v", o.CapAdd, o.CapDrop)
	}
	if o.NoNewPrivs() {
		t.Errorf("no-new-privileges:false did not turn it off")
	}
	masked := o.MaskedPaths()
	for _, p := range masked {
		if p == "/proc/kcore" {
			t.Errorf("unmask=/proc/kcore still masked: %v", masked)
		}
	}
	if masked[len(masked)-1] != "/sys/y" {
		t.Errorf("mask= not added: %v", masked)
	}
	for _, bad := range [][]string{{"seccomp="}, {"bogus=1"}, {"no-new-privileges=maybe"}, {"mask=relative"}, {"label=type:x"}, {"apparmor=docker-default"}} {
		if _, err := Parse(false, nil, nil, bad, read); err == nil {
			t.Errorf("Parse(%q) took it", bad)
		}
	}
	if _, err := Parse(false, []string{"CAP_BOGUS"}, nil, nil, read); err == nil {
		t.Errorf("unknown capability taken")
	}
	if u := (Options{Unmask: []string{all}}); len(u.MaskedPaths())+len(u.ReadonlyPaths()) != 0 {
		t.Errorf("unmask=ALL leaves %v %v", u.MaskedPaths(), u.ReadonlyPaths())
	}
	if !(Options{}).NoNewPrivs() || (Options{Privileged: true}).NoNewPrivs() {
		t.Errorf("no_new_privs defaults wrong")
	}
}

// TestLoadDefault loads the default filter in a child process (a filter
// cannot be taken off again) and checks what it does there.
func TestLoadDefault(t *testing.T) {
	if os.Getenv("BOX_SECCOMP_CHILD") == "1" {
		seccompChild()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadDefault$")
	cmd.Env = append(os.Environ(), "BOX_SECCOMP_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, want := range []string{"unshare-user EPERM", "clone3 ENOSYS", "getpid ok", "mount EPERM", "keyctl EPERM"} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
}

func seccompChild() {
	runtime.LockOSThread()
	prog, err := Options{}.Filter()
	if err != nil {
		fmt.Println("filter:", err)
		os.Exit(1)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Println("nnp:", err)
		os.Exit(1)
	}
	if err := Load(prog); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	name := func(err error) string {
		switch err {
		case nil:
			return "ok"
		case unix.EPERM:
			return "EPERM"
		case unix.ENOSYS:
			return "ENOSYS"
		}
		return err.Error()
	}
	fmt.Println("unshare-user", name(unix.Unshare(unix.CLONE_NEWUSER)))
	_, _, e := unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
	fmt.Println("clone3", name(errnoOrNil(e)))
	fmt.Println("getpid", name(errnoOrNil(func() unix.Errno { _, _, e := unix.Syscall(unix.SYS_GETPID, 0, 0, 0); return e }())))
	fmt.Println("mount", name(unix.Mount("none", "/tmp", "tmpfs", 0, "")))
	_, _, e = unix.Syscall(unix.SYS_KEYCTL, 0, 0, 0)
	fmt.Println("keyctl", name(errnoOrNil(e)))
	os.Exit(0)
}

func errnoOrNil(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func TestMayMount(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want bool
	}{
		{Options{}, false},
		{Options{Privileged: true}, true},
		{Options{CapAdd: []string{"CAP_SYS_ADMIN"}}, true},
		{Options{CapAdd: []string{"ALL"}}, true},
		{Options{CapAdd: []string{"ALL"}, CapDrop: []string{"CAP_SYS_ADMIN"}}, false},
		{Options{CapAdd: []string{"CAP_SYS_PTRACE"}}, false},
	} {
		got, err := tc.o.MayMount()
		if err != nil || got != tc.want {
			t.Errorf("%+v.MayMount() = %v, %v; want %v", tc.o, got, err, tc.want)
		}
	}
}
