"""Fixtures over the live store tools/test/python.ts starts (npm start's quickstart, and a
second online serving with mutual TLS and OIDC tokens); its addresses come in LARDER_TEST_*."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterator

import pytest

import larder

FEATURES = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", "driver_hourly_stats:avg_daily_trips"]


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run this suite through tools/test/python.ts (npm test)")
    return value


@pytest.fixture(scope="session")
def repo() -> str:
    return _env("LARDER_TEST_REPO")


@pytest.fixture(scope="session")
def expected() -> Dict[str, Any]:
    with open(_env("LARDER_TEST_EXPECTED"), encoding="utf-8") as f:
        return json.load(f)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def store(repo: str) -> Iterator[larder.FeatureStore]:
    with larder.FeatureStore(repo_path=repo, env={}) as s:
        yield s


@pytest.fixture(scope="session")
def secure() -> Dict[str, str]:
    return {
        "address": _env("LARDER_TEST_SECURE_ONLINE"),
        "ca": _env("LARDER_TEST_CA_FILE"),
        "cert": _env("LARDER_TEST_CLIENT_CERT_FILE"),
        "key": _env("LARDER_TEST_CLIENT_KEY_FILE"),
        "alice": _env("LARDER_TEST_TOKEN_ALICE"),
        "bob": _env("LARDER_TEST_TOKEN_BOB"),
    }
