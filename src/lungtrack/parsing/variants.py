"""Genomic alterations as people and lab reports write them, normalised to one form.

``T790M``, ``p.T790M``, ``p.Thr790Met``, ``p.(Thr790Met)``, ``c.2369C>T``,
``NM_005228.5:c.2369C>T``, ``EGFR T790M`` and ``egfr p.thr790met`` all give the same
:class:`~lungtrack.knowledge.variants.Alteration` (EGFR T790M), so a plasma result typed one
way is recognised as the same finding as a tissue result typed another way.

What is accepted:

* protein changes, one- or three-letter, with or without ``p.`` and HGVS parentheses:
  substitutions (``L858R``), deletions / duplications / insertions / delins over a range
  (``E746_A750del``, ``A763_Y764insFQEA``), frameshifts (``L747fs``); old spellings
  ``delE746-A750`` and ``E746-A750del``;
* cDNA changes (``c.2369C>T``, ``c.2235_2249del``), optionally with a RefSeq transcript
  (``NM_005228.5:c.2369C>T``, ``NM_005228.5(EGFR):c.2369C>T``) which also names the gene;
* named alterations: ``exon 19 deletion`` (``ex19del``, ``del19`` ...), ``exon 20 insertion``,
  ``MET exon 14 skipping`` (``METex14``), ``amplification`` (``amp``, ``amplified``,
  ``CNV gain``), ``fusion`` (``rearrangement``, ``EML4-ALK``, ``ALK positive``), ``mutation``
  (``KRAS mutant``), ``small-cell transformation`` (``SCLC transformation``);
* a report's combined form ``EGFR exon 19 deletion (L747_T751del)``, which must agree.

The gene is taken from the text, the ``gene`` argument or the transcript, which must agree,
or is inferred when exactly one table entry has that change.  Safeguards for the table genes:
a change that belongs to another gene (``ALK T790M``) and a wrong reference residue
(``EGFR A790M``: codon 790 of EGFR is T) are refused.  A well-formed change the table does
not know is accepted when the gene is named (``EGFR L747P``): kind ``other``, not confirmed.
EGFR deletions inside exon 19 (codons 729-761) and insertions/duplications inside exon 20
(codons 762-823) are named ``exon 19 deletion`` / ``exon 20 insertion`` - how reports and
treatment labels group them - keeping the exact protein change in ``hgvs_p``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from lungtrack.errors import InputError
from lungtrack.knowledge.variants import (
    ALTERATIONS,
    AMINO_ACIDS,
    CLASS_MEMBERS,
    EXTRA_CDNA,
    FUSION_GENES,
    GENE_ALIASES,
    KNOWN_RESIDUES,
    NO_GENE,
    PANEL_GENES,
    TABLE_GENES,
    TRANSCRIPT_GENES,
    Alteration,
    lookup,
)

__all__ = ["check_allele_context", "normalize_alteration", "normalize_gene", "parse_driver"]

EXPECTED = (
    'a variant such as T790M, p.Thr790Met, c.2369C>T, "EGFR exon 19 deletion", '
    '"MET amplification" or "ALK fusion"'
)
_DRIVER_EXPECTED = (
    'a driver such as "EGFR exon 19 deletion", "EGFR L858R", "ALK fusion", "ROS1 fusion", '
    '"KRAS G12C", "BRAF V600E" or "MET exon 14 skipping"'
)

_THREE_TO_ONE = {three.upper(): one for one, three in AMINO_ACIDS.items()}
_ONE_LETTER = frozenset(AMINO_ACIDS)  # includes "*"
EXON19 = (729, 761)  # EGFR exon 19 codons (deletions here are "exon 19 deletions")
EXON20 = (762, 823)  # EGFR exon 20 codons (insertions here are "exon 20 insertions")

# ---------------------------------------------------------------------------------------
# Protein changes

_AA = r"(?:[A-Za-z]{3}|[A-Za-z*])"
_P_RANGE = re.compile(
    rf"(?P<r1>{_AA})(?P<p1>\d+)_(?P<r2>{_AA})(?P<p2>\d+)(?P<op>delins|del|dup|ins)(?P<seq>[A-Za-z*]*)", re.I
)
_P_SINGLE = re.compile(rf"(?P<r1>{_AA})(?P<p1>\d+)(?P<op>delins|del|dup)(?P<seq>[A-Za-z*]*)", re.I)
_P_FS = re.compile(rf"(?P<r1>{_AA})(?P<p1>\d+)(?P<alt>{_AA})?fs(?:\*|ter)?(?P<len>\d+|\?)?", re.I)
_P_SUB = re.compile(rf"(?P<r1>{_AA})(?P<p1>\d+)(?P<alt>{_AA})", re.I)
_P_OLD_DEL = re.compile(rf"del(?P<r1>{_AA})(?P<p1>\d+)[-_](?P<r2>{_AA})(?P<p2>\d+)", re.I)
_P_OLD_RANGE = re.compile(rf"(?P<r1>{_AA}\d+)-(?P<r2>{_AA}\d+)(?=(?:delins|del|dup|ins))", re.I)


@dataclass(frozen=True)
class ProteinChange:
    """A parsed protein change, residues in one-letter form (``X`` = any, ``*`` = stop)."""

    op: str  # "sub", "del", "dup", "ins", "delins", "fs"
    ref1: str
    pos1: int
    ref2: str | None = None
    pos2: int | None = None
    seq: str = ""  # substituted residue (sub), inserted residues (ins, delins), new residue (fs)
    fs_len: str | None = None

    @property
    def last(self) -> int:
        return self.pos2 if self.pos2 is not None else self.pos1

    def short(self) -> str:
        """One-letter form: ``T790M``, ``E746_A750del``, ``A763_Y764insFQEA``, ``L747Pfs*3``."""
        start = f"{self.ref1}{self.pos1}"
        if self.pos2 is not None:
            start += f"_{self.ref2}{self.pos2}"
        if self.op == "sub":
            return start + self.seq
        if self.op == "fs":
            return f"{start}{self.seq}fs" + (f"*{self.fs_len}" if self.fs_len else "")
        return start + self.op + (self.seq if self.op in ("ins", "delins") else "")

    def hgvs(self) -> str | None:
        """Three-letter HGVS (``p.Thr790Met``), or None when a residue is unspecified (``X``)."""
        if "X" in (self.ref1, self.ref2, *self.seq):
            return None
        three = AMINO_ACIDS
        start = f"{three[self.ref1]}{self.pos1}"
        if self.pos2 is not None and self.ref2 is not None:
            start += f"_{three[self.ref2]}{self.pos2}"
        if self.op == "sub":
            return f"p.{start}{three[self.seq]}"
        if self.op == "fs":
            alt = three[self.seq] if self.seq else ""
            return f"p.{start}{alt}fs" + (f"Ter{self.fs_len}" if self.fs_len else "")
        inserted = "".join(three[c] for c in self.seq) if self.op in ("ins", "delins") else ""
        return f"p.{start}{self.op}{inserted}"


def _residue(token: str | None, *, allow_any: bool = False, allow_stop: bool = False) -> str | None:
    if token is None:
        return None
    if len(token) == 1:
        letter = token.upper()
        if letter == "X":
            return "X" if allow_any else None
        if letter == "*":
            return "*" if allow_stop else None
        return letter if letter in _ONE_LETTER else None
    upper: str = token.upper()
    if upper == "XAA":
        return "X" if allow_any else None
    three: str | None = _THREE_TO_ONE.get(upper)
    if three == "*" and not allow_stop:
        return None
    return three


def _sequence(text: str, prefer_three: bool) -> str | None:
    """Inserted residues, one-letter (``FQEA``) or three-letter (``PheGlnGluAla``)."""
    if not text:
        return None

    def as_one() -> str | None:
        letters = text.upper()
        return letters if all(c in _ONE_LETTER for c in letters) else None

    def as_three() -> str | None:
        if len(text) % 3:
            return None
        out = [_THREE_TO_ONE.get(text[i : i + 3].upper()) for i in range(0, len(text), 3)]
        return None if None in out else "".join(out)  # type: ignore[arg-type]

    first, second = (as_three, as_one) if prefer_three else (as_one, as_three)
    return first() or second()


def parse_protein(text: str) -> ProteinChange | None:
    """Parse a protein change (without gene); None if ``text`` is not one."""
    s = text.strip()
    s = re.sub(r"^(?:NP_\d+(?:\.\d+)?(?:\([A-Za-z0-9-]+\))?:)", "", s, flags=re.I)
    s = re.sub(r"^p\.", "", s, flags=re.I)
    if s.startswith("(") and s.endswith(")"):
        s = s[1:-1]
    s = s.replace(" ", "")
    old = _P_OLD_DEL.fullmatch(s)
    if old:
        s = f"{old['r1']}{old['p1']}_{old['r2']}{old['p2']}del"
    s = _P_OLD_RANGE.sub(r"\1_\2", s)
    for pattern in (_P_RANGE, _P_SINGLE, _P_FS, _P_SUB):
        m = pattern.fullmatch(s)
        if m is not None:
            return _build_protein(pattern, m)
    return None


def _build_protein(pattern: re.Pattern[str], m: re.Match[str]) -> ProteinChange | None:
    ref1 = _residue(m["r1"])
    pos1 = int(m["p1"])
    if ref1 is None or pos1 < 1:
        return None
    if pattern is _P_SUB:
        alt = _residue(m["alt"], allow_any=True, allow_stop=True)
        if alt is None or alt == ref1:
            return None
        return ProteinChange("sub", ref1, pos1, seq=alt)
    if pattern is _P_FS:
        alt = _residue(m["alt"]) if m["alt"] else ""
        if alt is None:
            return None
        length = m["len"] if m["len"] and m["len"] != "?" else None
        return ProteinChange("fs", ref1, pos1, seq=alt, fs_len=length)
    op = m["op"].lower()
    ref2 = pos2 = None
    if pattern is _P_RANGE:
        ref2, pos2 = _residue(m["r2"]), int(m["p2"])
        if ref2 is None or pos2 <= pos1:
            return None
        if op == "ins" and pos2 != pos1 + 1:
            return None  # an insertion lies between two neighbouring residues
    elif op == "ins":
        return None
    seq = ""
    if op in ("ins", "delins"):
        seq = _sequence(m["seq"], prefer_three=len(m["r1"]) == 3) or ""
        if not seq or "*" in seq[:-1]:
            return None
    elif m["seq"] and _sequence(m["seq"], prefer_three=len(m["r1"]) == 3) is None:
        return None  # "del" may be followed by the deleted residues, which must be residues
    return ProteinChange(op, ref1, pos1, ref2, pos2, seq)


# ---------------------------------------------------------------------------------------
# cDNA changes

_CDNA = re.compile(
    r"(?:(?P<tx>N[MR]_\d+)(?:\.(?P<ver>\d+))?(?:\((?P<txgene>[A-Za-z0-9-]+)\))?:)?"
    r"c\.(?P<p1>\d+(?:[+-]\d+)?)(?:_(?P<p2>\d+(?:[+-]\d+)?))?"
    r"(?:(?P<sref>[ACGT])>(?P<salt>[ACGT])|(?P<op>delins|del|dup|ins)(?P<seq>[ACGT]*))",
    re.I,
)


@dataclass(frozen=True)
class CdnaChange:
    hgvs: str  # normalised, e.g. "c.2369C>T", "c.2235_2249del"
    transcript: str | None  # as typed, e.g. "NM_005228.5"
    transcript_gene: str | None  # gene named by the transcript (known accession or "(EGFR)")


def parse_cdna(text: str) -> CdnaChange | None:
    """Parse a cDNA change with optional transcript; None if ``text`` is not one."""
    m = _CDNA.fullmatch(text.strip().replace(" ", ""))
    if m is None:
        return None
    position = m["p1"] + (f"_{m['p2']}" if m["p2"] else "")
    if m["sref"]:
        if m["p2"] or m["sref"].upper() == m["salt"].upper():
            return None
        body = f"{m['sref'].upper()}>{m['salt'].upper()}"
    else:
        op, seq = m["op"].lower(), m["seq"].upper()
        if op in ("ins", "delins") and not seq:
            return None
        if op == "ins" and not m["p2"]:
            return None
        body = op + (seq if op in ("ins", "delins") else "")
    transcript = gene = None
    if m["tx"]:
        accession = m["tx"].upper()
        transcript = accession + (f".{m['ver']}" if m["ver"] else "")
        gene = TRANSCRIPT_GENES.get(accession)
        if m["txgene"]:
            named = normalize_gene(m["txgene"], field="gene")
            if gene is not None and named != gene:
                return None
            gene = named
    return CdnaChange(f"c.{position}{body}", transcript, gene)


# ---------------------------------------------------------------------------------------
# Named alterations

_DESCRIPTORS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("exon 19 deletion", r"(?:exon|ex) ?19 ?(?:del|dels|deletion|deletions|deleted|(?:in ?frame )?deletions?)"
                             r"|del(?:etion)? ?(?:(?:exon|ex) ?)?19|19 ?del"),
        ("exon 20 insertion", r"(?:exon|ex) ?20 ?(?:ins|insertion|insertions|inserted)|ins(?:ertion)? ?(?:(?:exon|ex) ?)?20|20 ?ins"),
        ("exon 14 skipping", r"(?:exon|ex) ?14(?: (?:skipping|skip|skipping mutation|skipping alteration|splice site"
                             r"|splice site mutation|splice|mutation|alteration))?|(?:exon|ex) ?14 ?skipping"),
        ("amplification", r"amplification|amplifications|amplified|amp|amps|gene amplification|focal amplification"
                          r"|high level amplification|cnv gain|cn gain|copy number gain|copy number amplification"
                          r"|copy number increase|gain"),
        ("fusion", r"fusion|fusions|fusion gene|gene fusion|fusion positive|fusion detected|rearrangement"
                   r"|rearrangements|gene rearrangement|rearranged|translocation|translocated"),
        ("positive", r"positive|pos|\+|\(\+\)"),
        ("mutation", r"mutation|mutations|mutated|mutant|mut|mutation positive|activating mutation"),
        ("small-cell transformation",
         r"(?:histologic(?:al)? )?transformation to (?:small cell(?: lung)?(?: cancer| carcinoma)?|sclc)"
         r"|(?:small cell|sclc)(?: lung)?(?: cancer| carcinoma)?(?: (?:histologic(?:al)? )?(?:transformation|transformed))?"),
    )
)  # fmt: skip
_NOISE_SUFFIX = re.compile(
    r"\s+(?:mutation|mutations|mutated|mutant|mut|variant|substitution|point mutation|detected|positive|\+)$", re.I
)
_EXON_PREFIX = re.compile(r"^(?:exon|ex)\s*\d+\s+", re.I)
_FUSION_PAIR = re.compile(
    r"(?P<a>[A-Za-z][A-Za-z0-9]*)(?:::|-|/|\u2013)(?P<b>[A-Za-z][A-Za-z0-9]*)"
    r"(?:\s+(?:fusion|rearrangement|translocation|positive|fusion positive|\+))?"
    r"(?:\s+(?:variant|v)\s*\d+[a-z]?)?",
    re.I,
)
_UNKNOWN_GENE = re.compile(r"(?P<gene>[A-Z][A-Z0-9]{1,9}(?:-[A-Z0-9]+)?)[\s:]+(?P<rest>\S.*)")


def _descriptor(text: str) -> str | None:
    key = " ".join(re.sub(r"[-_]", " ", text.strip().lower()).split())
    for name, pattern in _DESCRIPTORS:
        if pattern.fullmatch(key):
            return name
    return None


# ---------------------------------------------------------------------------------------
# Resolution against the table

_BY_PROTEIN: dict[str, list[Alteration]] = {}
for _alt in ALTERATIONS:
    _short: str | None = _alt.name if parse_protein(_alt.name) else None
    if _alt.hgvs_p:
        _parsed = parse_protein(_alt.hgvs_p)
        _short = _parsed.short() if _parsed else _short
    if _short:
        _BY_PROTEIN.setdefault(_short, []).append(_alt)
for _member in CLASS_MEMBERS:
    # A stated protein change gets only its protein name (the cDNA was not stated).
    _stated_p = replace(_member, hgvs_c=None, transcript=None)
    _parsed_member = parse_protein(_member.hgvs_p) if _member.hgvs_p else None
    if _parsed_member is not None and _stated_p not in _BY_PROTEIN.get(_parsed_member.short(), []):
        _BY_PROTEIN.setdefault(_parsed_member.short(), []).append(_stated_p)
_BY_CDNA: dict[str, list[Alteration]] = {}
for _alt in ALTERATIONS + CLASS_MEMBERS:
    if _alt.hgvs_c:
        _BY_CDNA.setdefault(_alt.hgvs_c, []).append(_alt)
for _hgvs, _keys in EXTRA_CDNA.items():
    for _gene, _name in _keys:
        _entry = lookup(_gene, _name)
        if _entry is not None:
            _BY_CDNA.setdefault(_hgvs, []).append(_entry)


def normalize_gene(text: str, *, field: str = "gene") -> str:
    """A typed gene name -> stored symbol (``her2`` -> ``ERBB2``, ``egfr`` -> ``EGFR``)."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(field, text, "a gene symbol such as EGFR, ALK, ROS1, MET, HER2, KRAS or BRAF")
    upper = text.strip().upper()
    if upper in GENE_ALIASES:
        return GENE_ALIASES[upper]
    if upper in TABLE_GENES or upper in PANEL_GENES:
        return upper  # a gene of the table or of lung-cancer panels, e.g. NRAS, TP53
    raise InputError(field, text, "a gene symbol such as EGFR, ALK, ROS1, MET, HER2, KRAS, BRAF, NRAS or TP53 "
                                  "(a gene lung-cancer panels report)")


