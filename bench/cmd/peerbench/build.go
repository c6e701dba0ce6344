package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// buildFiles is how many source files the build benchmark's context has.
const buildFiles = 3000

// buildDockerfile is the build benchmark's Dockerfile: steps that run
// commands, a COPY of the whole context, two stages.
const buildDockerfile = `FROM box-test/busybox AS build
RUN mkdir -p /out && echo building > /out/log
COPY src /src
RUN find /src -type f | sort | xargs cat | md5sum > /out/sum && tar -cf /out/src.tar -C /src .
RUN ls -R /src | wc -l > /out/count

FROM box-test/busybox
COPY --from=build /out /app
RUN ls /app > /app/listing
CMD ["cat", "/app/sum"]
`

// buildBench: box build against podman build (buildah) on the same
// Dockerfile and context: a cold build (no cache, the base image
// stored), a rebuild with nothing changed, and a rebuild after one
// source file changed. Each sample is the three in that order; the cache
// is emptied, untimed, before each.
func (s *suite) buildBench(ctx context.Context) (*benchmark, error) {
	dir := filepath.Join(s.work, "buildctx")
	if err := writeBuildContext(dir); err != nil {
		return nil, err
	}
	b := &benchmark{
		id: "build", title: "build: multi-stage, RUN, COPY of a 3000-file context",
		metrics: []metric{
			{key: "cold", title: "cold build", unit: "s"},
			{key: "cached", title: "rebuild, nothing changed", unit: "s"},
			{key: "onefile", title: "rebuild, one source file changed", unit: "s"},
		},
		ref: "box", reps: s.opt.buildReps, warmup: min(s.opt.warmup, 1),
	}
	changed := filepath.Join(dir, "src", "d07", "f0042.txt")
	sample := func(t *tool, build []string, clean [][]string) func(context.Context, int) (map[string]float64, error) {
		return func(ctx context.Context, rep int) (map[string]float64, error) {
			for _, c := range clean {
				if _, err := t.output(ctx, c...); err != nil && !strings.Contains(err.Error(), "image not known") && !strings.Contains(err.Error(), "not found") {
					return nil, err
				}
			}
			out := map[string]float64{}
			for _, key := range []string{"cold", "cached", "onefile"} {
				if key == "onefile" {
					if err := os.WriteFile(changed, []byte(fmt.Sprintf("changed for repetition %d of %s\n", rep, t.name)), 0o644); err != nil {
						return nil, err
					}
				}
				x, err := t.timed(ctx, build...)
				if err != nil {
					return nil, err
				}
				out[key] = x
			}
			return out, nil
		}
	}
	boxBuild := []string{"build", "-q", "-t", "bench/built", dir}
	b.variants = append(b.variants, &variant{
		name:    "box",
		cmd:     s.box.line(boxBuild...),
		measure: sample(s.box, boxBuild, [][]string{{"rmi", "-f", "bench/built"}, {"builder", "prune", "-f"}}),
	})
	if s.podman != nil {
		podBuild := []string{"build", "-q", "--pull=never", "--layers", "-t", "bench/built", dir}
		b.variants = append(b.variants, &variant{
			name:    "podman",
			cmd:     s.podman.line(podBuild...),
			measure: sample(s.podman, podBuild, [][]string{{"rmi", "-f", "bench/built"}, {"image", "prune", "-f"}}),
		})
	} else {
		b.skipped = append(b.skipped, "podman: not installed")
	}
	b.notes = append(b.notes,
		fmt.Sprintf("the context: %d files of 1–8 KiB in 30 directories; the Dockerfile: two stages, four RUNs, a COPY of the context and a COPY --from", buildFiles),
		"before each sample, untimed: the built image and the build cache are removed (box rmi + builder prune; podman rmi + image prune, which removes buildah's intermediate images); the base image stays",
		"the one-file rebuild changes one file's content: its COPY and the steps after it run again, in both stages")
	b.run(ctx, logf)
	return b, nil
}

// writeBuildContext writes the Dockerfile and buildFiles source files of
// 1–8 KiB, the same on every run.
func writeBuildContext(dir string) error {
	r := rand.New(rand.NewPCG(20, 20))
	words := []string{"box", "build", "layer", "stage", "copy", "run", "cache", "digest", "overlay", "namespace"}
	for i := range buildFiles {
		sub := filepath.Join(dir, "src", fmt.Sprintf("d%02d", i%30))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		var b strings.Builder
		for n := 1024 + r.IntN(7*1024); b.Len() < n; {
			b.WriteString(words[r.IntN(len(words))])
			b.WriteByte(" \n"[r.IntN(2)])
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%04d.txt", i/30)), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(buildDockerfile), 0o644)
}
