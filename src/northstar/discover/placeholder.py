"""The customer-value sentence discover proposes, and how `check` recognises it unchanged.

Step 1 asks for the job customers hire the product for, in their words. Without an answer
(`--yes`, or Enter) discover writes a template sentence built from the data, marked as a
placeholder; `northstar check` reports a spec whose `customer_value` is still that text as an
error. Recognition is by the exact texts discover writes (the mark, and the templates of
earlier versions, which had no mark), not by guessing words.
"""

from __future__ import annotations

import re

MARK = "(placeholder: rewrite it in your customers' words)"
_WHO = r"[A-Z][A-Za-z0-9]*s"
# What discover wrote before the mark existed: "Users get what they came for: next song" and
# "Customers get the job they hired the product for done".
_EARLIER = (re.compile(rf"{_WHO} get what they came for: .+"),
            re.compile(rf"{_WHO} get the job they hired the product for done"))


def customer_value_placeholder(who: str, activity: str | None) -> str:
    """`Users get what they came for: posts (placeholder: ...)`; `who` is singular."""
    people = who.capitalize() + "s"
    if activity:
        return f"{people} get what they came for: {activity} {MARK}"
    return f"{people} get the job they hired the product for done {MARK}"


def is_placeholder(text: str | None) -> bool:
    """Is this the sentence discover proposed, unchanged (this version's or an earlier one's)?"""
    if not text:
        return False
    value = " ".join(text.split())
    return value.endswith(MARK) or any(pattern.fullmatch(value) for pattern in _EARLIER)
