"""What a detected alteration means in the therapy it was found on (pure data).

Each row says: this alteration (gene + normalised variant name), found while on a drug with
this target and generation, is a known resistance mechanism; what that means (with the
published frequency where our reference has one), and the topic to discuss with the care
team.  Topics are never advice; they name what the literature discusses, with the trial
evidence only when it is confirmed in ../shared/reference/clinical.md §3.

Rows are matched in order, most specific first.  ``"*"`` matches any alteration of the gene
except the driver-type names (fusion, rearrangement), so an ALK *fusion* is never read as an
ALK *resistance mutation*.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from lungtrack.enums import Severity
from lungtrack.knowledge.drugs import Drug
from lungtrack.knowledge.sources import cite

ANY_VARIANT = "*"
_DRIVER_WORDS = ("fusion", "rearrangement")
_GENE_ALIASES = {"HER2": "ERBB2", "HER-2": "ERBB2", "C-MET": "MET"}


def canonical_gene(gene: str) -> str:
    """HGNC symbol in upper case (HER2 -> ERBB2)."""
    return _canonical_gene(gene or "")


@lru_cache(maxsize=1024)
def _canonical_gene(gene: str) -> str:
    g = gene.strip().upper()
    return _GENE_ALIASES.get(g, g)


@dataclass(frozen=True)
class ResistanceEntry:
    key: str
    gene: str  # HGNC symbol; "" for histologic events such as small-cell transformation
    variants: tuple[str, ...]  # normalised names, or ("*",)
    targets: frozenset[str] | None  # drug targets of the therapy context; None = any therapy
    generations: frozenset[int] | None  # TKI generations of that target; None = any
    meaning: str
    topic: str  # "Topic to discuss: ..." (display text only)
    severity: Severity
    sources: tuple[str, ...]  # keys in lungtrack.knowledge.sources
    with_t790m: bool | None = None  # C797S rows: T790M detected (True) / not detected (False) on the same test
    t790m_sensitive: bool = False  # the row depends on the T790M result of the same test

    @property
    def source_text(self) -> str:
        return "; ".join(cite(k) for k in self.sources)

    def matches_variant(self, variant: str) -> bool:
        v = variant.strip().lower()
        if ANY_VARIANT in self.variants:
            return bool(v) and not any(w in v for w in _DRIVER_WORDS)
        return any(v == name.lower() for name in self.variants)

    def matches_context(self, drug: Drug | None) -> bool:
        if self.targets is None:
            return True
        if drug is None or not set(drug.targets) & self.targets:
            return False
        if self.generations is None:
            return True
        return drug.generation in self.generations


_EGFR = frozenset({"EGFR"})
_G12 = frozenset({1, 2})
_G3 = frozenset({3})
_ALK = frozenset({"ALK"})
_ROS1 = frozenset({"ROS1"})
A, W = Severity.ALERT, Severity.WATCH

RESISTANCE: tuple[ResistanceEntry, ...] = (
    ResistanceEntry(
        "egfr-t790m-g12", "EGFR", ("T790M",), _EGFR, _G12,
        "T790M is the most common resistance mechanism on 1st/2nd-generation EGFR TKIs (about 50–60 %; "
        "63 % in a rebiopsy series of 155 patients).",
        "Topic to discuss: re-testing and third-generation EGFR TKI options (in AURA3, osimertinib after T790M: "
        "median PFS 10.1 vs 4.4 months with platinum-pemetrexed).",
        A, ("yu2013", "aura3")),
    ResistanceEntry(
        "egfr-c797s-with-t790m", "EGFR", ("C797S",), _EGFR, _G3,
        "C797S is an EGFR-dependent resistance mechanism to osimertinib. Found together with T790M: when C797S "
        "is on the same allele as T790M (cis), no approved EGFR TKI is active in laboratory studies.",
        "Topic to discuss: options after a third-generation EGFR TKI when C797S and T790M are both present "
        "(no approved EGFR TKI is active against C797S in cis with T790M; other treatments and clinical trials).",
        A, ("ercan2015", "leonetti2019"), with_t790m=True, t790m_sensitive=True),
    ResistanceEntry(
        "egfr-c797s-without-t790m", "EGFR", ("C797S",), _EGFR, _G3,
        "C797S is an EGFR-dependent resistance mechanism to osimertinib. Without T790M (typical after first-line "
        "osimertinib), cell lines with C797S stayed sensitive to 1st/2nd-generation EGFR TKIs such as gefitinib "
        "and afatinib (preclinical).",
        "Topic to discuss: re-testing, and whether the preclinical sensitivity of C797S without T790M to "
        "1st/2nd-generation EGFR TKIs is relevant.",
        A, ("ercan2015", "leonetti2019"), with_t790m=False, t790m_sensitive=True),
    ResistanceEntry(
        "egfr-c797s", "EGFR", ("C797S",), _EGFR, _G3,
        "C797S is an EGFR-dependent resistance mechanism to osimertinib. What it means depends on T790M, which "
        "was not reported on the same test: with T790M in cis no approved EGFR TKI is active; without T790M, "
        "cell lines stayed sensitive to 1st/2nd-generation EGFR TKIs (preclinical).",
        "Topic to discuss: the T790M status of this sample and the options after a third-generation EGFR TKI.",
        A, ("ercan2015", "leonetti2019"), with_t790m=None, t790m_sensitive=True),
    ResistanceEntry(
        "egfr-tertiary-g3", "EGFR", ("L718Q", "G724S"), _EGFR, _G3,
        "An EGFR-dependent (tertiary EGFR mutation) resistance mechanism reported on osimertinib.",
        "Topic to discuss: re-testing and the options after a third-generation EGFR TKI.",
        A, ("leonetti2019",)),
    ResistanceEntry(
        "met-amplification-egfr", "MET", ("amplification",), _EGFR, None,
        "MET amplification is a bypass resistance mechanism: 5 % (4/75) of rebiopsies after erlotinib/gefitinib, "
        "and the most frequent off-target mechanism on osimertinib.",
        "Topic to discuss: MET-directed options together with an EGFR TKI (combinations studied in clinical "
        "trials) and amivantamab.",
        A, ("yu2013", "leonetti2019")),
    ResistanceEntry(
        "erbb2-amplification-egfr", "ERBB2", ("amplification",), _EGFR, None,
        "HER2 (ERBB2) amplification is a bypass resistance mechanism: 13 % (3/24 tested) of rebiopsies after "
        "erlotinib/gefitinib; also reported on osimertinib.",
        "Topic to discuss: HER2-directed options and clinical trials.",
        A, ("yu2013", "leonetti2019")),
    ResistanceEntry(
        "braf-v600e-egfr", "BRAF", ("V600E",), _EGFR, None,
        "BRAF V600E (RAS–MAPK pathway activation) is reported as an acquired resistance mechanism on osimertinib; "
        "none was found after erlotinib/gefitinib in a 155-patient rebiopsy series.",
        "Topic to discuss: targeted options and clinical trials for the acquired alteration.",
        A, ("leonetti2019", "yu2013")),
    ResistanceEntry(
        "kras-egfr", "KRAS", (ANY_VARIANT,), _EGFR, None,
        "KRAS alterations (RAS–MAPK pathway activation) are reported as acquired resistance on osimertinib; none "
        "were found after erlotinib/gefitinib in a 155-patient rebiopsy series.",
        "Topic to discuss: what the acquired KRAS alteration means for the next options, including clinical trials.",
        A, ("leonetti2019", "yu2013")),
    ResistanceEntry(
        "pik3ca-egfr", "PIK3CA", (ANY_VARIANT,), _EGFR, None,
        "PIK3CA alterations (PI3K pathway activation) are reported at resistance to osimertinib; none were acquired "
        "after erlotinib/gefitinib in a 155-patient rebiopsy series.",
        "Topic to discuss: what the PIK3CA alteration means next to the other results.",
        W, ("leonetti2019", "yu2013")),
    ResistanceEntry(
        "small-cell-transformation", "", ("small-cell transformation",), None, None,
        "Transformation to small-cell lung cancer: 3 % of rebiopsies after erlotinib/gefitinib; also a mechanism "
        "of resistance to osimertinib.",
        "Topic to discuss: what the small-cell transformation means for the next treatment and its follow-up.",
        A, ("yu2013", "leonetti2019")),
    ResistanceEntry(
        "alk-g1202r", "ALK", ("G1202R",), _ALK, _G12,
        "G1202R (solvent-front mutation) becomes markedly more frequent after 2nd-generation ALK TKIs; an ALK "
        "resistance mutation predicted sensitivity to the 3rd-generation ALK TKI lorlatinib.",
        "Topic to discuss: third-generation ALK TKI (lorlatinib) options.",
        A, ("gainor2016",)),
    ResistanceEntry(
        "alk-l1196m", "ALK", ("L1196M",), _ALK, frozenset({1}),
        "L1196M is the gatekeeper resistance mutation on crizotinib.",
        "Topic to discuss: next-generation ALK TKI options.",
        A, ("gainor2016",)),
    ResistanceEntry(
        "alk-i1171", "ALK", ("I1171N", "I1171T", "I1171S"), _ALK, _G12,
        "I1171 mutations (I1171N/T/S) are reported at resistance to alectinib; each ALK TKI has its own resistance "
        "spectrum (the per-drug mapping is not confirmed in lungtrack's sources).",
        "Topic to discuss: next-generation ALK TKI options, including lorlatinib.",
        A, ("gainor2016",)),
    ResistanceEntry(
        "alk-mutation", "ALK", (ANY_VARIANT,), _ALK, _G12,
        "An ALK kinase-domain mutation at progression on an ALK TKI. ALK resistance mutations predicted "
        "sensitivity to lorlatinib; cell lines without an ALK mutation (off-target resistance) were lorlatinib-"
        "resistant.",
        "Topic to discuss: what this ALK mutation means for next-generation ALK TKI options.",
        A, ("gainor2016",)),
    ResistanceEntry(
        "ros1-g2032r", "ROS1", ("G2032R",), _ROS1, None,
        "G2032R (solvent-front mutation) is about one third of the ROS1 resistance mutations found after "
        "crizotinib or lorlatinib.",
        "Topic to discuss: next-generation ROS1 TKI options (repotrectinib; taletrectinib's approval status is "
        "unconfirmed in lungtrack's sources).",
        A, ("lin2021",)),
    ResistanceEntry(
        "ros1-l2086f", "ROS1", ("L2086F",), _ROS1, None,
        "L2086F is refractory to lorlatinib, repotrectinib and taletrectinib; case reports describe sensitivity to "
        "cabozantinib.",
        "Topic to discuss: options for ROS1 L2086F, including clinical trials.",
        A, ("lin2021",)),
    ResistanceEntry(
        "ros1-mutation", "ROS1", (ANY_VARIANT,), _ROS1, None,
        "ROS1 kinase-domain mutations were found in 38 % of biopsies after crizotinib and 46 % after lorlatinib.",
        "Topic to discuss: what this ROS1 mutation means for next-generation ROS1 TKI options.",
        A, ("lin2021",)),
)


#: EGFR T790M found while on a 3rd-generation EGFR TKI (osimertinib and peers).  Not a row of
#: ``RESISTANCE``: T790M is what these drugs are designed to inhibit, so it is not a resistance
#: mechanism to them by itself; but a detection on them is worth a finding ("persisting T790M"
#: after second-line osimertinib; not among the acquired alterations after first-line use).
T790M_ON_THIRD_GENERATION = ResistanceEntry(
    "egfr-t790m-g3", "EGFR", ("T790M",), _EGFR, _G3,
    "T790M is the alteration that 3rd-generation EGFR TKIs such as osimertinib are designed to inhibit (AURA3: "
    "osimertinib after T790M, median PFS 10.1 vs 4.4 months with platinum-pemetrexed), so by itself it is not a "
    "known resistance mechanism to them. At progression on osimertinib given after T790M, about half of patients "
    "still have T790M (persisting T790M) and about half have lost it; in the first-line osimertinib trial (FLAURA) "
    "T790M was not among the acquired alterations found in plasma.",
    "Topic to discuss: what a T790M detected on a 3rd-generation EGFR TKI means together with the imaging, whether "
    "it was present before this treatment, and the other EGFR results of the same test (for example C797S).",
    W, ("aura3", "mu2020", "flaura_plasma"))


def t790m_on_third_generation(gene: str, variant: str, drug: Drug | None) -> ResistanceEntry | None:
    """``T790M_ON_THIRD_GENERATION`` when ``gene``/``variant`` is EGFR T790M and ``drug`` is a
    3rd-generation EGFR TKI, else ``None``."""
    entry = T790M_ON_THIRD_GENERATION
    if canonical_gene(gene) == entry.gene and entry.matches_variant(variant) and entry.matches_context(drug):
        return entry
    return None


def find_resistance(gene: str, variant: str, drug: Drug | None, t790m: bool | None = None) -> ResistanceEntry | None:
    """The first row for ``gene``/``variant`` in the context of ``drug``, or ``None``.

    ``t790m`` is the EGFR T790M result of the same test (True detected, False not detected,
    None not tested); it selects among the C797S rows.
    """
    g = canonical_gene(gene)
    for entry in RESISTANCE:
        if entry.gene != g or not entry.matches_variant(variant) or not entry.matches_context(drug):
            continue
        if entry.t790m_sensitive and entry.with_t790m is not t790m:
            continue
        return entry
    return None
