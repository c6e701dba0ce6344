package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrBadChange means a --change line could not be applied.
var ErrBadChange = errors.New("invalid --change")

// applyChanges applies docker import --change lines to cfg: CMD,
// ENTRYPOINT (JSON array or shell form), ENV and LABEL (k=v pairs, or the
// old "k v" form), WORKDIR, USER, EXPOSE (port, port/proto, or a range),
// VOLUME and STOPSIGNAL. It opens no files.
func applyChanges(cfg *ocispec.ImageConfig, changes []string) error {
	for _, line := range changes {
		if err := applyChange(cfg, strings.TrimSpace(line)); err != nil {
			return fmt.Errorf("%w %q: %v", ErrBadChange, line, err)
		}
	}
	return nil
}

func applyChange(cfg *ocispec.ImageConfig, line string) error {
	word, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return errors.New("missing argument")
	}
	switch strings.ToUpper(word) {
	case "CMD":
		cmd, err := commandForm(rest)
		cfg.Cmd = cmd
		return err
	case "ENTRYPOINT":
		ep, err := commandForm(rest)
		cfg.Entrypoint = ep
		return err
	case "ENV":
		pairs, err := keyValues(rest)
		if err != nil {
			return err
		}
		for _, kv := range pairs {
			cfg.Env = setEnv(cfg.Env, kv[0], kv[1])
		}
	case "LABEL":
		pairs, err := keyValues(rest)
		if err != nil {
			return err
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range pairs {
			cfg.Labels[kv[0]] = kv[1]
		}
	case "WORKDIR":
		// Like Dockerfile: a relative WORKDIR is relative to the previous one.
		if path.IsAbs(rest) {
			cfg.WorkingDir = path.Clean(rest)
		} else {
			cfg.WorkingDir = path.Join("/", cfg.WorkingDir, rest)
		}
	case "USER":
		cfg.User = rest
	case "STOPSIGNAL":
		cfg.StopSignal = rest
	case "EXPOSE":
		words, err := splitWords(rest)
		if err != nil {
			return err
		}
		for _, w := range words {
			ports, err := exposedPorts(w)
			if err != nil {
				return err
			}
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range ports {
				cfg.ExposedPorts[p] = struct{}{}
			}
		}
	case "VOLUME":
		var vols []string
		if strings.HasPrefix(rest, "[") {
			if err := json.Unmarshal([]byte(rest), &vols); err != nil {
				return fmt.Errorf("JSON array: %w", err)
			}
		} else {
			var err error
			if vols, err = splitWords(rest); err != nil {
				return err
			}
		}
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range vols {
			cfg.Volumes[v] = struct{}{}
		}
	default:
		return fmt.Errorf("unknown instruction %q (want CMD, ENTRYPOINT, ENV, LABEL, WORKDIR, USER, EXPOSE, VOLUME or STOPSIGNAL)", word)
	}
	return nil
}

// commandForm parses the JSON (exec) form, or wraps the shell form in
// /bin/sh -c as docker does.
func commandForm(s string) ([]string, error) {
	if !strings.HasPrefix(s, "[") {
		return []string{"/bin/sh", "-c", s}, nil
	}
	var args []string
	if err := json.Unmarshal([]byte(s), &args); err != nil {
		return nil, fmt.Errorf("JSON array: %w", err)
	}
	return args, nil
}

// keyValues parses "k=v k2='v 2'", or the old form "k some value".
func keyValues(s string) ([][2]string, error) {
	first, rest, _ := strings.Cut(s, " ")
	if !strings.Contains(first, "=") {
		v, err := splitWords(strings.TrimSpace(rest))
		if err != nil {
			return nil, err
		}
		return [][2]string{{first, strings.Join(v, " ")}}, nil
	}
	words, err := splitWords(s)
	if err != nil {
		return nil, err
	}
	out := make([][2]string, 0, len(words))
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", w)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// splitWords splits on blanks, honouring single and double quotes and
// backslash escapes, as a Dockerfile does.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, c := range s {
		switch {
		case escaped:
			cur.WriteRune(c)
			escaped = false
		case c == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteRune(c)
			}
		case c == '"' || c == '\'':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if escaped {
		return nil, errors.New("trailing backslash")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if name, _, _ := strings.Cut(e, "="); name == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// exposedPorts expands "80", "53/udp" or "8000-8002/tcp" to config keys.
func exposedPorts(s string) ([]string, error) {
	ports, proto, ok := strings.Cut(s, "/")
	if !ok {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return nil, fmt.Errorf("port %q: unknown protocol %q", s, proto)
	}
	lo, hi, isRange := strings.Cut(ports, "-")
	if !isRange {
		hi = lo
	}
	start, err1 := strconv.ParseUint(lo, 10, 16)
	end, err2 := strconv.ParseUint(hi, 10, 16)
	if err1 != nil || err2 != nil || start == 0 || end < start {
		return nil, fmt.Errorf("port %q: want N, N/proto or N-M/proto with 1 <= N <= M <= 65535", s)
	}
	var out []string
	for p := start; p <= end; p++ {
		out = append(out, fmt.Sprintf("%d/%s", p, proto))
	}
	return out, nil
}
