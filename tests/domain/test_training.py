from __future__ import annotations

import numpy as np
import pytest

from domain.mlops.training import load_bundled, train_classifier


def test_the_same_seed_and_data_give_the_same_model_and_fingerprint() -> None:
    data = load_bundled("wine")
    first = train_classifier(data, estimator="random_forest", test_size=0.25, random_state=3)
    second = train_classifier(
        load_bundled("wine"), estimator="random_forest", test_size=0.25, random_state=3
    )
    assert first.metrics == second.metrics
    assert data.fingerprint == load_bundled("wine").fingerprint
    sample = data.features.head(20)
    assert np.array_equal(first.pipeline.predict(sample), second.pipeline.predict(sample))


@pytest.mark.parametrize("estimator", ["logistic_regression", "random_forest"])
def test_a_bundled_set_trains_to_good_held_out_metrics(estimator: str) -> None:
    trained = train_classifier(
        load_bundled("breast_cancer"), estimator=estimator, test_size=0.25, random_state=0
    )
    assert trained.metrics["accuracy"] > 0.9
    assert 0.9 < trained.metrics["roc_auc"] <= 1.0
    assert trained.train_rows + trained.test_rows == 569
    assert trained.classes == [0, 1]


def test_different_data_has_a_different_fingerprint() -> None:
    assert load_bundled("iris").fingerprint != load_bundled("wine").fingerprint


def test_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown bundled dataset"):
        load_bundled("titanic")
    with pytest.raises(ValueError, match="unknown estimator"):
        train_classifier(load_bundled("iris"), estimator="svm", test_size=0.2, random_state=0)
