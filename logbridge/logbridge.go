// Package logbridge hands what containers/storage and containers/image log
// (through logrus's standard logger) to box's own warnings: one line each,
// saying which library spoke, instead of logrus's "level=error msg=..."
// lines raw on stderr, outside box's output conventions.
//
// Install changes the process-wide logrus logger; call it once, early, in
// a box process that uses those libraries (the CLI, the stage).
package logbridge

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/sirupsen/logrus"
)

// Install routes logrus to warn: warnings and errors always, the rest
// only with debug (box --debug).
func Install(warn func(string), debug bool) {
	logrus.SetOutput(io.Discard)
	level := logrus.WarnLevel
	if debug {
		level = logrus.DebugLevel
	}
	logrus.SetLevel(level)
	// Which library spoke is in the caller's package, which logrus finds
	// only for the entries it keeps.
	logrus.SetReportCaller(true)
	logrus.StandardLogger().ReplaceHooks(logrus.LevelHooks{})
	logrus.AddHook(hook{warn: warn})
}

type hook struct{ warn func(string) }

func (hook) Levels() []logrus.Level { return logrus.AllLevels }

func (h hook) Fire(e *logrus.Entry) error {
	fn := ""
	if e.Caller != nil {
		fn = e.Caller.Function
	}
	h.warn(Line(e.Level, fn, e.Message, e.Data))
	return nil
}

// Line is how box words one entry: its source, its level unless it is a
// warning, the message, and its fields in order.
func Line(level logrus.Level, function, msg string, data logrus.Fields) string {
	var b strings.Builder
	b.WriteString(source(function))
	if level != logrus.WarnLevel {
		fmt.Fprintf(&b, " (%s)", level)
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimSpace(msg))
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%v", k, data[k])
	}
	return b.String()
}

// source names the library a function belongs to.
func source(function string) string {
	for _, lib := range []struct{ path, name string }{
		{"podman.io/storage", "containers/storage"},
		{"podman.io/image", "containers/image"},
		{"github.com/containers/storage", "containers/storage"},
		{"github.com/containers/image", "containers/image"},
	} {
		if strings.Contains(function, lib.path) {
			return lib.name
		}
	}
	if function == "" {
		return "a library"
	}
	// "github.com/x/y/pkg.(*T).Method": the package path.
	pkg := function
	if i := strings.LastIndexByte(pkg, '/'); i >= 0 {
		if j := strings.IndexByte(pkg[i:], '.'); j >= 0 {
			pkg = pkg[:i+j]
		}
	}
	return pkg
}
