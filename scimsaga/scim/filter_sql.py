"""Translate a parsed filter (RFC 7644 §3.4.2.2) into an SQLite ``WHERE`` clause with ``?`` parameters.

The store keeps one row per resource: the attributes as JSON in one TEXT column (canonical names,
extension attributes under their schema URN, RFC 7643 §3.3), plus columns and expressions described by
a ``SqlLayout``. The clause selects exactly the rows ``filter_eval.matches`` accepts:

* Every comparison is two-valued: a missing, null or ill-typed value gives 0, never NULL, so ``NOT``
  behaves as in the evaluator (RFC 7644 §3.4.2.2 leaves "unknown" to the implementation).
* Case-insensitive strings compare through the layout's fold function (``str.casefold``), or through a
  folded, indexed column; parameters are folded in Python. No ``LIKE``: values may hold ``%`` and ``_``.
* dateTime values compare as instants (RFC 7643 §2.3.5) through the same key ``filter.datetime_key``
  computes, built with SQLite's date functions; ``julianday`` would keep milliseconds only.
* Multi-valued attributes match when any value matches, through ``json_each`` or a ``MultiValueIndex``.

User values only ever travel as parameters; names in the SQL text come from the schema and the layout.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from .filter import (
    STRING_TYPES,
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
    datetime_key,
)
from .schema import Attribute, AttributeType

SqlValue: TypeAlias = str | bytes | int | float | None

_SQL_OPERATORS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_PLAIN_JSON_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)
_TEXT = ("text",)
_NUMBER = ("integer", "real")
_BOOLEAN = ("true", "false")


@dataclass(frozen=True)
class MultiValueIndex:
    """A side table holding one row per value of a multi-valued sub-attribute, for indexed ``eq``.

    ``key_column`` holds ``str.casefold()`` of each value and is indexed; ``owner_column`` holds the
    id of the resource the value belongs to and is never NULL.
    """

    table: str
    owner_column: str
    key_column: str


@dataclass(frozen=True)
class SqlLayout:
    """Where a resource's attributes live in the store's table.

    ``expressions`` maps a lower-cased attribute path (``"meta.created"``) to an SQL expression giving
    the value the served resource shows, typed as JSON would give it (booleans as 1/0), NULL when the
    served resource has none. ``folded_columns`` maps a lower-cased path to a column holding
    ``str.casefold()`` of the value, with BINARY collation and an index. ``value_indexes`` maps a
    lower-cased ``attr.sub`` path of a multi-valued attribute to its side table.
    """

    json_column: str
    id_column: str
    expressions: Mapping[str, str] = field(default_factory=dict)
    folded_columns: Mapping[str, str] = field(default_factory=dict)
    value_indexes: Mapping[str, MultiValueIndex] = field(default_factory=dict)
    fold_function: str = "scim_fold"
    computed_values: Mapping[str, str] = field(default_factory=dict)
    """Lower-cased name of a multi-valued attribute kept outside the JSON column (a user's ``groups``)
    to an SQL expression giving its values as a JSON array for the current row."""

    def values_source(self, path: AttrPath) -> str:
        """The ``json_each`` arguments that list the values of ``path``'s multi-valued attribute."""
        computed = None if path.in_extension else self.computed_values.get(path.attribute.name.lower())
        if computed is not None:
            return computed
        whole = AttrPath(path.schema_urn, path.attribute, None, path.in_extension)
        return f"{self.json_column}, {_json_path(whole)}"


def scim_fold(value: SqlValue) -> SqlValue:
    """The fold function the layout names: ``str.casefold()`` for text, anything else unchanged."""
    return value.casefold() if isinstance(value, str) else value


def register_functions(connection: sqlite3.Connection, layout: SqlLayout) -> None:
    """Register the layout's fold function on ``connection`` as a deterministic SQL function."""
    connection.create_function(layout.fold_function, 1, scim_fold, deterministic=True)


@dataclass(frozen=True)
class _Subject:
    """The SQL giving a value and, for JSON values, the SQL giving its JSON type (``json_type``)."""

    value: str
    json_type: str | None = None

    def has_type(self, *json_types: str) -> str:
        """A condition that the value is there with one of ``json_types``; layout expressions are trusted."""
        if self.json_type is None:
            return f"{self.value} IS NOT NULL"
        listed = ", ".join(f"'{name}'" for name in json_types)
        return f"coalesce({self.json_type}, 'none') IN ({listed})"


def to_sql(flt: Filter, layout: SqlLayout) -> tuple[str, list[object]]:
    """An SQLite boolean expression selecting the resources ``flt`` matches, and its parameters."""
    translator = _Translator(layout)
    return translator.node(flt, None), translator.params


class _Translator:
    """Builds SQL text left to right; ``param`` appends a value in the order its ``?`` appears."""

    def __init__(self, layout: SqlLayout) -> None:
        self._layout = layout
        self._aliases = 0
        self.params: list[object] = []

    def param(self, value: object) -> str:
        self.params.append(value)
        return "?"

    def node(self, node: Filter, element: str | None, negated: bool = False) -> str:
        """SQL for ``node``, or for its negation: ``NOT`` is pushed down to the conditions."""
        if isinstance(node, Not):
            return self.node(node.inner, element, not negated)
        if isinstance(node, (And, Or)):
            return self._chain(node, element, negated)
        if isinstance(node, ValuePath) and not node.path.attribute.multi_valued:
            return self.node(node.inner, None, negated)
        condition = self._condition_of(node, element)
        return f"NOT {condition}" if negated else condition

    def _chain(self, node: And | Or, element: str | None, negated: bool) -> str:
        """An ``AND``/``OR`` chain, deepest operand first (see ``_operands``); De Morgan when negated."""
        word = " AND " if isinstance(node, And) != negated else " OR "
        operands = sorted(_operands(node), key=_nesting, reverse=True)
        return "(" + word.join(self.node(operand, element, negated) for operand in operands) + ")"

    def _condition_of(self, node: Compare | Present | ValuePath, element: str | None) -> str:
        if isinstance(node, ValuePath):
            return self._value_path(node)
        if isinstance(node, Present):
            return self._present(node.path, element)
        return self._compare(node, element)

    # -- sources of values

    def _alias(self) -> str:
        self._aliases += 1
        return f"j{self._aliases}"

    def _subject(self, path: AttrPath) -> _Subject:
        """A single-valued attribute: its layout expression, else its place in the JSON."""
        expression = self._layout.expressions.get(path.key)
        if expression is not None:
            return _Subject(expression)
        json_path = _json_path(path)
        return _Subject(f"json_extract({self._layout.json_column}, {json_path})",
                        f"json_type({self._layout.json_column}, {json_path})")

    def _exists(self, path: AttrPath, alias: str, condition: str) -> str:
        """Some value of the multi-valued attribute of ``path`` satisfies ``condition``."""
        return (f"EXISTS (SELECT 1 FROM json_each({self._layout.values_source(path)}) AS {alias} "
                f"WHERE {condition})")

    # -- value filters

    def _value_path(self, node: ValuePath) -> str:
        """Some value of a multi-valued attribute matches the whole inner filter."""
        inner = node.inner
        if isinstance(inner, Compare) and self._index_for(inner) is not None:
            return self._compare_each(inner)
        alias = self._alias()
        return self._exists(node.path, alias, f"{alias}.type = 'object' AND {self.node(inner, alias)}")

    # -- presence

    def _present(self, path: AttrPath, element: str | None) -> str:
        """``pr`` (RFC 7644 §3.4.2.2) with the meaning of ``filter_eval.is_present``."""
        if element is not None and path.sub_attribute is not None:
            return _present_value(_element_value(element, path.sub_attribute).value)
        if path.attribute.multi_valued:
            alias = self._alias()
            return self._exists(path, alias, _present_element(alias, path))
        if path.definition.type == AttributeType.COMPLEX:
            return _any_of([self._present(path.with_sub(sub), None) for sub in path.attribute.sub_attributes])
        return _present_value(self._subject(path).value)

    # -- comparisons

    def _compare(self, node: Compare, element: str | None) -> str:
        if element is not None and node.path.sub_attribute is not None:
            return self._condition(node, _element_value(element, node.path.sub_attribute))
        if node.path.attribute.multi_valued:
            return self._compare_each(node)
        return self._condition(node, self._subject(node.path), self._layout.folded_columns.get(node.path.key))

    def _index_for(self, node: Compare) -> MultiValueIndex | None:
        if node.op != "eq" or node.path.definition.type not in STRING_TYPES:
            return None
        return self._layout.value_indexes.get(node.path.key)

    def _compare_each(self, node: Compare) -> str:
        index = self._index_for(node)
        if index is None:
            return self._compare_json_each(node)
        lookup = (f"({self._layout.id_column} IN (SELECT {index.owner_column} FROM {index.table} "
                  f"WHERE {index.key_column} = {self.param(str(node.value).casefold())}))")
        if not node.path.definition.case_exact:
            return lookup
        return f"({lookup} AND {self._compare_json_each(node)})"

    def _compare_json_each(self, node: Compare) -> str:
        alias = self._alias()
        if node.path.sub_attribute is None:
            subject = _Subject(f"{alias}.value", f"{alias}.type")
        else:
            subject = _element_value(alias, node.path.sub_attribute)
        return self._exists(node.path, alias, self._condition(node, subject))

    def _condition(self, node: Compare, subject: _Subject, folded: str | None = None) -> str:
        """``subject op value`` for the attribute's type, false unless the value has that type."""
        kind = node.path.definition.type
        if kind in STRING_TYPES:
            return self._string_condition(node, subject, folded)
        operator = _SQL_OPERATORS[node.op]
        if kind == AttributeType.DATETIME:
            key = datetime_key(str(node.value))
            return f"coalesce({_datetime_key_sql(subject.value)} {operator} {self.param(key)}, 0)"
        check = subject.has_type(*(_BOOLEAN if kind == AttributeType.BOOLEAN else _NUMBER))
        value = int(node.value) if kind == AttributeType.BOOLEAN else node.value
        return f"({check} AND {subject.value} {operator} {self.param(value)})"

    def _string_condition(self, node: Compare, subject: _Subject, folded: str | None) -> str:
        value = str(node.value)
        check = subject.has_type(*_TEXT)
        if node.path.definition.case_exact:
            if folded is not None and node.op == "eq":
                return (f"({folded} = {self.param(value.casefold())} AND {check} "
                        f"AND {subject.value} = {self.param(value)})")
            return f"({check} AND {self._string_test(node.op, subject.value, value, None)})"
        if folded is not None:
            test = self._string_test(node.op, folded, value.casefold(), folded)
            return f"({folded} IS NOT NULL AND {test})"
        target = f"{self._layout.fold_function}({subject.value})"
        return f"({check} AND {self._string_test(node.op, target, value.casefold(), None)})"

    def _string_test(self, op: str, target: str, value: str, indexed: str | None) -> str:
        """``op`` on text; ``indexed`` names a column whose index a prefix test can use as a range."""
        if op == "co":
            return f"instr({target}, {self.param(value)}) > 0"
        if op == "sw":
            return self._prefix_test(target, value, indexed)
        if op == "ew":
            return f"substr({target}, {self.param(-len(value))}) = {self.param(value)}" if value else "1"
        return f"{target} {_SQL_OPERATORS[op]} {self.param(value)}"

    def _prefix_test(self, target: str, value: str, indexed: str | None) -> str:
        if indexed is None:
            return f"substr({target}, 1, {self.param(len(value))}) = {self.param(value)}"
        upper = _prefix_successor(value)
        if upper is None:
            return f"{indexed} >= {self.param(value)}"
        return f"{indexed} >= {self.param(value)} AND {indexed} < {self.param(upper)}"


# --- SQL fragments -------------------------------------------------------------------------------


def _operands(node: And | Or) -> list[Filter]:
    """The operands of a chain of one logical operator, left to right.

    SQLite's parser stack holds about 100 entries. ``a or b or c`` becomes one flat ``OR`` and the
    deepest operand of a chain goes first, so that nested groups open one right after the other and
    cost one entry per level: every filter within ``MAX_FILTER_LENGTH`` and ``MAX_FILTER_DEPTH`` fits.
    """
    operands: list[Filter] = []
    pending: list[Filter] = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, (And, Or)) and type(current) is type(node):
            pending.extend((current.right, current.left))
        else:
            operands.append(current)
    return operands


