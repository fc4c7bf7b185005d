"""The result cache's folder is not trusted: what is planted there is never run nor served.

`.northstar/cache/` may be a shared folder or a CI cache restored from another run, so anyone
could write to it. These tests plant what an attacker would (a pickle that runs code, an Arrow
file with other numbers, a truncated or renamed entry, a FIFO, a symbolic link) and check that
the project answers with the numbers it computes, never runs the code, and says so in the log.
Also: the key file's permissions, two processes writing one entry, and the folder's bound.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from northstar.engine import cache_seal
from northstar.engine.cache import ResultCache
from northstar.engine.cache_codec import decode, encode
from northstar.project import Project

SPEC = """\
project: Integrity
sources:
  events: {{path: events.csv, timestamp: ts, entity: user, dimensions: [country]}}
metrics:
  plays: {{source: events, agg: count}}
  users: {{source: events, agg: count_distinct}}
north_star: {{metric: plays, grain: week}}
{engine}"""

ROWS = "ts,user,country\n2024-01-01 10:00:00,a,NL\n2024-01-02 10:00:00,b,SE\n2024-01-09 11:00:00,a,NL\n"
PLAYS = [2, 1]  # by hand: two events in the week of 2024-01-01, one in the week of 2024-01-08


@pytest.fixture(autouse=True)
def key_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test has a key of its own under its own XDG_CACHE_HOME."""
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("NORTHSTAR_CACHE", raising=False)
    return home


def _folder(tmp_path: Path, engine: str = "") -> Path:
    (tmp_path / "events.csv").write_text(ROWS)
    (tmp_path / "northstar.yml").write_text(SPEC.format(engine=engine))
    return tmp_path


def _plays(folder: Path) -> list[int]:
    return Project.load(folder / "northstar.yml").query("plays")["plays"].tolist()


def _entries(folder: Path) -> list[Path]:
    return sorted((folder / ".northstar" / "cache").glob("*.result"))


def _cache(folder: Path) -> ResultCache:
    spec = Project.load(folder / "northstar.yml").spec
    return ResultCache(folder / ".northstar" / "cache", spec, folder)


# ---- forged entries are not served -----------------------------------------------------------


