"""What `flavourgraph [COMMAND] --help` lists: the commands, and each command's options with the
values they take. The install tests compare the man page and the shell completions with it."""
import re
import subprocess
import sys

# Every command; "values revert" is one command, "values" only groups it.
COMMANDS = ["", "plan", "build", "render", "values", "values revert", "gc"]

_FILE_TYPES = {"FILE", "IMAGES", "DEPLOYMENTS"}
_DIR_TYPES = {"DIR"}

class Option:
    """One option line: its names, and what its value is: None (a flag), "file", "dir",
    "free" (any text) or a sorted list of the accepted words."""

    def __init__(self, names, value):
        self.names = names
        self.value = value

    def __repr__(self):
        return f"Option({self.names}, {self.value})"


def _help_text(binary, command):
    r = subprocess.run([binary, *command.split(), "--help"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise SystemExit(f"{binary} {command} --help exited {r.returncode}: {r.stderr}")
    return r.stdout


def _section(text, title):
    lines, inside = [], False
    for line in text.splitlines():
        if not line.startswith(" "):
            inside = line.strip() == title
            continue
        if inside:
            lines.append(line)
    return lines


def _value(type_name):
    if type_name is None:
        return None
    if "|" in type_name:
        return sorted(type_name.split("|"))
    if type_name in _FILE_TYPES:
        return "file"
    if type_name in _DIR_TYPES:
        return "dir"
    return "free"


# An option line: "  NAMES[ TYPE[ ...][ (required)]]" then the description, after padding or on
# the next line. A type follows the names after one space; a flag's description after two or
# more (cli/help.cc's formatter pads the names to its column).
_OPTION = re.compile(r"^  (-[^ ]+)(?: ([^ ]+)(?=$| ))?")


def options(binary, command):
    """The options of `command` ("" for the program itself), in --help's order."""
    out = []
    for line in _section(_help_text(binary, command), "Options:"):
        m = _OPTION.match(line)
        if not m:
            continue
        names = [re.sub(r"\{.*\}$", "", n) for n in m.group(1).split(",")]
        out.append(Option(names, _value(m.group(2))))
    if not out:
        raise SystemExit(f"no options found in `flavourgraph {command} --help`")
    return out


def subcommands(binary, command):
    """The subcommands `command --help` lists (those of the program for "")."""
    return [line.split()[0] for line in _section(_help_text(binary, command), "Subcommands:")]


def option_names(opts):
    return [n for o in opts for n in o.names]


def finish(tool, problems, what, ok):
    """Prints the problems (stderr) or `ok`; the exit status: 1 with problems, else 0."""
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{tool}: {len(problems)} {what}", file=sys.stderr)
        return 1
    print(ok)
    return 0

