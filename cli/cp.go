package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/enter"
	"github.com/boxcli/box/roles"
	"github.com/boxcli/box/sandbox"
	"github.com/boxcli/box/stage"
	"github.com/boxcli/box/tarcp"
	"github.com/boxcli/box/userns"
)

type cpCmd struct {
	Src  string `arg:"" help:"CONTAINER:SRC_PATH, a host path, or - for a tar stream on stdin."`
	Dest string `arg:"" help:"CONTAINER:DEST_PATH, a host path, or - for a tar stream on stdout."`
}

// splitCopyArg tells CONTAINER:PATH from a host path. As in docker, a
// host path with a colon must start with / or . to be taken as one.
func splitCopyArg(arg string) (ctr, p string, ok bool) {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return "", arg, false
	}
	ctr, p, ok = strings.Cut(arg, ":")
	if !ok || ctr == "" {
		return "", arg, false
	}
	return ctr, p, true
}

// Run copies between a container and the host as a tar stream: made on
// one side, unpacked on the other. A stopped container's root is mounted
// by a stage; a running one's exists only in its own mount namespace, so
// a sealed copy of box (the Copy role) enters it as box exec does.
func (c *cpCmd) Run(e *env) error {
	srcCtr, srcPath, srcIn := splitCopyArg(c.Src)
	dstCtr, dstPath, dstIn := splitCopyArg(c.Dest)
	switch {
	case srcIn == dstIn:
		return fmt.Errorf("invalid box cp arguments: exactly one of SRC and DEST must be CONTAINER:PATH")
	case srcIn && srcPath == "", dstIn && dstPath == "":
		return fmt.Errorf("invalid box cp arguments: the path in the container is empty")
	}
	h, records, err := openRecords()
	if err != nil {
		return err
	}
	ref := srcCtr
	if dstIn {
		ref = dstCtr
	}
	ct, err := records.Get(ref)
	if err != nil {
		return err
	}
	if srcIn {
		cfg := sandbox.CopyConfig{Path: srcPath}
		if dstPath == "-" {
			return inContainer(ct, e.containerFiles(h, ct, cfg, nil, e.stdout))
		}
		return pipeline(
			func(w io.Writer) error { return inContainer(ct, e.containerFiles(h, ct, cfg, nil, w)) },
			func(r io.Reader) error { return onHost(tarcp.Extract(r, "", dstPath, false)) })
	}
	cfg := sandbox.CopyConfig{Path: dstPath, In: true}
	if srcPath == "-" {
		cfg.Raw = true
		return inContainer(ct, e.containerFiles(h, ct, cfg, e.stdin, nil))
	}
	if _, err := os.Lstat(srcPath); errors.Is(err, fs.ErrNotExist) {
		return onHost(fmt.Errorf("%s: %w", srcPath, tarcp.ErrNotFound))
	}
	return pipeline(
		func(w io.Writer) error { return onHost(tarcp.Create(w, "", srcPath)) },
		func(r io.Reader) error { return inContainer(ct, e.containerFiles(h, ct, cfg, r, nil)) })
}

// inContainer and onHost say on which side a path went wrong: without
// them "/x: no such file or directory" could be either.
func inContainer(ct *container.Container, err error) error {
	if isPathProblem(err) {
		return fmt.Errorf("in container %s: %w", ct.Config.Name, err)
	}
	return err
}

func onHost(err error) error {
	if isPathProblem(err) {
		return fmt.Errorf("on the host: %w", err)
	}
	return err
}

func isPathProblem(err error) bool {
	return errors.Is(err, tarcp.ErrNotFound) || errors.Is(err, tarcp.ErrNotDir) || errors.Is(err, tarcp.ErrDirOnFile) ||
		errors.Is(err, tarcp.ErrSymlinkInWay)
}

// pipeline runs produce and consume joined by a pipe. An error of the
// side that failed first is the one to tell: the other's is only its
// consequence (a tar cut short, a write to a closed pipe).
func pipeline(produce func(io.Writer) error, consume func(io.Reader) error) error {
	pr, pw := io.Pipe()
	perr := make(chan error, 1)
	go func() {
		err := produce(pw)
		// Known before the consumer can see the end of the stream.
		perr <- err
		pw.CloseWithError(err)
	}()
	cerr := consume(pr)
	select {
	case err := <-perr:
		if err != nil {
			return err
		}
		return cerr
	default:
	}
	// Unblock a producer the consumer stopped reading.
	pr.CloseWithError(errors.New("copy stopped"))
	err := <-perr
	if cerr != nil {
		return cerr
	}
	return err
}

// containerFiles runs cfg in the container: through a stage when it is
// stopped, through the Copy role when it runs.
func (e *env) containerFiles(h *host, ct *container.Container, cfg sandbox.CopyConfig, stdin io.Reader, stdout io.Writer) error {
	if ct.State.Status != container.Running {
		req := e.request(h, stage.OpCopy)
		req.Copy = &stage.CopyRequest{ID: ct.Config.ID, Path: cfg.Path, In: cfg.In, Raw: cfg.Raw}
		return e.stageStreams(req, h, stdin, stdout, nil)
	}
	if ct.Config.Rootfs != "" {
		return fmt.Errorf("container %s runs on the directory %s, not on a layer: use its files there", ct.Config.Name, ct.Config.Rootfs)
	}
	en, err := enterContainer(ct, roles.Copy, "--user", "--mount")
	if err != nil {
		return err
	}
	defer en.Close()
	en.Cmd.Stdin, en.Cmd.Stdout, en.Cmd.Stderr = stdin, stdout, e.stderr
	if err := en.Start(cfg); err != nil {
		return err
	}
	report, exit := waitCopyHelper(en)
	if report != nil {
		return report
	}
	if exit != nil {
		return fmt.Errorf("copy in container %s: %w", ct.Config.Name, exit)
	}
	return nil
}

// waitCopyHelper waits for the copy helper: report is what it said went
// wrong, exit how it ended otherwise. One that SIGPIPE killed wrote to a
// reader of box's stdout that went away (box cp CTR:/ - | head).
func waitCopyHelper(en *enter.Entry) (report, exit error) {
	werr := en.Cmd.Wait()
	if err := sandbox.ReadCopyStatus(en.Status); err != nil {
		return err, nil
	}
	var ee *exec.ExitError
	if errors.As(werr, &ee) && sandbox.ExitCode(ee.ProcessState, werr) == 128+int(syscall.SIGPIPE) {
		return nil, stage.ErrOutputGone
	}
	return nil, werr
}

// stageStreams sends req to a stage whose stdin and stdout are the given
// streams (nil: none), and decodes its result into out.
func (e *env) stageStreams(req stage.Request, h *host, stdin io.Reader, stdout io.Writer, out any) error {
	m, err := e.maps(h, userns.Auto)
	if err != nil {
		return err
	}
	return stage.Do(req, stage.Options{Maps: m, Stdin: stdin, Stdout: stdout, Stderr: e.stderr}, e.warn, out)
}
