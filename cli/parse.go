package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/volume"
)

// maxEnvEntry is the longest "KEY=VALUE" Linux passes to a program
// (MAX_ARG_STRLEN, 32 pages, with the NUL): exec fails on a longer one.
const maxEnvEntry = 32*4096 - 1

// buildEnv applies --env-file files, then -e values, as Docker does: later
// wins, and a bare KEY copies the variable from box's own environment (or
// is dropped when unset there).
func buildEnv(files, flags []string, lookup func(string) (string, bool)) ([]string, error) {
	var out []string
	for _, f := range files {
		vals, err := readEnvFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, vals...)
	}
	for _, kv := range flags {
		if err := checkEnv(kv); err != nil {
			return nil, err
		}
		out = append(out, kv)
	}
	var env []string
	for _, kv := range out {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			if v, ok = lookup(k); !ok {
				continue
			}
		}
		env = append(env, k+"="+v)
	}
	return env, nil
}

// checkEnv checks one KEY=VALUE (or bare KEY) as given with -e or on a
// line of an env file. Docker's env-file reader refuses what is not
// UTF-8 (its API would turn it into U+FFFD); box also refuses a name with
// whitespace or control characters, which break up the name in anything
// that lists the environment line by line or word by word, a NUL (exec
// refuses it), and an entry longer than exec passes on.
func checkEnv(kv string) error {
	k, v, _ := strings.Cut(kv, "=")
	switch {
	case k == "":
		return fmt.Errorf("invalid environment variable %q: it needs a name", truncate(kv, 64))
	case !utf8.ValidString(k) || strings.ContainsRune(k, utf8.RuneError):
		// kong hands -e over with bytes that are not UTF-8 already
		// replaced by U+FFFD, which no one means in a name.
		return fmt.Errorf("invalid environment variable name %q: it is not UTF-8 text", truncate(k, 64))
	case badEnvName(k):
		return fmt.Errorf("invalid environment variable name %q: no whitespace or control characters allowed", truncate(k, 64))
	case !utf8.ValidString(v):
		return fmt.Errorf("invalid environment variable %s: its value is not UTF-8 text", truncate(k, 64))
	case strings.ContainsRune(v, 0):
		return fmt.Errorf("invalid environment variable %s: NUL byte in the value", truncate(k, 64))
	case len(kv) > maxEnvEntry:
		return fmt.Errorf("environment variable %s is %d bytes long; Linux passes at most %d to a program", truncate(k, 64), len(kv), maxEnvEntry)
	}
	return nil
}

// readEnvFile reads Docker's env-file format: KEY=VALUE or KEY per line,
// # comments, blank lines; values are taken literally, quotes included.
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read --env-file %s: %w", path, pathError(err))
	}
	defer f.Close()
	return parseEnvFile(f, path)
}

func parseEnvFile(r io.Reader, name string) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	// Lines as long as exec takes, and more, to say which one is too long
	// (bufio's own limit, 64 KiB, is below what Linux passes on).
	sc.Buffer(make([]byte, 0, 64<<10), 4*maxEnvEntry)
	n := 0
	for sc.Scan() {
		n++
		text := sc.Text()
		if n == 1 {
			text = strings.TrimPrefix(text, "\uFEFF") // a byte order mark, as Docker
		}
		line := strings.TrimLeft(text, " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := checkEnv(line); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", name, n, err)
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s line %d: longer than %d bytes; Linux passes at most %d to a program", name, n+1, 4*maxEnvEntry, maxEnvEntry)
		}
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return out, nil
}

// truncate shortens s for a message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// badEnvName says whether an environment variable's name holds a blank or
// a control character (NUL and newline among them, and Unicode's own).
func badEnvName(k string) bool {
	return strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || unicode.IsSpace(r) || unicode.IsControl(r) })
}

// parseVolume reads -v HOST:CONTAINER[:OPTIONS]. Host paths may be
// relative (to the current directory); anything else names a volume.
func parseVolume(spec string) (container.Mount, error) {
	if strings.ContainsRune(spec, 0) {
		return container.Mount{}, fmt.Errorf("invalid volume %q: NUL byte", spec)
	}
	parts := strings.Split(spec, ":")
	if len(parts) == 1 && filepath.IsAbs(spec) {
		// An anonymous volume, made at create.
		return container.Mount{Type: "volume", Destination: filepath.Clean(spec)}, nil
	}
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return container.Mount{}, fmt.Errorf("invalid volume %q: want HOST-PATH:CONTAINER-PATH[:ro|rw]", spec)
	}
	src, dst := parts[0], parts[1]
	if !filepath.IsAbs(dst) {
		return container.Mount{}, fmt.Errorf("invalid volume %q: the container path must be absolute", spec)
	}
	var m container.Mount
	if !strings.HasPrefix(src, "/") && !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "~") {
		// A named volume, as Docker: anything that is not a path.
		if err := volume.CheckName(src); err != nil {
			return container.Mount{}, fmt.Errorf("invalid volume %q: %w (a host path must be absolute or start with ./)", spec, err)
		}
		m = container.Mount{Type: "volume", Name: src, Destination: filepath.Clean(dst)}
	} else {
		abs, err := expandPath(src)
		if err != nil {
			return container.Mount{}, err
		}
		m = container.Mount{Type: "bind", Source: abs, Destination: filepath.Clean(dst)}
	}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro", "rw":
				m.Options = append(m.Options, o)
			case "z", "Z", "":
				// SELinux relabelling: nothing to do without SELinux.
			default:
				return container.Mount{}, fmt.Errorf("invalid volume %q: unknown option %q (want ro or rw)", spec, o)
			}
		}
	}
	return m, nil
}

