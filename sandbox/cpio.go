package sandbox

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/boxcli/box/tarcp"
)

// CopyConfig is what box cp's helper does inside a running container:
// write a tar of Path to stdout, or (In) unpack stdin's tar at Path; or
// (Export) write the container's root filesystem, as box export.
type CopyConfig struct {
	Path   string `json:"path"`
	In     bool   `json:"in,omitempty"`
	Raw    bool   `json:"raw,omitempty"` // the user's own tar stream ("-")
	Export bool   `json:"export,omitempty"`
	// Root is the root filesystem to export, where the helper runs; ""
	// is its root, the container's.
	Root string `json:"root,omitempty"`
}

// copyError is the helper's one message when it fails; Kind names a
// tarcp sentinel so the CLI can word it.
type copyError struct {
	Kind string `json:"kind,omitempty"`
	Msg  string `json:"msg"`
}

func copyKinds() map[string]error {
	return map[string]error{
		"not-found":   tarcp.ErrNotFound,
		"not-dir":     tarcp.ErrNotDir,
		"dir-on-file": tarcp.ErrDirOnFile,
		"bad-archive": tarcp.ErrBadArchive,
		"symlink":     tarcp.ErrSymlinkInWay,
	}
}

// CopyMain is the Copy role, entered like Exec (same fds: 3 the sealed
// box, 4 the config, 5 the status). It stays root of the container's user
// namespace, as docker cp does: files copied in belong to the container's
// root, and every file can be copied out. It runs no code of the container,
// and no process of the container can see it: it is not in the
// container's pid namespace (see package enter).
func CopyMain() int {
	// Nothing of the container can reach this process; nor a core dump.
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	status := os.NewFile(execFdErrors, "status")
	var cfg CopyConfig
	_, err := leaveCallersRoot()
	if err == nil {
		err = json.NewDecoder(os.NewFile(execFdConfig, "config")).Decode(&cfg)
	}
	if err != nil {
		err = fmt.Errorf("read copy config: %w", err)
	} else if cfg.Export {
		err = exportRoot(os.Stdout, cmp.Or(cfg.Root, "/"))
	} else if cfg.In {
		err = tarcp.Extract(os.Stdin, "/", cfg.Path, cfg.Raw)
	} else {
		err = tarcp.Create(os.Stdout, "/", cfg.Path)
	}
	if err == nil {
		return 0
	}
	ce := copyError{Msg: err.Error()}
	for k, s := range copyKinds() {
		if errors.Is(err, s) {
			ce.Kind = k
		}
	}
	_ = json.NewEncoder(status).Encode(ce)
	return 1
}

// exportRoot writes the container's root filesystem as a tar: its root
// mount alone, cloned without what is mounted on it (open_tree without
// AT_RECURSIVE), as box export of a stopped container reads the layer.
// So volumes, the etc files box binds, /proc, /dev and /sys stay out and
// what lies under them in the layer goes in, as with docker export. The
// helper roots itself in the clone: nothing it reads can lead out.
func exportRoot(w io.Writer, root string) error {
	fd, err := unix.OpenTree(unix.AT_FDCWD, root, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return fmt.Errorf("clone the container's root mount: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Fchdir(fd); err != nil {
		return fmt.Errorf("enter the clone of the root mount: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("enter the clone of the root mount: %w", err)
	}
	return tarcp.Export(w, "/")
}

// ReadCopyStatus reads what the copy helper said: nil when it said
// nothing, so succeeded.
func ReadCopyStatus(r io.Reader) error {
	var ce copyError
	if err := json.NewDecoder(r).Decode(&ce); err != nil {
		if err == io.EOF {
			return nil
		}
		return fmt.Errorf("read the copy helper's status: %w", err)
	}
	if k := copyKinds()[ce.Kind]; k != nil {
		return &kindError{msg: ce.Msg, kind: k}
	}
	return errors.New(ce.Msg)
}
