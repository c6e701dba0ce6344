// Command testregistry runs registrytest's registry until it is killed,
// for tests that are not written in Go (testscripts):
//
//	testregistry -addr-file F [-auth user:pass] [-tls] [-dir D] [-stall-blobs]
//
// It writes "127.0.0.1:PORT" to F once the registry answers, and with
// -tls the certificate directory (ca.crt, for --cert-dir) to F.certdir.
// With -stall-blobs, F names a proxy through which every blob over 1 MiB
// stops after its first 64 KiB, until the client gives up: a pull that
// stays under way (plain http only).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/boxcli/box/registrytest"
)

func main() {
	os.Exit(run())
}

func run() int {
	addrFile := flag.String("addr-file", "", "write the registry's address to this file")
	auth := flag.String("auth", "", "require htpasswd login user:pass")
	useTLS := flag.Bool("tls", false, "serve https with a self-signed certificate")
	dir := flag.String("dir", "", "directory for the registry's files (default: a new temporary one)")
	stall := flag.Bool("stall-blobs", false, "serve through a proxy that stalls blobs over 1 MiB after 64 KiB")
	flag.Parse()
	if *addrFile == "" {
		fmt.Fprintln(os.Stderr, "testregistry: -addr-file is required")
		return 2
	}
	opts := registrytest.Options{TLS: *useTLS}
	if *auth != "" {
		u, p, ok := strings.Cut(*auth, ":")
		if !ok || u == "" {
			fmt.Fprintln(os.Stderr, "testregistry: -auth wants user:pass")
			return 2
		}
		opts.User, opts.Password = u, p
	}
	d := *dir
	if d == "" {
		var err error
		if d, err = os.MkdirTemp("", "testregistry-"); err != nil {
			fmt.Fprintf(os.Stderr, "testregistry: %v\n", err)
			return 1
		}
		defer os.RemoveAll(d)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	r, err := registrytest.New(d, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testregistry: %v\n", err)
		return 1
	}
	defer r.Close()
	if r.CertDir != "" {
		if err := os.WriteFile(*addrFile+".certdir", []byte(r.CertDir+"\n"), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "testregistry: %v\n", err)
			return 1
		}
	}
	addr := r.Addr
	if *stall {
		if addr, err = stallBlobs(r.Addr); err != nil {
			fmt.Fprintf(os.Stderr, "testregistry: %v\n", err)
			return 1
		}
	}
	// Written last and whole (rename), so a poller never reads half of it.
	tmp := *addrFile + ".tmp"
	err = os.WriteFile(tmp, []byte(addr+"\n"), 0o644)
	if err == nil {
		err = os.Rename(tmp, *addrFile)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "testregistry: %v\n", err)
		return 1
	}
	if err := r.Wait(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "testregistry: registry exited: %v\n", err)
		return 1
	}
	return 0
}
