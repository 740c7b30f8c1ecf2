"""Data drift between a model's training data and the data it now sees (``mlops.check_drift``).

Two steps, so the training data need not be kept around:

1. :func:`reference_profile` condenses the TRAINING features into a small JSON-able profile
   (a seeded sample of each numeric feature plus summary statistics and PSI bins; value counts
   of each categorical feature). It is stored in SQL as JSON.
2. :func:`check_drift` compares a CURRENT batch of features against that profile, feature by
   feature, and gives a dataset-level verdict.

The per-feature test is chosen the way Evidently's default data-drift preset does:

============  ====================  ==========================================  ==============
type          current rows          test                                        drift when
============  ====================  ==========================================  ==============
numeric       <= 1000               two-sample Kolmogorov-Smirnov (``ks``)      p < alpha
numeric       > 1000                Wasserstein distance / reference std        value > 0.1
                                    (``wasserstein``)
categorical   <= 1000               chi-squared on the 2 x k contingency table  p < alpha
                                    (``chi2``)
categorical   > 1000                Jensen-Shannon distance, natural log        value > 0.1
                                    (``jensen_shannon``)
============  ====================  ==========================================  ==============

"Current rows" is the number of rows of the current frame (nulls included), the same for every
feature, as in Evidently. Every test runs on the non-null values only. The Population Stability
Index is reported next to every test (it does not decide ``drifted``; see ``psi_drifted``).

The dataset drifts when at least ``share_threshold`` of the schema's features drifted
(Evidently's default share is 0.5).

Pure logic: pandas/numpy/scipy in, plain JSON-able values (dict/list/str/int/float/bool/None)
out. No clock, I/O, environment or randomness beyond the explicit ``random_state``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from domain.errors import DomainError

FeatureSchema = list[dict[str, str]]
"""``[{"name": "age", "type": "numeric" | "categorical", "dtype": "float64"}, ...]``"""

NUMERIC = "numeric"
CATEGORICAL = "categorical"
FEATURE_TYPES = (NUMERIC, CATEGORICAL)

TEST_KS = "ks"
TEST_WASSERSTEIN = "wasserstein"
TEST_CHI2 = "chi2"
TEST_JENSEN_SHANNON = "jensen_shannon"
TEST_NONE = "none"
"""Used when one side has no non-null values, so no distribution can be compared."""

PROFILE_KIND = "triops.mlops.drift.reference_profile"
PROFILE_VERSION = 1

LARGE_SAMPLE_ROWS = 1000
"""Above this many current rows the distance tests replace the hypothesis tests."""
DISTANCE_THRESHOLD = 0.1
"""Default drift threshold of the normalised Wasserstein and Jensen-Shannon distances."""
WASSERSTEIN_MIN_NORM = 0.001
"""Floor of the reference std used to normalise the Wasserstein distance (as Evidently)."""
PSI_EPSILON = 1e-4
"""Share substituted for an empty PSI bin on either side, so the logarithm stays finite."""
TOP_CATEGORIES = 100
"""Categories kept by name in a profile; the rest are summed into :data:`OTHER_CATEGORY`."""
OTHER_CATEGORY = "__other__"
DECILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MAX_UNSEEN_LISTED = 20
"""At most this many unseen categories are named in a feature's result."""


class DriftError(DomainError):
    """The inputs cannot be compared: bad schema, missing features, empty data, bad profile."""


# --------------------------------------------------------------------------------------------
# reference profile


