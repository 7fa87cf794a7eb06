"""The dashboard in a real headless browser: Playwright for Python driving Debian's chromium
(scripts/ensure-chromium installs it; Playwright's own browser download is not used). The page
loads with no console errors, shows the figures /admin/stats gives, updates itself after new
requests, and asks for the admin key when one is set. One screenshot per run is kept at
.cache/dashboard.png."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GO_KEY
from tests.fakes.opencode import FakeOpenCode, FakeUsage, Reply
from tests.gateway import Gateway, request

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / ".cache" / "dashboard.png"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@pytest.fixture(scope="module")
def chromium_path() -> str:
    proc = subprocess.run([str(ROOT / "scripts" / "ensure-chromium")], capture_output=True,
                          text=True, timeout=900)
    if proc.returncode != 0:
        pytest.skip(f"chromium cannot be installed here: {proc.stderr.strip()}")
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _env(fake: FakeOpenCode, data: Path, **extra: str) -> dict[str, str]:
    return {"OPENCODE_GO_API_KEY": GO_KEY, "OPENCODE_GO_BASE_URL": fake.base_url,
            "XDG_DATA_HOME": str(data), **extra}


def _chat(gw: Gateway, stream: bool, model: str = "opencode-go/glm-5.1") -> int:
    body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    status, _, _ = request(gw, "POST", "/v1/chat/completions", json.dumps(body).encode(),
                           {"content-type": "application/json"})
    return status


def _stats(gw: Gateway, key: str | None = None) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    status, _, body = request(gw, "GET", "/admin/stats", headers=headers)
    assert status == 200
    result: dict[str, Any] = json.loads(body)
    return result


def _stored(gw: Gateway, n: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        w = _stats(gw)["windows"]["5m"]
        if w.get("totals", {}).get("requests", 0) >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"the store did not get {n} rows in time")


def _wait_value(page: Any, element_id: str, expected: float, timeout: float = 15.0) -> None:
    """Poll from here: the page's Content-Security-Policy forbids the eval that
    wait_for_function would need."""
    deadline = time.monotonic() + timeout
    while _value(page, element_id) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"#{element_id} stayed at {_value(page, element_id)}, "
                                 f"not {expected}")
        page.wait_for_timeout(200)


def _value(page: Any, element_id: str) -> float:
    return float(page.get_attribute(f"#{element_id}", "data-value"))


def test_dashboard_shows_the_stats_and_updates_itself(
        browser: Any, fake_go: FakeOpenCode, tmp_path: Path) -> None:
    usage = FakeUsage(prompt_tokens=1200, completion_tokens=300, cached_tokens=800)
    fake_go.script(*[Reply(text="hello there", usage=usage) for _ in range(12)])
    with Gateway(_env(fake_go, tmp_path)) as gw:
        for i in range(5):
            assert _chat(gw, stream=i % 2 == 0) == 200
        assert _chat(gw, stream=False, model="opencode-go/no-such-model") == 404
        _stored(gw, 6)  # so the page's first look at the store (cached 30 s) sees them
        errors: list[str] = []
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(gw.url + "/dashboard")
        page.wait_for_selector("#main:not([hidden])")
        page.select_option("#window", "since_start")
        stats = _stats(gw)["since_start"]["totals"]
        assert _value(page, "h-requests") == stats["requests"] == 6
        assert page.text_content("#h-requests") == "6"
        assert _value(page, "h-errors") == stats["errors"] == 1
        assert _value(page, "h-tokens") == stats["tokens"]
        assert _value(page, "h-cost") == pytest.approx(stats["cost_usd"])
        assert page.text_content("#h-cost", timeout=1000).startswith("$")
        # Per-model latency rows, the last requests with their attempts, the Go key's meter.
        assert page.locator('#latency tr[data-model="glm-5.1"]').count() == 1
        assert page.locator("#requests tr[data-request]").count() == 6
        assert "opencode-go:glm-5.1" in page.text_content("#requests")
        assert page.locator('#quota [data-instance="opencode-go"] .row').count() == 3

        # New requests show up without a reload (the page polls).
        for _ in range(3):
            assert _chat(gw, stream=True) == 200
        _wait_value(page, "h-requests", 9)
        # The store's window (1 hour) agrees with /admin/stats once the rows are written.
        page.select_option("#window", "1h")
        _wait_value(page, "h-requests", 9)
        assert _stats(gw)["windows"]["1h"]["totals"]["requests"] == 9
        page.wait_for_selector("#chart-cost-day svg rect", timeout=15000)
        page.select_option("#window", "24h")
        _wait_value(page, "h-requests", 9)
        assert _stats(gw)["windows"]["24h"]["totals"]["requests"] == 9
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        page.close()
    assert errors == []


def test_dashboard_asks_for_the_admin_key(browser: Any, fake_go: FakeOpenCode,
                                          tmp_path: Path) -> None:
    fake_go.script(Reply(text="x"))
    with Gateway(_env(fake_go, tmp_path, CROSSWAY_ADMIN_KEY="adm-key-1")) as gw:
        assert _chat(gw, stream=False) == 200
        page = browser.new_page()
        page.goto(gw.url + "/dashboard")
        page.wait_for_selector("#login:not([hidden])")
        assert page.is_hidden("#main")
        page.fill("#key", "wrong-key")
        page.click("#login-form button")
        page.wait_for_selector("#login-reason:has-text('refused')")
        page.fill("#key", "adm-key-1")
        page.click("#login-form button")
        page.wait_for_selector("#main:not([hidden])")
        page.select_option("#window", "since_start")
        _wait_value(page, "h-requests", 1)
        # Kept for this tab's session: a reload does not ask again.
        page.reload()
        page.wait_for_selector("#main:not([hidden])")
        assert page.evaluate("sessionStorage.getItem('crossway-admin-key')") == "adm-key-1"
        assert _stats(gw, "adm-key-1")["since_start"]["totals"]["requests"] == 1
        page.close()
