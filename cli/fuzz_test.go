package cli

import (
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	units "github.com/docker/go-units"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/volume"
)

// errOneLine fails t when err's message spans lines: box prints errors as
// "box: <message>", and a value the user gave must not break that up.
func errOneLine(t *testing.T, what string, err error) {
	t.Helper()
	if strings.ContainsAny(err.Error(), "\n\r") {
		t.Fatalf("%s: error %q spans lines", what, err)
	}
}

// Options a bind or anonymous volume may carry, and those a tmpfs may:
// the flags sandbox.tmpfsOptions turns into mount flags, and the tmpfs
// parameters the kernel takes as data. Kept apart from parse.go's list on
// purpose: this is what the mount code downstream can use.
var (
	bindOptions     = []string{"ro", "rw"}
	tmpfsFlagWords  = []string{"", "ro", "readonly", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev", "inode32", "inode64", "noswap", "quota", "usrquota", "grpquota", "casefold", "strict_encoding"}
	tmpfsDataParams = []string{"size", "nr_blocks", "nr_inodes", "mode", "uid", "gid", "huge", "mpol", "usrquota_block_hardlimit", "usrquota_inode_hardlimit", "grpquota_block_hardlimit", "grpquota_inode_hardlimit", "casefold"}
)

// checkMount holds a mount a parser accepted to what the rest of box
// assumes of one.
func checkMount(t *testing.T, what string, m container.Mount) {
	t.Helper()
	fields := append([]string{m.Type, m.Source, m.Destination, m.Name}, m.Options...)
	for _, s := range fields {
		if strings.ContainsRune(s, 0) {
			t.Fatalf("%s = %+v: NUL byte in %q", what, m, s)
		}
	}
	if !filepath.IsAbs(m.Destination) || filepath.Clean(m.Destination) != m.Destination {
		t.Fatalf("%s = %+v: destination %q is not absolute and clean", what, m, m.Destination)
	}
	switch m.Type {
	case "bind":
		if !filepath.IsAbs(m.Source) || filepath.Clean(m.Source) != m.Source {
			t.Fatalf("%s = %+v: bind source %q is not absolute and clean", what, m, m.Source)
		}
	case "volume":
		if m.Source != "" {
			t.Fatalf("%s = %+v: a volume with a source", what, m)
		}
	case "tmpfs":
		if m.Source != "" {
			t.Fatalf("%s = %+v: a tmpfs with a source", what, m)
		}
	default:
		t.Fatalf("%s = %+v: type %q", what, m, m.Type)
	}
	for _, o := range m.Options {
		if m.Type != "tmpfs" {
			if !slices.Contains(bindOptions, o) {
				t.Fatalf("%s = %+v: option %q on a %s mount", what, m, o, m.Type)
			}
			continue
		}
		if strings.Contains(o, ",") {
			t.Fatalf("%s = %+v: option %q would split into several", what, m, o)
		}
		k, v, kv := strings.Cut(o, "=")
		if kv && (!slices.Contains(tmpfsDataParams, k) || v == "") || !kv && !slices.Contains(tmpfsFlagWords, k) {
			t.Fatalf("%s = %+v: unknown tmpfs option %q", what, m, o)
		}
	}
	if m.Anonymous || m.Name != "" && (m.Type != "volume" || volume.CheckName(m.Name) != nil) {
		t.Fatalf("%s = %+v: only a named volume has a name, and a valid one", what, m)
	}
}

// mountSeeds are specs in all three syntaxes, good and bad, mixed: each
// parser must cope with the others' input too.
var mountSeeds = []string{
	"/src:/dst", "/src:/dst:ro", "/src:/dst/../x:rw,z", "/data", "./rel:/d", "~/x:/y:Z", "~:/home/u",
	"data", "/src:rel", "name:/dst", "/a:/b:bogus", "/a:/b:ro:x", ":/b", "/a:", "/a:/b:", "/a:/b:,,",
	"/a:/:ro", "/a:/b/./c//", "/a:/b\x00c", "/a\x00:/b", "/a:/b\n", "/a:/b:ro\x00",
	"type=bind,source=/a,target=/b", "type=bind,src=/a,dst=/b,readonly", "type=bind,src=/a,dst=/b,readonly=false",
	"type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=700", "type=bind,target=/b", "type=tmpfs,src=/x,target=/t",
	"type=volume,target=/t", "type=volume,source=v,target=/t", "type=bind,source=/a,target=rel",
	"type=bind,source=/a,target=/b,wat=1", "TYPE=tmpfs,Target=/t,RO=1", "type=tmpfs,target=/t,readonly=maybe",
	"type=npipe,target=/t", "type=tmpfs,target=/t,tmpfs-size=1\x00", "target=/x,target=", "type=,target=/t",
	"/run:size=1m,noexec", "/run:mode=1777,uid=0,gid=0,nr_inodes=1k", "/t:ro,exec,suid,dev", "/t:bogus", "/t:size=",
	"/t:size=1m=2", "/t:,", "/t:x\x00", "rel:size=1m", "/t/../..:rw", "//t//u/:", "/t\n:size=1",
}

// FuzzParseVolume: -v HOST:CONTAINER[:OPTIONS].
func FuzzParseVolume(f *testing.F) {
	t0 := f.TempDir()
	f.Setenv("HOME", t0)
	for _, s := range mountSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		m, err := parseVolume(spec)
		if err != nil {
			errOneLine(t, fmt.Sprintf("parseVolume(%q)", spec), err)
			return
		}
		checkMount(t, fmt.Sprintf("parseVolume(%q)", spec), m)
		if m.Type == "tmpfs" {
			t.Fatalf("parseVolume(%q) = %+v: -v makes no tmpfs", spec, m)
		}
	})
}

