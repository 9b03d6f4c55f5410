"""Target lesions that split or merge (RECIST 1.1 Appendix I): the pure helpers, and what the
recorded sizes give in the RECIST assessment."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lungtrack.core.history import (
    History,
    ImagingStudy,
    Lesion,
    Measurement,
    PatientInfo,
    TherapyLine,
)
from lungtrack.core.recist import assess_line
from lungtrack.core.split_merge import coalesced_sizes_mm, fragmented_size_mm
from lungtrack.errors import InputError

START = date(2025, 1, 10)
LINE = TherapyLine(1, "osimertinib", START)
LIVER_A = Lesion(1, "liver S6", "liver")
LIVER_B = Lesion(2, "liver S7", "liver")


def test_fragments_are_added_exactly() -> None:
    assert fragmented_size_mm([12, 8.5]) == 20.5
    assert fragmented_size_mm([3.2, 8.2]) == 11.4  # floats would give 11.399999999999999
    assert fragmented_size_mm([5, 5, 5]) == 15.0


@pytest.mark.parametrize("bad", [[], [12], [12, 0], [12, -1], [12, float("nan")], [12, float("inf")]])
def test_fragments_refused(bad) -> None:
    with pytest.raises(InputError):
        fragmented_size_mm(bad)


def test_node_fragments_refused() -> None:
    with pytest.raises(InputError) as err:
        fragmented_size_mm([8, 7], is_node=True)
    assert "non-nodal" in str(err.value)


def test_coalesced_lesions_one_gets_the_size_the_others_zero() -> None:
    assert coalesced_sizes_mm(34, [1, 2]) == {1: 34.0, 2: 0.0}
    assert coalesced_sizes_mm(34, [1, 2, 3], keep=3) == {1: 0.0, 2: 0.0, 3: 34.0}
    for bad_ids in ([1], [1, 1]):
        with pytest.raises(InputError):
            coalesced_sizes_mm(34, bad_ids)
    with pytest.raises(InputError):
        coalesced_sizes_mm(34, [1, 2], keep=9)
    with pytest.raises(InputError):
        coalesced_sizes_mm(0, [1, 2])


def _course(*follow: dict[int, float]) -> list[str]:
    studies = [ImagingStudy(1, START - timedelta(days=7), measurements=(Measurement(1, 20.0), Measurement(2, 20.0)))]
    for i, sizes in enumerate(follow, start=1):
        studies.append(ImagingStudy(i + 1, START + timedelta(weeks=8 * i),
                                    measurements=tuple(Measurement(k, v) for k, v in sizes.items())))
    h = History(PatientInfo(1, "T"), lines=(LINE,), lesions=(LIVER_A, LIVER_B), studies=tuple(studies))
    return [t.target for t in assess_line(h, LINE).timepoints[1:]]


def test_split_lesion_counts_its_fragments_not_a_new_lesion() -> None:
    # Baseline 20 + 20 = 40 mm.  Liver S6 splits into 10 + 8 mm: recorded as 18 mm (sum 38, SD);
    # counting only the largest fragment would wrongly give 10 + 20 = 30 mm (-25 %).
    assert _course({1: fragmented_size_mm([10, 8]), 2: 20.0}) == ["SD"]


def test_coalesced_lesions_keep_the_sum_comparable() -> None:
    # Baseline 20 + 20 = 40 mm; the two liver lesions merge into one of 50 mm: 50 + 0 = 50 mm,
    # +25 % and +10 mm over the nadir 40 -> PD; at 47 mm: +17.5 % -> SD.
    assert _course(coalesced_sizes_mm(50, [1, 2])) == ["PD"]
    assert _course(coalesced_sizes_mm(47, [1, 2])) == ["SD"]
