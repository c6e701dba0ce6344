package cli

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestUnitRunArgs(t *testing.T) {
	for _, c := range []struct {
		cmd  string
		want string
		err  string
	}{
		{cmd: "box run -d --name web -p 8080:80 img httpd -f", want: "run --rm --sdnotify=conmon --name web -p 8080:80 img httpd -f"},
		{cmd: "box run -dit --name=web -e A=1 --rm img sh -c 'x'", want: "run --rm --sdnotify=conmon --name web -e A=1 img sh -c 'x'"},
		{cmd: "box --debug container create -t --restart always --name web -v /a:/b img", want: "--debug run --rm --sdnotify=conmon --name web -v /a:/b img"},
		// Values that look like flags stay values; after the image all is the command's.
		{cmd: "box run -d -e -d --name web img -d --rm", want: "run --rm --sdnotify=conmon --name web -e -d img -d --rm"},
		{cmd: "box run -dp8080:80 --name web img", want: "run --rm --sdnotify=conmon --name web -p8080:80 img"},
		{cmd: "box run -d -p 1:2 --no-sig-proxy --health-cmd 'true' --name web img", want: "run --rm --sdnotify=conmon --name web -p 1:2 --no-sig-proxy --health-cmd 'true' img"},
		{cmd: "box run -d --cidfile /x --name web -- img", want: "run --rm --sdnotify=conmon --name web -- img"},
		{cmd: "box run -d --sdnotify ignore --name web img", want: "run --rm --sdnotify=conmon --name web img"},
		{cmd: "box", err: "not recorded"},
		{cmd: "box exec web true", err: "not box run or create"},
		{cmd: "box run -d --bogus img", err: "--bogus, which this box does not know"},
		{cmd: "box run -d -Z img", err: "-Z, which this box does not know"},
		{cmd: "box run -d --name web", err: "names no image"},
	} {
		got, err := unitRunArgs(strings.Fields(c.cmd), "web")
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: got %q, %v; want error with %q", c.cmd, got, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, strings.Fields(c.want)) {
			t.Errorf("%s:\n got %q, %v\nwant %q", c.cmd, got, err, strings.Fields(c.want))
		}
	}
}

func TestSystemdQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/box":    "/usr/bin/box",
		"a b":             `"a b"`,
		`say "hi"`:        `"say \"hi\""`,
		"100%":            "100%%",
		"$HOME":           "$$HOME",
		"":                `""`,
		`C:\x`:            `"C:\\x"`,
		";":               `";"`,
		"echo $X; a%b\tc": `"echo $$X; a%%b\tc"`,
	} {
		if got := systemdQuote(in); got != want {
			t.Errorf("systemdQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestReadyTellsSystemd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	if err := (&sdnotifyFlag{SdNotify: "ignore"}).ready(); err != nil {
		t.Fatal(err)
	}
	if err := (&sdnotifyFlag{SdNotify: "conmon"}).ready(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	_ = ln.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := ln.Read(buf)
	if err != nil {
		t.Fatalf("nothing said: %v", err)
	}
	// One datagram: conmon's, not ignore's.
	if got, want := string(buf[:n]), "READY=1\nMAINPID="+strconv.Itoa(os.Getpid())+"\n"; got != want {
		t.Errorf("said %q, want %q", got, want)
	}
	_ = ln.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := ln.Read(buf); err == nil {
		t.Errorf("a second message: %q", buf[:n])
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := (&sdnotifyFlag{SdNotify: "conmon"}).ready(); err != nil {
		t.Errorf("without systemd, ready must say nothing and not fail: %v", err)
	}
	if err := (&sdnotifyFlag{SdNotify: "container"}).checkSdNotify(); err == nil || !strings.Contains(err.Error(), "--sdnotify=conmon") {
		t.Errorf("--sdnotify=container: %v", err)
	}
}