// FuzzParseMount: --mount type=...,source=...,target=...,...
func FuzzParseMount(f *testing.F) {
	t0 := f.TempDir()
	f.Setenv("HOME", t0)
	for _, s := range mountSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		m, err := parseMount(spec)
		if err != nil {
			errOneLine(t, fmt.Sprintf("parseMount(%q)", spec), err)
			return
		}
		checkMount(t, fmt.Sprintf("parseMount(%q)", spec), m)
	})
}

// FuzzParseTmpfs: --tmpfs PATH[:OPTIONS].
func FuzzParseTmpfs(f *testing.F) {
	for _, s := range mountSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		m, err := parseTmpfs(spec)
		if err != nil {
			errOneLine(t, fmt.Sprintf("parseTmpfs(%q)", spec), err)
			return
		}
		checkMount(t, fmt.Sprintf("parseTmpfs(%q)", spec), m)
		if m.Type != "tmpfs" {
			t.Fatalf("parseTmpfs(%q) = %+v: not a tmpfs", spec, m)
		}
	})
}

// cpusetRE is the kernel's CPU list syntax (without its stride form).
var cpusetRE = regexp.MustCompile(`^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$`)

// FuzzLimits feeds the resource flags of run, create and update through
// limitFlags.parse and then cgdelegate's checks (limits), as box does.
// The device flags stat their path, so they get only paths that do not
// exist, with a fuzzed value. Invariants: no panic; errors on one line;
// accepted values in range and equal to what the flag says (no overflow
// on the way); cgroup file values well-formed.
func FuzzLimits(f *testing.F) {
	type seed struct {
		mem, res, swap, cpus, cpuset string
		shares, weight, pids, blkio  int64
		dev                          string
	}
	for _, s := range []seed{
		{"512m", "256m", "1g", "1.5", "0-3,5", 1024, 0, 100, 500, "1mb"},
		{"", "", "-1", "", "", 0, 100, -1, 0, "10"},
		{"6m", "", "", "0.01", "0", 2, 0, 0, 10, ""},
		{"1k", "2g", "512m", "0.001", "3-1", 1, 10001, -2, 1001, "0"},
		{"-1", "-5m", "-2", "-1", "-0", -1, -1, 0, -1, "-1"},
		{"1e3", "0x1p4", "1.5g", "1e400", "+1", 262145, 0, 1 << 62, 9, "1e3kb"},
		{"NaN", "Inf", "9223372036854775807", "NaN", "1--2", 0, 0, 0, 0, "9e99"},
		{"9.3e18", "8e18", "9.2e18", "Inf", "0-99999999999999999999", 0, 0, 0, 0, "x"},
		{"1 g", "1.g", "1gib", "1e8", " 1", math.MaxInt64, math.MinInt64, math.MinInt64, math.MaxInt64, "1 kb"},
		{"100000g", "", "", "92233.72", "0,,1", 0, 0, 0, 0, "1"},
		{"1p", "", "", "200000", "1-\n2", 0, 0, 0, 0, "1\n"},
		// One bad value among good ones: each once broke an invariant.
		{"", "", "", "NaN", "", 0, 0, 0, 0, ""},
		{"", "", "", "+Inf", "", 0, 0, 0, 0, ""},
		{"", "", "", "1e10", "", 0, 0, 0, 0, ""},
		{"", "", "", "200000", "", 0, 0, 0, 0, ""},
		{"", "", "", "", "+1", 0, 0, 0, 0, ""},
		{"", "", "", "", "0--0", 0, 0, 0, 0, ""},
	} {
		f.Add(s.mem, s.res, s.swap, s.cpus, s.cpuset, s.shares, s.weight, s.pids, s.blkio, s.dev)
	}
	f.Fuzz(func(t *testing.T, mem, res, swap, cpus, cpuset string, shares, weight, pids, blkio int64, dev string) {
		fl := limitFlags{
			Memory: mem, MemoryReservation: res, MemorySwap: swap, CPUs: cpus, CpusetCpus: cpuset,
			CPUShares: shares, CPUWeight: weight, PidsLimit: pids, BlkioWeight: blkio,
		}
		what := fmt.Sprintf("%+v", fl)
		if dev != "" {
			// A path that cannot exist: the value is what is fuzzed.
			spec := "/nonexistent/box-fuzz/dev:" + dev
			fl.DeviceReadBps, fl.DeviceWriteIOps = []string{spec}, []string{spec}
			if _, err := fl.parse(); err == nil {
				t.Fatalf("limitFlags.parse accepted device %q", spec)
			} else {
				errOneLine(t, what, err)
			}
			fl.DeviceReadBps, fl.DeviceWriteIOps = nil, nil
		}

		// ramFlag on its own, against go-units.
		for _, s := range []string{mem, res, swap} {
			n, err := ramFlag("--memory", s)
			if err != nil {
				errOneLine(t, fmt.Sprintf("ramFlag(%q)", s), err)
				continue
			}
			if n < 0 {
				t.Fatalf("ramFlag(%q) = %d", s, n)
			}
			if s == "" {
				if n != 0 {
					t.Fatalf("ramFlag(\"\") = %d", n)
				}
			} else if want, err := units.RAMInBytes(s); err != nil || want != n {
				t.Fatalf("ramFlag(%q) = %d; go-units says %d, %v", s, n, want, err)
			}
		}

		l, err := fl.parse()
		if err != nil {
			errOneLine(t, what, err)
			return
		}
		if l.Memory < 0 || l.MemoryReservation < 0 || l.MemorySwap < -1 || (l.MemorySwap == -1) != (swap == "-1") {
			t.Fatalf("parse(%s) = %+v: memory out of range", what, l)
		}
		if l.NanoCPUs < 0 {
			t.Fatalf("parse(%s) = %+v: negative --cpus", what, l)
		}
		if cpus != "" {
			n, err := strconv.ParseFloat(cpus, 64)
			if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
				t.Fatalf("parse(%s) accepted --cpus %q", what, cpus)
			}
			// int64 truncation: within one nanocpu, relative error aside.
			if got := float64(l.NanoCPUs); math.Abs(got-n*1e9) > 1+n*1e9*1e-15 {
				t.Fatalf("parse(%s): --cpus %q gave %d nano-CPUs", what, cpus, l.NanoCPUs)
			}
		} else if l.NanoCPUs != 0 {
			t.Fatalf("parse(%s) = %+v: nano-CPUs without --cpus", what, l)
		}
		if l.CPUShares != shares || l.CPUWeight != weight || l.PidsLimit != pids || l.BlkioWeight != blkio || l.CpusetCpus != cpuset {
			t.Fatalf("parse(%s) = %+v: a value changed on the way", what, l)
		}

		files, err := l.Files()
		if err != nil {
			errOneLine(t, what, err)
			return
		}
		for k, v := range files {
			if v == "" || strings.ContainsAny(v, "\n\x00") && k != "io.max" {
				t.Fatalf("parse(%s): cgroup file %s = %q", what, k, v)
			}
		}
		if q, ok := files["cpu.max"]; ok {
			// Docker's period is 100ms: the quota is nano-CPUs / 10^4.
			if want := fmt.Sprintf("%d 100000", l.NanoCPUs/10000); q != want || l.NanoCPUs/10000 < 1000 {
				t.Fatalf("parse(%s): cpu.max = %q for %d nano-CPUs, want %q", what, q, l.NanoCPUs, want)
			}
		}
		if c, ok := files["cpuset.cpus"]; ok && !cpusetRE.MatchString(c) {
			t.Fatalf("parse(%s): cpuset.cpus = %q, which the kernel's list syntax does not have", what, c)
		}
		for _, k := range []string{"memory.max", "memory.low", "pids.max", "memory.swap.max"} {
			if v, ok := files[k]; ok && v != "max" {
				if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
					t.Fatalf("parse(%s): %s = %q", what, k, v)
				}
			}
		}
	})
}

