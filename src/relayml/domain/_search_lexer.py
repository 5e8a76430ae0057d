"""The run-search lexer: filter and order-by text scanned into tokens, and the caret error.

The grammar itself is described in relayml.domain.search, which parses these tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NoReturn

from relayml.errors import InvalidInput

__all__ = ["WORD_RE", "Token", "fail_at", "shorten", "tokenize"]

WORD_RE = re.compile(r"[A-Za-z0-9_.\-/:]+")
_NUMBER_RE = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_QUOTE_KINDS = {"'": "string", '"': "dquoted", "`": "bquoted"}


@dataclass(frozen=True)
class Token:
    kind: str  # word number string dquoted bquoted op ( ) , end
    text: str  # exactly as typed
    value: str  # the content of a quoted token, else the text
    pos: int


def fail_at(source: str, label: str, pos: int, message: str, found: str) -> NoReturn:
    """Raise InvalidInput for ``source`` with a caret under position ``pos``."""
    shown = "".join(" " if ch.isspace() else ch for ch in source)
    raise InvalidInput(
        f"Invalid {label}: {message}, found {found} at position {pos}\n  {shown}\n  {' ' * pos}^"
    )


def shorten(text: str) -> str:
    """Quote ``text`` for an error message, cut to 40 characters."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


def tokenize(source: str, label: str) -> list[Token]:
    """Scan ``source`` into tokens ending with an "end" token; ``label`` names it in errors."""
    tokens: list[Token] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
        elif ch in "(),":
            tokens.append(Token(ch, ch, ch, i))
            i += 1
        elif ch in "<>=!":
            two = source[i : i + 2]
            if two in ("<=", ">=", "!=", "=="):
                tokens.append(Token("op", two, "=" if two == "==" else two, i))
                i += 2
            elif ch == "!":
                fail_at(source, label, i, "expected '!=' (not equal)", repr(ch))
            else:
                tokens.append(Token("op", ch, ch, i))
                i += 1
        elif ch in _QUOTE_KINDS:
            token = _quoted(source, label, i)
            tokens.append(token)
            i += len(token.text)
        elif (m := _NUMBER_RE.match(source, i)) and not WORD_RE.match(source, m.end()):
            tokens.append(Token("number", m.group(), m.group(), i))
            i = m.end()
        elif m := WORD_RE.match(source, i):
            tokens.append(Token("word", m.group(), m.group(), i))
            i = m.end()
        else:
            hint = " (combine conditions with 'and' / 'or')" if ch in "&|" else ""
            fail_at(source, label, i, f"unexpected character{hint}", repr(ch))
    tokens.append(Token("end", "", "", n))
    return tokens


def _quoted(source: str, label: str, start: int) -> Token:
    quote, i = source[start], start + 1
    parts: list[str] = []
    while (j := source.find(quote, i)) >= 0:
        parts.append(source[i:j])
        if source[j + 1 : j + 2] != quote:
            return Token(_QUOTE_KINDS[quote], source[start : j + 1], "".join(parts), start)
        parts.append(quote)
        i = j + 2
    message = f"unterminated {'key' if quote == '`' else 'string'}: expected a closing {quote}"
    fail_at(source, label, start, message, shorten(source[start:]))
