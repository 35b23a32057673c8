"""Fixtures of the web tests: ``web`` (a fresh app per test) and ``shared_web`` (one per
module, for tests that change nothing); the helpers behind them are in ``web_support``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web_support import Web, make_service, started

from hashmatch.config import Settings


@pytest.fixture(autouse=True, scope="module")
def _no_settings_from_the_environment() -> Iterator[None]:
    """Settings come from the tests alone, whatever the environment says (and metrics
    from this process alone)."""
    names = {f"HASHMATCH_{field.upper()}" for field in Settings.model_fields}
    with pytest.MonkeyPatch.context() as patch:
        for name in names | {"PROMETHEUS_MULTIPROC_DIR"}:
            patch.delenv(name, raising=False)
        yield


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    """A fresh data directory with the synthetic lists loaded, and the app over it."""
    service = make_service(tmp_path / "home")
    with service, started(service) as made:
        yield made


@pytest.fixture(scope="module")
def shared_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """Like ``web``, once per module: for tests that change nothing."""
    service = make_service(tmp_path_factory.mktemp("web") / "home")
    with service, started(service) as made:
        yield made
