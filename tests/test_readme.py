"""The README is executable: its tour runs, as written, as a reader would run it.

Which blocks run: the fenced blocks whose info string is ``sh tour`` (GitHub
highlights them as ``sh``; an HTML comment above the first says that this test
runs them).  They are one shell session, in README order, so ``export`` and
``REF=...`` carry over from block to block as in a reader's terminal.

The reader's situation after ``make run``: a database made by ``gaita init
--demo`` (here a SQLite file in a temporary ``var/``, as ``make run`` makes one
in the checkout's ``var/``), the mail catcher running, ``gaita`` on the PATH
from the project's virtualenv (``. .venv/bin/activate``; here the virtualenv of
the interpreter running pytest) and the working directory holding ``var/``.
Only environment variables and the working directory are set; the README's
commands are not rewritten.  ``GAITA_NOW`` is fixed for every command, as the
tour itself fixes it.

The REST API example needs the running server and is not part of the tour; its
``gaita token create`` line runs as written, and its request is sent to the
real web app in-process with the token it printed.  Every ``gaita`` command the
README names, in its blocks and in its prose, must exist with the options it
is given.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import shlex
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from gaita.bootstrap import build_app
from gaita.settings import ROOT, load_settings
from gaita.web import create_app
from tests.mailcatcher import mail_catcher

with warnings.catch_warnings():   # as in tests/web/conftest.py
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

README = ROOT / "README.md"
NOW = "2026-11-30T09:00:00+02:00"
VENV_BIN = Path(sys.executable).parent
BASH = shutil.which("bash") or "/bin/bash"   # the shell a reader types the tour into
TOUR = "sh tour"
_FENCE = re.compile(r"^```(.*)$")


@dataclass(frozen=True)
class Command:
    first: int   # README line numbers, 1-based
    last: int
    text: str


@dataclass(frozen=True)
class Block:
    info: str
    first: int   # README line number of the block's first line inside the fences
    lines: tuple[str, ...]

    def commands(self) -> list[Command]:
        """The block's commands: comment and blank lines skipped, continued lines joined."""
        out: list[Command] = []
        n = 0
        while n < len(self.lines):
            line = self.lines[n]
            if not line.strip() or line.lstrip().startswith("#"):
                n += 1
                continue
            start = n
            while self.lines[n].rstrip().endswith("\\") and n + 1 < len(self.lines):
                n += 1
            out.append(Command(self.first + start, self.first + n,
                               "\n".join(self.lines[start:n + 1])))
            n += 1
        return out


def readme_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    info: str | None = None
    body: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), 1):
        fence = _FENCE.match(line)
        if info is None and fence:
            info, body, first = fence.group(1).strip(), [], number + 1
        elif info is not None and line.strip() == "```":
            blocks.append(Block(info, first, tuple(body)))
            info = None
        elif info is not None:
            body.append(line)
    assert info is None, f"README.md: the block opened at line {first - 1} is never closed"
    return blocks


def tour_blocks() -> list[Block]:
    blocks = [b for b in readme_blocks(README.read_text(encoding="utf-8")) if b.info == TOUR]
    commands = "\n".join(c.text for b in blocks for c in b.commands())
    # A guard against a marker lost in an edit: the tour opens, refers and closes a case.
    for needed in ("gaita case open", "gaita escalations add", "gaita meeting decide",
                   "monitoring_complete"):
        assert needed in commands, f"README.md: no ```{TOUR} block runs {needed!r}"
    return blocks


# --- the reader's checkout after `make run` -----------------------------------------


@dataclass(frozen=True)
class Checkout:
    cwd: Path
    env: dict[str, str]


def run_gaita(checkout: Checkout, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VENV_BIN / "gaita"), *args], cwd=checkout.cwd, env=checkout.env,
                          capture_output=True, text=True, encoding="utf-8", timeout=300)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Checkout:
    assert (VENV_BIN / "gaita").exists(), f"no gaita in {VENV_BIN} (make install)"
    cwd = tmp_path_factory.mktemp("checkout")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAITA_")}
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
               VIRTUAL_ENV=str(VENV_BIN.parent),
               GAITA_DATABASE_URL=f"sqlite:///{cwd / 'var' / 'gaita.db'}", GAITA_NOW=NOW)
    made = Checkout(cwd, env)
    init = run_gaita(made, "init", "--demo")   # what `make run` does first
    assert init.returncode == 0, init.stderr + init.stdout
    return made


