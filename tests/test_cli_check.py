"""check / response / ack / config through the CLI, and one test per exit code."""

from __future__ import annotations

import json

import pytest

from lungtrack.exitcodes import ExitStatus



def test_demo_patient_shows_the_expected_findings(demo):
    r = demo("check", "--json")
    assert r.code == ExitStatus.ATTENTION
    data = r.json()
    findings = data["patients"][0]["findings"]
    rules = {f["rule"]: f for f in findings}
    assert rules["variant.resistance"]["severity"] == "alert"
    assert "T790M" in rules["variant.resistance"]["title"]
    assert rules["lesion.mixed_response"]["subject"] == "liver S6"
    assert rules["marker.rising"]["data"]  # numbers as data, not only text
    assert "timing.imaging_due" in rules
    assert "recist.progression" not in rules  # +11 % from nadir is not PD
    for f in findings:
        assert f["source"] and f["discuss"] and f["evidence"] and f["id"].startswith(f["rule"] + ":")
        assert f["severity"] in ("info", "watch", "alert")
    assert data["patients"][0]["current_line"]["trial"]["name"] == "IPASS"
    assert data["needs_attention"] == sum(1 for f in findings if f["severity"] != "info")


def test_scripted_patient_yields_exactly_those_findings(cli, monkeypatch):
    """T790M on gefitinib, one lesion growing alone, an overdue scan — and nothing else that needs attention."""
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-09-30")
    for step in [
        ("patient", "add", "Sam", "--driver", "EGFR L858R", "--never-smoker"),
        ("therapy", "start", "gefitinib", "--on", "2025-10-01"),
        ("scan", "add", "--date", "2025-09-25", "--lesion", "A: lung, 30 mm", "--lesion", "B: liver, 20 mm"),
        ("scan", "add", "--date", "2026-01-10", "--lesion", "A 20", "--lesion", "B 10"),
        ("scan", "add", "--date", "2026-04-10", "--lesion", "A 19", "--lesion", "B 16"),
        ("biopsy", "add", "--date", "2026-03-01", "--sample", "plasma", "--variant", "T790M", "--result", "not-detected"),
        ("biopsy", "add", "--date", "2026-05-01", "--sample", "plasma", "--variant", "T790M", "--result", "detected",
         "--vaf", "1.2"),
    ]:
        assert cli(*step).code == 0, step
    r = cli("check", "--json")
    assert r.code == ExitStatus.ATTENTION
    attention = sorted(f["rule"] for f in r.json()["patients"][0]["findings"] if f["severity"] != "info")
    assert attention == ["lesion.mixed_response", "timing.imaging_due", "variant.resistance"]
    by_rule = {f["rule"]: f for f in r.json()["patients"][0]["findings"]}
    assert "Yu 2013" in by_rule["variant.resistance"]["source"]
    assert "overdue" in by_rule["timing.imaging_due"]["title"]
    assert "B grew 10 → 16 mm" in by_rule["lesion.mixed_response"]["evidence"]


def test_ack_marks_and_new_only_hides(demo):
    data = demo("check", "--json").json()
    alert = next(f for f in data["patients"][0]["findings"] if f["rule"] == "variant.resistance")
    before = data["needs_attention"]
    r = demo("ack", alert["id"][:30], "--note", "discussed with Dr Okafor")
    assert r.code == 0 and "Acknowledged" in r.stderr
    after = demo("check", "--json").json()
    f = next(x for x in after["patients"][0]["findings"] if x["id"] == alert["id"])
    assert f["acknowledged"] is True and f["acknowledgement_note"] == "discussed with Dr Okafor"
    assert after["needs_attention"] == before - 1
    new_only = demo("check", "--new-only", "--json").json()
    assert alert["id"] not in [x["id"] for x in new_only["patients"][0]["findings"]]
    human = demo("check")
    assert "(acknowledged " in human.stdout
    assert demo("ack", alert["id"], "--undo").code == 0
    assert demo("check", "--json").json()["needs_attention"] == before


