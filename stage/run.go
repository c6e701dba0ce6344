package stage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/storage/pkg/archive"
	"golang.org/x/sys/unix"

	"github.com/boxcli/box/cgdelegate"
	"github.com/boxcli/box/container"
	"github.com/boxcli/box/health"
	"github.com/boxcli/box/image"
	"github.com/boxcli/box/netslirp"
	"github.com/boxcli/box/network"
	"github.com/boxcli/box/portfwd"
	"github.com/boxcli/box/rootfs"
	"github.com/boxcli/box/sandbox"
	"github.com/boxcli/box/userns"
	"github.com/boxcli/box/volume"
)

// run creates the container and starts it: in the foreground, or handed
// to this stage as its monitor (-d). On a setup error nothing of the
// container is left behind.
func (s *stage) run(ctx context.Context, r *RunRequest) (code int, err error) {
	records, err := s.containers()
	if err != nil {
		return 0, err
	}
	c, is, err := s.create(ctx, records, r)
	if is != nil {
		defer is.Close()
	}
	if err != nil {
		return 0, err
	}
	code, err = s.start(records, is, c, startOptions{detach: r.Detach, attachSoon: r.AttachSoon, size: r.Size})
	if err != nil {
		s.discard(records, is, c.Config.ID)
	}
	return code, err
}

// create makes the container's record and layer (box create, and run).
// The returned store is open for start; the caller closes it.
func (s *stage) create(ctx context.Context, records *container.Store, r *RunRequest) (c *container.Container, is *image.Store, err error) {
	cfg := r.Config
	var imgCfg ocispec.ImageConfig
	if cfg.Rootfs == "" {
		if is, err = s.openImages(); err != nil {
			return nil, nil, err
		}
		img, err := s.imageForRun(ctx, is, cfg.Image, r.Pull)
		if err != nil {
			return nil, is, err
		}
		cfg.ImageID, imgCfg = img.ID, img.Config
		var notes []string
		cfg.Healthcheck, notes = health.MergeImage(cfg.Healthcheck, img.Healthcheck)
		for _, n := range notes {
			s.out.warnf("%s", n)
		}
		for p := range imgCfg.ExposedPorts {
			if !slices.Contains(cfg.ExposedPorts, p) {
				cfg.ExposedPorts = append(cfg.ExposedPorts, p)
			}
		}
		slices.Sort(cfg.ExposedPorts)
		cfg.StorageDriver = is.Driver() // rm must find the layer with the same driver
	}
	if userns.Mode(cfg.UserNS) == userns.KeepID && cfg.User == "" {
		// As podman: keep-id runs as the user, whatever the image says.
		cfg.User = fmt.Sprintf("%d:%d", s.req.HostUID, s.req.HostGID)
	}
	if _, err := process(&cfg, imgCfg, r.ArgsGiven, r.EntrypointGiven); err != nil {
		return nil, is, err
	}
	if err := s.checkUser(cfg); err != nil {
		return nil, is, err
	}
	if cfg.PublishAll {
		if err := publishAll(&cfg); err != nil {
			return nil, is, err
		}
	}
	if err := s.anonymousVolumes(&cfg, imgCfg.Volumes); err != nil {
		return nil, is, err
	}
	// Nothing is created until the cgroup is there: a run that cannot have
	// one leaves nothing behind.
	if err := s.awaitCgroup(); err != nil {
		return nil, is, err
	}
	if c, err = records.Create(cfg); err != nil {
		s.removeVolumes(cfg)
		return nil, is, err
	}
	if err := s.volumesStillThere(cfg); err != nil {
		_ = records.Remove(c.Config.ID)
		s.removeVolumes(cfg)
		return nil, is, err
	}
	s.event("container", "create", c.Config.ID, ctrAttrs(c.Config, nil))
	if r.CIDFile != "" {
		if err := writeCIDFile(r.CIDFile, c.Config.ID); err != nil {
			s.discard(records, is, c.Config.ID)
			return nil, is, err
		}
	}
	if is != nil {
		var uidMap, gidMap []userns.IDMap
		if userns.Mode(cfg.UserNS) == userns.KeepID {
			if uidMap, gidMap, err = s.keepIDPlan(); err != nil {
				s.discard(records, is, c.Config.ID)
				return nil, is, err
			}
		}
		if err = is.CreateContainer(c.Config.ID, cfg.ImageID, image.ContainerOptions{UIDMap: uidMap, GIDMap: gidMap, Volatile: cfg.AutoRemove}); err != nil {
			s.discard(records, is, c.Config.ID)
			return nil, is, err
		}
	}
	return c, is, nil
}

