"""The commands of the README files, read from their ```bash blocks (tests/test_readme_commands.py runs them).

    commands = readme_commands()            # [(file, command)], continuation lines joined, comments dropped
    argv = shlex.split(command)

A command is one logical line of a bash block: lines ending in a backslash are joined, whole-line
comments and trailing `  # ...` comments dropped. The plan of each (run it, run it smaller, or why it
is too long to run and what is checked instead) is in test_readme_commands.py.

    inline = inline_commands()              # [(file, command)] of `code spans` in the prose and tables

An inline command is a code span outside the bash blocks that starts like a command (`python ...`,
`nice -n 19 python ...`, `OMP_NUM_THREADS=2 python ...`, npm, pytest, streamlit, torchrun): the prose's
"measured with ..." and the tables' legs. test_readme_commands.py checks that each names an entry point that
exists and runs, with options it accepts.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
READMES = ("README.md", "assets/README.md", "results/README.md", "vae/ui/components/latent_control/ort/README.md")
_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
_TRAILING_COMMENT = re.compile(r"\s+#\s.*$")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_SPAN = re.compile(r"`([^`]+)`")
_COMMAND_START = re.compile(r"^(?:[A-Z_]+=\S+\s+)*(?:nice -n \d+\s+)?(?:python3?|npm|pytest|streamlit|torchrun)\b")


def block_commands(block: str) -> list[str]:
    """The commands of one bash block's text, each on one line with single spaces."""
    joined = re.sub(r"\\\n\s*", " ", block)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = _TRAILING_COMMENT.sub("", line)
        out.append(" ".join(line.split()))
    return out


def readme_commands(readmes=READMES, root: Path = REPO) -> list[tuple[str, str]]:
    """(file, command) for every command of every ```bash block of the README files, in order."""
    found = []
    for name in readmes:
        for block in _BLOCK.findall((root / name).read_text()):
            found.extend((name, c) for c in block_commands(block))
    return found


def inline_commands(readmes=READMES, root: Path = REPO) -> list[tuple[str, str]]:
    """(file, command) for every code span outside the fenced blocks that starts like a command, whitespace
    collapsed (a span may wrap over two lines), in order."""
    found = []
    for name in readmes:
        text = _FENCE.sub("", (root / name).read_text())
        for m in _SPAN.finditer(text):
            command = " ".join(m.group(1).split())
            if _COMMAND_START.match(command):
                found.append((name, command))
    return found
