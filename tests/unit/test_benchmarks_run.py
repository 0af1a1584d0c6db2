"""Every benchmark stays runnable as the code under it changes: each module of bench/ imports, and each command's
`--help` answers (a renamed adapter, a moved helper or a broken option fails here, not on the day someone measures)."""
from __future__ import annotations

import importlib
import pkgutil
import sys

import pytest

import bench

MODULES = sorted(info.name for info in pkgutil.iter_modules(bench.__path__))
COMMANDS = [name for name in MODULES if name not in {"common", "synthetic_store", "sweep_process"}]


def test_the_benchmarks_listed_here_are_the_ones_in_bench():
    assert {"scale", "record_cost", "table_write_cost", "adoption_scale", "directory_ranges"} <= set(COMMANDS)


@pytest.mark.parametrize("name", MODULES)
def test_each_benchmark_module_imports(name):
    module = importlib.import_module(f"bench.{name}")
    assert module.__doc__, f"bench/{name}.py says what it measures in its docstring"


@pytest.mark.parametrize("name", COMMANDS)
def test_each_benchmark_command_answers_help(name, monkeypatch, capsys):
    module = importlib.import_module(f"bench.{name}")
    monkeypatch.setattr(sys, "argv", [f"python -m bench.{name}", "--help"])
    with pytest.raises(SystemExit) as ended:
        module.parse_args()
    assert ended.value.code == 0
    assert f"python -m bench.{name}" in capsys.readouterr().out
