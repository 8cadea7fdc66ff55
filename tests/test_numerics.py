"""The numerical mode (``study/runtime/numerics.py``): in the reproducible mode a run is
the same bits whatever x86 CPU computes it, whatever its vendor and instruction set
(MKL's compatible branch); runs record their mode, and the cache never serves one
mode's run as the other's.

Another CPU is emulated on this one by capping the instruction sets of MKL, oneDNN and
ATen. Each configuration needs a fresh process: the settings only take before torch's
first operation."""

import json
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from study_helpers import config

from nodestudy import NodestudyError
from nodestudy.study import RunCache, open_run, train_runs
from nodestudy.study.runtime import numerics

DRIVER = Path(__file__).with_name("numerics_runs.py")
MACHINES = {
    "native": {},
    "avx2": {
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "ATEN_CPU_CAPABILITY": "avx2",
    },
    # this CPU's AVX-512 asked for by name, as a user's environment may (MKL then
    # ignores MKL_CBWR unless MKL_ENABLE_INSTRUCTIONS is pinned too)
    "avx512": {
        "MKL_ENABLE_INSTRUCTIONS": "AVX512",
        "ONEDNN_MAX_CPU_ISA": "AVX512_CORE",
        "ATEN_CPU_CAPABILITY": "avx512",
    },
}
RUNS = ("euler seed 0", "euler seed 1", "rk4 seed 0", "dopri5 seed 0", "adapted seed 0")


def environment(mode: str, machine: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the mode's settings (which importing the
    study put there), as a fresh shell on this machine or an emulated one has it."""
    env = {k: v for k, v in os.environ.items() if k not in dict(numerics.REPRODUCIBLE.environment)}
    # one thread in both modes: the differences shown are the CPU's, not the threads'
    return {**env, **(machine or {}), numerics.VARIABLE: mode, "OMP_NUM_THREADS": "1"}


def run(args: list[str], mode: str, machine=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], env=environment(mode, machine), capture_output=True, text=True
    )


@cache
def digests(mode: str, machine: str, *options: str) -> dict:
    """The driver's digests of small runs, trained in ``mode`` on ``machine``."""
    cache_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"nodestudy-numerics-{os.getpid()}"
    shutil.rmtree(cache_dir, ignore_errors=True)
    try:
        done = run([str(DRIVER), str(cache_dir / "runs"), *options], mode, MACHINES[machine])
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_small_runs_are_the_same_bits_on_an_avx2_cpu_and_this_one_in_the_reproducible_mode():
    native = digests("reproducible", "native")
    assert digests("reproducible", "avx2") == native
    assert digests("reproducible", "avx512") == native
    for name in (*RUNS, "adjoint seed 0"):
        assert {f"{name} weights", f"{name} history", f"{name} metrics"} <= native.keys()
    assert "check of euler" in native and "euler scored with dopri5 tol=1e-05" in native


def test_in_the_fast_mode_the_same_runs_depend_on_the_cpu():
    native, avx2 = digests("fast", "native"), digests("fast", "avx2")
    if native["numerics"]["aten_capability"] != "AVX512":
        pytest.skip("this CPU has no AVX-512: it computes as the emulated AVX2 one")
    differing = {name for name in native if native[name] != avx2[name]}
    for name in RUNS:
        assert f"{name} metrics" in differing  # its accuracy or loss is other bits
    assert "log_softmax of 10 classes" in differing  # ATen's own vector code
    if numerics.cpu_vendor() == "GenuineIntel":
        # MKL's products take their AVX-512 branch on Intel's CPUs only; on another
        # vendor's (an AMD EPYC with AVX-512: the same weights) MKL ignores the cap
        for name in ("euler seed 0", "dopri5 seed 0", "adapted seed 0", "adjoint seed 0"):
            assert f"{name} weights" in differing
        assert "check of euler" in differing


def test_members_trained_alone_are_the_same_bits_as_in_ensembles_of_any_width_and_position():
    alone = digests("reproducible", "native", "alone")
    assert len(alone) == 4 and len(set(alone.values())) == 1, alone


def test_a_run_records_the_mode_it_was_trained_in(cache_dir):
    (trained,) = train_runs([config(iterations=3)], progress=False)
    recorded = trained.metrics["numerics"]
    # one mode whatever the vendor: MKL's compatible branch, on Intel's CPUs and AMD's
    assert recorded["mode"] == "reproducible"
    assert recorded["threads"] == 1
    if recorded["mkl_cbwr"] is not None:  # x86 with MKL
        assert recorded["mkl_cbwr"] == "0x10003"  # COMPATIBLE | STRICT
        assert recorded["aten_capability"] == "AVX2"
    stored = json.loads((trained.directory / "metrics.json").read_text())
    assert stored["numerics"] == recorded
    manifest = json.loads((trained.directory / "manifest.json").read_text())
    assert manifest["trained_on"]["numerics"] == recorded
    assert manifest["trained_on"]["cpu"]["vendor"] == numerics.cpu_vendor()


def test_a_run_of_the_other_mode_is_not_served_from_the_cache(tmp_path):
    train = ["-m", "nodestudy", "train", "--iters", "3", "--steps", "2", "--json"]
    train += ["--cache", str(tmp_path)]
    served = {}
    for attempt, mode in enumerate(["fast", "fast", "reproducible", "reproducible"]):
        done = run(train, mode)
        assert done.returncode == 0, done.stderr
        served[attempt] = json.loads(done.stdout)
    assert [served[i]["cached"] for i in range(4)] == [False, True, False, True]
    fast, reproducible = Path(served[0]["run"]), Path(served[2]["run"])
    assert fast != reproducible
    assert json.loads((fast / "metrics.json").read_text())["numerics"]["mode"] == "fast"
    # a fast run put under the reproducible run's name is refused, not served
    shutil.rmtree(reproducible)
    shutil.copytree(fast, reproducible)
    here = RunCache(tmp_path)  # this process computes in the reproducible mode
    assert here.runs() == []
    with pytest.warns(UserWarning, match="another run"):  # the manifest names its key
        assert here.get(open_run(fast).config) is None


def test_one_mode_whatever_the_vendor(monkeypatch):
    monkeypatch.delenv(numerics.VARIABLE, raising=False)
    assert numerics.selected() is numerics.REPRODUCIBLE
    assert dict(numerics.REPRODUCIBLE.environment)["MKL_CBWR"] == "COMPATIBLE,STRICT"
    monkeypatch.setenv(numerics.VARIABLE, "compatible")  # the old per-vendor name is gone
    with pytest.raises(NodestudyError, match="choose reproducible"):
        numerics.selected()


def test_torch_computing_before_the_study_is_imported_is_refused_in_one_line(tmp_path):
    script = (
        "import torch; torch.ones(64, 64) @ torch.ones(64, 64)\n"
        "import nodestudy.study\n"
        f"nodestudy.study.RunCache({str(tmp_path)!r})\n"
    )
    done = run(["-c", script], "reproducible")
    assert done.returncode == 1
    message = "import nodestudy.study before any torch operation"
    assert message in done.stderr.splitlines()[-1]  # the error
    assert "UserWarning: nodestudy: torch computed before" in done.stderr  # at the import
    assert run(["-c", script], "fast").returncode == 0


def test_an_unknown_mode_is_a_one_line_error(monkeypatch):
    done = run(["-m", "nodestudy", "train", "--iters", "1", "--steps", "2"], "quick")
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith("nodestudy: error: NODESTUDY_NUMERICS='quick'")
    monkeypatch.setenv(numerics.VARIABLE, "quick")
    with pytest.raises(NodestudyError, match="choose reproducible"):
        numerics.selected()
