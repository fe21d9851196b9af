"""report.html in headless Chromium over the DevTools protocol: it loads with no failed and
no external requests, every chart is decoded and visible, and a screenshot is taken."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.slow
if CHROMIUM is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium for the browser test (see .ci/run)")
    pytestmark = [pytest.mark.slow, pytest.mark.skip(reason="chromium is not installed")]

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--remote-debugging-port=0", "--window-size=1280,2000"]


async def _inspect(ws_url: str, page: str, shot: Path) -> dict:
    import websockets

    async with websockets.connect(ws_url, max_size=None) as ws:
        ids = iter(range(1, 10_000))
        events: list[dict] = []

        async def call(method: str, **params) -> dict:
            i = next(ids)
            await ws.send(json.dumps({"id": i, "method": method, "params": params}))
            while True:
                msg = json.loads(await ws.recv())
                if msg.get("id") == i:
                    return msg.get("result", {})
                events.append(msg)

        await call("Network.enable")
        await call("Page.enable")
        await call("Page.navigate", url=page)
        deadline = time.monotonic() + 30
        while not any(e.get("method") == "Page.loadEventFired" for e in events):
            if time.monotonic() > deadline:
                raise TimeoutError("report.html did not finish loading")
            events.append(json.loads(await ws.recv()))
        probe = ("JSON.stringify([...document.images].map(i => ({w: i.naturalWidth, "
                 "h: i.getBoundingClientRect().height, ok: i.complete})))")
        images = json.loads((await call("Runtime.evaluate", expression=probe))["result"]["value"])
        title = (await call("Runtime.evaluate", expression="document.title"))["result"]["value"]
        first_h2 = (await call("Runtime.evaluate",
                               expression="document.querySelector('h2').textContent"))["result"]["value"]
        png = await call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        shot.write_bytes(base64.b64decode(png["data"]))
        requests = [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
        failed = [e["params"] for e in events if e.get("method") == "Network.loadingFailed"]
        return {"images": images, "title": title, "first_h2": first_h2, "requests": requests, "failed": failed}


def test_report_renders_in_headless_chromium(offline_result, tmp_path):
    report = next(p for p in offline_result.written if p.name == "report.html")
    profile = tmp_path / "profile"
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            assert time.monotonic() < deadline, "chromium did not start"
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        import urllib.request

        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json").read())
        ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        shot = tmp_path / "report.png"
        seen = asyncio.run(_inspect(ws_url, report.as_uri(), shot))
    finally:
        proc.kill()
        proc.wait()
    assert seen["failed"] == []
    assert all(u.startswith(("file://", "data:")) for u in seen["requests"]), seen["requests"]
    assert len(seen["images"]) == 5
    assert all(i["ok"] and i["w"] > 500 and i["h"] > 100 for i in seen["images"]), seen["images"]
    assert "Cerebras" in seen["title"] and seen["first_h2"] == "Verdict"
    assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 50_000
