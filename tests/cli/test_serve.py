"""`gaita serve`: one process serves the action links and delivers the outbox."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.test_cli import Gaita, open_case
from tests.notifications.smtp import SmtpServer, free_port
from tests.pg import PostgresServer

pytestmark = pytest.mark.slow


def wait_for(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("gave up waiting")
        time.sleep(0.2)


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return bool(json.load(r) == {"status": "ok"})
    except OSError:
        return False


def test_serve_answers_and_delivers_the_queue_in_the_background(tmp_path: Path) -> None:
    with SmtpServer() as smtp:
        cli = Gaita(f"sqlite:///{tmp_path / 'gaita.db'}", tmp_path)
        cli.env.update(GAITA_SMTP_PORT=str(smtp.port), GAITA_MAIL_POLL_SECONDS="1")
        cli.env.pop("GAITA_NOW")   # the server's clock is the real one
        cli("init", "--demo")
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "gaita", "serve", "--port", str(port)],
                                  env=cli.env, cwd=tmp_path, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        try:
            wait_for(lambda: healthy(port) or server.poll() is not None)
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            ref = open_case(cli)                 # queued by another process
            wait_for(lambda: any(ref in m.message["Subject"] for m in smtp.accepted))
            mail = next(m for m in smtp.accepted if ref in m.message["Subject"])
            assert "/link/acknowledge/" in mail.message.get_body(("plain",)).get_content()
        finally:
            server.terminate()
            output, _ = server.communicate(timeout=20)
        assert server.returncode in (0, -15), output   # uvicorn re-raises SIGTERM after a clean stop
        assert "Application shutdown complete" in output
        assert "outbox: {'sent':" in output          # the background delivery logs its work
        assert "/link/" not in output            # tokens never reach the server's log


@pytest.mark.pg
def test_web_processes_and_a_separate_worker_on_postgresql(tmp_path: Path,
                                                          pg_server: PostgresServer) -> None:
    """Two web processes without the scheduler, and `gaita worker` delivering the mail."""
    with SmtpServer() as smtp:
        cli = Gaita(pg_server.new_database(), tmp_path)
        cli.env.update(GAITA_SMTP_PORT=str(smtp.port), GAITA_MAIL_POLL_SECONDS="1",
                       GAITA_SERVE_SCHEDULER="false")
        cli.env.pop("GAITA_NOW")
        cli("init", "--demo")
        port = free_port()
        web = subprocess.Popen([sys.executable, "-m", "gaita", "serve", "--port", str(port),
                                "--workers", "2"], env=cli.env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        worker = None
        try:
            wait_for(lambda: healthy(port) or web.poll() is not None)
            assert web.poll() is None, web.stdout.read() if web.stdout else ""
            ref = open_case(cli)
            time.sleep(2)
            assert not any(ref in m.message["Subject"] for m in smtp.accepted)   # no scheduler
            worker = subprocess.Popen([sys.executable, "-m", "gaita", "worker"], env=cli.env,
                                      cwd=tmp_path, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
            wait_for(lambda: any(ref in m.message["Subject"] for m in smtp.accepted))
        finally:
            for process in (web, worker):
                if process is not None:
                    process.terminate()
                    process.communicate(timeout=30)
        assert sum(ref in m.message["Subject"] for m in smtp.accepted) == 1