def reference_profile(
    features: pd.DataFrame,
    schema: FeatureSchema,
    *,
    sample_rows: int = 5000,
    random_state: int = 0,
    top_categories: int = TOP_CATEGORIES,
) -> dict[str, Any]:
    """What to keep from the training data to check drift later without it.

    Parameters
    ----------
    features:
        The training features, one column per feature (other columns are ignored).
    schema:
        The features to profile, ``[{"name", "type": "numeric"|"categorical", "dtype"}]``.
    sample_rows:
        Maximum number of non-null values kept per numeric feature (a sample without
        replacement, seeded by ``random_state``; all values when there are fewer).
    random_state:
        Seed of that sample; the same data and seed give the same profile.
    top_categories:
        Number of most frequent categories kept by name per categorical feature; the remaining
        counts are summed under ``"__other__"``.

    Returns
    -------
    A JSON-serialisable dict (only dict/list/str/int/float/bool/None; NaN becomes None)::

        {"kind", "version", "rows": int, "sample_rows", "random_state",
         "schema": [...],
         "features": {name: {
             "name", "type", "dtype",
             "rows": int,              # all rows, nulls included
             "count": int,             # non-null values
             "null_share": float|None, # nulls / rows, in [0, 1]
             # numeric only (feature units; None when there are no values):
             "mean", "std" (ddof=1), "min", "max",
             "deciles": [9 floats],    # the 10 %, 20 %, ... 90 % quantiles
             "psi_bins": {"edges": [floats], "reference_shares": [floats]},
             "sample": [floats],
             # categorical only:
             "value_counts": {category: int, ..., "__other__": int},
             "distinct": int}}}

    Nulls are None/NaN/NA and, for numeric features, also +-inf. Categories are compared as
    strings (integral floats like ``3.0`` become ``"3"``, so ints and floats read back from a
    CSV match). PSI bins are ``(-inf, e0], (e0, e1], ..., (e_last, inf)`` over the distinct
    deciles, with the share of all reference values in each.

    Raises
    ------
    DriftError
        When the schema is invalid, a schema feature is missing from ``features``, the frame
        has no rows, or ``sample_rows``/``top_categories`` is not positive.
    """
    _validate_schema(schema)
    if sample_rows < 1:
        raise DriftError(f"sample_rows must be positive, got {sample_rows}")
    if top_categories < 1:
        raise DriftError(f"top_categories must be positive, got {top_categories}")
    _require_columns(features, schema, what="training frame")
    if len(features) == 0:
        raise DriftError("the training frame has no rows")

    profiles: dict[str, dict[str, Any]] = {}
    for spec in schema:
        name = spec["name"]
        column = features[name]
        base: dict[str, Any] = {
            "name": name,
            "type": spec["type"],
            "dtype": spec.get("dtype", str(column.dtype)),
            "rows": len(column),
        }
        if spec["type"] == NUMERIC:
            base.update(_numeric_profile(name, column, sample_rows, random_state))
        else:
            base.update(_categorical_profile(column, top_categories))
        profiles[name] = base

    return {
        "kind": PROFILE_KIND,
        "version": PROFILE_VERSION,
        "rows": len(features),
        "sample_rows": sample_rows,
        "random_state": random_state,
        "schema": [dict(spec) for spec in schema],
        "features": profiles,
    }


def _numeric_profile(
    name: str, column: pd.Series, sample_rows: int, random_state: int
) -> dict[str, Any]:
    values = _numeric_values(name, column)
    count = len(values)
    profile: dict[str, Any] = {
        "count": count,
        "null_share": _share(len(column) - count, len(column)),
        "mean": None,
        "std": None,
        "min": None,
        "max": None,
        "deciles": [],
        "psi_bins": {"edges": [], "reference_shares": []},
        "sample": [],
    }
    if count == 0:
        return profile
    deciles = np.quantile(values, DECILES)
    edges = np.unique(deciles)
    shares = _bin_shares(values, edges)
    if count > sample_rows:
        rng = np.random.default_rng(random_state)
        picked = np.sort(rng.choice(count, size=sample_rows, replace=False))
        sample = values[picked]
    else:
        sample = values
    profile.update(
        {
            "mean": _float(np.mean(values)),
            "std": _float(np.std(values, ddof=1)) if count > 1 else None,
            "min": _float(np.min(values)),
            "max": _float(np.max(values)),
            "deciles": [_float(q) for q in deciles],
            "psi_bins": {
                "edges": [_float(e) for e in edges],
                "reference_shares": [_float(s) for s in shares],
            },
            "sample": [float(v) for v in sample],
        }
    )
    return profile


def _categorical_profile(column: pd.Series, top_categories: int) -> dict[str, Any]:
    counts = _category_counts(column)
    count = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ordered[:top_categories])
    rest = sum(n for _, n in ordered[top_categories:])
    if rest:
        kept[OTHER_CATEGORY] = kept.get(OTHER_CATEGORY, 0) + rest
    return {
        "count": count,
        "null_share": _share(len(column) - count, len(column)),
        "value_counts": kept,
        "distinct": len(counts),
    }


# --------------------------------------------------------------------------------------------
# drift check


