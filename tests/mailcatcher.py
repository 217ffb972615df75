"""`make run`'s mail catcher (mail-devel) for tests: started on free ports, stopped after."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.notifications.smtp import free_port

#: The inbox's login, as the Makefile gives it.
USER, PASSWORD = "dev@gaita.test", "dev"


@contextmanager
def mail_catcher() -> Iterator[tuple[int, int]]:
    """A running mail catcher: its (SMTP port, IMAP port), both answering."""
    smtp, imap, http = free_port(), free_port(), free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "mail_devel"), "--host", "127.0.0.1",
         "--smtp-port", str(smtp), "--imap-port", str(imap), "--http-port", str(http),
         "--user", USER, "--password", PASSWORD],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                for port in (smtp, imap):
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("the mail catcher did not start")
                time.sleep(0.2)
        yield smtp, imap
    finally:
        proc.terminate()
        proc.wait(10)
