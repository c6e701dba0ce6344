// Package stage is box inside its own user namespace. The CLI (client.go)
// starts it through userns.Start and sends one typed Request over an
// inherited pipe; the stage (main.go) acts on the image store and the
// container records, starts containers, and answers with a stream of
// Replies: warnings as they happen, then one result, error or exit status.
//
// Everything that needs root-in-the-namespace happens here, so the CLI
// stays an unprivileged, single-purpose process that parses flags, relays
// a terminal, forwards signals and words errors.
package stage

import (
	"encoding/json"
	"errors"
	"fmt"
	"syscall"

	"github.com/boxcli/box/boxdirs"
	"github.com/boxcli/box/build"
	"github.com/boxcli/box/buildctx"
	"github.com/boxcli/box/cgdelegate"
	"github.com/boxcli/box/container"
	"github.com/boxcli/box/diskreserve"
	"github.com/boxcli/box/dockerfile"
	"github.com/boxcli/box/image"
	"github.com/boxcli/box/netslirp"
	"github.com/boxcli/box/portfwd"
	"github.com/boxcli/box/registry"
	"github.com/boxcli/box/sandbox"
	"github.com/boxcli/box/tarcp"
)

// Ops the stage knows.
const (
	OpRun     = "run"
	OpImages  = "images"
	OpLoad    = "load"
	OpImport  = "import"
	OpRemove  = "rm"
	OpUnshare = "unshare"
	OpCreate  = "create"
	OpStart   = "start"
	OpPull    = "pull"
	OpPush    = "push"
	// Image management: one ImageRequest each.
	OpSave         = "save"
	OpTag          = "tag"
	OpRemoveImages = "rmi"
	OpPruneImages  = "image-prune"
	OpInspectImage = "image-inspect"
	OpHistory      = "history"
	// A container's files: one CopyRequest each.
	OpCopy   = "cp"
	OpDiff   = "diff"
	OpExport = "export"
	// OpRemoveVolumes deletes the volumes named in IDs (box volume rm,
	// prune): their files belong to subordinate ids.
	OpRemoveVolumes = "volume-rm"
	// OpCommit makes an image of a container (box commit).
	OpCommit = "commit"
	// OpDiskUsage measures images, the layers of the containers in IDs, and
	// the volumes (box system df).
	OpDiskUsage = "df"
	// OpReset deletes the store, the volumes and the records (box system
	// reset, once every container is gone).
	OpReset = "reset"
	// OpSizes measures the layers of the containers in IDs (ps --size).
	OpSizes = "sizes"
	// OpBuild builds an image from a Dockerfile (box build).
	OpBuild = "build"
	// OpPruneBuildCache removes what builds left (box builder prune).
	OpPruneBuildCache = "builder-prune"
)

// CommitRequest is box commit's: the container, the new image's name (""
// for none), --change lines, -m and -a.
type CommitRequest struct {
	ID      string   `json:"id"`
	Name    string   `json:"name,omitempty"`
	Changes []string `json:"changes,omitempty"`
	Message string   `json:"message,omitempty"`
	Author  string   `json:"author,omitempty"`
}

// DiskUsage is OpDiskUsage's result: images, each container's writable
// layer by ID, and each volume's size by name, in bytes.
type DiskUsage struct {
	Images []image.Summary `json:"images"`
	// ImageLayers are each image's layers, LayerSizes their sizes: images
	// share layers, which count once.
	ImageLayers map[string][]string `json:"imageLayers"`
	LayerSizes  map[string]int64    `json:"layerSizes"`
	Containers  map[string]int64    `json:"containers"`
	Volumes     map[string]int64    `json:"volumes"`
	// BuildCache is what box build left: its layers and RUN cache mounts.
	BuildCacheLayers int   `json:"buildCacheLayers"`
	BuildCache       int64 `json:"buildCache"`
}

// CgroupMsg follows a Request with CgroupFollows: the cgroup the CLI made
// for the container, or why it could not.
type CgroupMsg struct {
	Path  string `json:"path,omitempty"`
	Error string `json:"error,omitempty"`
}