def check_drift(
    reference: Mapping[str, Any],
    current: pd.DataFrame,
    *,
    schema: FeatureSchema,
    alpha: float = 0.05,
    psi_threshold: float = 0.2,
    share_threshold: float = 0.5,
    distance_threshold: float = DISTANCE_THRESHOLD,
) -> dict[str, Any]:
    """Compare a current batch of features against a training profile.

    Parameters
    ----------
    reference:
        A profile from :func:`reference_profile` (as returned, or after a JSON round trip).
    current:
        The current features, one column per schema feature. Extra columns are ignored.
    schema:
        The features to check; each must be in the profile with the same type.
    alpha:
        Significance level of the KS and chi-squared tests, in (0, 1): drift when p < alpha.
    psi_threshold:
        PSI above which ``psi_drifted`` is set (0.1 is commonly read as "small change",
        0.2 as "significant"). Reported only; it does not decide ``drifted``.
    share_threshold:
        Share of features, in (0, 1], that must drift for the dataset-level verdict ``drift``.
    distance_threshold:
        Drift threshold of the normalised Wasserstein and Jensen-Shannon distances.

    Returns
    -------
    A JSON-serialisable dict::

        {"features": [{
             "name", "type",
             "test": "ks"|"wasserstein"|"chi2"|"jensen_shannon"|"none",
             "statistic": float|None,  # KS D, normalised Wasserstein (reference-std units),
                                       # chi-squared statistic, or JS distance (natural log)
             "p_value": float|None,    # KS/chi2 only
             "threshold": float,       # alpha for KS/chi2, distance_threshold otherwise
             "drifted": bool,
             "psi": float|None, "psi_drifted": bool,
             "reference_rows": int, "current_rows": int,          # nulls included
             "reference_values": int, "current_values": int,      # non-null, used by tests
             "null_share_reference": float|None, "null_share_current": float|None,
             "unseen_categories": [str]|None,  # categorical: up to 20 new categories
             "note": str|None}, ...],
         "drifted_features": [names], "share_drifted": float,
         "drift": bool, "verdict": "drift"|"no_drift",
         "alpha", "psi_threshold", "share_threshold", "distance_threshold",
         "current_rows": int, "ignored_columns": [str]}

    ``drift`` is True when ``share_drifted >= share_threshold``: the dataset drifted when at
    least that share of the schema's features drifted (Evidently's default is 0.5).

    When one side of a feature has no non-null values, no test can run (``test`` is
    ``"none"``): the feature counts as drifted when the other side has values (it vanished or
    appeared), and not drifted when both are empty.

    Categorical values are compared as strings (see :func:`reference_profile`). When the
    profile lumped rare training categories into ``"__other__"``, current categories not
    named in the profile are counted there (they may be training's rare ones); otherwise they
    are unseen categories and take part in the tests as their own categories.

    Raises
    ------
    DriftError
        When ``current`` lacks schema features (all are named), has no rows, the schema or
        profile is invalid, a numeric feature holds non-numeric values, or a threshold is out
        of range.
    """
    _validate_schema(schema)
    if not 0.0 < alpha < 1.0:
        raise DriftError(f"alpha must be in (0, 1), got {alpha}")
    if not 0.0 < share_threshold <= 1.0:
        raise DriftError(f"share_threshold must be in (0, 1], got {share_threshold}")
    if not psi_threshold > 0.0:
        raise DriftError(f"psi_threshold must be positive, got {psi_threshold}")
    if not distance_threshold > 0.0:
        raise DriftError(f"distance_threshold must be positive, got {distance_threshold}")
    profiles = _profiles_for(reference, schema)
    _require_columns(current, schema, what="current frame")
    rows = len(current)
    if rows == 0:
        raise DriftError("the current frame has no rows")

    results: list[dict[str, Any]] = []
    for spec in schema:
        name = spec["name"]
        profile = profiles[name]
        column = current[name]
        if spec["type"] == NUMERIC:
            result = _check_numeric(name, profile, column, alpha, distance_threshold)
        else:
            result = _check_categorical(profile, column, alpha, distance_threshold)
        psi = result["psi"]
        result["psi_drifted"] = psi is not None and psi > psi_threshold
        results.append(result)

    drifted = [r["name"] for r in results if r["drifted"]]
    share = len(drifted) / len(results)
    drift = share >= share_threshold
    schema_names = {spec["name"] for spec in schema}
    return {
        "features": results,
        "drifted_features": drifted,
        "share_drifted": share,
        "drift": drift,
        "verdict": "drift" if drift else "no_drift",
        "alpha": alpha,
        "psi_threshold": psi_threshold,
        "share_threshold": share_threshold,
        "distance_threshold": distance_threshold,
        "current_rows": rows,
        "ignored_columns": [str(c) for c in current.columns if c not in schema_names],
    }


