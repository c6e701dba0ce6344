package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// ioResult is what bench/cmd/iobench prints.
type ioResult struct {
	Op      string  `json:"op"`
	Seconds float64 `json:"seconds"`
	Bytes   int64   `json:"bytes"`
}

// fileIO: iobench (bench/cmd/iobench) in a host directory, and in the
// root filesystem of a running container on each of box's overlay
// drivers, all on the same filesystem (the work directory's). iobench
// times itself, so no container start is counted; see its doc for what
// each number includes and how the reads are kept off the page cache.
func (s *suite) fileIO(ctx context.Context) (*benchmark, error) {
	if s.opt.iobench == "" {
		return nil, errors.New("no -iobench binary")
	}
	o := s.opt
	b := &benchmark{
		id: "io",
		title: fmt.Sprintf("file I/O: %d × %d B files, %d MiB write+fsync, %d MiB uncached read",
			o.ioFiles, o.ioFileSize, o.ioBytes>>20, o.ioBytes>>20),
		metrics: []metric{
			{key: "files", title: fmt.Sprintf("create %d files", o.ioFiles), unit: "s"},
			{key: "write", title: fmt.Sprintf("write %d MiB + fsync", o.ioBytes>>20), unit: "s"},
			{key: "read", title: fmt.Sprintf("read %d MiB, uncached", o.ioBytes>>20), unit: "s"},
		},
		ref: "box (overlay)", reps: o.ioReps, warmup: min(o.warmup, 1),
	}
	hostDir := filepath.Join(s.work, "hostio")
	if err := os.MkdirAll(hostDir, 0o755); err != nil {
		return nil, err
	}
	hostRun := func(ctx context.Context, args ...string) ([]byte, error) {
		t := &tool{name: "iobench", bin: o.iobench, env: os.Environ()}
		return t.output(ctx, args...)
	}
	b.variants = append(b.variants, s.ioVariant("host", "iobench … in "+hostDir, hostDir, hostRun,
		func(file string) error { return os.Remove(file) }, nil))

	boxVariant := func(name string, t *tool) error {
		cname := fmt.Sprintf("peerbench-io-%d-%d", os.Getpid(), len(b.variants))
		if _, err := t.output(ctx, "run", "-d", "--network", "none", "--name", cname,
			"-v", o.iobench+":/iobench:ro", image, "sleep", "1000000"); err != nil {
			return err
		}
		run := func(ctx context.Context, args ...string) ([]byte, error) {
			return t.output(ctx, append([]string{"exec", cname, "/iobench"}, args...)...)
		}
		clean := func(file string) error {
			_, err := t.output(ctx, "exec", cname, "rm", file)
			return err
		}
		storage := boxStorage(t)
		// The container's files are in its layer's upper directory on
		// the host, as box's overlay drivers keep it.
		drop := func(file string) error {
			matches, err := filepath.Glob(filepath.Join(storage, "overlay", "*", "diff", file))
			if err != nil {
				return err
			}
			if len(matches) != 1 {
				return fmt.Errorf("%s: want one upper file for %s, found %d", storage, file, len(matches))
			}
			f, err := os.Open(matches[0])
			if err != nil {
				return err
			}
			defer f.Close()
			return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		}
		b.variants = append(b.variants, s.ioVariant(name, t.line("exec", cname, "/iobench", "…"), "/", run, clean, drop))
		return nil
	}
	if err := boxVariant("box (overlay)", s.box.with("--storage-driver", "overlay")); err != nil {
		return nil, err
	}
	if s.boxFuse != nil {
		if _, err := exec.LookPath("fuse-overlayfs"); err != nil {
			b.skipped = append(b.skipped, "box (fuse-overlayfs): fuse-overlayfs not installed")
		} else if err := boxVariant("box (fuse-overlayfs)", s.boxFuse); err != nil {
			b.skipped = append(b.skipped, fmt.Sprintf("box (fuse-overlayfs): %v", err))
		}
	}
	b.notes = append(b.notes,
		"iobench times itself inside the container (no container start counted): files = open/write/close of each; write = 1 MiB writes of pseudo-random data, then fsync; read = after fadvise(DONTNEED), so from the disk",
		"the host run evicts its file with fadvise; in the containers, iobench's fadvise reaches the upper file on native overlay, and peerbench also evicts the upper file from the host (for fuse-overlayfs, whose daemon has its own cached copy): every read starts cold, none has a page-cache advantage",
		"nothing but the big file is deleted between samples: on ext4 without a journal (as here) file creation right after a mass deletion is up to 10× slower (recently freed inodes are skipped, one lookup each)",
		"host and containers write to the same filesystem (the work directory's); the ratio for host is host/box(overlay): 0.9 means box's overlay took 1/0.9 of the host's time; the fuse-overlayfs row's ratio is to box's native overlay too",
	)
	b.run(ctx, logf)
	return b, nil
}

// ioVariant is one place to run iobench: run runs it there, rm removes
// a file, drop (if any) evicts a file's upper copy from the host's page
// cache. The small files stay until the suite ends: ext4 without a
// journal (this machine's) skips inodes freed in the last 60 s (360 s if
// their inode table block is still dirty) when it allocates new ones, one
// buffer-cache lookup each, so creating 10 000 files right after 10 000
// were deleted takes 10× as long. Deleting one big file per sample frees
// one inode.
func (s *suite) ioVariant(name, cmd, base string,
	run func(ctx context.Context, args ...string) ([]byte, error),
	rm func(file string) error, drop func(file string) error) *variant {
	o := s.opt
	call := func(ctx context.Context, args ...string) (float64, error) {
		out, err := run(ctx, args...)
		if err != nil {
			return 0, err
		}
		var r ioResult
		if err := json.Unmarshal(out, &r); err != nil {
			return 0, fmt.Errorf("iobench %s: %q: %w", args[0], out, err)
		}
		return r.Seconds, nil
	}
	return &variant{
		name: name, cmd: cmd,
		measure: func(ctx context.Context, rep int) (map[string]float64, error) {
			rel := "iob-" + strconv.Itoa(rep)
			dir := path.Join(base, rel)
			vals := map[string]float64{}
			var err error
			if vals["files"], err = call(ctx, "files", path.Join(dir, "files"), strconv.Itoa(o.ioFiles), strconv.Itoa(o.ioFileSize)); err != nil {
				return nil, err
			}
			if vals["write"], err = call(ctx, "write", path.Join(dir, "big"), strconv.FormatInt(o.ioBytes, 10)); err != nil {
				return nil, err
			}
			if drop != nil {
				if err := drop(path.Join(rel, "big")); err != nil {
					return nil, err
				}
			}
			if vals["read"], err = call(ctx, "read", path.Join(dir, "big")); err != nil {
				return nil, err
			}
			if err := rm(path.Join(dir, "big")); err != nil {
				return nil, err
			}
			return vals, syncfs(s.work)
		},
	}
}
