"""What `flavourgraph [COMMAND] --help` lists: the commands, and each command's options with the
values they take. The install tests compare the man page and the shell completions with it."""
import re
import subprocess

# Every command; "values revert" is one command, "values" only groups it.
COMMANDS = ["", "plan", "build", "render", "values", "values revert", "gc"]

# CLI11 writes an option's names and type in a column this wide, and its description after it
# (on the next line when the column is full).
_COLUMN = 30
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


def _value(type_text):
    if not type_text:
        return None
    enum = re.search(r":\{([^}]*)\}", type_text)
    if enum:
        return sorted(enum.group(1).split(","))
    name = re.split(r"[ :=]", type_text, maxsplit=1)[0]
    if name in _FILE_TYPES:
        return "file"
    if name in _DIR_TYPES:
        return "dir"
    return "free"


def options(binary, command):
    """The options of `command` ("" for the program itself), in --help's order."""
    lines = _section(_help_text(binary, command), "Options:")
    out = []
    for i, line in enumerate(lines):
        if not line.startswith("  -"):
            continue
        described_below = i + 1 < len(lines) and lines[i + 1].startswith(" " * _COLUMN)
        column = line if described_below else line[:_COLUMN]
        names_text, _, type_text = column.strip().partition(" ")
        names = [re.sub(r"\{.*\}$", "", n) for n in names_text.split(",")]
        out.append(Option(names, _value(type_text.strip())))
    if not out:
        raise SystemExit(f"no options found in `flavourgraph {command} --help`")
    return out


def subcommands(binary, command):
    """The subcommands `command --help` lists (those of the program for "")."""
    return [line.split()[0] for line in _section(_help_text(binary, command), "Subcommands:")]


def option_names(opts):
    return [n for o in opts for n in o.names]
