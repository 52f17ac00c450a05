"""Where the services are and how to reach them: larder.yaml, explicit addresses, TLS, tokens.

The same keys and environment variables as the ``larder`` command: ``services:`` in a
feature repo's larder.yaml, LARDER_REGISTRY / LARDER_ONLINE_SERVING /
LARDER_OFFLINE_RETRIEVAL / LARDER_MATERIALIZATION / LARDER_INGESTION for addresses,
LARDER_CLIENT_TLS_CA_FILE / _CERT_FILE / _KEY_FILE / _SERVER_NAME for TLS, and
LARDER_CLIENT_TOKEN_FILE or LARDER_TOKEN for a bearer token.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import yaml

from .errors import InvalidArgument

PathLike = Union[str, "os.PathLike[str]"]

SERVICES = ("registry", "online_serving", "offline_retrieval", "materialization", "ingestion")
"""Service keys, as larder.yaml's ``services:`` names them."""

DEFAULT_ADDRESSES: Dict[str, str] = {
    "online_serving": "127.0.0.1:6566",
    "registry": "127.0.0.1:6570",
    "offline_retrieval": "127.0.0.1:6571",
    "materialization": "127.0.0.1:6572",
    "ingestion": "127.0.0.1:6573",
}
"""Where ``npm start`` listens."""

_ENV_ADDRESS = {
    "registry": "LARDER_REGISTRY",
    "online_serving": "LARDER_ONLINE_SERVING",
    "offline_retrieval": "LARDER_OFFLINE_RETRIEVAL",
    "materialization": "LARDER_MATERIALIZATION",
    "ingestion": "LARDER_INGESTION",
}
_ADDRESS = re.compile(r"^[^\s:]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$")
_TOKEN = re.compile(r"^[\x21-\x7e]+$")
_MAX_TOKEN_BYTES = 64 * 1024


@dataclass(frozen=True)
class TlsConfig:
    """TLS to the services: a CA bundle to trust (else the system's), an optional client
    certificate and key (mutual TLS), and the name the server's certificate must carry
    when it differs from the host dialled."""

    ca_file: Optional[str] = None
    cert_file: Optional[str] = None
    key_file: Optional[str] = None
    server_name: Optional[str] = None

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise InvalidArgument("tls: cert_file and key_file go together (a client certificate needs its key)")


class TokenSource:
    """A bearer token, fixed or read from a file that is read again when it changes
    (a Kubernetes projected service-account token is rewritten before it expires)."""

    def __init__(self, token: Optional[str] = None, file: Optional[PathLike] = None) -> None:
        if (token is None) == (file is None):
            raise InvalidArgument("a token source takes a token or a file, not both")
        self._file = None if file is None else Path(file)
        self._lock = threading.Lock()
        self._signature: Optional[Tuple[int, int, int, int]] = None
        if token is not None:
            self._token = _check_token(token.strip(), "the token")
        else:
            self._token = ""
            self._read()

    @property
    def description(self) -> str:
        return "fixed token" if self._file is None else f"token file {self._file}"

    def token(self) -> str:
        if self._file is not None:
            self._read()
        return self._token

    def _read(self) -> None:
        assert self._file is not None
        try:
            info = self._file.stat()
        except OSError as error:
            raise InvalidArgument(f"cannot read the token file {self._file}: {error.strerror}") from error
        signature = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        if signature == self._signature:
            return
        with self._lock:
            if info.st_size > _MAX_TOKEN_BYTES:
                raise InvalidArgument(f"the token file {self._file} is {info.st_size} bytes, over the {_MAX_TOKEN_BYTES} a token may have")
            self._token = _check_token(self._file.read_text(encoding="utf-8").strip(), f"the token file {self._file}")
            self._signature = signature


def _check_token(token: str, what: str) -> str:
    if token == "":
        raise InvalidArgument(f"{what} is empty")
    if len(token.encode()) > _MAX_TOKEN_BYTES:
        raise InvalidArgument(f"{what} is over {_MAX_TOKEN_BYTES} bytes")
    if not _TOKEN.match(token):
        raise InvalidArgument(f"{what} holds characters a token cannot have (spaces, control or non-ASCII characters)")
    return token


@dataclass(frozen=True)
class StoreConfig:
    """Everything FeatureStore needs: the project and each service's ``host:port``."""

    project: str = ""
    addresses: Mapping[str, str] = field(default_factory=dict)
    tls: Optional[TlsConfig] = None
    token: Optional[TokenSource] = None
    repo_path: Optional[str] = None

    def address(self, service: str) -> str:
        return self.addresses.get(service) or DEFAULT_ADDRESSES[service]


