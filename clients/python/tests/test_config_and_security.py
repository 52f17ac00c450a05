from __future__ import annotations

import os
from typing import Any, Dict

import pytest

import larder
from conftest import FEATURES


def test_larder_yaml_names_the_services(repo: str, store: larder.FeatureStore) -> None:
    config = larder.read_repo_config(repo)
    assert config.project == "driver_stats"
    assert set(config.addresses) == {"registry", "online_serving", "offline_retrieval", "materialization", "ingestion"}
    # An explicit address wins over larder.yaml, the environment over larder.yaml too.
    s = larder.FeatureStore(repo_path=repo, online="10.0.0.1:1", env={"LARDER_OFFLINE_RETRIEVAL": "10.0.0.2:2"})
    assert s.config.address("online_serving") == "10.0.0.1:1"
    assert s.config.address("offline_retrieval") == "10.0.0.2:2"
    assert s.config.address("registry") == config.addresses["registry"]
    assert larder.FeatureStore(env={}).config.address("online_serving") == "127.0.0.1:6566"


def test_bad_configuration_is_named(tmp_path: Any) -> None:
    (tmp_path / "larder.yaml").write_text("project: p\nservices:\n  online_serving: not-an-address\n")
    with pytest.raises(larder.InvalidArgument, match=r"services.online_serving: expected host:port"):
        larder.FeatureStore(repo_path=tmp_path, env={})
    with pytest.raises(larder.InvalidArgument, match="no larder.yaml"):
        larder.FeatureStore(repo_path=tmp_path / "missing", env={})
    with pytest.raises(larder.InvalidArgument, match="cert_file and key_file go together"):
        larder.TlsConfig(cert_file="a.pem")
    with pytest.raises(larder.InvalidArgument, match="characters a token cannot have"):
        larder.FeatureStore(token="two words", env={})


def _secure_store(secure: Dict[str, str], **kwargs: Any) -> larder.FeatureStore:
    tls = kwargs.pop("tls", larder.TlsConfig(ca_file=secure["ca"], cert_file=secure["cert"], key_file=secure["key"]))
    return larder.FeatureStore(online=secure["address"], project="driver_stats", tls=tls, timeout=10, env=kwargs.pop("env", {}), **kwargs)


def test_mutual_tls_and_a_token_read_the_same_features(secure: Dict[str, str], store: larder.FeatureStore) -> None:
    plain = store.get_online_features(FEATURES, columns={"driver_id": [1001, 1002]}).to_dict()
    with _secure_store(secure, token=secure["alice"]) as s:
        assert s.get_online_features(FEATURES, columns={"driver_id": [1001, 1002]}).to_dict() == plain
        assert s.health() == "SERVING"


def test_token_file_server_name_and_environment(secure: Dict[str, str], store: larder.FeatureStore, tmp_path: Any) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(secure["alice"] + "\n")
    plain = store.get_online_features(FEATURES, [{"driver_id": 1003}]).to_dict()
    # Dial by IP, check the certificate's name: the server certificate carries localhost.
    tls = larder.TlsConfig(ca_file=secure["ca"], cert_file=secure["cert"], key_file=secure["key"], server_name="localhost")
    with _secure_store(secure, tls=tls, token_file=token_file) as s:
        assert s.get_online_features(FEATURES, [{"driver_id": 1003}]).to_dict() == plain
        # The file is read again when it changes (a rotated Kubernetes token).
        token_file.write_text(secure["bob"])
        with pytest.raises(larder.PermissionDenied):
            s.get_online_features(FEATURES, [{"driver_id": 1003}])
    env = {
        "LARDER_CLIENT_TLS_CA_FILE": secure["ca"],
        "LARDER_CLIENT_TLS_CERT_FILE": secure["cert"],
        "LARDER_CLIENT_TLS_KEY_FILE": secure["key"],
        "LARDER_TOKEN": secure["alice"],
    }
    with larder.FeatureStore(online=secure["address"], project="driver_stats", env=env) as s:
        assert s.get_online_features(FEATURES, [{"driver_id": 1003}]).to_dict() == plain


def test_refusals_map_to_their_exceptions(secure: Dict[str, str]) -> None:
    with _secure_store(secure, token=secure["bob"]) as s:
        with pytest.raises(larder.PermissionDenied) as denied:
            s.get_online_features(FEATURES, [{"driver_id": 1001}])
    assert "user:bob" in denied.value.message and "read_online" in denied.value.message
    with _secure_store(secure) as s:
        with pytest.raises(larder.Unauthenticated) as caught:
            s.get_online_features(FEATURES, [{"driver_id": 1001}])
    assert caught.value.message == "missing bearer token"
    # Without a client certificate the TLS handshake fails: nothing reaches the service.
    with _secure_store(secure, tls=larder.TlsConfig(ca_file=secure["ca"]), token=secure["alice"]) as s:
        with pytest.raises(larder.Unavailable):
            s.get_online_features(FEATURES, [{"driver_id": 1001}])
    # Plaintext to a TLS port fails the same way.
    with larder.FeatureStore(online=secure["address"], project="driver_stats", timeout=5, env={}) as s:
        with pytest.raises(larder.Unavailable):
            s.get_online_features(FEATURES, [{"driver_id": 1001}])
