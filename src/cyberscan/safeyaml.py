"""YAML from people and files we do not control: safe tags only, no aliases, bounded size and depth.

    data = load(text, where="antwoorden.yaml")   # ConfigError("yaml.*", where=..., line=...) on trouble

PyYAML's safe loader never builds Python objects from tags, but it still expands aliases (a
"billion laughs" file of 500 bytes grows to gigabytes when walked), recurses once per nesting level
and turns a 5,000-digit number into an int. This loader refuses aliases, nesting deeper than
``MAX_DEPTH``, documents over ``max_bytes`` and scalars over ``MAX_SCALAR`` characters, and
reports the line of the problem. Impossible dates (``2026-02-30``, ``0000-01-01``) and numbers of
more than ``MAX_NUMBER_CHARS`` characters are refused with their line too, so :func:`load` raises
nothing but :class:`ConfigError` on any text.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import yaml
import yaml.events
import yaml.nodes
import yaml.reader

from .errors import ConfigError

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 50
MAX_SCALAR = 10_000
MAX_NUMBER_CHARS = 100  # an int of 5,000 digits is no answer (and Python refuses to convert it)


def _line(node: Any) -> int:
    return int(node.start_mark.line) + 1


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and deep nesting while composing (before anything is built),
    and turns impossible dates and absurd numbers into messages with their line."""

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

    def _timestamp(self, node: Any) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError, AttributeError):  # 2026-02-30, 0000-01-01, !!timestamp nonsense
            raise ConfigError("yaml.bad-date", where=self._where, line=_line(node), value=str(node.value)[:40]) from None

    def _number(self, node: Any) -> Any:
        if len(str(node.value)) > MAX_NUMBER_CHARS:
            raise ConfigError("yaml.bad-number", where=self._where, line=_line(node), digits=MAX_NUMBER_CHARS)
        build = super().construct_yaml_int if node.tag.endswith(":int") else super().construct_yaml_float
        try:
            return build(node)
        except (ValueError, OverflowError):
            raise ConfigError("yaml.not-a-number", where=self._where, line=_line(node), value=str(node.value)[:40]) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader._timestamp)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader._number)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader._number)


def _yaml_problem(exc: yaml.YAMLError, text: str, where: str) -> ConfigError:
    if isinstance(exc, yaml.reader.ReaderError):  # a control character or broken encoding
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        return ConfigError("yaml.bad-character", where=where, line=line, code=f"U+{exc.character:04X}"
                           if isinstance(exc.character, int) else str(exc.character)[:10])
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    return ConfigError("yaml.invalid", where=where, line=line, problem=str(getattr(exc, "problem", "") or exc)[:200])


def load(text: str, *, where: str, max_bytes: int = MAX_BYTES) -> Any:
    """Parse one YAML document. Raises ConfigError with the line of the problem, whatever the text."""
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise ConfigError("yaml.too-large", where=where, limit=max_bytes)
    loader = None
    try:
        loader = _Loader(text, where)  # the reader already checks every character here
        return loader.get_single_data()
    except ConfigError:
        raise
    except yaml.YAMLError as exc:
        raise _yaml_problem(exc, text, where) from None
    except (ValueError, OverflowError, RecursionError, TypeError, AttributeError, KeyError, IndexError) as exc:
        # an explicit tag that PyYAML's own constructors do not expect, such as ``!!bool maybe``
        raise ConfigError("yaml.bad-value", where=where, problem=type(exc).__name__) from None
    finally:
        if loader is not None:
            loader.dispose()


def compose(text: str, *, where: str) -> Any:
    """The node tree (for line numbers), with the same limits as :func:`load`; None when it is no YAML."""
    loader = None
    try:
        loader = _Loader(text, where)
        return loader.get_single_node()
    except ConfigError:
        raise
    except (yaml.YAMLError, RecursionError):
        return None
    finally:
        if loader is not None:
            loader.dispose()


def iso_date(value: Any) -> str | None:
    """A date as YAML gives it (a date, a timestamp, or text such as ``2026-12-31``) as ISO text;
    None for anything that is no date."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            return None
    return None
