"""Fixtures for the integration suite: the "TPM under test" is chosen per test from the
implementations named by --tpm (our vtpm and the reference swtpm) and the transports (swtpm's
command line with the swtpm TCTI, and the mssim simulator protocol). Every test gets a fresh
simulator process on free loopback ports with its own state directory; it is killed afterwards.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.servers import HANGS, Impl, TPMUnderTest, check_breaker  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TRANSPORTS = ("swtpm", "mssim")


def _vtpm_binary(config) -> str:
    explicit = config.getoption("--vtpm-bin")
    if explicit:
        return str(Path(explicit).resolve())
    for flavour in ("release", "debug"):
        p = REPO / ".build" / flavour / "vtpm"
        if p.exists():
            return str(p)
    return str(REPO / ".build" / "release" / "vtpm")


def selected_impls(config, option: str = "--tpm") -> list[Impl]:
    out = []
    for name in [n.strip() for n in config.getoption(option).split(",") if n.strip()]:
        if name == "vtpm":
            out.append(Impl("vtpm", _vtpm_binary(config)))
        elif name == "swtpm":
            out.append(Impl("swtpm", config.getoption("--swtpm-bin")))
        else:
            raise pytest.UsageError(f"unknown implementation {name!r} (swtpm, vtpm)")
    return out


def selected_transports(config) -> list[str]:
    ts = [t.strip() for t in config.getoption("--transport").split(",") if t.strip()]
    for t in ts:
        if t not in TRANSPORTS:
            raise pytest.UsageError(f"unknown transport {t!r}")
    return ts


def pytest_configure(config):
    config.addinivalue_line("markers", "transports(*names): run this test only over these transports")
    config.addinivalue_line("markers", "slow: long-running (still part of the default run)")
    # A missing tool is an error of the environment, never a reason to skip.
    missing = [t for t in ("tpm2", "sha256sum", "openssl") if shutil.which(t) is None]
    if "swtpm" in config.getoption("--tpm") and not Path(config.getoption("--swtpm-bin")).exists():
        missing.append(config.getoption("--swtpm-bin"))
    if missing:
        raise pytest.UsageError(f"missing tools: {', '.join(missing)} (run scripts/test, which installs them)")


def pytest_generate_tests(metafunc):
    config = metafunc.config
    if "tpm_spec" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("transports")
        allowed = marker.args if marker else TRANSPORTS
        specs = [(i, t) for i in selected_impls(config) for t in selected_transports(config) if t in allowed]
        metafunc.parametrize("tpm_spec", specs, ids=[f"{i.name}-{t}" for i, t in specs])
    if "suite_impl" in metafunc.fixturenames:
        impls = selected_impls(config, "--t2t-tpm")
        metafunc.parametrize("suite_impl", impls, ids=[i.name for i in impls])
    if "impl" in metafunc.fixturenames:
        impls = selected_impls(config)
        metafunc.parametrize("impl", impls, ids=[i.name for i in impls])


def _check_binary(impl: Impl):
    if not os.access(impl.binary, os.X_OK):
        pytest.fail(f"{impl.name} binary {impl.binary} is missing or not executable "
                    "(build it: swift build -c release)", pytrace=False)


# A server that stops answering would make every later test of that implementation wait for its
# timeouts; after HANG_LIMIT timed-out tests of one implementation, its remaining tests fail at once.
_TIMEOUT_MARKERS = ("TimeoutExpired", "TimeoutError", "timed out", "Timeout >", "no answer within")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and call.excinfo is not None:
        text = f"{call.excinfo.typename} {call.excinfo.value}"
        if any(m in text for m in _TIMEOUT_MARKERS):
            for name in _impl_names(item):
                HANGS[name] = HANGS.get(name, 0) + 1


def _impl_names(item) -> list[str]:
    params = getattr(getattr(item, "callspec", None), "params", {})
    names = []
    if "tpm_spec" in params:
        names.append(params["tpm_spec"][0].name)
    if "impl" in params:
        names.append(params["impl"].name)
    return names


@pytest.fixture
def tpm_factory(tmp_path):
    """Make more TPMs in one test: factory(impl, transport, startup_clear=True, start=True)."""
    made: list[TPMUnderTest] = []

    def make(impl: Impl, transport: str = "swtpm", startup_clear: bool = True, start: bool = True,
             name: str | None = None) -> TPMUnderTest:
        _check_binary(impl)
        check_breaker(impl)
        t = TPMUnderTest(impl, transport, tmp_path / (name or f"{impl.name}-{transport}-{len(made)}"),
                         startup_clear)
        made.append(t)
        if start:
            t.start()
        return t

    yield make
    for t in made:
        t.stop()


@pytest.fixture
def tpm(tpm_spec, tpm_factory) -> TPMUnderTest:
    """A fresh, started TPM (after Startup(CLEAR)) of each selected implementation and transport."""
    impl, transport = tpm_spec
    return tpm_factory(impl, transport)


@pytest.fixture
def swtpm_impl(request) -> Impl:
    return Impl("swtpm", request.config.getoption("--swtpm-bin"))


@pytest.fixture
def candidate_impl(request) -> Impl:
    """The implementation compared against swtpm in the differential tests: vtpm when selected,
    else swtpm itself (which validates the generator and the comparison)."""
    impls = selected_impls(request.config)
    for i in impls:
        if i.name != "swtpm":
            return i
    return Impl("swtpm", request.config.getoption("--swtpm-bin"))


def pytest_collection_modifyitems(config, items):
    """tpm2-tools' own scripts are a local check (the issue's "fetch and run locally"): they are
    tpm2-tools' code, never committed, and no Debian or PyPI package carries them. Without
    --t2t-suite they are not collected at all (deselected, and said so in the summary),
    rather than reported as skipped tests."""
    if config.getoption("--t2t-suite"):
        return
    keep, dropped = [], []
    for item in items:
        (dropped if item.nodeid.startswith("integration/test_tpm2_tools_suite.py") else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture
def vtpm_bin(request) -> str:
    """Our executable, for tests of vtpm's own features (the daemon, its CLI)."""
    path = _vtpm_binary(request.config)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing (build it: swift build -c release)", pytrace=False)
    return path


# Parallel runs (pytest-xdist, `-n 2 --dist loadgroup` in scripts/test): tests that run the agent on
# this host share the kernel's audit subsystem (rules, the multicast group, the audit-daemon
# fallback), so they run one after another on one worker; everything else is spread freely (each
# test has its own processes, free ports and directories).
SERIAL_GROUPS = {
    "test_agent.py": "host-audit",
    "test_agent_evidence.py": "host-audit",
    "test_verifier_agent.py": "host-audit",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        group = SERIAL_GROUPS.get(item.path.name)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
