"""Drive a headless Chromium over the DevTools protocol on a pipe (stdlib only).

``chromium --remote-debugging-pipe`` reads protocol commands from fd 3 and
writes replies and events to fd 4, each message a JSON text ended by a NUL
byte.  :class:`Chromium` starts the browser with a fresh profile, opens one
page and offers what the HTML tests and the benchmark need: navigate, run a
script, real mouse events, a screenshot, and the console errors and uncaught
exceptions the page produced.

:func:`find_chromium` returns the browser or the reason there is none, for
``pytest.skip``.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from typing import Any

__all__ = ["find_chromium", "Chromium", "ChromiumError", "FLAGS"]

#: flags that work as root in a container, with no network use and no first-run noise
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars"]


def find_chromium() -> tuple[str | None, str]:
    """(path, "") of a Chromium to use, or (None, why there is none).

    ``PGWALK_CHROMIUM`` names the browser (only that one is tried; an empty value means none).
    """
    if "PGWALK_CHROMIUM" in os.environ:
        name = os.environ["PGWALK_CHROMIUM"]
        path = shutil.which(name) if name else None
        return (path, "") if path else (None, f"PGWALK_CHROMIUM={name!r} is not an executable browser")
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path, ""
    return None, ("no Chromium found (.ci/run installs Debian's chromium when run as root; "
                  "or set PGWALK_CHROMIUM)")


class ChromiumError(RuntimeError):
    pass


class Chromium:
    """One headless browser with one page; use as a context manager."""

    def __init__(self, exe: str, *, width: int = 1600, height: int = 1000, timeout: float = 60.0) -> None:
        self.exe, self.width, self.height, self.timeout = exe, width, height, timeout
        self.proc: subprocess.Popen | None = None
        self.profile = tempfile.mkdtemp(prefix="pgwalk-chromium-")
        self._next_id = 0
        self._buf = b""
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    # ------------------------------------------------------------- process and pipe
    def __enter__(self) -> "Chromium":
        # our ends of two pipes; Chromium's ends go to its fds 3 (commands in) and 4 (replies out)
        cmd_r, self._cmd_w = os.pipe()
        self._out_r, out_w = os.pipe()
        theirs = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (cmd_r, out_w)]
        os.close(cmd_r)
        os.close(out_w)

        def to_3_and_4() -> None:           # in the child, before exec (dup2 makes them inheritable)
            os.dup2(theirs[0], 3)
            os.dup2(theirs[1], 4)

        args = [self.exe, *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={self.width},{self.height}",
                "--remote-debugging-pipe", "about:blank"]
        try:
            self.proc = subprocess.Popen(args, preexec_fn=to_3_and_4, close_fds=False, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        finally:
            for fd in theirs:
                os.close(fd)
        try:
            target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                self.call(f"{domain}.enable")
            self.call("Emulation.setDeviceMetricsOverride",
                      {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.proc is not None:
            try:
                self.send("Browser.close", timeout=5)
            except Exception:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc = None
            for fd in (self._cmd_w, self._out_r):
                try:
                    os.close(fd)
                except OSError:
                    pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChromiumError("timed out waiting for Chromium")
            ready, _, _ = select.select([self._out_r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._out_r, 1 << 20)
            if not chunk:
                raise ChromiumError("Chromium closed the pipe")
            self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, *, session: str | None = None,
             timeout: float | None = None) -> dict[str, Any]:
        """One protocol command; returns its result (events that come first are kept in :attr:`events`)."""
        self._next_id += 1
        mid = self._next_id
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self._read_message(deadline)
            if m.get("id") == mid:
                if "error" in m:
                    raise ChromiumError(f"{method}: {m['error']}")
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def call(self, method: str, params: dict | None = None, **kw: Any) -> dict[str, Any]:
        """A command to the page."""
        return self.send(method, params, session=self.session, **kw)

    def wait_event(self, method: str, timeout: float | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + (timeout or self.timeout)
        seen = 0
        while True:
            for e in self.events[seen:]:
                if e["method"] == method:
                    self.events.remove(e)
                    return e
            seen = len(self.events)
            m = self._read_message(deadline)
            if "method" in m:
                self.events.append(m)

    # ------------------------------------------------------------- page
    def open(self, url: str) -> float:
        """Navigate and wait for the load event; returns the seconds it took."""
        t0 = time.monotonic()
        self.events = [e for e in self.events if e["method"] != "Page.loadEventFired"]
        r = self.call("Page.navigate", {"url": url})
        if r.get("errorText"):
            raise ChromiumError(f"navigate {url}: {r['errorText']}")
        self.wait_event("Page.loadEventFired")
        return time.monotonic() - t0

    def evaluate(self, expression: str) -> Any:
        """The value of a script expression (promises awaited); page exceptions raise."""
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise ChromiumError(f"script failed: {r['exceptionDetails'].get('exception', {}).get('description') or r['exceptionDetails']}")
        return r["result"].get("value")

    def mouse(self, kind: str, x: float, y: float, *, clicks: int = 1) -> None:
        """A real mouse event: ``kind`` mouseMoved, mousePressed or mouseReleased."""
        params: dict[str, Any] = {"type": kind, "x": x, "y": y}
        if kind != "mouseMoved":
            params.update(button="left", clickCount=clicks)
        self.call("Input.dispatchMouseEvent", params)

    def wheel(self, x: float, y: float, delta_y: float) -> None:
        """A real mouse-wheel event at (x, y) (positive ``delta_y``: scroll down)."""
        self.call("Input.dispatchMouseEvent", {"type": "mouseWheel", "x": x, "y": y, "deltaX": 0, "deltaY": delta_y})

    def click(self, x: float, y: float) -> None:
        self.mouse("mouseMoved", x, y)
        self.mouse("mousePressed", x, y)
        self.mouse("mouseReleased", x, y)

    def screenshot(self, path: str) -> None:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and error log entries so far."""
        self.call("Runtime.evaluate", {"expression": "0"})       # collect pending events
        out = []
        for e in self.events:
            m, p = e["method"], e.get("params", {})
            if m == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.append(f"console.{p['type']}: " + " ".join(str(a.get("value", a.get("description")))
                                                                for a in p.get("args", [])))
            elif m == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
                out.append(f"log {p['entry']['level']}: {p['entry'].get('text')} ({p['entry'].get('url', '')})")
        return out
