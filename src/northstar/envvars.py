"""`${VAR}` references in the spec (tokens, webhook URLs, engine credentials): replaced by the
environment's values only where they are used, so that no secret is written in the spec."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand(text: str, missing: Callable[[str], Exception], found: list[str] | None = None) -> str:
    """`text` with each `${VAR}` replaced by the variable's value. A variable that is not set
    raises `missing(name)` (the caller's own error, naming the variable, never a value); the
    values used are appended to `found` when given (to keep them out of messages)."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise missing(name)
        if found is not None and os.environ[name]:
            found.append(os.environ[name])
        return os.environ[name]

    return REFERENCE.sub(value, text)