def _nesting(node: Filter) -> int:
    """How many groups the SQL for ``node`` nests."""
    if isinstance(node, Not):
        return _nesting(node.inner)
    if isinstance(node, (And, Or)):
        return 1 + max(_nesting(operand) for operand in _operands(node))
    if isinstance(node, ValuePath):
        return 1 + _nesting(node.inner)
    return 0


def _json_path(path: AttrPath) -> str:
    """A JSON path literal such as ``'$."urn:...:User".manager.value'`` for ``json_extract``."""
    segments = [path.schema_urn] if path.in_extension else []
    segments.append(path.attribute.name)
    if path.sub_attribute is not None:
        segments.append(path.sub_attribute.name)
    text = "$" + "".join(f".{_json_key(segment)}" for segment in segments)
    return "'" + text.replace("'", "''") + "'"


def _json_key(name: str) -> str:
    return name if _PLAIN_JSON_KEY.fullmatch(name) else f'"{name}"'


def _element_value(alias: str, sub_attribute: Attribute) -> _Subject:
    """A sub-attribute of the current ``json_each`` element, NULL when the element is no object."""
    path = f"'$.{_json_key(sub_attribute.name)}'"
    when = f"CASE WHEN {alias}.type = 'object' THEN"
    return _Subject(f"{when} json_extract({alias}.value, {path}) END",
                    f"{when} json_type({alias}.value, {path}) END")


