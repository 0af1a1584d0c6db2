"""A strict parser for the `$filter` language Graph accepts on users.

Supported: `eq`/`ne`/`in` against single-quoted string literals (`''` escapes a quote), `true`, `false`, `null`;
`startswith(prop,'x')`, `endswith(prop,'x')`; `any` lambdas on string collections
(`otherMails/any(m:m eq 'x')`); `and`, `or`, `not`, parentheses. String comparisons ignore case, as Graph's do.
`signInActivity/<date> eq|ne|ge|le <DateTimeOffset>|null`, never combined with another property (Graph v1.0 user
resource: signInActivity "Supports $filter (eq, ne, not, ge, le) but not with any other filterable properties").
`ne`, `not` and `endswith` are "advanced" operators: the parse result names them so the caller can insist on
`ConsistencyLevel: eventual` + `$count=true`; so are `startsWith`, `eq` and `in` on the properties where
aad-advanced-queries.md's table marks them "Advanced" (schema.USER_STARTSWITH, USER_EQ_ADVANCED), and `startsWith` on a
property whose cell is blank is refused outright.

`ParsedFilter.upn_prefix` is the prefix a `startswith(userPrincipalName,'...')` conjunct of the whole filter demands
(None when the filter has none): every match starts with it, so a listing can be served from the userPrincipalName
index from that prefix on instead of testing every user.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import GraphError, bad_request, unsupported_query
from .schema import (
    BOOLEAN,
    SIGN_IN_ACTIVITY,
    SIGN_IN_DATES,
    STRING,
    STRINGS,
    USER_EQ_ADVANCED,
    USER_FILTERABLE,
    USER_PROPERTIES,
    USER_STARTSWITH,
    canonical,
)

# filter-query-parameter.md, operators table: "When using the in operator, the request is by default limited to 15
# expressions in the filter clause" (advanced queries lift it, up to a URL of 2,048 characters).
MAX_IN_VALUES = 15

Predicate = Callable[[dict, Any], bool]
Getter = Callable[[dict, Any], Any]

_TOKEN = re.compile(r"\s*(?:(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))"
                    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<number>\d+(?:\.\d+)?)"
                    r"|(?P<punct>[(),:/])|(?P<quote>'))")
_COMPARISONS = ("gt", "ge", "lt", "le", "has")
_FUNCTIONS = ("startswith", "endswith")
_NO_MATCH = object()


@dataclass
class Token:
    """One lexical token: kind is ident, number, punct, string or end."""

    kind: str
    value: Any
    pos: int


@dataclass
class ParsedFilter:
    """A compiled filter: `matches(props)` and the advanced operators it uses."""

    predicate: Predicate
    advanced: list[str] = field(default_factory=list)
    properties: set[str] = field(default_factory=set)
    upn_prefix: str | None = None
    ids: frozenset[str] | None = None  # the ids an `id eq` / `id in` conjunct of the whole filter demands

    def matches(self, props: dict) -> bool:
        return self.predicate(props, _NO_MATCH)


def parse_filter(text: str) -> ParsedFilter:
    """Compile a user `$filter`; GraphError 400 (BadRequest "Invalid filter clause…" or an unsupported query)."""
    parser = _Parser(text, tokenize(text))
    predicate = parser.expression()
    parser.expect_end()
    if SIGN_IN_ACTIVITY in parser.properties and len(parser.properties) > 1:
        # Graph's wording for this refusal is not documented; the code is that of every unsupported filter.
        raise unsupported_query(f"Unsupported or invalid query filter clause specified for property "
                                f"'{SIGN_IN_ACTIVITY}' of resource 'User'.")
    return ParsedFilter(predicate, parser.advanced, parser.properties, parser.prefix, parser.ids)


def filter_error(detail: str) -> GraphError:
    """400 BadRequest "Invalid filter clause: <detail>"."""
    return bad_request(f"Invalid filter clause: {detail}")


def tokenize(text: str) -> list[Token]:
    """Split a filter into tokens; an invalid character or an unterminated string is a filter error."""
    tokens, pos = [], 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            bad = text[pos:].lstrip()[0]
            at = len(text) - len(text[pos:].lstrip())
            raise filter_error(f"Syntax error: character '{bad}' is not valid at position {at} in '{text}'.")
        if match.group("quote"):
            value, pos = _read_string(text, match.end())
            tokens.append(Token("string", value, match.start("quote")))
            continue
        kind = match.lastgroup
        tokens.append(Token(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    tokens.append(Token("end", None, len(text)))
    return tokens


def _read_string(text: str, pos: int) -> tuple[str, int]:
    """Read a literal body starting after its opening quote; `''` is one quote. Returns (value, next pos)."""
    chars = []
    while pos < len(text):
        if text[pos] == "'":
            if text[pos + 1:pos + 2] == "'":
                chars.append("'")
                pos += 2
                continue
            return "".join(chars), pos + 1
        chars.append(text[pos])
        pos += 1
    raise filter_error(f"Syntax error: unterminated string literal in '{text}'.")


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    return left == right


def _affix_test(getter: Getter, needle: str, function: str) -> Predicate:
    def test(props: dict, value: Any) -> bool:
        text = getter(props, value)
        if not isinstance(text, str):
            return False
        folded = text.casefold()
        return folded.startswith(needle) if function == "startswith" else folded.endswith(needle)
    return test


def _date_test(date_field: str, operator: str, literal: datetime | None) -> Predicate:
    """Compare one signInActivity date; a null date matches only `eq null` / `ne <date>`."""
    def test(props: dict, value: Any) -> bool:
        raw = (props.get(SIGN_IN_ACTIVITY) or {}).get(date_field)
        moment = datetime.fromisoformat(raw) if raw else None
        if operator in ("eq", "ne"):
            return (moment == literal) == (operator == "eq")
        if moment is None or literal is None:
            return False
        return moment >= literal if operator == "ge" else moment <= literal
    return test


def _either(left: Predicate, right: Predicate) -> Predicate:
    return lambda p, v: left(p, v) or right(p, v)


def _both(left: Predicate, right: Predicate) -> Predicate:
    return lambda p, v: left(p, v) and right(p, v)


class _Parser:
    """Recursive descent over the token list; builds predicates `(props, lambda_value) -> bool`."""

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0
        self.advanced: list[str] = []
        self.properties: set[str] = set()
        self.variable: str | None = None
        self.prefix: str | None = None  # the userPrincipalName prefix the expression just parsed demands
        self.ids: frozenset[str] | None = None  # the ids the expression just parsed demands (id eq / id in)

    # token helpers
    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.index += 1
        return token

    def is_word(self, word: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token.kind == "ident" and token.value == word

    def is_punct(self, char: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token.kind == "punct" and token.value == char

    def expect_punct(self, char: str) -> None:
        if not self.is_punct(char):
            raise self.syntax_error(f"'{char}' expected")
        self.index += 1

    def expect_end(self) -> None:
        if self.peek().kind != "end":
            raise self.syntax_error("end of expression expected")

    def syntax_error(self, what: str) -> GraphError:
        token = self.peek()
        found = "end of input" if token.kind == "end" else f"'{token.value}'"
        return filter_error(f"Syntax error: {what} at position {token.pos} (found {found}) in '{self.text}'.")

    def use_advanced(self, operator: str) -> None:
        if operator not in self.advanced:
            self.advanced.append(operator)

    # grammar
    def expression(self) -> Predicate:
        left = self.conjunction()
        prefix, ids = self.prefix, self.ids
        while self.is_word("or"):
            self.index += 1
            right = self.conjunction()
            left = _either(left, right)
            prefix = ids = None  # a disjunction demands no prefix and no ids
        self.prefix, self.ids = prefix, ids
        return left

    def conjunction(self) -> Predicate:
        self.prefix = self.ids = None
        left = self.unary()
        prefix, ids = self.prefix, self.ids
        while self.is_word("and"):
            self.index += 1
            self.prefix = self.ids = None
            right = self.unary()
            prefix = prefix or self.prefix  # any conjunct's prefix holds for the whole conjunction
            ids = ids if self.ids is None else self.ids if ids is None else ids & self.ids
            left = _both(left, right)
        self.prefix, self.ids = prefix, ids
        return left

    def unary(self) -> Predicate:
        if self.is_word("not"):
            self.index += 1
            self.use_advanced("not")
            inner = self.unary()
            self.prefix = self.ids = None
            return lambda p, v: not inner(p, v)
        self.prefix = self.ids = None
        return self.primary()

    def primary(self) -> Predicate:
        if self.is_punct("("):
            self.index += 1
            inner = self.expression()
            self.expect_punct(")")
            return inner
        token = self.peek()
        if token.kind == "ident" and self.is_punct("(", 1):
            if token.value.lower() not in _FUNCTIONS:
                raise unsupported_query(f"Unsupported function '{token.value}' in filter clause.")
            return self.function()
        if token.kind == "ident" and token.value not in ("and", "or", "eq", "ne", "true", "false", "null"):
            return self.property_clause()
        raise self.syntax_error("expression expected")

    def function(self) -> Predicate:
        name = self.next().value.lower()
        self.expect_punct("(")
        getter, kind, label = self.operand()
        if kind != STRING:
            raise filter_error(f"function '{name}' needs a string property, not '{label}'.")
        self.expect_punct(",")
        literal = self.literal()
        if not isinstance(literal, str):
            raise filter_error(f"function '{name}' needs a string literal.")
        self.expect_punct(")")
        if name == "endswith":
            self.use_advanced("endswith")
        elif label != self.variable:
            self._check_startswith(label)
            if label == "userPrincipalName":
                self.prefix = literal.casefold()
        return _affix_test(getter, literal.casefold(), name)

    def _check_startswith(self, prop: str) -> None:
        """aad-advanced-queries.md's filter table: startsWith by default, only with advanced query parameters, or
        (a blank cell) not at all on the property."""
        support = USER_STARTSWITH.get(prop)
        if support is None:
            raise unsupported_query(f"Unsupported or invalid query filter clause specified for property '{prop}' "
                                    "of resource 'User'.")
        if support == "advanced":
            self.use_advanced("startsWith")

    def property_clause(self) -> Predicate:
        if self.is_punct("/", 1) and canonical(USER_PROPERTIES, self.peek().value) == SIGN_IN_ACTIVITY:
            return self.sign_in_clause()
        if self.is_punct("/", 1):
            return self.lambda_clause()
        getter, kind, label = self.operand()
        if kind == STRINGS:
            raise filter_error(f"'{label}' is a collection: compare its items with {label}/any(x:x eq '...').")
        operator = self.next()
        if operator.kind == "ident" and operator.value in ("eq", "ne"):
            predicate = self.comparison(getter, kind, operator.value, label)
            if label == "id" and operator.value == "eq" and self.variable is None:
                self.ids = frozenset({str(self.tokens[self.index - 1].value).lower()})
            return predicate
        if operator.kind == "ident" and operator.value == "in":
            if label in USER_EQ_ADVANCED:  # "The in operator is supported by default whenever eq ... is"
                self.use_advanced("in")
            start = self.index
            predicate = self.membership(getter, kind)
            if label == "id" and self.variable is None:
                self.ids = frozenset(str(t.value).lower() for t in self.tokens[start:self.index] if t.kind == "string")
            return predicate
        if operator.kind == "ident" and operator.value in _COMPARISONS:
            raise unsupported_query(f"Operator '{operator.value}' is not supported for property '{label}'.")
        self.index -= 1
        raise self.syntax_error("operator expected")

    def operand(self) -> tuple[Getter, str, str]:
        token = self.next()
        if token.kind != "ident":
            self.index -= 1
            raise self.syntax_error("property expected")
        if self.variable is not None:
            if token.value != self.variable:
                raise filter_error(f"'{token.value}' is not the lambda variable '{self.variable}'.")
            return (lambda p, v: v), STRING, token.value
        prop = self.user_property(token.value)
        return (lambda p, v: p.get(prop)), USER_PROPERTIES[prop], prop

    def user_property(self, name: str) -> str:
        prop = canonical(USER_PROPERTIES, name)
        if prop is None:
            raise bad_request(f"Could not find a property named '{name}' on type 'microsoft.graph.user'.")
        self.properties.add(prop)
        if prop not in USER_FILTERABLE:
            raise unsupported_query(
                f"Unsupported or invalid query filter clause specified for property '{prop}' of resource 'User'.")
        return prop

    def comparison(self, getter: Getter, kind: str, operator: str, label: str = "") -> Predicate:
        literal = self.literal()
        self.check_type(kind, literal)
        if label in USER_EQ_ADVANCED:  # aad-advanced-queries.md's table: `eq` "Advanced" on this property
            self.use_advanced("eq")
        if operator == "ne":
            self.use_advanced("ne")
            return lambda p, v: not _equal(getter(p, v), literal)
        return lambda p, v: _equal(getter(p, v), literal)

    def membership(self, getter: Getter, kind: str) -> Predicate:
        self.expect_punct("(")
        values = [self.literal()]
        while self.is_punct(","):
            self.index += 1
            values.append(self.literal())
        self.expect_punct(")")
        for value in values:
            self.check_type(kind, value)
        if len(values) > MAX_IN_VALUES:  # filter-query-parameter.md: "limited to 15 expressions" by default
            self.use_advanced(f"in with more than {MAX_IN_VALUES} values")
        return lambda p, v: any(_equal(getter(p, v), value) for value in values)

    def lambda_clause(self) -> Predicate:
        if self.variable is not None:
            raise filter_error("nested lambda expressions are not supported.")
        prop = self.user_property(self.next().value)
        self.expect_punct("/")
        function = self.next()
        if function.kind != "ident" or function.value.lower() not in ("any", "all"):
            self.index -= 1
            raise self.syntax_error("'any' expected")
        if function.value.lower() == "all" or USER_PROPERTIES[prop] != STRINGS:
            raise unsupported_query(f"Unsupported query: lambda '{function.value}' on property '{prop}'.")
        return self.lambda_body(prop)

    def lambda_body(self, prop: str) -> Predicate:
        self.expect_punct("(")
        variable = self.next()
        if variable.kind != "ident":
            self.index -= 1
            raise self.syntax_error("lambda variable expected")
        self.expect_punct(":")
        self.variable = variable.value
        body = self.expression()
        self.variable = None
        self.expect_punct(")")
        return lambda p, v: any(body(p, item) for item in p.get(prop) or [])

    def sign_in_clause(self) -> Predicate:
        self.index += 1
        self.expect_punct("/")
        token = self.next()
        date_field = next((name for name in SIGN_IN_DATES if token.kind == "ident"
                           and name.lower() == str(token.value).lower()), None)
        if date_field is None:
            raise bad_request(f"Could not find a property named '{token.value}' on type "
                              "'microsoft.graph.signInActivity'.")
        self.properties.add(SIGN_IN_ACTIVITY)
        operator = self.next()
        if operator.kind != "ident" or operator.value not in ("eq", "ne", "ge", "le", "gt", "lt", "in", "has"):
            self.index -= 1
            raise self.syntax_error("operator expected")
        if operator.value not in ("eq", "ne", "ge", "le"):
            raise unsupported_query(f"Operator '{operator.value}' is not supported for property '{date_field}'.")
        literal = self.literal()
        if literal is not None and not isinstance(literal, datetime):
            raise filter_error("A binary operator with incompatible types was detected. Found operand types "
                               "'Edm.DateTimeOffset' and 'Edm.String'.")
        if operator.value == "ne":
            self.use_advanced("ne")
        return _date_test(date_field, operator.value, literal)

    def literal(self) -> Any:
        token = self.next()
        if token.kind == "datetime":
            return datetime.fromisoformat(token.value)
        if token.kind == "string":
            return token.value
        if token.kind == "ident" and token.value in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[token.value]
        self.index -= 1
        raise self.syntax_error("literal expected")

    def check_type(self, kind: str, literal: Any) -> None:
        if literal is None:
            return
        expected = str if kind == STRING else bool
        if kind not in (STRING, BOOLEAN) or not isinstance(literal, expected):
            found = "Edm.Boolean" if isinstance(literal, bool) else "Edm.String"
            wanted = "Edm.String" if kind == STRING else "Edm.Boolean"
            raise filter_error("A binary operator with incompatible types was detected. "
                               f"Found operand types '{wanted}' and '{found}' for operator kind 'Equal'.")
