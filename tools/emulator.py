"""A persistent local AWS emulator (a moto server) that `make invoke` and `make push` reuse.

    python -m tools.emulator start   # prints its URL; idempotent
    python -m tools.emulator stop
    python -m tools.emulator url     # the URL of the running one, or exit 1

Its URL and process id are kept in `.emulator` (git-ignored), its log in `out/emulator.log`.
Everything lives in the server's memory: stopping it forgets the account.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / ".emulator"
LOG = ROOT / "out" / "emulator.log"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):  # noqa: S310 (a loopback URL we wrote)
            return True
    except OSError:
        return False


def running_url() -> str | None:
    """The URL of the emulator `start` left running, if it still answers."""
    if not STATE.is_file():
        return None
    url = str(json.loads(STATE.read_text())["url"])
    return url if _answers(url) else None


def start() -> str:
    url = running_url()
    if url:
        return url
    port = _free_port()
    LOG.parent.mkdir(exist_ok=True)
    with LOG.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=log,
            start_new_session=True,  # outlives `make`; `stop` ends it
        )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        if _answers(url):
            STATE.write_text(json.dumps({"url": url, "pid": process.pid}) + "\n")
            return url
        time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"the emulator did not answer on {url}; see {LOG}")


def stop() -> bool:
    if not STATE.is_file():
        return False
    pid = int(json.loads(STATE.read_text())["pid"])
    STATE.unlink()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    command = (argv or sys.argv[1:] or ["start"])[0]
    if command == "start":
        url = start()
        print(url)
        print(
            f"emulator on {url} (state in {STATE.name}, log in out/emulator.log); `make emulator-stop` ends it",
            file=sys.stderr,
        )
        return 0
    if command == "stop":
        print("emulator stopped" if stop() else "no emulator was running", file=sys.stderr)
        return 0
    if command == "url":
        found = running_url()
        if found:
            print(found)
        return 0 if found else 1
    print(f"unknown command {command!r}: start, stop or url", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
