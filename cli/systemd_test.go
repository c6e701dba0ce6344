package cli

import (
	"slices"
	"strings"
	"testing"
)

func TestUnitRunArgs(t *testing.T) {
	for _, c := range []struct {
		cmd  string
		want string
		err  string
	}{
		{cmd: "box run -d --name web -p 8080:80 img httpd -f", want: "run --rm --name web -p 8080:80 img httpd -f"},
		{cmd: "box run -dit --name=web -e A=1 --rm img sh -c 'x'", want: "run --rm --name web -e A=1 img sh -c 'x'"},
		{cmd: "box --debug container create -t --restart always --name web -v /a:/b img", want: "--debug run --rm --name web -v /a:/b img"},
		// Values that look like flags stay values; after the image all is the command's.
		{cmd: "box run -d -e -d --name web img -d --rm", want: "run --rm --name web -e -d img -d --rm"},
		{cmd: "box run -dp8080:80 --name web img", want: "run --rm --name web -p8080:80 img"},
		{cmd: "box run -d -p 1:2 --no-sig-proxy --health-cmd 'true' --name web img", want: "run --rm --name web -p 1:2 --no-sig-proxy --health-cmd 'true' img"},
		{cmd: "box run -d --cidfile /x --name web -- img", want: "run --rm --name web -- img"},
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
