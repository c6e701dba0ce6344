package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// swapLoop is what a container does to a directory it shares with a box
// process on the host that is working in it (box cp, a volume being
// filled): exchange A, something box makes or reads, with B, a symlink to
// TARGET, over and over (renameat2 RENAME_EXCHANGE), so that box finds a
// directory when it checks and the symlink when it acts, or the other way
// round. While A is missing (box has not made it yet, or the host cleaned
// up between tries) B is kept a symlink, so the first swap comes as soon
// as A appears. With -after, nothing is made or swapped before PATH
// exists: a volume stays empty until box starts to fill it, and a swap
// can be timed to a point of the fill. With -once the loop ends after the
// first swap, leaving the symlink where A was: whatever box then does by
// A's path goes to TARGET. With -hold, the symlink stays in A's place for
// that long after each swap, and A is back for only the moment between
// two swaps: a copy that checks by path then mostly finds the symlink
// and skirts it, and may meet it after a check that found A.
//
//	escprobe swap-loop [-after PATH] [-once] [-hold DUR] [-ready FILE] [-stop FILE] A B TARGET
func swapLoop(args []string) int {
	fs := flag.NewFlagSet("swap-loop", flag.ContinueOnError)
	after := fs.String("after", "", "make B and start swapping only once this path exists")
	once := fs.Bool("once", false, "end after the first swap")
	hold := fs.Duration("hold", 0, "keep the symlink in A's place this long after each swap")
	ready := fs.String("ready", "", "create this file once the loop runs")
	stop := fs.String("stop", "", "end, saying how many swaps were made, once this file exists")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 3 {
		fmt.Fprintln(os.Stderr, "usage: escprobe swap-loop [-after PATH] [-once] [-hold DUR] [-ready FILE] [-stop FILE] A B TARGET")
		return 2
	}
	a, b, target := fs.Arg(0), fs.Arg(1), fs.Arg(2)
	var stopped atomic.Bool
	if *stop != "" {
		go func() {
			for {
				if _, err := os.Lstat(*stop); err == nil {
					stopped.Store(true)
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	if *ready != "" {
		if err := os.WriteFile(*ready, nil, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "escprobe:", err)
			return 1
		}
	}
	for *after != "" && !stopped.Load() {
		if _, err := os.Lstat(*after); err == nil {
			break
		}
	}
	swaps := 0
	for !stopped.Load() {
		err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
		if err == nil {
			swaps++
			if *once {
				break
			}
			if *hold > 0 && swaps%2 == 1 {
				time.Sleep(*hold) // the symlink is where A was
			}
			continue
		}
		if !errors.Is(err, unix.ENOENT) {
			continue // busy, or a's directory is being replaced: try again
		}
		if fi, err := os.Lstat(b); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			// Gone, or left as A's other half when A went.
			_ = os.RemoveAll(b)
			_ = os.Symlink(target, b)
		}
	}
	fmt.Printf("swap-loop %s: %d swaps\n", a, swaps)
	return 0
}
