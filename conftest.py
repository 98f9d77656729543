"""Options for this project's own test suite.

    pytest --backends numpy,torch      only these backends (others skip, saying so)
    pytest --seed 3                     weights and batches from another seed
"""
import pytest

from harness import backends as backend_registry


def pytest_addoption(parser):
    parser.addoption("--backends", default=",".join(backend_registry.BACKENDS),
                     help=f"backends to test (default: all: {','.join(backend_registry.BACKENDS)})")
    parser.addoption("--seed", type=int, default=0, help="seed for weights and batches (default 0)")


@pytest.fixture
def seed(request) -> int:
    return request.config.getoption("--seed")


@pytest.fixture
def require_backend(request):
    """Call with a backend name: skips (with the reason and install hint) if it cannot run."""
    selected = request.config.getoption("--backends").split(",")

    def require(name: str) -> str:
        if name not in selected:
            pytest.skip(f"{name} not selected (--backends {','.join(selected)})")
        reason = backend_registry.missing_reason(name)
        if reason:
            pytest.skip(f"{name}: {reason}")
        return name

    return require


REPORTS_KEY = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def terminal_report(request):
    """Append text to print in pytest's terminal summary (e.g. the diagnosis confusion table)."""
    return request.config.stash.setdefault(REPORTS_KEY, [])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for text in config.stash.get(REPORTS_KEY, []):
        terminalreporter.write_line("")
        for line in text.splitlines():
            terminalreporter.write_line(line)
