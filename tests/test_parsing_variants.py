"""Variant normalisation: every spelling of one alteration gives one Alteration; mistakes are caught."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lungtrack.errors import InputError
from lungtrack.knowledge.variants import ALTERATIONS, AMINO_ACIDS, KINDS, Alteration, lookup
from lungtrack.parsing.variants import normalize_alteration, normalize_gene, parse_driver, parse_protein

T790M = lookup("EGFR", "T790M")
EX19 = lookup("EGFR", "exon 19 deletion")


def norm(text: str, **kw) -> Alteration:
    return normalize_alteration(text, **kw)


# ----------------------------------------------------------------------------- the table


def test_table_entries_from_clinical_reference() -> None:
    # clinical.md §3.7: T790M p.Thr790Met c.2369C>T NM_005228.5 (confirmed)
    assert T790M == Alteration("EGFR", "T790M", "p.Thr790Met", "c.2369C>T", "NM_005228.5", "resistance", True)
    # L858R p.Leu858Arg c.2573T>G NM_005228.4 (HL7 genomics-reporting example)
    assert lookup("EGFR", "L858R") == Alteration(
        "EGFR", "L858R", "p.Leu858Arg", "c.2573T>G", "NM_005228.4", "sensitizing", True
    )
    # "exon 19 deletion" is a class: the table gives it no single protein or cDNA change.
    assert EX19 == Alteration("EGFR", "exon 19 deletion", None, None, None, "sensitizing", True)


@pytest.mark.parametrize(
    "gene, name",
    [("EGFR", "C797S"), ("EGFR", "S768I"), ("EGFR", "L861Q"), ("EGFR", "G719S"), ("EGFR", "G719A"), ("EGFR", "G719C"),
     ("KRAS", "G12C"), ("BRAF", "V600E"), ("ALK", "G1202R"), ("ALK", "L1196M"), ("ALK", "I1171N"), ("ROS1", "G2032R")],
)
def test_unconfirmed_hgvs_entries_are_marked(gene: str, name: str) -> None:
    """clinical.md §3.7 marks these HGVS names unconfirmed (C797S: partly confirmed)."""
    entry = lookup(gene, name)
    assert entry is not None
    assert entry.confirmed is False
    assert entry.note is not None and "unconfirmed" in entry.note


def test_table_is_well_formed() -> None:
    keys = [a.key for a in ALTERATIONS]
    assert len(keys) == len(set(keys))
    for alt in ALTERATIONS:
        assert alt.kind in KINDS
        if alt.hgvs_p is not None:
            assert alt.hgvs_p.startswith("p.")
        if alt.hgvs_c is not None:
            assert alt.hgvs_c.startswith("c.")
        # every table entry reads back as itself from its display form
        assert norm(alt.display) == alt, alt


def test_three_letter_names_are_derived_correctly() -> None:
    assert lookup("KRAS", "G12C").hgvs_p == "p.Gly12Cys"
    assert lookup("BRAF", "V600E").hgvs_p == "p.Val600Glu"
    assert lookup("ALK", "I1171N").hgvs_p == "p.Ile1171Asn"
    assert lookup("ROS1", "L2086F").hgvs_p == "p.Leu2086Phe"
    assert lookup("PIK3CA", "H1047R").hgvs_p == "p.His1047Arg"
    assert lookup("EGFR", "G719X").hgvs_p is None  # X = any residue: no single HGVS name


def test_display() -> None:
    assert T790M.display == "EGFR T790M"
    assert lookup("MET", "amplification").display == "MET amplification"
    assert EX19.display == "EGFR exon 19 deletion"
    assert lookup("ERBB2", "amplification").display == "HER2 (ERBB2) amplification"
    assert lookup("", "small-cell transformation").display == "small-cell transformation"
    assert str(T790M) == "EGFR T790M"


# ----------------------------------------------------------------------------- aliases


T790M_FORMS = [
    "T790M", "p.T790M", "p.Thr790Met", "p.(Thr790Met)", "Thr790Met", "c.2369C>T", "NM_005228.5:c.2369C>T",
    "EGFR T790M", "egfr p.thr790met", "EGFR:p.T790M", "t790m", "EGFR T790M mutation", "T790M positive",
    "EGFR exon 20 T790M", "NM_005228.5(EGFR):c.2369C>T", "NM_005228:c.2369c>t", "EGFR c.2369C>T",
    "EGFR p.(Thr790Met)", "EGFR T790M (c.2369C>T)", "EGFR T790M (exon 20)",
]  # fmt: skip
EX19_FORMS = [
    "exon 19 deletion", "Exon 19 deletion", "ex19del", "ex19 del", "del19", "del 19", "exon 19 del", "exon19del",
    "exon 19 deletions", "exon-19 deletion", "19del", "EGFR exon 19 deletion", "EGFR ex19del", "EGFR del19",
    "EGFR exon 19 deletion (exon 19)",
]  # fmt: skip
#: Forms that state the specific deletion E746_A750del (protein only: no cDNA stated).
E746_FORMS = [
    "E746_A750del", "p.E746_A750del", "p.Glu746_Ala750del", "p.(Glu746_Ala750del)", "delE746-A750",
    "E746-A750del", "E746_A750delELREA", "EGFR exon 19 deletion (E746_A750del)", "EGFR E746_A750del",
]  # fmt: skip
ALIASES: dict[tuple[str, str], list[str]] = {
    ("EGFR", "T790M"): T790M_FORMS,
    ("EGFR", "exon 19 deletion"): EX19_FORMS,
    ("EGFR", "L858R"): ["L858R", "p.Leu858Arg", "c.2573T>G", "EGFR L858R", "exon 21 L858R", "EGFR L858R (exon 21)",
                        "NP_005219.2:p.Leu858Arg", "EGFR p.L858R"],
    ("EGFR", "C797S"): ["C797S", "p.Cys797Ser", "c.2390G>C", "c.2389T>A", "NM_005228.5(EGFR):c.2390G>C"],
    ("EGFR", "exon 20 insertion"): ["exon 20 insertion", "ex20ins", "exon 20 ins", "ins20", "EGFR exon 20 insertion"],
    ("MET", "amplification"): ["MET amplification", "MET amp", "MET amplified", "MET CNV gain", "met copy number gain",
                               "c-MET amplification", "MET-amplified", "MET gain"],
    ("MET", "exon 14 skipping"): ["MET exon 14 skipping", "METex14", "MET ex14", "exon 14 skipping", "MET exon 14",
                                  "MET exon 14 skipping mutation", "MET ex14 skipping"],
    ("ERBB2", "amplification"): ["HER2 amplification", "ERBB2 amplification", "her2 amp", "HER2-amplified"],
    ("ALK", "fusion"): ["ALK fusion", "ALK rearrangement", "ALK positive", "ALK+", "ALK-positive", "EML4-ALK",
                        "EML4::ALK", "EML4-ALK fusion", "EML4-ALK variant 1", "ALK rearranged", "alk translocation",
                        "ALK fusion (EML4-ALK)"],
    ("ROS1", "fusion"): ["ROS1 fusion", "ROS1 rearrangement", "ROS1 positive", "CD74-ROS1", "ROS1+"],
    ("RET", "fusion"): ["RET fusion", "KIF5B-RET", "RET rearrangement", "CCDC6-RET"],
    ("NTRK", "fusion"): ["NTRK fusion", "NTRK positive"],
    ("NTRK3", "fusion"): ["NTRK3 fusion", "ETV6-NTRK3"],
    ("KRAS", "G12C"): ["KRAS G12C", "G12C", "p.Gly12Cys", "KRAS p.G12C", "c.34G>T", "KRAS c.34G>T"],
    ("KRAS", "mutation"): ["KRAS mutation", "KRAS mutant", "KRAS mutated", "KRAS positive"],
    ("BRAF", "V600E"): ["BRAF V600E", "V600E", "p.Val600Glu", "c.1799T>A", "BRAF p.(Val600Glu)"],
    ("PIK3CA", "E545K"): ["PIK3CA E545K", "E545K", "p.Glu545Lys"],
    ("PIK3CA", "H1047R"): ["PIK3CA H1047R", "H1047R"],
    ("ALK", "G1202R"): ["G1202R", "ALK G1202R", "p.Gly1202Arg", "ALK c.3604G>A"],
    ("ALK", "L1196M"): ["L1196M", "ALK p.Leu1196Met"],
    ("ALK", "I1171N"): ["I1171N", "ALK I1171N"],
    ("ALK", "I1171T"): ["I1171T"],
    ("ALK", "I1171S"): ["ALK I1171S"],
    ("ALK", "G1269A"): ["G1269A"],
    ("ROS1", "G2032R"): ["ROS1 G2032R", "G2032R"],
    ("ROS1", "L2086F"): ["L2086F", "ROS1 L2086F"],
    ("EGFR", "G719X"): ["G719X", "EGFR G719X"],
    ("EGFR", "G719S"): ["G719S", "p.Gly719Ser"],
    ("EGFR", "G719A"): ["G719A"],
    ("EGFR", "G719C"): ["EGFR G719C"],
    ("EGFR", "L861Q"): ["L861Q", "p.Leu861Gln"],
    ("EGFR", "S768I"): ["S768I", "p.Ser768Ile"],
    ("", "small-cell transformation"): ["small-cell transformation", "small cell transformation",
                                        "SCLC transformation", "transformation to SCLC", "SCLC",
                                        "histologic transformation to small cell lung cancer"],
}  # fmt: skip
_ALL_FORMS = [(key, form) for key, forms in ALIASES.items() for form in forms]


@pytest.mark.parametrize("key, form", _ALL_FORMS, ids=[f for _, f in _ALL_FORMS])
def test_alias_normalises_to_table_entry(key: tuple[str, str], form: str) -> None:
    expected = lookup(*key)
    assert expected is not None
    assert norm(form) == expected


@given(st.sampled_from(_ALL_FORMS), st.randoms(use_true_random=False))
def test_aliases_are_case_and_space_insensitive(item, rnd) -> None:
    """Any alias, in any letter case and with extra outer spaces, gives the same entry."""
    key, form = item
    mixed = "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in form)
    assert norm(f"  {mixed}  ") == lookup(*key)


_POINT_ENTRIES = [a for a in ALTERATIONS if a.hgvs_p and "_" not in a.name and a.name[1:-1].isdigit()]


@given(st.sampled_from(_POINT_ENTRIES), st.integers(min_value=0, max_value=5))
def test_every_spelling_of_a_point_mutation(entry: Alteration, style: int) -> None:
    three = entry.hgvs_p.removeprefix("p.")  # type: ignore[union-attr]
    forms = [entry.name, f"p.{entry.name}", entry.hgvs_p, f"p.({three})", three, f"{entry.gene} {entry.name}"]
    assert norm(forms[style]) == entry
    assert norm(forms[style], gene=entry.gene) == entry


def test_gene_argument_may_be_an_alias() -> None:
    assert norm("amplification", gene="HER2") == lookup("ERBB2", "amplification")
    assert norm("T790M", gene="egfr") == T790M
    assert normalize_gene("her2") == "ERBB2"
    assert normalize_gene("c-MET") == "MET"
    assert normalize_gene("nras") == "NRAS"
    with pytest.raises(InputError):
        normalize_gene("not a gene!")


# ----------------------------------------------------------------------------- derived groups


@pytest.mark.parametrize(
    "text, hgvs_p",
    [
        ("EGFR L747_T751del", "p.Leu747_Thr751del"),
        ("EGFR p.Leu747_Thr751del", "p.Leu747_Thr751del"),
        ("EGFR E746_S752delinsV", "p.Glu746_Ser752delinsVal"),
        ("EGFR L747_P753delinsS", "p.Leu747_Pro753delinsSer"),
        ("EGFR exon 19 deletion (L747_T751del)", "p.Leu747_Thr751del"),
    ],
)
def test_other_exon19_deletions_keep_their_protein_change(text: str, hgvs_p: str) -> None:
    result = norm(text)
    assert result.key == ("EGFR", "exon 19 deletion")
    assert result.kind == "sensitizing"
    assert result.hgvs_p == hgvs_p
    assert result.hgvs_c is None  # the table's c.2235_2249del belongs to E746_A750del only
    assert result.confirmed is False


@pytest.mark.parametrize(
    "text, hgvs_p",
    [
        ("EGFR A763_Y764insFQEA", "p.Ala763_Tyr764insPheGlnGluAla"),
        ("EGFR D770_N771insSVD", "p.Asp770_Asn771insSerValAsp"),
        ("EGFR p.Asp770_Asn771insSerValAsp", "p.Asp770_Asn771insSerValAsp"),
        ("EGFR S768_D770dup", "p.Ser768_Asp770dup"),
    ],
)
def test_exon20_insertions_keep_their_protein_change(text: str, hgvs_p: str) -> None:
    result = norm(text)
    assert result.key == ("EGFR", "exon 20 insertion")
    assert result.hgvs_p == hgvs_p
    assert result.confirmed is False


@pytest.mark.parametrize(
    "text, name",
    [
        # exon 19 = codons 729-761 (both ends inclusive)
        ("EGFR A728_A733del", "A728_A733del"),
        ("EGFR A729_A733del", "exon 19 deletion"),
        ("EGFR A757_A761del", "exon 19 deletion"),
        ("EGFR A757_A762del", "A757_A762del"),
        # exon 20 = codons 762-823 (both ends inclusive)
        ("EGFR A761_A762insG", "A761_A762insG"),
        ("EGFR A762_A763insG", "exon 20 insertion"),
        ("EGFR A822_A823insG", "exon 20 insertion"),
        ("EGFR A823_A824insG", "A823_A824insG"),
    ],
)
def test_exon_boundaries_for_grouping(text: str, name: str) -> None:
    assert norm(text).name == name


def test_grouping_needs_the_right_kind_of_change() -> None:
    # a substitution inside exon 19 is not a deletion
    assert norm("EGFR L747P").name == "L747P"
    # a deletion in exon 20 is not an "exon 20 insertion"
    assert norm("EGFR V769_D770del").name == "V769_D770del"


# ----------------------------------------------------------------------------- generic, well-formed


@pytest.mark.parametrize(
    "text, gene, name, hgvs_p",
    [
        ("EGFR L747P", "EGFR", "L747P", "p.Leu747Pro"),
        ("EGFR p.Leu747Pro", "EGFR", "L747P", "p.Leu747Pro"),
        ("NRAS G12C", "NRAS", "G12C", "p.Gly12Cys"),  # NRAS is not in the table: no contradiction
        ("TP53 R273H", "TP53", "R273H", "p.Arg273His"),
        ("EGFR T790A", "EGFR", "T790A", "p.Thr790Ala"),
        ("EGFR L747fs", "EGFR", "L747fs", "p.Leu747fs"),
        ("EGFR amplification", "EGFR", "amplification", None),
        ("HER2 exon 20 insertion", "ERBB2", "exon 20 insertion", None),
        ("STK11 mutation", "STK11", "mutation", None),
        ("EGFR mutation", "EGFR", "mutation", None),
    ],
)
def test_unknown_well_formed_alterations_are_accepted(text: str, gene: str, name: str, hgvs_p: str | None) -> None:
    result = norm(text)
    assert (result.gene, result.name, result.hgvs_p) == (gene, name, hgvs_p)
    assert result.kind == "other"
    assert result.confirmed is False
    assert result.known is False
    assert "not in lungtrack's alteration table" in (result.note or "")


def test_generic_with_gene_argument() -> None:
    assert norm("G12C", gene="NRAS") == Alteration("NRAS", "G12C", "p.Gly12Cys")
    assert norm("L747P", gene="EGFR").display == "EGFR L747P"


def test_unknown_cdna_with_gene_is_kept_as_cdna() -> None:
    result = norm("EGFR c.2500G>A")
    assert (result.gene, result.name, result.hgvs_c, result.transcript) == ("EGFR", "c.2500G>A", "c.2500G>A", None)
    result = norm("NM_005228.5:c.2500G>A")
    assert (result.gene, result.transcript) == ("EGFR", "NM_005228.5")


def test_cdna_and_protein_combined() -> None:
    result = norm("EGFR c.2240_2254del (p.L747_T751del)")
    assert result.key == ("EGFR", "exon 19 deletion")
    assert (result.hgvs_p, result.hgvs_c) == ("p.Leu747_Thr751del", "c.2240_2254del")


# ----------------------------------------------------------------------------- refusals


def test_gene_contradiction_refused() -> None:
    with pytest.raises(InputError) as err:
        norm("T790M", gene="ALK", field="--variant")
    assert err.value.field == "--variant"
    assert "EGFR T790M" in err.value.message
    with pytest.raises(InputError):
        norm("EGFR T790M", gene="ALK")
    with pytest.raises(InputError):
        norm("NM_005228.5:c.2369C>T", gene="KRAS")  # the transcript is EGFR's
    with pytest.raises(InputError):
        norm("ALK G12C")  # G12C is KRAS's, and ALK is a table gene


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("EGFR A790M", "codon 790 of EGFR is T (Thr), not A"),
        ("EGFR T858R", "codon 858 of EGFR is L (Leu), not T"),
        ("KRAS A12C", "codon 12 of KRAS is G (Gly), not A"),
        ("EGFR K746_A750del", "codon 746 of EGFR is E (Glu), not K"),
    ],
)
def test_wrong_reference_residue_refused(text: str, fragment: str) -> None:
    with pytest.raises(InputError) as err:
        norm(text)
    assert fragment in err.value.message


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("L747P", "does not say which gene"),  # not in the table, gene unknown
        ("amplification", "e.g. 'MET amplification'"),
        ("fusion", "e.g. 'ALK fusion'"),
        ("positive", "does not say which gene"),
        ("EGFR", "names a gene but not the alteration"),
        ("EGFR exon 14 skipping", "alteration of MET, not EGFR"),
        ("ALK exon 19 deletion", "alteration of EGFR, not ALK"),
        ("EGFR SCLC", "change of histology, not an alteration of EGFR"),
        ("EGFR T790M (c.2390G>C)", "two different alterations"),
        ("c.2500G>A", "does not say which gene"),
    ],
)
def test_refusals_with_reasons(text: str, fragment: str) -> None:
    with pytest.raises(InputError) as err:
        norm(text, field="--variant")
    assert fragment in err.value.message
    assert err.value.message.startswith("--variant: ")


@pytest.mark.parametrize(
    "text",
    ["foo", "", "   ", "T790", "790M", "T790MM", "p.", "c.", "c.2369C>C", "c.2369C>", "T790T", "Xyz790Met",
     "EGFR blah", "A763_Y765insFQEA", "E750_A746del", "c.2369X>T", "EGFR T790M C797S", "T790M-C797S", "123"],
)
def test_gibberish_refused_with_examples(text: str) -> None:
    with pytest.raises(InputError) as err:
        norm(text, field="--variant")
    message = err.value.message
    assert message.startswith("--variant: ")
    assert "\n" not in message
    assert f"{text!r} is not valid" in message or "no variant given" in message
    assert "T790M" in message and "exon 19 deletion" in message  # examples of accepted forms


def test_non_string_refused() -> None:
    with pytest.raises(InputError):
        norm(None)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- protein parser


@pytest.mark.parametrize(
    "text, short, hgvs",
    [
        ("T790M", "T790M", "p.Thr790Met"),
        ("p.(Thr790Met)", "T790M", "p.Thr790Met"),
        ("Q61*", "Q61*", "p.Gln61Ter"),
        ("p.Gln61Ter", "Q61*", "p.Gln61Ter"),
        ("A763_Y764insFQEA", "A763_Y764insFQEA", "p.Ala763_Tyr764insPheGlnGluAla"),
        ("L747Pfs*3", "L747Pfs*3", "p.Leu747ProfsTer3"),
        ("E746del", "E746del", "p.Glu746del"),
        ("G719X", "G719X", None),
    ],
)
def test_parse_protein(text: str, short: str, hgvs: str | None) -> None:
    change = parse_protein(text)
    assert change is not None
    assert change.short() == short
    assert change.hgvs() == hgvs


@given(st.sampled_from(sorted(set(AMINO_ACIDS) - {"*"})), st.sampled_from(sorted(AMINO_ACIDS)),
       st.integers(min_value=1, max_value=5000))
def test_one_and_three_letter_forms_agree(ref: str, alt: str, pos: int) -> None:
    if ref == alt:
        assert parse_protein(f"{ref}{pos}{alt}") is None  # not a change
        return
    one = parse_protein(f"{ref}{pos}{alt}")
    three = parse_protein(f"p.{AMINO_ACIDS[ref]}{pos}{AMINO_ACIDS[alt]}")
    assert one is not None and one == three
    assert one.hgvs() == f"p.{AMINO_ACIDS[ref]}{pos}{AMINO_ACIDS[alt]}"


# ----------------------------------------------------------------------------- drivers


@pytest.mark.parametrize(
    "text, key",
    [
        ("EGFR exon 19 deletion", ("EGFR", "exon 19 deletion")),
        ("EGFR L858R", ("EGFR", "L858R")),
        ("ALK fusion", ("ALK", "fusion")),
        ("ALK positive", ("ALK", "fusion")),
        ("EML4-ALK", ("ALK", "fusion")),
        ("ROS1 fusion", ("ROS1", "fusion")),
        ("KRAS G12C", ("KRAS", "G12C")),
        ("BRAF V600E", ("BRAF", "V600E")),
        ("MET exon 14 skipping", ("MET", "exon 14 skipping")),
        ("RET fusion", ("RET", "fusion")),
        ("EGFR exon 20 insertion", ("EGFR", "exon 20 insertion")),
    ],
)
def test_parse_driver(text: str, key: tuple[str, str]) -> None:
    assert parse_driver(text).key == key


def test_parse_driver_refusals() -> None:
    with pytest.raises(InputError) as err:
        parse_driver("small-cell transformation")
    assert "not a driver" in err.value.message and err.value.field == "--driver"
    with pytest.raises(InputError) as err:
        parse_driver("blah", field="--driver")
    assert err.value.message.startswith("--driver: 'blah' is not valid; expected a driver such as")
    with pytest.raises(InputError):
        parse_driver("EGFR")


# ----------------------------------------------------------------------------- precision (issue 8)


def test_exon19_class_is_never_stored_as_one_protein_change() -> None:
    for form in EX19_FORMS:
        result = norm(form)
        assert result.key == ("EGFR", "exon 19 deletion"), form
        assert (result.hgvs_p, result.hgvs_c) == (None, None), form


@pytest.mark.parametrize("form", E746_FORMS)
def test_a_stated_e746_a750del_keeps_its_protein_change_only(form: str) -> None:
    result = norm(form)
    assert result.key == ("EGFR", "exon 19 deletion")
    assert result.hgvs_p == "p.Glu746_Ala750del"
    assert result.hgvs_c is None  # the report named the protein change, not a cDNA change
    assert result.known and result.confirmed


@pytest.mark.parametrize("form, hgvs_c", [
    ("c.2235_2249del", "c.2235_2249del"), ("NM_005228.5:c.2235_2249del", "c.2235_2249del"),
    ("c.2236_2250del", "c.2236_2250del"), ("EGFR c.2236_2250del", "c.2236_2250del"),
])
def test_a_stated_cdna_keeps_that_cdna(form: str, hgvs_c: str) -> None:
    result = norm(form)
    assert result.key == ("EGFR", "exon 19 deletion")
    assert result.hgvs_c == hgvs_c  # never replaced by the other spelling
    assert result.hgvs_p == "p.Glu746_Ala750del"  # the protein change both cDNA changes encode


def test_class_and_a_different_stated_change_in_one_text_is_refused() -> None:
    with pytest.raises(InputError) as err:
        norm("EGFR E746_A750del (L747_T751del)")
    assert "two different changes" in str(err.value)


def test_cli_biopsy_add_exon19_class_stores_no_protein_change(cli) -> None:
    assert cli("patient", "add", "Ann").code == 0
    r = cli("biopsy", "add", "--date", "2026-01-10", "--sample", "tissue", "--variant", "EGFR exon 19 deletion",
            "--result", "detected", "--json")
    assert r.code == 0, r
    data = r.json()
    assert data["variant"] == "exon 19 deletion" and data["hgvs_p"] is None and data["hgvs_c"] is None
    r = cli("biopsy", "add", "--date", "2026-01-11", "--sample", "tissue", "--variant", "EGFR E746_A750del",
            "--result", "detected", "--json")
    assert r.code == 0, r
    assert (r.json()["hgvs_p"], r.json()["hgvs_c"]) == ("p.Glu746_Ala750del", None)
