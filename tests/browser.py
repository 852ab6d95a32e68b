"""Headless Chromium for the page tests (report.html, the serve explorer), stdlib only.

Talks the Chrome DevTools Protocol over ``--remote-debugging-pipe`` (JSON messages
separated by NUL bytes on file descriptors 3 and 4 of the browser process), so no
websocket client, Selenium or Playwright is needed — just Debian's ``chromium``:

    with Browser() as b:
        b.open("file:///.../report.html", width=1200, height=900)
        b.wait_for("document.body.dataset.ready === '1'")
        assert b.evaluate("document.querySelectorAll('svg path').length") > 0
        b.screenshot("report.png", full_page=True)
        assert not b.errors   # uncaught exceptions, console.error, failed loads

Tests call :func:`require_chromium` (through ``Browser()``); it skips with the reason
where no browser is installed. Install one with ``apt-get install -y chromium``, or point
``GANFORGE_CHROMIUM`` at any Chrome/Chromium binary.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

# Keep a headless run quiet, local and fast: no sandbox (containers run as root), no
# GPU, no background network traffic, no first-run or sync machinery.
BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
)


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary (``GANFORGE_CHROMIUM`` first), or None."""
    env = os.environ.get("GANFORGE_CHROMIUM")
    if env:
        return env if Path(env).exists() else shutil.which(env)
    for name in _NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def require_chromium() -> str:
    """The browser binary, or skip the calling test with the reason."""
    path = find_chromium()
    if path is None:
        pytest.skip("no chromium found (apt-get install -y chromium, or set GANFORGE_CHROMIUM)")
    return path


class BrowserError(RuntimeError):
    """The browser died, or a protocol command failed or timed out."""


class Browser:
    """One headless Chromium with one page, driven over the DevTools pipe.

    Attributes:
        console: every console message as ``(type, text)`` (``log``, ``error`` ...).
        exceptions: uncaught JavaScript exceptions (text).
        log_errors: browser log entries of level ``error`` (failed resource loads ...).
    """

    def __init__(self, timeout: float = 30.0) -> None:
        self.exe = require_chromium()
        self.timeout = timeout
        self.console: list[tuple[str, str]] = []
        self.exceptions: list[str] = []
        self.log_errors: list[str] = []
        self._id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._cond = threading.Condition()
        self._session: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._profile: tempfile.TemporaryDirectory[str] | None = None

    # ------------------------------------------------------------------ process
    def __enter__(self) -> Browser:
        self._profile = tempfile.TemporaryDirectory(prefix="ganforge-chromium-")
        # fd 3: commands to the browser; fd 4: replies and events from it
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()

        def child_fds() -> None:
            # move both ends above 4 first, so neither is clobbered if it already is 3 or 4
            import fcntl

            a = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)  # dup2 makes them inheritable; the os.pipe() originals are not
            os.dup2(b, 4)

        self._proc = subprocess.Popen(
            [
                self.exe,
                *BASE_FLAGS,
                "--remote-debugging-pipe",
                f"--user-data-dir={self._profile.name}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=child_fds,  # noqa: PLW1509
            close_fds=False,  # fds 3 and 4 must survive; everything else is close-on-exec
        )
        os.close(to_r)
        os.close(from_w)
        self._w = os.fdopen(to_w, "wb", buffering=0)
        self._r = os.fdopen(from_r, "rb", buffering=0)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        targets = self.send("Target.getTargets")["targetInfos"]
        page = next((t for t in targets if t["type"] == "page"), None)
        if page is None:
            page = {"targetId": self.send("Target.createTarget", url="about:blank")["targetId"]}
        self._session = self.send("Target.attachToTarget", targetId=page["targetId"], flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._proc and self._proc.poll() is None:
                self._session = None
                self.send("Browser.close", timeout=5)
        except BrowserError:
            pass
        finally:
            if self._proc:
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            for f in (getattr(self, "_w", None), getattr(self, "_r", None)):
                if f is not None:
                    f.close()
            if self._profile:
                self._profile.cleanup()

    def _read_loop(self) -> None:
        buf = b""
        while True:
            try:
                chunk = self._r.read(65536)
            except (OSError, ValueError):
                chunk = b""
            if not chunk:
                with self._cond:
                    self._replies[-1] = {"error": {"message": "browser closed the pipe"}}
                    self._cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._cond:
                        self._replies[msg["id"]] = msg
                        self._cond.notify_all()
                else:
                    self._on_event(msg)

    def _on_event(self, msg: dict[str, Any]) -> None:
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(
                str(a.get("value", a.get("description", a.get("type")))) for a in p["args"]
            )
            self.console.append((p["type"], text))
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            self.exceptions.append(d.get("exception", {}).get("description") or d.get("text"))
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            e = p["entry"]
            self.log_errors.append(f"{e.get('text')} {e.get('url', '')}".strip())
        self._events.put(msg)

    # ------------------------------------------------------------------ protocol
    def send(self, method: str, timeout: float | None = None, **params: Any) -> dict[str, Any]:
        """Send one command (to the page's session once attached) and wait for its result."""
        self._id += 1
        mid = self._id
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params}
        if self._session and not method.startswith(("Target.", "Browser.")):
            msg["sessionId"] = self._session
        self._w.write(json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._cond:
            while mid not in self._replies:
                if -1 in self._replies and method != "Browser.close":
                    raise BrowserError(f"{method}: the browser exited")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError(f"{method}: no reply within {timeout or self.timeout} s")
                self._cond.wait(left)
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def _wait_event(self, method: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no {method} within {timeout} s")
            try:
                msg = self._events.get(timeout=left)
            except queue.Empty:
                continue
            if msg.get("method") == method:
                return msg

    # ------------------------------------------------------------------ page helpers
    def open(self, url: str, *, width: int = 1200, height: int = 900) -> None:
        """Set the viewport and load ``url`` (returns after the load event)."""
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        while not self._events.empty():  # drop events of the previous page
            self._events.get_nowait()
        self.console.clear()
        self.exceptions.clear()
        self.log_errors.clear()
        res = self.send("Page.navigate", url=url)
        if res.get("errorText"):
            raise BrowserError(f"navigation to {url} failed: {res['errorText']}")
        self._wait_event("Page.loadEventFired", self.timeout)

    def evaluate(self, expression: str) -> Any:
        """Value of a JavaScript expression in the page (JSON-serialisable results)."""
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in res:
            raise BrowserError(f"{expression!r} threw: {res['exceptionDetails'].get('text')}")
        return res["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 10.0) -> Any:
        """Poll ``expression`` until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            v = self.evaluate(expression)
            if v:
                return v
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out after {timeout} s waiting for {expression!r}")
            time.sleep(0.05)

    def screenshot(self, path: str | Path, *, full_page: bool = False) -> Path:
        """Write a PNG of the viewport (or the whole page) and return its path."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            w = self.evaluate("document.documentElement.scrollWidth")
            h = self.evaluate("document.documentElement.scrollHeight")
            params["clip"] = {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.send("Page.captureScreenshot", **params)["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    @property
    def errors(self) -> list[str]:
        """Uncaught exceptions, ``console.error``/``assert`` messages and failed loads."""
        cons = [t for kind, t in self.console if kind in ("error", "assert")]
        return [*self.exceptions, *cons, *self.log_errors]
