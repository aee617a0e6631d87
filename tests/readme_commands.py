"""The commands of the README files, read from their ```bash blocks (tests/test_readme_commands.py runs them).

    commands = readme_commands()            # [(file, command)], continuation lines joined, comments dropped
    argv = shlex.split(command)

A command is one logical line of a bash block: lines ending in a backslash are joined, whole-line
comments and trailing `  # ...` comments dropped. The plan of each (run it, run it smaller, or why it
is too long to run and what is checked instead) is in test_readme_commands.py.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
READMES = ("README.md", "assets/README.md", "results/README.md")
_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
_TRAILING_COMMENT = re.compile(r"\s+#\s.*$")


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
