#!/usr/bin/env python3
"""Checks that the shell completions offer what `flavourgraph COMMAND --help` lists, so that the
two cannot drift apart:

    check_completion.py FLAVOURGRAPH BASH_COMPLETION ZSH_COMPLETION

bash: the completion function itself is run (one bash, no terminal) on the words of every case:
each command completes to exactly its options, the commands to the subcommands --help lists, an
enumerated option's value to exactly its words, a file option's to files, a directory option's
to directories, a free value to nothing, and a flag takes no value. zsh: the `_arguments` specs
(one per line) must name the same options, values and kinds of value; `zsh -n` parses the file
where zsh is installed. Exit 0 when all agree, 1 with every difference listed."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import cli_help

SEP = "\x1e"  # between the answers of two cases
OPTIONS = "options"  # expected: the command's options (whichever they are), no value


def bash_cases(binary):
    """(description, words, expected completions) for every command, option and value."""
    cases = [("the example", ["flavourgraph", "bu"], ["build"])]
    top = cli_help.subcommands(binary, "")
    cases.append(("commands", ["flavourgraph", ""], top))
    cases.append(("values commands", ["flavourgraph", "values", ""], cli_help.subcommands(binary, "values")))
    for command in cli_help.COMMANDS:
        opts = cli_help.options(binary, command)
        words = ["flavourgraph", *command.split()]
        names = cli_help.option_names(opts)
        cases.append((f"options of '{command}'", words + ["-"], names))
        for o in opts:
            for name in o.names:
                where = f"'{command} {name}'"
                if o.value is None:
                    if command not in ("", "values"):  # there, a word is a command, not an option
                        cases.append((f"{where} takes no value", words + [name, ""], OPTIONS))
                elif o.value == "file":
                    cases.append((f"{where} takes a file", words + [name, ""], ["a-dir", "a-file.yaml"]))
                elif o.value == "dir":
                    cases.append((f"{where} takes a directory", words + [name, ""], ["a-dir"]))
                elif o.value == "free":
                    cases.append((f"{where} takes any value", words + [name, ""], []))
                else:
                    cases.append((f"values of {where}", words + [name, ""], o.value))
                    cases.append((f"values of {where}=", words + [name, "=", ""], o.value))
    return cases


def quote(word):
    return "'" + word.replace("'", "'\\''") + "'"


def check_bash(binary, script):
    cases = bash_cases(binary)
    lines = [f"source {quote(script)} || exit 3",
             "q() { COMP_WORDS=(\"$@\"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _flavourgraph;"
             " printf '%s\\n' \"${COMPREPLY[@]}\"; printf '\\036\\n'; }"]
    lines += ["q " + " ".join(quote(w) for w in words) for _, words, _ in cases]
    with tempfile.TemporaryDirectory() as tmp:
        os.mkdir(os.path.join(tmp, "a-dir"))
        open(os.path.join(tmp, "a-file.yaml"), "w").close()
        r = subprocess.run(["bash", "--norc", "--noprofile", "-c", "\n".join(lines)], cwd=tmp,
                           capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return [f"bash: the completion script failed ({r.returncode}): {r.stderr}"]
    answers = r.stdout.split(SEP + "\n")[:-1]
    if len(answers) != len(cases):
        return [f"bash: {len(answers)} answers for {len(cases)} cases: {r.stdout!r} {r.stderr}"]
    problems = []
    for (what, words, want), got in zip(cases, answers):
        got = sorted(w for w in got.split("\n") if w)
        typed = f"`{' '.join(words)}<TAB>`"
        if want == OPTIONS:
            if not got or not all(w.startswith("-") for w in got):
                problems.append(f"bash: {what}: {typed} gives {got}, not the options")
        elif got != sorted(want):
            missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
            problems.append(f"bash: {what}: {typed} gives {len(got)} word(s)"
                            + (f"; missing {missing}" if missing else "") + (f"; unexpected {extra}" if extra else "")
                            + ("" if missing or extra else f": {got}, --help says {sorted(want)}"))
    if r.stderr:
        problems.append(f"bash: the completion wrote to stderr: {r.stderr}")
    return problems


def zsh_blocks(text):
    """The spec lines of each array (`_name=(`) and function (`_name() {`) of the file."""
    blocks, name = {}, None
    for line in text.splitlines():
        m = re.match(r"^(_flavourgraph\w*)(=\(|\(\) \{)\s*$", line)
        if m:
            name = m.group(1)
            blocks[name] = []
        elif line.startswith((")", "}")):
            name = None
        elif name:
            blocks[name].append(line.strip())
    return blocks


def zsh_spec(line):
    """(names, value) of one `_arguments` option spec line, or None for other lines."""
    s = line.rstrip("\\").strip()
    s = re.sub(r"^'?\([^)]*\)'?", "", s)  # the exclusion list
    if s.startswith("{"):
        names, s = s[1:s.index("}")].split(","), s[s.index("}") + 1:]
    else:
        m = re.match(r"^'?\*?(--?[A-Za-z][\w-]*)", s)
        if not m:
            return None
        names, s = [m.group(1)], s[m.end():]
    s = re.sub(r"\[[^\]]*\]", "", s.strip("'").replace("'\\''", ""))
    if not s.lstrip("=").startswith(":"):
        return names, None
    action = re.split(r"(?<!\\):", s.strip("'"))[-1].strip()
    if action == "_files":
        return names, "file"
    if action == "_files -/":
        return names, "dir"
    if action == "":
        return names, "free"
    m = re.fullmatch(r"\(([^)]*)\)", action)
    return names, sorted(m.group(1).split()) if m else f"unknown action {action!r}"


def zsh_options(blocks, function):
    out = {}
    for line in blocks.get(function, []):
        for ref in re.findall(r"\$(_flavourgraph\w+)", line):
            for item in blocks.get(ref, []):
                if (spec := zsh_spec(item)):
                    out.update({n: spec[1] for n in spec[0]})
        if (spec := zsh_spec(line)):
            out.update({n: spec[1] for n in spec[0]})
    return out


def check_zsh(binary, script):
    problems = []
    text = open(script, encoding="utf-8").read()
    if shutil.which("zsh"):
        r = subprocess.run(["zsh", "-n", script], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            problems.append(f"zsh: zsh -n {script}: {r.stderr}")
    else:
        print("check_completion: zsh is not installed: its file is read, not parsed by zsh")
    blocks = zsh_blocks(text)
    for command in cli_help.COMMANDS:
        function = "_flavourgraph" + ("_" + command.replace(" ", "_") if command else "")
        if function not in blocks:
            problems.append(f"zsh: no function {function} for '{command}'")
            continue
        want = {n: o.value for o in cli_help.options(binary, command) for n in o.names}
        got = zsh_options(blocks, function)
        for name in sorted(set(want) | set(got)):
            if name not in got:
                problems.append(f"zsh: '{command}': {name} is missing")
            elif name not in want:
                problems.append(f"zsh: '{command}': {name} is not an option of `{command} --help`")
            elif got[name] != want[name]:
                problems.append(f"zsh: '{command} {name}' takes {got[name]}, --help says {want[name]}")
    return problems


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    binary, bash_script, zsh_script = (os.path.abspath(a) for a in sys.argv[1:])
    problems = check_bash(binary, bash_script) + check_zsh(binary, zsh_script)
    return cli_help.finish("check_completion", problems, "difference(s)",
                           "check_completion: bash and zsh completions agree with --help")


if __name__ == "__main__":
    sys.exit(main())
