"""Shared fixtures: no network, the Agg backend, and a throwaway copy of the project data."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_addoption(parser):
    parser.addoption("--run-network", action="store_true", help="run tests marked network (talk to Yahoo)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-network"):
        return
    skip = pytest.mark.skip(reason="network test: pass --run-network to run it")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


class NetworkBlocked(RuntimeError):
    pass


def _is_loopback(address) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    return isinstance(host, str) and (host.startswith("127.") or host in ("::1", "localhost"))


@pytest.fixture(autouse=True)
def no_network(request, monkeypatch):
    """Fail any test that opens a non-loopback connection (unless it is marked network)."""
    if "network" in request.keywords:
        return
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def guarded_connect(self, address):
        if not _is_loopback(address) and self.family != getattr(socket, "AF_UNIX", None):
            raise NetworkBlocked(f"test tried to connect to {address!r}")
        return real_connect(self, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not _is_loopback((host,)):
            raise NetworkBlocked(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    real_create = socket.create_connection

    def guarded_create(address, *args, **kwargs):
        if not _is_loopback(address):
            raise NetworkBlocked(f"test tried to connect to {address!r}")
        return real_create(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", guarded_create)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A copy of data/ in a temp working directory, so builds and edits touch nothing real."""
    shutil.copytree(ROOT / "data", tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def offline_result(tmp_path_factory):
    """One offline build of the bundled data, written to a temp folder (shared by tests)."""
    from comps.config import BuildConfig
    from comps.pipeline import build

    out = tmp_path_factory.mktemp("outputs")
    cfg = BuildConfig(peers_path=ROOT / "data/peers.csv", target_path=ROOT / "data/targets/cerebras.toml",
                      snapshot_dir=ROOT / "data/snapshots", concentration_path=ROOT / "data/concentration.csv",
                      out_dir=out, offline=True)
    return build(cfg)
