"""Name -> builder registries for models, losses, optimizers, datasets, metrics and more.

A registry maps a short, stable name (the one users type in a config or on the command
line) to a callable. Unknown names raise :class:`UnknownNameError`, whose message lists
every valid name so that the fix is in the error itself.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def first_paragraph(doc: str) -> str:
    """A docstring's first paragraph on one line (a summary cut at a line break would stop
    mid-sentence)."""
    return " ".join(doc.strip().split("\n\n")[0].split())


class UnknownNameError(KeyError):
    """Raised when a registry is asked for a name it does not hold."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain.
        return str(self.args[0])


class Registry(Generic[T]):
    """A named collection of builders.

    Example:
        >>> MODELS = Registry("model")
        >>> @MODELS.register("mlp")
        ... def build_mlp(**kw): ...
        >>> MODELS.get("mlp")
    """

    def __init__(self, kind: str, plural: str | None = None) -> None:
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self._items: dict[str, T] = {}
        self._help: dict[str, str] = {}

    def register(self, name: str, *, help: str | None = None) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name`` (names are unique)."""

        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            self._help[name] = help or first_paragraph(getattr(obj, "__doc__", None) or "")
            return obj

        return deco

    def add(self, name: str, obj: T, *, help: str = "") -> T:
        """Register ``obj`` under ``name`` without the decorator syntax."""
        return self.register(name, help=help or None)(obj)

    def get(self, name: str) -> T:
        """Return the object registered as ``name``; unknown names list the valid ones."""
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        valid = ", ".join(sorted(self._items)) or "(none registered)"
        close = difflib.get_close_matches(name, list(self._items), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.kind} {name!r}.{hint} Valid {self.plural}: {valid}"

    def names(self) -> list[str]:
        return sorted(self._items)

    def help(self, name: str) -> str:
        return self._help.get(name, "")

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the builder registered as ``name`` with the given arguments."""
        return self.get(name)(*args, **kwargs)  # type: ignore[operator]


MODELS: Registry[Callable[..., Any]] = Registry("model")
LOSSES: Registry[Any] = Registry("loss", "losses")
OPTIMIZERS: Registry[Callable[..., Any]] = Registry("optimizer")
DATASETS: Registry[Callable[..., Any]] = Registry("dataset")
METRICS: Registry[Callable[..., Any]] = Registry("metric")
EXTRACTORS: Registry[Callable[..., Any]] = Registry("feature extractor")
