// Package cli is box's command line: kong structs, the flags Docker and
// Podman users already know, and the only place where errors become words
// and exit codes. It does nothing privileged itself: what needs the user
// namespace goes to the stage.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"unicode"

	"github.com/alecthomas/kong"

	"github.com/boxcli/box/boxdirs"
	"github.com/boxcli/box/config"
	"github.com/boxcli/box/logbridge"
	"github.com/boxcli/box/network"
)

// Version is set at build time with -ldflags "-X github.com/boxcli/box/cli.Version=...".
var Version = "0.1.0-dev"

// globals are the flags every command takes.
type globals struct {
	Debug         bool   `help:"Print the whole error chain and debugging detail."`
	StorageDriver string `name:"storage-driver" env:"BOX_STORAGE_DRIVER" enum:",overlay,fuse-overlayfs,vfs" default:"" help:"Image storage driver: overlay, fuse-overlayfs or vfs (default: the first that works)."`
}

// rootFlags is the part of the command line that is not a command.
type rootFlags struct {
	globals
	VersionFlag kong.VersionFlag `name:"version" help:"Print box's version and exit."`
}

// root is box's grammar: its fields are the commands, in the order box
// --help lists them. Kong is given them one by one (see commands), so that
// an invocation builds only the command it runs.
type root struct {
	rootFlags

	Run         runCmd         `cmd:"" group:"Containers" help:"Create and run a container from an image or a directory.\n\nExample: box run --rm -it box-test/busybox sh"`
	Create      createCmd      `cmd:"" group:"Containers" help:"Create a container without starting it.\n\nExample: box create --name web box-test/busybox httpd -f"`
	Start       startCmd       `cmd:"" group:"Containers" help:"Start created or stopped containers.\n\nExample: box start -a web"`
	Restart     restartCmd     `cmd:"" group:"Containers" help:"Stop, then start containers.\n\nExample: box restart -t 2 web"`
	Rename      renameCmd      `cmd:"" group:"Containers" help:"Rename a container.\n\nExample: box rename web web-old"`
	Events      eventsCmd      `cmd:"" group:"Containers" help:"Show what happened (create, start, die, stop, kill, destroy, pull, ...), and follow.\n\nExample: box events --since 10m --until 0s --filter event=die"`
	Commit      commitCmd      `cmd:"" group:"Containers" help:"Make an image of a container's files and settings.\n\nExample: box commit -c 'CMD [\"httpd\", \"-f\"]' -m 'add site' web mysite:1"`
	Cp          cpCmd          `cmd:"" group:"Containers" help:"Copy files between a container and the host (- is a tar stream).\n\nExample: box cp web:/etc/hosts ./hosts"`
	Diff        diffCmd        `cmd:"" group:"Containers" help:"List the files a container added (A), changed (C) or deleted (D).\n\nExample: box diff web"`
	Export      exportCmd      `cmd:"" group:"Containers" help:"Write a container's root filesystem as a tar archive.\n\nExample: box export -o rootfs.tar web"`
	Top         topCmd         `cmd:"" group:"Containers" help:"Show a container's processes (ps options allowed).\n\nExample: box top web"`
	Ps          psCmd          `cmd:"" group:"Containers" help:"List containers.\n\nExample: box ps -a --format json"`
	Rm          rmCmd          `cmd:"" group:"Containers" help:"Remove containers.\n\nExample: box rm -f web"`
	Inspect     inspectCmd     `cmd:"" group:"Containers" help:"Show containers' or images' details as JSON.\n\nExample: box inspect -f '{{.State.Status}}' web"`
	Exec        execCmd        `cmd:"" group:"Containers" help:"Run a command in a running container.\n\nExample: box exec -it web sh"`
	Logs        logsCmd        `cmd:"" group:"Containers" help:"Show a container's output.\n\nExample: box logs -f --tail 20 web"`
	Stop        stopCmd        `cmd:"" group:"Containers" help:"Stop containers: the stop signal, then SIGKILL after a timeout.\n\nExample: box stop -t 5 web"`
	Kill        killCmd        `cmd:"" group:"Containers" help:"Send a signal to containers.\n\nExample: box kill -s HUP web"`
	Wait        waitCmd        `cmd:"" group:"Containers" help:"Wait for containers to stop and print their exit codes.\n\nExample: box wait web"`
	Pause       pauseCmd       `cmd:"" group:"Containers" help:"Pause containers: every process stops (the cgroup freezer).\n\nExample: box pause web"`
	Unpause     unpauseCmd     `cmd:"" group:"Containers" help:"Resume paused containers.\n\nExample: box unpause web"`
	Stats       statsCmd       `cmd:"" group:"Containers" help:"Show containers' CPU, memory, network and block I/O, and process count, live.\n\nExample: box stats --no-stream --format json"`
	Update      updateCmd      `cmd:"" group:"Containers" help:"Change the resource limits of containers, running or not.\n\nExample: box update --memory 256m --cpus 1.5 web"`
	Port        portCmd        `cmd:"" group:"Containers" help:"List a container's published ports, or the host address of one.\n\nExample: box port web 80/tcp"`
	Healthcheck healthcheckCmd `cmd:"" group:"Containers" help:"Run a container's healthcheck now (box run --health-cmd; the monitor runs it on its interval).\n\nExample: box healthcheck run web"`
	Attach      attachCmd      `cmd:"" group:"Containers" help:"Attach to a running container's output, and input if it has -i; ctrl-p ctrl-q detaches.\n\nExample: box attach web"`
	Build       buildCmd       `cmd:"" group:"Images" help:"Build an image from a Dockerfile or Containerfile.\n\nExample: box build -t app:1 ."`
	Images      imagesCmd      `cmd:"" group:"Images" help:"List images.\n\nExample: box images -q"`
	Pull        pullCmd        `cmd:"" group:"Images" help:"Pull an image from a registry.\n\nExample: box pull 127.0.0.1:5000/library/alpine"`
	Push        pushCmd        `cmd:"" group:"Images" help:"Push an image to a registry.\n\nExample: box push mybox:1 127.0.0.1:5000/me/mybox:1"`
	Login       loginCmd       `cmd:"" group:"Images" help:"Log in to a registry; credentials go to podman's auth.json.\n\nExample: echo $PASS | box login -u me --password-stdin 127.0.0.1:5000"`
	Logout      logoutCmd      `cmd:"" group:"Images" help:"Remove a registry's stored credentials.\n\nExample: box logout 127.0.0.1:5000"`
	Load        loadCmd        `cmd:"" group:"Images" help:"Load images from a docker-archive or oci-archive tarball or an OCI layout directory.\n\nExample: box load -i busybox.tar"`
	Import      importCmd      `cmd:"" group:"Images" help:"Make an image from a root filesystem tarball or directory.\n\nExample: box import rootfs.tar.gz myimage:1"`
	Save        saveCmd        `cmd:"" group:"Images" help:"Write images to an archive.\n\nExample: box save -o busybox.tar busybox"`
	Tag         tagCmd         `cmd:"" group:"Images" help:"Give an image another name.\n\nExample: box tag busybox mybox:1"`
	Rmi         rmiCmd         `cmd:"" group:"Images" help:"Remove images.\n\nExample: box rmi mybox:1"`
	History     historyCmd     `cmd:"" group:"Images" help:"Show an image's layers.\n\nExample: box history busybox"`
	Container   containerCmd   `cmd:"" group:"Containers" help:"Manage containers (ls, rm, inspect, logs, stop, kill, wait, exec).\n\nExample: box container ls -a"`
	Image       imageCmd       `cmd:"" group:"Images" help:"Manage images (ls, rm, inspect, prune, history, tag, save, load, import).\n\nExample: box image prune -a"`
	Volume      volumeCmd      `cmd:"" group:"Containers" help:"Manage volumes (create, ls, inspect, rm, prune); -v NAME:/path makes one on first use.\n\nExample: box volume ls"`
	Builder     builderCmd     `cmd:"" group:"Images" help:"Manage the build cache (prune).\n\nExample: box builder prune -f"`
	Unshare     unshareCmd     `cmd:"" group:"System" help:"Run a command as root in box's user namespace (to inspect or delete files owned by subordinate ids).\n\nExample: box unshare ls -ln ~/.local/share/box/storage"`
	Generate    generateCmd    `cmd:"" group:"System" help:"Write a systemd user unit for a container, to keep it across logouts and reboots.\n\nExample: box generate systemd --new --name --files web"`
	Completion  completionCmd  `cmd:"" group:"System" help:"Print a shell completion script for bash, zsh or fish (commands, flags, container and image names).\n\nExample: source <(box completion bash)"`
	Complete    completeCmd    `cmd:"" name:"__complete" hidden:"" help:"Complete the last of the given words (used by the completion scripts)."`
	Doctor      doctorCmd      `cmd:"" group:"System" help:"Check what rootless containers need here, one line each with the fix; exit 1 if box cannot run containers.\n\nExample: box doctor --format json"`
	System      systemCmd      `cmd:"" group:"System" help:"Disk usage (df), prune and reset of what box stores.\n\nExample: box system df"`
	Info        infoCmd        `cmd:"" group:"System" help:"Show how box runs here: cgroup version, manager and delegated controllers, id maps, storage, helpers.\n\nExample: box info --format '{{.Host.CgroupManager}} {{.Host.CgroupControllers}}'"`
	Version     versionCmd     `cmd:"" group:"System" help:"Show box's version.\n\nExample: box version"`
}

// env is what every command's Run gets: the streams and the globals.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	g              *globals
	// args are box's arguments, which run and create record for box
	// generate systemd --new.
	args []string
	// conf is the config file's defaults; storage is the storage driver
	// setting in effect and where it came from (box info shows it).
	conf    config.File
	storage config.Setting
}

func (e *env) warn(msg string) { fmt.Fprintf(e.stderr, "box: warning: %s\n", printable(oneLine(msg))) }

// exitPanic carries kong's exit request out of Parse without exiting the
// process, so tests can call Main.
type exitPanic int

// Main runs box with args and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	var r root
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, g: &r.globals, args: args}
	parser, err := newParser(&r, args, e)
	if err != nil {
		fmt.Fprintf(stderr, "box: %v\n", err)
		return 125
	}
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		p, ok := r.(exitPanic)
		if !ok {
			panic(r)
		}
		code = int(p)
		if code != 0 {
			code = 125
		}
	}()
	if len(args) == 0 {
		args = []string{"--help"}
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		cmd := "box"
		var pe *kong.ParseError
		if errors.As(err, &pe) && pe.Context != nil && pe.Context.Selected() != nil {
			cmd = "box " + commandPath(pe.Context.Selected())
		}
		fmt.Fprintf(stderr, "box: %s; see '%s --help'\n", err, cmd)
		return 125
	}
	if err := e.applyConfig(args); err != nil {
		return report(e, err)
	}
	// containers/image logs through logrus here too (login, ...).
	logbridge.Install(e.warn, e.g.Debug)
	err = kctx.Run(e)
	return report(e, err)
}

