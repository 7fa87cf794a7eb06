from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.opencode import FakeOpenCode
from tests.gateway import Gateway

GO_KEY = "sk-test-go-0123456789"
ZEN_KEY = "sk-test-zen-0123456789"


@pytest.fixture(scope="session")
def fake_go() -> Iterator[FakeOpenCode]:
    with FakeOpenCode(tier="go", keys=(GO_KEY,)) as fake:
        yield fake


@pytest.fixture(scope="session")
def fake_zen() -> Iterator[FakeOpenCode]:
    with FakeOpenCode(tier="zen", keys=(ZEN_KEY,)) as fake:
        yield fake


@pytest.fixture(scope="session")
def gateway(fake_go: FakeOpenCode, fake_zen: FakeOpenCode) -> Iterator[Gateway]:
    """crossway with one Go key and one Zen key, both pointed at the fakes."""
    env = {
        "OPENCODE_GO_API_KEY": GO_KEY,
        "OPENCODE_GO_BASE_URL": fake_go.base_url,
        "OPENCODE_API_KEY": ZEN_KEY,
        "OPENCODE_ZEN_BASE_URL": fake_zen.base_url,
    }
    with Gateway(env) as gw:
        yield gw


@pytest.fixture(autouse=True)
def _clean_fakes(request: pytest.FixtureRequest) -> Iterator[None]:
    for name in ("fake_go", "fake_zen"):
        if name in request.fixturenames:
            request.getfixturevalue(name).reset()
    yield
