"""How a claim row says how close we are: the check's type, ours/paper, and reproduction vs consistency."""

from __future__ import annotations

import pytest

from optdyn.claims import check_type, evaluate, ratio
from optdyn.spec.paper import Check, ClaimSpec


def claim(check: dict, paper=None, **extra) -> ClaimSpec:
    return ClaimSpec(id="c", statement="s", source="Fig. 1", metric="m", paper=paper, check=Check(**check), **extra)


@pytest.mark.parametrize("check, expected", [
    ({"rel_tol": 0.1}, "tolerance"), ({"abs_tol": 1}, "tolerance"), ({"at_least": 0}, "sign"),
    ({"at_most": 0.0}, "sign"), ({"at_least": 2}, "bound"), ({"at_most": 0.25}, "bound"),
    ({"equals": True}, "exact"), ({"is_true": True}, "boolean"), ({"ci_above": 0}, "ci"),
])
def test_check_type(check, expected):
    assert check_type(Check(**check)) == expected


def test_ratio_only_for_two_finite_numbers():
    assert ratio(0.16, 0.388) == pytest.approx(0.16 / 0.388)
    assert ratio(3, 0) is None
    assert ratio(True, 1) is None
    assert ratio([1, 2], [1, 2]) is None
    assert ratio(float("nan"), 1.0) is None


def test_rows_carry_kind_type_and_ratio():
    rows = evaluate([claim({"rel_tol": 0.5}, paper=0.388), claim({"equals": True}, paper=[1, 2], kind="consistency")],
                    {"m": 0.16})
    assert [r["kind"] for r in rows] == ["reproduction", "consistency"]
    assert rows[0]["check_type"] == "tolerance" and rows[0]["ratio"] == pytest.approx(0.16 / 0.388)
    assert rows[0]["pass/fail"] == "fail"  # 0.16 is more than 50% below 0.388
    assert rows[1]["ratio"] is None and rows[1]["check_type"] == "exact"


def test_missing_metric_row_still_has_the_fields():
    (row,) = evaluate([claim({"at_least": 0})], {})
    assert row["ratio"] is None and row["check_type"] == "sign" and row["passed"] is False


def test_kind_is_validated():
    with pytest.raises(ValueError):
        claim({"at_least": 0}, kind="echo")
