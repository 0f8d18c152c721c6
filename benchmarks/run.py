"""The benchmark of issue 7, in one command: ``python benchmarks/run.py [--quick]``.

Creates (once) its own venv with the peers, starts the fake server pinned to one CPU, probes
the server's headroom, runs every client in its own process pinned to the other CPU (rounds
interleave the clients, so ratios are paired), measures import time and peak memory in fresh
interpreters, prints one table and PASS/FAIL per target, and saves
``benchmarks/results/latest.json``. ``--profile`` also writes pyinstrument reports of our
clients' hot paths to ``benchmarks/results/profiles/``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_env  # noqa: E402
import report  # noqa: E402

CLIENTS = [
    "raw-httpx",
    "raw-httpx-anthropic",
    "ChatOpenAI",
    "OpenAILike",
    "ChatModelsLab",
    "ChatModelsLab+budget",
    "ChatModelsLab-anthropic",
    "ModelsLab",
    "ModelsLab-anthropic",
]
IMPORTS = {
    "langchain-core+httpx": "import httpx; from langchain_core.language_models.chat_models import BaseChatModel",
    "langchain_openai": "from langchain_openai import ChatOpenAI",
    "langchain_modelslab": "from langchain_modelslab import ChatModelsLab",
    "llama-index-core+httpx": "import httpx; from llama_index.core.llms.function_calling import FunctionCallingLLM",
    "llama_index.llms.openai_like": "from llama_index.llms.openai_like import OpenAILike",
    "llama_index_modelslab": "from llama_index_modelslab import ModelsLab",
}
QUICK_100K = {
    "raw-httpx",
    "ChatModelsLab",
    "ChatModelsLab-anthropic",
    "ModelsLab",
    "ModelsLab-anthropic",
}
"""Clients whose 100,000-chunk stream runs in --quick mode too (the peers' take ~30 s each)."""
PROFILE_SCENARIOS = (
    "call",
    "stream",
    "astream",
    "astream_aiohttp",
    "tool",
    "abatch",
    "abatch_aiohttp",
    "encoding",
)
_SCRUB = ("LANGCHAIN_", "LANGSMITH_", "OPENAI_", "MODELSLAB_", "LLAMA_INDEX_")


def child_env() -> dict[str, str]:
    """The environment for every child: no tracing, no keys, no proxies from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env.pop(k, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONWARNINGS"] = "ignore"
    # The bench venv is shared by every checkout (its hash covers the requirements, not the
    # path) and installs the checkout that built it, editable: this checkout's packages first,
    # or another worktree's code would be measured.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE.parent), env.get("PYTHONPATH")) if p)
    return env


class Bench:
    """Runs the children and keeps what they report."""

    def __init__(self, python: Path, port: int, pin: bool, verbose: bool) -> None:
        self.python = str(python)
        self.port = port
        self.pin = pin
        self.verbose = verbose
        self.env = child_env()

    def child(self, script: str, *args: str, timeout: float = 600) -> dict[str, Any]:
        """Run ``script`` in the bench venv; its ``RESULT`` line, or an error record."""
        cmd = [self.python, str(HERE / script), *args, "--port", str(self.port)]
        if self.pin:
            cmd += ["--cpu", "1"]
        t0 = time.perf_counter()
        try:
            p = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout, env=self.env, cwd=HERE
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f}s"}
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
        if self.verbose or not lines:
            sys.stderr.write(p.stderr[-3000:])
        if not lines:
            return {"error": f"exit {p.returncode}: {p.stderr.strip().splitlines()[-1:] or ''}"}
        out = dict(json.loads(lines[-1][7:]))
        out["child_wall_s"] = time.perf_counter() - t0
        return out


def start_server(python: Path, pin: bool) -> tuple[subprocess.Popen[str], int]:
    """Start the fake server; wait for ``READY <port>``."""
    cmd = [str(python), str(HERE / "fake_server.py"), "--port", "0"] + (
        ["--cpu", "0"] if pin else []
    )
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=child_env(), cwd=HERE)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        raise RuntimeError(f"fake server failed to start: {line!r}")
    return proc, int(line.split()[1])


def import_times(python: str, reps: int, env: dict[str, str]) -> dict[str, list[float]]:
    """CPU seconds per import statement, each in a fresh interpreter, statements interleaved.

    CPU time, not wall time: on a shared machine the wall time of an import doubles whenever
    another process runs, while its CPU time stays put (the files are in the page cache).
    """
    out: dict[str, list[float]] = {k: [] for k in IMPORTS}
    code = "import time,sys;c=time.process_time();exec(sys.argv[1]);print(time.process_time()-c)"
    for rep in range(reps + 1):
        for label, stmt in IMPORTS.items():
            p = subprocess.run([python, "-c", code, stmt], capture_output=True, text=True, env=env)
            if p.returncode == 0 and rep > 0:  # rep 0 warms the page cache and .pyc files
                out[label].append(float(p.stdout.strip()))
    return out


def machine() -> dict[str, Any]:
    """What this ran on, and how busy the machine was."""
    model = ""
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                model = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_start": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def versions(python: str, env: dict[str, str]) -> dict[str, str]:
    """Versions of the packages that matter, from the bench venv."""
    names = [
        "httpx",
        "httpx-aiohttp",
        "aiohttp",
        "openai",
        "langchain-core",
        "langchain-openai",
        "llama-index-core",
        "llama-index-llms-openai-like",
        "pydantic",
        "uvloop",
    ]
    code = (
        "import json,sys\nfrom importlib.metadata import version\nout={}\n"
        "for n in sys.argv[1:]:\n try: out[n]=version(n)\n except Exception: out[n]=None\n"
        "print(json.dumps(out))"
    )
    p = subprocess.run([python, "-c", code, *names], capture_output=True, text=True, env=env)
    return dict(json.loads(p.stdout)) if p.returncode == 0 else {}


def run_all(b: Bench, args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement; returns the results document (without the summary)."""
    res: dict[str, Any] = {"machine": machine(), "quick": args.quick, "rounds": args.rounds}
    res["versions"] = versions(b.python, b.env)
    res["pinned"] = b.pin
    q = ["--quick"] if args.quick else []
    log("probing the fake server ...")
    res["server"] = {"probe": b.child("probe.py", "--seconds", "0.5" if args.quick else "1.5")}
    perf: dict[str, list[dict[str, Any]]] = {c: [] for c in args.clients}
    for rnd in range(args.rounds):
        order = args.clients[rnd % len(args.clients) :] + args.clients[: rnd % len(args.clients)]
        for c in order:
            out = b.child("clients.py", "perf", "--client", c, *q)
            perf[c].append(out)
            log(f"round {rnd + 1}/{args.rounds} {c}: {_brief(out)}")
    res["perf"] = perf
    res["encoding"] = {}
    for c in args.clients:
        out = b.child("clients.py", "encoding", "--client", c, *q)
        res["encoding"][c] = [out.get("encoding", out)]
        log(f"encoding {c}: {_brief(out)}")
    res["memory"] = {}
    for c in args.clients:
        per: dict[str, list[dict[str, Any]]] = {}
        big = not args.quick or c in QUICK_100K
        for model in ("bench-s1k", "bench-s100k") if big else ("bench-s1k",):
            out = b.child("clients.py", "memory", "--client", c, "--model", model, timeout=300)
            per[model] = [out.get("memory", out)]
        res["memory"][c] = per
        log(f"memory {c}: " + ", ".join(f"{m}={_mb(v[0])}" for m, v in per.items()))
    log("import times ...")
    res["imports"] = import_times(b.python, 3 if args.quick else 7, b.env)
    res["machine"]["loadavg_end"] = os.getloadavg()
    return res


def log(msg: str) -> None:
    """Progress, on stderr."""
    print(msg, file=sys.stderr, flush=True)


def _brief(out: dict[str, Any]) -> str:
    if "skipped" in out or "error" in out:
        return str(out.get("skipped") or out.get("error"))[:200]
    return f"ok ({out.get('child_wall_s', 0):.1f}s)"


def _mb(m: dict[str, Any]) -> str:
    return (
        f"{m['peak_rss_mb']:.0f}MB"
        if "peak_rss_mb" in m
        else str(m.get("error") or m.get("skipped"))[:80]
    )


def server_fraction(res: dict[str, Any]) -> float | None:
    """The busiest the server ever was in a measured window (fraction of its core)."""
    fracs = [
        sc["server_cpu_frac"]
        for rounds in res["perf"].values()
        for rnd in rounds
        for sc in (rnd.get("scenarios") or {}).values()
        if isinstance(sc, dict) and "server_cpu_frac" in sc
    ]
    return max(fracs) if fracs else None


def print_report(res: dict[str, Any], clients: list[str]) -> int:
    """Print the table, the extra sections and the targets; the number of failed targets."""
    m = res["machine"]
    print(
        f"\nmachine: {m['cpu']} x{m['cpus']}, {m['platform']}, Python {m['python']}; "
        f"load {m['loadavg_start'][0]:.2f} -> {m['loadavg_end'][0]:.2f}; pinned={res['pinned']}"
    )
    probe = res["server"].get("probe", {})
    if "call" in probe:
        print(
            f"fake server: {probe['call']['server_cpu_us_per_req']:.0f} us CPU per call, "
            f"{probe['stream_1k']['server_cpu_us_per_req']:.0f} us per 1k-chunk stream; busiest "
            f"measured window used {100 * (res['server']['max_server_cpu_frac'] or 0):.1f}% of its core"
        )
    print(
        f"\nrounds: {res['rounds']} (medians, [min - max] over rounds; ratios are client/reference, paired by round)\n"
    )
    print(report.build_table(res["summary"], clients))
    print("\nhistory encoding (one call, CPU ms; us per message at 10k)")
    for c, rounds in res["encoding"].items():
        r = rounds[0]
        if "10000" in r:
            cells = "  ".join(f"{k}:{r[k]['cpu_ms']:.2f}" for k in ("10", "100", "1000", "10000"))
            print(f"  {c:24} {cells}  -> {r['10000']['cpu_us_per_msg']:.1f} us/msg")
        else:
            print(f"  {c:24} {str(r.get('skipped') or r.get('error'))[:90]}")
    print("\npeak RSS MB of a fresh process streaming 1k / 100k chunks")
    for c, per in res["memory"].items():
        a, z = per["bench-s1k"][0], per.get("bench-s100k", [{"skipped": "full mode only"}])[0]
        if "peak_rss_mb" in a and "peak_rss_mb" in z:
            print(
                f"  {c:24} {a['peak_rss_mb']:7.1f} {z['peak_rss_mb']:7.1f}  "
                f"(+{z['peak_rss_mb'] - a['peak_rss_mb']:.1f}; 100k stream took {z['wall_s']:.1f}s)"
            )
        else:
            print(f"  {c:24} {_mb(a)} / {_mb(z)}")
    print("\nimport CPU time ms (fresh interpreter, median [min - max])")
    for label, xs in res["imports"].items():
        if xs:
            print(
                f"  {label:30} {1e3 * sorted(xs)[len(xs) // 2]:7.0f} [{1e3 * min(xs):.0f} - {1e3 * max(xs):.0f}]"
            )
        else:
            print(f"  {label:30} failed")
    print("\ntargets (issue 7)")
    failed = 0
    for t in res["targets"]:
        verdict = "PASS" if t["pass"] else "FAIL"
        failed += not t["pass"]
        val = "-" if t["value"] is None else f"{t['value']:.3g}"
        print(f"  {verdict}  {t['target']}: {val} (want {t['op']} {t['limit']:g}) {t['detail']}")
    return failed


def profile(b: Bench, clients: list[str]) -> None:
    """pyinstrument reports of our clients' scenarios into results/profiles/."""
    for c in clients:
        for sc in PROFILE_SCENARIOS:
            out = b.child("clients.py", "profile", "--client", c, "--scenario", sc)
            prof = out.get("profile") or {}
            where = prof.get("profile") or prof.get("skipped") or _brief(out)
            print(f"profile {c} {sc}: {where}", file=sys.stderr, flush=True)


def render_readme(res: dict[str, Any]) -> None:
    """Put the printed report of ``res`` between README's result markers."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        print_report(res, list(res["perf"]))
    mode = "--quick" if res.get("quick") else "full"
    body = (
        f"Run {res['machine']['date']} ({mode}, {res['rounds']} rounds, {res['total_s']:.0f} s), "
        f"on {res['machine']['cpu']} x{res['machine']['cpus']}, shared with other work "
        f"(load average {res['machine']['loadavg_start'][0]:.1f} -> {res['machine']['loadavg_end'][0]:.1f}).\n"
        f"Versions: {', '.join(f'{k} {v}' for k, v in res.get('versions', {}).items())}.\n\n"
        "```text" + buf.getvalue().rstrip() + "\n```\n"
    )
    readme = HERE / "README.md"
    text = readme.read_text()
    start, end = "<!-- results:start -->\n", "<!-- results:end -->"
    head, rest = text.split(start, 1)
    readme.write_text(head + start + body + end + rest.split(end, 1)[1])
    print(f"rewrote the results section of {readme}")


def main() -> int:
    """Parse arguments, set up, measure, report; exit status 1 when a target fails."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick", action="store_true", help="fewer rounds and repetitions (under ~3 minutes)"
    )
    ap.add_argument(
        "--rounds", type=int, default=None, help="paired rounds (default 2 quick, 5 full)"
    )
    ap.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated subset")
    ap.add_argument("--no-pin", action="store_true", help="do not pin server and clients to CPUs")
    ap.add_argument(
        "--profile", action="store_true", help="also profile our clients (pyinstrument)"
    )
    ap.add_argument("--out", default=str(HERE / "results" / "latest.json"))
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument(
        "--render-readme", action="store_true", help="only rewrite README's results from --out"
    )
    args = ap.parse_args()
    if args.render_readme:
        render_readme(json.loads(Path(args.out).read_text()))
        return 0
    args.rounds = args.rounds or (2 if args.quick else 5)
    args.clients = [c for c in args.clients.split(",") if c]
    t0 = time.perf_counter()
    python = bench_env.ensure_venv()
    pin = not args.no_pin and hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2
    server, port = start_server(python, pin)
    try:
        b = Bench(python, port, pin, args.verbose)
        res = run_all(b, args)
        if args.profile:
            profile(b, [c for c in args.clients if "ModelsLab" in c])
    finally:
        server.terminate()
        server.wait(10)
    res["server"]["max_server_cpu_frac"] = server_fraction(res)
    res["summary"] = report.summarise(res["perf"])
    res["targets"] = report.check_targets(res)
    res["total_s"] = time.perf_counter() - t0
    failed = print_report(res, args.clients)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1, default=str) + "\n")
    print(f"\nsaved {args.out}; total {res['total_s']:.0f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
