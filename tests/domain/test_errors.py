"""Every error the domain raises on purpose has one root, mapped once at each edge."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import domain
from domain.errors import DomainError


def test_every_domain_error_class_descends_from_domain_error() -> None:
    found = []
    for info in pkgutil.walk_packages(domain.__path__, "domain."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, Exception)
                and value.__module__ == module.__name__
            ):
                found.append(value)
                assert issubclass(value, DomainError), f"{module.__name__}.{name}"
    assert len(found) >= 12
