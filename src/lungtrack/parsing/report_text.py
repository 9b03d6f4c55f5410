"""Read lesion measurements out of the text of a CT report (pure: no I/O, standard library only).

``read_report(text)`` returns one :class:`ReadMeasurement` per lesion the report gives a size
for.  How it reads (see docs/report-text.md for the user-facing account):

1. **Sections.**  Headings ("FINDINGS:", "## Impression", "**Target lesions**", "Lymph nodes:")
   are recognised line by line.  Sizes under history, indication, technique, comparison, dose
   and contrast headings are skipped (slice thickness, phantom sizes, old sizes quoted from
   earlier reports).  Impression, conclusion and target-lesion lists *restate* lesions: a size
   there equal to one read elsewhere is the same lesion, not a second one.
2. **Sizes.**  Only numbers with a length unit are sizes: ``2.3 x 1.8 cm``, ``18 x 12 mm``,
   ``1.8x2.5 cm``, ``16mm``, ``7-millimeter``, ``2.4-cm``, ``3 x 2 x 2 cm``, ranges ``3 to 6 mm``
   / ``3-6 mm`` (the largest value is the long axis: a group is reported by its largest member).
   Image references, dates, ages, volumes, doses, HU, vertebral levels and segment numbers have
   no length unit and are never read.  ``cm²``/``cm3``/``mmHg`` are not lengths.
3. **What was measured.**  The noun that carries the size decides: right after it ("a 2.4-cm
   cyst"), else the first noun of the phrase before it ("the aorta measures 3.2 cm"), else the
   phrase the sentence inherits (list item under "Lymph nodes, including:").  Vessels,
   aneurysms, stones, ducts, walls, effusions, hernias, organ spans, slices and sums of
   diameters are not lesions and are dropped.
4. **Roles.**  A size after "previously", "compared to", "from", "was", or followed by
   "previously"/"on the prior study", is the prior size of the size it goes with
   ("from A to B": A is the prior, B the current).  "short axis" marks a short axis.
5. **Unsure.**  A size whose lesion could not be identified, a hedged "new" ("new or
   enlarging"), an implausible value or a decimal comma is returned with ``unsure=True`` and
   its text span: never guessed, never dropped silently.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

__all__ = [
    "SITES",
    "KnownLesion",
    "LesionMatch",
    "ReadMeasurement",
    "Span",
    "label_for",
    "location_traits",
    "match_lesions",
    "read_report",
]

SITES = ("lung", "lymph node", "liver", "adrenal", "bone", "brain", "pleura", "other")


@dataclass(frozen=True)
class Span:
    """Where a measurement came from: ``text == report[start:end]`` (character offsets)."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class ReadMeasurement:
    """One lesion measurement read from a report.  Sizes in mm; ``None`` when not stated."""

    location: str
    site: str
    is_node: bool
    long_axis_mm: float | None
    short_axis_mm: float | None
    prior_mm: float | None
    new: bool
    unsure: bool
    span: Span
    station: str | None = None
    side: str | None = None
    section: str = "findings"
    context: str = ""
    why_unsure: str = ""
    prior_short_mm: float | None = None  # the prior size's short axis, when two dimensions were given


# ------------------------------------------------------------------ vocabulary

_NUM = r"(?:\d{1,5}(?:\.\d{1,4})?|\.\d{1,4})(?![\d.]\d)"
_UNIT = r"(?:mm|millimet(?:er|re)s?|cm|centimet(?:er|re)s?)(?![²³/^]|(?![xX]\s*\d)\w)(?!\s*(?:sq\b|squared|cubed))"
_SEP = r"\s*(?:[x×X*]|\bby\b)\s*"
_SIZE = re.compile(
    rf"(?<![\w.])(?<!\d,)(?:"
    rf"(?P<d1>{_NUM})(?:\s*(?P<du1>{_UNIT}))?{_SEP}(?P<d2>{_NUM})(?:\s*(?P<du2>{_UNIT}))?"
    rf"(?:{_SEP}(?P<d3>{_NUM}))?\s*-?\s*(?P<du>{_UNIT})"
    rf"|(?P<r1>{_NUM})(?:\s*-?\s*(?P<ru1>{_UNIT}))?\s*(?:-|–|\bto\b)\s*(?P<r2>{_NUM})\s*-?\s*(?P<ru>{_UNIT})"
    rf"|(?P<s>{_NUM})\s*-?\s*(?P<su>{_UNIT}))",
    re.IGNORECASE,
)
_DECIMAL_COMMA = re.compile(rf"(?<![\w.,])\d+,\d+\s*-?\s*{_UNIT}", re.IGNORECASE)

# Nouns that carry a size.  "node" kinds first so that "lymph node" wins over "node".
_LESION_NOUNS = (
    r"lymph\s*nodes?|lymphadenopathy|adenopathy|nodes?|LNs?|conglomerates?|"
    r"nodules?|nodularity|mass(?:es)?|lesions?|tumou?rs?|metastas[ie]s|metastatic\s+deposits?|deposits?|"
    r"implants?|foc(?:us|i)|opacit(?:y|ies)|consolidation|cysts?|granulomas?|hypo-?densit(?:y|ies)|hyper-?densit(?:y|ies)|"
    r"hypoattenuations?|lucenc(?:y|ies)|(?:lip|hemangi|haemangi|aden|hamart|schwann|fibr|my)omas?|"
    r"(?:adeno)?carcinomas?|malignanc(?:y|ies)|"
    r"(?:nodular|pleural)\s+(?:pleural\s+)?thickening|soft[- ]tissue(?:\s+(?:mass(?:es)?|lesions?|nodules?))?|infiltrates?|neoplasms?|carcinomas?|cancers?"
)
_NODE_NOUN = re.compile(r"lymph|adenopathy|^nodes?$|^LNs?$", re.IGNORECASE)
_NEG_NOUNS = (
    r"sum|SLD|SPD|SOD|total|aorta|aortic\s+(?:root|arch|diameter)|arter(?:y|ies)|trunk|veins?|IVC|SVC|vessels?|"
    r"aneurysms?|ectasia|stones?|calcul(?:us|i)|gallstones?|(?:nephro|uro|choledocho)lithiasis|ducts?|CBD|"
    r"walls?|thickness|(?<!nodular\s)(?<!pleural\s)thickening|thickened|effusions?|ascites|pneumothorax|fluid|"
    r"hernias?|diverticul(?:um|a)|bullae?|blebs?|slices?|collimation|kernel|"
    r"reconstructions?|reformats?|phantom|tubes?|catheters?|stents?|clips?|tip|defects?|atelectasis|"
    r"distance|components?|span|length|splenomegaly|hepatomegaly|cardiomegaly|ventricles?|pericardium|"
    r"esophagus|oesophagus|appendix|bowel|colon|dilatation|dilation|trachea|airways?|carina|plaques?|"
    r"field\s+of\s+view|D?FOV|scar|fibrosis|schmorl'?s?\s+nodes?|emphysema|implants?\s+(?:rupture|capsule)|gynecomastia"
)
_NEG_AFTER = re.compile(r"\s*(?P<neg>(?:axial\s+|thin\s+|contiguous\s+)?(?:intervals?|increments?|sections?|cuts|"
                        r"slices?|thick(?:ness)?\b|collimation|reconstructions?|apart|images?\b|MIPs?\b|windows?\b|"
                        r"or\s+(?:less|smaller|more|greater|larger|below|above)\b))", re.IGNORECASE)
