"""lungtrack biopsy: log tissue and liquid-biopsy (ctDNA) findings; list, show, edit, delete.

Gene and variant are normalised by :func:`lungtrack.parsing.variants.normalize_alteration`, so
``T790M``, ``EGFR T790M``, ``p.Thr790Met`` and ``c.2369C>T`` are stored alike (gene ``EGFR``,
variant ``T790M``, HGVS names in their own columns) and the rules can compare findings across
dates.  Every value is checked before the store is opened: bad input writes nothing.
"""


from typing import Annotated, Any, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt, PatientOpt, YesOpt
from lungtrack.enums import AlleleContext, BiopsyResult, Sample

app = typer.Typer(help="Biopsy findings (tissue or plasma ctDNA): add, list, show, edit, delete.",
                  no_args_is_help=True)

#: What --vaf accepts.  Percent, because that is how reports print it; a fraction would be a
#: factor-100 slip, so the help says so explicitly.
VAF_EXPECTED = "a variant allele frequency in percent, more than 0 and at most 100 (e.g. 0.8 or 0.8%)"
#: Longest assay name accepted (the column's size).
MAX_ASSAY_CHARS = 200

SAMPLE_LABELS: dict[str, str] = {
    Sample.PLASMA.value: "plasma ctDNA",
    Sample.TISSUE.value: "tissue",
    Sample.PLEURAL_FLUID.value: "pleural fluid",
    Sample.OTHER.value: "another sample",
}

DateOpt = Annotated[str, typer.Option("--date", "--on", help="Date of the sample/result (YYYY-MM-DD, today, '3 days ago'); not in the future.")]
SampleOpt = Annotated[Sample, typer.Option("--sample", case_sensitive=False, help="What was tested.")]
GeneOpt = Annotated[Optional[str], typer.Option("--gene", help="Gene, e.g. EGFR, ALK, MET, HER2 (inferred from a known variant when omitted).")]
VariantOpt = Annotated[str, typer.Option("--variant", help="Variant: T790M, p.Thr790Met, c.2369C>T, 'EGFR T790M', 'exon 19 deletion', amplification or fusion.")]
ResultOpt = Annotated[BiopsyResult, typer.Option("--result", case_sensitive=False, help="Whether the variant was found.")]
VafOpt = Annotated[Optional[str], typer.Option("--vaf", help="Variant allele frequency in PERCENT (0.8 means 0.8 %, not 80 %); only with --result detected.")]
AssayOpt = Annotated[Optional[str], typer.Option("--assay", help="Test name, e.g. 'cobas EGFR v2' or 'Guardant360'.")]
ContextOpt = Annotated[Optional[AlleleContext], typer.Option("--allele-context", case_sensitive=False, help="For a detected C797S: cis/trans with T790M, if the report says (ctDNA panels usually cannot tell: unknown).")]


# ------------------------------------------------------------------ parsing helpers (no store)

def parse_vaf(text: str | None, field: str = "--vaf") -> float | None:
    """A VAF in percent, 0 < vaf <= 100; ``0.8%`` is accepted as well as ``0.8``."""
    from lungtrack.errors import InputError
    from lungtrack.parsing.numbers import parse_number

    if text is None:
        return None
    stripped = text.strip()
    number = stripped[:-1].strip() if stripped.endswith("%") else stripped
    try:
        value = parse_number(number, field=field, minimum=0, maximum=100, allow_zero=False)
    except InputError:
        raise InputError(field, text, VAF_EXPECTED) from None
    if value <= 0:
        raise InputError(field, text, VAF_EXPECTED)
    return value


def parse_assay(text: str | None) -> str | None:
    """Assay name, whitespace collapsed; an empty text means "no assay" (clears it on edit)."""
    from lungtrack.errors import InputError

    if text is None:
        return None
    cleaned = " ".join(text.split())
    if len(cleaned) > MAX_ASSAY_CHARS:
        raise InputError("--assay", cleaned[:40] + "...", f"an assay name of at most {MAX_ASSAY_CHARS} characters")
    return cleaned


def normalise(variant: str, gene: str | None, field: str = "--variant") -> Any:
    """The normalised :class:`Alteration`; a gene that contradicts the variant is an InputError."""
    from lungtrack.parsing.variants import normalize_alteration, normalize_gene

    symbol = normalize_gene(gene, field="--gene") if gene is not None else None
    return normalize_alteration(variant, gene=symbol, field=field)