#: The variants an allele context (cis/trans) describes: C797S relative to T790M on the same EGFR allele.
PHASED_VARIANTS = frozenset({("EGFR", "C797S")})


def check_allele_context(gene: str | None, variant: str | None, context: str | None,
                         *, field: str = "--allele-context") -> None:
    """An allele context (cis/trans with T790M, or unknown) only makes sense for EGFR C797S."""
    if context is None:
        return
    if (gene or "", variant or "") not in PHASED_VARIANTS:
        shown = f"{gene or ''} {variant or ''}".strip() or "this finding"
        raise InputError(field, context, "no allele context except for EGFR C797S", message=(
            f"{field}: {context!r} is not valid for {shown}; expected an allele context (cis/trans with T790M) "
            "only for EGFR C797S."))


def _agree(field: str, text: str, *genes: str | None) -> str | None:
    named = [g for g in genes if g is not None]
    for other in named[1:]:
        if other != named[0]:
            raise InputError(
                field,
                text,
                EXPECTED,
                message=f"{field}: {text!r} names two genes ({named[0]} and {other}); expected one alteration of one gene.",
            )
    return named[0] if named else None


def _generic(gene: str, name: str, hgvs_p: str | None = None, hgvs_c: str | None = None,
             transcript: str | None = None) -> Alteration:
    return Alteration(gene, name, hgvs_p, hgvs_c, transcript, kind="other", confirmed=False)


