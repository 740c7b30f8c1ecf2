"""The shell examples of the documentation, as a test runs them.

Pages are `README.md` and every `docs/**/*.md`. Their ```` ```sh ```` fences are run;
every other fence (``console`` for commands that start services or need Docker, ``text``,
``json``, ``yaml`` for output and files) is shown only. A page's blocks run in order in one
`bash` process (`set -euo pipefail`, so variables carry from block to block), from the
repository root, and the page's first block begins as a user's second shell does:
`eval "$(.venv/bin/triops env)"`.

In that process `curl` fails on an HTTP error (`--fail-with-body`), unless the command
prints the status itself with `-w` / `--write-out` (how a page shows an expected refusal).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENV_LINE = 'eval "$(.venv/bin/triops env)"'
RUN_LANGUAGES = {"sh"}
MARKER = "::docs-example-block::"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_EXAMPLE_PATH = re.compile(r"(?<![\w/.-])examples/[A-Za-z0-9_.*/-]*[A-Za-z0-9_*/]")

# What a failing block's report shows at most of each stream.
_SHOWN_CHARS = 6000


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: str  # relative to the repository root
    line: int  # 1-based line of the opening fence
    language: str
    text: str

    @property
    def runs(self) -> bool:
        return self.language in RUN_LANGUAGES


def doc_pages(root: Path = REPO) -> list[Path]:
    """The README first, then every Markdown page of the site, in path order."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def relative(path: Path, root: Path = REPO) -> str:
    return str(path.resolve().relative_to(root))


def extract_blocks(text: str, page: str = "<text>") -> list[Block]:
    """Every fenced block (``` or ~~~, possibly indented) with its language and text."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence, indent = opening["fence"], opening["indent"]
        info = opening["info"].strip()
        language = info.split()[0].strip("{}.") if info else ""
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            stripped = lines[j].strip()
            if stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]}:
                break
            line = lines[j]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            j += 1
        blocks.append(Block(page=page, line=i + 1, language=language, text="\n".join(body)))
        i = j + 1
    return blocks


def page_blocks(path: Path) -> list[Block]:
    return extract_blocks(path.read_text(), relative(path))


def runnable_blocks(path: Path) -> list[Block]:
    return [b for b in page_blocks(path) if b.runs]


def first_command(block: Block) -> str:
    """The first line of a block that is neither blank nor a comment."""
    for line in block.text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return line.strip()
    return ""


def example_paths(text: str) -> set[str]:
    """Paths under examples/ that a page mentions (globs included)."""
    return {m.rstrip("/.") for m in _EXAMPLE_PATH.findall(text)}


def missing_example_paths(text: str, root: Path = REPO) -> list[str]:
    missing = []
    for path in sorted(example_paths(text)):
        matches = list(root.glob(path)) if "*" in path else [root / path]
        if not any(m.exists() for m in matches):
            missing.append(path)
    return missing


PRELUDE = r"""set -euo pipefail
curl() {
  # An HTTP error fails the page, unless the command prints the status itself (-w).
  local arg
  for arg in "$@"; do
    case "$arg" in
      -w|--write-out|--write-out=*|-[a-zA-Z]*w) command curl "$@"; return ;;
    esac
  done
  command curl --fail-with-body "$@"
}
"""


def page_script(blocks: list[Block], workdir: Path) -> Path:
    """One bash script that sources each block in turn, marking where each one starts."""
    workdir.mkdir(parents=True, exist_ok=True)
    parts = [PRELUDE, f"cd {_quote(str(REPO))}"]
    for n, block in enumerate(blocks):
        name = f"{Path(block.page).name}-line{block.line}.sh"
        (workdir / name).write_text(block.text + "\n")
        parts.append(f"printf '\\n{MARKER}{n}\\n'; printf '\\n{MARKER}{n}\\n' >&2")
        parts.append(f"source {_quote(str(workdir / name))}")
    parts.append(f"printf '\\n{MARKER}done\\n'")
    script = workdir / "page.sh"
    script.write_text("\n".join(parts) + "\n")
    return script


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


@dataclass
class PageRun:
    returncode: int | None  # None: timed out
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and f"{MARKER}done" in self.stdout


def run_page(blocks: list[Block], env: dict[str, str], workdir: Path, timeout_s: float) -> PageRun:
    """Run a page's blocks in one bash process; on timeout the whole group is killed."""
    script = page_script(blocks, workdir)
    started = time.monotonic()
    process = subprocess.Popen(
        ["bash", str(script)],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout_s)
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        code = None
    return PageRun(
        returncode=code,
        stdout=out.decode(errors="replace"),
        stderr=err.decode(errors="replace"),
        seconds=time.monotonic() - started,
    )


def _after_marker(stream: str, index: int) -> str:
    """What a stream holds from block `index`'s marker to the next one."""
    tag = f"{MARKER}{index}\n"
    if tag not in stream:
        return ""
    tail = stream.split(tag, 1)[1]
    return tail.split(f"\n{MARKER}", 1)[0]


def failure_report(blocks: list[Block], run: PageRun, timeout_s: float) -> str:
    """The failing block (the last one that started), its source and its output."""
    started = [int(m) for m in re.findall(rf"{re.escape(MARKER)}(\d+)", run.stdout)]
    index = started[-1] if started else 0
    block = blocks[index]
    why = (
        f"timed out after {timeout_s:.0f} s"
        if run.returncode is None
        else f"exit status {run.returncode}"
    )
    out = _after_marker(run.stdout, index)[-_SHOWN_CHARS:]
    err = _after_marker(run.stderr, index)[-_SHOWN_CHARS:]
    return (
        f"{block.page}, block {index + 1} of {len(blocks)} (line {block.line}): {why}\n"
        f"--- block ---\n{block.text}\n"
        f"--- stdout ---\n{out}\n"
        f"--- stderr ---\n{err}"
    )
