package testscripts_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/boxcli/box/imagetest"
)

// buildTags are the tags box is built with everywhere; keep them in step
// with TAGS in the Makefile so the build cache is shared.
const buildTags = "containers_image_openpgp,exclude_graphdriver_btrfs,containers_image_docker_daemon_stub"

// imageName is what scripts know the loaded image as, $IMAGE.
const imageName = "box-test/busybox"

// noImageLine in a script's comment skips loading the image, for scripts
// about the empty store.
const noImageLine = "# no-image"

func TestMain(m *testing.M) {
	// ptyrun runs as its own process (this test binary under that name) so
	// that it gets the script's whole environment, as exec does.
	testscript.Main(m, map[string]func(){
		"ptyrun": ptyrunMain,
	})
}

// bed is what every script shares: the binary under test and the images.
type bed struct {
	box    string
	helper string // dir of the test helpers (testregistry)
	images imagetest.Paths
	dir    string // the scripts
	env    map[string]string
}

func TestScripts(t *testing.T) { runScripts(t, "testdata", nil) }

// hostileScripts are the scripts that attack box from inside a container
// or through what it is given (descriptors, mounts, races, crafted images
// and ids). What they defend must not depend on the storage driver: #19
// asks that they hold under fuse-overlayfs and vfs as under native overlay.
func hostileScripts() []string {
	return []string{
		"escape_probes", "run_inherited_fds", "run_locked_mounts", "run_helpers_ptrace",
		"run_etc_files", "run_user_unmapped", "cp_race", "run_volume_race",
		"history_escapes", "health_timeout", "mount_race", "run_security",
	}
}

// TestHostileDrivers runs the hostile scripts again with each fallback
// storage driver (TestScripts runs them on the first that works, native
// overlay on CI).
func TestHostileDrivers(t *testing.T) {
	for _, driver := range []string{"fuse-overlayfs", "vfs"} {
		t.Run(driver, func(t *testing.T) {
			if driver == "fuse-overlayfs" {
				if _, err := exec.LookPath("fuse-overlayfs"); err != nil {
					skipOffCI(t, "needs fuse-overlayfs (apt-get install fuse-overlayfs)")
				}
				if f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0); err != nil {
					skipOffCI(t, fmt.Sprintf("needs /dev/fuse usable by this user (%v)", err))
				} else {
					f.Close()
				}
			}
			dir := t.TempDir()
			for _, name := range hostileScripts() {
				data, err := os.ReadFile(filepath.Join("testdata", name+".txtar"))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name+".txtar"), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			runScripts(t, dir, map[string]string{"BOX_STORAGE_DRIVER": driver})
		})
	}
}

// skipOffCI skips with why, except on CI, where the test bed must have
// what the test needs.
func skipOffCI(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI: %s", why)
	}
	t.Skip(why)
}

// TestVMScripts are the scripts that need what a systemd machine with the
// unified hierarchy gives a logged-in user (cpu, memory, pids and io
// delegated): scripts/vm-stage.sh runs them in a VM, from scripts/test.sh
// as root, which sets BOX_VM_STAGE. Elsewhere they would only fail.
func TestVMScripts(t *testing.T) {
	if os.Getenv("BOX_VM_STAGE") == "" {
		t.Skip("runs in the limits VM (scripts/vm-stage.sh, which scripts/test.sh runs as root); set BOX_VM_STAGE=1 to run here")
	}
	runScripts(t, filepath.Join("testdata", "vm"), nil)
}

// runScripts runs the scripts in dir, with env set in each besides the
// bed's own variables.
func runScripts(t *testing.T, dir string, env map[string]string) {
	b := bed{dir: dir, env: env}
	b.box = boxBinary(t)
	b.helper = helperBinaries(t)
	b.images = testImages(t)
	testscript.Run(t, testscript.Params{
		Dir: b.dir,
		// Our own root, because testscript leaves its own behind when -run
		// selects some scripts; and ours goes away with the test.
		WorkdirRoot:        workdirRoot(t),
		Setup:              b.setup,
		Condition:          condition,
		RequireUniqueNames: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":    cmdExits,
			"waitfor":  cmdWaitfor,
			"signal":   cmdSignal,
			"registry": cmdRegistry,
			"freeport": cmdFreeport,
		},
	})
}

// workdirRoot is where the scripts' $WORK directories go: removed after the
// test, unless -testwork asks to keep them.
func workdirRoot(t *testing.T) string {
	if !keepWork() {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", "box-testscripts-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("-testwork: scripts' work directories are kept in %s", dir)
	return dir
}

// boxBinary returns $BOX_BINARY, or builds box from this checkout with the
// same command as `make build`, so a failure here is the build's own error.
func boxBinary(t *testing.T) string {
	if p := os.Getenv("BOX_BINARY"); p != "" {
		p, err := filepath.Abs(p)
		if err != nil {
			t.Fatalf("BOX_BINARY: %v", err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
			t.Fatalf("BOX_BINARY=%s is not an executable file (%v)", p, err)
		}
		return p
	}
	out := filepath.Join(t.TempDir(), "box")
	cmd := exec.Command("go", "build", "-tags", buildTags, "-o", out, ".")
	cmd.Dir = ".." // the module root holds package main
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	start := time.Now()
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build box (go build -tags %s -o %s . in %s): %v\n%s", buildTags, out, cmd.Dir, err, msg)
	}
	t.Logf("built box in %v", time.Since(start).Round(time.Millisecond))
	return out
}

// helperBinaries builds the programs the scripts use besides box
// (registrytest's testregistry) and returns their directory.
func helperBinaries(t *testing.T) string {
	if dir := os.Getenv("BOX_TEST_HELPERS"); dir != "" {
		return dir // built beforehand, where there is no Go (the VM stage)
	}
	dir := t.TempDir()
	for name, pkg := range map[string]string{
		"testregistry": "./registrytest/cmd/testregistry",
		"udpecho":      "./testscripts/cmd/udpecho",
		"escprobe":     "./testscripts/cmd/escprobe",
		"mkimage":      "./testscripts/cmd/mkimage",
	} {
		cmd := exec.Command("go", "build", "-tags", buildTags, "-o", filepath.Join(dir, name), pkg)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, msg)
		}
	}
	return dir
}

