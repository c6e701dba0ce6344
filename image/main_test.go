package image

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"go.podman.io/storage/pkg/reexec"
	"golang.org/x/sys/unix"
)

// harnessEnv marks a test binary that already runs in the user and mount
// namespaces the tests need; its value is the kind of ID map.
const harnessEnv = "_BOX_IMAGE_TEST_USERNS"

const (
	fullMap   = "full"
	singleMap = "single"
)

// TestMain re-executes the test binary inside a user namespace with its own
// mount namespace, as box's stage runs: with a full ID map where one can be
// had (identity as root, the subordinate range through newuidmap otherwise).
func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	if os.Getenv(harnessEnv) == "" {
		os.Exit(enterUserns())
	}
	// As the stage does: nothing mounted here may reach the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fmt.Fprintf(os.Stderr, "make / rprivate: %v\n", err)
		os.Exit(1)
	}
	os.Setenv(usernsEnv, "1")
	os.Exit(m.Run())
}

func enterUserns() int {
	var cmd *exec.Cmd
	mode := fullMap
	switch {
	case os.Geteuid() == 0:
		cmd = usernsCommand(os.Args[1:], []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}})
	case exec.Command("unshare", "--user", "--map-root-user", "--map-auto", "true").Run() == nil:
		// Only the setuid newuidmap may map a subordinate range; util-linux
		// unshare runs it for us.
		cmd = exec.Command("unshare", append([]string{"--user", "--map-root-user", "--map-auto", "--mount", "--propagation", "private", "--", os.Args[0]}, os.Args[1:]...)...)
	default:
		fmt.Fprintln(os.Stderr, "image tests: no subordinate ID range usable with unshare --map-auto; running with a single-ID map, ownership tests will skip")
		mode = singleMap
		cmd = usernsCommand(os.Args[1:], []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}})
	}
	cmd.Env = append(os.Environ(), harnessEnv+"="+mode)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "image tests: enter user namespace: %v\n", err)
		return 1
	}
	return 0
}

// usernsCommand runs this test binary in a new user and mount namespace
// whose maps Go writes itself: any map as root, the own ID otherwise.
func usernsCommand(args []string, uids []syscall.SysProcIDMap) *exec.Cmd {
	gids := []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	if os.Geteuid() == 0 {
		gids = uids
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings:                uids,
		GidMappings:                gids,
		GidMappingsEnableSetgroups: os.Geteuid() == 0,
	}
	return cmd
}

// runSingleIDMap runs test name of this binary again in a nested user
// namespace that maps only root, as box does for a user without subordinate
// IDs, and fails t if it does not pass there.
func runSingleIDMap(t *testing.T, name string) {
	t.Helper()
	cmd := usernsCommand([]string{"-test.run=^" + name + "$", "-test.v"},
		[]syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}})
	cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	cmd.SysProcAttr.GidMappingsEnableSetgroups = false
	cmd.Env = append(os.Environ(), harnessEnv+"="+singleMap)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("%s in a single-ID user namespace: %v\n%s", name, err, out)
	}
	t.Logf("%s in a single-ID user namespace:\n%s", name, out)
}

func harnessMode() string { return os.Getenv(harnessEnv) }
