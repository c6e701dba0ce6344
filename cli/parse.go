package cli

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/volume"
)

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
	out = append(out, flags...)
	var env []string
	for _, kv := range out {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid environment variable %q: it needs a name", kv)
		}
		if badEnvName(k) {
			return nil, fmt.Errorf("invalid environment variable name %q: no whitespace or control characters allowed", k)
		}
		if strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("invalid environment variable %q: NUL byte in the value", k)
		}
		if !ok {
			if v, ok = lookup(k); !ok {
				continue
			}
		}
		env = append(env, k+"="+v)
	}
	return env, nil
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

func parseEnvFile(r interface{ Read([]byte) (int, error) }, name string) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		if k == "" || badEnvName(k) {
			return nil, fmt.Errorf("%s line %d: invalid variable name %q", name, n, k)
		}
		if strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("%s line %d: NUL byte in the value of %s", name, n, k)
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return out, nil
}

// badEnvName says whether an environment variable's name holds a blank or
// an ASCII control character (NUL and newline among them): exec refuses a
// NUL, and the others break up the name in anything that lists the
// environment line by line or word by word.
func badEnvName(k string) bool {
	return strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r == 0x7f })
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
