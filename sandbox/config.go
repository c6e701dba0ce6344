// Package sandbox is the container's first process. Start (called by the
// stage) clones box into new mount, pid, uts, ipc and net namespaces; Main
// (the Init role) finishes the mounts, pivots into the root filesystem,
// drops privileges and execs the command, which becomes PID 1 as in Docker;
// with Config.Init it instead stays as a small init that reaps zombies and
// forwards signals.
//
// Main must run in a fresh process that the stage started; nothing else
// may call it.
package sandbox

import (
	"errors"
	"os"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/security"
)

// TermSize is a terminal's size in characters.
type TermSize struct {
	Rows uint16 `json:"rows,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
}

// Config is everything the init needs, sent by the stage over a pipe.
type Config struct {
	Rootfs   string   `json:"rootfs"` // mounted root filesystem, in the stage's mount namespace
	Args     []string `json:"args"`
	Env      []string `json:"env"`
	Cwd      string   `json:"cwd"`
	User     string   `json:"user,omitempty"`
	Hostname string   `json:"hostname"`
	Tty      bool     `json:"tty,omitempty"`
	Size     TermSize `json:"size"`
	Init     bool     `json:"init,omitempty"`
	ReadOnly bool     `json:"readOnly,omitempty"`
	NewNet   bool     `json:"newNet,omitempty"`
	// JoinNet: the init starts in JoinNetNS, another container's network
	// namespace (which belongs to this user namespace, so a sysfs of its
	// own can be mounted), instead of a new one.
	JoinNet   bool              `json:"joinNet,omitempty"`
	JoinNetNS *os.File          `json:"-"`
	Mounts    []container.Mount `json:"mounts,omitempty"`
	// NestedUserNS asks for a user namespace of the container's own
	// (--userns=keep-id, or LockMounts); the stage writes its maps.
	NestedUserNS bool `json:"nestedUserns,omitempty"`
	// LockMounts: the container may mount (CAP_SYS_ADMIN), so the mounts
	// it must not undo are made by Start in the stage's mount namespace,
	// before the init is cloned into a nested user namespace, where the
	// kernel locks them (see prepareRootfs). Needs NestedUserNS.
	LockMounts bool `json:"lockMounts,omitempty"`
	// RootOwner is the container's root as the stage's user namespace
	// numbers it: the owner of the tmpfs mounts the stage makes for it.
	RootOwner struct{ UID, GID uint32 } `json:"rootOwner"`
	// Security: capabilities, seccomp, no_new_privs, masked paths.
	Security security.Options `json:"security"`
}

// Errors the CLI turns into Docker's exit codes.
var (
	// ErrNotFound: the command does not exist (exit 127).
	ErrNotFound = errors.New("executable file not found")
	// ErrCannotExecute: the command exists but cannot run (exit 126).
	ErrCannotExecute = errors.New("cannot execute")
	// ErrBadConfig: what the user asked for cannot be set up (exit 125).
	ErrBadConfig = errors.New("invalid container configuration")
)

// setupError is what the init sends back when it fails before exec.
type setupError struct {
	Kind string `json:"kind"` // "not-found", "cannot-execute", "config", ""
	Msg  string `json:"msg"`
}

func (e *setupError) err() error {
	switch e.Kind {
	case "not-found":
		return &kindError{msg: e.Msg, kind: ErrNotFound}
	case "cannot-execute":
		return &kindError{msg: e.Msg, kind: ErrCannotExecute}
	case "config":
		return &kindError{msg: e.Msg, kind: ErrBadConfig}
	}
	return errors.New(e.Msg)
}

type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }
