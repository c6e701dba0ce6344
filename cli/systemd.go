package cli

import (
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/boxcli/box/container"
)

// userManager says whether a systemd user manager runs for this login: it
// listens on XDG_RUNTIME_DIR/systemd/private whatever the cgroup version.
func userManager() bool {
	rt := osEnv("XDG_RUNTIME_DIR")
	if rt == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(rt, "systemd", "private"))
	return err == nil
}

// lingering says whether systemd keeps user's manager, and with it the
// containers in its scopes, after the user's last logout.
func lingering(user string) bool {
	dir := osEnv("_BOX_LINGER_DIR") // tests point it at a directory of their own
	if dir == "" {
		dir = "/var/lib/systemd/linger"
	}
	_, err := os.Stat(filepath.Join(dir, user))
	return err == nil
}

// warnLinger tells the user of box run -d, once per login, that the
// container lives in a scope of their systemd user manager, which stops at
// logout unless lingering is on. The mark goes in the runtime directory,
// which systemd empties at that same logout.
func warnLinger(e *env) {
	if !userManager() {
		return
	}
	h, err := lookupHost()
	if err != nil || h.name == "" || lingering(h.name) {
		return
	}
	mark, err := os.OpenFile(filepath.Join(h.dirs.Runtime, "linger-warned"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return // warned already (or nowhere to remember it: stay quiet)
	}
	mark.Close()
	e.warn(fmt.Sprintf("lingering is off for %s: detached containers stop when you log out; keep them running with: loginctl enable-linger %s", h.name, h.name))
}

type generateCmd struct {
	Systemd generateSystemdCmd `cmd:"" help:"Write a systemd user unit that runs a container with box.\n\nExample: box generate systemd --new --name --files web"`
}

type generateSystemdCmd struct {
	New             bool   `help:"Create the container when the unit starts and remove it when it stops, from the command that created it, rather than start and stop this one."`
	Name            bool   `short:"n" help:"Call the container by its name in the unit, not its ID."`
	Files           bool   `short:"f" help:"Write PREFIX-NAME.service in the current directory and print its path, instead of the unit itself."`
	RestartPolicy   string `name:"restart-policy" default:"on-failure" enum:"no,on-success,on-failure,on-abnormal,on-watchdog,on-abort,always" help:"systemd's Restart= for the unit: no, on-success, on-failure, on-abnormal, on-watchdog, on-abort or always."`
	RestartSec      uint   `name:"restart-sec" help:"systemd's RestartSec=: seconds before a restart."`
	StopTimeout     uint   `name:"stop-timeout" aliases:"time" short:"t" default:"10" help:"Seconds box stop waits for the container before killing it."`
	ContainerPrefix string `name:"container-prefix" default:"container" help:"Start of the unit's name."`
	Separator       string `default:"-" help:"Between the prefix and the container's name."`
	NoHeader        bool   `name:"no-header" help:"Leave out the comment at the top."`
	Container       string `arg:"" help:"Container to run from the unit."`
}

func (c *generateSystemdCmd) Run(e *env) error {
	_, _, ct, err := openContainer(c.Container)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the box binary for the unit: %w", err)
	}
	ref := ct.Config.ID
	if c.Name || c.New {
		// A new container gets a new ID each start: only its name holds.
		ref = ct.Config.Name
	}
	unitName := c.ContainerPrefix + c.Separator + ref + ".service"
	unit, err := c.unit(self, ref, ct)
	if err != nil {
		return err
	}
	if !c.Files {
		_, err := fmt.Fprint(e.stdout, unit)
		return err
	}
	path, err := filepath.Abs(unitName)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		return fmt.Errorf("write the unit: %w", err)
	}
	fmt.Fprintln(e.stdout, path)
	return nil
}

// unit renders the unit. The container runs in a scope of its own (its
// cgroup), outside the service's, so ExecStop stops it with box stop, as
// a user would, rather than leave systemd to kill what it cannot see.
func (c *generateSystemdCmd) unit(self, ref string, ct *container.Container) (string, error) {
	box := systemdQuote(self)
	var start, pre, post []string
	if c.New {
		args, err := unitRunArgs(ct.Config.CreateCommand, ct.Config.Name)
		if err != nil {
			return "", fmt.Errorf("container %s: %w", ct.Config.Name, err)
		}
		// Leftovers of an unclean end would hold the name.
		pre = []string{box + " rm -f --ignore " + systemdQuote(ref)}
		start = args
		post = []string{"-" + box + " rm -f --ignore " + systemdQuote(ref)}
	} else {
		start = []string{"start", "--attach", "--sdnotify=conmon", ref}
	}
	var b strings.Builder
	if !c.NoHeader {
		fmt.Fprintf(&b, "# %s%s%s.service\n# made by box generate systemd; install it with: systemctl --user link $PWD/%s%s%s.service\n\n", c.ContainerPrefix, c.Separator, ref, c.ContainerPrefix, c.Separator, ref)
	}
	fmt.Fprintf(&b, "[Unit]\nDescription=box container %s\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\n", ct.Config.Name)
	b.WriteString("Environment=BOX_SYSTEMD_UNIT=%n\n")
	// The same store as the one that made the container.
	for _, k := range []string{"XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR"} {
		if v := osEnv(k); v != "" && v != systemdDefault(k) {
			fmt.Fprintf(&b, "Environment=%s\n", systemdQuote(k+"="+v))
		}
	}
	fmt.Fprintf(&b, "Restart=%s\n", c.RestartPolicy)
	if c.RestartSec > 0 {
		fmt.Fprintf(&b, "RestartSec=%d\n", c.RestartSec)
	}
	// box stop's wait, and a minute for box itself.
	fmt.Fprintf(&b, "TimeoutStopSec=%d\n", c.StopTimeout+60)
	for _, p := range pre {
		fmt.Fprintf(&b, "ExecStartPre=%s\n", p)
	}
	quoted := make([]string, len(start))
	for i, a := range start {
		quoted[i] = systemdQuote(a)
	}
	fmt.Fprintf(&b, "ExecStart=%s %s\n", box, strings.Join(quoted, " "))
	fmt.Fprintf(&b, "ExecStop=%s stop --ignore -t %d %s\n", box, c.StopTimeout, systemdQuote(ref))
	for _, p := range post {
		fmt.Fprintf(&b, "ExecStopPost=%s\n", p)
	}
	// box stop ends it with SIGTERM, which box passes on as 143: an
	// orderly stop, not a failure to restart from. The unit is up once box
	// says the container runs (--sdnotify=conmon), so what comes after it
	// finds it running.
	b.WriteString("SuccessExitStatus=143\nType=notify\nNotifyAccess=main\n\n[Install]\nWantedBy=default.target\n")
	return b.String(), nil
}

// systemdDefault is what a systemd user manager sets k to: from the home
// directory in the password database, whatever $HOME says here.
func systemdDefault(k string) string {
	home := ""
	if u, err := user.Current(); err == nil {
		home = u.HomeDir
	}
	switch k {
	case "XDG_DATA_HOME":
		return filepath.Join(home, ".local", "share")
	case "XDG_CONFIG_HOME":
		return filepath.Join(home, ".config")
	case "XDG_RUNTIME_DIR":
		return fmt.Sprintf("/run/user/%d", os.Getuid())
	}
	return ""
}

// systemdQuote quotes a word for a unit's Exec and Environment lines:
// systemd splits on spaces, unquotes C-style, and expands % specifiers
// and $ variables, so each of those is escaped.
func systemdQuote(s string) string {
	s = strings.NewReplacer("%", "%%", "$", "$$").Replace(s)
	if s != "" && !strings.ContainsAny(s, " \t\n\"'\\;") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`).Replace(s) + `"`
}

// unitRunArgs turns the command that created a container into the
// arguments of a box run in the unit's foreground: without -d, -i, -t,
// --rm, --name, --cidfile, --restart and --detach-keys (the unit's own
// settings take their places), with --rm and the name. Which words are
// flag values is read from box run's own grammar, so the image and the
// command after it are never taken apart.
func unitRunArgs(cmd []string, name string) ([]string, error) {
	if len(cmd) < 2 {
		return nil, fmt.Errorf("its creating command was not recorded (it was made by an older box): recreate it, or generate without --new")
	}
	var r root
	// Only the grammar is wanted: nothing is parsed, nothing printed.
	p, err := newParser(&r, []string{"run"}, &env{stdout: io.Discard, stderr: io.Discard})
	if err != nil {
		return nil, err
	}
	var run *kong.Node
	for _, n := range p.Model.Node.Children {
		if n.Name == "run" {
			run = n
		}
	}
	if run == nil {
		return nil, fmt.Errorf("box run's grammar is missing")
	}
	flags := append(slices.Clone(p.Model.Node.Flags), run.Flags...)
	byLong := map[string]*kong.Flag{}
	byShort := map[rune]*kong.Flag{}
	for _, f := range flags {
		byLong[f.Name] = f
		for _, a := range f.Aliases {
			byLong[a] = f
		}
		if f.Short != 0 {
			byShort[f.Short] = f
		}
	}
	drop := []string{"detach", "interactive", "tty", "rm", "name", "cidfile", "restart", "detach-keys", "sdnotify"}
	out := []string{}
	words := cmd[1:]
	i := 0
	// Global flags, then the command: run, create, container run/create.
	for ; i < len(words) && strings.HasPrefix(words[i], "-"); i++ {
		out = append(out, words[i])
	}
	if i < len(words) && words[i] == "container" {
		i++
	}
	if i >= len(words) || (words[i] != "run" && words[i] != "create") {
		return nil, fmt.Errorf("its creating command %q is not box run or create", strings.Join(cmd, " "))
	}
	out = append(out, "run", "--rm", "--sdnotify=conmon", "--name", name)
	i++
	for ; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--":
			return append(out, words[i:]...), nil
		case strings.HasPrefix(w, "--"):
			long, _, hasValue := strings.Cut(w[2:], "=")
			f := byLong[long]
			if f == nil && strings.HasPrefix(long, "no-") && byLong[long[3:]] != nil && byLong[long[3:]].IsBool() {
				f = byLong[long[3:]]
			}
			if f == nil {
				return nil, fmt.Errorf("its creating command has %s, which this box does not know", w)
			}
			keep := !slices.Contains(drop, f.Name)
			if keep {
				out = append(out, w)
			}
			if !hasValue && !f.IsBool() && i+1 < len(words) {
				i++
				if keep {
					out = append(out, words[i])
				}
			}
		case strings.HasPrefix(w, "-") && len(w) > 1:
			kept, valueNext, keepValue, err := shortCluster(w[1:], byShort, drop)
			if err != nil {
				return nil, err
			}
			out = append(out, kept...)
			if valueNext && i+1 < len(words) {
				i++
				if keepValue {
					out = append(out, words[i])
				}
			}
		default:
			// The image (or --rootfs's command): the rest is the container's.
			return append(out, words[i:]...), nil
		}
	}
	return nil, fmt.Errorf("its creating command %q names no image", strings.Join(cmd, " "))
}

// shortCluster splits "-dit" or "-p8080:80" into what the unit keeps (as
// one word, or none), whether the next word is the value of its last flag,
// and whether that value is kept with it.
func shortCluster(cluster string, byShort map[rune]*kong.Flag, drop []string) (kept []string, valueNext, keepValue bool, err error) {
	var w strings.Builder
	for j, ch := range cluster {
		f := byShort[ch]
		if f == nil {
			return nil, false, false, fmt.Errorf("its creating command has -%c, which this box does not know", ch)
		}
		keep := !slices.Contains(drop, f.Name)
		if f.IsBool() {
			if keep {
				w.WriteRune(ch)
			}
			continue
		}
		value := cluster[j+len(string(ch)):]
		if keep {
			w.WriteRune(ch)
			w.WriteString(value)
		}
		valueNext, keepValue = value == "", keep
		break
	}
	if w.Len() > 0 {
		kept = []string{"-" + w.String()}
	}
	return kept, valueNext, keepValue, nil
}
