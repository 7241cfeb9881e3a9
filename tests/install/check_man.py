#!/usr/bin/env python3
"""Checks the man page against `flavourgraph COMMAND --help`, and that man renders it cleanly:

    check_man.py FLAVOURGRAPH MAN_PAGE

- `MANWIDTH=80 man --warnings -l MAN_PAGE` exits 0, writes no warning, and renders the
  sections a man page needs;
- the SYNOPSIS and COMMANDS sections name every command;
- each command's options sections name every option its --help lists (plan and build share
  PLAN AND SELECTION OPTIONS; -h/--help and -V/--version are GENERAL OPTIONS).
Exit 0 when all hold, 1 with every problem listed."""
import os
import re
import subprocess
import sys

import cli_help

# The sections that document each command's options.
SECTIONS = {
    "": ["GENERAL OPTIONS"],
    "plan": ["PLAN AND SELECTION OPTIONS", "PLAN OPTIONS"],
    "build": ["PLAN AND SELECTION OPTIONS", "BUILD OPTIONS", "EXECUTOR OPTIONS"],
    "render": ["RENDER OPTIONS"],
    "values": [],
    "values revert": ["VALUES REVERT OPTIONS"],
    "gc": ["GC OPTIONS"],
}
REQUIRED = ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "ENVIRONMENT", "FILES",
            "EXAMPLES", "SEE ALSO"]


def plain(roff):
    """The roff source as words: escapes and fonts removed."""
    text = roff.replace("\\-", "-").replace("\\e", "\\")
    text = re.sub(r"\\f(\[[^\]]*\]|.)", "", text)
    text = re.sub(r"\\[:&]", "", text)
    return text


def sections(roff):
    out, name = {}, None
    for line in roff.splitlines():
        if line.startswith(".SH "):
            name = line[4:].strip().strip('"')
            out[name] = []
        elif name:
            out[name].append(line)
    return {k: plain("\n".join(v)) for k, v in out.items()}


def mentions(text, word):
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


def check_render(page):
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    r = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True, env=env, timeout=60)
    problems = []
    if r.returncode != 0:
        problems.append(f"man -l {page} exited {r.returncode}")
    if r.stderr.strip():
        problems.append(f"man -l {page} warns: {r.stderr.strip()}")
    for name in REQUIRED:
        if not re.search(r"^" + re.escape(name) + r"$", r.stdout, re.M):
            problems.append(f"the rendered page has no {name} section")
    return problems


def check_content(binary, page):
    problems = []
    secs = sections(open(page, encoding="utf-8").read())
    for name in REQUIRED:
        if name not in secs:
            problems.append(f"no .SH {name}")
    synopsis, commands = secs.get("SYNOPSIS", ""), secs.get("COMMANDS", "")
    for command in cli_help.COMMANDS:
        if command and command != "values":
            if not re.search(r"^\.B flavourgraph " + re.escape(command) + "$", synopsis, re.M):
                problems.append(f"SYNOPSIS: no '.B flavourgraph {command}'")
            if not re.search(r"^\.TP\n\.B " + re.escape(command) + "$", commands, re.M):
                problems.append(f"COMMANDS: no entry '.B {command}'")
        text = "\n".join(secs.get(s, "") for s in SECTIONS[command])
        for name in cli_help.option_names(cli_help.options(binary, command)):
            documented = text if name not in ("-h", "--help") else secs.get("GENERAL OPTIONS", "")
            if not mentions(documented, name):
                where = " or ".join(SECTIONS[command]) or "GENERAL OPTIONS"
                problems.append(f"'{command}' option {name} is not in {where}")
    return problems


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, page = sys.argv[1:]
    problems = check_render(page) + check_content(binary, page)
    return cli_help.finish("check_man", problems, "problem(s)",
                           "check_man: the man page renders cleanly and documents every command and option")


if __name__ == "__main__":
    sys.exit(main())
