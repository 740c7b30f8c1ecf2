"""Loading a model artifact: checksum first, unpickle second.

joblib files are pickles, so we load only files we wrote, and only after their sha256
matches the registry. A mismatch refuses to load: the bytes are never unpickled.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from typing import Any

from core.storage import BlobStore, ChecksumMismatch

__all__ = ["ChecksumMismatch", "ModelCache", "load_model"]


def load_model(store: BlobStore, url: str, sha256: str) -> Any:
    """Read, verify and load a joblib artifact."""
    import joblib

    with store.open(url) as handle:
        data = handle.read()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ChecksumMismatch(
            "model artifact checksum mismatch; refusing to load it",
            details={"expected": sha256, "actual": actual},
        )
    return joblib.load(io.BytesIO(data))


class ModelCache:
    """Loaded models by (url, sha256), least recently used dropped first.

    Keyed by content, so serving follows an alias the moment it moves: the alias is
    resolved per request, and a new version is a new key.
    """

    def __init__(self, max_models: int = 8) -> None:
        self.max_models = max_models
        self._models: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, store: BlobStore, url: str, sha256: str) -> Any:
        key = (url, sha256)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        model = load_model(store, url, sha256)
        with self._lock:
            self._models[key] = model
            while len(self._models) > self.max_models:
                self._models.popitem(last=False)
        return model
