"""Known genomic alterations in targeted-therapy lung cancer, with their HGVS names.

Pure data from /work/shared/reference/clinical.md §3 (HGVS table §3.7).  Each entry stores the
short normalised name used everywhere in lungtrack (``T790M``, ``exon 19 deletion``,
``amplification``), the 3-letter protein HGVS, the cDNA HGVS and its transcript, separately.

``confirmed`` is False where clinical.md marks the entry's HGVS names as unconfirmed (or only
partly confirmed), and for every alteration that is not in this table: the parser still
accepts them, and :attr:`Alteration.note` says so.  Entries that carry no HGVS claim at all
(fusions, amplifications, "exon 20 insertion") have nothing to confirm and are True.

``kind`` is the alteration's usual role - ``sensitizing`` (EGFR-TKI-sensitizing EGFR
mutation), ``resistance`` (acquired-resistance mechanism), ``driver`` (primary oncogenic
driver) or ``other`` (not in the table).  It is a hint for display and grouping; whether a
finding is a resistance signal depends on the therapy and is decided by the rules.

Gene symbols are HGNC symbols.  HER2 is stored as ``ERBB2`` (its HGNC symbol, as in
genomics reports) and displayed ``HER2 (ERBB2)`` because patients know it as HER2.  Two
pseudo-genes are used: ``NTRK`` for an NTRK fusion whose gene (NTRK1/2/3) is not known, and
``""`` (no gene) for the histological "small-cell transformation".
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

__all__ = [
    "ALTERATIONS",
    "AMINO_ACIDS",
    "EXTRA_CDNA",
    "Alteration",
    "FUSION_GENES",
    "GENE_ALIASES",
    "GENE_DISPLAY",
    "PANEL_GENES",
    "KINDS",
    "KNOWN_RESIDUES",
    "NO_GENE",
    "TABLE_GENES",
    "TRANSCRIPT_GENES",
    "lookup",
]

KINDS = ("sensitizing", "resistance", "driver", "other")
NO_GENE = ""  # gene of the histological pseudo-alteration "small-cell transformation"

#: One-letter -> three-letter amino-acid codes (HGVS).  ``*`` is a stop (Ter).
AMINO_ACIDS: Mapping[str, str] = MappingProxyType({
    "A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu",
    "G": "Gly", "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe",
    "P": "Pro", "S": "Ser", "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "*": "Ter",
})  # fmt: skip

GENE_DISPLAY: Mapping[str, str] = MappingProxyType({"ERBB2": "HER2 (ERBB2)"})

#: Typed gene names (upper case) -> stored symbol.
GENE_ALIASES: Mapping[str, str] = MappingProxyType({
    "EGFR": "EGFR", "ALK": "ALK", "ROS1": "ROS1", "RET": "RET", "MET": "MET", "C-MET": "MET",
    "CMET": "MET", "ERBB2": "ERBB2", "HER2": "ERBB2", "HER-2": "ERBB2", "KRAS": "KRAS",
    "BRAF": "BRAF", "PIK3CA": "PIK3CA", "NTRK": "NTRK", "NTRK1": "NTRK1", "NTRK2": "NTRK2",
    "NTRK3": "NTRK3",
})  # fmt: skip

#: Genes that lung-cancer NGS panels (tissue and plasma) report besides those of the alteration table:
#: a gene lungtrack's table does not describe can still be logged when it is one of these (HGNC symbols).
#: Anything else (a typo, ``NOTAGENE``) is refused rather than stored.
PANEL_GENES = frozenset({
    "AKT1", "APC", "AR", "ARAF", "ARID1A", "ATM", "AXL", "BAP1", "BRCA1", "BRCA2", "CCND1", "CD274", "CDK4",
    "CDK6", "CDKN2A", "CDKN2B", "CTNNB1", "DDR2", "ERBB3", "ERBB4", "ESR1", "FGFR1", "FGFR2", "FGFR3", "FGFR4",
    "GNAS", "HRAS", "IDH1", "IDH2", "JAK2", "KEAP1", "KIT", "MAP2K1", "MAP2K2", "MDM2", "MTOR", "MYC", "NF1",
    "NFE2L2", "NOTCH1", "NRAS", "NRG1", "PDGFRA", "PIK3CA", "PTEN", "RAF1", "RB1", "RICTOR", "SMAD4",
    "SMARCA4", "STK11", "TERT", "TP53", "TSC1", "TSC2", "NTRK1", "NTRK2", "NTRK3", "ERBB2",
})  # fmt: skip

#: Genes whose alteration is a fusion/rearrangement ("ALK positive" means an ALK fusion).
FUSION_GENES = frozenset({"ALK", "ROS1", "RET", "NTRK", "NTRK1", "NTRK2", "NTRK3"})

#: RefSeq transcript accession (without version) -> gene, to read ``NM_005228.5:c.2369C>T``.
TRANSCRIPT_GENES: Mapping[str, str] = MappingProxyType({
    "NM_005228": "EGFR", "NM_004985": "KRAS", "NM_004333": "BRAF", "NM_004304": "ALK",
    "NM_002944": "ROS1", "NM_006218": "PIK3CA", "NM_000245": "MET", "NM_004448": "ERBB2",
})  # fmt: skip


@dataclass(frozen=True)
class Alteration:
    """One genomic alteration, normalised.  Equal alterations compare equal."""

    gene: str  # HGNC symbol ("EGFR", "ERBB2"); "NTRK" = NTRK gene unknown; "" = no gene
    name: str  # short normalised name: "T790M", "exon 19 deletion", "amplification", "fusion"
    hgvs_p: str | None = None  # 3-letter protein HGVS, e.g. "p.Thr790Met"
    hgvs_c: str | None = None  # cDNA HGVS, e.g. "c.2369C>T"
    transcript: str | None = None  # e.g. "NM_005228.5"
    kind: str = "other"
    confirmed: bool = False

    @property
    def gene_display(self) -> str:
        return GENE_DISPLAY.get(self.gene, self.gene)

    @property
    def display(self) -> str:
        """``EGFR T790M``, ``MET amplification``, ``HER2 (ERBB2) amplification``."""
        return f"{self.gene_display} {self.name}" if self.gene else self.name

    @property
    def key(self) -> tuple[str, str]:
        """``(gene, name)``: what is stored and compared across records."""
        return (self.gene, self.name)

    @property
    def known(self) -> bool:
        """True if this alteration (or its class, e.g. one exon 19 deletion) is an entry of
        :data:`ALTERATIONS`, not a generic one."""
        return self.key in _BY_KEY

    @property
    def note(self) -> str | None:
        """Why this entry should be checked, or None when there is nothing to say."""
        if self.confirmed:
            return None
        if not self.known:
            return f"{self.display} is not in lungtrack's alteration table; its name was normalised but not verified"
        return f"the HGVS names of {self.display} are unconfirmed; verify against ClinVar before relying on them"

    def __str__(self) -> str:
        return self.display


def _point(
    gene: str,
    name: str,
    hgvs_c: str | None,
    transcript: str | None,
    kind: str,
    confirmed: bool,
) -> Alteration:
    """An amino-acid substitution entry; the 3-letter protein name is derived from ``name``."""
    ref, pos, alt = name[0], name[1:-1], name[-1]
    hgvs_p = f"p.{AMINO_ACIDS[ref]}{pos}{AMINO_ACIDS[alt]}"
    return Alteration(gene, name, hgvs_p, hgvs_c, transcript, kind, confirmed)


_EGFR = "NM_005228.5"
_S, _R, _D = "sensitizing", "resistance", "driver"

ALTERATIONS: tuple[Alteration, ...] = (
    # EGFR (clinical.md §3.1, §3.7)
    # A class: "exon 19 deletion" names no single protein change (see CLASS_MEMBERS).
    Alteration("EGFR", "exon 19 deletion", None, None, None, _S, True),
    _point("EGFR", "L858R", "c.2573T>G", "NM_005228.4", _S, True),
    _point("EGFR", "T790M", "c.2369C>T", _EGFR, _R, True),
    _point("EGFR", "C797S", "c.2390G>C", _EGFR, _R, False),  # "partly confirmed"
    Alteration("EGFR", "exon 20 insertion", None, None, None, _D, True),  # TKI-insensitive driver
    Alteration("EGFR", "G719X", None, None, None, _S, True),  # any G719 substitution
    _point("EGFR", "G719S", "c.2155G>A", "NM_005228", _S, False),
    _point("EGFR", "G719A", "c.2156G>C", "NM_005228", _S, False),
    _point("EGFR", "G719C", "c.2155G>T", "NM_005228", _S, False),
    _point("EGFR", "L861Q", "c.2582T>A", "NM_005228", _S, False),
    _point("EGFR", "S768I", "c.2303G>T", "NM_005228", _S, False),
    # MET and HER2 (§3.2, §3.3)
    Alteration("MET", "amplification", kind=_R, confirmed=True),
    Alteration("MET", "exon 14 skipping", kind=_D, confirmed=True),
    Alteration("ERBB2", "amplification", kind=_R, confirmed=True),
    # ALK (§3.5): HGVS of the resistance mutations unconfirmed
    Alteration("ALK", "fusion", kind=_D, confirmed=True),
    _point("ALK", "G1202R", "c.3604G>A", "NM_004304", _R, False),
    _point("ALK", "L1196M", "c.3586C>A", "NM_004304", _R, False),
    _point("ALK", "I1171N", "c.3512T>A", "NM_004304", _R, False),
    _point("ALK", "I1171T", None, None, _R, False),
    _point("ALK", "I1171S", None, None, _R, False),
    _point("ALK", "G1269A", None, None, _R, False),
    # ROS1 (§3.6)
    Alteration("ROS1", "fusion", kind=_D, confirmed=True),
    _point("ROS1", "G2032R", "c.6094G>A", "NM_002944", _R, False),
    _point("ROS1", "L2086F", None, None, _R, False),
    # Other fusion drivers (§3.8)
    Alteration("RET", "fusion", kind=_D, confirmed=True),
    Alteration("NTRK", "fusion", kind=_D, confirmed=True),
    Alteration("NTRK1", "fusion", kind=_D, confirmed=True),
    Alteration("NTRK2", "fusion", kind=_D, confirmed=True),
    Alteration("NTRK3", "fusion", kind=_D, confirmed=True),
    # KRAS, BRAF (§3.6, §3.8)
    _point("KRAS", "G12C", "c.34G>T", "NM_004985", _D, False),
    Alteration("KRAS", "mutation", kind=_D, confirmed=True),
    _point("BRAF", "V600E", "c.1799T>A", "NM_004333", _D, False),
    # PIK3CA (§3.3: PI3K activation on osimertinib).  Not in the §3.7 HGVS table: the cDNA
    # names are the well-known hotspot names on NM_006218, marked unconfirmed here.
    _point("PIK3CA", "E545K", "c.1633G>A", "NM_006218", _R, False),
    _point("PIK3CA", "H1047R", "c.3140A>G", "NM_006218", _R, False),
    # Histological transformation (§3.2, §3.3): not a gene alteration, but reported alongside.
    Alteration(NO_GENE, "small-cell transformation", kind=_R, confirmed=True),
)

_BY_KEY: Mapping[tuple[str, str], Alteration] = MappingProxyType({a.key: a for a in ALTERATIONS})

#: Specific, named members of an alteration class (clinical.md §3.7: E746_A750del is the most
#: common exon 19 deletion, written c.2235_2249del or c.2236_2250del).  They are used only when a
#: report *states* one of these names: a report that says "exon 19 deletion" stays the class,
#: with no protein or cDNA change (issue 8, "precision about variants").  A stated protein change
#: keeps only its protein name; a stated cDNA change keeps its cDNA and the protein change it
#: encodes.
CLASS_MEMBERS: tuple[Alteration, ...] = (
    Alteration("EGFR", "exon 19 deletion", "p.Glu746_Ala750del", "c.2235_2249del", _EGFR, _S, True),
    Alteration("EGFR", "exon 19 deletion", "p.Glu746_Ala750del", "c.2236_2250del", _EGFR, _S, True),
)

#: Genes with entries in the table.  For them the parser can catch contradictions
#: ("ALK T790M") and wrong reference residues ("EGFR A790M").
TABLE_GENES = frozenset(a.gene for a in ALTERATIONS if a.gene)

#: Extra cDNA spellings of table entries (clinical.md §3.7 lists two for these).
EXTRA_CDNA: Mapping[str, tuple[tuple[str, str], ...]] = MappingProxyType({
    "c.2389T>A": (("EGFR", "C797S"),),
})  # fmt: skip


def _known_residues() -> dict[tuple[str, int], str]:
    residues: dict[tuple[str, int], str] = {
        ("EGFR", 746): "E",  # exon 19 deletion E746_A750del
        ("EGFR", 750): "A",
    }
    for alt in ALTERATIONS:
        name = alt.name
        if len(name) >= 3 and name[0] in AMINO_ACIDS and name[1:-1].isdigit():
            residues[(alt.gene, int(name[1:-1]))] = name[0]
    return residues


#: (gene, codon) -> one-letter reference residue, for the table's protein positions.
KNOWN_RESIDUES: Mapping[tuple[str, int], str] = MappingProxyType(_known_residues())


def lookup(gene: str, name: str) -> Alteration | None:
    """The table entry for a stored ``(gene, name)`` pair, or None (e.g. a generic alteration)."""
    return _BY_KEY.get((gene, name))
