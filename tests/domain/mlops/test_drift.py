from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from domain.mlops.drift import (
    OTHER_CATEGORY,
    DriftError,
    FeatureSchema,
    check_drift,
    population_stability_index,
    reference_profile,
)

SCHEMA: FeatureSchema = [
    {"name": "age", "type": "numeric", "dtype": "float64"},
    {"name": "colour", "type": "categorical", "dtype": "object"},
]
COLOURS = np.array(["red", "green", "blue", "yellow"])
COLOUR_P = np.array([0.4, 0.3, 0.2, 0.1])


def frame(n: int, seed: int, *, shift: float = 0.0, colours: Any = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40.0 + shift, 10.0, n),
            "colour": colours if colours is not None else rng.choice(COLOURS, n, p=COLOUR_P),
        }
    )


def by_name(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in result["features"]}


@pytest.fixture(scope="module")
def training_profile() -> dict[str, Any]:
    return reference_profile(frame(20_000, seed=1), SCHEMA, random_state=7)


@pytest.mark.parametrize(
    ("rows", "numeric_test", "categorical_test"),
    [(500, "ks", "chi2"), (1000, "ks", "chi2"), (1001, "wasserstein", "jensen_shannon"),
     (5000, "wasserstein", "jensen_shannon")],
)  # fmt: skip
def test_two_samples_of_the_same_distribution_do_not_drift_with_either_test_family(
    training_profile: dict[str, Any], rows: int, numeric_test: str, categorical_test: str
) -> None:
    result = check_drift(training_profile, frame(rows, seed=2), schema=SCHEMA)
    features = by_name(result)
    assert features["age"]["test"] == numeric_test
    assert features["colour"]["test"] == categorical_test
    assert result["drifted_features"] == []
    assert result["share_drifted"] == 0.0
    assert result["drift"] is False and result["verdict"] == "no_drift"
    assert all(f["psi"] < 0.1 for f in features.values())
    if numeric_test == "ks":
        assert features["age"]["p_value"] >= 0.05 and features["age"]["threshold"] == 0.05
    else:
        assert features["age"]["p_value"] is None and features["age"]["threshold"] == 0.1
        assert features["age"]["statistic"] < 0.1
        assert features["colour"]["statistic"] < 0.1


@pytest.mark.parametrize("rows", [300, 5000])
def test_a_mean_shift_of_one_std_is_detected_and_psi_is_above_the_threshold(
    training_profile: dict[str, Any], rows: int
) -> None:
    result = check_drift(training_profile, frame(rows, seed=3, shift=10.0), schema=SCHEMA)
    age = by_name(result)["age"]
    assert age["drifted"] is True
    assert age["psi"] > 0.2 and age["psi_drifted"] is True
    if rows > 1000:
        assert age["statistic"] == pytest.approx(1.0, abs=0.1)  # in reference std units
    else:
        assert age["p_value"] < 1e-6
    assert result["drifted_features"] == ["age"]
    assert result["share_drifted"] == 0.5
    assert result["drift"] is True and result["verdict"] == "drift"  # 1 of 2 >= 0.5


@pytest.mark.parametrize("rows", [300, 5000])
def test_a_new_category_dominating_is_detected(training_profile: dict[str, Any], rows: int) -> None:
    rng = np.random.default_rng(4)
    colours = np.where(rng.random(rows) < 0.6, "purple", rng.choice(COLOURS, rows, p=COLOUR_P))
    result = check_drift(training_profile, frame(rows, seed=4, colours=colours), schema=SCHEMA)
    colour = by_name(result)["colour"]
    assert colour["drifted"] is True
    assert colour["unseen_categories"] == ["purple"]
    assert colour["psi"] > 0.2
    assert by_name(result)["age"]["drifted"] is False