// discard undoes create.
func (s *stage) discard(records *container.Store, is *image.Store, id string) {
	if is != nil {
		_ = is.DeleteContainer(id)
	}
	c, err := records.Get(id)
	if err == nil {
		s.removeVolumes(c.Config)
	}
	_ = records.Remove(id)
	removeRunDir(s.req.Dirs.ContainerRun(id))
	if err == nil {
		// The log said create: it must say the container is gone too.
		s.event("container", "destroy", id, ctrAttrs(c.Config, nil))
	}
}

type startOptions struct {
	detach bool
	// attachSoon: a client attaches as soon as the container runs (start
	// -a); the monitor holds its output back until then.
	attachSoon bool
	size       sandbox.TermSize
}

// start runs a created (or stopped) container: the foreground one until it
// ends, returning its exit code; a detached one until it runs, after which
// this stage stays on as its monitor and the reply is already sent.
func (s *stage) start(records *container.Store, is *image.Store, c *container.Container, o startOptions) (code int, err error) {
	cfg := c.Config
	id := cfg.ID
	if cfg.Hostname == "" {
		cfg.Hostname = id[:12]
	}
	runDir := s.req.Dirs.ContainerRun(id)
	var root string
	release := func() {} // the container's root filesystem
	if is != nil {
		if root, err = is.Mount(id); err != nil {
			return 0, err
		}
		testMountPause()
		// Once only: a second unmount would take the next start's mount
		// away (see the end of this function).
		release = sync.OnceFunc(func() {
			testMountPause()
			_ = is.Unmount(id)
		})
		defer release()
		if err := s.populateVolumes(cfg, root); err != nil {
			return 0, err
		}
	} else {
		target := filepath.Join(runDir, "rootfs")
		_ = os.RemoveAll(target)
		root, err = rootfs.Overlay(cfg.Rootfs, target, s.out.warnf)
		// Before whoever removes the runtime dir (--rm, or discard after
		// an error): in this mount namespace the mounts keep it busy.
		defer func() { _ = rootfs.Unmount(target) }()
		if err != nil {
			return 0, err
		}
	}
	mode, err := network.Parse(cfg.Network)
	if err != nil {
		return 0, err
	}
	etc, err := writeEtc(runDir, etcFor(cfg, mode), cfg.ReadOnly)
	if err != nil {
		return 0, err
	}
	// A container that may mount gets a user namespace of its own, so
	// that its read-only mounts are locked (sandbox.Config.LockMounts).
	mayMount, err := cfg.Security.MayMount()
	if err != nil {
		return 0, err
	}
	keepID := userns.Mode(cfg.UserNS) == userns.KeepID
	sb := sandbox.Config{
		Rootfs:       root,
		Args:         append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...),
		Env:          cfg.Env,
		Cwd:          cfg.WorkingDir,
		User:         cfg.User,
		Hostname:     cfg.Hostname,
		Tty:          cfg.Tty,
		Size:         o.size,
		Init:         cfg.Init,
		ReadOnly:     cfg.ReadOnly,
		NewNet:       mode.OwnNamespace(),
		Mounts:       append(etc, cfg.Mounts...),
		NestedUserNS: keepID || mayMount,
		LockMounts:   mayMount,
		Security:     cfg.Security,
	}
	if keepID && mayMount {
		// keep-id's container root is not box's.
		uid, gid, err := s.keepIDPlan()
		if err != nil {
			return 0, err
		}
		sb.RootOwner.UID, sb.RootOwner.GID = userns.HostOf(0, uid), userns.HostOf(0, gid)
	}
	if mode.Kind == network.Container || mode.Kind == network.NS {
		// The CLI opened it, and started this stage in its owner's user
		// namespace.
		sb.JoinNet, sb.JoinNetNS = true, os.NewFile(fdNetNS, "netns")
	}
	stdio := sandbox.Stdio{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	var logs *monitorIO
	if o.detach {
		logs, err = newMonitorIO(monitorIOOptions{
			recordDir: records.Dir(id), runDir: runDir,
			tty: cfg.Tty, interactive: cfg.Interactive, once: cfg.StdinOnce,
			holdOutput: o.attachSoon, logMaxSize: cfg.LogMaxSize,
		})
		if err != nil {
			return 0, err
		}
		defer logs.close()
		stdio = logs.stdio()
	} else if cfg.Tty {
		stdio.Console = os.NewFile(fdConsole, "console")
	}
	var fg *foregroundIO
	if !o.detach && !cfg.Tty {
		logPath := filepath.Join(records.Dir(id), LogFile)
		if cfg.AutoRemove {
			logPath = ""
		}
		if fg, err = newForegroundIO(logPath, cfg.LogMaxSize, cfg.Interactive); err != nil {
			return 0, err
		}
		defer fg.close()
		stdio = fg.stdio
	}
	// The CLI started this stage in the container's cgroup, if it has one.
	// box update may change the limits while it runs: a restart takes the
	// recorded ones.
	files, err := cfg.Limits.Files()
	if err != nil {
		return 0, err
	}
	limits := func() map[string]string {
		if c, err := records.Get(id); err == nil {
			if f, err := c.Config.Limits.Files(); err == nil {
				files = f
			}
		}
		return files
	}
	if err := s.awaitCgroup(); err != nil {
		return 0, err
	}
	var cg *cgdelegate.Group
	if s.req.Cgroup != "" {
		cg = &cgdelegate.Group{Dir: s.req.Cgroup}
		if err := cg.Setup(cgdelegate.Controllers(files)); err != nil {
			return 0, err
		}
		defer cg.Remove()
	}
	// Random host ports are picked once: a restart keeps them.
	ports := cfg.Ports
	var net *netStack
	defer func() { net.close() }()
	beforeRun := func(pid int) error {
		if sb.NestedUserNS {
			if err := s.nestedMaps(pid, keepID); err != nil {
				return err
			}
		}
		if cg != nil {
			if err := cg.Join(pid); err != nil {
				return err
			}
			if err := cg.Apply(limits()); err != nil {
				return err
			}
		}
		n, err := startNetwork(pid, runDir, mode, cfg.MACAddress, ports)
		if err != nil {
			return err
		}
		net = n
		if p := n.ports(); p != nil {
			ports = p
		}
		return nil
	}
	// Signals to box run reach the container: the CLI sends them here and
	// the stage passes them to the container's PID 1.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedSignals()...)
	defer signal.Stop(sigs)

	proc, err := sandbox.Start(sb, stdio, beforeRun)
	if err != nil {
		return 0, err
	}
	if fg != nil {
		fg.started()
	}
	settle := func(proc *sandbox.Process) {
		if cg != nil {
			if err := cg.Settle(files, InitTasks(cfg, proc.Pid())); err != nil {
				s.out.warnf("set the pids limit of %s: %v", cfg.Name, err)
			}
		}
	}
	settle(proc)
	start, _ := container.SelfStartTime()
	_ = records.Update(id, func(st *container.State) error {
		*st = container.State{
			Status: container.Running, Pid: s.initHostPid(proc), MonitorPid: s.req.HostPID, MonitorStart: start,
			StartedAt: time.Now().UTC(), Ports: net.ports(), Cgroup: s.req.Cgroup, Health: restartHealth(cfg, st.Health),
			Rootfs: root,
		}
		return nil
	})
	s.event("container", "start", id, ctrAttrs(cfg, nil))
	if logs == nil {
		s.out.started()
	} else {
		logs.started()
		raw, _ := json.Marshal(RunResult{ID: id})
		s.out.finish(Reply{Result: raw})
		// From here this stage idles as the container's monitor for as long
		// as it runs.
		dropCleanFilePages()
	}
	ranFrom, backoff := time.Now(), 0
	// told: the clients attached to the run that ended last know its end.
	told := false
	defer func() {
		if logs != nil && !told {
			logs.ended(code)
		}
	}()
	for restarts := 0; ; restarts++ {
		checks := s.watchHealth(records, cfg, proc, cg)
		code = waitSignalling(proc, sigs)
		told = false
		checks.stop()
		if fg != nil {
			fg.drained()
		}
		oom := cg != nil && cg.OOMKilled()
		if oom {
			s.event("container", "oom", id, ctrAttrs(cfg, nil))
		}
		// Its processes are gone (the namespace's init took them along):
		// now its network may go.
		net.close()
		net = nil
		if logs != nil {
			logs.drained()
		}
		s.event("container", "die", id, ctrAttrs(cfg, map[string]string{"exitCode": strconv.Itoa(code)}))
		// The policy as recorded now: box update may have changed it.
		policy, _ := ParseRestart(cfg.Restart)
		if c, err := records.Get(id); err == nil {
			policy, _ = ParseRestart(c.Config.Restart)
		}
		stopped := stopRequested(records, id)
		again := policy.again(code, restarts, stopped) || checks.restart.Load() && !stopped
		if logs == nil || !again {
			break
		}
		// The monitor keeps the container going, with Docker's back-off,
		// which starts over once a run lasted ten seconds.
		backoff = backoffAfter(backoff, time.Since(ranFrom))
		_ = records.Update(id, func(st *container.State) error {
			st.Restarting, st.ExitCode, st.FinishedAt, st.Pid = true, code, time.Now().UTC(), 0
			return nil
		})
		logs.ended(code)
		told = true
		if !backOff(policy.delay(backoff), sigs, records, id) {
			break
		}
		backoff++
		if err := logs.renew(); err != nil {
			s.out.warnf("restart %s: %v", cfg.Name, err)
			break
		}
		next, err := sandbox.Start(sb, logs.stdio(), beforeRun)
		if err != nil {
			s.out.warnf("restart %s: %v", cfg.Name, err)
			break
		}
		logs.started()
		proc, ranFrom = next, time.Now()
		settle(proc)
		_ = records.Update(id, func(st *container.State) error {
			st.RestartCount, st.StartedAt, st.Ports, st.Restarting = restarts+1, time.Now().UTC(), net.ports(), false
			st.Pid = s.initHostPid(proc)
			st.Health = restartHealth(cfg, st.Health)
			return nil
		})
		s.event("container", "restart", id, ctrAttrs(cfg, nil))
	}
	if cfg.AutoRemove {
		if is != nil {
			release()
			if err := is.DeleteContainer(id); err != nil {
				s.out.warnf("remove container layer %s: %v", id[:12], err)
			}
		} else {
			_ = rootfs.Unmount(filepath.Join(runDir, "rootfs"))
		}
		s.removeVolumes(cfg) // docker run --rm takes its anonymous volumes along
		_ = records.Remove(id)
		removeRunDir(runDir)
		s.event("container", "destroy", id, ctrAttrs(cfg, nil))
		return code, nil
	}
	// The record saying the container stopped is what lets its next start
	// begin (start -a returns on it, start waits for it under the start
	// lock); what that start shares with this monitor goes first. The
	// layer's mount: containers/storage counts mounts across stages, and
	// this unmount removes the mount point, which detaches the next
	// stage's mount of it in that stage's namespace, so its container
	// would find no root filesystem ("exec sh: not found"). And the attach
	// socket's name, which the next monitor binds.
	release()
	if logs != nil {
		logs.unlisten()
	}
	// How it ended must reach the record even when the container filled
	// the disk (else the record says 137, "box process died"): on ENOSPC
	// the store's reserve makes room.
	_, err = image.Reserve(s.req.Dirs.Storage()).Retry(func() error {
		return records.Update(id, func(st *container.State) error {
			st.Status, st.ExitCode, st.FinishedAt, st.Pid, st.MonitorPid, st.MonitorStart, st.Ports = container.Exited, code, time.Now().UTC(), 0, 0, 0, nil
			st.Rootfs = ""
			st.Restarting = false
			st.OOMKilled, st.Cgroup = cg != nil && cg.OOMKilled(), ""
			return nil
		})
	})
	if err != nil {
		s.out.warnf("record the exit of %s: %v", cfg.Name, err)
	}
	return code, nil
}