_GENE_EXAMPLES = {"fusion": "ALK", "positive": "ALK", "amplification": "MET", "mutation": "KRAS"}


def _needs_gene(field: str, text: str, name: str) -> InputError:
    example = f"{_GENE_EXAMPLES.get(name, 'EGFR')} {name}"
    return InputError(
        field,
        text,
        EXPECTED,
        message=f"{field}: {text!r} does not say which gene; expected the gene first, e.g. '{example}'.",
    )


def _resolve_descriptor(name: str, gene: str | None, field: str, text: str) -> Alteration:
    if name == "small-cell transformation":
        if gene:
            raise InputError(
                field,
                text,
                EXPECTED,
                message=f"{field}: {text!r}: small-cell transformation is a change of histology, not an alteration of {gene}; expected it without a gene.",
            )
        return lookup(NO_GENE, name)  # type: ignore[return-value]
    if name == "positive":
        if gene is None:
            raise _needs_gene(field, text, "positive")
        name = "fusion" if gene in FUSION_GENES else "mutation"
    owners = {
        "exon 19 deletion": ("EGFR",),
        "exon 20 insertion": ("EGFR", "ERBB2"),  # HER2 exon 20 insertions exist too
        "exon 14 skipping": ("MET",),
    }.get(name)
    if gene is None:
        if owners is None:
            raise _needs_gene(field, text, name)
        gene = owners[0]
    elif owners is not None and gene not in owners:
        raise InputError(
            field,
            text,
            EXPECTED,
            message=f"{field}: {text!r}: {name} is an alteration of {' or '.join(owners)}, not {gene}; expected e.g. '{owners[0]} {name}'.",
        )
    if gene == NO_GENE:
        raise _needs_gene(field, text, name)
    return lookup(gene, name) or _generic(gene, name)