def check_combination(result: str, vaf: float | None, allele_context: str | None, *,
                      result_field: str = "--result", gene: str | None = None, variant: str | None = None) -> None:
    """A VAF or an allele context only makes sense for a variant that was detected, and an allele
    context only for the variant it describes (EGFR C797S)."""
    from lungtrack.errors import InputError
    from lungtrack.parsing.variants import check_allele_context

    if result == BiopsyResult.DETECTED.value:
        check_allele_context(gene, variant, allele_context)
        return
    if vaf is not None:
        raise InputError("--vaf", f"{common.fmt(vaf)}", "no --vaf unless --result detected", message=(
            f"--vaf: {common.fmt(vaf)} is not valid with {result_field} {result}; expected no VAF unless the "
            "variant was detected (on edit, clear a stored VAF with --vaf none)."))
    if allele_context is not None:
        raise InputError("--allele-context", allele_context, "no --allele-context unless --result detected",
                         message=(f"--allele-context: {allele_context!r} is not valid with {result_field} {result}; "
                                  "expected no allele context unless the variant was detected."))


# ------------------------------------------------------------------ output helpers

def finding_dict(row) -> dict:
    """Row dict plus computed fields: ``display`` (``EGFR T790M``), ``vaf_unit`` and ``sample_label``."""
    from lungtrack.store.repo import row_dict

    return finding_dict_from(row_dict(row))


def finding_dict_from(data: dict) -> dict:
    from lungtrack.parsing.variants import normalize_alteration

    data = dict(data)
    try:
        data["display"] = normalize_alteration(data["variant"], gene=data["gene"] or None).display
    except Exception:  # a name stored by an older version that no longer parses
        data["display"] = f"{data['gene']} {data['variant']}".strip()
    data["vaf_unit"] = "%"
    data["sample_label"] = SAMPLE_LABELS.get(data["sample"], data["sample"])
    return data


def describe(data: dict) -> str:
    """``EGFR T790M (p.Thr790Met) detected in plasma ctDNA on Tue 2026-07-28``."""
    from datetime import date

    hgvs = f" ({data['hgvs_p']})" if data.get("hgvs_p") else ""
    result = data["result"].replace("-", " ")
    when = common.date_label(date.fromisoformat(data["date"]))
    return f"{data['display']}{hgvs} {result} in {data['sample_label']} on {when}"


def vaf_text(data: dict) -> str:
    return f", VAF {common.fmt(data['vaf'])} %" if data.get("vaf") is not None else ""


# ------------------------------------------------------------------ commands