def _present_value(subject: str) -> str:
    return f"({subject} IS NOT NULL AND {subject} <> '')"


def _present_element(alias: str, path: AttrPath) -> str:
    if path.sub_attribute is not None:
        return _present_value(_element_value(alias, path.sub_attribute).value)
    if path.attribute.type == AttributeType.COMPLEX:
        subs = path.attribute.sub_attributes
        return _any_of([_present_value(_element_value(alias, sub).value) for sub in subs])
    return _present_value(f"CASE WHEN {alias}.type NOT IN ('object', 'array') THEN {alias}.value END")


def _any_of(conditions: list[str]) -> str:
    return f"({' OR '.join(conditions)})" if conditions else "0"


def _prefix_successor(prefix: str) -> str | None:
    """The least string above every string starting with ``prefix``, in code point order; None if none."""
    stripped = prefix.rstrip(chr(_MAX_CODE_POINT))
    if not stripped:
        return None
    following = ord(stripped[-1]) + 1
    if following in _SURROGATES:
        following = _SURROGATES.stop
    return stripped[:-1] + chr(following)


def _datetime_key_sql(subject: str) -> str:
    """SQL computing ``filter.datetime_key`` of ``subject``: NULL unless it is a valid xsd:dateTime.

    ``v`` is the text, ``z`` its offset (``''``, ``Z`` or ``±HH:MM``) and ``d`` its fraction digits.
    SQLite reads ``YYYY-MM-DDTHH:MM:SS`` plus the offset; the fraction is appended as text, so the key
    keeps microseconds. ``'+0 days'`` normalises impossible dates such as February 30, which then fail
    the round trip.
    """
    has_fraction = "substr(v, 20, 1) = '.'"
    after_digits = "ltrim(substr(v, 21), '0123456789')"
    parts = (
        f"SELECT v, {has_fraction} AS f, "
        f"CASE WHEN {has_fraction} THEN {after_digits} ELSE substr(v, 20) END AS z, "
        f"CASE WHEN {has_fraction} THEN substr(v, 21, length(v) - 20 - length({after_digits})) "
        f"ELSE '' END AS d FROM (SELECT {subject} AS v)"
    )
    valid = (
        "typeof(v) = 'text' "
        "AND v GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]*' "
        "AND substr(v, 1, 4) <> '0000' "
        "AND strftime('%Y-%m-%dT%H:%M:%S', substr(v, 1, 19), '+0 days') = substr(v, 1, 19) "
        "AND (NOT f OR d <> '') "
        "AND (z IN ('', 'Z', 'z') OR z GLOB '[+-][0-9][0-9]:[0-9][0-9]')"
    )
    key = "strftime('%Y-%m-%dT%H:%M:%S', substr(v, 1, 19) || z) || '.' || substr(d || '000000', 1, 6)"
    return f"(SELECT CASE WHEN {valid} THEN {key} END FROM ({parts}))"