_NOUN = re.compile(rf"\b(?:(?P<neg>{_NEG_NOUNS})|(?P<les>{_LESION_NOUNS}))\b", re.IGNORECASE)
_ORGAN_SPAN = re.compile(
    r"\b(?:spleen|liver|kidneys?|thyroid|prostate|uterus|pancreas|heart|gland)\b.{0,40}?"
    r"\b(?:measur\w*|span|length|size|dimension|craniocaudal|cranio-caudal)\b|\b(?:measur\w*|span|length|dimension)\w*\s+of\s+the\s+"
    r"(?:spleen|liver|kidneys?|thyroid|prostate|uterus|pancreas|heart)\b",
    re.IGNORECASE,
)
_ORGAN_ONLY = re.compile(r"\b(?:spleen|liver|kidneys?|thyroid|prostate|uterus|pancreas|heart|gallbladder|bladder|"
                         r"aorta|ovar(?:y|ies)|gland|schmorl)\b", re.IGNORECASE)
_PREPOSITION = re.compile(
    r"\b(?:in|at|of|on|with|within|along|near|from|to|and|or|is|are|was|were|which|that|seen|noted|"
    r"measur\w*|previously|compared|since|than|the|a|an)\b", re.IGNORECASE)

_NODE_REGION = re.compile(
    r"\b(?:axill\w*|inguinal|precaval|retrocaval|paracaval|aortocaval|para-?aortic|retroperitoneal|"
    r"mesenteric|obturator|iliac|paratracheal|pretracheal|subcarinal|hilar|hilum|mediastin\w*|"
    r"supraclavicular|cervical|retrocrural|periportal|portocaval|celiac|peri-?pancreatic|perigastric|"
    r"prevascular|aortopulmonary|AP\s+window|station|level\s+\d)\b", re.IGNORECASE)

_SITE_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("lung", re.compile(
        r"\b(?:lungs?|pulmonary|intrapulmonary|(?:upper|middle|lower)\s+lobes?|R[UML]L|L[UL]L|lingula\w*|"
        r"apicoposterior|apical\s+segment|subpleural|perifissural|fissur\w*|juxtapleural|pleural-based|"
        r"ground[- ]glass|part[- ]solid|peribronchial|endobronchial|bronch\w*|parenchym\w*)\b", re.IGNORECASE)),
    ("liver", re.compile(r"\b(?:liver|hepatic|hepato\w*|couinaud|caudate)\b", re.IGNORECASE)),
    ("adrenal", re.compile(r"\badrenals?\b", re.IGNORECASE)),
    ("brain", re.compile(r"\b(?:brain|cerebr\w*|cerebell\w*|intracranial|intra-axial|(?:frontal|parietal|temporal|"
                         r"occipital)\s+lobes?|hemispher\w*|pons|thalam\w*)\b", re.IGNORECASE)),
    ("bone", re.compile(r"\b(?:bones?|bony|osseous|osteo\w*|skeletal|lytic|sclerotic|blastic|vertebra\w*|ribs?|sternum|"
                        r"sacrum|sacral|iliac\s+(?:bone|wing|crest)|femur|femoral\s+head|humer\w*|scapula\w*|"
                        r"clavicle|spine|spinal|marrow|acetabul\w*|pedicle)\b", re.IGNORECASE)),
    ("pleura", re.compile(r"\b(?:pleura|pleural)\b(?!-based|\s+(?:effusions?|attachment|contact|surface))", re.IGNORECASE)),
    ("other", re.compile(r"\b(?:kidneys?|renal|spleen|splenic|pancrea\w*|thyroid|subcutaneous|cutaneous|intracutaneous|"
                         r"skin|breast|muscle|peritone\w*|omentum|omental|ovar\w*|prostat\w*|bladder|gastric|"
                         r"stomach|thymus|thymic|chest\s+wall|soft\s+tissues)\b", re.IGNORECASE)),
)

_STATION = re.compile(
    r"\b(?:station|level)\s*(?P<a>1[0-4][RL]?|[1-9][RL]?|3[ap])\b|\((?P<b>1[0-4][RL]|[1-9][RL])\)|"
    r"(?<![\w/-])(?P<c>1[0-4][RL]|[2-9][RL])(?![\w/-])", re.IGNORECASE)
_NAMED_STATIONS = (("subcarinal", "7"), ("aortopulmonary", "5"), ("ap window", "5"), ("para-aortic", "6"),
                   ("paraaortic", "6"), ("paraesophageal", "8"), ("prevascular", "3a"), ("retrotracheal", "3p"))
_LOBE = re.compile(r"\b(?P<side>right|left)\s+(?P<part>upper|middle|lower)(?:\s+lobes?\b|(?=\s*(?:\(|,|and\b|"
                   r"nodules?\b|mass\b|lung\b|$))(?!\s*(?:quadrant|pole|extremit|abdomen|zone|para)))|\b(?P<abbr>R[UML]L|L[UL]L)\b"
                   r"|\b(?P<ling>lingula)\w*", re.IGNORECASE)
_SIDE = re.compile(r"\b(?P<w>right|left|bilateral)\b", re.IGNORECASE)
_TARGET = re.compile(r"\btarget(?:\s+lesion)?\s*#?\s*(?P<n>\d{1,2})\b", re.IGNORECASE)

_PRIOR_BEFORE = re.compile(
    r"(?:\bpreviously(?:\s+measur\w*)?|\bprior(?:ly)?(?:\s+(?:study|exam\w*|scan|ct))?|\bprevious(?:\s+(?:study|exam\w*|scan|ct))?"
    r"|\bcompared\s+(?:to|with)|\bin\s+comparison\s+(?:to|with)|\bvs\.?|\bversus|\bwas|\bwere|\bfrom|\bbefore"
    r"|\b(?:on|at)\s+(?:the\s+)?(?:prior|previous|baseline|last)(?:\s+(?:study|exam\w*|scan|ct))?"
    r"|\bbaseline(?:\s+of)?|\bearlier|\bmeasured|\bprev\.|\binitially|\boriginally|\bformerly|\blast\s+(?:time|study|exam\w*|scan)"
    r"|\bdown\s+from|\bup\s+from)\s*[:(=,]?\s*(?:of\s+)?(?:approximately|approx\.?|about|~|up\s+to)?\s*$",
    re.IGNORECASE)
_PRIOR_AFTER = re.compile(
    r"^\s*[,)]?\s*(?:previously|prior|before|earlier|at\s+baseline|on\s+(?:the\s+)?(?:prior|previous|last|baseline)"
    r"|in\s+(?:19|20)\d\d|on\s+\d{1,4}[/.-]\d)", re.IGNORECASE)
_BOUND_BEFORE = re.compile(r"(?:(?<![-=])[<>≤≥]=?|\b(?:less|greater|more|larger|smaller|bigger)\s+than|\bat\s+least|\bexceeding|"
                           r"\bbelow|\babove|\bunder|\bover|\bsub-?|\bthreshold\s+of|\bcut-?off\s+of)\s*(?:approximately|about)?\s*$",
                           re.IGNORECASE)
