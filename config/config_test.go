package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	noNet := func(s string) error {
		if s == "bogus" {
			return errors.New("unknown network")
		}
		return nil
	}
	if f, err := Load(filepath.Join(dir, "missing.toml"), noNet); err != nil || f != (File{}) {
		t.Fatalf("Load(missing) = %+v, %v, want nothing set", f, err)
	}
	good := filepath.Join(dir, "good.toml")
	write(t, good, "# box\nstorage_driver = \"vfs\"\nnetwork = \"none\"\nuserns = \"single\"\nlog_max_size = \"32k\"\n")
	f, err := Load(good, noNet)
	want := File{StorageDriver: "vfs", Network: "none", Userns: "single", LogMaxSize: "32k", Path: good, LogMaxBytes: 32 << 10}
	if err != nil || f != want {
		t.Fatalf("Load(good) = %+v, %v, want %+v", f, err, want)
	}
	for _, tc := range []struct{ content, want string }{
		{"storage_driver = \"zfs\"\n", `storage_driver = "zfs": want overlay, fuse-overlayfs or vfs`},
		{"userns = \"host\"\n", `userns = "host": want auto, single or keep-id`},
		{"network = \"bogus\"\n", `network = "bogus": unknown network`},
		{"log_max_size = \"1\"\n", `log_max_size = "1": want a size of at least 4k`},
		{"storage-driver = \"vfs\"\n", "unknown key storage-driver"},
		{"[storage]\ndriver = \"vfs\"\n", "unknown key storage, storage.driver"},
		{"network = none\n", "line 1:"},
	} {
		p := filepath.Join(dir, "bad.toml")
		write(t, p, tc.content)
		_, err := Load(p, noNet)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Load(%q) = %v, want one line with ErrInvalid and %q", tc.content, err, tc.want)
		}
	}
}

func TestPick(t *testing.T) {
	for _, tc := range []struct {
		flag, env, file string
		want            Setting
	}{
		{"overlay", "vfs", "fuse-overlayfs", Setting{"overlay", "flag"}},
		{"", "vfs", "fuse-overlayfs", Setting{"vfs", "env BOX_STORAGE_DRIVER"}},
		{"", "", "fuse-overlayfs", Setting{"fuse-overlayfs", "config file /c.toml"}},
		{"", "", "", Setting{"auto", "default"}},
	} {
		if got := Pick(tc.flag, "BOX_STORAGE_DRIVER", tc.env, tc.file, "/c.toml", "auto"); got != tc.want {
			t.Errorf("Pick(%q, %q, %q) = %+v, want %+v", tc.flag, tc.env, tc.file, got, tc.want)
		}
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
