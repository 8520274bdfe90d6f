"""``python -m bench.versus REV``: this checkout against an earlier commit, side by side in one run, on PostgreSQL.

The earlier commit is checked out (``git worktree add --detach``) under bench/out/ and run by the same virtual
environment, its own code first on the path. Each tree gets its servers (uvicorn, 2 workers, and a ``tousu worker``)
on a database of its own, migrated by its own ``tousu migrate``. Measured taking turns (A B A B, bench/README.md):

1. ``POST /v1/complaints`` (wrk, post.lua);
2. ``GET /v1/complaints/{id}`` on 1,000 seeded complaints (wrk, get.lua);
3. full lifecycles (bench/lifecycle.py), ``ROUNDS`` windows each, alternating;
4. the sweep and webhook benchmarks (bench/sweep.py, bench/webhooks.py) of each tree, run in turn, twice each.

Prints a Markdown table (and, with ``--append``, adds it to the latest run in bench/RESULTS.md). The checkout of the
earlier commit and the databases are removed at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import URL

from bench import lifecycle, run
from bench.results import add_to_latest_run


@dataclass
class Tree:
    label: str
    root: Path
    database: str
    env: dict[str, str] = field(default_factory=dict)
    keys: lifecycle.Keys | None = None
    ids: Path | None = None
    posts: run.Run | None = None
    reads: run.Run | None = None
    lifecycles: list[float] = field(default_factory=list)
    tables: dict[str, list[str]] = field(default_factory=dict)


def checkout(rev: str) -> Path:
    path = run.OUT / f"versus-{rev}"
    subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=run.ROOT, capture_output=True, check=False)
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(path), rev], cwd=run.ROOT, check=True, capture_output=True
    )
    return path


def prepare(pg: URL, tree: Tree) -> None:
    """The tree's database, migrated by its own code, with the lifecycle's keys and 1,000 complaints to read."""
    database = run.create_database(pg, tree.database)
    env = {
        **os.environ,
        "PYTHONPATH": str(tree.root),
        "TOUSU_DATABASE_URL": run.sqlalchemy_url(database),
        "TOUSU_TIMEZONE": run.TIMEZONE,
    }
    run.tousu(env, "migrate", root=tree.root)
    key = run.create_key(env, "intake", "bench", root=tree.root)
    tree.env = env
    tree.keys = lifecycle.Keys(
        intake=key,
        handler=run.create_key(env, "handler", "bench handler", root=tree.root),
        store=run.create_key(env, "store", "bench store", "--store", lifecycle.STORE, root=tree.root),
        supervisor=run.create_key(env, "supervisor", "bench supervisor", root=tree.root),
    )
    if (tree.root / "app" / "directory").is_dir():  # a tree before the directory dispatches to any store
        run.register_store(env, root=tree.root)


def side_by_side(pg: URL, trees: list[Tree]) -> None:
    servers = [run.Server(f"versus-{i}", run.TOUSU_APP, tree.env, root=tree.root) for i, tree in enumerate(trees)]
    try:
        for server in servers:
            run.RUNNING.append(server)
            server.start()
        loads = [{"BENCH_KEY": tree.keys.intake} for tree in trees if tree.keys]
        posts = run.interleaved(
            pg,
            [
                run.Contender(f"POST, {tree.label}", server, tree.database, "post.lua", load)
                for tree, server, load in zip(trees, servers, loads, strict=True)
            ],
        )
        for tree, measured in zip(trees, posts, strict=True):
            tree.posts = measured
        for tree, load in zip(trees, loads, strict=True):
            load["BENCH_IDS"] = str(seeded(pg, tree))
        reads = run.interleaved(
            pg,
            [
                run.Contender(f"GET, {tree.label}", server, tree.database, "get.lua", load)
                for tree, server, load in zip(trees, servers, loads, strict=True)
            ],
        )
        for tree, measured in zip(trees, reads, strict=True):
            tree.reads = measured
        for _ in range(run.ROUNDS):
            for tree, server in zip(trees, servers, strict=True):
                assert tree.keys is not None
                figures = lifecycle.run(
                    server.url, tree.keys, concurrency=run.CONNECTIONS, warmup=1, duration=run.LIFECYCLE_DURATION / 2
                )
                tree.lifecycles.append(figures["lifecycles_per_s"])
                run.say(f"lifecycles, {tree.label}: {figures['lifecycles_per_s']:.1f}/s")
    finally:
        for server in servers:
            server.stop()
            run.RUNNING.remove(server)


def seeded(pg: URL, tree: Tree) -> Path:
    from bench import seed

    database = pg.set(database=tree.database)
    seed.empty(run.libpq(database))
    with run.psycopg.connect(run.libpq(database)) as connection:
        key_id = str(connection.execute("SELECT id FROM api_keys WHERE name = 'bench'").fetchone()[0])
    seed.seed(run.libpq(database), 1, 1_000, tz=run.TIMEZONE, key_id=key_id)
    return run.write_ids(database, f"versus-ids-{tree.database}.txt")


def background(trees: list[Tree], times: int) -> None:
    """Each tree's own sweep and webhook benchmarks, in turn (they use fixed database names: one at a time)."""
    for module in ("sweep", "webhooks"):
        for _ in range(times):
            for tree in trees:
                run.say(f"bench.{module}, {tree.label}")
                finished = subprocess.run(
                    [sys.executable, "-m", f"bench.{module}"],
                    cwd=tree.root,
                    env=tree.env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                tree.tables.setdefault(module, []).append(finished.stdout.strip())


def report(trees: list[Tree], started: datetime, load: tuple[float, float]) -> str:
    base, this = trees
    assert base.posts and base.reads and this.posts and this.reads

    def ratio(new: float, old: float) -> str:
        return f"{new / old:.2f}"

    lines = [
        f"### This checkout against {base.label}, side by side (bench/versus.py, {started:%Y-%m-%d %H:%M} UTC)",
        "",
        f"PostgreSQL, 2 uvicorn workers and a `tousu worker` per side, wrk with {run.CONNECTIONS} connections, "
        f"{run.ROUNDS} rounds of {run.ROUND_SECONDS} s each taking turns; lifecycles {run.ROUNDS} windows of "
        f"{run.LIFECYCLE_DURATION / 2:.0f} s each, alternating. Load average {load[0]:.2f} before, "
        f"{load[1]:.2f} after.",
        "",
        f"| | {base.label} | {this.label} | this / earlier |",
        "|---|---|---|---|",
        f"| `POST /v1/complaints` | {run.latency(base.posts)} | {run.latency(this.posts)} | "
        f"{ratio(this.posts.rate, base.posts.rate)} |",
        f"| CPU per registration | {run.cpu(base.posts)} | {run.cpu(this.posts)} | "
        f"{ratio(this.posts.app_ms + this.posts.db_ms, base.posts.app_ms + base.posts.db_ms)} |",
        f"| `GET /v1/complaints/{{id}}`, 1,000 complaints | {run.latency(base.reads)} | {run.latency(this.reads)} | "
        f"{ratio(this.reads.rate, base.reads.rate)} |",
        f"| CPU per read | {run.cpu(base.reads)} | {run.cpu(this.reads)} | "
        f"{ratio(this.reads.app_ms + this.reads.db_ms, base.reads.app_ms + base.reads.db_ms)} |",
        f"| Full lifecycles per second (median of {run.ROUNDS}) | {statistics.median(base.lifecycles):.1f} | "
        f"{statistics.median(this.lifecycles):.1f} | "
        f"{ratio(statistics.median(this.lifecycles), statistics.median(base.lifecycles))} |",
    ]
    for module in ("sweep", "webhooks"):
        for tree in trees:
            for n, text in enumerate(tree.tables.get(module, []), 1):
                lines += ["", f"bench/{module}.py of {tree.label}, run {n}:", "", text]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("rev", help="The earlier commit to compare with (e.g. HEAD~5 or a hash).")
    parser.add_argument("--background-runs", type=int, default=2, help="Sweep and webhook runs per tree.")
    parser.add_argument("--append", type=Path, help="Add the table to the latest run in this file (bench/RESULTS.md).")
    args = parser.parse_args()
    run.OUT.mkdir(exist_ok=True)
    rev = subprocess.run(
        ["git", "rev-parse", "--short", args.rev], cwd=run.ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=run.ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=run.ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    pg = run.server_url()
    trees = [
        Tree(f"commit {rev}", checkout(rev), "tousu_bench_versus_base"),
        Tree(f"commit {head}" + (" with changes" if dirty else ""), run.ROOT, "tousu_bench_versus_this"),
    ]
    started, before = datetime.now(UTC), os.getloadavg()[0]
    try:
        for tree in trees:
            prepare(pg, tree)
        side_by_side(pg, trees)
        background(trees, args.background_runs)
    finally:
        for tree in trees:
            run.drop_database(pg, tree.database)
        subprocess.run(["git", "worktree", "remove", "--force", str(trees[0].root)], cwd=run.ROOT, check=False)
    text = report(trees, started, (before, os.getloadavg()[0]))
    print(text)
    if args.append:
        add_to_latest_run(args.append, text)


if __name__ == "__main__":
    main()
