"""Turn the raw per-round results into medians, paired ratios, one table and PASS/FAIL targets.

Pure functions over the JSON that ``run.py`` collects; nothing here measures anything.
Ratios are always ``client / reference`` of the same metric, computed round by round
(paired runs) and then reduced to their median.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["METRICS", "build_table", "check_targets", "floor_of", "peer_of", "summarise"]


@dataclass(frozen=True)
class Metric:
    """One reported figure: ``scenario.key``, its label, and whether higher is better."""

    scenario: str
    key: str
    label: str
    higher_is_better: bool


METRICS = (
    Metric("call", "cpu_ms", "invoke: CPU ms/call", False),
    Metric("call", "wall_ms", "invoke: wall ms/call", False),
    Metric("acall", "cpu_ms", "ainvoke: CPU ms/call", False),
    Metric("stream", "chunks_per_cpu_s", "stream: chunks/CPU-s", True),
    Metric("stream", "chunks_per_s", "stream: chunks/s (wall)", True),
    Metric("stream", "ttfc_ms", "stream: first chunk ms", False),
    Metric("stream", "new_conns_per_op", "stream: new conns/stream", False),
    Metric("astream", "chunks_per_cpu_s", "astream: chunks/CPU-s", True),
    Metric("astream", "chunks_per_s", "astream: chunks/s (wall)", True),
    Metric("astream", "ttfc_ms", "astream: first chunk ms", False),
    Metric("astream", "new_conns_per_op", "astream: new conns/stream", False),
    Metric("astream_aiohttp", "chunks_per_cpu_s", "astream aiohttp: chunks/CPU-s", True),
    Metric("astream_aiohttp", "new_conns_per_op", "astream aiohttp: new conns", False),
    Metric("tool", "cpu_ms", "tool stream: CPU ms/call", False),
    Metric("tool", "wall_ms", "tool stream: wall ms/call", False),
    Metric("tool", "new_conns_per_op", "tool stream: new conns", False),
    Metric("abatch", "req_per_cpu_s", "abatch httpx: req/CPU-s", True),
    Metric("abatch", "req_per_s", "abatch httpx: req/s (wall)", True),
    Metric("abatch_aiohttp", "req_per_cpu_s", "abatch aiohttp: req/CPU-s", True),
    Metric("abatch_aiohttp", "req_per_s", "abatch aiohttp: req/s (wall)", True),
)


def peer_of(client: str) -> str | None:
    """The peer a client is compared with (None for the floors and the peers themselves)."""
    if client.startswith("ChatModelsLab"):
        return "ChatOpenAI"
    if client.startswith("ModelsLab"):
        return "OpenAILike"
    return None


def floor_of(client: str) -> str:
    """The raw httpx floor of the same dialect."""
    return "raw-httpx-anthropic" if client.endswith("-anthropic") else "raw-httpx"


def _values(rounds: list[dict[str, Any]], scenario: str, key: str) -> list[float | None]:
    out: list[float | None] = []
    for rnd in rounds:
        sc = (rnd.get("scenarios") or {}).get(scenario) or {}
        v = sc.get(key)
        out.append(float(v) if isinstance(v, (int, float)) else None)
    return out


def _stats(vals: Iterable[float | None]) -> dict[str, float] | None:
    xs = [v for v in vals if v is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def _paired(a: list[float | None], b: list[float | None]) -> float | None:
    ratios = [x / y for x, y in zip(a, b, strict=True) if x is not None and y]
    return statistics.median(ratios) if ratios else None


def _note(rounds: list[dict[str, Any]], scenario: str) -> str | None:
    for rnd in rounds:
        if "skipped" in rnd:
            return f"skipped: {rnd['skipped']}"
        sc = (rnd.get("scenarios") or {}).get(scenario) or {}
        for k in ("skipped", "error"):
            if k in sc:
                return f"{k}: {sc[k]}"
    return None


def summarise(perf: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per client and metric: median/min/max over rounds, and paired ratios to floor and peer."""
    out: dict[str, Any] = {}
    for client, rounds in perf.items():
        per: dict[str, Any] = {}
        for m in METRICS:
            vals = _values(rounds, m.scenario, m.key)
            entry: dict[str, Any] = {"stats": _stats(vals)}
            if entry["stats"] is None:
                entry["note"] = _note(rounds, m.scenario)
            for ref_name, ref in (("vs_raw", floor_of(client)), ("vs_peer", peer_of(client))):
                if ref and ref != client and ref in perf:
                    entry[ref_name] = _paired(vals, _values(perf[ref], m.scenario, m.key))
            per[f"{m.scenario}.{m.key}"] = entry
        out[client] = per
    return out


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def build_table(summary: dict[str, Any], clients: list[str]) -> str:
    """The one printed table: per metric, per client, median [min-max], x raw, x peer."""
    lines = [
        f"{'metric':28} {'client':24} {'median':>9} {'[min - max]':>21} {'x raw':>7} {'x peer':>7}"
    ]
    for m in METRICS:
        key = f"{m.scenario}.{m.key}"
        first = True
        for c in clients:
            e = summary.get(c, {}).get(key)
            if e is None:
                continue
            label = m.label if first else ""
            first = False
            st = e["stats"]
            if st is None:
                lines.append(f"{label:28} {c:24} {'-':>9}   {(e.get('note') or '')[:60]}")
                continue
            rng = f"[{_fmt(st['min'])} - {_fmt(st['max'])}]"
            lines.append(
                f"{label:28} {c:24} {_fmt(st['median']):>9} {rng:>21} "
                f"{_fmt(e.get('vs_raw')):>7} {_fmt(e.get('vs_peer')):>7}"
            )
    return "\n".join(lines)