_GUIDELINE = re.compile(r"\b(?:fleischner|guidelines?|lung-?rads|brock|criteria|recommendations?\s+for|"
                        r"if\s+(?:the\s+)?(?:nodule|lesion)|for\s+(?:a\s+)?(?:solid|subsolid|part-solid)\s+nodules?\s+(?:of|measuring))\b",
                        re.IGNORECASE)
_DISTANCE_AFTER = re.compile(r"^\s*(?:from\s+(?!\d|\.\d|(?:the\s+)?(?:prior|previous|baseline|last)\b)|below\b|above\b|beneath\b|"
                             r"proximal\s+to|distal\s+to|away\b|beyond\b|(?:inferior|superior|lateral|medial|anterior|posterior|"
                             r"cranial|caudal)\s+to\b|deep\s+to\b|into\b|of\s+the\s+(?:carina|hilum|pleura|chest\s+wall)\b)",
                             re.IGNORECASE)
_MEASURE_OF = re.compile(r"\b(?:length|thickness|distance|depth|extent|width|span|calib(?:re|er)|volume|"
                         r"(?:mean|average|avg\.?)\s+(?:axial\s+)?(?:diameter|size)|diameter\s+of\s+the\s+"
                         r"(?:aorta|artery|vein|duct|trunk))\s+(?:of\s+)?(?:up\s+to\s+|approximately\s+|about\s+)?$",
                         re.IGNORECASE)
_NOW_CUE = re.compile(r"(?:\bnow\b|\bcurrently\b|\btoday\b|\b(?:grown|increased|decreased|enlarged|progressed|reduced|shrunk|"
                      r"regressed|changed|risen|decreasing|increasing)\b[^.;]{0,30}?\bto\b|-+>|→|=>)"
                      r"\s*(?:measur\w*|is|of)?\s*(?:approximately|about|up\s+to)?\s*$", re.IGNORECASE)
_RESOLVED = re.compile(r"\b(?:resolved|no\s+longer\s+(?:seen|visible|visuali[sz]ed|present|identified|apparent)|"
                       r"has\s+disappeared|(?:was|were)\s+(?:resected|removed))\b", re.IGNORECASE)
_RANGE_FROM = re.compile(r"\b(?:rang\w*|varying|vary)\s+(?:in\s+size\s+)?(?:from\s+)?$|\bbetween\s*$", re.IGNORECASE)
_FROM_END = re.compile(r"\bfrom\s*(?:approximately|about)?\s*$", re.IGNORECASE)
_SHORT_AXIS = re.compile(r"\bshort[- ]?axis|\bSAD\b|\bshortest\s+diameter", re.IGNORECASE)
_LONG_AXIS = re.compile(r"\blong[- ]?axis|\blongest\s+(?:axis|diameter)|\bLAD\b", re.IGNORECASE)
_REF = r"\(\s*\d+\s*[:/]\s*\d+(?:\s*,\s*\d+)*\s*\)"
_PLURAL = r"(?:lymph\s+)?nodes|nodules|masses|lesions|metastases|opacities|cysts|foci"
_MULTI_PLACES = re.compile(
    rf"\s*(?P<body>(?:[A-Za-z][\w -]{{0,40}}?\s*{_REF}\s*(?:,\s*and|,|and)?\s*){{2,}})(?P<noun>{_PLURAL})\b",
    re.IGNORECASE)
_MULTI_REFS = re.compile(rf"\s*(?P<loc>[A-Za-z][\w -]{{0,40}}?)\s*(?P<noun>{_PLURAL})\s*"
                         r"\(\s*\d+\s*[:/]\s*(?P<refs>\d+(?:\s*,\s*\d+)+)\s*\)", re.IGNORECASE)
_LONG_AFTER = re.compile(r"^\s*\)?\s*(?:in\s+)?(?:the\s+)?(?:long[- ]?axis|LAD\b|longest\s+diameter)", re.IGNORECASE)
_SHORT_AFTER = re.compile(r"^\s*\)?\s*(?:in\s+)?(?:the\s+)?(?:short[- ]?axis|SAD\b|SA\b)", re.IGNORECASE)
_NEW = re.compile(r"\b(?:new(?:ly)?|interval\s+(?:development|appearance)|appeared|emerging)\b", re.IGNORECASE)
_NOT_NEW = re.compile(r"\b(?:no|without|not|nor|any|negative\s+for)\s+(?:\w+[\s,]+){0,3}?new\b", re.IGNORECASE)
_HEDGED_NEW = re.compile(r"\bnew(?:ly)?\s+(?:or|and/or|vs\.?|versus)\s+\w+|\bnew\s+and\s+(?:enlarg|increas|grow|larger|bigger|"
                         r"progress)\w*|\bnewly\s+enlarg\w*|\b(?:possibly|possible|"
                         r"questionabl[ey]|\?)\s+new\b|\bnew\b\s*\?", re.IGNORECASE)

_SKIP_HEADING = re.compile(
    r"\b(?:histor\w*|indications?|techniques?|protocol|procedure|comparisons?|request\w*|reason|doses?|contrast|"
    r"question|examination|authori[sz]ation|fasting|complications?|acquisition|parameters|dlp|ctdi\w*|"
    r"clinical|referr\w*|accession|dictated|signed|phases?)\b", re.IGNORECASE)
_RESTATE_HEADING = re.compile(r"\b(?:impressions?|conclusions?|summary|opinion|target\s+lesions?|non-?target|recist|"
                              r"diagnosis|assessment)\b", re.IGNORECASE)
_LABEL = re.compile(r"^[-*•#>\s]*_*\s*(?P<label>[A-Za-z][^:\n]{0,70}?)\s*\**_*\s*:\s*\**_*\s*(?P<rest>.*)$")
_ABBREVIATIONS = frozenset({"approx", "prev", "meas", "img", "ser", "ant", "post", "sup", "inf", "lat", "med",
                            "hx", "pt", "vs", "dr", "cf", "fig", "no", "e.g", "i.e", "eg", "ie", "im", "se", "st", "mr",
                            "mrs", "ms", "md", "d", "m", "s/p", "etc", "incl", "max", "min", "prof", "ref"})
_CONNECTORS = frozenset({"and", "or", "of", "the", "a", "an", "with", "to", "from", "in", "at", "on", "measuring",
                         "measures", "by", "for", "as", "is", "are", "was", "were", "which", "that", "now", "than",
                         "up", "into", "along", "near", "without", "within", "having"})


# ------------------------------------------------------------------ structure

@dataclass(frozen=True)
class _Line:
    start: int
    end: int
    kind: str  # findings | restate | skip
    heading: str  # the latest standalone heading above (list header, organ heading)
    label: str  # "Label" of a "Label: text" line, else ""


def _is_heading(stripped: str) -> tuple[bool, str]:
    """A standalone heading line: '## Findings', '**IMPRESSION:**', 'Lymph nodes:', 'CT BRAIN'."""
    if _SIZE.search(stripped):
        return False, ""
    core = stripped.strip("#*_ \t-•>")
    if not core:
        return False, ""
    if stripped.lstrip().startswith("#"):
        return True, core.rstrip(":").strip()
    if core.endswith(":") and len(core) <= 90:
        return True, core.rstrip(":").strip(" *_")
    letters = [c for c in core if c.isalpha()]
    if letters and all(c.isupper() for c in letters) and len(core.split()) <= 8 and not core.endswith("."):
        return True, core
    if stripped.strip().startswith("**") and stripped.strip().endswith("**") and len(core.split()) <= 8:
        return True, core
    return False, ""