def _check_residues(change: ProteinChange, gene: str, field: str, text: str) -> None:
    for ref, pos in ((change.ref1, change.pos1), (change.ref2, change.pos2)):
        if ref is None or pos is None:
            continue
        known = KNOWN_RESIDUES.get((gene, pos))
        if known is not None and known != ref:
            raise InputError(
                field,
                text,
                EXPECTED,
                message=(
                    f"{field}: {text!r} does not match {gene}: codon {pos} of {gene} is {known} "
                    f"({AMINO_ACIDS[known]}), not {ref}; check the variant."
                ),
            )


def _resolve_protein(change: ProteinChange, gene: str | None, field: str, text: str) -> Alteration:
    short = change.short()
    candidates = _BY_PROTEIN.get(short, [])
    if gene is None:
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            genes = " or ".join(sorted(a.gene for a in candidates))
            raise InputError(
                field, text, EXPECTED, message=f"{field}: {text!r} could be {genes}; expected the gene first, e.g. '{candidates[0].display}'."
            )
        raise _needs_gene(field, text, short)
    for candidate in candidates:
        if candidate.gene == gene:
            return candidate
    if gene == NO_GENE:
        raise _needs_gene(field, text, short)
    if gene in TABLE_GENES:
        others = sorted({a.gene for a in candidates})
        if others:
            raise InputError(
                field,
                text,
                EXPECTED,
                message=(
                    f"{field}: {text!r}: {short} is known as {' or '.join(others)} {short}, not as an "
                    f"alteration of {gene}; expected an alteration of {gene}, or the gene {others[0]}."
                ),
            )
        _check_residues(change, gene, field, text)
    hgvs_p = change.hgvs()
    if gene == "EGFR":
        if change.op in ("del", "delins") and EXON19[0] <= change.pos1 and change.last <= EXON19[1]:
            return Alteration("EGFR", "exon 19 deletion", hgvs_p, kind="sensitizing", confirmed=False)
        if change.op in ("ins", "dup") and EXON20[0] <= change.pos1 and change.last <= EXON20[1]:
            return Alteration("EGFR", "exon 20 insertion", hgvs_p, kind="driver", confirmed=False)
    return _generic(gene, short, hgvs_p=hgvs_p)