# --- sorting (RFC 7644 §3.4.2.3, with the meaning of ``sort.sort_value``) --------------------------


def order_by(path: AttrPath, layout: SqlLayout, descending: bool) -> str:
    """``ORDER BY`` terms sorting by ``path``: unassigned last ascending, first descending.

    The caller appends its stable tie-break. ``path`` comes from ``sort.resolve_sort``.
    """
    key = sort_key_sql(path, layout)
    if descending:
        return f"({key}) IS NULL DESC, ({key}) DESC"
    return f"({key}) IS NULL, ({key})"


def sort_key_sql(path: AttrPath, layout: SqlLayout) -> str:
    """SQL giving ``sort.sort_value`` of the current row: NULL when the resource has no such value."""
    if path.attribute.multi_valued:
        alias = "sort_each"
        if path.sub_attribute is None:
            subject = _Subject(f"CASE WHEN {alias}.type NOT IN ('object', 'array') THEN {alias}.value END",
                               f"{alias}.type")
        else:
            subject = _element_value(alias, path.sub_attribute)
        primary = f"CASE WHEN {alias}.type = 'object' THEN json_type({alias}.value, '$.primary') END"
        return (f"(SELECT {_typed_key(path, subject, layout)} FROM json_each({layout.values_source(path)}) "
                f"AS {alias} ORDER BY coalesce({primary} = 'true', 0) DESC, {alias}.key LIMIT 1)")
    expression = layout.expressions.get(path.key)
    if expression is not None:
        return _typed_key(path, _Subject(expression), layout)
    json_path = _json_path(path)
    subject = _Subject(f"json_extract({layout.json_column}, {json_path})",
                       f"json_type({layout.json_column}, {json_path})")
    return _typed_key(path, subject, layout)


def _typed_key(path: AttrPath, subject: _Subject, layout: SqlLayout) -> str:
    definition = path.definition
    kind = definition.type
    json_types: tuple[str, ...]
    if kind == AttributeType.DATETIME:
        return _datetime_key_sql(subject.value)
    if kind in STRING_TYPES:
        json_types, value = _TEXT, subject.value
        if not definition.case_exact:
            value = f"{layout.fold_function}({subject.value})"
    elif kind == AttributeType.BOOLEAN:
        json_types, value = _BOOLEAN, subject.value
    else:
        json_types, value = _NUMBER, subject.value
    if subject.json_type is None:
        return value
    return f"CASE WHEN {subject.has_type(*json_types)} THEN {value} END"
