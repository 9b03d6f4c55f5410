"""The drug table: target, generation and the trial medians used for "time on therapy".

Pure data.  A therapy line stores the canonical lower-case ``Drug.name``; the rules look the
drug up here to know its target and generation (the context in which a resistance variant is
read, :mod:`lungtrack.knowledge.resistance`) and the trial whose median progression-free
survival (PFS) is shown next to the time on therapy.

Only numbers marked confirmed in the clinical reference (../shared/reference/clinical.md §3.8,
§4.2) have ``confirmed=True``; :func:`primary_trial` never returns an unconfirmed median, so
it is never shown as fact.  A median is what happened to half of the patients in one trial,
not a prediction for one person: the finding text says so.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache

from lungtrack.errors import InputError


@dataclass(frozen=True)
class TrialPFS:
    """Median PFS of one trial arm, with its comparator and source.

    ``line`` is the setting as a number (1 = first line; 2 = after an earlier targeted
    therapy; ``None`` = not specific, e.g. a single-arm study of mixed lines), ``biomarker``
    the population's driver gene when the drug has several targets (crizotinib: ALK or ROS1).
    ``median_pfs_months`` is ``None`` when the median was not reached; ``note`` then says what
    was reported instead.
    """

    trial: str
    setting: str
    median_pfs_months: float | None
    comparator_months: float | None
    source_url: str
    confirmed: bool
    comparator: str = ""
    line: int | None = None
    biomarker: str | None = None
    note: str = ""
    source_key: str = ""  # key in lungtrack.knowledge.sources, when registered


@dataclass(frozen=True)
class Drug:
    name: str  # canonical, lower case: what TherapyLine.drug stores
    aliases: tuple[str, ...]  # brand names and other spellings
    target: str | None  # main target gene: EGFR, ALK, ROS1, MET, RET, BRAF, KRAS, NTRK, ERBB2; None for chemo/IO
    generation: int | None  # TKI generation for its main target (None when not a TKI)
    drug_class: str
    trials: tuple[TrialPFS, ...] = ()
    also_targets: tuple[str, ...] = ()  # further targets with clinical use (crizotinib: ROS1, MET)

    @property
    def targets(self) -> tuple[str, ...]:
        return ((self.target,) if self.target else ()) + self.also_targets

    @property
    def is_targeted(self) -> bool:
        return self.target is not None


# URLs from clinical.md §4.2 / §3.8.
_EGFR_TABLE = "https://pmc.ncbi.nlm.nih.gov/articles/PMC5696571/table/T2"
_EGFR_TABLE2 = "https://pmc.ncbi.nlm.nih.gov/articles/PMC7930417/table/onco13590-tbl-0003"
_CCJM = "https://ccjmprodcopy-stage.highwire.org/highwire/markup/10716/expansion?height=500&iframe=true&width=1000"
_FLAURA = "https://pmc.ncbi.nlm.nih.gov/articles/PMC6468595"
_AURA3 = "https://pmc.ncbi.nlm.nih.gov/articles/PMC6762027"
_MARIPOSA = ("https://esmo.org/oncology-news/fda-approves-lazertinib-with-amivantamab-vmjw-for-locally-advanced-"
             "or-metastatic-nsclc-with-egfr-exon-19-deletions-or-exon-21-l858r-substitution-mutations")
_PAPILLON = ("https://www.ilcn.org/us-fda-approves-frontline-amivantamab-combination-for-patients-with-egfr-"
             "exon-20-insertion-mutated-nsclc/")
_FLAURA2 = ("https://ascopost.com/issues/september-25-2025/osimertinib-plus-chemotherapy-significantly-prolongs-"
            "overall-survival-in-egfr-mutated-advanced-nsclc")


def _t(trial: str, setting: str, median: float | None, comparator_months: float | None, url: str, *,
       comparator: str = "", line: int | None = 1, biomarker: str | None = None, note: str = "",
       confirmed: bool = True, key: str = "") -> TrialPFS:
    return TrialPFS(trial, setting, median, comparator_months, url, confirmed, comparator, line, biomarker, note, key)


DRUG_LIST: tuple[Drug, ...] = (
    # --- EGFR -------------------------------------------------------------------------------
    Drug("gefitinib", ("iressa",), "EGFR", 1, "1st-generation EGFR TKI (reversible)", (
        _t("IPASS", "first line, EGFR-mutant subgroup", 9.5, 6.3, _EGFR_TABLE,
           comparator="carboplatin-paclitaxel", key="egfr_tki_pfs"),
        _t("WJTOG3405", "first line, EGFR-mutant", 9.2, 6.3, _EGFR_TABLE, comparator="cisplatin-docetaxel",
           key="egfr_tki_pfs"),
        _t("NEJ002", "first line, EGFR-mutant", 10.8, 5.4, _EGFR_TABLE, comparator="carboplatin-paclitaxel",
           key="egfr_tki_pfs"),
    )),
    Drug("erlotinib", ("tarceva",), "EGFR", 1, "1st-generation EGFR TKI (reversible)", (
        _t("EURTAC", "first line, EGFR-mutant", 9.7, 5.2, _EGFR_TABLE2, comparator="platinum doublet",
           key="egfr_tki_pfs"),
        _t("OPTIMAL", "first line, EGFR-mutant", 13.1, 4.6, _EGFR_TABLE2, comparator="carboplatin-gemcitabine",
           key="egfr_tki_pfs"),
    )),
    Drug("icotinib", ("conmana",), "EGFR", 1, "1st-generation EGFR TKI (approved in China)"),
    Drug("afatinib", ("gilotrif", "giotrif"), "EGFR", 2, "2nd-generation EGFR TKI (irreversible, pan-HER)", (
        _t("LUX-Lung 3", "first line, EGFR-mutant", 11.1, 6.9, _EGFR_TABLE2, comparator="cisplatin-pemetrexed",
           key="egfr_tki_pfs"),
        _t("LUX-Lung 6", "first line, EGFR-mutant", 11.0, 5.6, _EGFR_TABLE2, comparator="cisplatin-gemcitabine",
           key="egfr_tki_pfs"),
    )),
    Drug("dacomitinib", ("vizimpro",), "EGFR", 2, "2nd-generation EGFR TKI (irreversible, pan-HER)", (
        _t("ARCHER 1050", "first line, EGFR-mutant", 14.7, 9.2,
           "https://specialty.mims.com/topic/archer-1050--dacomitinib-shows-superior-os-vs-gefitinib-in-first-line-"
           "egfr-positive-nsclc?conference=american-society-of-clinical-oncology--asco--2018-annual-meeting",
           comparator="gefitinib", key="archer1050"),
    )),
    Drug("osimertinib", ("tagrisso", "azd9291"), "EGFR", 3, "3rd-generation EGFR TKI (active against T790M)", (
        _t("FLAURA", "first line, EGFR exon 19 deletion or L858R", 18.9, 10.2, _FLAURA,
           comparator="gefitinib or erlotinib", key="flaura"),
        _t("AURA3", "after T790M on a 1st/2nd-generation EGFR TKI", 10.1, 4.4, _AURA3,
           comparator="platinum-pemetrexed", line=2, key="aura3"),
        # FLAURA2 is osimertinib *with* chemotherapy and its PFS is unconfirmed in our reference:
        # kept for documentation, never used as a median (confirmed=False, line=None).
        _t("FLAURA2", "first line, with platinum-pemetrexed", None, None, _FLAURA2, line=None,
           comparator="osimertinib alone", confirmed=False,
           note="PFS unconfirmed in lungtrack's reference; final OS 47.5 vs 37.6 months"),
    )),
    Drug("aumolertinib", ("almonertinib", "ameile"), "EGFR", 3, "3rd-generation EGFR TKI (approved in China)", (
        _t("AENEAS", "first line, EGFR exon 19 deletion or L858R", 19.3, 9.9,
           "https://ascopost.com/news/june-2022/aumolertinib-vs-gefitinib-in-patients-with-advanced-nsclc-and-"
           "egfr-exon-19-deletion-or-l858r-mutation", comparator="gefitinib", key="aeneas"),
    )),
    Drug("furmonertinib", ("alflutinib", "firmonertinib", "ivesa"), "EGFR", 3,
         "3rd-generation EGFR TKI (approved in China)", (
        _t("FURLONG", "first line, EGFR exon 19 deletion or L858R", 20.8, 11.1, "http://www.pubmed.gov/35662408/",
           comparator="gefitinib", key="furlong"),
    )),
    Drug("lazertinib", ("lazcluze", "leclaza"), "EGFR", 3, "3rd-generation EGFR TKI", (
        _t("LASER301", "first line, EGFR exon 19 deletion or L858R", None, None, "", comparator="gefitinib",
           confirmed=False, note="PFS unconfirmed in lungtrack's reference"),
    )),
    Drug("amivantamab", ("rybrevant",), "EGFR", None, "EGFR-MET bispecific antibody", also_targets=("MET",)),
    Drug("amivantamab-lazertinib", ("rybrevant-lazcluze", "lazertinib-amivantamab"), "EGFR", 3,
         "EGFR-MET bispecific antibody with a 3rd-generation EGFR TKI", (
        _t("MARIPOSA", "first line, EGFR exon 19 deletion or L858R", 23.7, 16.6, _MARIPOSA,
           comparator="osimertinib", key="mariposa"),
    ), also_targets=("MET",)),
    Drug("amivantamab-chemotherapy", ("amivantamab-carboplatin-pemetrexed", "rybrevant-chemotherapy"), "EGFR", None,
         "EGFR-MET bispecific antibody with carboplatin-pemetrexed", (
        _t("PAPILLON", "first line, EGFR exon 20 insertion", 11.4, 6.7, _PAPILLON, comparator="chemotherapy alone",
           key="papillon"),
    ), also_targets=("MET",)),
    # --- ALK --------------------------------------------------------------------------------
    Drug("crizotinib", ("xalkori",), "ALK", 1, "1st-generation ALK TKI (also ROS1 and MET)", (
        _t("PROFILE 1014", "first line, ALK-positive", 10.9, 7.0, _CCJM, comparator="platinum-pemetrexed",
           biomarker="ALK", key="alk_ros1_pfs"),
        _t("single-arm ROS1 study", "ROS1-positive, single-arm", 17.6, None, _CCJM, line=None,
           biomarker="ROS1", key="alk_ros1_pfs"),
    ), also_targets=("ROS1", "MET")),
    Drug("ceritinib", ("zykadia",), "ALK", 2, "2nd-generation ALK TKI", (
        _t("ASCEND-4", "first line, ALK-positive", 16.6, 8.1, _CCJM, comparator="platinum-pemetrexed",
           key="alk_ros1_pfs"),
    ), also_targets=("ROS1",)),
    Drug("alectinib", ("alecensa",), "ALK", 2, "2nd-generation ALK TKI", (
        _t("ALEX", "first line, ALK-positive", 34.8, 10.9, "https://pubmed.ncbi.nlm.nih.gov/32418886/",
           comparator="crizotinib", key="alex"),
    )),
    Drug("brigatinib", ("alunbrig",), "ALK", 2, "2nd-generation ALK TKI", (
        _t("ALTA-1L", "first line, ALK-positive", 24.0, 11.0, "https://pmc.ncbi.nlm.nih.gov/articles/PMC7605398",
           comparator="crizotinib", key="alta1l"),
    )),
    Drug("ensartinib", ("ensacove",), "ALK", 2, "2nd-generation ALK TKI (approval status unconfirmed)"),
    Drug("lorlatinib", ("lorbrena", "lorviqua"), "ALK", 3, "3rd-generation ALK TKI (also ROS1)", (
        _t("CROWN", "first line, ALK-positive", None, 9.1,
           "https://www.cancernetwork.com/view/lorlatinib-improves-long-term-efficacy-in-advanced-alk-nsclc",
           comparator="crizotinib", key="crown",
           note="median not reached; 5-year PFS 60 % vs 8 % with crizotinib"),
    ), also_targets=("ROS1",)),
    # --- ROS1 / NTRK ------------------------------------------------------------------------
    Drug("entrectinib", ("rozlytrek",), "ROS1", 1, "ROS1/NTRK TKI", also_targets=("NTRK", "ALK")),
    Drug("repotrectinib", ("augtyro",), "ROS1", 2, "next-generation ROS1/NTRK TKI", also_targets=("NTRK",)),
    Drug("taletrectinib", (), "ROS1", 2, "next-generation ROS1 TKI (approval status unconfirmed)"),
    Drug("larotrectinib", ("vitrakvi",), "NTRK", 1, "TRK inhibitor"),
    # --- MET / RET / BRAF / KRAS / HER2 -----------------------------------------------------
    Drug("capmatinib", ("tabrecta",), "MET", None, "MET TKI (MET exon 14 skipping)"),
    Drug("tepotinib", ("tepmetko",), "MET", None, "MET TKI (MET exon 14 skipping)"),
    Drug("selpercatinib", ("retevmo",), "RET", None, "selective RET TKI"),
    Drug("pralsetinib", ("gavreto",), "RET", None, "selective RET TKI"),
    Drug("dabrafenib-trametinib", ("tafinlar-mekinist", "trametinib-dabrafenib"), "BRAF", None,
         "BRAF inhibitor with MEK inhibitor", (
        # The reference quotes 14.6 months from a secondary table without naming the study;
        # other reports give about 10-11 months, so it is kept out of the findings until verified.
        _t("single-arm BRAF V600E study", "BRAF V600E, single-arm", 14.6, None, _CCJM, line=None,
           confirmed=False, key="alk_ros1_pfs", note="secondary source; verify before use"),
    )),
    Drug("dabrafenib", ("tafinlar",), "BRAF", None, "BRAF inhibitor (given with trametinib)"),
    Drug("trametinib", ("mekinist",), "BRAF", None, "MEK inhibitor (given with dabrafenib)"),
    Drug("sotorasib", ("lumakras", "lumykras"), "KRAS", None, "covalent KRAS G12C inhibitor", (
        _t("CodeBreaK 100", "KRAS G12C, after earlier therapy, single-arm", 6.8, None,
           "https://journaljams.org/study/codebreak-100-2021.html", line=2, key="codebreak100"),
    )),
    Drug("adagrasib", ("krazati",), "KRAS", None, "covalent KRAS G12C inhibitor", (
        _t("KRYSTAL-1", "KRAS G12C, after earlier therapy", None, None, "", line=2, confirmed=False,
           note="PFS unconfirmed in lungtrack's reference"),
    )),
    Drug("trastuzumab deruxtecan", ("enhertu", "t-dxd"), "ERBB2", None,
         "HER2-directed antibody-drug conjugate (approval status unconfirmed in lungtrack's reference)"),
    # --- not targeted: so that a later chemotherapy or immunotherapy line can be logged ------
    Drug("platinum-pemetrexed", ("carboplatin-pemetrexed", "cisplatin-pemetrexed"), None, None, "chemotherapy"),
    Drug("carboplatin", (), None, None, "chemotherapy (platinum)"),
    Drug("cisplatin", (), None, None, "chemotherapy (platinum)"),
    Drug("pemetrexed", ("alimta",), None, None, "chemotherapy (antifolate)"),
    Drug("docetaxel", ("taxotere",), None, None, "chemotherapy (taxane)"),
    Drug("pembrolizumab", ("keytruda",), None, None, "immunotherapy (anti-PD-1)"),
)

_FILLER = {"and", "plus", "with"}


def _key(text: str) -> str:
    """Spelling-insensitive key: "Amivantamab + Lazertinib" and "amivantamab-lazertinib" match."""
    words = re.findall(r"[a-z0-9]+", text.lower().replace("®", "").replace("™", ""))
    return "-".join(w for w in words if w not in _FILLER)


DRUGS: dict[str, Drug] = {d.name: d for d in DRUG_LIST}
_BY_KEY: dict[str, Drug] = {}
for _d in DRUG_LIST:
    for _name in (_d.name, *_d.aliases):
        _BY_KEY.setdefault(_key(_name), _d)


def get_drug(name: str) -> Drug | None:
    """The drug for a canonical name or alias, or ``None`` (the rules never raise on a name)."""
    return _drug_of(name) if name else None


@lru_cache(maxsize=1024)
def _drug_of(name: str) -> Drug | None:
    """:func:`get_drug` of a name as stored (the rules ask for the same few names: cached)."""
    return _BY_KEY.get(_key(name))


def drug_from_text(text: str, field: str = "drug") -> Drug:
    """Read a drug name as typed (any case, brand names allowed).

    Unknown names are refused: the target and generation that the resistance rules need
    come from this table, so a free-text drug would silently disable those rules.
    """
    drug = get_drug(text or "")
    if drug is not None:
        return drug
    names = sorted({k for d in DRUG_LIST for k in (_key(d.name), *(_key(a) for a in d.aliases))})
    close = difflib.get_close_matches(_key(text or ""), names, n=3, cutoff=0.7)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    examples = "gefitinib, erlotinib, afatinib, osimertinib, alectinib, lorlatinib, platinum-pemetrexed"
    raise InputError(field, text, f"a known drug name such as {examples}{hint}")


def _biomarker_matches(trial: TrialPFS, biomarker: str | None, drug: Drug) -> bool:
    wanted = biomarker if biomarker in drug.targets else drug.target
    return trial.biomarker is None or trial.biomarker == wanted


def primary_trial(drug: Drug, line_number: int | None = None, biomarker: str | None = None) -> TrialPFS | None:
    """The confirmed trial to compare time on therapy against, or ``None``.

    ``line_number`` is the position of the therapy line (1 = first).  A first-line trial is
    only used for a first line, and a later-line trial (``line == 2``) only for a later line:
    comparing a second-line gefitinib with IPASS would mislead.  Trials of unspecified line
    (single-arm) are used for any line.  ``line_number=None`` means "unknown": the first
    listed confirmed trial of any setting.  ``biomarker`` (the patient's driver gene) picks
    crizotinib's ROS1 or ALK trial.  A trial whose median was not reached (CROWN) is returned
    with ``median_pfs_months=None`` and a ``note``.
    """
    candidates = [t for t in drug.trials if t.confirmed and _biomarker_matches(t, biomarker, drug)]
    if line_number is None:
        return candidates[0] if candidates else None
    want = 1 if line_number <= 1 else 2
    for trial in candidates:
        if trial.line == want:
            return trial
    for trial in candidates:
        if trial.line is None:
            return trial
    return None
