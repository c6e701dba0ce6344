// Package config reads box's configuration file,
// $XDG_CONFIG_HOME/box/config.toml: defaults for what a flag or an
// environment variable would otherwise set. It only reads and checks the
// file; which setting wins (flag, environment, file, built-in default) is
// the CLI's business, and Setting records the answer for box info.
//
//	# ~/.config/box/config.toml
//	storage_driver = "overlay"    # overlay, fuse-overlayfs or vfs
//	network = "slirp4netns"       # as --network: slirp4netns[:opts], none, host
//	userns = "auto"               # as --userns: auto, single or keep-id
//	log_max_size = "16m"          # a detached container's log rotates past this
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	units "github.com/docker/go-units"
)

// FileName is the file's name in box's config directory.
const FileName = "config.toml"

// File is what the file may set; "" (0 for sizes) is unset.
type File struct {
	StorageDriver string `toml:"storage_driver"`
	Network       string `toml:"network"`
	Userns        string `toml:"userns"`
	LogMaxSize    string `toml:"log_max_size"`

	// Path is where it was read from; "" when there is no file.
	Path string `toml:"-"`
	// LogMaxBytes is LogMaxSize in bytes.
	LogMaxBytes int64 `toml:"-"`
}

// ErrInvalid is a file box cannot use; the error says where and why.
var ErrInvalid = errors.New("invalid config file")

// Load reads path. A missing file is no error: every setting is unset.
// checkNetwork validates the network value (the network package's parser,
// passed in so this package stays a leaf).
func Load(path string, checkNetwork func(string) error) (File, error) {
	var f File
	md, err := toml.DecodeFile(path, &f)
	if errors.Is(err, fs.ErrNotExist) {
		return File{}, nil
	}
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return File{}, fmt.Errorf("%w %s: line %d: %s", ErrInvalid, path, pe.Position.Line, pe.Message)
		}
		return File{}, fmt.Errorf("%w %s: %w", ErrInvalid, path, err)
	}
	f.Path = path
	if keys := md.Undecoded(); len(keys) > 0 {
		var names []string
		for _, k := range keys {
			names = append(names, k.String())
		}
		return File{}, fmt.Errorf("%w %s: unknown key %s (known: storage_driver, network, userns, log_max_size)", ErrInvalid, path, strings.Join(names, ", "))
	}
	bad := func(key, val, want string) error {
		return fmt.Errorf("%w %s: %s = %q: want %s", ErrInvalid, path, key, val, want)
	}
	if f.StorageDriver != "" && !slices.Contains([]string{"overlay", "fuse-overlayfs", "vfs"}, f.StorageDriver) {
		return File{}, bad("storage_driver", f.StorageDriver, "overlay, fuse-overlayfs or vfs")
	}
	if f.Userns != "" && !slices.Contains([]string{"auto", "single", "keep-id"}, f.Userns) {
		return File{}, bad("userns", f.Userns, "auto, single or keep-id")
	}
	if f.Network != "" && checkNetwork != nil {
		if err := checkNetwork(f.Network); err != nil {
			return File{}, fmt.Errorf("%w %s: network = %q: %w", ErrInvalid, path, f.Network, err)
		}
	}
	if f.LogMaxSize != "" {
		n, err := units.RAMInBytes(f.LogMaxSize)
		if err != nil || n < 4096 {
			return File{}, bad("log_max_size", f.LogMaxSize, "a size of at least 4k, such as 16m")
		}
		f.LogMaxBytes = n
	}
	return f, nil
}

// Setting is a value in effect and where it came from: "flag", "env
// NAME", "config file PATH" or "default".
type Setting struct {
	Value  string `json:"value" yaml:"value"`
	Source string `json:"source" yaml:"source"`
}

// Pick is the first set of flag, env (named envName), the file's value and
// the built-in default, with its source.
func Pick(flag, envName, env, file, filePath, def string) Setting {
	switch {
	case flag != "":
		return Setting{flag, "flag"}
	case env != "":
		return Setting{env, "env " + envName}
	case file != "":
		return Setting{file, "config file " + filePath}
	}
	return Setting{def, "default"}
}
