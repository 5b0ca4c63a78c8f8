"""Load test: N users ask at once through gradio_client on loopback; p50/p95 latency, errors.

    python benchmarks/load_app.py --users 20            # starts the app (real models) itself
    python benchmarks/load_app.py --url http://127.0.0.1:7860/ --users 20

Writes its section of docs/BENCHMARKS.md (unless --no-write).
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUESTIONS = (
    "Wie viele Menschen sind im Donbass getötet worden?",
    "Wo finden die Gespräche der USA mit Russland statt?",
    "When is the NATO-Russia Council meeting?",
    "What did Biden offer Ukraine?",
    "Wann ist die Sitzung des Nato-Russland-Rates?",
)
TITLE = "App under load (gradio_client, loopback)"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run_load(url: str, users: int, *, questions: int = 1, offset: int = 0, close: bool = False) -> dict:
    """``users`` clients ask ``questions`` questions each, all users at once (question
    ``offset + i + j`` of QUESTIONS for user i's j-th). ``close``: the users leave afterwards
    (their heartbeats end, as when a tab is closed)."""
    from gradio_client import Client

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    clients = [Client(url, verbose=False) for _ in range(users)]
    barrier = threading.Barrier(users)

    def user(i: int) -> None:
        barrier.wait()
        for j in range(questions):
            question = QUESTIONS[(offset + i + j) % len(QUESTIONS)]
            started = time.perf_counter()
            try:
                data = clients[i].predict(question=question, api_name="/ask")
                ok = isinstance(data, dict) and "answers" in data
            except Exception as error:  # the figure we want: how many failed, and why
                ok, data = False, f"{type(error).__name__}: {error}"
            elapsed = time.perf_counter() - started
            with lock:
                (latencies.append(elapsed) if ok else errors.append(str(data)[:200]))

    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    wall = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - wall
    if close:
        for client in clients:
            client.close()
    return {"users": users, "questions": users * questions, "ok": len(latencies), "errors": errors,
            "wall": wall,
            "p50": percentile(latencies, 0.5) if latencies else float("nan"),
            "p95": percentile(latencies, 0.95) if latencies else float("nan"),
            "max": max(latencies) if latencies else float("nan"),
            "mean": statistics.fmean(latencies) if latencies else float("nan")}


def start_app() -> tuple[object, str]:
    from qa.settings import Settings
    from qa.system import QASystem
    from qa.web.app import ChatService
    from qa.web.page import build_app, launch

    blocks = build_app(ChatService(QASystem.load(Settings.from_env())))
    launch(blocks, host="127.0.0.1", port=None, prevent_thread_lock=True)
    return blocks, blocks.local_url


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app (default: start one in this process)")
    parser.add_argument("--users", type=int, default=20, help="simultaneous questions (default 20)")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    blocks = None
    url = args.url
    if url is None:
        blocks, url = start_app()
    try:
        from gradio_client import Client

        Client(url, verbose=False).predict(question=QUESTIONS[0], api_name="/ask")  # warm-up
        result = run_load(url, args.users)
    finally:
        if blocks is not None:
            blocks.close()
    print(f"{result['users']} users: {result['ok']} answered, {len(result['errors'])} errors; "
          f"latency p50 {result['p50']:.2f} s, p95 {result['p95']:.2f} s, max {result['max']:.2f} s; "
          f"wall {result['wall']:.1f} s ({result['ok'] / result['wall']:.2f} answers/s)")
    for error in result["errors"][:5]:
        print("  error:", error)
    if not args.no_write:
        from benchmarks.report import update_section

        command = "python benchmarks/load_app.py --users %d%s" % (
            args.users, f" --url {args.url}" if args.url else "")
        update_section(TITLE, f"""\
Command: `{command}` ({platform.machine()}, {__import__('os').cpu_count()} CPU cores,
real models: e5-small retrieval + e5-small-qa-de reader, seeds corpus). {result['users']} clients
send one question each at the same moment to the `/ask` endpoint through `gradio_client` on
loopback; the queue lets one question at a time reach the models.

| users | answered | errors | p50 latency | p95 latency | max | wall | throughput |
|---|---|---|---|---|---|---|---|
| {result['users']} | {result['ok']} | {len(result['errors'])} | {result['p50']:.2f} s | {result['p95']:.2f} s | {result['max']:.2f} s | {result['wall']:.1f} s | {result['ok'] / result['wall']:.2f} answers/s |

Latency is what each user waits (queueing included): with one model worker it grows with the
user's place in the queue, so p95 is roughly users x single-question time.
""")
    return 0 if not result["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