@pytest.fixture
def catcher() -> Iterator[int]:
    """`make run`'s mail catcher, on free ports; yields its SMTP port."""
    with mail_catcher() as (smtp, _):
        yield smtp


# --- the tour -----------------------------------------------------------------------

MARK = "@@README-LINE "
# Line 1 of the script (README line 1 is the title, never in a block).  Stops at the
# first failing command (-e, pipefail for `... --json | pick ...`, -u for a variable
# never set) and marks, in both streams, the README line of each command it runs.
PRELUDE = ("set -euo pipefail; "
           f"trap 'printf \"\\n{MARK}%s\\n\" \"$LINENO\"; "
           f"printf \"\\n{MARK}%s\\n\" \"$LINENO\" >&2' DEBUG")


def tour_script(blocks: list[Block], readme_lines: int) -> str:
    """The tour blocks at their README line numbers (other lines blank), so that
    bash's $LINENO is the README's line number."""
    lines = [""] * readme_lines
    for block in blocks:
        for offset, line in enumerate(block.lines):
            lines[block.first - 1 + offset] = line
    assert lines[0] == "", "README.md line 1 is inside a tour block"
    lines[0] = PRELUDE
    return "\n".join(lines) + "\n"


def _after_last_mark(stream: str) -> tuple[int | None, str]:
    _, mark, tail = stream.rpartition(MARK)
    if not mark:
        return None, stream
    number, _, output = tail.partition("\n")
    return int(number), output.strip("\n")


def failure_report(blocks: list[Block], proc: subprocess.CompletedProcess[str]) -> str:
    line, stderr = _after_last_mark(proc.stderr)
    _, stdout = _after_last_mark(proc.stdout)
    commands = [c for b in blocks for c in b.commands()]
    failed = next((c for c in commands if line is not None and c.first <= line <= c.last), None)
    where = (f"README.md:{failed.first}" + (f"-{failed.last}" if failed.last > failed.first else "")
             if failed else f"README.md:{line}")
    text = failed.text if failed else "(before the first command)"
    return (f"the README's tour failed with exit {proc.returncode} at {where}:\n"
            f"{text}\n--- its stderr:\n{stderr}\n--- its stdout (last 40 lines):\n"
            + "\n".join(stdout.splitlines()[-40:]))


@pytest.mark.slow
def test_the_readme_tour_runs_as_written(checkout: Checkout, catcher: int) -> None:
    blocks = tour_blocks()
    text = README.read_text(encoding="utf-8")
    script = tour_script(blocks, len(text.splitlines()))
    env = {**checkout.env, "GAITA_SMTP_PORT": str(catcher)}
    proc = subprocess.run([BASH, "--noprofile", "--norc", "-c", script, "README.md"],
                          cwd=checkout.cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, encoding="utf-8", timeout=600)
    assert proc.returncode == 0, failure_report(blocks, proc)
    last = max(c.first for b in blocks for c in b.commands())
    ran = {int(n) for n in re.findall(rf"^{MARK}(\d+)$", proc.stderr, re.MULTILINE)}
    assert last in ran, f"README.md:{last}, the tour's last command, did not run"
    assert (checkout.cwd / "var" / "protokols.docx").stat().st_size > 0


# --- the REST API example -----------------------------------------------------------


def api_block() -> Block:
    blocks = [b for b in readme_blocks(README.read_text(encoding="utf-8"))
              if any("gaita token create" in line for line in b.lines)]
    assert len(blocks) == 1, "README.md: expected one block with the REST API example"
    return blocks[0]


