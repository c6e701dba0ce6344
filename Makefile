# box: `make build` then `make demo`; `make test` runs everything (as root
# on a fresh machine it also sets the machine up: see scripts/test.sh).

GO      ?= go
TAGS    := containers_image_openpgp,exclude_graphdriver_btrfs,containers_image_docker_daemon_stub
PREFIX  ?= /usr/local
DESTDIR ?=
FUZZTIME ?= 10s

# Static, and the same flags everywhere (here, scripts/test.sh and the
# testscript harness) so that they all share one build cache.
export CGO_ENABLED := 0
export PATH := $(PATH):/usr/local/go/bin

.PHONY: all build test install demo unit fuzz vet fmt-check clean

all: build

build:
	$(GO) build -tags $(TAGS) -o bin/box .

test:
	scripts/test.sh

install: build
	install -D -m 0755 bin/box $(DESTDIR)$(PREFIX)/bin/box

# Needs no image and no network: the host's own / as the rootfs, with a
# throwaway overlay on top.
demo: build
	@bin/box run --rm --rootfs / sh -c '\
	  echo "Hello from a box sandbox of this machine ($$(. /etc/os-release; echo $$PRETTY_NAME))"; \
	  echo "  hostname:   $$(hostname)"; \
	  echo "  user:       $$(id -un), uid $$(id -u) inside; uid map: $$(head -1 /proc/self/uid_map | tr -s " ")"; \
	  echo "  my pid:     $$$$ (processes visible: $$(ls /proc | grep -c "^[0-9]"))"; \
	  echo x > /etc/box-demo && echo "  wrote /etc/box-demo: it vanishes with the sandbox"'
	@test ! -e /etc/box-demo && echo "  (and indeed: no /etc/box-demo on the host)"

# Every package but the CLI behaviour suite (which needs the test bed).
unit:
	$(GO) test -tags $(TAGS) -count=1 $$($(GO) list -tags $(TAGS) ./... | grep -v '/testscripts$$')

# Runs each Fuzz target found in the tree for FUZZTIME (a duration, or
# go's Nx count), one at a time, and prints a table of executions and
# results: see scripts/fuzz.sh. A CI smoke run: make fuzz FUZZTIME=2s.
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

vet:
	$(GO) vet -tags $(TAGS) ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*')); \
	if [ -n "$$out" ]; then echo "not gofmt'ed:"; echo "$$out"; exit 1; fi

clean:
	rm -rf bin

# box against its peers (podman, bwrap, skopeo, tar, the kernel's floor) on
# this machine, plus published-port throughput: medians, p90, ratios to box
# and the goals of #9 (bench/README.md, docs/benchmarks.md). As root it
# installs what it needs and runs as BOX_TEST_USER. Smoke run: BENCHFLAGS=-quick
.PHONY: bench bench-docs
bench:
	bench/run.sh $(BENCHFLAGS)

# The same, then rewrite the results section of docs/benchmarks.md.
bench-docs:
	bench/run.sh --docs $(BENCHFLAGS)
