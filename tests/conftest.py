import pytest


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A fresh run cache, also visible to subprocesses through NODESTUDY_CACHE."""
    path = tmp_path / "runs"
    monkeypatch.setenv("NODESTUDY_CACHE", str(path))
    return path