def test_psi_is_large_for_a_strong_shift_and_small_for_none() -> None:
    assert population_stability_index([0.25] * 4, [0.25] * 4) == 0.0
    assert population_stability_index([0.5, 0.5, 0.0], [0.5, 0.5, 0.0]) == 0.0
    assert population_stability_index([0.7, 0.2, 0.1], [0.1, 0.2, 0.7]) > 0.2
    profile = reference_profile(frame(5000, seed=5), SCHEMA)
    same = by_name(check_drift(profile, frame(2000, seed=6), schema=SCHEMA))
    shifted = by_name(check_drift(profile, frame(2000, seed=6, shift=15.0), schema=SCHEMA))
    assert same["age"]["psi"] < 0.1 and same["colour"]["psi"] < 0.1
    assert shifted["age"]["psi"] > 0.2


def test_the_profile_round_trips_through_json_and_checks_the_same_from_the_copy() -> None:
    training = frame(8000, seed=8)
    training.loc[::10, "age"] = np.nan
    training.loc[::7, "colour"] = None
    profile = reference_profile(training, SCHEMA, sample_rows=1000, random_state=3)
    loaded = json.loads(json.dumps(profile, allow_nan=False))
    assert loaded == profile
    age = loaded["features"]["age"]
    assert len(age["sample"]) == 1000 and age["count"] == 7200
    assert age["null_share"] == pytest.approx(0.1)
    assert len(age["deciles"]) == 9 and age["min"] < age["deciles"][0] < age["max"]
    assert sum(age["psi_bins"]["reference_shares"]) == pytest.approx(1.0)
    assert set(loaded["features"]["colour"]["value_counts"]) == set(COLOURS)
    assert reference_profile(training, SCHEMA, sample_rows=1000, random_state=3) == profile

    current = frame(700, seed=9, shift=10.0).assign(extra=1, other="x")
    from_loaded = check_drift(loaded, current, schema=SCHEMA)
    assert from_loaded == check_drift(profile, current, schema=SCHEMA)
    assert from_loaded["ignored_columns"] == ["extra", "other"]
    assert from_loaded["drifted_features"] == ["age"]
    assert json.loads(json.dumps(from_loaded, allow_nan=False)) == from_loaded


def test_constant_and_all_null_columns_neither_crash_nor_warn() -> None:
    schema: FeatureSchema = [
        {"name": "const", "type": "numeric", "dtype": "float64"},
        {"name": "one_cat", "type": "categorical", "dtype": "object"},
        {"name": "empty", "type": "numeric", "dtype": "float64"},
        {"name": "empty_cat", "type": "categorical", "dtype": "object"},
        {"name": "vanishes", "type": "numeric", "dtype": "float64"},
    ]

    def make(n: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "const": np.full(n, 3.0),
                "one_cat": ["a"] * n,
                "empty": np.full(n, np.nan),
                "empty_cat": [None] * n,
                "vanishes": np.arange(n, dtype="float64"),
            }
        )

    profile = json.loads(json.dumps(reference_profile(make(50), schema), allow_nan=False))
    assert profile["features"]["const"]["std"] == 0.0
    assert profile["features"]["empty"]["mean"] is None
    assert profile["features"]["empty"]["null_share"] == 1.0
    for n in (20, 2000):  # both test families
        current = make(n).assign(vanishes=np.nan)
        features = by_name(check_drift(profile, current, schema=schema))
        assert features["const"]["statistic"] == 0.0 and features["const"]["psi"] == 0.0
        assert features["one_cat"]["statistic"] == 0.0 and features["one_cat"]["psi"] == 0.0
        assert not features["const"]["drifted"] and not features["one_cat"]["drifted"]
        for name in ("empty", "empty_cat"):
            assert features[name]["test"] == "none" and features[name]["drifted"] is False
        assert features["vanishes"]["test"] == "none" and features["vanishes"]["drifted"] is True
        assert features["vanishes"]["null_share_current"] == 1.0

    moved = by_name(check_drift(profile, make(20).assign(const=4.0), schema=schema))
    assert moved["const"]["drifted"] is True