def _resolve_cdna(change: CdnaChange, gene: str | None, field: str, text: str) -> Alteration:
    gene = _agree(field, text, gene, change.transcript_gene)
    candidates = [a for a in _BY_CDNA.get(change.hgvs, []) if gene is None or a.gene == gene]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        raise InputError(field, text, EXPECTED, message=f"{field}: {text!r} is ambiguous; expected the gene first, e.g. 'EGFR {change.hgvs}'.")
    if gene is None or gene == NO_GENE:
        raise _needs_gene(field, text, change.hgvs)
    # cDNA numbering is per transcript, so the same c. position in another gene is a different,
    # real variant: no contradiction check here (unlike protein names).
    return _generic(gene, change.hgvs, hgvs_c=change.hgvs, transcript=change.transcript)


def _resolve_rest(rest: str, gene: str | None, field: str, text: str) -> Alteration | None:
    """Resolve what follows the gene; None if it is not a recognisable alteration."""
    rest = rest.strip()
    if not rest:
        return None
    name = _descriptor(rest)
    if name is not None:
        return _resolve_descriptor(name, gene, field, text)
    candidates = [rest]
    trimmed = _NOISE_SUFFIX.sub("", rest)
    if trimmed != rest:
        candidates.append(trimmed)
    for candidate in list(candidates):
        if _EXON_PREFIX.match(candidate):
            candidates.append(_EXON_PREFIX.sub("", candidate))
    for candidate in candidates:
        cdna = parse_cdna(candidate)
        if cdna is not None:
            return _resolve_cdna(cdna, gene, field, text)
        protein = parse_protein(candidate)
        if protein is not None:
            return _resolve_protein(protein, gene, field, text)
    return None