// testMountPause sleeps for $_BOX_TEST_MOUNT_PAUSE (a duration) after the
// stage mounts a container's root filesystem and before it unmounts it:
// the test suite widens the window in which a start right after the end
// of the container's previous run could meet that run's unmount
// (start.txtar). Unset, it does nothing.
func testMountPause() {
	if d, err := time.ParseDuration(os.Getenv("_BOX_TEST_MOUNT_PAUSE")); err == nil {
		time.Sleep(d)
	}
}

// initHostPid is the host's pid of the container's PID 1, for its record;
// 0 where it cannot be told (box then finds it from the monitor).
func (s *stage) initHostPid(proc *sandbox.Process) int {
	pid, err := hostPid(s.hostProc, s.req.HostPID, proc.Pid())
	if err != nil {
		return 0
	}
	return pid
}

// restartHealth is the health of a container that (re)starts: checks
// begin again from starting, and the earlier results stay to be read.
func restartHealth(cfg container.Config, old *health.State) *health.State {
	if !cfg.Healthcheck.Enabled() {
		return nil
	}
	h := &health.State{Log: []health.Result{}}
	if old != nil {
		h.Log = old.Log
	}
	h.Reset()
	return h
}

// InitTasks are the tasks of box's own --init, which the pids limit leaves
// out (Docker's counts only tini's one): its threads now, and room for
// those the Go runtime makes later.
func InitTasks(cfg container.Config, pid int) int {
	if !cfg.Init {
		return 0
	}
	return container.Threads(pid) + cgdelegate.GoThreads
}

