"""The charts' helper process (lungtrack.report.chart_process): the same charts as drawn in the
command's own process, whatever happens to the helper, and no helper or matplotlib where no chart
is drawn."""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import subprocess
import sys

import pytest

from lungtrack.report import chart_process, charts
from lungtrack.report.chart_process import ChartProcess, InProcess
from test_report_model import make

pytestmark = pytest.mark.skipif(not chart_process.supported(), reason="the helper process needs Linux fork")


@pytest.fixture(scope="module")
def drawn():
    report, _ = make()
    return report, charts.build_charts(report)


def test_the_helper_draws_exactly_the_charts_drawn_in_process(drawn):
    report, expected = drawn
    helper = ChartProcess.start()
    assert isinstance(helper, ChartProcess)
    got = helper.charts(report)
    assert [c.key for c in got] == ["tumor", "spider", "marker-CEA", "timeline"]
    assert got == expected  # every field, the SVG markup byte for byte
    assert not helper._proc.is_alive()
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("cores", [1, 2])
def test_shared_drawing_keeps_the_page_order(drawn, monkeypatch, cores):
    report, expected = drawn
    monkeypatch.setattr(chart_process, "_cores", lambda: cores)
    assert chart_process.draw(report) == expected


def test_meanwhile_runs_once_while_the_helper_draws_and_its_errors_are_the_callers(drawn):
    report, expected = drawn
    calls = []
    assert ChartProcess.start().charts(report, lambda: calls.append("helper")) == expected
    assert InProcess().charts(report, lambda: calls.append("here")) == expected
    assert calls == ["helper", "here"]

    def fails():
        raise KeyError("journal")

    helper = ChartProcess.start()
    with pytest.raises(KeyError, match="journal"):
        helper.charts(report, fails)
    assert not helper._proc.is_alive()


def test_a_dead_helper_means_the_command_draws_them_itself(drawn):
    report, expected = drawn
    helper = ChartProcess.start()
    helper._proc.kill()
    helper._proc.join(5)
    assert helper.charts(report) == expected


def test_a_fork_that_fails_to_draw_is_redrawn_by_the_helper(drawn, monkeypatch):
    report, expected = drawn
    real_exit = os._exit
    monkeypatch.setattr(chart_process.os, "_exit", lambda status: real_exit(3))  # the fork's data is refused
    monkeypatch.setattr(chart_process, "_cores", lambda: 2)
    assert chart_process.draw(report) == expected


def test_a_chart_that_fails_in_the_helper_ends_its_fork(drawn, monkeypatch):
    report, _ = drawn

    def broken(*_a, **_k):
        raise ValueError("no such axis")

    monkeypatch.setattr(charts, "tumor_chart_all", broken)  # drawn by the helper itself, not the fork
    monkeypatch.setattr(chart_process, "_cores", lambda: 2)
    forks = []
    real_fork = os.fork
    monkeypatch.setattr(chart_process.os, "fork", lambda: forks.append(real_fork()) or forks[-1])
    with pytest.raises(ValueError, match="no such axis"):
        chart_process.draw(report)
    assert len(forks) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(forks[0], os.WNOHANG)  # already reaped


def test_a_chart_that_fails_raises_in_the_command_as_without_the_helper(drawn, monkeypatch):
    report, _ = drawn

    def broken(*_a, **_k):
        raise ValueError("no such axis")

    monkeypatch.setattr(charts, "spider_chart", broken)  # the fork inherits it: helper and command both fail
    with pytest.raises(ValueError, match="no such axis"):
        ChartProcess.start().charts(report)
    with pytest.raises(ValueError, match="no such axis"):
        InProcess().charts(report)
    assert multiprocessing.active_children() == []


LEAN = r"""
import pickle, sys
from lungtrack.report import charts
charts.preload(lean=True)
with open(sys.argv[1], "rb") as f:
    report = pickle.load(f)
with open(sys.argv[2], "wb") as f:
    pickle.dump(charts.build_charts(report), f)
"""


def test_the_lean_matplotlib_import_draws_the_same_charts(drawn, tmp_path):
    report, expected = drawn
    data, out = tmp_path / "report.pickle", tmp_path / "charts.pickle"
    data.write_bytes(pickle.dumps(report))
    subprocess.run([sys.executable, "-c", LEAN, str(data), str(out)], check=True, timeout=120)
    assert pickle.loads(out.read_bytes()) == expected


def test_the_helper_ends_when_the_command_does_not_need_it(drawn):
    helper = ChartProcess.start()
    helper.close()
    assert not helper._proc.is_alive()
    helper.close()  # twice is harmless


PROBE = r"""
import sys, json, multiprocessing
sys.argv = ["lungtrack"] + json.loads(sys.argv[1])
from lungtrack.cli import main
code = 0
try:
    main()
except SystemExit as e:
    code = e.code or 0
sys.stdout.flush()
print(json.dumps({"code": code, "matplotlib": "matplotlib" in sys.modules,
                  "children": len(multiprocessing.active_children())}), file=sys.stderr)
"""


def _probe(args, env):
    res = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, env=env,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stderr.strip().splitlines()[-1])


@pytest.fixture
def demo_env(demo):
    return dict(os.environ)


@pytest.mark.parametrize("args", [["summary"], ["summary", "--json"], ["report", "--format", "txt"],
                                  ["report", "--format", "md"], ["trend", "cea"]])
def test_terminal_and_text_formats_never_import_matplotlib(demo_env, args):
    result = _probe(args, demo_env)
    assert result == {"code": 0, "matplotlib": False, "children": 0}


def test_the_html_report_is_drawn_by_the_helper_and_leaves_no_process(demo_env, tmp_path):
    out = tmp_path / "r.html"
    result = _probe(["report", "-o", str(out)], demo_env)
    # matplotlib was imported by the helper only; the command itself never loaded it
    assert result == {"code": 0, "matplotlib": False, "children": 0}
    assert out.read_text(encoding="utf-8").count("<svg ") == 4


def test_an_html_report_without_charts_starts_no_helper(demo, tmp_path, monkeypatch):
    def refuse():
        raise AssertionError("a helper was started for a report without charts")

    monkeypatch.setattr(ChartProcess, "start", staticmethod(refuse))
    r = demo("report", "--sections", "summary,findings", "-o", str(tmp_path / "r.html"))
    assert r.code == 0, r
