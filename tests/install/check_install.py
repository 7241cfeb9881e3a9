#!/usr/bin/env python3
"""Installs the build into a temporary prefix (`cmake --install BUILD --prefix TMP`) and checks
the tree: exactly the files cmake/install.cmake lists, each with the source's content (the man
page gzipped), an installed binary that runs, and a man page that man renders from there.

    check_install.py CMAKE BUILD_DIR SOURCE_DIR

Exit 0 when the tree is as expected, 1 with every difference listed."""
import glob
import gzip
import os
import subprocess
import sys
import tempfile


def expected(src):
    """Installed path (under the prefix) -> the source file whose content it holds."""
    out = {
        "share/man/man1/flavourgraph.1.gz": os.path.join(src, "docs/man/flavourgraph.1"),
        "share/bash-completion/completions/flavourgraph": os.path.join(src, "cli/completion/flavourgraph.bash"),
        "share/zsh/vendor-completions/_flavourgraph": os.path.join(src, "cli/completion/_flavourgraph"),
        "share/doc/flavourgraph/README.md": os.path.join(src, "README.md"),
    }
    for page in glob.glob(os.path.join(src, "docs/*.md")) + glob.glob(os.path.join(src, "docs/schema/*.json")):
        out["share/doc/flavourgraph/" + os.path.relpath(page, src)] = page
    return out


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if path.endswith(".gz") else data


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    cmake, build, src = sys.argv[1:]
    problems = []
    with tempfile.TemporaryDirectory() as prefix:
        r = subprocess.run([cmake, "--install", build, "--prefix", prefix], capture_output=True, text=True,
                           timeout=300)
        if r.returncode != 0:
            print(f"cmake --install failed ({r.returncode}): {r.stdout}{r.stderr}", file=sys.stderr)
            return 1
        installed = set()
        for root, _, files in os.walk(prefix):
            installed.update(os.path.relpath(os.path.join(root, f), prefix) for f in files)
        want = expected(src)
        for path in sorted(installed - set(want) - {"bin/flavourgraph"}):
            problems.append(f"{path} is installed, but not listed in cmake/install.cmake's comment")
        for path in sorted((set(want) | {"bin/flavourgraph"}) - installed):
            problems.append(f"{path} is not installed")
        for path, source in sorted(want.items()):
            if path in installed and read(os.path.join(prefix, path)) != read(source):
                problems.append(f"{path} differs from {os.path.relpath(source, src)}")
        binary = os.path.join(prefix, "bin/flavourgraph")
        if "bin/flavourgraph" in installed:
            v = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60)
            if v.returncode != 0 or not v.stdout.startswith("flavourgraph "):
                problems.append(f"the installed binary: --version exited {v.returncode}: {v.stdout}{v.stderr}")
        page = os.path.join(prefix, "share/man/man1/flavourgraph.1.gz")
        if os.path.exists(page):
            m = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True, timeout=60,
                               env=dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8"))
            if m.returncode != 0 or m.stderr.strip() or "flavourgraph" not in m.stdout:
                problems.append(f"man -l {page}: exit {m.returncode}, {m.stderr.strip() or 'no warning'}")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"check_install: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"check_install: {len(installed)} files installed as listed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