@app.command("add")
def add(
    ctx: typer.Context,
    sample: SampleOpt,
    variant: VariantOpt,
    result: ResultOpt,
    date: DateOpt = "today",
    gene: GeneOpt = None,
    vaf: VafOpt = None,
    assay: AssayOpt = None,
    allele_context: ContextOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Log it even if the same finding (date, sample, gene, variant) is already logged.")] = False,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Log one biopsy finding: a variant found (or not found) in tissue or plasma.

    Example: lungtrack biopsy add --date 2026-07-28 --sample plasma --variant T790M
    --result detected --vaf 0.8 --assay "cobas EGFR v2"
    """
    from lungtrack.records.inputs import BiopsyInput

    when = common.parse_date_opt(date, "--date", required=True)
    alt = normalise(variant, gene)
    vaf_value = parse_vaf(vaf)
    assay_name = parse_assay(assay) or None
    context = allele_context.value if allele_context is not None else None
    check_combination(result.value, vaf_value, context, gene=alt.gene, variant=alt.name)
    inp = BiopsyInput(date=when, sample=sample.value, gene=alt.gene, variant=variant, result=result.value,
                      vaf=vaf_value, assay=assay_name, allele_context=context)

    def op(w, force_):
        p = w.patient_row(patient)
        return w.add_biopsy(p, inp, force=force_), p.name

    (res, pname), _change = common.write(ctx, op, force=force)
    data = finding_dict_from(res.row)
    if json_out:
        common.print_json(data)
    common.err(f"Logged {describe(data)} for {pname}{vaf_text(data)}.")
    if getattr(alt, "note", None):
        common.err(f"Note: {alt.note}.")


@app.command("list")
def list_(
    ctx: typer.Context,
    gene: Annotated[Optional[str], typer.Option("--gene", help="Only this gene (e.g. EGFR, HER2).")] = None,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List biopsy findings, oldest first."""
    from lungtrack.store import models as m
    from lungtrack.store import repo

    wanted = _gene_filter(gene)
    with common.transaction(ctx, write=False) as (_s, session):
        p = repo.find_patient(session, patient)
        rows = [finding_dict(b) for b in repo.records(session, m.BiopsyFinding, p)
                if wanted is None or b.gene == wanted]
    if json_out:
        common.print_json(rows)
        return
    common.print_table(
        ["id", "date", "sample", "gene", "variant", "hgvs_p", "result", "VAF %", "assay", "allele"],
        [[r["id"], r["date"], r["sample"], r["gene"], r["variant"], r["hgvs_p"], r["result"], r["vaf"], r["assay"],
          r["allele_context"]] for r in rows])


def _gene_filter(gene: str | None) -> str | None:
    """The stored symbol for a typed gene (``HER2`` -> ``ERBB2``); unknown genes are refused."""
    from lungtrack.parsing.variants import normalize_gene

    return None if gene is None else normalize_gene(gene, field="--gene")


@app.command("show")
def show(ctx: typer.Context, finding_id: Annotated[int, typer.Argument(help="Finding id (see: lungtrack biopsy list).")],
         patient: PatientOpt = None, json_out: JsonOpt = False) -> None:
    """Show one biopsy finding."""
    data = common.show_flow(ctx, "BiopsyFinding", finding_id, patient, json_out, finding_dict)
    if data is None:
        return
    common.print_fields([
        ("id", data["id"]), ("date", data["date"]), ("sample", data["sample_label"]), ("assay", data["assay"]),
        ("alteration", data["display"]), ("HGVS protein", data["hgvs_p"]), ("HGVS cDNA", data["hgvs_c"]),
        ("result", data["result"]), ("VAF", f"{common.fmt(data['vaf'])} %" if data["vaf"] is not None else None),
        ("allele context", data["allele_context"]), ("source", data["source"]),
    ])


@app.command("edit")
def edit(
    ctx: typer.Context,
    finding_id: Annotated[int, typer.Argument(help="Finding id.")],
    date: Annotated[Optional[str], typer.Option("--date", "--on", help="New date (not in the future).")] = None,
    sample: Annotated[Optional[Sample], typer.Option("--sample", case_sensitive=False)] = None,
    gene: GeneOpt = None,
    variant: Annotated[Optional[str], typer.Option("--variant", help="New variant; re-normalised (with the stored gene unless --gene is given).")] = None,
    result: Annotated[Optional[BiopsyResult], typer.Option("--result", case_sensitive=False)] = None,
    vaf: Annotated[Optional[str], typer.Option("--vaf", help="New VAF in percent, or 'none' to clear it.")] = None,
    assay: Annotated[Optional[str], typer.Option("--assay", help="New assay name ('' clears it).")] = None,
    allele_context: ContextOpt = None,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Correct a biopsy finding; only the options given change (gene and variant are re-normalised)."""
    from lungtrack.errors import InputError

    when = common.parse_date_opt(date, "--date")
    clear_vaf = vaf is not None and vaf.strip().lower() in ("none", "")
    vaf_value = None if vaf is None or clear_vaf else parse_vaf(vaf)
    assay_name = parse_assay(assay)
    if all(v is None for v in (when, sample, gene, variant, result, vaf, assay, allele_context)):
        raise InputError("options", "", "at least one of --date, --sample, --gene, --variant, --result, --vaf, "
                                        "--assay, --allele-context")
    changes: dict = {}
    if gene is not None or variant is not None:
        from lungtrack.parsing.variants import normalize_gene

        if gene is not None:
            changes["gene"] = normalize_gene(gene, field="--gene")
        if variant is not None:
            changes["variant"] = variant
    for key, value in (("date", when), ("sample", sample.value if sample else None),
                       ("result", result.value if result else None),
                       ("allele_context", allele_context.value if allele_context else None)):
        if value is not None:
            changes[key] = value
    if clear_vaf or vaf_value is not None:
        changes["vaf"] = vaf_value
    if assay_name is not None:
        changes["assay"] = assay_name or None

    def op(w, _force):
        p = w.patient(patient)
        row = w.find("biopsy", [finding_id], p)[0]
        gene_now, variant_now = row.gene, row.variant
        if ("gene" in changes or "variant" in changes):
            alt = normalise(changes.get("variant", row.variant), changes.get("gene", row.gene or None),
                            field="--variant" if "variant" in changes else "--gene")
            gene_now, variant_now = alt.gene, alt.name
        merged_result = changes.get("result", row.result)
        check_combination(merged_result, changes.get("vaf", row.vaf), changes.get("allele_context", row.allele_context),
                          result_field="--result" if result is not None else "the stored result",
                          gene=gene_now, variant=variant_now)
        return w.edit_biopsy(p, finding_id, changes)

    res, _change = common.write(ctx, op)
    data = finding_dict_from(res.row)
    if json_out:
        common.print_json(data)
    common.err(f"Updated finding {finding_id}: {describe(data)}{vaf_text(data)}.")


@app.command("delete")
def delete(ctx: typer.Context, finding_ids: Annotated[list[int], typer.Argument(help="Finding id(s).")],
           patient: PatientOpt = None, yes: YesOpt = False, json_out: common.ResultJsonOpt = False) -> None:
    """Delete one or more biopsy findings (asks first; --yes when not on a terminal)."""
    common.delete_flow(ctx, "biopsy", finding_ids, patient, yes, json_out,
                       lambda b: f"biopsy finding {b.id} ({f'{b.gene} {b.variant}'.strip()} {b.result} "
                                 f"in {b.sample} on {b.date.isoformat()})")