func expandPath(p string) (string, error) {
	if strings.HasPrefix(p, "~/") || p == "~" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		p = filepath.Join(home, strings.TrimPrefix(p, "~"))
	}
	return filepath.Abs(p)
}

// parseMount reads --mount type=bind|tmpfs,source=...,target=...,....
func parseMount(spec string) (container.Mount, error) {
	m := container.Mount{Type: "volume"}
	bad := func(why string) (container.Mount, error) {
		return container.Mount{}, fmt.Errorf("invalid --mount %q: %s", spec, why)
	}
	if strings.ContainsRune(spec, 0) {
		return bad("NUL byte")
	}
	var size, mode string
	for _, field := range strings.Split(spec, ",") {
		k, v, hasV := strings.Cut(field, "=")
		switch strings.ToLower(k) {
		case "type":
			m.Type = v
		case "source", "src":
			m.Source = v
		case "target", "destination", "dst":
			m.Destination = v
		case "readonly", "ro":
			if !hasV || v == "true" || v == "1" {
				m.Options = append(m.Options, "ro")
			} else if v != "false" && v != "0" {
				return bad("readonly takes true or false")
			}
		case "tmpfs-size":
			size = v
		case "tmpfs-mode":
			mode = v
		case "bind-propagation", "consistency", "relabel":
			// Accepted for compatibility; box's mounts are private.
		default:
			return bad(fmt.Sprintf("unknown key %q", k))
		}
	}
	if m.Destination == "" || !filepath.IsAbs(m.Destination) {
		return bad("target must be an absolute path")
	}
	m.Destination = filepath.Clean(m.Destination)
	switch m.Type {
	case "bind":
		if m.Source == "" {
			return bad("a bind mount needs source=")
		}
		abs, err := expandPath(m.Source)
		if err != nil {
			return container.Mount{}, err
		}
		m.Source = abs
	case "volume":
		if m.Source != "" {
			if err := volume.CheckName(m.Source); err != nil {
				return bad(err.Error())
			}
			m.Name, m.Source = m.Source, ""
		}
	case "tmpfs":
		if m.Source != "" {
			return bad("a tmpfs mount takes no source")
		}
		if size != "" {
			m.Options = append(m.Options, "size="+size)
		}
		if mode != "" {
			m.Options = append(m.Options, "mode="+mode)
		}
	default:
		return bad(fmt.Sprintf("type %q is not supported (want bind, volume or tmpfs)", m.Type))
	}
	return m, nil
}

// parseTmpfs reads --tmpfs PATH[:OPTIONS].
func parseTmpfs(spec string) (container.Mount, error) {
	path, opts, _ := strings.Cut(spec, ":")
	if !filepath.IsAbs(path) {
		return container.Mount{}, fmt.Errorf("invalid --tmpfs %q: the path must be absolute", spec)
	}
	m := container.Mount{Type: "tmpfs", Destination: filepath.Clean(path)}
	if opts != "" {
		m.Options = strings.Split(opts, ",")
	}
	for _, o := range m.Options {
		if !tmpfsOption(o) {
			return container.Mount{}, fmt.Errorf("invalid --tmpfs %q: unknown option %q (want size=, mode=, uid=, gid=, nr_inodes=, ro, noexec, ...)", spec, o)
		}
	}
	if strings.ContainsRune(m.Destination, 0) {
		return container.Mount{}, fmt.Errorf("invalid --tmpfs %q: NUL byte", spec)
	}
	return m, nil
}

// tmpfsOption says whether o is a --tmpfs option the sandbox can use: a
// flag it turns into a mount flag, or a tmpfs parameter the kernel takes.
// Anything else would only fail later, at mount.
func tmpfsOption(o string) bool {
	k, v, kv := strings.Cut(o, "=")
	if kv {
		switch k {
		case "size", "nr_blocks", "nr_inodes", "mode", "uid", "gid", "huge", "mpol",
			"usrquota_block_hardlimit", "usrquota_inode_hardlimit", "grpquota_block_hardlimit", "grpquota_inode_hardlimit", "casefold":
			return v != "" && !strings.ContainsRune(v, 0)
		}
		return false
	}
	switch o {
	case "", "ro", "readonly", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev",
		"inode32", "inode64", "noswap", "quota", "usrquota", "grpquota", "casefold", "strict_encoding":
		return true
	}
	return false
}
