"""Generates the gRPC stubs from the repository's proto/ into the wheel (larder/_proto).

The stubs are not committed: every wheel is built from the contracts it ships with, so
they cannot go stale. protoc's Python output imports its dependencies by proto package
(``from larder.types.v1 import value_pb2``), which would collide with this package's own
name and with a real ``tensorflow`` install, so those imports are rewritten to live under
``larder._proto``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, List

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# Top-level proto packages generated, and the include root each is generated from.
# gRPC's health contract is generated from proto/grpc so that it is the module
# ``health.v1.health_pb2`` and not a package named ``grpc`` (grpcio's name).
_ROOTS = (("larder", ""), ("tensorflow", ""), ("health", "grpc"))
_IMPORT = re.compile(r"^(from|import) (larder|tensorflow|health)\.", re.MULTILINE)


def proto_dir(package_root: Path) -> Path:
    given = os.environ.get("LARDER_PROTO_DIR")
    candidate = Path(given) if given else package_root.parent.parent / "proto"
    if not (candidate / "larder").is_dir():
        raise RuntimeError(
            f"cannot find Larder's contracts at {candidate}: build the wheel from a checkout "
            "(clients/python inside the repository) or set LARDER_PROTO_DIR to its proto/ folder"
        )
    return candidate


def generate(protos: Path, out: Path) -> List[Path]:
    """Runs grpc_tools.protoc over every contract; returns the files written."""
    from grpc_tools import protoc  # a build requirement
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    for package, sub in _ROOTS:
        root = protos / sub
        files = sorted(str(p.relative_to(root)) for p in (root / package).rglob("*.proto"))
        if not files:
            raise RuntimeError(f"no .proto files under {root / package}")
        args = [
            "grpc_tools.protoc",
            f"-I{root}",
            f"-I{well_known}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            *files,
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"grpc_tools.protoc failed on {root / package}")
    written: List[Path] = []
    for path in sorted(out.rglob("*")):
        if path.suffix in (".py", ".pyi"):
            text = path.read_text(encoding="utf-8")
            path.write_text(_IMPORT.sub(r"\1 larder._proto.\2.", text), encoding="utf-8")
            written.append(path)
    for directory in [out, *[d for d in out.rglob("*") if d.is_dir()]]:
        init = directory / "__init__.py"
        if not init.exists():
            init.write_text("", encoding="utf-8")
            written.append(init)
    return written


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """hatchling's hook: generate into a temporary folder, force-include it as larder/_proto."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: Dict[str, Any]) -> None:
        self._tmp = tempfile.mkdtemp(prefix="larder-proto-")
        out = Path(self._tmp) / "_proto"
        out.mkdir()
        generate(proto_dir(Path(self.root)), out)
        build_data["force_include"][str(out)] = "larder/_proto"

    def finalize(self, version: str, build_data: Dict[str, Any], artifact_path: str) -> None:
        shutil.rmtree(getattr(self, "_tmp", ""), ignore_errors=True)
