"""Register the nets with timm the moment timm is imported, without importing it.

Importing timm costs seconds (it imports torchvision), so ``import cifarnets`` does not:
an import hook runs ``cifarnets._timm.register()`` once the user's code imports timm.
"""

from __future__ import annotations

import importlib.abc
import sys
import warnings

__all__ = ["register_when_timm_is_imported"]


def _register() -> None:
    # Deferred on purpose: cifarnets._timm imports timm and torch, once timm is imported.
    from . import _timm

    _timm.register()


def register_when_timm_is_imported() -> None:
    """Register the nets with timm now if timm is imported, else right after its import."""
    if "timm" in sys.modules:
        _register()
    elif not any(isinstance(f, _RegisterAfterTimmImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterTimmImport())


class _RegisterAfterTimmImport(importlib.abc.MetaPathFinder):
    """A finder that finds nothing itself: it lets the other finders find ``timm`` and
    wraps that loader's ``exec_module`` so that the nets are registered once timm's
    ``__init__`` has finished; then it removes itself from ``sys.meta_path``."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "timm":
            return None
        spec = next(
            (
                s
                for f in sys.meta_path
                if f is not self and hasattr(f, "find_spec")
                for s in [f.find_spec(fullname, path, target)]
                if s is not None
            ),
            None,
        )
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_timm = spec.loader.exec_module

        def exec_module(module):
            exec_timm(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            try:
                _register()
            except Exception as err:  # a broken registration must not break `import timm`
                warnings.warn(
                    f"cifarnets could not register its nets with timm: {err!r}",
                    RuntimeWarning,
                    stacklevel=2,
                )

        spec.loader.exec_module = exec_module
        return spec
