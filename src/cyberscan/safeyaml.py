"""YAML from people and files we do not control: safe tags only, no aliases, bounded size and depth.

    data = load(text, where="antwoorden.yaml")   # ConfigError("yaml.*", where=..., line=...) on trouble

PyYAML's safe loader never builds Python objects from tags, but it still expands aliases (a
"billion laughs" file of 500 bytes grows to gigabytes when walked), recurses once per nesting level
and turns a 5,000-digit number into an int. This loader refuses aliases, nesting deeper than
``MAX_DEPTH``, documents over ``max_bytes`` and scalars over ``MAX_SCALAR`` characters, and
reports the line of the problem.
"""

from __future__ import annotations

from typing import Any

import yaml
import yaml.events
import yaml.nodes

from .errors import ConfigError

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 50
MAX_SCALAR = 10_000



class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and deep nesting while composing (before anything is built)."""

    def __init__(self, stream: str, where: str) -> None:
        super().__init__(stream)
        self._where = where
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise ConfigError("yaml.alias", where=self._where, line=event.start_mark.line + 1)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise ConfigError("yaml.too-deep", where=self._where, line=event.start_mark.line + 1, depth=MAX_DEPTH)
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.nodes.ScalarNode) and len(node.value) > MAX_SCALAR:
            raise ConfigError("yaml.too-long", where=self._where, line=node.start_mark.line + 1, limit=MAX_SCALAR)
        return node


def load(text: str, *, where: str, max_bytes: int = MAX_BYTES) -> Any:
    """Parse one YAML document. Raises ConfigError with the line of the problem."""
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise ConfigError("yaml.too-large", where=where, limit=max_bytes)
    try:
        loader = _Loader(text, where)  # the reader already refuses some characters (NUL ...)
    except yaml.YAMLError as exc:
        raise ConfigError("yaml.invalid", where=where, line=0, problem=str(exc)[:200]) from None
    try:
        return loader.get_single_data()
    except ConfigError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise ConfigError("yaml.invalid", where=where, line=line,
                          problem=str(getattr(exc, "problem", "") or exc)[:200]) from None
    except (ValueError, OverflowError, RecursionError) as exc:  # e.g. a date such as 2026-02-30
        raise ConfigError("yaml.bad-value", where=where, line=0, problem=str(exc)[:200]) from None
    finally:
        loader.dispose()


def compose(text: str, *, where: str) -> Any:
    """The node tree (for line numbers), with the same limits as :func:`load`."""
    try:
        loader = _Loader(text, where)
    except yaml.YAMLError:
        return None
    try:
        return loader.get_single_node()
    except ConfigError:
        raise
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
