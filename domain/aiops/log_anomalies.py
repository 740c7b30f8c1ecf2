"""Log anomaly detection on event-count vectors (Xu et al. 2009 style, PCA/SPE or IsolationForest).

Input: one :class:`LogRecord` per log line (an event/template id from template mining, an
optional timestamp, an optional session key or the raw content to extract one from).

1. Group lines into rows: fixed time windows of ``window_s`` seconds
   (:func:`count_by_window`) or sessions identified by a key such as the HDFS block id
   (:func:`count_by_session`). Each row is a vector of event counts.
2. Weight: TF-IDF with the document frequencies of the reference rows
   (``idf = ln((1 + n_ref) / (1 + df)) + 1``), then L2-normalise each row, so a window is
   described by *which* events it holds rather than by how busy it was. An event never seen in
   the reference gets the largest idf.
3. Fit an unsupervised detector on the reference rows (a leading fraction of rows or a time
   range), with a fixed ``random_state``:

   * ``"pca"`` (default): principal components keeping ``variance_kept`` of the reference
     variance span "normal" behaviour; a row's score is its squared prediction error (SPE, the
     residual outside that subspace). Events never seen in the reference are entirely residual.
     Threshold: the Q-statistic of Jackson & Mudholkar at false-alarm rate ``alpha``.
   * ``"isolation_forest"``: scikit-learn's IsolationForest on the weighted vectors plus one
     *novelty* feature: the weight of events seen in no other reference row (for a reference
     row: events unique to it; for a new row: events absent from the reference). Without it
     a forest cannot split on templates it never saw. Threshold: the ``1 - contamination``
     quantile of reference scores.

4. Score new rows; report those above the threshold with the events that drove them (each
   event's share of the residual for PCA, of the standardised deviation for IsolationForest).

The raw-count baseline is the same detector with ``weighting="none"`` and ``normalise=False``
(:data:`RAW_COUNTS`). Counting lines into rows lives in `log_counts` (its names are
re-exported here).

Measured on BGL_2k (``bench/log_anomalies.py``, docs/aiops-quality.md): 1 h windows, fit on
the first half, P 0.30 / R 1.00 / F1 0.46 against 0.10 / 0.03 / 0.05 on raw counts. Most
false alarms are windows whose only line is a template the reference never saw (the median
window holds one line): a threshold from out-of-fold reference scores, a reference cleared
of its labelled alerts (semi-supervised) and counting a new template only once were tried
and did not raise precision without losing recall.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.stats import norm
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest

from domain.aiops.log_counts import (
    HDFS_BLOCK_PATTERN,
    EventCounts,
    LogRecord,
    count_by_session,
    count_by_window,
    extract_session_keys,
    row_labels,
)
from domain.errors import DomainError

__all__ = [
    "DEFAULT_CONFIG",
    "HDFS_BLOCK_PATTERN",
    "RAW_COUNTS",
    "DetectionResult",
    "DetectorConfig",
    "EventCounts",
    "LogAnomaly",
    "LogAnomalyModel",
    "LogRecord",
    "PrecisionRecall",
    "RowScores",
    "count_by_session",
    "count_by_window",
    "detect",
    "extract_session_keys",
    "fit_detector",
    "precision_recall_f1",
    "row_labels",
    "score_rows",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class LogAnomalyError(DomainError):
    """A log that cannot be scored as given (too short for a reference, no events)."""


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """How to weight the vectors and which detector to fit.

    Attributes
    ----------
    method:
        ``"pca"`` (SPE with a Q-statistic threshold) or ``"isolation_forest"``.
    weighting:
        ``"tfidf"`` (reference document frequencies) or ``"none"`` (raw counts).
    normalise:
        L2-normalise each weighted row.
    variance_kept:
        PCA: fraction of reference variance the normal subspace keeps (0-1).
    alpha:
        PCA: false-alarm rate of the Q-statistic threshold.
    contamination:
        IsolationForest: expected anomalous share of the reference; threshold is the
        ``1 - contamination`` quantile of reference scores.
    n_estimators:
        IsolationForest trees.
    random_state:
        Seed for every randomised step.
    """

    method: Literal["pca", "isolation_forest"] = "pca"
    weighting: Literal["tfidf", "none"] = "tfidf"
    normalise: bool = True
    variance_kept: float = 0.95
    alpha: float = 0.001
    contamination: float = 0.05
    n_estimators: int = 200
    random_state: int = 0


DEFAULT_CONFIG = DetectorConfig()
"""TF-IDF + L2 + PCA/SPE: what :func:`detect` uses unless told otherwise."""

RAW_COUNTS = DetectorConfig(weighting="none", normalise=False)
"""The baseline: the same PCA/SPE detector on raw counts."""


@dataclass(frozen=True, eq=False)
class LogAnomalyModel:
    """A detector fitted on reference rows; apply with :func:`score_rows`.

    Attributes
    ----------
    config:
        The configuration it was fitted with.
    event_ids:
        The reference vocabulary (events seen in the reference).
    idf:
        Per-vocabulary-event weight (ones without TF-IDF).
    unseen_weight:
        Weight of an event outside the vocabulary.
    mean:
        Reference mean of the weighted rows.
    scale:
        Reference standard deviation per event (floored), for contributions.
    singletons:
        Per vocabulary event: seen in exactly one reference row (feeds the novelty feature).
    components:
        PCA: the normal subspace basis, shape ``(k, events)``; empty for IsolationForest.
    forest:
        The IsolationForest, or ``None``.
    threshold:
        Scores above this are anomalous.
    n_reference:
        Reference rows used.
    """

    config: DetectorConfig
    event_ids: tuple[str, ...]
    idf: FloatArray
    unseen_weight: float
    mean: FloatArray
    scale: FloatArray
    singletons: BoolArray
    components: FloatArray
    forest: IsolationForest | None
    threshold: float
    n_reference: int


def _align(counts: EventCounts, vocabulary: Sequence[str]) -> tuple[FloatArray, FloatArray]:
    """Split counts into vocabulary columns (in vocabulary order) and unseen columns."""
    position = {event: i for i, event in enumerate(counts.event_ids)}
    known = np.zeros((len(counts), len(vocabulary)), dtype=np.float64)
    seen_cols = []
    for j, event in enumerate(vocabulary):
        i = position.get(event)
        if i is not None:
            known[:, j] = counts.matrix[:, i]
            seen_cols.append(i)
    unseen_mask = np.ones(len(counts.event_ids), dtype=bool)
    unseen_mask[seen_cols] = False
    return known, counts.matrix[:, unseen_mask]


def _weigh(
    known: FloatArray, unseen: FloatArray, idf: FloatArray, unseen_weight: float, normalise: bool
) -> tuple[FloatArray, FloatArray]:
    wk = known * idf
    wu = unseen * unseen_weight
    if normalise:
        norms = np.sqrt((wk**2).sum(axis=1) + (wu**2).sum(axis=1))
        norms[norms == 0] = 1.0
        wk = wk / norms[:, None]
        wu = wu / norms[:, None]
    return wk, wu


def _q_statistic(residual_eigenvalues: FloatArray, alpha: float) -> float:
    """Jackson & Mudholkar (1979) upper limit of the SPE at false-alarm rate ``alpha``."""
    lam = residual_eigenvalues[residual_eigenvalues > 1e-12]
    if lam.size == 0:
        return 1e-12
    theta1, theta2, theta3 = lam.sum(), (lam**2).sum(), (lam**3).sum()
    h0 = 1.0 - 2.0 * theta1 * theta3 / (3.0 * theta2**2)
    if h0 <= 0:  # degenerate spectrum: fall back to the Gaussian approximation of the mean
        return float(theta1 + norm.ppf(1.0 - alpha) * np.sqrt(2.0 * theta2))
    c_alpha = norm.ppf(1.0 - alpha)
    value = theta1 * (
        c_alpha * np.sqrt(2.0 * theta2 * h0**2) / theta1
        + 1.0
        + theta2 * h0 * (h0 - 1.0) / theta1**2
    ) ** (1.0 / h0)
    return float(value)


def _reference_mask(
    counts: EventCounts, reference_fraction: float, reference_until_s: float | None
) -> BoolArray:
    n = len(counts)
    if reference_until_s is not None:
        mask = np.asarray(counts.starts_s < reference_until_s, dtype=bool)
    else:
        if not 0.0 < reference_fraction <= 1.0:
            raise ValueError("reference_fraction must be in (0, 1]")
        n_ref = max(1, round(n * reference_fraction)) if n else 0
        mask = np.zeros(n, dtype=bool)
        mask[:n_ref] = True
    return mask


def fit_detector(
    counts: EventCounts,
    *,
    reference: npt.ArrayLike | None = None,
    config: DetectorConfig = DEFAULT_CONFIG,
) -> LogAnomalyModel:
    """Fit weighting and detector on reference rows.

    Parameters
    ----------
    counts:
        Event-count rows.
    reference:
        Boolean mask or indices of the reference rows; ``None`` uses all rows.
    config:
        Weighting and detector settings.

    Returns
    -------
    LogAnomalyModel
        The fitted model.

    Raises
    ------
    ValueError
        When there are fewer than two reference rows or no events.
    """
    rows = np.arange(len(counts)) if reference is None else np.asarray(reference)
    if rows.dtype == bool:
        rows = np.flatnonzero(rows)
    ref = counts.matrix[rows]
    if ref.shape[0] < 2:
        raise LogAnomalyError(
            "cannot detect anomalies on this log: it needs at least two reference "
            "windows or sessions (a longer log, or a shorter window_s)"
        )
    seen = ref.sum(axis=0) > 0
    if not seen.any():
        raise LogAnomalyError(
            "cannot detect anomalies on this log: its reference windows hold no events"
        )
    vocabulary = tuple(e for e, s in zip(counts.event_ids, seen, strict=True) if s)
    n_ref = ref.shape[0]
    if config.weighting == "tfidf":
        doc_freq = (ref[:, seen] > 0).sum(axis=0).astype(np.float64)
        idf = np.log((1.0 + n_ref) / (1.0 + doc_freq)) + 1.0
        unseen_weight = float(np.log(1.0 + n_ref) + 1.0)
    elif config.weighting == "none":
        idf = np.ones(int(seen.sum()), dtype=np.float64)
        unseen_weight = 1.0
    else:
        raise ValueError(f"unknown weighting {config.weighting!r}")
    known, unseen = _align(_subset(counts, rows), vocabulary)
    weighted, _ = _weigh(known, unseen, idf, unseen_weight, config.normalise)
    mean = weighted.mean(axis=0)
    centred = weighted - mean
    scale = np.maximum(weighted.std(axis=0), 1e-3)
    singletons = (ref[:, seen] > 0).sum(axis=0) == 1
    components = np.zeros((0, len(vocabulary)), dtype=np.float64)
    forest: IsolationForest | None = None
    if config.method == "pca":
        n_max = min(centred.shape)
        if np.allclose(centred, 0.0) or n_max < 1:
            threshold = 1e-12
        else:
            pca = PCA(
                n_components=config.variance_kept,
                svd_solver="full",
                random_state=config.random_state,
            ).fit(centred)
            components = pca.components_.astype(np.float64)
            covariance = np.cov(centred, rowvar=False).reshape(len(vocabulary), len(vocabulary))
            cov_eigen = np.linalg.eigvalsh(covariance)[::-1]
            threshold = _q_statistic(cov_eigen[components.shape[0] :], config.alpha)
    elif config.method == "isolation_forest":
        features = np.column_stack([centred, _novelty(weighted[:, singletons])])
        forest = IsolationForest(
            n_estimators=config.n_estimators, random_state=config.random_state
        ).fit(features)
        ref_scores = -forest.score_samples(features)
        threshold = float(np.quantile(ref_scores, 1.0 - config.contamination))
    else:
        raise ValueError(f"unknown method {config.method!r}")
    return LogAnomalyModel(
        config=config,
        event_ids=vocabulary,
        idf=idf,
        unseen_weight=unseen_weight,
        mean=mean,
        scale=scale,
        singletons=singletons,
        components=components,
        forest=forest,
        threshold=threshold,
        n_reference=n_ref,
    )


def _novelty(weighted: FloatArray) -> FloatArray:
    """Euclidean weight of the given (novel) event columns, per row."""
    return np.asarray(np.sqrt((weighted**2).sum(axis=1)), dtype=np.float64)


def _subset(counts: EventCounts, rows: IntArray) -> EventCounts:
    return replace(
        counts,
        keys=tuple(counts.keys[i] for i in rows),
        starts_s=counts.starts_s[rows],
        matrix=counts.matrix[rows],
        lines=tuple(counts.lines[i] for i in rows),
    )


@dataclass(frozen=True, eq=False)
class RowScores:
    """Scores of rows and each event's share of every row's score.

    Attributes
    ----------
    scores:
        Anomaly score per row (higher is more anomalous).
    contributions:
        Shape ``(rows, events)`` aligned with the scored ``EventCounts.event_ids``: each event's
        non-negative contribution to the row's score.
    """

    scores: FloatArray
    contributions: FloatArray


def score_rows(
    model: LogAnomalyModel, counts: EventCounts, *, reference: npt.ArrayLike | None = None
) -> RowScores:
    """Score rows with a fitted model (vocabularies are aligned by event id).

    Parameters
    ----------
    model:
        From :func:`fit_detector`.
    counts:
        Rows to score; may hold events the reference never saw.
    reference:
        Boolean mask of rows that were part of the reference (IsolationForest measures their
        novelty leave-one-out, as in fitting); ``None`` treats every row as new.

    Returns
    -------
    RowScores
        Scores and per-event contributions.
    """
    known, unseen = _align(counts, model.event_ids)
    wk, wu = _weigh(known, unseen, model.idf, model.unseen_weight, model.config.normalise)
    centred = wk - model.mean
    if model.forest is None:
        residual = centred - (centred @ model.components.T) @ model.components
        known_contrib = residual**2
        unseen_contrib = wu**2
        scores = known_contrib.sum(axis=1) + unseen_contrib.sum(axis=1)
    else:
        novelty = _novelty(wu)
        if reference is not None:
            in_ref = np.asarray(reference, dtype=bool)
            novelty[in_ref] = _novelty(wk[in_ref][:, model.singletons])
        scores = -model.forest.score_samples(np.column_stack([centred, novelty]))
        known_contrib = np.clip(centred / model.scale, 0.0, None)
        unseen_contrib = wu / float(model.scale.max())
    contributions = np.zeros_like(counts.matrix)
    position = {event: i for i, event in enumerate(counts.event_ids)}
    vocab_cols = [position.get(e, -1) for e in model.event_ids]
    for j, col in enumerate(vocab_cols):
        if col >= 0:
            contributions[:, col] = known_contrib[:, j]
    in_vocab = set(model.event_ids)
    unseen_cols = [i for i, e in enumerate(counts.event_ids) if e not in in_vocab]
    contributions[:, unseen_cols] = unseen_contrib
    return RowScores(scores=np.asarray(scores, dtype=np.float64), contributions=contributions)


@dataclass(frozen=True, eq=False)
class LogAnomaly:
    """An anomalous window or session.

    Attributes
    ----------
    key:
        Window start (RFC 3339) or session key.
    start_s:
        Window start / first session timestamp in epoch seconds (``nan`` if unknown).
    score:
        Its anomaly score (compare with ``threshold``).
    threshold:
        The model's threshold.
    top_events:
        ``(event_id, share)`` of the events in the row that drove the score, largest first;
        shares of the row's total contribution (0-1; the rest comes from normal events the
        row lacks).
    lines:
        Indices of its input records.
    """

    key: str
    start_s: float
    score: float
    threshold: float
    top_events: tuple[tuple[str, float], ...]
    lines: IntArray = field(repr=False)


@dataclass(frozen=True, eq=False)
class DetectionResult:
    """Everything :func:`detect` found.

    Attributes
    ----------
    anomalies:
        Flagged rows among the scored ones, highest score first.
    scores:
        Score of every row of the input (reference rows included).
    flagged:
        Per row: score above threshold and the row is a scored (non-reference) row.
    scored:
        Per row: whether it was scored as new data (all rows when the reference is all).
    threshold:
        The model's threshold.
    model:
        The fitted model (to score later data with :func:`score_rows`).
    """

    anomalies: list[LogAnomaly]
    scores: FloatArray
    flagged: BoolArray
    scored: BoolArray
    threshold: float
    model: LogAnomalyModel


def detect(
    counts: EventCounts,
    *,
    reference_fraction: float = 0.5,
    reference_until_s: float | None = None,
    config: DetectorConfig = DEFAULT_CONFIG,
    top_k: int = 3,
) -> DetectionResult:
    """Fit on a reference period and report anomalous rows of the rest.

    Parameters
    ----------
    counts:
        Event-count rows in time order (windows or sessions).
    reference_fraction:
        Leading fraction of rows used as the reference (ignored when ``reference_until_s``
        is given). With 1.0 every row is both reference and scored.
    reference_until_s:
        Rows starting before this epoch second are the reference.
    config:
        Weighting and detector settings.
    top_k:
        Events reported per anomaly.

    Returns
    -------
    DetectionResult
        Anomalies, all scores and the model.

    Raises
    ------
    ValueError
        When the reference holds fewer than two rows or no events.
    """
    reference = _reference_mask(counts, reference_fraction, reference_until_s)
    model = fit_detector(counts, reference=reference, config=config)
    result = score_rows(model, counts, reference=reference)
    scored = ~reference if (~reference).any() else np.ones(len(counts), dtype=bool)
    flagged = scored & (result.scores > model.threshold)
    anomalies = []
    for row in np.flatnonzero(flagged):
        contrib = result.contributions[row]
        total = float(contrib.sum()) or 1.0
        present = np.where(counts.matrix[row] > 0, contrib, 0.0)  # report templates it holds
        top = np.argsort(-present, kind="stable")[:top_k]
        anomalies.append(
            LogAnomaly(
                key=counts.keys[row],
                start_s=float(counts.starts_s[row]),
                score=float(result.scores[row]),
                threshold=model.threshold,
                top_events=tuple(
                    (counts.event_ids[j], round(float(present[j]) / total, 4))
                    for j in top
                    if present[j] > 0
                ),
                lines=counts.lines[row],
            )
        )
    anomalies.sort(key=lambda a: -a.score)
    return DetectionResult(
        anomalies=anomalies,
        scores=result.scores,
        flagged=flagged,
        scored=scored,
        threshold=model.threshold,
        model=model,
    )


@dataclass(frozen=True, slots=True)
class PrecisionRecall:
    """Detection quality: counts and precision / recall / F1 (0 when undefined)."""

    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float
    recall: float
    f1: float


def precision_recall_f1(predicted: npt.ArrayLike, actual: npt.ArrayLike) -> PrecisionRecall:
    """Precision, recall and F1 of boolean predictions.

    Parameters
    ----------
    predicted:
        Flagged or not, per item.
    actual:
        Truly anomalous or not, per item.

    Returns
    -------
    PrecisionRecall
        The counts and ratios.
    """
    pred = np.asarray(predicted, dtype=bool)
    true = np.asarray(actual, dtype=bool)
    if pred.shape != true.shape:
        raise ValueError("predicted and actual differ in length")
    tp = int((pred & true).sum())
    fp = int((pred & ~true).sum())
    fn = int((~pred & true).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PrecisionRecall(tp, fp, fn, precision, recall, f1)