// testImages returns the images in $BOX_TEST_IMAGES (building them there
// if missing), or builds them into a temporary directory.
func testImages(t *testing.T) imagetest.Paths {
	dir := os.Getenv("BOX_TEST_IMAGES")
	if dir != "" {
		p := imagetest.BusyboxPaths(dir)
		if allExist(p.DockerArchive, p.OCIArchive, p.OCIDir) {
			return p
		}
	} else {
		dir = t.TempDir()
	}
	p, err := imagetest.Busybox(dir)
	if err != nil {
		t.Fatalf("build test images: %v", err)
	}
	return p
}

func allExist(paths ...string) bool {
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

func (b *bed) setup(env *testscript.Env) error {
	work := env.WorkDir
	dirs := map[string]string{
		"HOME":            filepath.Join(work, "home"),
		"XDG_DATA_HOME":   filepath.Join(work, "data"),
		"XDG_CONFIG_HOME": filepath.Join(work, "config"),
		"XDG_RUNTIME_DIR": filepath.Join(work, "run"),
	}
	for k, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", k, err)
		}
		env.Setenv(k, d)
	}
	// Tests talk to loopback only: a short name must never resolve to
	// docker.io (not even a DNS lookup). containers/image refuses a blocked
	// registry before it touches the network; scripts that need short names
	// write their own registries.conf naming their local registry.
	boxConf := filepath.Join(dirs["XDG_CONFIG_HOME"], "box")
	if err := os.MkdirAll(boxConf, 0o700); err != nil {
		return err
	}
	blocked := "unqualified-search-registries = [\"docker.io\"]\n\n[[registry]]\nlocation = \"docker.io\"\nblocked = true\n"
	if err := os.WriteFile(filepath.Join(boxConf, "registries.conf"), []byte(blocked), 0o600); err != nil {
		return err
	}
	// Registered before anything can create files, so a failed load is
	// cleaned up and leak-checked too.
	env.Defer(func() { cleanup(env, b.box) })

	env.Setenv("PATH", filepath.Dir(b.box)+string(os.PathListSeparator)+b.helper+string(os.PathListSeparator)+env.Getenv("PATH"))
	env.Setenv("BOX_BINARY", b.box)
	env.Setenv("BOX_TESTREGISTRY", filepath.Join(b.helper, "testregistry"))
	env.Setenv("UDPECHO", filepath.Join(b.helper, "udpecho"))
	env.Setenv("ESCPROBE", filepath.Join(b.helper, "escprobe"))
	boxData := filepath.Join(dirs["XDG_DATA_HOME"], "box")
	env.Setenv("BOX_DATA", boxData)
	env.Setenv("BOX_STATE", boxData)
	env.Setenv("BOX_RUN", filepath.Join(dirs["XDG_RUNTIME_DIR"], "box"))
	env.Setenv("IMAGE", imageName)
	env.Setenv("IMAGES_DIR", filepath.Dir(b.images.DockerArchive))
	env.Setenv("IMAGE_DOCKER_ARCHIVE", b.images.DockerArchive)
	env.Setenv("IMAGE_OCI_ARCHIVE", b.images.OCIArchive)
	env.Setenv("IMAGE_OCI_DIR", b.images.OCIDir)
	// The login's own runtime directory, where its systemd user manager
	// listens: systemctl --user needs it (vm/systemd.txtar).
	env.Setenv("USER_RUNTIME_DIR", os.Getenv("XDG_RUNTIME_DIR"))
	for _, k := range []string{"USER", "LOGNAME", "DBUS_SESSION_BUS_ADDRESS", "CI", "BOX_TEST_DEBIAN"} {
		if v, ok := os.LookupEnv(k); ok {
			env.Setenv(k, v)
		}
	}

	for k, v := range b.env {
		env.Setenv(k, v)
	}

	script, err := b.scriptFile(env)
	if err != nil {
		return err
	}
	if wantImage, err := wantsImage(script); err != nil {
		return err
	} else if !wantImage {
		return nil
	}
	return loadImage(env, b.box, b.images.DockerArchive)
}

// scriptFile finds the file of the running script from the subtest's name,
// which testscript makes from the file name.
func (b *bed) scriptFile(env *testscript.Env) (string, error) {
	named, ok := env.T().(interface{ Name() string })
	if !ok {
		return "", fmt.Errorf("cannot tell the script's name from %T", env.T())
	}
	base := filepath.Base(named.Name())
	for _, ext := range []string{".txtar", ".txt"} {
		p := filepath.Join(b.dir, base+ext)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("find script file for %s in %s", named.Name(), b.dir)
}

// wantsImage reports whether the script's comment, the part before its
// first file, lacks the no-image line.
func wantsImage(script string) (bool, error) {
	data, err := os.ReadFile(script)
	if err != nil {
		return false, fmt.Errorf("read script: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "-- ") && strings.HasSuffix(line, " --") {
			break
		}
		if line == noImageLine {
			return false, nil
		}
	}
	return true, sc.Err()
}

func loadImage(env *testscript.Env, box, archive string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, box, "load", "-i", archive)
	cmd.Dir = env.Cd
	cmd.Env = env.Vars
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("setup: box load -i %s: %v\n%s", archive, err, out)
	}
	return nil
}
