"""SCIM filter expressions (RFC 7644 §3.4.2.2): tokenizer, recursive-descent parser and AST.

``parse_filter`` turns the text of a ``filter`` query parameter into a tree of small frozen dataclasses.
Every attribute path in the tree is resolved against the resource type (RFC 7643 §2.1, §3.1, §3.10),
so evaluation (``filter_eval``) and SQL translation (``filter_sql``) read each attribute's type,
``caseExact`` and ``multiValued`` from the node instead of looking them up again. ``str()`` of a node
prints a filter that parses back to an equal node.

Where RFC 7644 leaves room, this module decides:

* ``not`` must be followed by a parenthesised filter, as the ABNF of §3.4.2.2 requires.
* Comparing with ``null`` is refused: RFC 7643 §2.5 makes null the same as unassigned, which ``pr``
  and ``not (... pr)`` ask about.
* ``schemas`` is filterable as a multi-valued, case-insensitive string attribute (``SCHEMAS_ATTRIBUTE``).
* A complex multi-valued attribute compared without a sub-attribute compares its ``value``
  (``emails co "x"`` is ``emails.value co "x"``); the tree always names the sub-attribute.
* ``emails[type eq "work"].value eq "x"`` asks for one email matching both and is parsed as
  ``emails[type eq "work" and value eq "x"]``.
* dateTime literals must be xsd:dateTime (RFC 7643 §2.3.5): ``YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]``,
  UTC when the offset is missing; digits beyond microseconds are ignored.
* ``co``, ``sw`` and ``ew`` apply to string, reference and binary attributes only; ``gt``, ``ge``, ``lt``
  and ``le`` are refused on boolean and binary attributes (§3.4.2.2) and on complex ones.
* Attributes that are never returned (``password``, RFC 7643 §4.1.1) cannot be filtered on.
* String literals may not hold U+0000 or unpaired surrogates, which SQLite cannot compare.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache
from typing import TypeAlias

from .errors import InvalidFilter
from .schema import Attribute, AttributeType, ResourceType, Returned, find_attribute

MAX_FILTER_LENGTH = 2048
MAX_FILTER_DEPTH = 32

COMPARISON_OPERATORS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")
ORDERING_OPERATORS = frozenset({"gt", "ge", "lt", "le"})
SUBSTRING_OPERATORS = frozenset({"co", "sw", "ew"})
STRING_TYPES = frozenset({AttributeType.STRING, AttributeType.REFERENCE, AttributeType.BINARY})
NUMBER_TYPES = frozenset({AttributeType.INTEGER, AttributeType.DECIMAL})

SCHEMAS_ATTRIBUTE = Attribute(
    "schemas", AttributeType.STRING, multi_valued=True,
    description="The schema URIs of the resource (RFC 7643 §3), filterable as case-insensitive strings.",
)

Value: TypeAlias = str | bool | int | float

_INT64 = 2**63


# --- the tree ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttrPath:
    """A resolved ``attrPath`` (RFC 7644 §3.4.2.2, §3.10): the attribute and maybe a sub-attribute.

    ``in_extension`` says whether the attribute lives under its schema's URN key in a resource
    (RFC 7643 §3.3) rather than at the top level.
    """

    schema_urn: str
    attribute: Attribute
    sub_attribute: Attribute | None = None
    in_extension: bool = False

    @property
    def definition(self) -> Attribute:
        """The attribute whose values the path yields: the sub-attribute when there is one."""
        return self.attribute if self.sub_attribute is None else self.sub_attribute

    @property
    def name(self) -> str:
        """Canonical dotted name without the schema URN, e.g. ``name.givenName``."""
        if self.sub_attribute is None:
            return self.attribute.name
        return f"{self.attribute.name}.{self.sub_attribute.name}"

    @property
    def key(self) -> str:
        """The lower-cased full path, e.g. ``emails.value`` or ``urn:...:user:manager.value``."""
        return str(self).lower()

    def with_sub(self, sub_attribute: Attribute) -> AttrPath:
        return replace(self, sub_attribute=sub_attribute)

    def __str__(self) -> str:
        return f"{self.schema_urn}:{self.name}" if self.in_extension else self.name


@dataclass(frozen=True)
class Compare:
    """``attrPath compareOp compValue`` (RFC 7644 §3.4.2.2, Table 3)."""

    path: AttrPath
    op: str
    value: Value

    def __str__(self) -> str:
        return render(self)


@dataclass(frozen=True)
class Present:
    """``attrPath pr``: the attribute has a non-empty value (RFC 7644 §3.4.2.2, RFC 7643 §2.5)."""

    path: AttrPath

    def __str__(self) -> str:
        return render(self)


@dataclass(frozen=True)
class And:
    """``filter and filter`` (RFC 7644 §3.4.2.2, Table 4)."""

    left: Filter
    right: Filter

    def __str__(self) -> str:
        return render(self)


@dataclass(frozen=True)
class Or:
    """``filter or filter`` (RFC 7644 §3.4.2.2, Table 4)."""

    left: Filter
    right: Filter

    def __str__(self) -> str:
        return render(self)


@dataclass(frozen=True)
class Not:
    """``not (filter)`` (RFC 7644 §3.4.2.2, Table 4)."""

    inner: Filter

    def __str__(self) -> str:
        return render(self)


@dataclass(frozen=True)
class ValuePath:
    """``attrPath[valFilter]`` (RFC 7644 §3.4.2.2): one value of ``path`` must match ``inner``.

    The paths inside ``inner`` name ``path``'s attribute with one of its sub-attributes.
    """

    path: AttrPath
    inner: Filter

    def __str__(self) -> str:
        return render(self)


Filter: TypeAlias = Compare | Present | And | Or | Not | ValuePath


# --- printing ------------------------------------------------------------------------------------


def render(node: Filter) -> str:
    """The filter text of ``node``, parenthesised where precedence needs it (RFC 7644 §3.4.2.2)."""
    return _render(node, None)


def _render(node: Filter, parent: AttrPath | None) -> str:
    if isinstance(node, Compare):
        return f"{_path_text(node.path, parent)} {node.op} {literal_text(node.value)}"
    if isinstance(node, Present):
        return f"{_path_text(node.path, parent)} pr"
    if isinstance(node, Not):
        return f"not ({_render(node.inner, parent)})"
    if isinstance(node, ValuePath):
        return f"{node.path}[{_render(node.inner, node.path)}]"
    word = "and" if isinstance(node, And) else "or"
    return f"{_operand(node.left, node, parent, False)} {word} {_operand(node.right, node, parent, True)}"


def _operand(child: Filter, node: And | Or, parent: AttrPath | None, is_right: bool) -> str:
    text = _render(child, parent)
    if _precedence(child) < _precedence(node) or (is_right and _precedence(child) == _precedence(node)):
        return f"({text})"
    return text


def _precedence(node: Filter) -> int:
    if isinstance(node, Or):
        return 1
    return 2 if isinstance(node, And) else 3


def _path_text(path: AttrPath, parent: AttrPath | None) -> str:
    if parent is None or path.sub_attribute is None:
        return str(path)
    return path.sub_attribute.name


def literal_text(value: Value) -> str:
    """A ``compValue`` as JSON text (RFC 7644 §3.4.2.2, RFC 8259)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


