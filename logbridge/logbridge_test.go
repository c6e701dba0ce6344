package logbridge

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

func TestLine(t *testing.T) {
	for _, c := range []struct {
		level   logrus.Level
		fn, msg string
		data    logrus.Fields
		want    string
	}{
		{logrus.ErrorLevel, "go.podman.io/storage.(*store).PutLayer.func1", "Error cleaning up temporary directories: boom\n", nil,
			"containers/storage (error): Error cleaning up temporary directories: boom"},
		{logrus.WarnLevel, "go.podman.io/storage.(*layerStore).load", `Found incomplete layer "x", deleting it`, nil,
			`containers/storage: Found incomplete layer "x", deleting it`},
		{logrus.DebugLevel, "go.podman.io/image/v5/copy.(*copier).copyLayer", "Skipping blob", logrus.Fields{"b": 2, "a": "1"},
			"containers/image (debug): Skipping blob a=1 b=2"},
		{logrus.WarnLevel, "github.com/x/y/pkg.(*T).M", "hm", nil, "github.com/x/y/pkg: hm"},
		{logrus.WarnLevel, "", "hm", nil, "a library: hm"},
	} {
		if got := Line(c.level, c.fn, c.msg, c.data); got != c.want {
			t.Errorf("Line(%v, %q, %q) = %q, want %q", c.level, c.fn, c.msg, got, c.want)
		}
	}
}

// Nothing reaches stderr raw; warnings and errors reach warn, debug lines
// only with debug.
func TestInstall(t *testing.T) {
	// logrus's own output, stderr by default.
	r, w, _ := os.Pipe()
	logrus.SetOutput(w)
	var got []string
	Install(func(s string) { got = append(got, s) }, false)
	logrus.Errorf("level %s", "error")
	logrus.Warnf("a warning")
	logrus.Infof("info")
	logrus.Debugf("debug")
	if len(got) != 2 || !strings.Contains(got[0], "(error): level error") || !strings.HasSuffix(got[1], ": a warning") {
		t.Errorf("without debug: %q", got)
	}
	got = nil
	Install(func(s string) { got = append(got, s) }, true)
	logrus.Debugf("debug")
	if len(got) != 1 || !strings.HasSuffix(got[0], "(debug): debug") {
		t.Errorf("with debug: %q", got)
	}
	w.Close()
	var out bytes.Buffer
	out.ReadFrom(r)
	if out.Len() != 0 {
		t.Errorf("logrus wrote to stderr: %q", out.String())
	}
}
