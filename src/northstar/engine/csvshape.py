"""Where a CSV file's rows stop matching its header.

DuckDB's sniffer, given one row with more or fewer fields than the header, reads the whole
file as one text column named after the header line (`ts,user,event`), or gives up with a page
about dialects; neither says which line is wrong. This reads the file as Python's csv module
does and names the first row that does not fit.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

SCAN_BYTES = 256 * 1024 * 1024  # rows read at most while looking (a bad row is usually early)
DELIMITERS = ",;\t|"


@dataclass(frozen=True)
class RaggedRow:
    """The first row whose number of fields differs from the header's."""

    path: str
    line: int
    fields: int
    expected: int
    text: str

    def message(self, source: str) -> str:
        sample = self.text if len(self.text) <= 80 else self.text[:79] + "…"
        return (f"source '{source}': {self.path} line {self.line:,} has {self.fields} fields where the header has "
                f"{self.expected} ({sample!r}): fix that row (quote a field that holds the delimiter)")


def binary(path: str) -> bool:
    """Does the file start with bytes no text file holds (NUL, or mostly not UTF-8)?"""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8192)
    except OSError:
        return False
    if b"\x00" in head:
        return True
    return head.decode("utf-8", errors="replace").count("\ufffd") > len(head) // 20


def first_ragged_row(path: str) -> RaggedRow | None:
    """The first row of `path` with another number of fields than its header, or None (also for
    a file that is not delimited text)."""
    if binary(path):
        return None
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            header = handle.readline()
            delimiter = max(DELIMITERS, key=header.count)
            if not header.count(delimiter):
                return None
            expected = len(next(csv.reader([header], delimiter=delimiter)))
            reader = csv.reader(handle, delimiter=delimiter)
            read = len(header)
            for row in reader:
                if row and len(row) != expected:
                    text = delimiter.join(row)
                    return RaggedRow(Path(path).name, reader.line_num + 1, len(row), expected, text)
                read += sum(len(f) + 1 for f in row)
                if read > SCAN_BYTES:
                    return None
    except (OSError, csv.Error):
        return None
    return None
