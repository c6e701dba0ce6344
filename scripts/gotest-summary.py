#!/usr/bin/env python3
"""Summarise `go test -json` from stdin for people and CI.

Writes the plain `go test -v` transcript to --log, prints one line per
finished test as it goes, then the failing tests' own output, the skipped
tests with their reasons, go test's per-package lines, and last a line
`N passed, N failed, N skipped` (top-level and sub tests, like counting
--- PASS/--- FAIL/--- SKIP lines). A package that fails with no failing test
(a build error, a crash in TestMain, a timeout) counts as one failure.
Exits 1 if anything failed.
"""
import argparse
import json
import re
import sys

FRAMING = re.compile(r"^\s*(=== (RUN|PAUSE|CONT|NAME)|--- (PASS|FAIL|SKIP):)")
PKG_LINE = re.compile(r"^(ok  |FAIL|\?   )\s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    args = ap.parse_args()

    out = {}  # (pkg, test) -> [lines]; test "" is the package itself
    build = {}  # import path -> [lines]
    results = []  # (action, pkg, test, elapsed) in order
    pkg_lines = []
    failed_pkgs = []
    failed_build = {}  # package -> the import path whose build failed
    stray = []
    counts = {"pass": 0, "fail": 0, "skip": 0}

    with open(args.log, "w") as log:
        for raw in sys.stdin:
            try:
                ev = json.loads(raw)
                if not isinstance(ev, dict):
                    raise ValueError
            except ValueError:
                # not JSON: go's own messages (downloads, early errors)
                log.write(raw)
                sys.stdout.write(raw)
                stray.append(raw)
                continue
            action = ev.get("Action", "")
            pkg = ev.get("Package", "")
            test = ev.get("Test", "")
            if action == "build-output":
                build.setdefault(ev.get("ImportPath", pkg), []).append(ev.get("Output", ""))
                log.write(ev.get("Output", ""))
            elif action == "output":
                text = ev.get("Output", "")
                log.write(text)
                out.setdefault((pkg, test), []).append(text)
                if not test and PKG_LINE.match(text):
                    pkg_lines.append(text)
            elif action in counts and test:
                counts[action] += 1
                elapsed = ev.get("Elapsed", 0)
                results.append((action, pkg, test))
                print(f"--- {action.upper()}: {test} ({elapsed:.2f}s) {short(pkg)}", flush=True)
            elif action == "fail" and not test:
                failed_pkgs.append(pkg)
                if ev.get("FailedBuild"):
                    failed_build[pkg] = ev["FailedBuild"]
            log.flush()

    failed_tests = [(p, t) for a, p, t in results if a == "fail"]
    quiet_pkgs = [p for p in failed_pkgs if not any(fp == p for fp, _ in failed_tests)]
    counts["fail"] += len(quiet_pkgs)

    if failed_tests or quiet_pkgs:
        print(f"\n=== FAILURES (the whole transcript is in {args.log})")
    for pkg, test in failed_tests:
        own = [l for l in out.get((pkg, test), []) if not FRAMING.match(l)]
        if not own:
            continue  # a parent that failed only through its subtests
        print(f"\n--- FAIL: {test} ({pkg})")
        sys.stdout.write("".join(own))
    shown = set()
    for pkg in quiet_pkgs:
        print(f"\n--- FAIL: package {pkg} (no test failed: build error, crash or timeout)")
        # Build errors come under the import path that failed to compile:
        # the package, "pkg [pkg.test]", or a dependency (FailedBuild).
        paths = [p for p in build if p == pkg or p.startswith(pkg + " ")]
        if pkg in failed_build:
            paths.append(failed_build[pkg])
        lines = []
        for path in dict.fromkeys(paths):
            if path in shown:
                lines.append(f"(building {path} failed; its errors are above)\n")
                continue
            shown.add(path)
            lines += list(dict.fromkeys(build.get(path, [])))  # each once, in order
        lines += [l for l in out.get((pkg, ""), []) if not PKG_LINE.match(l)]
        sys.stdout.write("".join(lines[-80:]) or "(no output)\n")

    skipped = [(p, t) for a, p, t in results if a == "skip"]
    if skipped:
        print("\n=== SKIPPED")
    for pkg, test in skipped:
        why = [l.strip() for l in out.get((pkg, test), []) if not FRAMING.match(l) and l.strip()]
        print(f"--- SKIP: {test} ({short(pkg)}): {' / '.join(why[-3:]) or 'no reason given'}")

    print("\n=== go test")
    sys.stdout.write("".join(pkg_lines))
    print(f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped")
    return 1 if counts["fail"] or failed_pkgs else 0


def short(pkg):
    return pkg.split("/", 3)[-1] if pkg.count("/") >= 3 else pkg


if __name__ == "__main__":
    sys.exit(main())
