package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/boxcli/box/registrytest"
)

// pullTree is what the pull benchmark's layer holds: parts of a Go
// installation, fixed for a Go version (source, which compresses well,
// and the go and gofmt binaries, which do not), about 85 MB and 6000
// files in a ~26 MB gzip layer: a small distribution's size and mix.
var pullTree = []string{
	"bin", "lib", "misc",
	"src/runtime", "src/net", "src/crypto", "src/internal", "src/syscall", "src/go",
	"src/encoding", "src/debug", "src/math", "src/time", "src/os", "src/reflect",
}

const pullRepo = "bench/gotree"

// pullImages are the images in the registry: one per repetition, all
// alike but for one small file, so each has a layer of its own and no
// sample finds the last one's layer, while nothing has to be deleted
// between samples (see fileIO on ext4 without a journal).
type pullImages struct {
	addr      string   // 127.0.0.1:PORT
	layers    []string // per repetition: the gzip layer blob, a file
	size      int64    // a layer's bytes
	rawBytes  int64    // the uncompressed tar's bytes
	files     int
	goVersion string
}

func (p *pullImages) ref(rep int) string { return fmt.Sprintf("%s/%s:r%d", p.addr, pullRepo, rep) }

// buildPullImages writes the common part of the layer once (a gzip member
// of the tree's entries: deterministic, sorted, mtime 0, owner 0:0), then
// per repetition a second gzip member holding one small file and the end
// of the archive (a gzip file may hold several members; every gunzip
// reads on), and pushes one image per repetition to a registry on
// 127.0.0.1 that lives as long as the suite. The digests come from hash
// states saved after the common part, so an image costs its tail and an
// upload, not a pass over 85 MB.
func (s *suite) buildPullImages(ctx context.Context, n int) (*pullImages, error) {
	src := s.opt.pullSrc
	ver, err := os.ReadFile(filepath.Join(src, "VERSION"))
	if err != nil {
		return nil, fmt.Errorf("-pull-src %s is not a Go installation: %w", src, err)
	}
	dir := filepath.Join(s.work, "pullimage")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p := &pullImages{goVersion: strings.SplitN(string(ver), "\n", 2)[0]}
	start := time.Now()
	base := filepath.Join(dir, "base.gz")
	rawHash, err := p.writeBase(src, base)
	if err != nil {
		return nil, err
	}
	gzHash := sha256.New()
	baseData, err := os.ReadFile(base)
	if err != nil {
		return nil, err
	}
	gzHash.Write(baseData)
	regDir := filepath.Join(s.work, "registry")
	if err := os.MkdirAll(regDir, 0o700); err != nil {
		return nil, err
	}
	reg, err := registrytest.New(regDir, registrytest.Options{})
	if err != nil {
		return nil, err
	}
	s.undo = append(s.undo, reg.Close)
	p.addr = reg.Addr
	up := &uploader{base: reg.URL() + "/v2/" + pullRepo, client: &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Minute}}
	for rep := range n {
		raw, gz, err := tailMember(rep)
		if err != nil {
			return nil, err
		}
		diffID := "sha256:" + hex.EncodeToString(extend(rawHash, raw))
		digest := "sha256:" + hex.EncodeToString(extend(gzHash, gz))
		layer := append(slices.Clip(baseData), gz...)
		file := filepath.Join(dir, fmt.Sprintf("layer-r%d.tar.gz", rep))
		if err := os.WriteFile(file, layer, 0o644); err != nil {
			return nil, err
		}
		p.layers = append(p.layers, file)
		p.size = int64(len(layer))
		config := fmt.Sprintf(`{"architecture":%q,"os":"linux","created":"1970-01-01T00:00:00Z",`+
			`"config":{"Cmd":["/usr/local/go/bin/go","version"]},"rootfs":{"type":"layers","diff_ids":[%q]}}`, runtime.GOARCH, diffID)
		cd := sha256.Sum256([]byte(config))
		configDigest := "sha256:" + hex.EncodeToString(cd[:])
		manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
			`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
			`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}]}`,
			configDigest, len(config), digest, len(layer))
		if err := up.blob(ctx, digest, layer); err != nil {
			return nil, err
		}
		if err := up.blob(ctx, configDigest, []byte(config)); err != nil {
			return nil, err
		}
		if err := up.manifest(ctx, fmt.Sprintf("r%d", rep), []byte(manifest)); err != nil {
			return nil, err
		}
	}
	logf("peerbench: pull images %s: %d, each %d files, %.1f MB tar, %.1f MB gzip layer, from %s (%s), built and pushed in %v",
		p.ref(0), n, p.files, float64(p.rawBytes)/1e6, float64(p.size)/1e6, src, p.goVersion, time.Since(start).Round(time.Millisecond))
	return p, nil
}

// extend returns the sum of what h has seen plus b, leaving h as it was.
func extend(h hash.Hash, b []byte) []byte {
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic(err)
	}
	c := sha256.New()
	if err := c.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		panic(err)
	}
	c.Write(b)
	return c.Sum(nil)
}

// uploader pushes to one repository of a registry with the distribution
// API: a monolithic blob upload (POST, then PUT with the digest), and a
// manifest PUT.
type uploader struct {
	base   string // http://127.0.0.1:PORT/v2/REPO
	client *http.Client
}

func (u *uploader) blob(ctx context.Context, digest string, data []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.base+"/blobs/uploads/", nil)
	if err != nil {
		return err
	}
	resp, err := u.do(req, http.StatusAccepted)
	if err != nil {
		return err
	}
	loc, err := resp.Location()
	if err != nil {
		return fmt.Errorf("blob upload: %w", err)
	}
	q := loc.Query()
	q.Set("digest", digest)
	loc.RawQuery = q.Encode()
	req, err = http.NewRequestWithContext(ctx, http.MethodPut, loc.String(), bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	_, err = u.do(req, http.StatusCreated)
	return err
}

func (u *uploader) manifest(ctx context.Context, tag string, data []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.base+"/manifests/"+tag, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	_, err = u.do(req, http.StatusCreated)
	return err
}

func (u *uploader) do(req *http.Request, want int) (*http.Response, error) {
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %s: %s", req.Method, req.URL, resp.Status, body)
	}
	return resp, nil
}

// tailMember is repetition rep's end of the layer: one small file, then
// the end-of-archive blocks, as tar (raw) and as a gzip member (gz).
func tailMember(rep int) (raw, gz []byte, err error) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	body := []byte(fmt.Sprintf("peerbench pull image, repetition %d\n", rep))
	if err := tw.WriteHeader(&tar.Header{Name: "usr/local/go/PEERBENCH", Mode: 0o644, Size: int64(len(body)),
		Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0).UTC()}); err != nil {
		return nil, nil, err
	}
	if _, err := tw.Write(body); err != nil {
		return nil, nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	var zb bytes.Buffer
	zw, err := gzip.NewWriterLevel(&zb, 6)
	if err != nil {
		return nil, nil, err
	}
	if _, err := zw.Write(tb.Bytes()); err != nil {
		return nil, nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	return tb.Bytes(), zb.Bytes(), nil
}

// writeBase writes the tree's entries as one gzip member, without the
// end-of-archive blocks (tailMember has them).
func (p *pullImages) writeBase(src, file string) (hash.Hash, error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zw, err := gzip.NewWriterLevel(f, 6)
	if err != nil {
		return nil, err
	}
	raw := sha256.New()
	cw := &countWriter{w: io.MultiWriter(zw, raw)}
	tw := tar.NewWriter(cw)
	epoch := time.Unix(0, 0).UTC()
	for _, sub := range pullTree {
		root := filepath.Join(src, sub)
		if _, err := os.Lstat(root); err != nil {
			continue // not in this Go version
		}
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(src, path)
			if err != nil {
				return err
			}
			link := ""
			if fi.Mode()&fs.ModeSymlink != 0 {
				if link, err = os.Readlink(path); err != nil {
					return err
				}
			} else if !fi.Mode().IsRegular() && !fi.IsDir() {
				return nil
			}
			h, err := tar.FileInfoHeader(fi, link)
			if err != nil {
				return err
			}
			h.Name = "usr/local/go/" + filepath.ToSlash(rel)
			if fi.IsDir() {
				h.Name += "/"
			}
			h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
			h.ModTime, h.AccessTime, h.ChangeTime = epoch, time.Time{}, time.Time{}
			h.Format = tar.FormatPAX
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if !fi.Mode().IsRegular() {
				return nil
			}
			p.files++
			in, err := os.Open(path)
			if err != nil {
				return err
			}
			defer in.Close()
			_, err = io.Copy(tw, in)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	// Flush pads the last entry; Close would also end the archive.
	if err := tw.Flush(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	p.rawBytes = cw.n + 3*512 // + tailMember's entry and end blocks, about
	return raw, f.Close()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// pull: repetition r pulls image rN, which no store has yet; nothing is
// deleted until the suite ends. Each sample starts after a syncfs of the
// work directory's filesystem, so the last sample's writeback is done.
func (s *suite) pull(ctx context.Context) (*benchmark, error) {
	reps, warmup := s.opt.reps, s.opt.warmup
	p, err := s.buildPullImages(ctx, warmup+reps)
	if err != nil {
		return nil, err
	}
	b := &benchmark{
		id: "pull", title: fmt.Sprintf("pull + unpack of a %.0f MB single-layer image from 127.0.0.1", float64(p.size)/1e6),
		metrics: []metric{
			{key: "time", title: "wall time", unit: "s"},
			{key: "rate", title: "throughput (gzip layer MB / wall time)", unit: "MB/s", higherBetter: true},
		},
		ref: "box", reps: reps, warmup: warmup,
	}
	sample := func(ctx context.Context, t *tool, args ...string) (map[string]float64, error) {
		if err := syncfs(s.work); err != nil {
			return nil, err
		}
		x, err := t.timed(ctx, args...)
		if err != nil {
			return nil, err
		}
		return map[string]float64{"time": x, "rate": float64(p.size) / 1e6 / x}, nil
	}
	add := func(name, cmd string, measure func(ctx context.Context, rep int) (map[string]float64, error)) {
		b.variants = append(b.variants, &variant{name: name, cmd: cmd, measure: measure})
	}
	ref := p.ref(0)[:len(p.ref(0))-1] + "N"
	add("box", s.box.line("pull", "-q", ref), func(ctx context.Context, rep int) (map[string]float64, error) {
		return sample(ctx, s.box, "pull", "-q", p.ref(rep))
	})
	if s.podman != nil {
		add("podman", s.podman.line("pull", "-q", "--tls-verify=false", ref), func(ctx context.Context, rep int) (map[string]float64, error) {
			return sample(ctx, s.podman, "pull", "-q", "--tls-verify=false", p.ref(rep))
		})
	} else {
		b.skipped = append(b.skipped, "podman: not installed")
	}
	dest := filepath.Join(s.work, "pulled")
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return nil, err
	}
	if bin, err := exec.LookPath("skopeo"); err == nil {
		sk := &tool{name: "skopeo", bin: bin, env: append(withoutEnv(os.Environ(), "CONTAINERS_REGISTRIES_CONF"),
			"CONTAINERS_REGISTRIES_CONF="+filepath.Join(s.work, "box", "config", "box", "registries.conf"))}
		args := func(rep int) []string {
			return []string{"copy", "-q", "--insecure-policy", "--src-tls-verify=false",
				"docker://" + p.ref(rep), "dir:" + filepath.Join(dest, fmt.Sprintf("skopeo-r%d", rep))}
		}
		shown := args(0)
		shown[len(shown)-2], shown[len(shown)-1] = "docker://"+ref, "dir:"+filepath.Join(dest, "skopeo-rN")
		add("skopeo copy (no unpack)", sk.line(shown...), func(ctx context.Context, rep int) (map[string]float64, error) {
			return sample(ctx, sk, args(rep)...)
		})
	} else {
		b.skipped = append(b.skipped, "skopeo: not installed")
	}
	tr := &tool{name: "tar", bin: "tar", env: os.Environ()}
	add("tar -x (local file)", tr.line("-xzf", "LAYER-OF-rN", "-C", filepath.Join(dest, "tar-rN")), func(ctx context.Context, rep int) (map[string]float64, error) {
		d := filepath.Join(dest, fmt.Sprintf("tar-r%d", rep))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		return sample(ctx, tr, "-xzf", p.layers[rep], "-C", d)
	})
	b.notes = append(b.notes,
		fmt.Sprintf("the images: one gzip layer of %.1f MB (%.1f MB, %d files unpacked) made of %s of %s (%s), deterministic for a Go version, plus one small file that differs per repetition, so every sample downloads and unpacks a layer that no store has",
			float64(p.size)/1e6, float64(p.rawBytes)/1e6, p.files, strings.Join(pullTree, " "), s.opt.pullSrc, p.goVersion),
		"box and podman download, check, decompress and unpack into their stores (overlay); skopeo only downloads and checks (dir: keeps the blobs as they are); tar -x only decompresses and unpacks, from a local file: the unpack floor",
		"before each sample (untimed): syncfs; nothing is deleted between samples (ext4 without a journal, as here, skips recently freed inodes when it allocates, which makes file creation after a mass deletion up to 10× slower for a minute or more)")
	b.run(ctx, logf)
	return b, nil
}

func syncfs(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