// waitSignalling waits for the container's PID 1, passing signals on.
func waitSignalling(proc *sandbox.Process, sigs <-chan os.Signal) int {
	done := make(chan int, 1)
	go func() { done <- proc.Wait() }()
	for {
		select {
		case sig := <-sigs:
			_ = proc.Signal(sig)
		case code := <-done:
			return code
		}
	}
}

// backoffReset is how long a run must last for the back-off to start
// over, as in Docker.
const backoffReset = 10 * time.Second

// backoffAfter is the back-off step for the restart after a run that
// lasted ran: where it was, or the start again after a long enough run.
func backoffAfter(step int, ran time.Duration) int {
	if ran >= backoffReset {
		return 0
	}
	return step
}

// backOff waits d before a restart and says whether to go on: a stop or
// kill meanwhile (box stop signals the monitor, which has no container to
// pass it to) ends the wait, and the restarts.
func backOff(d time.Duration, sigs <-chan os.Signal, records *container.Store, id string) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
			return !stopRequested(records, id)
		case <-sigs:
			if stopRequested(records, id) {
				return false
			}
		}
	}
}

func stopRequested(records *container.Store, id string) bool {
	c, err := records.Get(id)
	return err == nil && c.State.StopRequested
}

// Restart is a --restart policy.
type Restart struct {
	Mode       string // no, on-failure, always, unless-stopped
	MaxRetries int    // on-failure:N; 0 = no limit
}

