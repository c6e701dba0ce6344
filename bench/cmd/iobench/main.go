// Command iobench is the in-container half of box's file I/O benchmark
// (make bench, bench/cmd/peerbench): a static program bind-mounted into a
// busybox container, and run the same way in a host directory for the
// baseline. It times only the file operations, never a container's start.
//
//	iobench files DIR N SIZE   create DIR, then N files of SIZE bytes in it
//	iobench write FILE BYTES   write BYTES to FILE in 1 MiB blocks, then fsync
//	iobench read FILE          read FILE to its end
//	iobench drop FILE...       evict the files' pages from the page cache
//
// files, write and read print one JSON object, {"op":..., "seconds":...,
// "bytes":...}. What is timed:
//   - files: open(O_CREAT|O_EXCL), write, close of every file; afterwards
//     (untimed) syncfs, so that their writeback does not land in the next
//     measurement;
//   - write: every write and the final fsync, so the data is on the disk
//     when the clock stops, and not only in the page cache; afterwards
//     (untimed) fadvise(DONTNEED) evicts the now clean pages;
//   - read: first (untimed) fadvise(DONTNEED) again, then every read: the
//     data comes from the disk, not from the cache the write filled.
//
// The data is pseudo-random (one random MiB with each block's number
// stamped in), so no layer can shortcut zeros or identical blocks.
//
// fadvise evicts the pages of the file it is given. On the host and on
// native overlayfs (which hands fadvise to the upper file) that is the
// data itself; fuse-overlayfs has a second copy, in the page cache of its
// upper file, which the in-container call cannot reach: peerbench runs
// `iobench drop` on that upper file from the host as well.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

const (
	usage = "usage: iobench files DIR N SIZE | write FILE BYTES | read FILE | drop FILE..."
	block = 1 << 20
)

// Result is what files, write and read print.
type Result struct {
	Op      string  `json:"op"`
	Seconds float64 `json:"seconds"`
	Bytes   int64   `json:"bytes"`
	Files   int     `json:"files,omitempty"`
}

func main() {
	res, err := run(os.Args[1:])
	if errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "iobench: %v\n", err)
		os.Exit(1)
	}
	if res != nil {
		_ = json.NewEncoder(os.Stdout).Encode(res)
	}
}

var errUsage = errors.New("usage")

func run(args []string) (*Result, error) {
	if len(args) < 2 {
		return nil, errUsage
	}
	switch {
	case args[0] == "files" && len(args) == 4:
		n, err1 := strconv.Atoi(args[2])
		size, err2 := strconv.Atoi(args[3])
		if err1 != nil || err2 != nil || n < 1 || size < 0 {
			return nil, errUsage
		}
		return files(args[1], n, size)
	case args[0] == "write" && len(args) == 3:
		n, err := strconv.ParseInt(args[2], 10, 64)
		if err != nil || n < 0 {
			return nil, errUsage
		}
		return write(args[1], n)
	case args[0] == "read" && len(args) == 2:
		return read(args[1])
	case args[0] == "drop":
		for _, f := range args[1:] {
			if err := drop(f); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	return nil, errUsage
}

// data is one random block; each block written gets its number stamped in.
func data() []byte {
	buf := make([]byte, block)
	r := rand.NewChaCha8([32]byte{'b', 'o', 'x'})
	_, _ = r.Read(buf)
	return buf
}

func files(dir string, n, size int) (*Result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	body := data()[:size]
	start := time.Now()
	for i := range n {
		f, err := os.OpenFile(filepath.Join(dir, "f"+strconv.Itoa(i)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, err
		}
		if _, err := f.Write(body); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	took := time.Since(start)
	if err := syncfs(dir); err != nil {
		return nil, err
	}
	return &Result{Op: "files", Seconds: took.Seconds(), Bytes: int64(n) * int64(size), Files: n}, nil
}

func write(name string, n int64) (*Result, error) {
	buf := data()
	f, err := os.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	start := time.Now()
	var done int64
	for i := uint64(0); done < n; i++ {
		binary.LittleEndian.PutUint64(buf, i)
		chunk := buf[:min(int64(len(buf)), n-done)]
		if _, err := f.Write(chunk); err != nil {
			return nil, err
		}
		done += int64(len(chunk))
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	took := time.Since(start)
	if err := fadviseDontNeed(f); err != nil {
		return nil, err
	}
	return &Result{Op: "write", Seconds: took.Seconds(), Bytes: done}, nil
}

func read(name string) (*Result, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := fadviseDontNeed(f); err != nil {
		return nil, err
	}
	buf := make([]byte, block)
	start := time.Now()
	var done int64
	for {
		k, err := f.Read(buf)
		done += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return &Result{Op: "read", Seconds: time.Since(start).Seconds(), Bytes: done}, nil
}

func drop(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return fadviseDontNeed(f)
}

func fadviseDontNeed(f *os.File) error {
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("fadvise %s: %w", f.Name(), err)
	}
	return nil
}

func syncfs(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}