def test_a_missing_feature_raises_drift_error_naming_it(
    training_profile: dict[str, Any],
) -> None:
    with pytest.raises(DriftError, match="colour"):
        check_drift(training_profile, frame(100, seed=1).drop(columns="colour"), schema=SCHEMA)
    with pytest.raises(DriftError, match="age, colour"):
        check_drift(training_profile, pd.DataFrame({"x": [1]}), schema=SCHEMA)
    with pytest.raises(DriftError, match="colour"):
        reference_profile(frame(10, seed=1)[["age"]], SCHEMA)
    assert issubclass(DriftError, ValueError)


def test_rare_training_categories_are_lumped_so_their_reappearance_is_not_drift() -> None:
    schema: FeatureSchema = [{"name": "city", "type": "categorical", "dtype": "object"}]
    rng = np.random.default_rng(10)
    cities = [f"c{i}" for i in range(300)]
    profile = reference_profile(pd.DataFrame({"city": rng.choice(cities, 30_000)}), schema)
    counts = profile["features"]["city"]["value_counts"]
    assert len(counts) == 101 and counts[OTHER_CATEGORY] > 0
    current = pd.DataFrame({"city": rng.choice(cities, 800)})
    assert check_drift(profile, current, schema=schema)["drift"] is False


def test_integer_categories_match_their_float_form_from_a_csv() -> None:
    schema: FeatureSchema = [{"name": "grade", "type": "categorical", "dtype": "int64"}]
    profile = reference_profile(pd.DataFrame({"grade": [1, 2, 3] * 100}), schema)
    current = pd.DataFrame({"grade": [1.0, 2.0, 3.0, np.nan] * 50})
    grade = check_drift(profile, current, schema=schema)["features"][0]
    assert grade["unseen_categories"] == [] and grade["drifted"] is False
    assert grade["null_share_current"] == 0.25


def test_breast_cancer_split_by_mean_radius_drifts_but_a_random_split_does_not() -> None:
    data = load_breast_cancer(as_frame=True).frame.drop(columns="target")
    schema: FeatureSchema = [
        {"name": str(c), "type": "numeric", "dtype": "float64"} for c in data.columns
    ]
    small = data["mean radius"] <= data["mean radius"].median()
    by_radius = check_drift(reference_profile(data[small], schema), data[~small], schema=schema)
    assert by_radius["drift"] is True
    assert "mean radius" in by_radius["drifted_features"]
    assert "mean area" in by_radius["drifted_features"]
    assert by_radius["share_drifted"] >= 0.5

    shuffled = data.sample(frac=1.0, random_state=0)
    half = len(shuffled) // 2
    at_random = check_drift(
        reference_profile(shuffled.iloc[:half], schema), shuffled.iloc[half:], schema=schema
    )
    assert at_random["drift"] is False
    assert at_random["share_drifted"] < 0.2
    assert "mean radius" not in at_random["drifted_features"]


def test_bad_thresholds_and_profiles_are_rejected(training_profile: dict[str, Any]) -> None:
    current = frame(10, seed=1)
    with pytest.raises(DriftError, match="alpha"):
        check_drift(training_profile, current, schema=SCHEMA, alpha=1.5)
    with pytest.raises(DriftError, match="share_threshold"):
        check_drift(training_profile, current, schema=SCHEMA, share_threshold=0.0)
    with pytest.raises(DriftError, match="reference profile"):
        check_drift({"features": {}}, current, schema=SCHEMA)
    with pytest.raises(DriftError, match="no rows"):
        check_drift(training_profile, current.iloc[:0], schema=SCHEMA)
    flipped: FeatureSchema = [{"name": "age", "type": "categorical", "dtype": "float64"}]
    with pytest.raises(DriftError, match="categorical in the schema"):
        check_drift(training_profile, current, schema=flipped)
    with pytest.raises(DriftError, match="non-numeric"):
        check_drift(training_profile, current.assign(age="old"), schema=SCHEMA)