def _split_gene(text: str) -> tuple[str, str] | None:
    """Split a leading gene name off: ``'EGFR T790M'`` -> ``('EGFR', 'T790M')``."""
    upper = text.upper()
    for alias in sorted(GENE_ALIASES, key=len, reverse=True):
        if upper.startswith(alias):
            rest = text[len(alias):]
            if alias == "MET" and rest[:2].lower() == "ex":  # "METex14"
                return "MET", rest
            if not rest or rest[0] in " \t:+-(/":
                return GENE_ALIASES[alias], rest.lstrip(" \t:-/")
    return None


def _parse(text: str, given: str | None, field: str) -> Alteration:
    s = " ".join(text.split())
    name = _descriptor(s)
    if name is not None:
        return _resolve_descriptor(name, given, field, text)
    pair = _FUSION_PAIR.fullmatch(s)
    if pair is not None:
        sides = [GENE_ALIASES.get(pair[k].upper(), pair[k].upper()) for k in ("b", "a")]  # 3' partner first
        kinase = next((g for g in sides if g in FUSION_GENES), None)
        if kinase is not None:
            gene = _agree(field, text, given, kinase)
            return lookup(gene, "fusion") or _generic(gene, "fusion")  # type: ignore[arg-type]
    split = _split_gene(s)
    if split is not None:
        gene = _agree(field, text, given, split[0])
        if not split[1].strip():
            raise InputError(
                field,
                text,
                EXPECTED,
                message=(
                    f"{field}: {text!r} names a gene but not the alteration; expected e.g. "
                    f"'{split[0]} T790M', '{split[0]} amplification', or '{split[0]} mutation' if the type is not known."
                ),
            )
        result = _resolve_rest(split[1], gene, field, text)
        if result is not None:
            return result
        raise InputError(field, text, EXPECTED)
    result = _resolve_rest(s, given, field, text)
    if result is not None:
        return result
    unknown = _UNKNOWN_GENE.fullmatch(s)
    if unknown is not None:
        gene = _agree(field, text, given, normalize_gene(unknown["gene"], field=field))
        result = _resolve_rest(unknown["rest"], gene, field, text)
        if result is not None:
            return result
    raise InputError(field, text, EXPECTED)