// Request is the message the CLI sends (then a CgroupMsg, if it says so).
type Request struct {
	Op      string       `json:"op"`
	Dirs    boxdirs.Dirs `json:"dirs"`
	Driver  string       `json:"driver,omitempty"`
	HostPID int          `json:"hostPid"` // the stage's pid outside its pid namespace
	HostUID uint32       `json:"hostUid"`
	HostGID uint32       `json:"hostGid"`
	// Cgroup is the cgroup the stage was started in for its container
	// (cgdelegate), made by the CLI; "" for none.
	Cgroup string `json:"cgroup,omitempty"`
	// CgroupFollows: the CLI makes the cgroup while the stage opens the
	// store, and sends it as a CgroupMsg after the Request.
	CgroupFollows bool `json:"cgroupFollows,omitempty"`
	// ProgressReplies: report pull progress as replies (the stage of a
	// detached container has no stderr of the user's); ProgressTerminal
	// says the user's stderr is a terminal, for bars.
	ProgressReplies  bool `json:"progressReplies,omitempty"`
	ProgressTerminal bool `json:"progressTerminal,omitempty"`
	// Debug (box --debug): what containers/storage and containers/image
	// log below warnings becomes warnings too.
	Debug bool `json:"debug,omitempty"`

	Run     *RunRequest    `json:"run,omitempty"`
	Load    *LoadRequest   `json:"load,omitempty"`
	Import  *ImportRequest `json:"import,omitempty"`
	Remove  *RemoveRequest `json:"remove,omitempty"`
	Unshare []string       `json:"unshare,omitempty"`
	Commit  *CommitRequest `json:"commit,omitempty"`
	Image   *ImageRequest  `json:"image,omitempty"`
	Pull    *PullRequest   `json:"pull,omitempty"`
	Start   *StartRequest  `json:"start,omitempty"`
	Copy    *CopyRequest   `json:"copy,omitempty"`
	Build   *BuildRequest  `json:"build,omitempty"`
	IDs     []string       `json:"ids,omitempty"`
}

// CopyRequest names a stopped container's files for cp and export (tar on
// the stage's stdout, or for In from its stdin), or any container for diff.
type CopyRequest struct {
	ID   string `json:"id"`
	Path string `json:"path,omitempty"`
	In   bool   `json:"in,omitempty"`
	Raw  bool   `json:"raw,omitempty"` // the user's own tar stream ("-")
}

// StartRequest starts a created or stopped container under this stage as
// its monitor. The CLI has checked that it does not run.
type StartRequest struct {
	ID string `json:"id"`
	// AttachSoon: a client attaches at once (start -a), so the monitor
	// holds the output for it; Size is that client's terminal.
	AttachSoon bool             `json:"attachSoon,omitempty"`
	Size       sandbox.TermSize `json:"size"`
}

// PullRequest fetches an image (box pull, the pull of run), or, with
// Dest set, pushes one (box push).
type PullRequest struct {
	Ref      string           `json:"ref"`
	Dest     string           `json:"dest,omitempty"`
	Policy   string           `json:"policy,omitempty"` // missing, always, never, newer
	Quiet    bool             `json:"quiet,omitempty"`
	Registry registry.Options `json:"registry"`
}

// ImageRequest carries the arguments of the image management ops.
type ImageRequest struct {
	Refs   []string `json:"refs,omitempty"`
	Name   string   `json:"name,omitempty"`   // tag: the new name
	Dest   string   `json:"dest,omitempty"`   // save: the file or directory; "" for stdout
	Format string   `json:"format,omitempty"` // save: docker-archive, oci-archive, oci-dir
	Force  bool     `json:"force,omitempty"`
	All    bool     `json:"all,omitempty"`
	// Running maps the image IDs of running containers to a container's
	// name: liveness is judged by host pids, so by the CLI. Even rmi -f
	// leaves these images alone.
	Running map[string]string `json:"running,omitempty"`
}

// RemoveImagesResult is what rmi and image prune did, and what failed.
type RemoveImagesResult struct {
	Untagged []string `json:"untagged"`
	Deleted  []string `json:"deleted"`
	Errors   []*Error `json:"errors,omitempty"`
	// BuildCache is what image prune removed of the build cache.
	BuildCache *BuildCachePruned `json:"buildCache,omitempty"`
}

// RunRequest creates a container and runs it in the foreground.
type RunRequest struct {
	Config container.Config `json:"config"`
	// ArgsGiven says the user typed a command, so the image's Cmd is replaced
	// even by an empty one.
	ArgsGiven bool `json:"argsGiven,omitempty"`
	// EntrypointGiven says --entrypoint was used, even as "".
	EntrypointGiven bool `json:"entrypointGiven,omitempty"`
	Console         bool `json:"console,omitempty"` // a console socket is fd 5
	// CIDFile receives the container's ID once it exists (--cidfile).
	CIDFile string `json:"cidfile,omitempty"`
	// Pull says how to get a missing image (--pull); nil never pulls.
	Pull *PullRequest `json:"pull,omitempty"`
	// Detach: answer as soon as the container runs and stay on as its
	// monitor, logging its output (box run -d).
	Detach bool `json:"detach,omitempty"`
	// AttachSoon: detached, but the CLI attaches at once (run -it), so the
	// monitor holds the output for it.
	AttachSoon bool             `json:"attachSoon,omitempty"`
	Size       sandbox.TermSize `json:"size"`
}

// LoadRequest loads an image archive.
type LoadRequest struct {
	Path string `json:"path"`
}

// ImportRequest makes an image from a root filesystem tarball or directory.
type ImportRequest struct {
	Source  string   `json:"source"`
	Name    string   `json:"name,omitempty"`
	Changes []string `json:"changes,omitempty"`
	Message string   `json:"message,omitempty"`
}

// RemoveRequest removes containers by full ID. The CLI has checked that
// none runs (or killed it, for rm -f) and holds their locks meanwhile.
type RemoveRequest struct {
	IDs     []string `json:"ids"`
	Volumes bool     `json:"volumes,omitempty"` // rm -v: their anonymous volumes too
}