def _check_numeric(
    name: str,
    profile: Mapping[str, Any],
    column: pd.Series,
    alpha: float,
    distance_threshold: float,
) -> dict[str, Any]:
    values = _numeric_values(name, column)
    sample = np.asarray(profile["sample"], dtype="float64")
    rows = len(column)
    result = _base_result(profile, rows, len(values))
    result["null_share_current"] = _share(rows - len(values), rows)
    if len(sample) == 0 or len(values) == 0:
        return _no_test(result, reference_empty=len(sample) == 0, current_empty=len(values) == 0)

    if rows <= LARGE_SAMPLE_ROWS:
        test = ks_2samp(sample, values)
        statistic, p_value = float(test.statistic), float(test.pvalue)
        result.update(test=TEST_KS, threshold=alpha, drifted=p_value < alpha)
    else:
        std = profile["std"]
        norm = max(float(std) if std is not None else 0.0, WASSERSTEIN_MIN_NORM)
        statistic, p_value = float(wasserstein_distance(sample, values)) / norm, None
        result.update(
            test=TEST_WASSERSTEIN,
            threshold=distance_threshold,
            drifted=statistic > distance_threshold,
        )
    bins = profile["psi_bins"]
    edges = np.asarray(bins["edges"], dtype="float64")
    expected = np.asarray(bins["reference_shares"], dtype="float64")
    result.update(
        statistic=statistic,
        p_value=p_value,
        psi=population_stability_index(expected, _bin_shares(values, edges)),
    )
    return result


def _check_categorical(
    profile: Mapping[str, Any],
    column: pd.Series,
    alpha: float,
    distance_threshold: float,
) -> dict[str, Any]:
    reference_counts: dict[str, int] = {
        str(k): int(v) for k, v in profile["value_counts"].items() if int(v) > 0
    }
    observed = _category_counts(column)
    current_counts: dict[str, int] = {}
    unseen: list[str] = []
    lump = OTHER_CATEGORY in reference_counts
    for category, n in observed.items():
        if category not in reference_counts:
            if lump:
                category = OTHER_CATEGORY
            else:
                unseen.append(category)
        current_counts[category] = current_counts.get(category, 0) + n

    rows = len(column)
    count = sum(current_counts.values())
    result = _base_result(profile, rows, count)
    result["null_share_current"] = _share(rows - count, rows)
    unseen.sort(key=lambda c: (-current_counts[c], c))
    result["unseen_categories"] = unseen[:MAX_UNSEEN_LISTED]
    if not reference_counts or count == 0:
        return _no_test(result, reference_empty=not reference_counts, current_empty=count == 0)

    categories = list(reference_counts) + [c for c in current_counts if c not in reference_counts]
    ref = np.array([reference_counts.get(c, 0) for c in categories], dtype="float64")
    cur = np.array([current_counts.get(c, 0) for c in categories], dtype="float64")
    ref_share, cur_share = ref / ref.sum(), cur / cur.sum()

    if rows <= LARGE_SAMPLE_ROWS:
        if len(categories) < 2:
            # One category on both sides: identical distributions; the test has no degrees
            # of freedom (scipy would return nan), so report the exact answer.
            statistic, p_value = 0.0, 1.0
        else:
            test = chi2_contingency(np.vstack([ref, cur]))
            statistic, p_value = float(test.statistic), float(test.pvalue)
        result.update(test=TEST_CHI2, threshold=alpha, drifted=p_value < alpha)
    else:
        with np.errstate(invalid="ignore"):
            # sqrt of a rounding-negative divergence for identical shares gives nan: that is 0.
            distance = float(jensenshannon(ref_share, cur_share))
        statistic, p_value = (distance if math.isfinite(distance) else 0.0), None
        result.update(
            test=TEST_JENSEN_SHANNON,
            threshold=distance_threshold,
            drifted=statistic > distance_threshold,
        )
    result.update(
        statistic=statistic,
        p_value=p_value,
        psi=population_stability_index(ref_share, cur_share),
    )
    return result


def _base_result(profile: Mapping[str, Any], rows: int, count: int) -> dict[str, Any]:
    return {
        "name": profile["name"],
        "type": profile["type"],
        "test": TEST_NONE,
        "statistic": None,
        "p_value": None,
        "threshold": None,
        "psi": None,
        "psi_drifted": False,
        "drifted": False,
        "reference_rows": int(profile["rows"]),
        "current_rows": rows,
        "reference_values": int(profile["count"]),
        "current_values": count,
        "null_share_reference": profile["null_share"],
        "null_share_current": None,
        "unseen_categories": None,
        "note": None,
    }