def _kind_of(label: str) -> str | None:
    if _RESTATE_HEADING.search(label):
        return "restate"
    if _SKIP_HEADING.search(label):
        return "skip"
    return None


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    kind = "findings"
    inline_skip = False
    heading = ""
    pos = 0
    for raw in text.splitlines(keepends=True):
        start, end = pos, pos + len(raw.rstrip("\r\n"))
        pos += len(raw)
        line = text[start:end]
        if not line.strip():
            inline_skip = False
            out.append(_Line(start, end, kind, heading, ""))
            continue
        is_head, head_text = _is_heading(line)
        if is_head:
            inline_skip = False
            k = _kind_of(head_text)
            # A list header ("Pulmonary lesions, suspected lymph nodes:") keeps the section's kind.
            if k is not None:
                kind = k
            elif len(head_text.split()) <= 6 or line.lstrip().startswith("#"):
                kind = "findings"
            heading = head_text
            out.append(_Line(start, end, kind, heading, ""))
            continue
        label = ""
        match = _LABEL.match(line)
        if match and len(match["label"].split()) <= 7 and not _SIZE.search(match["label"]):
            label = match["label"].strip(" *_")
            k = _kind_of(label)
            if k == "skip":
                inline_skip = True
            elif k == "restate":
                kind, inline_skip = "restate", False
            elif re.match(r"(?:findings|report|results?)\b", label, re.IGNORECASE):
                kind, inline_skip = "findings", False
            else:
                inline_skip = False  # "Lungs: ..." after "Clinical: ...": findings again
        elif inline_skip and not re.match(r"\s*[a-z(\d]", line):
            inline_skip = False  # a new sentence, not the wrapped end of "History: ..."
        out.append(_Line(start, end, "skip" if inline_skip else kind, heading, label))
    return out


def _sentences(text: str, lines: Sequence[_Line]) -> list[tuple[int, int]]:
    """Sentence spans: full stops, and line breaks that end a thought (not a wrapped line)."""
    cuts: set[int] = {lines[0].start} if lines else set()
    for i, ln in enumerate(lines):
        if i + 1 < len(lines):
            cur = text[ln.start:ln.end].rstrip(" *_")
            nxt = text[lines[i + 1].start:lines[i + 1].end].lstrip(" *_")
            last_word = cur.split()[-1].lower() if cur.split() else ""
            wrapped = (cur and nxt and cur[-1] not in ".:;!?" and last_word not in ("",) and
                       (nxt[0].islower() or nxt[0] in "(" or nxt[0].isdigit() and not re.match(r"\d+[.)]\s", nxt)
                        or last_word in _CONNECTORS or cur.endswith(","))
                       and not re.match(r"[-*•]|\d+[.)]\s", nxt)
                       and not _is_heading(text[lines[i + 1].start:lines[i + 1].end])[0]
                       and not (_LABEL.match(nxt) and not nxt[0].islower()))
            if not wrapped:
                cuts.add(lines[i + 1].start)
    for m in re.finditer(r"[.!?](?=\s|$|\*)", text):
        before = re.search(r"([\w./]+)$", text[max(0, m.start() - 12):m.start()])
        word = before.group(1).lower() if before else ""
        if word in _ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.)+[a-z]", word):
            continue
        if word.isdigit() and len(word) <= 2 and re.match(r"\s+[A-Z]", text[m.end():m.end() + 3]) is None:
            continue
        cuts.add(m.end())
    bounds = sorted(cuts | {len(text)})
    return [(a, b) for a, b in itertools.pairwise(bounds) if text[a:b].strip()]