# --- dateTime --------------------------------------------------------------------------------------

_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_MAX_OFFSET_HOURS = 14


@lru_cache(maxsize=4096)
def datetime_key(text: str) -> str | None:
    """The UTC instant of an xsd:dateTime (RFC 7643 §2.3.5) as ``YYYY-MM-DDTHH:MM:SS.ffffff``, or None.

    Keys compare as strings in the order of the instants they stand for. Without an offset the time is
    UTC; offsets go up to ±14:59 and fractions are cut to microseconds. ``filter_sql`` computes the same
    key in SQLite, so the accepted forms are those SQLite's date functions read too.
    """
    match = _DATETIME.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(group) for group in match.groups()[:6])
    offset = _offset_seconds(match.group(8))
    if offset is None:
        return None
    try:
        local = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    days, seconds = divmod(local.toordinal() * 86400 + hour * 3600 + minute * 60 + second - offset, 86400)
    day_text = _day_text(days)
    if day_text is None:
        return None
    fraction = ((match.group(7) or "") + "000000")[:6]
    return f"{day_text}T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{fraction}"


def _offset_seconds(text: str | None) -> int | None:
    if text is None or text in ("Z", "z"):
        return 0
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > _MAX_OFFSET_HOURS or minutes > 59:
        return None
    return (-1 if text[0] == "-" else 1) * (hours * 3600 + minutes * 60)