def test_the_readme_api_example_token_authenticates_its_request(checkout: Checkout) -> None:
    commands = api_block().commands()
    curl = [c for c in commands if c.text.startswith("curl ")]
    setup = [c for c in commands if not c.text.startswith("curl ")]
    assert len(curl) == 1 and setup, "README.md: the API example is `TOKEN=$(gaita token ...)`, curl"
    variable = re.match(r"(\w+)=\$\(gaita token create ", setup[0].text)
    assert variable, f"README.md:{setup[0].first}: expected NAME=$(gaita token create ...)"
    # The example's own lines, as written (no server needed for them), then the variable.
    script = "set -euo pipefail\n" + "\n".join(c.text for c in setup) + \
        f'\nprintf "%s" "${variable.group(1)}"\n'
    proc = subprocess.run([BASH, "--noprofile", "--norc", "-c", script], cwd=checkout.cwd,
                          env=checkout.env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, encoding="utf-8", timeout=120)
    assert proc.returncode == 0, f"README.md:{setup[0].first} failed:\n{setup[0].text}\n{proc.stderr}"
    token = proc.stdout
    assert re.fullmatch(r"\S{20,}", token), f"not a token: {token!r}"

    # The curl line's request, sent to the real web app on the same database.
    argv = shlex.split(curl[0].text.replace("\\\n", " "))
    headers = dict(h.split(": ", 1) for h in
                   (argv[i + 1] for i, a in enumerate(argv) if a in ("-H", "--header")))
    headers = {k: v.replace(f"${variable.group(1)}", token) for k, v in headers.items()}
    url = urlsplit(next(a for a in argv[1:] if a.startswith("http")))
    app = build_app(load_settings({k: v for k, v in checkout.env.items() if k.startswith("GAITA_")}))
    try:
        response = TestClient(create_app(app)).get(f"{url.path}?{url.query}", headers=headers)
        assert response.status_code == 200, response.text
        assert isinstance(response.json(), list | dict)
        anonymous = TestClient(create_app(app)).get(f"{url.path}?{url.query}")
        assert anonymous.status_code == 401   # the token is what let the request in
    finally:
        app.db.dispose()


# --- every command the README names exists --------------------------------------------

_MENTION = re.compile(r"`(gaita\s[^`]+)`")


def cli_root() -> Any:
    """The click command behind the `gaita` script (its console entry point)."""
    import typer.main

    entry = next(e for e in importlib.metadata.entry_points(group="console_scripts")
                 if e.name == "gaita")
    module = importlib.import_module(entry.module)
    return typer.main.get_command(module.app)


def mentions() -> list[tuple[int, str]]:
    """Every `gaita ...` in the README: in code spans, and as commands in sh blocks."""
    text = README.read_text(encoding="utf-8")
    found = [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _MENTION.finditer(text)]
    for block in readme_blocks(text):
        for command in block.commands():
            joined = command.text.replace("\\\n", " ")
            found += [(command.first, m.group(1))
                      for m in re.finditer(r"(?:^|\$\()(gaita [^)#|]*)", joined)]
    return found


def test_every_gaita_command_the_readme_names_exists_with_its_options() -> None:
    root = cli_root()
    problems = []
    for line, mention in mentions():
        words = shlex.split(mention.replace("[", " ").replace("]", " ").replace("…", " "))[1:]
        cmd, path = root, ["gaita"]
        ctx = cmd.context_class(cmd)
        while words and hasattr(cmd, "get_command") and not words[0].startswith("-"):
            sub = cmd.get_command(ctx, words[0])
            if sub is None:
                break
            cmd, path = sub, [*path, words.pop(0)]
        if hasattr(cmd, "get_command"):
            if words:
                problems.append(f"README.md:{line}: `{mention}`: no command {words[0]!r} "
                                f"in `{' '.join(path)}`")
            continue
        options = {o for p in cmd.params for o in [*p.opts, *p.secondary_opts]}
        given = [w.split("=", 1)[0] for w in words if w.startswith("-")]
        problems += [f"README.md:{line}: `{mention}`: `{' '.join(path)}` has no option {o}"
                     for o in given if o not in options]
        if words:   # a mention with arguments is a whole command: required options given
            required = [p.opts[0] for p in cmd.params
                        if p.required and p.param_type_name == "option"]
            problems += [f"README.md:{line}: `{mention}`: {o} is required"
                         for o in required if o not in given]
    assert len(mentions()) > 20
    assert not problems, "\n".join(problems)
