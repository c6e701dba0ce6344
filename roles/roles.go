// Package roles names the hidden entry points of the box binary. box
// re-executes itself to get a fresh single-threaded process inside new
// namespaces; the environment variable Env tells main which role to play.
// Every role is listed here and dispatched in main.go, nowhere else.
package roles

// Env selects the role of a re-executed box. It looks internal on purpose.
const Env = "_BOX_ROLE"

const (
	// Stage runs inside box's user namespace (root there, the user outside),
	// with its own mount and pid namespaces: it opens the image store,
	// prepares the root filesystem and starts the container's init.
	Stage = "stage"
	// StageJoin starts the Stage in the user namespace of another
	// container (entered by nsenter), for --network container:NAME and
	// ns:PATH: a network namespace can only be joined from the user
	// namespace that owns it, or one above.
	StageJoin = "stage-join"
	// Init runs inside the container's namespaces: it finishes the mounts,
	// pivots into the root filesystem, drops privileges and execs the command.
	Init = "init"
	// Exec runs inside every namespace of a running container, entered by
	// nsenter: it applies the container's restrictions and execs the
	// command of box exec.
	Exec = "exec"
	// Copy runs in the user, mount and pid namespaces of a running container,
	// entered by nsenter like Exec: it writes or unpacks box cp's tar.
	Copy = "copy"
	// OverlayProbe tries native overlay in a user and mount namespace of
	// its own, for box doctor.
	OverlayProbe = "overlay-probe"
)