// newParser is kong's parser for r, with the commands args name (all of
// them for nil args), writing to e's streams.
func newParser(r *root, args []string, e *env) (*kong.Kong, error) {
	opts := append(commands(r, args),
		kong.Name("box"),
		kong.Description("Rootless, daemonless containers for everyday work."),
		kong.Writers(e.stdout, e.stderr),
		kong.Exit(func(c int) { panic(exitPanic(c)) }),
		kong.Vars{"version": "box " + Version},
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, NoExpandSubcommands: true}),
		kong.Groups{"Containers": "Containers:", "Images": "Images:", "System": "System:"},
	)
	parser, err := kong.New(&r.rootFlags, opts...)
	if err != nil {
		return nil, err
	}
	splitExamples(parser.Model.Node)
	if n := namedCommand(parser.Model.Node, args); n != nil && slices.ContainsFunc(n.Flags, func(f *kong.Flag) bool { return f.Short == 'h' }) {
		// Docker's run and create take -h for --hostname. Kong looks a
		// short flag up in the root's flags first, where its help flag
		// is: there, and only for such a command, it keeps --help alone.
		parser.Model.HelpFlag.Short = 0
	}
	return parser, nil
}

// namedCommand is the command node args name in the grammar n (box
// container run: run under container), or nil when they name none.
func namedCommand(n *kong.Node, args []string) *kong.Node {
	var found *kong.Node
	for _, w := range commandWords(args) {
		i := slices.IndexFunc(n.Children, func(c *kong.Node) bool {
			return c.Type == kong.CommandNode && (c.Name == w || slices.Contains(c.Aliases, w))
		})
		if i < 0 {
			break
		}
		n = n.Children[i]
		found = n
	}
	return found
}

