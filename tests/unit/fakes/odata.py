# SPDX-License-Identifier: GPL-3.0-or-later
"""The OData query options the fakes answer: $select, $expand and a $filter subset.

$filter: eq/ne/gt/ge/lt/le, and/or/not, parentheses, 'strings' ('' escapes), null, true/false,
numbers and GUIDs. String and GUID comparisons ignore case, as Dataverse (SQL collation) and
Graph's directory properties do. Anything else (functions such as contains()) fails the test
loudly rather than matching by accident.
"""

from __future__ import annotations

import re

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_TOKEN = re.compile(r"\s*(?:(\()|(\))|('(?:[^']|'')*')|([^\s()']+))")
_OPERATORS = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
              "gt": lambda a, b: a is not None and b is not None and a > b,
              "ge": lambda a, b: a is not None and b is not None and a >= b,
              "lt": lambda a, b: a is not None and b is not None and a < b,
              "le": lambda a, b: a is not None and b is not None and a <= b}


def select_list(select):
    """'a,b' or ('a', 'b') or None -> ['a', 'b'] (empty: no $select)."""
    if not select:
        return []
    if isinstance(select, str):
        select = select.split(",")
    return [s.strip() for s in select if s and s.strip()]


def split_top_level(text, sep=","):
    """Split at sep outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_expand(text):
    """'nav($select=a,b),other' -> {'nav': ['a', 'b'], 'other': []}."""
    out = {}
    for item in split_top_level(text or ""):
        name, _paren, options = item.partition("(")
        select = []
        for option in split_top_level(options.rstrip(")"), ";"):
            key, _eq, value = option.partition("=")
            if key.strip() != "$select":
                raise AssertionError("the fakes answer $expand with $select only, not %r" % option)
            select = select_list(value)
        out[name.strip()] = select
    return out


def _tokens(text):
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise AssertionError("cannot read $filter %r at %d" % (text, pos))
        out.append(next(g for g in match.groups() if g is not None))
        pos = match.end()
    return out


def _literal(token):
    if token.startswith("'"):
        return token[1:-1].replace("''", "'")
    low = token.lower()
    if _GUID.match(token):
        return low
    if low == "null":
        return None
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        return _PROPERTY  # not a literal: a property path


_PROPERTY = object()


def _fold(value):
    return value.casefold() if isinstance(value, str) else value


def _lookup(row, path):
    value = row
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class _Parser:
    def __init__(self, text):
        self.text, self.tokens, self.pos = text, _tokens(text), 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self):
        token = self.peek()
        if token is None:
            raise AssertionError("$filter %r ends too early" % self.text)
        self.pos += 1
        return token

    def parse(self):
        node = self.or_()
        if self.peek() is not None:
            raise AssertionError("$filter %r: unexpected %r" % (self.text, self.peek()))
        return node

    def _chain(self, word, operand, combine):
        node = operand()
        while (self.peek() or "").lower() == word:
            self.take()
            node = combine(node, operand())
        return node

    def or_(self):
        return self._chain("or", self.and_, _either)

    def and_(self):
        return self._chain("and", self.not_, _both)

    def not_(self):
        if (self.peek() or "").lower() == "not":
            self.take()
            inner = self.not_()
            return lambda row: not inner(row)
        if self.peek() == "(":
            self.take()
            node = self.or_()
            if self.take() != ")":
                raise AssertionError("$filter %r: missing )" % self.text)
            return node
        return self.comparison()

    def operand(self):
        token = self.take()
        if self.peek() == "(":
            raise AssertionError("the fakes do not answer the OData function %s() in $filter %r" % (token, self.text))
        value = _literal(token)
        if value is _PROPERTY:
            return lambda row: _fold(_lookup(row, token))
        return lambda row: _fold(value)

    def comparison(self):
        left = self.operand()
        operator = self.take().lower()
        if operator not in _OPERATORS:
            raise AssertionError("$filter %r: unknown operator %r" % (self.text, operator))
        right = self.operand()
        compare = _OPERATORS[operator]
        return lambda row: compare(left(row), right(row))


def _either(left, right):
    return lambda row: left(row) or right(row)


def _both(left, right):
    return lambda row: left(row) and right(row)


def matcher(filter_expr):
    """A predicate over rows (dicts) for an OData $filter; None or '' matches every row."""
    if not filter_expr:
        return lambda row: True
    return _Parser(filter_expr).parse()