// ParseRestart reads Docker's --restart values.
func ParseRestart(s string) (Restart, error) {
	mode, max, hasMax := strings.Cut(s, ":")
	switch mode {
	case "", "no":
		return Restart{Mode: "no"}, nil
	case "always", "unless-stopped":
		if hasMax {
			return Restart{}, fmt.Errorf("invalid --restart %q: only on-failure takes a count", s)
		}
		return Restart{Mode: mode}, nil
	case "on-failure":
		r := Restart{Mode: mode}
		if hasMax {
			n, err := strconv.Atoi(max)
			if err != nil || n < 0 {
				return Restart{}, fmt.Errorf("invalid --restart %q: the count must be a number", s)
			}
			r.MaxRetries = n
		}
		return r, nil
	}
	return Restart{}, fmt.Errorf("invalid --restart %q: want no, on-failure[:N], always or unless-stopped", s)
}

// again says whether the monitor restarts after an exit with code.
func (r Restart) again(code, restarts int, stopped bool) bool {
	if stopped {
		return false
	}
	switch r.Mode {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (r.MaxRetries == 0 || restarts < r.MaxRetries)
	}
	return false
}

// delay is Docker's back-off: 100 ms, doubling, at most a minute.
func (r Restart) delay(restarts int) time.Duration {
	d := 100 * time.Millisecond
	for i := 0; i < restarts && d < time.Minute; i++ {
		d *= 2
	}
	if d > time.Minute {
		d = time.Minute
	}
	return d
}

// createOnly is box create: the container exists, stopped, until started.
func (s *stage) createOnly(ctx context.Context, r *RunRequest) (*RunResult, error) {
	records, err := s.containers()
	if err != nil {
		return nil, err
	}
	c, is, err := s.create(ctx, records, r)
	if is != nil {
		defer is.Close()
	}
	if err != nil {
		return nil, err
	}
	return &RunResult{ID: c.Config.ID}, nil
}

