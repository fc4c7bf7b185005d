"""`validate --untrusted` and `check --untrusted` (issue 13, finding 14): a spec from a fork's
pull request may not read files, folders, settings or the environment through `sql:`, its
expressions or its paths; a spec that stays in its folder is checked as usual."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hostile import SPEC, assert_clean_error, project_dir, run_cli

SQL_SOURCE = """\
sources:
  raw:
    path: data/events.csv
    timestamp: ts
  events:
    sql: {sql}
    timestamp: ts
    entity: user
    dimensions: [event]
"""


def _sql_spec(sql: str) -> str:
    head, rest = SPEC.split("metrics:", 1)
    return SPEC.split("sources:", 1)[0] + SQL_SOURCE.format(sql=sql) + "metrics:" + rest


@pytest.mark.parametrize("sql, needle", [
    ("SELECT * FROM read_csv('/etc/hostname')", "reads from outside"),
    ("SELECT * FROM '/etc/passwd'", "a file or a URL"),
    ("SELECT *, getenv('HOME') AS home FROM raw", "getenv"),
    ("SELECT * FROM raw WHERE event IN (SELECT file FROM glob('/*'))", "reads from outside"),
    ("SELECT * FROM raw, read_text('/etc/hostname')", "reads from outside"),
    ("SELECT *, current_setting('home_directory') AS h FROM raw", "current_setting"),
    ("SELECT * FROM other_db.main.raw", "another database"),
    ("SELECT * FROM raw; COPY raw TO '/tmp/x.csv'", "one SELECT"),
])
def test_untrusted_sql_that_reaches_out_is_refused(tmp_path: Path, sql: str, needle: str) -> None:
    import json

    spec = _sql_spec(json.dumps(sql))
    project_dir(tmp_path, spec)
    line = next(i for i, text in enumerate(spec.splitlines(), 1) if text.strip().startswith("sql:"))
    for command in ("validate", "check"):
        run = run_cli(tmp_path, command, "--untrusted")
        assert_clean_error(run, f"northstar.yml:{line}:", "source 'events'", needle, code=2)


def test_the_same_sql_runs_when_trusted(tmp_path: Path) -> None:
    """By design a trusted spec is code: `read_csv` of a file outside its folder works without
    `--untrusted` (docs/reference/trust.md says so)."""
    outside = tmp_path / "outside.csv"
    outside.write_text("ts,user,event,amount\n2024-01-02 10:00:00,u1,play,3\n")
    spec = _sql_spec(f"\"SELECT * FROM read_csv('{outside}')\"")
    project = project_dir(tmp_path / "p", spec)
    run = run_cli(project, "query", "plays", "--grain", "month", "--format", "csv")
    assert run.code == 0, run.err
    assert run.out.strip().splitlines()[-1].endswith(",1")
    assert run_cli(project, "validate", "--untrusted").code == 2


@pytest.mark.parametrize("path, needle", [
    ("../data/events.csv", "climbs out"),
    ("/etc/hostname", "absolute path"),
    ("~/events.csv", "absolute path"),
    ("https://example.com/events.csv", "is a URL"),
])
def test_untrusted_paths_stay_in_the_spec_folder(tmp_path: Path, path: str, needle: str) -> None:
    spec = SPEC.replace("path: data/events.csv", f"path: {path}")
    run = run_cli(project_dir(tmp_path, spec), "validate", "--untrusted")
    assert_clean_error(run, "northstar.yml:5:", "field 'path'", needle, code=2)


def test_a_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    project = project_dir(tmp_path / "p", SPEC)
    (tmp_path / "secret.csv").write_text("ts,user,event,amount\n")
    (project / "data" / "events.csv").unlink()
    os.symlink(tmp_path / "secret.csv", project / "data" / "events.csv")
    run = run_cli(project, "validate", "--untrusted")
    assert_clean_error(run, "field 'path'", "leads outside", code=2)


def test_an_untrusted_spec_that_stays_home_is_checked_as_usual(tmp_path: Path) -> None:
    """Allowed functions and the spec's own sources pass, and give the trusted answer."""
    sql = "\"SELECT ts, lower(user) AS user, event, CAST(amount AS int) AS amount FROM raw WHERE event <> 'x'\""
    project = project_dir(tmp_path, _sql_spec(sql))
    run = run_cli(project, "validate", "--untrusted")
    assert run.code == 0, run.err
    run = run_cli(project, "check", "--untrusted", "--format", "json")
    assert run.code in (0, 1), run.err
    assert run_cli(project, "check", "--format", "json").out == run.out