def _day_text(ordinal: int) -> str | None:
    if ordinal == 0:
        return "0000-12-31"
    if not 1 <= ordinal <= date.max.toordinal():
        return None
    day = date.fromordinal(ordinal)
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


# --- tokens --------------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z_$][A-Za-z0-9_$:.\-]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_PUNCTUATION = frozenset("()[].")
_SPACE = frozenset(" \t\r\n")
_KEYWORD_VALUES: dict[str, Value | None] = {"true": True, "false": False, "null": None}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int
    value: Value | None = None

    def describe(self) -> str:
        return "the end of the filter" if self.kind == "end" else repr(self.text)

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


def _error(pos: int, message: str) -> InvalidFilter:
    return InvalidFilter(f"invalid filter at position {pos}: {message}")


def _tokenize(text: str) -> list[_Token]:
    """Split filter text into tokens; positions are character offsets from 0."""
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos] in _SPACE:
            pos += 1
            continue
        token = _next_token(text, pos)
        tokens.append(token)
        pos += len(token.text)
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _next_token(text: str, pos: int) -> _Token:
    char = text[pos]
    if char in _PUNCTUATION:
        return _Token(char, char, pos)
    if char == '"':
        return _string_token(text, pos)
    if char == "-" or "0" <= char <= "9":
        return _number_token(text, pos)
    word = _WORD.match(text, pos)
    if word is None:
        raise _error(pos, f"unexpected character {char!r}")
    return _Token("word", word.group(), pos)


def _string_token(text: str, start: int) -> _Token:
    """A JSON string (RFC 8259 §7), escapes included."""
    pos = start + 1
    while pos < len(text) and text[pos] != '"':
        pos += 2 if text[pos] == "\\" else 1
    if pos >= len(text):
        raise _error(start, "unterminated string: expected a closing '\"'")
    raw = text[start:pos + 1]
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _error(start + exc.pos, f"invalid string: {exc.msg}") from None
    _check_string(value, start)
    return _Token("string", raw, start, value)


def _check_string(value: str, pos: int) -> None:
    if "\x00" in value:
        raise _error(pos, "strings may not contain U+0000")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _error(pos, "strings may not contain unpaired surrogates") from None


def _number_token(text: str, pos: int) -> _Token:
    """A JSON number (RFC 8259 §6): an int without fraction or exponent, else a float."""
    match = _NUMBER.match(text, pos)
    end = match.end() if match else pos + 1
    if match is None or (end < len(text) and (text[end].isalnum() or text[end] in "._$")):
        bad = _WORD.match(text, end)
        raise _error(pos, f"invalid number {text[pos:bad.end() if bad else end + 1]!r}")
    raw = match.group()
    value: int | float = float(raw) if any(c in raw for c in ".eE") else int(raw)
    if not math.isfinite(value):
        raise _error(pos, f"number {raw} is out of range")
    return _Token("number", raw, pos, value)


# --- parser --------------------------------------------------------------------------------------


def parse_filter(text: str, resource_type: ResourceType) -> Filter:
    """Parse a filter (RFC 7644 §3.4.2.2) and resolve its attribute paths against ``resource_type``.

    Precedence is ``not`` > ``and`` > ``or``; attribute names, operators and keywords are
    case-insensitive. Raises ``InvalidFilter`` whose detail gives the 0-based character position of the
    problem and what was expected there.
    """
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilter(f"invalid filter: longer than {MAX_FILTER_LENGTH} characters ({len(text)})")
    return _Parser(text, resource_type).parse()


def resolve_path(resource_type: ResourceType, text: str) -> AttrPath:
    """Resolve an attribute path (RFC 7644 §3.10) in any letter case; KeyError when it names nothing."""
    if text.lower() == SCHEMAS_ATTRIBUTE.name:
        return AttrPath(resource_type.schema.id, SCHEMAS_ATTRIBUTE)
    if text.endswith(".") or ".." in text:
        raise KeyError(text)
    schema, attribute, sub_attribute = find_attribute(resource_type, text)
    return AttrPath(schema.id, attribute, sub_attribute, schema is not resource_type.schema)