def _target(
    name: str, value: float | None, op: str, limit: float, detail: str = ""
) -> dict[str, Any]:
    # A target that could not be measured is a failure, never a pass: "n/a" proves nothing.
    ok = False if value is None else (value <= limit if op == "<=" else value >= limit)
    return {"target": name, "value": value, "op": op, "limit": limit, "pass": ok, "detail": detail}


def _ratio(summary: dict[str, Any], client: str, key: str, ref: str) -> float | None:
    e = summary.get(client, {}).get(key) or {}
    return e.get(ref)


def check_targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target of issue 7, measured on this run (``pass`` False when not measured)."""
    s = res["summary"]
    t: list[dict[str, Any]] = []
    for ours, peer in (
        ("ChatModelsLab", "ChatOpenAI"),
        ("ChatModelsLab-anthropic", "ChatOpenAI"),
        ("ModelsLab", "OpenAILike"),
        ("ModelsLab-anthropic", "OpenAILike"),
    ):
        t.append(
            _target(
                f"{ours} invoke CPU/call vs {peer}",
                _ratio(s, ours, "call.cpu_ms", "vs_peer"),
                "<=",
                0.6,
            )
        )
        t.append(
            _target(
                f"{ours} invoke CPU/call vs raw httpx",
                _ratio(s, ours, "call.cpu_ms", "vs_raw"),
                "<=",
                2.0,
            )
        )
        t.extend(_stream_targets(s, ours, peer))
        r = _ratio(s, ours, "tool.cpu_ms", "vs_peer")
        t.append(
            _target(f"{ours} tool-call stream speed-up vs {peer}", 1 / r if r else None, ">=", 2.0)
        )
    t.extend(_stream_targets(s, "ChatModelsLab+budget", "ChatOpenAI"))
    for ours in ("ChatModelsLab", "ChatModelsLab-anthropic"):
        t.append(
            _target(
                f"{ours} abatch (httpx) req/s vs ChatOpenAI",
                _ratio(s, ours, "abatch.req_per_cpu_s", "vs_peer"),
                ">=",
                1.5,
            )
        )
        own = (s.get(ours, {}).get("abatch_aiohttp.req_per_cpu_s") or {}).get("stats")
        base = (s.get("ChatOpenAI", {}).get("abatch.req_per_cpu_s") or {}).get("stats")
        val = own["median"] / base["median"] if own and base else None
        t.append(_target(f"{ours} abatch (aiohttp) req/s vs ChatOpenAI (httpx)", val, ">=", 5.0))
    for ours in (
        "ChatModelsLab",
        "ChatModelsLab+budget",
        "ChatModelsLab-anthropic",
        "ModelsLab",
        "ModelsLab-anthropic",
    ):
        worst = None
        for sc in ("stream", "astream", "tool"):
            st = (s.get(ours, {}).get(f"{sc}.new_conns_per_op") or {}).get("stats")
            if st is not None:
                worst = max(worst or 0.0, st["max"])
        t.append(_target(f"{ours} new connections per stream (worst round)", worst, "<=", 0.0))
    t.extend(_import_targets(res.get("imports", {})))
    t.extend(_memory_targets(res.get("memory", {})))
    t.extend(_encoding_targets(res.get("encoding", {})))
    frac = res.get("server", {}).get("max_server_cpu_frac")
    t.append(_target("fake server busy fraction (max over windows)", frac, "<=", 0.5))
    return t


def _stream_targets(s: dict[str, Any], ours: str, peer: str) -> list[dict[str, Any]]:
    """Chunks per CPU-second of ``stream`` and ``astream``: >= 4x the peer, >= 0.5x raw httpx."""
    t = []
    for sc in ("stream", "astream"):
        rate = f"{sc}.chunks_per_cpu_s"
        t.append(
            _target(f"{ours} {sc} chunks/s vs {peer}", _ratio(s, ours, rate, "vs_peer"), ">=", 4.0)
        )
        t.append(
            _target(
                f"{ours} {sc} chunks/s vs raw httpx", _ratio(s, ours, rate, "vs_raw"), ">=", 0.5
            )
        )
    return t


def _median(xs: list[float] | None) -> float | None:
    return statistics.median(xs) if xs else None


def _import_targets(imp: dict[str, list[float]]) -> list[dict[str, Any]]:
    out = []
    for ours, base, peer in (
        ("langchain_modelslab", "langchain-core+httpx", "langchain_openai"),
        ("llama_index_modelslab", "llama-index-core+httpx", "llama_index.llms.openai_like"),
    ):
        o, b, p = (_median(imp.get(k)) for k in (ours, base, peer))
        detail = f"{_fmt(o and o * 1e3)} ms vs {_fmt(b and b * 1e3)} ms; x{peer}: {_fmt(o / p if o and p else None)}"
        out.append(
            _target(
                f"import {ours} vs {base} (10% noise allowance)",
                o / b if o and b else None,
                "<=",
                1.10,
                detail,
            )
        )
    return out


def _peak(mem: dict[str, Any], client: str, model: str) -> float | None:
    return _median(
        [r["peak_rss_mb"] for r in mem.get(client, {}).get(model, []) if "peak_rss_mb" in r]
    )


def _memory_targets(mem: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for ours, peer in (("ChatModelsLab", "ChatOpenAI"), ("ModelsLab", "OpenAILike")):
        o, p = _peak(mem, ours, "bench-s1k"), _peak(mem, peer, "bench-s1k")
        out.append(
            _target(
                f"{ours} peak RSS of a stream vs {peer}",
                o / p if o and p else None,
                "<=",
                0.75,
                f"{_fmt(o)} MB vs {_fmt(p)} MB",
            )
        )
    for ours in ("ChatModelsLab", "ChatModelsLab-anthropic", "ModelsLab", "ModelsLab-anthropic"):
        a, b = _peak(mem, ours, "bench-s1k"), _peak(mem, ours, "bench-s100k")
        out.append(
            _target(
                f"{ours} 100k-chunk stream peak RSS growth MB",
                b - a if a and b else None,
                "<=",
                20.0,
            )
        )
    return out


def _encoding_targets(enc: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    out = []
    for ours in ("ChatModelsLab", "ChatModelsLab-anthropic", "ModelsLab", "ModelsLab-anthropic"):
        rounds = [r for r in enc.get(ours, []) if "10000" in r]
        if not rounds:
            out.append(_target(f"{ours} history encoding linear: t(10k)/t(1k)", None, "<=", 15.0))
            continue
        big = statistics.median(r["10000"]["cpu_ms"] for r in rounds)
        mid = statistics.median(r["1000"]["cpu_ms"] for r in rounds)
        per = statistics.median(r["10000"]["cpu_us_per_msg"] for r in rounds)
        out.append(
            _target(
                f"{ours} history encoding linear: t(10k)/t(1k)",
                big / mid,
                "<=",
                15.0,
                f"{_fmt(per)} us/message at 10k",
            )
        )
    return out