def read_repo_config(repo_path: PathLike) -> StoreConfig:
    """The project and ``services:`` of a feature repo's larder.yaml. A registry given as
    ``registry: {address: host:port}`` is used too; a registry file or database is the
    CLI's business and is ignored here (the client always talks to services)."""
    root = Path(repo_path)
    file = root / "larder.yaml"
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise InvalidArgument(f"no larder.yaml in {root}") from error
    except yaml.YAMLError as error:
        raise InvalidArgument(f"{file}: invalid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise InvalidArgument(f"{file}: expected a mapping with at least 'project'")
    project = raw.get("project")
    if not isinstance(project, str) or project == "":
        raise InvalidArgument(f"{file}: 'project' is required and must be a string")
    addresses: Dict[str, str] = {}
    services = raw.get("services") or {}
    if not isinstance(services, dict):
        raise InvalidArgument(f"{file}: 'services' must be a mapping of service name to host:port")
    for name, address in services.items():
        if name not in SERVICES:
            raise InvalidArgument(f"{file}: services.{name}: unknown service (known: {', '.join(SERVICES)})")
        addresses[name] = _check_address(address, f"{file}: services.{name}")
    registry = raw.get("registry")
    if isinstance(registry, dict) and isinstance(registry.get("address"), str) and "registry" not in addresses:
        addresses["registry"] = _check_address(registry["address"], f"{file}: registry.address")
    return StoreConfig(project=project, addresses=addresses, repo_path=str(root.resolve()))


def _check_address(address: object, where: str) -> str:
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise InvalidArgument(f"{where}: expected host:port, got {address!r}")
    return address


def resolve_config(
    repo_path: Optional[PathLike],
    config: Optional[StoreConfig],
    explicit: Mapping[str, Optional[str]],
    project: Optional[str],
    tls: Union[TlsConfig, bool, None],
    token: Optional[str],
    token_file: Optional[PathLike],
    env: Mapping[str, str],
) -> StoreConfig:
    """Explicit arguments, then the environment, then larder.yaml, then npm start's ports."""
    if repo_path is not None and config is not None:
        raise InvalidArgument("give repo_path or config, not both")
    if token is not None and token_file is not None:
        raise InvalidArgument("give token or token_file, not both")
    base = config if config is not None else read_repo_config(repo_path) if repo_path is not None else StoreConfig()
    addresses = dict(base.addresses)
    for service in SERVICES:
        given = explicit.get(service)
        from_env = env.get(_ENV_ADDRESS[service], "")
        if given is not None:
            addresses[service] = _check_address(given, service)
        elif from_env != "" and _ADDRESS.match(from_env):
            addresses[service] = from_env
    return replace(
        base,
        project=project if project is not None else base.project or env.get("LARDER_PROJECT", ""),
        addresses=addresses,
        tls=_resolve_tls(tls, base.tls, env),
        token=_resolve_token(token, token_file, base.token, env),
    )


def _resolve_tls(tls: Union[TlsConfig, bool, None], base: Optional[TlsConfig], env: Mapping[str, str]) -> Optional[TlsConfig]:
    if isinstance(tls, TlsConfig):
        return tls
    if tls is False:
        return None
    if base is not None:
        return base
    settings = {
        "ca_file": env.get("LARDER_CLIENT_TLS_CA_FILE") or None,
        "cert_file": env.get("LARDER_CLIENT_TLS_CERT_FILE") or None,
        "key_file": env.get("LARDER_CLIENT_TLS_KEY_FILE") or None,
        "server_name": env.get("LARDER_CLIENT_TLS_SERVER_NAME") or None,
    }
    if tls is True or any(value is not None for value in settings.values()):
        return TlsConfig(**settings)
    return None


def _resolve_token(token: Optional[str], token_file: Optional[PathLike], base: Optional[TokenSource], env: Mapping[str, str]) -> Optional[TokenSource]:
    if token is not None:
        return TokenSource(token=token)
    if token_file is not None:
        return TokenSource(file=token_file)
    if base is not None:
        return base
    if env.get("LARDER_CLIENT_TOKEN_FILE"):
        return TokenSource(file=env["LARDER_CLIENT_TOKEN_FILE"])
    if env.get("LARDER_TOKEN"):
        return TokenSource(token=env["LARDER_TOKEN"])
    return None


CHANNEL_OPTIONS: Sequence[Tuple[str, int]] = (
    # Training-set chunks and registry listings can be large; the services cap theirs.
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
)


def channel_args(config: StoreConfig) -> Tuple[Optional[object], Sequence[Tuple[str, object]]]:
    """(channel credentials or None for plaintext, channel options) for grpc's channel makers."""
    import grpc

    options: list = list(CHANNEL_OPTIONS)
    if config.tls is None:
        return None, options

    def read(path: Optional[str], what: str) -> Optional[bytes]:
        if path is None:
            return None
        try:
            return Path(path).read_bytes()
        except OSError as error:
            raise InvalidArgument(f"tls.{what}: cannot read {path}: {error.strerror}") from error

    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(config.tls.ca_file, "ca_file"),
        private_key=read(config.tls.key_file, "key_file"),
        certificate_chain=read(config.tls.cert_file, "cert_file"),
    )
    if config.tls.server_name is not None:
        options.append(("grpc.ssl_target_name_override", config.tls.server_name))
    return credentials, options
