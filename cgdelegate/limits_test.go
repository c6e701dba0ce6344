package cgdelegate

import (
	"reflect"
	"strings"
	"testing"
)

func TestFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    Limits
		want map[string]string
		err  string
	}{
		{name: "none", l: Limits{}, want: map[string]string{}},
		{name: "memory", l: Limits{Memory: 32 << 20, MemoryReservation: 16 << 20, MemorySwap: 64 << 20},
			want: map[string]string{"memory.max": "33554432", "memory.low": "16777216", "memory.swap.max": "33554432"}},
		{name: "unlimited swap", l: Limits{Memory: 32 << 20, MemorySwap: -1},
			want: map[string]string{"memory.max": "33554432", "memory.swap.max": "max"}},
		{name: "cpus", l: Limits{NanoCPUs: 1_500_000_000}, want: map[string]string{"cpu.max": "150000 100000"}},
		{name: "cpu shares as runc", l: Limits{CPUShares: 1024}, want: map[string]string{"cpu.weight": "39"}},
		{name: "cpu weight", l: Limits{CPUWeight: 500}, want: map[string]string{"cpu.weight": "500"}},
		{name: "pids", l: Limits{PidsLimit: 20, CpusetCpus: "0-1,3"}, want: map[string]string{"pids.max": "20", "cpuset.cpus": "0-1,3"}},
		{name: "io", l: Limits{BlkioWeight: 500, DeviceReadBps: map[string]int64{"8:0": 1048576}, DeviceWriteIOps: map[string]int64{"8:0": 100}},
			want: map[string]string{"io.weight": "default 4950", "io.max": "8:0 rbps=1048576 wiops=100"}},
		{name: "memory too small", l: Limits{Memory: 1 << 20}, err: "minimum"},
		{name: "reservation above memory", l: Limits{Memory: 32 << 20, MemoryReservation: 64 << 20}, err: "below --memory"},
		{name: "swap without memory", l: Limits{MemorySwap: 64 << 20}, err: "needs --memory"},
		{name: "swap below memory", l: Limits{Memory: 64 << 20, MemorySwap: 32 << 20}, err: "at least --memory"},
		{name: "tiny cpus", l: Limits{NanoCPUs: 1_000_000}, err: "minimum"},
		{name: "shares and weight", l: Limits{CPUShares: 512, CPUWeight: 100}, err: "same thing"},
		{name: "bad cpuset", l: Limits{CpusetCpus: "3-1"}, err: "cpuset"},
		{name: "bad blkio weight", l: Limits{BlkioWeight: 5}, err: "10 to 1000"},
		{name: "negative", l: Limits{Memory: -5}, err: "negative"},
	} {
		got, err := tc.l.Files()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: Files() = %v, %v; want an error with %q", tc.name, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Files() = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestControllers(t *testing.T) {
	got := Controllers(map[string]string{"memory.max": "1", "memory.low": "1", "pids.max": "2", "cpu.max": "x"})
	if want := []string{"cpu", "memory", "pids"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Controllers = %v, want %v", got, want)
	}
}

func TestParseSelf(t *testing.T) {
	hybrid := "12:pids:/user.slice\n1:name=systemd:/user.slice/x\n0::/user.slice/user-1000.slice/session-2.scope\n"
	if p, ok := ParseSelf([]byte(hybrid)); !ok || p != "/user.slice/user-1000.slice/session-2.scope" {
		t.Errorf("ParseSelf(hybrid) = %q, %v", p, ok)
	}
	if _, ok := ParseSelf([]byte("4:memory:/x\n")); ok {
		t.Errorf("ParseSelf(v1 only) found a v2 path")
	}
}

func TestParseFlatKeyed(t *testing.T) {
	got := parseFlatKeyed([]byte("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"))
	if got["oom_kill"] != 1 || got["max"] != 3 || len(got) != 5 {
		t.Errorf("parseFlatKeyed = %v", got)
	}
}

func TestParseIOStat(t *testing.T) {
	in := "8:0 rbytes=4096 wbytes=1048576 rios=1 wios=256 dbytes=0 dios=0\n254:0 rbytes=10 wbytes=20 rios=1 wios=1 dbytes=0 dios=0\n"
	r, w := parseIOStat([]byte(in))
	if r != 4106 || w != 1048596 {
		t.Errorf("parseIOStat = %d, %d; want 4106, 1048596", r, w)
	}
}

func TestMerge(t *testing.T) {
	old := Limits{Memory: 64 << 20, CPUShares: 512, PidsLimit: 10, DeviceReadBps: map[string]int64{"8:0": 1}}
	got := old.Merge(Limits{CPUWeight: 50, PidsLimit: -1, DeviceReadBps: map[string]int64{"8:16": 2}})
	want := Limits{Memory: 64 << 20, CPUWeight: 50, PidsLimit: -1, DeviceReadBps: map[string]int64{"8:0": 1, "8:16": 2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Merge = %+v, want %+v", got, want)
	}
	if len(old.DeviceReadBps) != 1 {
		t.Errorf("Merge changed its receiver's map: %v", old.DeviceReadBps)
	}
	if !(Limits{}).Zero() || got.Zero() || (Limits{MemorySwap: 1}).Zero() {
		t.Error("Zero is wrong")
	}
}