def test_a_forged_entry_with_other_numbers_is_not_served(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = _folder(tmp_path)
    assert _plays(folder) == PLAYS
    [entry] = _entries(folder)
    sealed = entry.read_bytes()
    frame = decode(sealed[cache_seal.HEADER:])
    frame["plays"] = [1000, 2000]
    forged = encode(frame)
    assert forged is not None and decode(forged)["plays"].tolist() == [1000, 2000]  # valid Arrow
    # the old seal kept, the new numbers behind it (and: a seal under a key the attacker made up)
    for attempt in (sealed[:cache_seal.HEADER] + forged, cache_seal.seal(b"k" * 32, entry.stem, forged)):
        entry.write_bytes(attempt)
        with caplog.at_level(logging.WARNING, logger="northstar.engine.cache"):
            assert _plays(folder) == PLAYS
        assert any("failed its integrity check" in r.getMessage() and entry.name in r.getMessage()
                   for r in caplog.records)
        caplog.clear()
        assert decode(entry.read_bytes()[cache_seal.HEADER:])["plays"].tolist() == PLAYS  # recomputed, stored


def test_a_truncated_renamed_or_foreign_entry_is_recomputed(tmp_path: Path, key_home: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _folder(tmp_path)
    project = Project.load(folder / "northstar.yml")
    project.query("plays")
    project.query("users")
    first, second = _entries(folder)
    good = {p.name: p.read_bytes() for p in (first, second)}
    cache = _cache(folder)
    for cut in (0, 5, cache_seal.HEADER - 1, cache_seal.HEADER, len(good[first.name]) - 1):
        first.write_bytes(good[first.name][:cut])
        assert cache.get(first.stem) is None
    # a valid entry of another query copied over this one's name: its seal names the other key
    first.write_bytes(good[second.name])
    assert cache.get(first.stem) is None
    # written under another user's key (another XDG_CACHE_HOME): not served to this user
    first.write_bytes(good[first.name])
    assert cache.get(first.stem) is not None
    monkeypatch.setenv("XDG_CACHE_HOME", str(key_home / "other-user"))
    assert cache.get(first.stem) is None
    assert _plays(folder) == PLAYS


def test_a_fifo_symlink_or_huge_file_in_the_folder_is_not_read(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "engine: {cache_max_mb: 1}\n")
    _plays(folder)
    [entry] = _entries(folder)
    outside = tmp_path / "elsewhere.bin"
    outside.write_bytes(entry.read_bytes())  # a valid entry, reached through a link
    for plant in ("fifo", "symlink", "huge"):
        entry.unlink(missing_ok=True)
        if plant == "fifo":
            os.mkfifo(entry)  # opening it for reading would block forever
        elif plant == "symlink":
            entry.symlink_to(outside)
        else:
            with entry.open("wb") as handle:
                handle.truncate(2 * 1024 * 1024)
        start = time.monotonic()
        assert _cache(folder).get(entry.stem) is None, plant
        assert time.monotonic() - start < 5
    entry.unlink()
    assert _plays(folder) == PLAYS


# ---- pickles are never opened ----------------------------------------------------------------


class Bomb:
    """Unpickling it creates a file: proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (str(self.marker), "w"))


def test_a_pickle_planted_in_the_cache_is_never_unpickled(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    assert _plays(folder) == PLAYS
    cache_dir = folder / ".northstar" / "cache"
    marker = tmp_path / "unpickled"
    bomb = pickle.dumps(Bomb(marker))
    names = {p.name.split(".")[0] for p in cache_dir.iterdir()}
    assert names
    for name in names:  # under the names older versions read and this one reads, sealed or not
        (cache_dir / f"{name}.pkl").write_bytes(bomb)
        (cache_dir / f"{name}.result").write_bytes(bomb)
    (cache_dir / "elsewhere.pkl").write_bytes(bomb)
    for _ in range(2):  # a fresh process: its first look at the folder removes the pickles
        code = "from northstar.project import Project; print(Project.load('northstar.yml').query('plays')['plays'].tolist())"
        done = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=120,
                              check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == str(PLAYS)
    assert _plays(folder) == PLAYS
    assert not marker.exists()
    assert not list(cache_dir.glob("*.pkl"))


# ---- the key -----------------------------------------------------------------------------------


def test_the_key_is_private_and_outside_the_cache_folder(tmp_path: Path, key_home: Path) -> None:
    folder = _folder(tmp_path)
    _plays(folder)
    key = key_home / "northstar" / "result-cache.key"
    assert key.exists() and not key.is_relative_to(folder)
    assert key.stat().st_mode & 0o777 == 0o600
    assert (key_home / "northstar").stat().st_mode & 0o077 == 0
    assert len(bytes.fromhex(key.read_text().strip())) == 32
    assert not any(p.name.endswith(".key") for p in folder.rglob("*"))


@pytest.mark.parametrize("problem", ["readable by others", "not hex", "another owner"])
def test_an_unsafe_key_file_turns_the_disk_cache_off(problem: str, tmp_path: Path, key_home: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    key = key_home / "northstar" / "result-cache.key"
    key.parent.mkdir(mode=0o700)
    key.write_text("ab" * 32 + "\n")
    key.chmod(0o600)
    if problem == "readable by others":
        key.chmod(0o644)
    elif problem == "not hex":
        key.write_text("not a key\n")
    else:
        if os.geteuid() != 0:
            pytest.skip("changing a file's owner needs root")
        os.chown(key, 12345, 12345)
    folder = _folder(tmp_path)
    with caplog.at_level(logging.WARNING, logger="northstar.engine.cache"):
        assert _plays(folder) == PLAYS
    assert not _entries(folder)  # nothing written under a key others may know
    [message] = {r.getMessage() for r in caplog.records if "result cache off" in r.getMessage()}
    assert str(key) in message and "\n" not in message


def test_an_unwritable_key_folder_turns_the_disk_cache_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the key's folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    (tmp_path / "project").mkdir()
    folder = _folder(tmp_path / "project")
    with caplog.at_level(logging.WARNING, logger="northstar.engine.cache"):
        assert _plays(folder) == PLAYS
    assert not _entries(folder)
    assert any("cannot create the key file" in r.getMessage() for r in caplog.records)


# ---- concurrency -------------------------------------------------------------------------------

WRITER = """
import sys, time
from pathlib import Path
import pandas as pd
from northstar.engine.cache import ResultCache
from northstar.project import Project

folder, which, go = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
spec = Project.load(folder / "northstar.yml").spec
cache = ResultCache(folder / ".northstar" / "cache", spec, folder)
frames = [pd.DataFrame({"plays": [k] * 5000}) for k in (1, 2)]
while not go.exists():
    time.sleep(0.001)
bad = 0
for i in range(150):
    cache.put("ab" * 32, frames[which])
    got = cache.get("ab" * 32)
    if got is None or got["plays"].iloc[0] not in (1, 2) or len(got) != 5000:
        bad += 1
print(bad)
"""


def test_two_processes_writing_one_entry_leave_a_valid_one(tmp_path: Path, key_home: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """Both start at once with no key yet (they race to create it too), then write and read
    the same entry 150 times each: every read is a whole entry of one of them, and so is the
    one left."""
    folder = _folder(tmp_path)
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER))
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, str(script), str(folder), str(k), str(go)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for k in (0, 1)]
    time.sleep(3)  # both imported and waiting
    go.touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        assert out.strip() == "0", err  # no read ever saw a partial or unverifiable entry
        assert "integrity" not in err
    with caplog.at_level(logging.WARNING, logger="northstar.engine.cache"):
        left = _cache(folder).get("ab" * 32)
    assert left is not None and not caplog.records
    assert len(left) == 5000 and left["plays"].nunique() == 1 and left["plays"].iloc[0] in (1, 2)
    assert [p.name for p in (folder / ".northstar" / "cache").iterdir()] == ["ab" * 32 + ".result"]


# ---- the bound -------------------------------------------------------------------------------


def _big(k: int) -> pd.DataFrame:
    """About 0.3 MB of numbers that do not compress."""
    return pd.DataFrame({"value": np.random.default_rng(k).random(40_000)})


def test_the_folder_stays_within_its_bound_least_recently_used_first(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "engine: {cache_max_mb: 1}\n")
    cache = _cache(folder)
    keys = [f"{k:064x}" for k in range(4)]
    now = time.time()
    for age, key in zip((30, 20, 10), keys[:3]):
        cache.put(key, _big(int(key, 16)))
        path = cache.folder / f"{key}.result"
        os.utime(path, (now - age, now - age))  # written in this order, 10 s apart
    assert sum(p.stat().st_size for p in cache.folder.iterdir()) < 1024 * 1024
    assert cache.get(keys[0]) is not None  # the oldest is read: now the most recent
    cache.put(keys[3], _big(3))  # past 1 MB: the least recently used go (keys 1 and 2)
    left = {p.stem for p in cache.folder.glob("*.result")}
    assert left == {keys[0], keys[3]}
    assert sum(p.stat().st_size for p in cache.folder.iterdir()) <= 0.8 * 1024 * 1024
    assert_frame_equal(cache.get(keys[0]), _big(0))
    assert_frame_equal(cache.get(keys[3]), _big(3))


def test_many_writes_never_leave_the_folder_past_its_bound(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "engine: {cache_max_mb: 1}\n")
    cache = _cache(folder)
    rng = np.random.default_rng(7)
    for k in range(40):
        n = int(rng.integers(1, 30_000))
        cache.put(f"{k:064x}", pd.DataFrame({"value": rng.random(n)}))
        size = sum(p.stat().st_size for p in cache.folder.iterdir())
        assert size <= 1024 * 1024, (k, size)
        if k % 3 == 0:
            cache.get(f"{k // 2:064x}")
    assert cache.get(f"{39:064x}") is not None  # the last written is kept


def test_an_entry_larger_than_the_bound_is_not_written(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "engine: {cache_max_mb: 1}\n")
    cache = _cache(folder)
    cache.put("cd" * 32, pd.DataFrame({"value": np.random.default_rng(1).random(200_000)}))  # 1.6 MB
    assert not (cache.folder / ("cd" * 32 + ".result")).exists()


def test_stale_temporary_files_are_removed_and_other_files_kept(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "engine: {cache_max_mb: 1}\n")
    cache = _cache(folder)
    cache.folder.mkdir(parents=True)
    stale = cache.folder / f".{'ef' * 32}.result.x1y2"  # a writer killed before its rename
    fresh = cache.folder / f".{'ef' * 32}.result.z3w4"  # a writer at work
    notes = cache.folder / "README.txt"
    for path in (stale, fresh, notes):
        path.write_bytes(b"x" * 10)
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    cache.trim()
    assert not stale.exists() and fresh.exists() and notes.exists()


@pytest.mark.parametrize("value, message", [
    ("0", "greater than or equal to 1"), ("lots", "valid integer"), ("2.5", "valid integer"),
    ("true", "valid integer"), ("99999999999", "less than or equal to 1000000"), ("1e400", ""),
])
def test_a_bad_cache_bound_is_a_one_line_error(value: str, message: str, tmp_path: Path) -> None:
    folder = _folder(tmp_path, f"engine: {{cache_max_mb: {value}}}\n")
    done = subprocess.run([sys.executable, "-m", "northstar.cli", "validate", "--no-data"], cwd=folder,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "northstar.yml:8" in lines[0] and "engine.cache_max_mb" in lines[0] and message in lines[0]


def test_no_home_folder_turns_the_disk_cache_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A service account without a home: the key is not made relative to where we run."""
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", "")
    folder = _folder(tmp_path)
    monkeypatch.chdir(folder)
    with caplog.at_level(logging.WARNING, logger="northstar.engine.cache"):
        assert _plays(folder) == PLAYS
    assert not _entries(folder) and not list(folder.rglob("*.key"))
    assert any("no home folder" in r.getMessage() for r in caplog.records)