_HER2_DISPLAY = re.compile(r"^(?:HER-?2\s*\(\s*ERBB2\s*\)|ERBB2\s*\(\s*HER-?2\s*\))", re.I)
_PAREN = re.compile(r"(?P<outer>.*\S)\s*\((?P<inner>[^()]*)\)")


def _merge(outer: Alteration, inner: Alteration, field: str, text: str) -> Alteration:
    """Combine ``"EGFR exon 19 deletion (L747_T751del)"``: both halves must name one alteration."""
    if outer == inner:
        return outer
    if outer.key == inner.key:
        # Same alteration (or class): keep what either half states, e.g. "EGFR exon 19
        # deletion (L747_T751del)" is the class with the stated protein change.
        return _combine(outer, inner, field, text)
    cdna, other = (outer, inner) if outer.name.startswith("c.") else (inner, outer)
    specific = (not other.known or other.hgvs_p is not None) and other.hgvs_c is None
    if cdna.name.startswith("c.") and not cdna.known and specific and other.gene == cdna.gene:
        return replace(other, hgvs_c=cdna.hgvs_c, transcript=cdna.transcript)
    raise InputError(
        field,
        text,
        EXPECTED,
        message=f"{field}: {text!r} names two different alterations ({outer.display} and {inner.display}); expected one.",
    )