// ErrOutputGone: whoever read what the stage wrote to the user's stdout
// stopped reading (box save | head). The CLI ends quietly with a shell's
// SIGPIPE status, as docker's own CLI dies of the signal.
var ErrOutputGone = errors.New("the reader of standard output went away")

// toStdout marks a broken pipe on the user's stdout as ErrOutputGone; a
// broken pipe elsewhere (a registry's connection) stays an error to tell.
func toStdout(err error) error {
	if errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("%w: %w", ErrOutputGone, err)
	}
	return err
}

// Reply is one line of the stage's answer.
type Reply struct {
	Warning  string `json:"warning,omitempty"`
	Progress string `json:"progress,omitempty"` // pull progress, for the user's stderr
	Error    *Error `json:"error,omitempty"`
	Exit     *int   `json:"exit,omitempty"`
	// Started: the container of a foreground run now runs (for
	// --sdnotify); the final reply comes when it ends.
	Started bool            `json:"started,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
}

// RunResult is the answer to a detached run.
type RunResult struct {
	ID string `json:"id"`
}

// RemoveResult lists what rm removed and what it could not.
type RemoveResult struct {
	Removed []string `json:"removed"`
	Errors  []*Error `json:"errors,omitempty"`
}

// Error is an error that crossed the process boundary. Its Kinds let the
// CLI match it with errors.Is against the sentinels of box's packages it
// was made from (an error may be several: a registry's "not found" is
// also an image not found).
type Error struct {
	Kinds []string `json:"kinds,omitempty"`
	Msg   string   `json:"msg"`
}

func (e *Error) Error() string { return e.Msg }

// Is matches the sentinels the error was made from in the stage.
func (e *Error) Is(target error) bool {
	k := kindOf(target)
	for _, kind := range e.Kinds {
		if k != "" && kind == k {
			return true
		}
	}
	return false
}

// sentinels pairs each error the CLI words specially with its wire name.
func sentinels() []struct {
	kind string
	err  error
} {
	return []struct {
		kind string
		err  error
	}{
		{"image-not-found", image.ErrImageNotFound},
		{"bad-reference", image.ErrBadReference},
		{"image-in-use", image.ErrImageInUse},
		{"ambiguous-image", image.ErrAmbiguous},
		{"save-format", image.ErrSaveFormat},
		{"registry-unauthorized", registry.ErrUnauthorized},
		{"registry-not-found", registry.ErrNotFound},
		{"registry-unreachable", registry.ErrUnreachable},
		{"registry-bad-reference", registry.ErrBadReference},
		{"driver-unavailable", image.ErrDriverUnavailable},
		{"container-not-found", container.ErrNotFound},
		{"ambiguous", container.ErrAmbiguous},
		{"name-in-use", container.ErrNameInUse},
		{"exec-not-found", sandbox.ErrNotFound},
		{"exec-denied", sandbox.ErrCannotExecute},
		{"bad-config", sandbox.ErrBadConfig},
		{"cp-not-found", tarcp.ErrNotFound},
		{"cp-not-dir", tarcp.ErrNotDir},
		{"cp-dir-on-file", tarcp.ErrDirOnFile},
		{"cp-bad-archive", tarcp.ErrBadArchive},
		{"cp-symlink-in-way", tarcp.ErrSymlinkInWay},
		{"port-privileged", portfwd.ErrPrivilegedPort},
		{"port-in-use", portfwd.ErrPortInUse},
		{"slirp-missing", netslirp.ErrNotInstalled},
		{"cgroup-controller", cgdelegate.ErrNoController},
		{"cgroup-unavailable", cgdelegate.ErrUnavailable},
		{"output-gone", ErrOutputGone},
		{"bad-dockerfile", ErrBadDockerfile},
		{"no-dockerfile", ErrNoDockerfile},
		{"build-interrupted", ErrInterrupted},
		{"build-step-failed", build.ErrStepFailed},
		{"build-no-context", build.ErrNoContext},
		{"build-secret-missing", build.ErrSecretMissing},
		{"build-multiple-sources", build.ErrMultipleSources},
		{"build-checksum", build.ErrChecksum},
		{"build-unknown-user", build.ErrUnknownUser},
		{"build-unknown-target", dockerfile.ErrUnknownTarget},
		{"build-source-not-found", buildctx.ErrNotFound},
		{"no-space", syscall.ENOSPC},
	}
}

func kindOf(err error) string {
	for _, s := range sentinels() {
		if err == s.err {
			return s.kind
		}
	}
	return ""
}

// wireError flattens err for the reply, keeping the kinds of every
// sentinel in its chain.
func wireError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	w := &Error{Msg: err.Error()}
	for _, s := range sentinels() {
		// A full disk also comes back as text from containers/storage's
		// helper processes.
		if errors.Is(err, s.err) || s.err == syscall.ENOSPC && diskreserve.NoSpace(err) {
			w.Kinds = append(w.Kinds, s.kind)
		}
	}
	return w
}