def _subclauses(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split a sentence at ';' (outside brackets) and at ', and the/a ...', ' while ', ' whereas '."""
    cuts = [start]
    depth = 0
    for i in range(start, end):
        c = text[i]
        if c in "([":
            depth += 1
        elif c in ")]":
            depth = max(0, depth - 1)
        elif c == ";" and depth == 0:
            cuts.append(i + 1)
    for m in re.finditer(r",?\s+(?:and|but|while|whereas)\s+(?=(?:the|a|an|there|another|this|these|its|new|no)\b)"
                         r"|\s(?:while|whereas)\s", text[start:end], re.IGNORECASE):
        cuts.append(start + m.start())
    cuts = sorted(set(cuts)) + [end]
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]


# ------------------------------------------------------------------ sizes

@dataclass
class _Mention:
    start: int
    end: int
    dims: tuple[float, ...]
    prior: bool = False
    from_prior: bool = False  # "from A to B": A goes with the next size
    is_range: bool = False
    short_only: bool = False
    long_cue: bool = False
    unsure: str = ""


def _mm(number: str, unit: str | None) -> float:
    value = Decimal(number)
    if unit and unit.lower().startswith("c"):
        value *= 10
    return float(round(value, 2))


def _mentions(text: str, a: int, b: int) -> list[_Mention]:
    found: list[_Mention] = []
    for m in _SIZE.finditer(text, a, b):
        if m["du"]:
            unit = m["du"]
            nums = [n for n in (m["d1"], m["d2"], m["d3"]) if n]
            units = [m["du1"], m["du2"], None]
            dims = tuple(_mm(n, u or unit) for n, u in zip(nums, units))
            found.append(_Mention(m.start(), m.end(), dims))
        elif m["ru"]:
            unit = m["ru"]
            lo, hi = _mm(m["r1"], m["ru1"] or unit), _mm(m["r2"], unit)
            before = text[max(a, m.start() - 40):m.start()]
            from_m = _FROM_END.search(before)
            first = re.match(rf"{_NUM}(?:\s*-?\s*{_UNIT})?", text[m.start():m.end()], re.IGNORECASE)
            if from_m and first and not _RANGE_FROM.search(before[: from_m.start()] + " "):
                # "from 7 to 11 mm": a change, not a range
                split = m.start() + first.end()
                found.append(_Mention(m.start(), split, (lo,), prior=True, from_prior=True))
                found.append(_Mention(text.index(m["r2"], split, m.end()), m.end(), (hi,)))
            else:
                found.append(_Mention(m.start(), m.end(), (max(lo, hi),), is_range=True))
        else:
            found.append(_Mention(m.start(), m.end(), (_mm(m["s"], m["su"]),)))
    for m in _DECIMAL_COMMA.finditer(text, a, b):
        found.append(_Mention(m.start(), m.end(), (), unsure="a decimal comma: read the size yourself"))
    found.sort(key=lambda x: x.start)
    return found


def _trailing_paren_end(text: str, pos: int, limit: int) -> int:
    """End of a bracket right after a size ('(Im 89, Se 302; target lesion#1)'), else ``pos``.

    A bracket holding a size ('(previously 8 x 6 mm)') is not skipped: it is read."""
    m = re.match(r"\s*[,]?\s*\(([^()]{0,80})\)", text[pos:limit])
    if m is None or _SIZE.search(m.group(1)) or _DECIMAL_COMMA.search(m.group(1)):
        return pos
    return pos + m.end()


# ------------------------------------------------------------------ reading one mention

def _first_noun(segment: str) -> re.Match[str] | None:
    return _NOUN.search(segment)


def _noun_after(text: str, pos: int, limit: int) -> re.Match[str] | None:
    """The noun right after a size: 'a 2.4-cm lobulated cortical cyst', '5 mm nodule'."""
    window = text[pos:min(limit, pos + 60)]
    unit_use = _NEG_AFTER.match(window)
    if unit_use:
        return unit_use
    lead = re.match(r"[ \t]*(?:-\s*)?", window)
    at = lead.end() if lead else 0
    for _ in range(4):
        n = _NOUN.match(window, at)
        if n:
            return n
        w = re.match(r"([A-Za-z][\w-]*)\s+", window[at:])
        if w is None or _PREPOSITION.fullmatch(w.group(1)):
            return None
        at += w.end()
    return None


def _site_of(texts: Iterable[str]) -> str | None:
    for t in texts:
        best: tuple[int, str] | None = None
        for site, rx in _SITE_WORDS:
            m = rx.search(t)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), site)
        if best:
            return best[1]
    return None


def _station_of(texts: Iterable[str]) -> str | None:
    for t in texts:
        m = _STATION.search(t)
        if m:
            code = (m["a"] or m["b"] or m["c"]).upper()
            return code.replace("A", "a").replace("P", "p")
        low = t.lower()
        for word, code in _NAMED_STATIONS:
            if word in low:
                return code
    return None


def location_traits(text: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(side, lobe, station, target number) named in a lesion label or description."""
    lobe = None
    m = _LOBE.search(text)
    if m:
        if m["abbr"]:
            lobe = m["abbr"].upper()
        elif m["ling"]:
            lobe = "lingula"
        else:
            lobe = (m["side"][0] + m["part"][0] + "L").upper()
    side = None
    if lobe:
        side = "left" if lobe.startswith("L") else "right"
    else:
        s = _SIDE.search(text)
        letter = re.search(r"(?<![\w/-])(?P<l>[LR])(?![\w/-])", text)
        if s:
            side = s["w"].lower()
        elif letter:
            side = "left" if letter["l"] == "L" else "right"
    station = _station_of([text])
    if station and side is None and station[-1] in "RL":
        side = "right" if station.endswith("R") else "left"
    t = _TARGET.search(text)
    return side, lobe, station, (t["n"] if t else None)


def _singular(noun: str) -> str:
    n = " ".join(noun.lower().split())
    for plural, single in (("lymph nodes", "lymph node"), ("masses", "mass"), ("metastases", "metastasis"),
                           ("foci", "focus"), ("opacities", "opacity"), ("nodes", "node"), ("lns", "ln")):
        if n == plural:
            return single
    if n.endswith("s") and not n.endswith(("ss", "sis", "us")):
        return n[:-1]
    return n


_REGION_WORDS = re.compile(
    r"\b(?:right|left|bilateral|upper|middle|lower|lobe|R[UML]L|L[UL]L|lingula|apicoposterior|apical|superior|"
    r"inferior|posterior|anterior|basal|segment\s+(?:[IVX]+[ab]?|\d+[ab]?)|S\d{1,2}|subpleural|perifissural|"
    r"liver|hepatic|adrenal|renal|kidney|spleen|splenic|pancreatic|pancreas|thyroid|subcutaneous|pleural|"
    r"vertebral|rib|sacral|iliac|brain|cerebral|cerebellar|frontal|parietal|temporal|occipital|"
    r"axillary|inguinal|precaval|retrocaval|paracaval|aortocaval|para-?aortic|retroperitoneal|mesenteric|"
    r"obturator|paratracheal|pretracheal|subcarinal|hilar|hilum|mediastinal|supraclavicular|cervical|"
    r"retrocrural|periportal|portocaval|celiac|prevascular|aortopulmonary|breast|chest\s+wall)\b", re.IGNORECASE)


def _location(region: str, noun: str | None, station: str | None, side: str | None, target: str | None,
              is_node: bool) -> str:
    words: list[str] = []
    # Lobes first, as abbreviations: "left lower lobe" -> "LLL".
    lobe_match = _LOBE.search(region)
    lobe_span = lobe_match.span() if lobe_match else (-1, -1)
    if lobe_match:
        _s, lobe, _st, _t = location_traits(lobe_match.group(0))
        words.append(lobe or "")
    for m in _REGION_WORDS.finditer(region):
        if lobe_span[0] <= m.start() < lobe_span[1]:
            continue
        w = " ".join(m.group(0).split())
        if w.lower() in ("right", "left", "bilateral") or not re.match(r"(?:segment|S\d|R[UML]L|L[UL]L)", w):
            w = w.lower()
        if w in ("right", "left", "bilateral") and (lobe_match or (side and w != side)):
            continue
        if w in ("upper", "middle", "lower", "lobe", "superior", "inferior", "posterior", "anterior", "basal") and not lobe_match:
            continue
        if w in ("upper", "middle", "lower", "lobe"):
            continue
        if w.lower() not in (x.lower() for x in words) and not (noun and w.lower() in noun.lower().split()):
            words.append(w)
    if side and not lobe_match and side not in words:
        words.insert(0, side)
    if station and is_node and not any(station.lower() == w.lower() for w in words):
        words.append(station if station[-1] in "RL" else f"station {station}")
    base = _singular(noun) if noun else ("lymph node" if is_node else "lesion")
    if is_node and base in ("node", "ln", "lesion", "conglomerate", "lymphadenopathy", "adenopathy"):
        base = "lymph node" if base != "lesion" or not words else "node"
    words.append(base)
    if target:
        words.append(f"target {target}")
    return " ".join(w for w in words if w)


# ------------------------------------------------------------------ the reader

def read_report(text: str) -> list[ReadMeasurement]:
    """Every lesion measurement in a report's text, in reading order, restatements merged."""
    if not text or not text.strip():
        return []
    lines = _lines(text)
    line_starts = [ln.start for ln in lines]

    def line_at(pos: int) -> _Line:
        lo, hi = 0, len(line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if line_starts[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lines[lo]

    results: list[ReadMeasurement] = []
    last_subject: tuple[str, str, bool] | None = None
    for s_start, s_end in _sentences(text, lines):
        ln = line_at(s_start)
        if ln.kind == "skip":
            continue
        if ln.label and s_start > text.find(":", ln.start, ln.end):
            ln = replace(ln, label="")  # "Lesion 1 (RUL): 25 mm. Lesion 2 ...": the label is the first sentence's
        sentence = text[s_start:s_end]
        sentence_noun = _first_noun(sentence)
        prev_subject: tuple[str, str, bool] | None = None  # (noun, region text, neg) of the previous sub-clause
        if re.match(r"\W*(?:it|this(?:\s+(?:lesion|nodule|mass|node))?|they|these|the\s+latter|which)\b", sentence,
                    re.IGNORECASE) and last_subject is not None:
            prev_subject = last_subject  # "There is a nodule in the RUL. It measures 12 mm."
        for c_start, c_end in _subclauses(text, s_start, s_end):
            mentions = _mentions(text, c_start, c_end)
            if mentions and _GUIDELINE.search(text[c_start:c_end]):
                continue
            if not mentions:
                n = _first_noun(text[c_start:c_end])
                if n:
                    prev_subject = (n.group(0), text[c_start + n.start():c_end], bool(n["neg"]))
                continue
            results.extend(_read_clause(text, c_start, c_end, mentions, ln, s_start, sentence, sentence_noun,
                                        prev_subject))
            n = _first_noun(text[c_start:c_end])
            if n:
                prev_subject = (n.group(0), text[c_start + n.start():c_end], bool(n["neg"]))
        if sentence_noun is not None:
            last_subject = (sentence_noun.group(0), sentence[sentence_noun.start():], bool(sentence_noun["neg"]))
        if ln.label or _is_heading(sentence)[0]:
            last_subject = None
    return _merge_restatements(results)


def _read_clause(text: str, c_start: int, c_end: int, mentions: list[_Mention], ln: _Line, s_offset: int,
                 sentence: str, sentence_noun: re.Match[str] | None,
                 prev_subject: tuple[str, str, bool] | None) -> list[ReadMeasurement]:
    # Roles: prior or current, short axis.
    short_carry = False
    own_starts: list[int] = []
    prev_end = c_start
    dropped: set[int] = set()
    for i, mt in enumerate(mentions):
        before = text[prev_end:mt.start]
        own_starts.append(prev_end)
        after = text[mt.end:mentions[i + 1].start if i + 1 < len(mentions) else c_end]
        if _BOUND_BEFORE.search(before) or _MEASURE_OF.search(before) or _DISTANCE_AFTER.match(text[mt.end:min(c_end, mt.end + 40)]):
            dropped.add(i)  # a threshold, a distance or a length along something: not a lesion size
        after_noun = _noun_after(text, mt.end, mentions[i + 1].start if i + 1 < len(mentions) else c_end)
        if after_noun is not None and after_noun["neg"]:
            dropped.add(i)  # "a 5 mm solid component", "a 1.4-cm aneurysm"
        if i > 0 and not mt.prior and _NOW_CUE.search(before):
            earlier = mentions[i - 1]
            if not earlier.prior and i - 1 not in dropped:
                earlier.prior = True  # "the 12 mm nodule ... now measures 15 mm", "has grown to", "6 mm -> 8 mm"
        if i > 0 and not mt.prior and re.fullmatch(r"\s*\(\s*", before) and not mentions[i - 1].prior:
            # "slightly smaller at 9 mm (10 mm)": a bare size in brackets after a size
            if mentions[i - 1].dims == mt.dims:
                dropped.add(i)  # the same size written twice ("2.5 cm (25 mm)")
            elif re.search(r"\b(?:smaller|larger|bigger|increas\w*|decreas\w*|grow\w*|grown|enlarg\w*|reduc\w*|"
                           r"shrunk|stable|unchanged|change[sd]?|progress\w*|regress\w*)\b",
                           text[max(s_offset, mt.start - 200):mt.end + 200], re.IGNORECASE):
                mt.prior = True
        if not mt.prior and not mt.from_prior and _RESOLVED.search(after) and not _NOW_CUE.search(after):
            mt.prior = True  # "the previously seen 6 mm nodule has resolved": an old size
        if not mt.prior:
            cue_for_next = i + 1 < len(mentions) and _PRIOR_BEFORE.search(after)
            if _PRIOR_BEFORE.search(before) or (_PRIOR_AFTER.match(after) and not cue_for_next):
                mt.prior = True
                mt.from_prior = bool(_FROM_END.search(before)) and i + 1 < len(mentions)
        if len(mt.dims) == 1:
            if _SHORT_AXIS.search(before) or _SHORT_AFTER.match(after):
                mt.short_only = True
            elif _LONG_AXIS.search(before):
                mt.long_cue = True
            elif short_carry and not _NOUN.search(before) and re.fullmatch(r"[\s\w,]*", before) and len(before) < 40:
                mt.short_only = True
        short_carry = mt.short_only
        prev_end = _trailing_paren_end(text, mt.end, c_end)

    # Pair priors with the current size they belong to.
    currents = [i for i, mt in enumerate(mentions) if not mt.prior and i not in dropped]
    prior_of: dict[int, _Mention] = {}
    for i, mt in enumerate(mentions):
        if not mt.prior or not mt.dims or i in dropped:
            continue
        nxt = next((j for j in currents if j > i), None)
        prv = next((j for j in reversed(currents) if j < i), None)
        if mt.from_prior and nxt is not None and nxt not in prior_of:
            prior_of[nxt] = mt
        elif prv is not None and prv not in prior_of:
            prior_of[prv] = mt
        elif nxt is not None and nxt not in prior_of:
            prior_of[nxt] = mt

    out: list[ReadMeasurement] = []
    last: tuple[int, ReadMeasurement, _Mention] | None = None
    for i in currents:
        mt = mentions[i]
        w_start, w_end = max(c_start, mt.start - 300), min(c_end, mt.end + 300)
        clause = text[w_start:w_end]  # the sub-clause around this size (bounded: a run-on list stays linear)
        near = sentence[max(0, mt.start - s_offset - 300): mt.end - s_offset + 300]
        own = text[own_starts[i]:mt.start]
        paren_end = _trailing_paren_end(text, mt.end, c_end)
        trailing = text[mt.end:paren_end]
        after_limit = mentions[i + 1].start if i + 1 < len(mentions) else c_end
        # Which noun carries the size?
        # "3 mm right upper (6:24) and right middle (6:53) nodules", "4 mm left upper lobe nodules (5:93,197)":
        # one size written once for several separately located lesions, one reading each.
        places: list[str] = []
        multi = _MULTI_PLACES.match(text, mt.end, c_end)
        if multi:
            places = [p.strip(" ,") for p in re.findall(rf"([A-Za-z][\w -]*?)\s*{_REF}", multi["body"])]
            places = [re.sub(r"^(?:and|or)\s+", "", p) for p in places]
        else:
            multi = _MULTI_REFS.match(text, mt.end, c_end)
            if multi:
                places = [multi["loc"]] * len(multi["refs"].split(","))
        noun_m = _noun_after(text, mt.end, after_limit)
        region_start = mt.start
        region_end = min(after_limit, mt.end + 80)
        noun: str | None = None
        neg = False
        source = ""
        if places and multi is not None:
            noun, neg, source = multi["noun"], False, "after"
        elif noun_m:
            noun, neg, source = noun_m.group(0), bool(noun_m["neg"]), "after"
        else:
            for seg_start, seg in ((own_starts[i], own), (c_start, text[c_start:mt.start])):
                m = _first_noun(seg[-400:])
                if m:
                    noun, neg, source = m.group(0), bool(m["neg"]), "before"
                    region_start = max(seg_start, seg_start + m.start() - 40)
                    break
        # "a 5-mm cyst"/"2.9 cm ... and 3.3 cm" inherit from the clause; list items from headers.
        inherited = ""
        if noun is None and prev_subject is not None:
            noun, inherited, neg = prev_subject
            inherited = inherited[:120]
            source = "sentence"
        elif noun is None and sentence_noun is not None and mt.start - s_offset > sentence_noun.start():
            noun, neg, source = sentence_noun.group(0), bool(sentence_noun["neg"]), "sentence"
        if source != "before" and source != "after":
            region_start = own_starts[i]  # the place words before the size still describe it ("(3) liver S6 20 mm")
        own_region = text[region_start:region_end]
        if inherited and (_REGION_WORDS.search(own) or _STATION.search(own) or _site_of([own])):
            inherited = ""  # "(1) RUL 32 mm; (2) 4R 16 mm": this size has its own place
        if neg:
            continue
        if noun is None and _ORGAN_SPAN.search(own + " " + text[mt.end:region_end]):
            continue
        label_text = ln.label
        heading = ln.heading
        if noun is None:
            hn = _first_noun(label_text) or _first_noun(heading)
            if hn is not None:
                if hn["neg"]:
                    continue
                noun, source = hn.group(0), "heading"
        if noun is None and _ORGAN_ONLY.search(label_text + " " + own + " " + text[mt.end:after_limit][:40]):
            continue  # "Spleen: 12 cm.", "Thyroid: 4.5 cm right lobe": the organ's size
        region_all = own_region + " " + trailing + " " + inherited
        generic = noun is None or re.fullmatch(r"lesions?|conglomerates?|foc(?:us|i)|soft[- ]tissue",
                                               noun, re.IGNORECASE) is not None
        nodey = noun is not None and bool(_NODE_NOUN.search(noun.strip()))
        intrapulm = re.search(r"intra-?pulmonary|perifissural|fissural", own_region + " " + near, re.IGNORECASE)
        organ = _site_of([region_all, clause, label_text])
        if not nodey and generic:
            node_ctx = [label_text, own_region, clause]
            if any(_NODE_REGION.search(t) for t in node_ctx) and organ in (None, "other", "liver") and not intrapulm:
                nodey = organ is None or bool(re.search(r"hilum|hilar|station|level", label_text + own_region, re.IGNORECASE))
            station_code = re.search(r"(?<![\w/-])(?:1[0-4]|[1-9])[RL](?![\w/-])|\bstation\s+\d", own + " " + own_region + " " + label_text,
                                     re.IGNORECASE)
            if not nodey and station_code and organ in (None, "other") and not intrapulm:
                nodey = True  # "(2) 4R 16 mm" in a target list
            if not nodey and _NODE_NOUN.search(heading) and not _site_of([label_text]):
                nodey = bool(re.search(r"lymph|node", heading, re.IGNORECASE)) and not re.search(r"pulmonary|lung", heading, re.IGNORECASE)
        is_node = nodey and not intrapulm
        if is_node:
            site = "lymph node"
        else:
            site = organ or _site_of([heading]) or (
                "lung" if noun and re.match(r"nodul|opacit|consolidation|ground|mass|spicul", noun, re.IGNORECASE) else None) or (
                "lung" if intrapulm else "other")
        why = ""
        if noun is None:
            why = "no lesion named next to this size"
        dims = mt.dims
        long_mm: float | None
        short_mm: float | None
        if mt.unsure:
            long_mm = short_mm = None
            why = mt.unsure
        elif len(dims) == 2:
            long_mm, short_mm = max(dims), min(dims)
        elif len(dims) == 3:
            long_mm, short_mm = max(dims), None
        elif mt.short_only:
            long_mm, short_mm = None, dims[0]
        else:
            long_mm, short_mm = dims[0], None
        biggest = max(dims) if dims else 0.0
        if dims and not (1.0 <= biggest <= 250.0):
            why = why or f"{biggest:g} mm is not a plausible lesion size"
        # "12 mm in short axis and 20 mm in long axis": one node.
        if (last is not None and len(dims) == 1 and source != "after" and not _NOUN.search(own)
                and (_LONG_AXIS.search(own) or _LONG_AFTER.match(text[mt.end:after_limit]))
                and last[1].long_axis_mm is None and last[1].short_axis_mm is not None):
            j, prev_rm, prev_mt = last
            merged = replace(prev_rm, long_axis_mm=dims[0],
                             span=Span(prev_rm.span.start, mt.end, text[prev_rm.span.start:mt.end]))
            out[j] = merged
            last = (j, merged, prev_mt)
            continue
        # A short axis restating the previous size ("12 x 8 mm (short axis 8 mm)", "long axis 20 mm, short axis 12 mm").
        if last is not None and mt.short_only and source != "after" and not _NOUN.search(own):
            j, prev_rm, prev_mt = last
            if prev_rm.short_axis_mm is None and len(prev_mt.dims) == 1 or prev_rm.short_axis_mm == dims[0]:
                merged = replace(prev_rm, short_axis_mm=dims[0],
                                 span=Span(prev_rm.span.start, mt.end, text[prev_rm.span.start:mt.end]))
                out[j] = merged
                last = (j, merged, prev_mt)
                continue
        prior = prior_of.get(i)
        prior_mm = max(prior.dims) if prior is not None and prior.dims else None
        prior_short = min(prior.dims) if prior is not None and len(prior.dims) == 2 else None
        if prior is not None and mt.short_only and len(prior.dims) == 1:
            prior_short = prior.dims[0]
        start = min(mt.start, prior.start) if prior is not None else mt.start
        end = max(mt.end, prior.end) if prior is not None else mt.end
        window = own[-60:] + text[mt.start:min(after_limit, mt.end + 40)]
        if noun and source == "before":
            window = text[region_start:min(after_limit, mt.end + 40)]
        hedged = _HEDGED_NEW.search(window)
        is_new = bool(_NEW.search(window)) and not _NOT_NEW.search(window) and not hedged
        if re.search(r"\bnewly\s+enlarg", window, re.IGNORECASE):
            is_new = False
        if hedged and not re.search(r"\bnewly\s+enlarg", window, re.IGNORECASE):
            why = why or f"the report hedges whether it is new ({hedged.group(0).strip()!r})"
        side_m = re.match(r"\s*(?:\([^)]*\)\s*)?(?:on\s+the\s+)?(right|left)\b", text[mt.end:after_limit], re.IGNORECASE)
        loc_region = (inherited + " " if inherited else "") + own_region + " " + trailing
        side, _lobe, station, target = location_traits(loc_region)
        if side_m:
            side = side_m.group(1).lower()
        if side is None:
            side = location_traits(label_text + " " + clause)[0]
        if is_node and station is None:
            station = _station_of([label_text, clause])
        own_targets = list(_TARGET.finditer(own))
        t_near = _TARGET.search(trailing) or (own_targets[-1] if own_targets else None)
        if t_near is not None:
            target = t_near["n"]
        location = _location(label_text + " " + loc_region if label_text and not _kind_of(label_text) else loc_region,
                             noun, station if is_node else None, side, target, is_node)
        rm = ReadMeasurement(
            location=location, site=site, is_node=is_node, long_axis_mm=long_mm, short_axis_mm=short_mm,
            prior_mm=prior_mm, prior_short_mm=prior_short, new=is_new, unsure=bool(why), span=Span(start, end, text[start:end]),
            station=station if is_node else None, side=side, section=ln.kind,
            context=" ".join(near.split()), why_unsure=why)
        if places:
            for place in places:
                p_side, _l, _st, _t = location_traits(place)
                out.append(replace(rm, location=_location(place, noun, None, p_side, None, is_node), side=p_side,
                                   site=site if is_node else (_site_of([place]) or site)))
        else:
            out.append(rm)
        last = (len(out) - 1, out[-1], mt)
    return out


def _same_values(a: ReadMeasurement, b: ReadMeasurement) -> bool:
    def eq(x: float | None, y: float | None) -> bool:
        return x is None or y is None or abs(x - y) < 0.05

    if a.long_axis_mm is None and a.short_axis_mm is None:
        return False
    both_long = a.long_axis_mm is not None and b.long_axis_mm is not None
    both_short = a.short_axis_mm is not None and b.short_axis_mm is not None
    if not both_long and (a.long_axis_mm is not None or b.long_axis_mm is not None or not both_short):
        return False
    return eq(a.long_axis_mm, b.long_axis_mm) and eq(a.short_axis_mm, b.short_axis_mm) and eq(a.prior_mm, b.prior_mm)


def _merge_restatements(items: list[ReadMeasurement]) -> list[ReadMeasurement]:
    """A size restated in the impression or a target list is the same lesion, not a second one."""
    kept: list[ReadMeasurement] = []
    for rm in items:
        twin = None
        for k, other in enumerate(kept):
            if other.section == rm.section and not (rm.section == "restate" and "target" in rm.location):
                continue
            if other.is_node != rm.is_node or (other.site != rm.site and "other" not in (other.site, rm.site)):
                continue
            if other.side and rm.side and other.side != rm.side:
                continue
            if _same_values(other, rm):
                twin = k
                break
        if twin is None:
            kept.append(rm)
            continue
        first = kept[twin]
        kept[twin] = replace(
            first,
            prior_mm=first.prior_mm if first.prior_mm is not None else rm.prior_mm,
            short_axis_mm=first.short_axis_mm if first.short_axis_mm is not None else rm.short_axis_mm,
            new=first.new or rm.new,
            location=first.location if len(first.location.split()) >= len(rm.location.split()) else rm.location,
        )
    return kept


# ------------------------------------------------------------------ matching to known lesions

@dataclass(frozen=True)
class KnownLesion:
    """A lesion already recorded for the patient, as plain data."""

    label: str
    site: str
    is_node: bool
    last_size_mm: float | None


@dataclass(frozen=True)
class LesionMatch:
    """The proposed lesion for one reading (``label`` None: no known lesion fits)."""

    index: int
    label: str | None
    reason: str
    doubtful: bool


def label_for(rm: ReadMeasurement) -> str:
    """A short label for a new lesion: 'LLL nodule', '4R lymph node', 'liver segment VII lesion'."""
    words = rm.location.split()
    return " ".join(words[:6]) if words else ("lymph node" if rm.is_node else rm.site)


def prior_size(rm: ReadMeasurement) -> float | None:
    """The prior size comparable with a stored size: a node's short axis, else the long axis."""
    if rm.is_node:
        return rm.prior_short_mm if rm.prior_short_mm is not None else (None if rm.short_axis_mm is not None
                                                                        and rm.long_axis_mm is not None else rm.prior_mm)
    return rm.prior_mm


_ROMAN = {"i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6", "vii": "7", "viii": "8", "ix": "9", "x": "10"}


def _segment(text: str) -> str | None:
    """A segment named in a label ("liver S6", "segment VI", "segment 4a") as '6', '4a'."""
    m = re.search(r"\b(?:segment|seg\.?|S)\s*(?P<n>[ivx]{1,4}|\d{1,2})(?P<sub>[ab])?\b", text, re.IGNORECASE)
    if m is None:
        return None
    n = m["n"].lower()
    return _ROMAN.get(n, n) + (m["sub"] or "").lower()


def _score(rm: ReadMeasurement, known: KnownLesion) -> tuple[int, list[str]] | None:
    if rm.is_node != known.is_node:
        return None
    k_side, k_lobe, k_station, k_target = location_traits(known.label)
    r_side, r_lobe, r_station, r_target = location_traits(rm.location)
    r_side = rm.side or r_side
    if k_side and r_side and k_side != r_side and "bilateral" not in (k_side, r_side):
        return None
    score, why = 0, []
    k_seg, r_seg = _segment(known.label), _segment(rm.location)
    if k_seg and r_seg:
        if k_seg != r_seg:
            return None
        score += 2
        why.append(f"same segment {r_seg}")

    def base(label: str) -> str:  # "LLL nodule 2" (a second LLL nodule) reads as "LLL nodule"
        return re.sub(r"(?<!target)\s+\d+$", "", " ".join(label.lower().split()))

    if base(known.label) and base(known.label) == base(label_for(rm)):
        score += 4
        why.append("same description")
    if rm.is_node:
        station = rm.station or r_station
        if k_station and station:
            if k_station.upper() != station.upper():
                return None
            score += 3
            why.append(f"same station {station}")
    else:
        if known.site and known.site != rm.site and "unknown" not in (known.site,):
            return None
        if known.site == rm.site:
            score += 1
            why.append(f"same organ ({rm.site})")
    if k_lobe and r_lobe:
        if k_lobe != r_lobe:
            return None
        score += 2
        why.append(f"same lobe {r_lobe}")
    elif k_side and r_side == k_side:
        score += 1
        why.append(f"same side ({r_side})")
    if k_target and r_target:
        if k_target != r_target:
            score -= 1
        else:
            score += 2
            why.append(f"same target number {r_target}")
    prior = prior_size(rm)
    if prior is not None and known.last_size_mm is not None and abs(known.last_size_mm - prior) <= 0.5:
        score += 3
        why.append(f"the report's prior size {prior:g} mm equals the last stored size")
    return score, why


def match_lesions(readings: Sequence[ReadMeasurement], known: Sequence[KnownLesion]) -> list[LesionMatch]:
    """Propose which known lesion each reading belongs to (one reading per lesion at most).

    A match is *doubtful* when its evidence is weak (only the organ is shared) or when another
    lesion fits as well: the command then asks, or refuses off a terminal.
    """
    candidates: list[tuple[int, int, int, list[str]]] = []  # (score, reading, known, why)
    for i, rm in enumerate(readings):
        for k, kl in enumerate(known):
            res = _score(rm, kl)
            if res is None or res[0] <= 0:
                continue
            candidates.append((res[0], i, k, res[1]))
    # The only lesion of its kind (organ, or node) both in the store and in the report.
    def kind(site: str, is_node: bool) -> str:
        return "node" if is_node else site

    known_kinds = [kind(kl.site, kl.is_node) for kl in known]
    read_kinds = [kind(rm.site, rm.is_node) for rm in readings]
    for n, (score, i, k, why) in enumerate(candidates):
        kk = known_kinds[k]
        if kk != "lung" and known_kinds.count(kk) == 1 and read_kinds.count(read_kinds[i]) == 1:
            candidates[n] = (score + 2, i, k, [*why, f"the only {kk} lesion in the report and in the store"])
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    taken_r: dict[int, LesionMatch] = {}
    taken_k: set[int] = set()
    contested_r: set[int] = set()
    contested_k: set[int] = set()
    for score, i, k, why in candidates:
        if i in taken_r or k in taken_k:
            continue
        rivals = [c for c in candidates if c[0] == score and (c[1], c[2]) != (i, k) and c[2] not in taken_k
                  and c[1] not in taken_r and (c[1] == i or c[2] == k)]
        tie = bool(rivals) or i in contested_r or k in contested_k
        for c in rivals:  # whoever tied with this pair is settled by it only by chance: ask about them too
            contested_r.add(c[1])
            contested_k.add(c[2])
        doubtful = score < 3 or tie or readings[i].unsure
        reason = "; ".join(why) + ("; another lesion fits as well" if tie else "")
        taken_r[i] = LesionMatch(i, known[k].label, reason, doubtful)
        taken_k.add(k)
    out = []
    for i, rm in enumerate(readings):
        if i in taken_r:
            out.append(taken_r[i])
        else:
            reason = "the report calls it new" if rm.new else "no known lesion of this kind and place"
            out.append(LesionMatch(i, None, reason, doubtful=not rm.new))
    return out