def test_exit_ok_and_quiet_when_nothing_needs_attention(cli, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-01-20")
    cli("patient", "add", "Ann")
    cli("therapy", "start", "osimertinib", "--on", "2026-01-05")
    cli("scan", "add", "--date", "2026-01-02", "--lesion", "A: lung, 30 mm")
    r = cli("check", "--quiet")
    assert r.code == ExitStatus.OK and r.stdout == ""
    r = cli("check")
    assert r.code == ExitStatus.OK and "Nothing needs attention." in r.stdout


def test_exit_attention(demo):
    assert demo("check", "--quiet").code == ExitStatus.ATTENTION


def test_exit_error_for_missing_store(cli, tmp_path):
    r = cli("--db", str(tmp_path / "missing.db"), "check")
    assert r.code == ExitStatus.ERROR and "No lungtrack store" in r.stderr


def test_exit_usage_for_bad_option(cli):
    r = cli("check", "--bogus")
    assert r.code == ExitStatus.USAGE and len(r.stderr.strip().splitlines()) == 1


def test_exit_interrupted(cli, monkeypatch):
    from lungtrack.store import repo

    cli("patient", "add", "Ann")

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(repo, "list_patients", boom)
    r = cli("patient", "list")
    assert r.code == ExitStatus.INTERRUPTED and "nothing was saved" in r.stderr


def test_all_patients(demo):
    demo("patient", "add", "Bob")
    r = demo("check", "--all-patients", "--json")  # JSON Lines: one object per patient
    assert [json.loads(line)["patient"]["name"] for line in r.stdout.splitlines()] == ["Ann", "Bob"]


def test_response_json_matches_recist(demo):
    r = demo("response", "--json")
    assert r.code == 0
    line = r.json()["lines"][0]
    tps = line["timepoints"]
    assert tps[0]["is_baseline"] and tps[0]["sum_mm"] == 78.0
    assert tps[1]["sum_mm"] == 51.0 and tps[1]["overall"] == "PR"
    assert round(tps[1]["change_from_baseline_pct"], 1) == -34.6
    assert tps[-1]["sum_mm"] == 49.0 and tps[-1]["overall"] == "PR"  # PR kept: +11 % from nadir is not PD
    assert line["best_overall"] == "PR"
    human = demo("response")
    assert "best overall response: partial response" in human.stdout


def test_thresholds_file_changes_the_rules(demo, tmp_path, monkeypatch):
    cfg = tmp_path / "thr.toml"
    cfg.write_text("[heterogeneity]\nlesion_growth_pct = 80.0\n")
    monkeypatch.setenv("LUNGTRACK_CONFIG", str(cfg))
    rules = {f["rule"] for f in demo("check", "--json").json()["patients"][0]["findings"]}
    assert "lesion.mixed_response" not in rules  # +66.7 % < 80 %
    assert "growth_pct = 80.0" in demo("config", "show").stdout


@pytest.mark.parametrize("text,needle", [
    ("[recist]\npd_increase_pct = -5\n", "recist.pd_increase_pct"),
    ("[recist]\npd_increase_pct = 'twenty'\n", "recist.pd_increase_pct"),
    ("[recist]\nno_such_key = 1\n", "recist.no_such_key"),
    ("[nonsense]\nx = 1\n", "[nonsense]"),
    ("[markers\nrising = 2\n", "not valid TOML"),
    ("[markers]\nrising_requires_above_uln = 1\n", "rising_requires_above_uln"),
])
def test_invalid_thresholds_are_refused(demo, tmp_path, monkeypatch, text, needle):
    cfg = tmp_path / "thr.toml"
    cfg.write_text(text)
    monkeypatch.setenv("LUNGTRACK_CONFIG", str(cfg))
    r = demo("check")
    assert r.code == ExitStatus.USAGE
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_config_path_honours_xdg(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert cli("config", "path").stdout.strip() == str(tmp_path / "cfg" / "lungtrack" / "thresholds.toml")


def test_severity_is_coloured_only_on_a_terminal_and_never_with_no_color(demo, monkeypatch):
    from lungtrack.cli import common

    plain = demo("check")
    assert "\x1b[" not in plain.stdout and "ALERT  EGFR T790M" in plain.stdout
    monkeypatch.setattr(common, "stdout_is_tty", lambda: True)
    monkeypatch.setenv("TERM", "xterm-256color")  # the suite runs with TERM=dumb, which Rich treats as no colour
    coloured = demo("check")
    assert "\x1b[" in coloured.stdout and "ALERT" in coloured.stdout
    monkeypatch.setenv("NO_COLOR", "1")
    no_color = demo("check")
    assert "\x1b[" not in no_color.stdout and "ALERT" in no_color.stdout