class _Parser:
    """Recursive descent over the ABNF of RFC 7644 §3.4.2.2 (Figure 1)."""

    def __init__(self, text: str, resource_type: ResourceType) -> None:
        self._tokens = _tokenize(text)
        self._index = 0
        self._depth = 0
        self._resource_type = resource_type

    def parse(self) -> Filter:
        node = self._or(None)
        token = self._peek()
        if token.kind == ")":
            raise _error(token.pos, "found ')' without a matching '('")
        if token.kind != "end":
            raise _error(token.pos, f"expected 'and', 'or' or the end of the filter, "
                                    f"found {token.describe()}")
        return node

    # -- tokens

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _advance(self) -> _Token:
        token = self._tokens[self._index]
        self._index += 1
        return token

    def _expect(self, kind: str, expected: str) -> _Token:
        token = self._peek()
        if token.kind != kind:
            raise _error(token.pos, f"expected {expected}, found {token.describe()}")
        return self._advance()

    def _enter(self, token: _Token) -> None:
        self._depth += 1
        if self._depth > MAX_FILTER_DEPTH:
            raise _error(token.pos, f"filter nested deeper than {MAX_FILTER_DEPTH} levels")

    # -- logical expressions

    def _or(self, parent: AttrPath | None) -> Filter:
        node = self._and(parent)
        while self._peek().is_word("or"):
            self._advance()
            node = Or(node, self._and(parent))
        return node

    def _and(self, parent: AttrPath | None) -> Filter:
        node = self._unary(parent)
        while self._peek().is_word("and"):
            self._advance()
            node = And(node, self._unary(parent))
        return node

    def _unary(self, parent: AttrPath | None) -> Filter:
        token = self._peek()
        if token.kind == "(":
            return self._group(parent)
        if token.is_word("not"):
            self._advance()
            if self._peek().kind != "(":
                raise _error(self._peek().pos, f"expected '(' after 'not', found {self._peek().describe()}")
            return Not(self._group(parent))
        return self._attribute_expression(parent)

    def _group(self, parent: AttrPath | None) -> Filter:
        opening = self._advance()
        self._enter(opening)
        node = self._or(parent)
        self._expect(")", f"'and', 'or' or ')' to close the '(' at position {opening.pos}")
        self._depth -= 1
        return node

    # -- attribute expressions

    def _attribute_expression(self, parent: AttrPath | None) -> Filter:
        expected = "an attribute path" if parent is None else f"a sub-attribute of '{parent}'"
        token = self._expect("word", expected)
        path = self._resolve(token, parent)
        if self._peek().kind == "[":
            return self._value_path(path, token, parent)
        return self._comparison(path, token)

    def _resolve(self, token: _Token, parent: AttrPath | None) -> AttrPath:
        path = self._resolve_name(token, parent)
        if path.definition.returned == Returned.NEVER:
            raise _error(token.pos, f"attribute '{path}' is never returned and cannot be used in a filter")
        return path

    def _resolve_name(self, token: _Token, parent: AttrPath | None) -> AttrPath:
        if parent is not None:
            sub_attribute = None if ":" in token.text else parent.attribute.sub_attribute(token.text)
            if sub_attribute is None:
                raise _error(token.pos, f"'{parent}' has no sub-attribute {token.text!r}")
            return parent.with_sub(sub_attribute)
        try:
            return resolve_path(self._resource_type, token.text)
        except KeyError:
            raise _error(
                token.pos, f"unknown attribute {token.text!r} for resource type {self._resource_type.name}"
            ) from None

    def _value_path(self, path: AttrPath, token: _Token, parent: AttrPath | None) -> Filter:
        opening = self._peek()
        if parent is not None:
            raise _error(opening.pos, "value filters cannot be nested inside a value filter")
        if path.sub_attribute is not None or path.attribute.type != AttributeType.COMPLEX:
            raise _error(opening.pos, f"a value filter '[...]' needs a complex attribute, "
                                      f"and '{path}' is not one")
        self._advance()
        self._enter(opening)
        inner = self._or(path)
        self._expect("]", f"'and', 'or' or ']' to close the '[' at position {opening.pos}")
        self._depth -= 1
        if self._peek().kind == ".":
            inner = And(inner, self._trailing_sub_attribute(path))
        return ValuePath(path, inner)

    def _trailing_sub_attribute(self, path: AttrPath) -> Filter:
        self._advance()
        token = self._expect("word", f"a sub-attribute of '{path}' after '].'")
        return self._comparison(self._resolve(token, path), token)

    def _comparison(self, path: AttrPath, path_token: _Token) -> Filter:
        op_token = self._peek()
        op = op_token.text.lower() if op_token.kind == "word" else ""
        if op == "pr":
            self._advance()
            self._reject_value_after_pr()
            return Present(path)
        if op not in COMPARISON_OPERATORS:
            raise _error(op_token.pos, f"expected a comparison operator after {path_token.text!r}, "
                                       f"found {op_token.describe()}")
        self._advance()
        value_token = self._advance()
        value = self._literal(value_token, op)
        path = _comparable_path(path, path_token)
        if value is None:
            raise _error(value_token.pos, f"null cannot be compared; use '{path} pr' or 'not ({path} pr)'")
        _check_value(path, op, value, op_token, value_token)
        return Compare(path, op, value)

    def _literal(self, token: _Token, op: str) -> Value | None:
        if token.kind in ("string", "number"):
            return token.value
        if token.kind == "word" and token.text.lower() in _KEYWORD_VALUES:
            return _KEYWORD_VALUES[token.text.lower()]
        raise _error(token.pos, f"expected a value (a JSON string, number, true, false or null) after "
                                f"{op!r}, found {token.describe()}")

    def _reject_value_after_pr(self) -> None:
        token = self._peek()
        if token.kind in ("string", "number") or token.is_word(*_KEYWORD_VALUES):
            raise _error(token.pos, f"'pr' takes no value, found {token.describe()}")


