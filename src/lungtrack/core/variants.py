"""Liquid-biopsy and tissue variant findings: resistance, newly detected, rising VAF.

The *therapy context* of a test is the latest therapy line that started **before** the test
date (ended or not): a biopsy taken on the day a new drug starts, or after the previous drug
was stopped, reflects resistance to the previous drug.  A test before any line (the
diagnostic biopsy) has no context, so a driver found at diagnosis is never read as resistance.

One event, one finding:

* ``variant.resistance`` (severity from the knowledge table, usually alert): an alteration
  listed in :mod:`lungtrack.knowledge.resistance` for this context, at its first detection
  (never detected before, or not detected on the previous test of it, or last detected in a
  different therapy context).  Later detections of the same alteration do not repeat it.
* ``variant.t790m_third_generation`` (watch): EGFR T790M detected while on a 3rd-generation
  EGFR TKI (osimertinib...), at its first detection in that context, even with no earlier
  test.  T790M is what these drugs inhibit, so it is not worded as a resistance mechanism; the
  finding gives what the literature reports (persisting T790M after second-line osimertinib).
* ``variant.new`` (watch): detected now, not detected (or not reported) on the previous test
  of the same gene, and not already reported as ``variant.resistance``.  It needs an earlier
  test of the gene: a first-ever test has nothing to compare with.
* ``variant.vaf_rising`` (watch): the VAF rose by more than ``vaf_rise_min_points`` percentage
  points between two consecutive detections *in the same sample type* (plasma and tissue VAFs
  are not comparable).
* ``variant.plasma_negative`` (info, design note): plasma did not detect T790M after
  progression on a 1st/2nd-generation EGFR TKI; a negative plasma test may need tissue
  re-testing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from lungtrack.core.fastinit import fast_init
from lungtrack.core.config import RulesConfig
from lungtrack.core.decimal_math import D
from lungtrack.core.findings import Finding
from lungtrack.core.history import BiopsyFinding, History, TherapyLine
from lungtrack.enums import AlleleContext, BiopsyResult, Sample, Severity, StopReason
from lungtrack.knowledge.drugs import Drug, get_drug
from lungtrack.knowledge.resistance import (
    ResistanceEntry,
    canonical_gene,
    find_resistance,
    t790m_on_third_generation,
)
from lungtrack.knowledge.sources import cite
from lungtrack.knowledge.variants import GENE_DISPLAY

_SAMPLE_TEXT = {
    Sample.PLASMA: "plasma ctDNA",
    Sample.TISSUE: "tissue",
    Sample.PLEURAL_FLUID: "pleural fluid",
    Sample.OTHER: "other sample",
}


@fast_init
@dataclass(frozen=True, slots=True)
class _Key:
    gene: str
    variant: str  # lower case, for matching

    @staticmethod
    def of(b: BiopsyFinding) -> _Key:
        return _key_of(b.gene, b.variant)


@lru_cache(maxsize=1024)
def _key_of(gene: str, variant: str) -> _Key:
    """The key of a gene and variant as typed (a history repeats the same few: cached)."""
    return _Key(canonical_gene(gene), variant.strip().lower())


def context_line(history: History, on: date) -> TherapyLine | None:
    """The latest line that started strictly before ``on`` (see the module docstring)."""
    before = [l for l in history.lines if l.start < on]
    return max(before, key=lambda l: (l.start, l.id)) if before else None


def label(gene: str, variant: str) -> str:
    """"EGFR T790M", "HER2 (ERBB2) amplification", "small-cell transformation"."""
    g = canonical_gene(gene)
    shown = GENE_DISPLAY.get(g, g)
    return f"{shown} {variant}".strip()


def subject(gene: str, variant: str) -> str:
    g = canonical_gene(gene)
    return f"{g}-{variant}" if g else variant


def _fmt(x: float) -> str:
    text = format(D(x).normalize(), "f")
    return "0" if text in ("-0", "") else text


def _describe(b: BiopsyFinding) -> str:
    parts = [_SAMPLE_TEXT.get(b.sample, str(b.sample))]
    if b.assay:
        parts.append(b.assay)
    parts.append(b.date.isoformat())
    if b.vaf is not None:
        parts.append(f"VAF {_fmt(b.vaf)} %")
    return ", ".join(parts)


def _drug_text(line: TherapyLine, drug: Drug | None) -> str:
    return f"{line.drug}, started {line.start.isoformat()}"


def _previous_text(prev_same: BiopsyFinding | None, prev_gene_date: date | None, gene: str) -> str:
    if prev_same is not None:
        if prev_same.result == BiopsyResult.NOT_DETECTED:
            return f"not detected on {prev_same.date.isoformat()}"
        if prev_same.result == BiopsyResult.INDETERMINATE:
            return f"indeterminate on {prev_same.date.isoformat()}"
        return f"also detected on {prev_same.date.isoformat()}"
    if prev_gene_date is not None:
        return f"not reported on the previous {gene} test ({prev_gene_date.isoformat()})"
    return "no earlier test for it recorded"


def _t790m_on(bios: Sequence[BiopsyFinding], b: BiopsyFinding) -> bool | None:
    """T790M result of the same test day (same sample type preferred): True/False/None."""
    same_day = [x for x in bios if x.date == b.date and _Key.of(x) == _Key("EGFR", "t790m")
                and x.result != BiopsyResult.INDETERMINATE]
    preferred = [x for x in same_day if x.sample == b.sample] or same_day
    if not preferred:
        return None
    return any(x.result == BiopsyResult.DETECTED for x in preferred)


def _allele_text(b: BiopsyFinding, t790m: bool | None) -> tuple[str, str]:
    """(evidence sentence, extra discuss sentence) about C797S cis/trans."""
    if t790m is False:
        return "T790M not detected on the same test, so cis/trans does not apply.", ""
    ctx = b.allele_context
    if ctx == AlleleContext.CIS:
        return "Cis/trans with T790M: cis (as reported).", ""
    if ctx == AlleleContext.TRANS:
        return ("Cis/trans with T790M: trans (as reported).",
                " In trans, a reported sensitivity to combined 1st- and 3rd-generation EGFR TKIs is unconfirmed in "
                "lungtrack's sources.")
    return "Cis/trans with T790M: unknown (most plasma assays cannot tell).", ""


def _progressed_before(line: TherapyLine, on: date, responses: Sequence[Any]) -> bool:
    if line.stop_reason == StopReason.PROGRESSION and line.end is not None and line.end <= on:
        return True
    for r in responses:
        if getattr(r, "line", None) is not None and r.line.id == line.id:
            pd = getattr(r, "first_pd_date", None)
            if pd is not None and pd <= on:
                return True
    return False


def _with_previous(bios: Sequence[BiopsyFinding]) -> list[tuple[BiopsyFinding, BiopsyFinding | None, date | None]]:
    """For each result of ``bios`` (sorted by date and id): the latest earlier result (dated
    before it) of the same gene and variant, and the date of the latest earlier result of the
    same gene (``None`` for a result without a gene).  One pass: the results dated before the
    current one are ``bios[:seen]``, and the latest of them per key and per gene are kept as
    ``seen`` moves on (each result used to scan every earlier one)."""
    out: list[tuple[BiopsyFinding, BiopsyFinding | None, date | None]] = []
    seen = 0
    last_of_key: dict[_Key, BiopsyFinding] = {}
    last_gene_date: dict[str, date] = {}
    for b in bios:
        while bios[seen].date < b.date:
            x = bios[seen]
            last_of_key[_Key.of(x)] = x
            last_gene_date[canonical_gene(x.gene)] = x.date
            seen += 1
        key = _Key.of(b)
        out.append((b, last_of_key.get(key), last_gene_date.get(key.gene) if key.gene else None))
    return out


def variant_findings(
    history: History, config: RulesConfig = RulesConfig(), responses: Sequence[Any] = ()
) -> list[Finding]:
    """All variant findings (see the module docstring).  ``responses`` (RECIST line responses,
    optional) tell when a line progressed, for the plasma-negative note."""
    pid = history.patient.id
    bios = sorted(history.biopsies, key=lambda b: (b.date, b.id))
    out: list[Finding] = []
    for i, (b, prev_same, prev_gene_date) in enumerate(_with_previous(bios)):
        key = _Key.of(b)
        line = context_line(history, b.date)
        drug = get_drug(line.drug) if line is not None else None

        if b.result == BiopsyResult.DETECTED:
            newly = prev_same is None or prev_same.result != BiopsyResult.DETECTED
            t790m = _t790m_on(bios, b) if key == _Key("EGFR", "c797s") else None
            entry = find_resistance(b.gene, b.variant, drug, t790m) if line is not None else None
            changed_context = (
                prev_same is not None and prev_same.result == BiopsyResult.DETECTED and line is not None
                and context_line(history, prev_same.date) != line
            )
            on_g3 = t790m_on_third_generation(b.gene, b.variant, drug) if line is not None else None
            if entry is not None and line is not None and (newly or changed_context):
                out.append(_resistance_finding(b, entry, line, drug, prev_same, prev_gene_date, t790m, pid))
            elif on_g3 is not None and line is not None and (newly or changed_context):
                out.append(_t790m_on_g3_finding(b, on_g3, line, drug, prev_same, prev_gene_date, pid))
            elif newly and (prev_same is not None or prev_gene_date is not None):
                out.append(_new_finding(b, line, drug, prev_same, prev_gene_date, pid))
            if prev_same is not None:
                f = _vaf_finding(bios[:i], b, config, pid)
                if f is not None:
                    out.append(f)
        elif (
            b.result == BiopsyResult.NOT_DETECTED and b.sample == Sample.PLASMA and key == _Key("EGFR", "t790m")
            and line is not None and drug is not None and drug.target == "EGFR" and drug.generation in (1, 2)
            and _progressed_before(line, b.date, responses)
            and not any(x.date == b.date and _Key.of(x) == key and x.result == BiopsyResult.DETECTED for x in bios)
        ):
            out.append(_plasma_negative_finding(b, line, pid))
    return out


def _resistance_finding(b: BiopsyFinding, entry: ResistanceEntry, line: TherapyLine, drug: Drug | None,
                        prev_same: BiopsyFinding | None, prev_gene_date: date | None, t790m: bool | None,
                        pid: int | None) -> Finding:
    name = label(b.gene, b.variant)
    gene = canonical_gene(b.gene)
    evidence = f"{name} detected ({_describe(b)}); {_previous_text(prev_same, prev_gene_date, gene)}."
    evidence += f" Therapy at the time: {_drug_text(line, drug)}."
    extra = ""
    if entry.t790m_sensitive:
        sentence, extra = _allele_text(b, t790m)
        evidence += " " + sentence
    return Finding(
        rule="variant.resistance",
        subject=subject(b.gene, b.variant),
        date=b.date,
        severity=entry.severity,
        title=f"{name} detected: known resistance mechanism on {line.drug}",
        evidence=evidence,
        source=entry.source_text,
        discuss=f"{entry.meaning}{extra} {entry.topic}",
        patient_id=pid,
        data=_data(b, line, prev_same, entry_key=entry.key, t790m_same_test=t790m),
    )


def _t790m_on_g3_finding(b: BiopsyFinding, entry: ResistanceEntry, line: TherapyLine, drug: Drug | None,
                         prev_same: BiopsyFinding | None, prev_gene_date: date | None, pid: int | None) -> Finding:
    name = label(b.gene, b.variant)
    evidence = f"{name} detected ({_describe(b)}); {_previous_text(prev_same, prev_gene_date, 'EGFR')}."
    evidence += f" Therapy at the time: {_drug_text(line, drug)}, a 3rd-generation EGFR TKI."
    return Finding(
        rule="variant.t790m_third_generation",
        subject=subject(b.gene, b.variant),
        date=b.date,
        severity=entry.severity,
        title=f"{name} detected on {line.drug} (3rd-generation EGFR TKI)",
        evidence=evidence,
        source=entry.source_text,
        discuss=f"{entry.meaning} {entry.topic}",
        patient_id=pid,
        data=_data(b, line, prev_same, entry_key=entry.key),
    )


def _new_finding(b: BiopsyFinding, line: TherapyLine | None, drug: Drug | None, prev_same: BiopsyFinding | None,
                 prev_gene_date: date | None, pid: int | None) -> Finding:
    name = label(b.gene, b.variant)
    gene = canonical_gene(b.gene)
    evidence = f"{name} detected ({_describe(b)}); {_previous_text(prev_same, prev_gene_date, gene or name)}."
    if line is not None:
        evidence += f" Therapy at the time: {_drug_text(line, drug)}."
    return Finding(
        rule="variant.new",
        subject=subject(b.gene, b.variant),
        date=b.date,
        severity=Severity.WATCH,
        title=f"{name} newly detected",
        evidence=evidence,
        source=cite("lungtrack_design"),
        discuss=(
            "A newly detected alteration can reflect a change in the tumour, a different sample or a different "
            "assay; lungtrack's table has no specific meaning for it in this therapy context. "
            f"Topic to discuss: what the new {name} result means."
        ),
        patient_id=pid,
        data=_data(b, line, prev_same),
    )


def _vaf_finding(earlier: Sequence[BiopsyFinding], b: BiopsyFinding, config: RulesConfig,
                 pid: int | None) -> Finding | None:
    key = _Key.of(b)
    same_sample = [x for x in earlier if _Key.of(x) == key and x.sample == b.sample and x.date < b.date]
    if not same_sample:
        return None
    prev = same_sample[-1]
    if prev.result != BiopsyResult.DETECTED or prev.vaf is None or b.vaf is None:
        return None
    rise = D(b.vaf) - D(prev.vaf)
    if not rise > D(config.variants.vaf_rise_min_points):
        return None
    name = label(b.gene, b.variant)
    sample = _SAMPLE_TEXT.get(b.sample, str(b.sample))
    return Finding(
        rule="variant.vaf_rising",
        subject=subject(b.gene, b.variant),
        date=b.date,
        severity=Severity.WATCH,
        title=f"{name} VAF rising",
        evidence=(
            f"{name} VAF in {sample}: {_fmt(prev.vaf)} % ({prev.date.isoformat()}) → {_fmt(b.vaf)} % "
            f"({b.date.isoformat()}), +{_fmt(float(rise))} percentage points."
        ),
        source=cite("lungtrack_design"),
        discuss=(
            "A rising variant allele frequency can mean more tumour DNA carrying this alteration, but it also "
            "varies with the assay and the sample. Topic to discuss: what the rising "
            f"{name} level means together with the imaging."
        ),
        patient_id=pid,
        data={**_data(b, None, prev), "previous_vaf": prev.vaf, "rise_points": float(rise)},
    )


def _plasma_negative_finding(b: BiopsyFinding, line: TherapyLine, pid: int | None) -> Finding:
    return Finding(
        rule="variant.plasma_negative",
        subject="EGFR-T790M",
        date=b.date,
        severity=Severity.INFO,
        title="EGFR T790M not detected in plasma after progression",
        evidence=(
            f"EGFR T790M not detected ({_describe(b)}) after progression on {line.drug} "
            f"(started {line.start.isoformat()})."
        ),
        source="; ".join([cite("lungtrack_design"), cite("yu2013")]),
        discuss=(
            "A negative plasma test does not rule T790M out: when the tumour sheds little DNA into the blood, "
            "plasma tests can miss it (lungtrack design note; the citation for this is unconfirmed). "
            "Topic to discuss: whether tissue re-testing is needed."
        ),
        patient_id=pid,
        data=_data(b, line, None),
    )


def _data(b: BiopsyFinding, line: TherapyLine | None, prev: BiopsyFinding | None, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "biopsy_id": b.id,
        "gene": canonical_gene(b.gene),
        "variant": b.variant,
        "sample": str(b.sample),
        "result": str(b.result),
        "vaf": b.vaf,
        "assay": b.assay,
        "allele_context": str(b.allele_context) if b.allele_context is not None else None,
        "line_id": line.id if line is not None else None,
        "drug": line.drug if line is not None else None,
        "previous_date": prev.date.isoformat() if prev is not None else None,
        "previous_result": str(prev.result) if prev is not None else None,
    }
    data.update(extra)
    return data
