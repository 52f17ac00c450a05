"""Fixtures for the Kubeflow Pipelines and KServe suite: the store npm test started
(LARDER_TEST_REPO, its larder.yaml names the ports) and the TypeScript client's reads of
it (LARDER_TEST_EXPECTED). Run by tools/test/python.ts in the kubeflow venv."""

import json
import os
import pathlib
import sys
from typing import Any, Dict

import pytest
from kfp import local

import larder

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]
EXAMPLES = REPO_ROOT / "examples" / "kubeflow"
FEATURES = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", "driver_hourly_stats:avg_daily_trips"]


def _need(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run this suite through tools/test/python.ts")
    return value


@pytest.fixture(scope="session")
def repo() -> pathlib.Path:
    return pathlib.Path(_need("LARDER_TEST_REPO"))


@pytest.fixture(scope="session")
def expected() -> Dict[str, Any]:
    return json.loads(pathlib.Path(_need("LARDER_TEST_EXPECTED")).read_text())


@pytest.fixture(scope="session")
def config(repo: pathlib.Path) -> larder.StoreConfig:
    return larder.read_repo_config(repo)


@pytest.fixture(scope="session")
def addresses(config: larder.StoreConfig) -> Dict[str, str]:
    """larder.yaml's services, as the components take them."""
    return {name: config.address(name) for name in ("registry", "online_serving", "offline_retrieval", "materialization")}


@pytest.fixture(scope="session")
def store(repo: pathlib.Path):
    with larder.FeatureStore(repo_path=repo, env={}) as s:
        yield s


@pytest.fixture(scope="session")
def pipeline_module():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import driver_pipeline

        yield driver_pipeline
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture(scope="session")
def local_runner(tmp_path_factory):
    # use_venv=False: the components run in this venv, where larder and kfp are installed
    # (the pod's image in a cluster), so nothing is installed at run time.
    root = tmp_path_factory.mktemp("pipeline-root")
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True)
    return root