# --- type checks ---------------------------------------------------------------------------------


def _comparable_path(path: AttrPath, token: _Token) -> AttrPath:
    """A complex multi-valued attribute without sub-attribute compares its ``value`` (§3.4.2.2)."""
    if path.definition.type != AttributeType.COMPLEX:
        return path
    value = path.attribute.sub_attribute("value") if path.attribute.multi_valued else None
    if value is None:
        example = path.attribute.sub_attributes[0].name if path.attribute.sub_attributes else "value"
        raise _error(token.pos, f"'{path}' is a complex attribute: compare one of its sub-attributes "
                                f"(e.g. '{path}.{example}') or use 'pr'")
    return path.with_sub(value)


def _check_value(path: AttrPath, op: str, value: Value, op_token: _Token, value_token: _Token) -> None:
    """Refuse operator and value combinations that cannot fit the attribute (RFC 7644 §3.4.2.2)."""
    kind = path.definition.type
    if op in ORDERING_OPERATORS and kind in (AttributeType.BOOLEAN, AttributeType.BINARY):
        raise _error(op_token.pos, f"{op!r} cannot be used on the {kind.value} attribute '{path}'")
    if op in SUBSTRING_OPERATORS and kind not in STRING_TYPES:
        raise _error(op_token.pos, f"{op!r} needs a string attribute, and '{path}' is {kind.value}")
    expected = _expected_value(kind, value)
    if expected is not None:
        raise _error(value_token.pos, f"'{path}' is a {kind.value} attribute: expected {expected}, "
                                      f"found {value_token.text}")


def _expected_value(kind: AttributeType, value: Value) -> str | None:
    """What ``kind`` needs when ``value`` does not fit it, else None."""
    if kind in STRING_TYPES:
        return None if isinstance(value, str) else "a string"
    if kind == AttributeType.BOOLEAN:
        return None if isinstance(value, bool) else "true or false"
    if kind == AttributeType.DATETIME:
        fits = isinstance(value, str) and datetime_key(value) is not None
        return None if fits else 'a dateTime string like "2011-05-13T04:42:34Z"'
    if kind not in NUMBER_TYPES:
        return None
    if isinstance(value, (str, bool)) or (kind == AttributeType.INTEGER and isinstance(value, float)):
        return "an integer" if kind == AttributeType.INTEGER else "a number"
    if isinstance(value, int) and not -_INT64 <= value < _INT64:
        return "a number between -2^63 and 2^63-1"
    return None