// FuzzEnvFile: --env-file contents through parseEnvFile, then with -e
// values through buildEnv. Invariants: no panic; errors on one line;
// every variable that comes out has a non-empty name without '=', ASCII
// blanks or control characters (NUL, newline), a value without NUL; nothing
// comes out that was not put in (or looked up).
func FuzzEnvFile(f *testing.F) {
	for _, s := range []string{
		"# comment\n\nA=1\n  B=\"quoted\"\nC\n", "ok=1\nbad name=2\n", "=x", "A=1\r\nB=2\r\n", "\tK=v w\n",
		"A\x00B=1", "A=1\x00", "\x00", "A\vB=1", "A\u00a0B=1", "#only\n#comments", "A==\n==A", "A=\n",
		"K=" + strings.Repeat("v", 70000), "\xff\xfe=1", "HOSTVAR\nUNSET\nHOSTVAR=x",
		"\uFEFFA=1\n\uFEFFB=2", "A\u0085B=1", "A=\xff", "K=" + strings.Repeat("v", maxEnvEntry),
	} {
		f.Add(s, "E=1")
		f.Add(s, "HOSTVAR")
	}
	f.Add("A=1", "bad key=1")
	f.Add("A=1", "=1")
	f.Add("A=1", "K\n=1")
	f.Add("A=1", "K=\x00")
	lookup := func(k string) (string, bool) {
		if k == "HOSTVAR" {
			return "from-host", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, file, flag string) {
		vals, err := parseEnvFile(strings.NewReader(file), "env.list")
		if err != nil {
			errOneLine(t, fmt.Sprintf("parseEnvFile(%q)", file), err)
			if vals != nil {
				t.Fatalf("parseEnvFile(%q) = %q with error %v", file, vals, err)
			}
			return
		}
		for _, kv := range vals {
			checkEnvKey(t, fmt.Sprintf("parseEnvFile(%q)", file), kv, false)
		}
		in := append(slices.Clone(vals), flag)
		env, err := buildEnv(nil, in, lookup)
		if err != nil {
			errOneLine(t, fmt.Sprintf("buildEnv(%q)", in), err)
			return
		}
		if len(env) > len(in) {
			t.Fatalf("buildEnv(%q) = %q: more than went in", in, env)
		}
		for _, kv := range env {
			checkEnvKey(t, fmt.Sprintf("buildEnv(%q)", in), kv, true)
			k, _, _ := strings.Cut(kv, "=")
			if !slices.ContainsFunc(in, func(s string) bool { return s == kv || s == k }) {
				t.Fatalf("buildEnv(%q) = %q: %q came from nowhere", in, env, kv)
			}
		}
	})
}

func checkEnvKey(t *testing.T, what, kv string, needValue bool) {
	t.Helper()
	k, v, ok := strings.Cut(kv, "=")
	if k == "" || (needValue && !ok) {
		t.Fatalf("%s: entry %q has no name (or no value)", what, kv)
	}
	if strings.ContainsRune(v, 0) {
		t.Fatalf("%s: entry %q has a NUL in its value", what, kv)
	}
	for _, r := range k {
		if r <= ' ' || r == 0x7f || unicode.IsSpace(r) || unicode.IsControl(r) {
			t.Fatalf("%s: entry %q has a bad name %q", what, kv, k)
		}
	}
	if !utf8.ValidString(kv) || len(kv) > maxEnvEntry {
		t.Fatalf("%s: entry %q is not UTF-8 or longer than exec takes", what, kv)
	}
}