// startExisting is box start (and restart's second half).
func (s *stage) startExisting(r *StartRequest) (int, error) {
	records, err := s.containers()
	if err != nil {
		return 0, err
	}
	c, err := records.Get(r.ID)
	if err != nil {
		return 0, err
	}
	var is *image.Store
	if c.Config.Rootfs == "" {
		if is, err = s.openImagesWith(c.Config.StorageDriver); err != nil {
			return 0, err
		}
		defer is.Close()
	}
	return s.start(records, is, c, startOptions{detach: true, attachSoon: r.AttachSoon, size: r.Size})
}

// forwardedSignals are every signal the stage can catch, passed on to the
// container's PID 1, which decides what each means (box stop and box kill
// signal the stage by its host pid). Not SIGCHLD (the stage's own
// children), SIGURG (the Go runtime's preemption) or SIGPIPE.
func forwardedSignals() []os.Signal {
	var sigs []os.Signal
	for n := 1; n <= 64; n++ {
		switch syscall.Signal(n) {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGCHLD, syscall.SIGURG, syscall.SIGPIPE:
			continue
		}
		if n == 32 || n == 33 { // reserved by the C library for its threads
			continue
		}
		sigs = append(sigs, syscall.Signal(n))
	}
	return sigs
}

// keepIDPlan is the nested map that makes the user's id itself again
// inside the container (podman's --userns=keep-id).
func (s *stage) keepIDPlan() (uid, gid []userns.IDMap, err error) {
	size, err := userns.CurrentMapSize()
	if err != nil {
		return nil, nil, err
	}
	return userns.KeepIDMaps(s.req.HostUID, size), userns.KeepIDMaps(s.req.HostGID, size), nil
}

// checkUser refuses a user given by number that the container's user
// namespace would not map, before anything of the container exists.
func (s *stage) checkUser(cfg container.Config) error {
	uids, gids, err := userns.CurrentMaps()
	if err != nil {
		return err
	}
	if userns.Mode(cfg.UserNS) == userns.KeepID {
		if uids, gids, err = s.keepIDPlan(); err != nil {
			return err
		}
	}
	return sandbox.CheckNumericUser(cfg.User, uids, gids)
}

// nestedMaps writes the maps of the container's own user namespace:
// keep-id's, or box's ids onto themselves (a container that may mount).
func (s *stage) nestedMaps(pid int, keepID bool) error {
	if keepID {
		uid, gid, err := s.keepIDPlan()
		if err != nil {
			return err
		}
		return userns.WriteNested(pid, uid, gid)
	}
	uid, gid, err := userns.CurrentMaps()
	if err != nil {
		return err
	}
	return userns.WriteNested(pid, userns.Identity(uid), userns.Identity(gid))
}

// ErrNoCommand: neither the user nor the image named a command.
var ErrNoCommand = errors.New("no command specified")

// process applies Docker's rules for the command, environment, working
// directory and user, merging the image's config under the user's wishes.
func process(cfg *container.Config, img ocispec.ImageConfig, argsGiven, entrypointGiven bool) ([]string, error) {
	entrypoint := img.Entrypoint
	cmd := img.Cmd
	if entrypointGiven {
		// Docker drops the image's Cmd along with its Entrypoint.
		entrypoint, cmd = cfg.Entrypoint, nil
	}
	if argsGiven {
		cmd = cfg.Cmd
	}
	args := append(append([]string{}, entrypoint...), cmd...)
	if len(args) == 0 || args[0] == "" {
		return nil, fmt.Errorf("%w: give one after the image name, or use an image with a CMD or ENTRYPOINT: %w", ErrNoCommand, sandbox.ErrBadConfig)
	}
	cfg.Entrypoint, cfg.Cmd = entrypoint, cmd
	cfg.Env = mergeEnv(img.Env, cfg.Env)
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = img.WorkingDir
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = "/"
	}
	if cfg.User == "" {
		cfg.User = img.User
	}
	if cfg.StopSignal == "" {
		cfg.StopSignal = img.StopSignal
	}
	return args, nil
}

// mergeEnv lays over on base, later keys replacing earlier ones in place.
func mergeEnv(base, over []string) []string {
	out := []string{}
	idx := map[string]int{}
	for _, e := range append(append([]string{}, base...), over...) {
		k, _, _ := strings.Cut(e, "=")
		if i, ok := idx[k]; ok {
			out[i] = e
			continue
		}
		idx[k] = len(out)
		out = append(out, e)
	}
	return out
}

