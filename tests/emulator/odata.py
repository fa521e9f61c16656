"""Tiny OData helpers shared by Graph and Dataverse: $filter (eq/ne/gt/ge/lt/le, and/or/not, parentheses,
startswith/endswith/contains), $select, and opaque skip tokens for paging."""
import base64
import json
import re

_TOKEN = re.compile(r"""\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>\(|\)|,)|(?P<word>[^\s(),']+))""")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}


class ODataError(ValueError):
    pass


def _tokenize(text):
    pos, out = 0, []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise ODataError(f"Syntax error at position {pos} in '{text}'.")
        pos = m.end()
        if m.group("str") is not None:
            out.append(("lit", m.group("str")[1:-1].replace("''", "'")))
        elif m.group("op"):
            out.append(("op", m.group("op")))
        elif m.group("word"):
            out.append(("word", m.group("word")))
    return out


def _literal(word):
    low = word.lower()
    if low == "null":
        return None
    if low in ("true", "false"):
        return low == "true"
    if _GUID.match(word):
        return word.lower()
    try:
        return int(word)
    except ValueError:
        try:
            return float(word)
        except ValueError:
            return _Prop(word)


class _Prop(str):
    """A bare word that is not a literal: a property name."""


def _either(left, right):
    return lambda g: left(g) or right(g)


def _both(left, right):
    return lambda g: left(g) and right(g)


def parse_filter(text, typecheck=None):
    """Return a predicate ``f(get) -> bool`` where ``get(name)`` returns the row value.

    ``typecheck(prop, kind)`` may raise ODataError; kind is string/guid/number/bool/null."""
    tokens = _tokenize(text)
    pos = [0]

    def peek():
        return tokens[pos[0]] if pos[0] < len(tokens) else (None, None)

    def take():
        tok = peek()
        pos[0] += 1
        return tok

    def parse_or():
        left = parse_and()
        while peek() == ("word", "or") or (peek()[0] == "word" and peek()[1].lower() == "or"):
            take()
            right = parse_and()
            left = _either(left, right)
        return left

    def parse_and():
        left = parse_unary()
        while peek()[0] == "word" and peek()[1].lower() == "and":
            take()
            right = parse_unary()
            left = _both(left, right)
        return left

    def parse_unary():
        kind, val = peek()
        if kind == "word" and val.lower() == "not":
            take()
            inner = parse_unary()
            return lambda g: not inner(g)
        if kind == "op" and val == "(":
            take()
            inner = parse_or()
            if take() != ("op", ")"):
                raise ODataError("Expected ')'.")
            return inner
        if kind == "word" and val.lower() in ("startswith", "endswith", "contains") and \
                pos[0] + 1 < len(tokens) and tokens[pos[0] + 1] == ("op", "("):
            take(), take()
            prop = take()[1]
            if take() != ("op", ","):
                raise ODataError("Expected ','.")
            lit = take()[1]
            if take() != ("op", ")"):
                raise ODataError("Expected ')'.")
            fn = {"startswith": str.startswith, "endswith": str.endswith,
                  "contains": lambda a, b: b in a}[val.lower()]
            return lambda g: fn(str(g(prop) or "").lower(), str(lit).lower())
        return parse_comparison()

    def parse_comparison():
        kind, prop = take()
        if kind != "word":
            raise ODataError(f"Unexpected token in '{text}'.")
        kind, op = take()
        if kind != "word" or op.lower() not in COMPARISONS:
            raise ODataError(f"Expected a comparison after '{prop}'.")
        kind, raw = take()
        if kind == "lit":
            value, vkind = raw, "string"
        elif kind == "word":
            value = _literal(raw)
            if isinstance(value, _Prop):
                raise ODataError(f"Invalid literal '{raw}'.")
            vkind = ("null" if value is None else "bool" if isinstance(value, bool) else
                     "guid" if isinstance(value, str) else "number")
        else:
            raise ODataError("Expected a literal.")
        if typecheck:
            typecheck(prop, vkind)
        return lambda g: _compare(g(prop), op.lower(), value)

    pred = parse_or()
    if pos[0] != len(tokens):
        raise ODataError(f"Unexpected trailing tokens in '{text}'.")
    return pred


def _norm(v):
    return v.lower() if isinstance(v, str) else v  # string and GUID comparison is case-insensitive


def _compare(left, op, right):
    left, right = _norm(left), _norm(right)
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if left is None or right is None:
        return False
    return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op]


def filter_props(text):
    """Property names a filter mentions (for unknown-property errors)."""
    names, tokens = [], _tokenize(text)
    for i, (kind, val) in enumerate(tokens):
        if kind == "word" and i + 1 < len(tokens) and tokens[i + 1][0] == "word" and \
                tokens[i + 1][1].lower() in COMPARISONS:
            names.append(val)
        if kind == "word" and val.lower() in ("startswith", "endswith", "contains") and i + 2 < len(tokens):
            names.append(tokens[i + 2][1])
    return names


def parse_select(text):
    return [s.strip() for s in (text or "").split(",") if s.strip()]


def parse_expand(text):
    """'nav($select=a,b),other' -> {"nav": {"$select": "a,b"}, "other": {}}"""
    out, depth, cur = {}, 0, ""
    parts = []
    for ch in text or "":
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur:
        parts.append(cur)
    for part in parts:
        name, dummy, rest = part.strip().partition("(")
        opts = {}
        for opt in _split_semicolons(rest[:-1] if rest.endswith(")") else rest):
            key, dummy, val = opt.partition("=")
            opts[key.strip()] = val
        out[name.strip()] = opts
    return out


def _split_semicolons(text):
    return [p for p in text.split(";") if p.strip()]


def make_skiptoken(offset):
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def read_skiptoken(token):
    try:
        return int(json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["o"])
    except Exception as exc:
        raise ODataError("Invalid skip token.") from exc