def _combine(outer: Alteration, inner: Alteration, field: str, text: str) -> Alteration:
    """Two halves naming the same alteration: the more detailed one, completed by the other."""
    for attr in ("hgvs_p", "hgvs_c"):
        a, b = getattr(outer, attr), getattr(inner, attr)
        if a and b and a != b:
            raise InputError(
                field,
                text,
                EXPECTED,
                message=f"{field}: {text!r} names two different changes ({a} and {b}); expected one.",
            )

    def detail(x: Alteration) -> int:
        return sum(v is not None for v in (x.hgvs_p, x.hgvs_c, x.transcript))

    base, other = (inner, outer) if detail(inner) > detail(outer) else (outer, inner)
    return replace(
        base,
        hgvs_p=base.hgvs_p or other.hgvs_p,
        hgvs_c=base.hgvs_c or other.hgvs_c,
        transcript=base.transcript or other.transcript,
    )


def normalize_alteration(text: str, *, gene: str | None = None, field: str = "variant") -> Alteration:
    """Normalise a typed alteration (see the module docstring); ``gene`` may come from an option.

    Raises ``InputError`` naming ``field`` for gibberish (with examples of accepted forms), for
    a gene that contradicts the alteration, and when the gene is needed but cannot be inferred.
    Text (and gene) strings are normalised once per distinct value (an import repeats a few
    variants thousands of times); the result is immutable, errors are raised every time.
    """
    if text.__class__ is str and (gene is None or gene.__class__ is str) and field.__class__ is str:
        return _normalize_alteration_cached(text, gene, field)
    return _normalize_alteration(text, gene=gene, field=field)


@lru_cache(maxsize=2048)
def _normalize_alteration_cached(text: str, gene: str | None, field: str) -> Alteration:
    return _normalize_alteration(text, gene=gene, field=field)


def _normalize_alteration(text: str, *, gene: str | None = None, field: str = "variant") -> Alteration:
    """:func:`normalize_alteration` without the cache."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(field, text, EXPECTED, message=f"{field}: no variant given; expected {EXPECTED}.")
    given = normalize_gene(gene, field="gene") if gene is not None else None
    s = " ".join(text.split())
    s = _HER2_DISPLAY.sub("ERBB2", s)  # the display form "HER2 (ERBB2) amplification" reads back
    paren = _PAREN.fullmatch(s)
    if paren is not None and not paren["outer"].lower().endswith("p."):
        inner_text = paren["inner"].strip()
        outer = _parse(paren["outer"], given, field)
        if re.fullmatch(r"(?:exon|ex)\s*\d+", inner_text, re.I):
            return outer
        inner = _parse(inner_text, given if given is not None else (outer.gene or None), field)
        return _merge(outer, inner, field, text)
    return _parse(s, given, field)


def parse_driver(text: str, field: str = "--driver") -> Alteration:
    """Parse a patient's driver alteration (``"EGFR exon 19 deletion"``, ``"ALK positive"`` ...).

    Same forms as :func:`normalize_alteration`, but a driver must belong to a gene, so
    "small-cell transformation" is refused.
    """
    try:
        result = normalize_alteration(text, field=field)
    except InputError as err:
        if err.message == InputError(field, text, EXPECTED).message:
            raise InputError(field, text, _DRIVER_EXPECTED) from None
        raise
    if not result.gene:
        raise InputError(
            field,
            text,
            _DRIVER_EXPECTED,
            message=f"{field}: {text!r} is a histology, not a driver alteration; expected {_DRIVER_EXPECTED}.",
        )
    return result