def _no_test(
    result: dict[str, Any], *, reference_empty: bool, current_empty: bool
) -> dict[str, Any]:
    if reference_empty and current_empty:
        result["note"] = "no non-null values on either side; nothing to compare"
    elif current_empty:
        result["note"] = "no non-null values in the current data; the feature vanished"
    else:
        result["note"] = "no non-null values in the reference; the feature appeared"
    result["drifted"] = reference_empty != current_empty
    return result


# --------------------------------------------------------------------------------------------
# PSI


def population_stability_index(
    expected: np.ndarray | list[float],
    actual: np.ndarray | list[float],
    *,
    epsilon: float = PSI_EPSILON,
) -> float:
    """Population Stability Index between two binned distributions.

    Parameters
    ----------
    expected:
        Reference share of each bin (sums to 1).
    actual:
        Current share of the same bins (sums to 1).
    epsilon:
        Share substituted for an empty bin on either side, so ``ln`` stays finite.

    Returns
    -------
    ``sum((actual - expected) * ln(actual / expected))``, dimensionless and >= 0. Rules of
    thumb: < 0.1 no significant change, 0.1-0.2 moderate, > 0.2 significant.
    """
    exp = np.maximum(np.asarray(expected, dtype="float64"), epsilon)
    act = np.maximum(np.asarray(actual, dtype="float64"), epsilon)
    if exp.shape != act.shape:
        raise DriftError(f"PSI needs the same bins on both sides, got {exp.shape}, {act.shape}")
    return float(np.sum((act - exp) * np.log(act / exp)))


def _bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of ``values`` in ``(-inf, e0], (e0, e1], ..., (e_last, inf)``."""
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    return counts / max(len(values), 1)


# --------------------------------------------------------------------------------------------
# helpers


def _validate_schema(schema: FeatureSchema) -> None:
    if not schema:
        raise DriftError("the schema has no features")
    seen: set[str] = set()
    for spec in schema:
        name, kind = spec.get("name"), spec.get("type")
        if not name:
            raise DriftError(f"schema entry without a name: {spec!r}")
        if kind not in FEATURE_TYPES:
            raise DriftError(f"feature {name!r} has type {kind!r}; expected one of {FEATURE_TYPES}")
        if name in seen:
            raise DriftError(f"feature {name!r} appears twice in the schema")
        seen.add(name)


def _require_columns(frame: pd.DataFrame, schema: FeatureSchema, *, what: str) -> None:
    columns = set(frame.columns)
    missing = [spec["name"] for spec in schema if spec["name"] not in columns]
    if missing:
        raise DriftError(f"the {what} lacks schema features: {', '.join(missing)}")


def _profiles_for(reference: Mapping[str, Any], schema: FeatureSchema) -> dict[str, Any]:
    if reference.get("kind") != PROFILE_KIND or reference.get("version") != PROFILE_VERSION:
        raise DriftError(
            f"not a version-{PROFILE_VERSION} reference profile "
            f"(kind={reference.get('kind')!r}, version={reference.get('version')!r})"
        )
    profiles = reference.get("features") or {}
    missing = [spec["name"] for spec in schema if spec["name"] not in profiles]
    if missing:
        raise DriftError(f"the reference profile lacks schema features: {', '.join(missing)}")
    for spec in schema:
        kind = profiles[spec["name"]].get("type")
        if kind != spec["type"]:
            raise DriftError(
                f"feature {spec['name']!r} is {spec['type']} in the schema "
                f"but {kind} in the reference profile"
            )
    return dict(profiles)


def _numeric_values(name: str, column: pd.Series) -> np.ndarray:
    """Finite float values of a column; None/NaN/NA/+-inf are dropped as nulls."""
    try:
        numeric = pd.to_numeric(column, errors="raise")
    except (TypeError, ValueError) as exc:
        raise DriftError(f"numeric feature {name!r} holds non-numeric values: {exc}") from exc
    values = pd.Series(numeric).to_numpy(dtype="float64", na_value=np.nan)
    return values[np.isfinite(values)]


def _category_counts(column: pd.Series) -> dict[str, int]:
    """Non-null value counts keyed by the value as a string (``3.0`` -> ``"3"``)."""
    counts: dict[str, int] = {}
    for value, n in column.value_counts(dropna=True).items():
        key = _category_key(value)
        counts[key] = counts.get(key, 0) + int(n)
    return counts


def _category_key(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return str(int(float(value)))
    return str(value)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _float(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None