// commands gives kong root's commands as dynamic commands: only the one
// args name, when they name one, else all of them. Kong's model of every
// command costs ~13 ms of reflection and help interpolation (perf), paid
// by each box invocation, scripts' many short ones most of all; one
// command's costs a fraction of that. Help, errors and completion for an
// unnamed or unknown command still see the whole grammar.
func commands(r *root, args []string) []kong.Option {
	want := commandWord(args)
	v := reflect.ValueOf(r).Elem()
	t := v.Type()
	var all, named []kong.Option
	for i := range t.NumField() {
		f := t.Field(i)
		if _, ok := f.Tag.Lookup("cmd"); !ok {
			continue
		}
		name := f.Tag.Get("name")
		if name == "" {
			name = kebab(f.Name)
		}
		opt := kong.DynamicCommand(name, f.Tag.Get("help"), f.Tag.Get("group"), v.Field(i).Addr().Interface(), string(f.Tag))
		all = append(all, opt)
		if name == want {
			named = append(named, opt)
		}
	}
	if len(named) == 1 {
		return named
	}
	return all
}

// commandWord is the command args name: the first word after the global
// flags, or "" when a flag box does not know comes first.
func commandWord(args []string) string {
	if w := commandWords(args); len(w) > 0 {
		return w[0]
	}
	return ""
}

// commandWords are the words args start with, global flags left out, up
// to the first other flag: the command and its subcommand, if any, come
// first (then maybe an argument, which names no command).
func commandWords(args []string) []string {
	var words []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--debug" || strings.HasPrefix(a, "--storage-driver="):
		case a == "--storage-driver":
			i++
		case strings.HasPrefix(a, "-"):
			return words
		default:
			words = append(words, a)
		}
	}
	return words
}

// kebab is kong's name for a command field: ContainerLs -> container-ls.
func kebab(s string) string {
	var b strings.Builder
	for i, c := range s {
		if unicode.IsUpper(c) {
			if i > 0 {
				b.WriteByte('-')
			}
			c = unicode.ToLower(c)
		}
		b.WriteRune(c)
	}
	return b.String()
}

// applyConfig reads the config file and lets it set the storage driver
// where neither --storage-driver nor BOX_STORAGE_DRIVER did; run and
// create take its network and userns where their flags are not given.
func (e *env) applyConfig(args []string) error {
	d, err := boxdirs.Lookup(osEnv, os.Getuid())
	if err != nil {
		return err
	}
	e.conf, err = config.Load(filepath.Join(d.Config, config.FileName), func(s string) error {
		_, err := network.Parse(s)
		return err
	})
	if err != nil {
		return err
	}
	flag := ""
	if slices.ContainsFunc(args, func(a string) bool { return a == "--storage-driver" || strings.HasPrefix(a, "--storage-driver=") }) {
		flag = e.g.StorageDriver
	}
	e.storage = config.Pick(flag, "BOX_STORAGE_DRIVER", osEnv("BOX_STORAGE_DRIVER"), e.conf.StorageDriver, e.conf.Path, "")
	e.g.StorageDriver = e.storage.Value
	return nil
}

// commandPath is the command n as one types it: its names from the root,
// without the aliases that kong's Path adds ("container ls (list,ps)").
func commandPath(n *kong.Node) string {
	var names []string
	for ; n != nil && n.Parent != nil; n = n.Parent {
		if n.Type == kong.CommandNode {
			names = append([]string{n.Name}, names...)
		}
	}
	return strings.Join(names, " ")
}

// oneLine turns a multi-line message into box's one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func fail(e *env, code int, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "box: %s\n", printable(oneLine(fmt.Sprintf(format, args...))))
	return code
}

// osEnv is the process environment; a function so tests can see where it
// is read.
func osEnv(k string) string { return os.Getenv(k) }

// splitExamples keeps the listing in box --help to one line a command: a
// command's help is "summary\n\nExample: ...", and the example goes to the
// detail that only box COMMAND --help shows.
func splitExamples(n *kong.Node) {
	if i := strings.Index(n.Help, "\n\n"); i >= 0 {
		n.Detail = strings.TrimSpace(n.Help[i+2:])
		n.Help = n.Help[:i]
	}
	for _, c := range n.Children {
		splitExamples(c)
	}
}