// anonymousVolumes makes the volumes for -v /path and --mount
// type=volume without a source, and for the image's VOLUMEs that no mount
// covers, as Docker does; and named volumes (-v NAME:/path) that do not
// exist yet.
func (s *stage) anonymousVolumes(cfg *container.Config, imageVolumes map[string]struct{}) error {
	covered := map[string]bool{}
	for _, m := range cfg.Mounts {
		covered[m.Destination] = true
	}
	var paths []string
	for p := range imageVolumes {
		if p = filepath.Clean(p); filepath.IsAbs(p) && !covered[p] {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	for _, p := range paths {
		cfg.Mounts = append(cfg.Mounts, container.Mount{Type: "volume", Destination: p})
	}
	vols := volume.Open(s.req.Dirs.Volumes())
	for i, m := range cfg.Mounts {
		if m.Type != "volume" || m.Source != "" {
			continue
		}
		if m.Name != "" {
			// -v NAME:/path: made on first use, kept after the container.
			if _, err := vols.Create(m.Name); err != nil {
				s.removeVolumes(*cfg)
				return err
			}
			cfg.Mounts[i].Source = vols.Path(m.Name)
			continue
		}
		name, err := vols.CreateAnonymous()
		if err != nil {
			s.removeVolumes(*cfg)
			return err
		}
		cfg.Mounts[i].Name, cfg.Mounts[i].Source, cfg.Mounts[i].Anonymous = name, vols.Path(name), true
	}
	return nil
}

// removeVolumes removes cfg's anonymous volumes (rm -v, --rm, or a
// create that failed).
func (s *stage) removeVolumes(cfg container.Config) {
	vols := volume.Open(s.req.Dirs.Volumes())
	for _, m := range cfg.Mounts {
		if m.Anonymous && m.Name != "" {
			if err := vols.Remove(m.Name); err != nil {
				s.out.warnf("%v", err)
			}
		}
	}
}

// removeVolumeNames removes volumes no container uses, under the
// container store's lock, so that no container is created with one of
// them meanwhile (create checks its volumes again once its record is in:
// see volumesStillThere).
func (s *stage) removeVolumeNames(names []string) error {
	records, err := s.containers()
	if err != nil {
		return err
	}
	vols := volume.Open(s.req.Dirs.Volumes())
	return records.Exclusive(func() error {
		list, err := records.List()
		if err != nil {
			return err
		}
		for _, name := range names {
			for _, c := range list {
				for _, m := range c.Config.Mounts {
					if m.Type == "volume" && m.Name == name {
						return fmt.Errorf("volume %s is in use by container %s: remove the container first (box rm %s)", name, c.Config.Name, c.Config.Name)
					}
				}
			}
		}
		for _, name := range names {
			if err := vols.Remove(name); err != nil {
				return err
			}
			s.event("volume", "remove", name, nil)
		}
		return nil
	})
}

// volumesStillThere checks, once the container's record is in, that the
// volumes it mounts were not removed between their creation and then.
func (s *stage) volumesStillThere(cfg container.Config) error {
	vols := volume.Open(s.req.Dirs.Volumes())
	for _, m := range cfg.Mounts {
		if m.Type != "volume" || m.Name == "" {
			continue
		}
		if _, err := vols.Get(m.Name); err != nil {
			return fmt.Errorf("volume %s was removed while the container was created: try again", m.Name)
		}
	}
	return nil
}

// populateVolumes gives each empty volume a copy of what the image has at
// its mount point, owners and all (Docker's copy-up). The mount point is
// resolved inside root: an image's symlink cannot point the copy at the
// host's files. The copy is made where no container sees it and renamed
// into the volume (volume.Fill): another container that shares the volume
// and runs meanwhile cannot swap a directory of it for a symlink under a
// copy that works by path.
func (s *stage) populateVolumes(cfg container.Config, root string) error {
	vols := volume.Open(s.req.Dirs.Volumes())
	for _, m := range cfg.Mounts {
		if m.Type != "volume" || m.Name == "" || !vols.Empty(m.Name) {
			continue
		}
		src, err := securejoin.SecureJoin(root, m.Destination)
		if err != nil {
			return err
		}
		if fi, err := os.Lstat(src); err != nil || !fi.IsDir() {
			continue // nothing there to copy
		}
		err = vols.Fill(m.Name, func(dir string) error {
			return archive.NewDefaultArchiver().CopyWithTar(src, dir)
		})
		if err != nil {
			return fmt.Errorf("copy %s of the image into its volume: %w", m.Destination, err)
		}
	}
	return nil
}

// publishAll adds -P's ports: every exposed port that -p left out, on a
// port the kernel picks.
func publishAll(cfg *container.Config) error {
	specs := make([]portfwd.Spec, len(cfg.Ports))
	for i, p := range cfg.Ports {
		specs[i] = portfwd.Spec(p)
	}
	more, err := portfwd.PublishAll(cfg.ExposedPorts, specs)
	if err != nil {
		return fmt.Errorf("publish the exposed ports: %w", err)
	}
	for _, s := range more {
		cfg.Ports = append(cfg.Ports, container.Port(s))
	}
	return nil
}

// etcFor is what the container's /etc/hosts and resolv.conf say.
func etcFor(cfg container.Config, mode network.Mode) network.Etc {
	e := network.Etc{
		Hostname: cfg.Hostname, Mode: mode,
		DNSServers: cfg.DNS, DNSSearch: cfg.DNSSearch, DNSOptions: cfg.DNSOptions,
	}
	switch mode.Kind {
	case network.Slirp:
		e.Guest, e.Gateway, e.DNS = netslirp.GuestAddr, netslirp.GatewayAddr, netslirp.DNSAddr
	case network.Container, network.NS:
		// Most likely another container's slirp4netns: its forwarder is
		// the way to the host's loopback name servers.
		e.DNS = netslirp.DNSAddr
	}
	for _, h := range cfg.ExtraHosts {
		if he, err := network.ParseAddHost(h); err == nil { // checked at create
			e.ExtraHosts = append(e.ExtraHosts, he)
		}
	}
	return e
}

// etcRoom is what the container may add to its hosts, hostname and
// resolv.conf together, beyond what box wrote: enough for a program that
// edits them, too little to fill anything.
const etcRoom = 1 << 20

// writeEtc writes the container's hosts, hostname and resolv.conf and
// returns the binds that put them in place, read-only with --read-only.
// They live in a tmpfs of their own, sized to what they hold plus
// etcRoom, and seen only in this stage's mount namespace (the user's
// runtime directory holds an empty mount point): a container cannot fill
// that directory, which is memory, through them, and nothing of them
// outlives the stage.
func writeEtc(dir string, e network.Etc, readOnly bool) ([]container.Mount, error) {
	hostHosts, _ := os.ReadFile("/etc/hosts")
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	files := []struct{ name, content string }{
		{"hosts", e.Hosts(hostHosts)}, {"hostname", e.Hostname + "\n"}, {"resolv.conf", e.ResolvConf(hostResolv)},
	}
	size := etcRoom
	for _, f := range files {
		size += len(f.content)
	}
	etc := filepath.Join(dir, "etc")
	if err := os.MkdirAll(etc, 0o700); err != nil {
		return nil, err
	}
	opts := fmt.Sprintf("size=%d,nr_inodes=16,mode=0755", size)
	if err := unix.Mount("tmpfs", etc, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		return nil, fmt.Errorf("mount a tmpfs for the container's /etc files: %w", err)
	}
	var mounts []container.Mount
	for _, f := range files {
		p := filepath.Join(etc, f.name)
		if err := os.WriteFile(p, []byte(f.content), 0o644); err != nil {
			return nil, err
		}
		m := container.Mount{Type: "bind", Source: p, Destination: "/etc/" + f.name}
		if readOnly {
			m.Options = []string{"ro"}
		}
		mounts = append(mounts, m)
	}
	return mounts, nil
}

// removeRunDir removes a container's runtime directory from the stage that
// ran it, where the tmpfs of its /etc files is mounted (writeEtc): a
// mount point cannot be removed.
func removeRunDir(dir string) {
	_ = unix.Unmount(filepath.Join(dir, "etc"), unix.MNT_DETACH)
	_ = os.RemoveAll(dir)
}

// writeCIDFile writes the ID where --cidfile says; like Docker it refuses
// to overwrite a file.
func writeCIDFile(path, id string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write --cidfile: %w", err)
	}
	_, err = f.WriteString(id)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ctrAttrs are a container event's attributes, as Docker names them.
func ctrAttrs(cfg container.Config, extra map[string]string) map[string]string {
	a := map[string]string{"name": cfg.Name, "image": cfg.Image}
	for k, v := range extra {
		a[k] = v
	}
	return a
}