def test_the_sandbox_refuses_a_file_outside_the_folder_at_run_time(tmp_path: Path) -> None:
    """What the static checks cannot see (a path built at run time) DuckDB's sandbox refuses."""
    from northstar.cli.untrusted import untrusted_project
    from northstar.errors import NorthstarError

    project = project_dir(tmp_path / "p", SPEC)
    (tmp_path / "outside.csv").write_text("a\n1\n")
    loaded = untrusted_project(str(project / "northstar.yml"))
    with pytest.raises(Exception) as caught:
        loaded.engine.backend.con.raw_sql(f"SELECT * FROM read_csv('{tmp_path / 'outside.csv'}')").fetchall()
    assert not isinstance(caught.value, NorthstarError)
    assert "Permission" in str(caught.value) or "disabled" in str(caught.value)


@pytest.mark.parametrize("sql", [
    "select * from orders where nullif(a, '') is not null and greatest(a, b) > 1 and a like 'x%' or not a between 1 and 2",
    "select * from orders o where exists (select 1 from payments p where p.id = o.id) and a in (1, 2) and b is null",
    "select *, sum(x) over (partition by u order by ts) s, lag(x) over (order by ts) l from orders",
    "select cast(a as int) a, a::varchar c, ts + interval '1 day' d, date_part('year', ts) y, x / nullif(y, 0) q "
    "from orders",
    "select u, count(*) n, count(distinct x) d, avg(x) a, min(ts) f, string_agg(x, ',') s from orders group by u",
    "select * from orders where regexp_matches(a, '^x') and starts_with(a, 'y') and contains(a, 'z')",
    "select split_part(a, ',', 1) sp, make_timestamp(2024, 1, 1, 0, 0, 0) m, last_day(ts) l, log10(x) g from orders",
    "with x as (select * from orders) select o.*, p.paid from x o left join (select id, sum(v) as paid from payments "
    "group by id) p using (id)",
    "select a from orders union all select a from payments",
])
def test_ordinary_sql_is_allowed_when_untrusted(sql: str) -> None:
    """The allow-list covers what real specs write (joins, CTEs, windows, AND/OR, which sqlglot
    models as functions, dates and text functions): a first version refused AND itself."""
    from northstar.spec.untrusted import sql_problems

    assert sql_problems(sql, {"orders", "payments"}) == []


@pytest.mark.parametrize("sql", [
    "select load_extension('x') from orders",
    "select * from orders, (select * from duckdb_settings())",
    "select * from query_table('orders')",
    "select * from sniff_csv('/etc/passwd')",
    "select * from orders union all select * from read_csv_auto('/x')",
    "select * from orders where a in (select * from read_parquet('/x.parquet'))",
    "select * from 'data/*.csv'",
])
def test_reaching_sql_is_refused_wherever_it_hides(sql: str) -> None:
    from northstar.spec.untrusted import sql_problems

    assert sql_problems(sql, {"orders"})


def test_the_real_sparkify_spec_checks_the_same_untrusted(tmp_path: Path) -> None:
    """On the real Sparkify events (copied into the spec's folder), `check --untrusted` reads the
    data through the sandbox and reports exactly what the trusted check does."""
    import shutil

    from conftest import SPARKIFY_EVENTS, SPARKIFY_SPEC

    (tmp_path / "data").mkdir()
    shutil.copy(SPARKIFY_EVENTS, tmp_path / "data" / "events.jsonl")
    shutil.copy(SPARKIFY_SPEC, tmp_path / "northstar.yml")
    assert run_cli(tmp_path, "validate", "--untrusted").code == 0
    untrusted = run_cli(tmp_path, "check", "--untrusted", "--format", "json")
    trusted = run_cli(tmp_path, "check", "--format", "json")
    assert untrusted.code == trusted.code and untrusted.out == trusted.out
    assert '"findings"' in untrusted.out
