"""The benchmark report: the markdown tables and the chart of one run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ORDER = [
    "package",
    "package_nolimit",
    "package_gc",
    "package_pyreqwest",
    "package_pyreqwest_bare",
    "package_hand_call",
    "package_hand_call_aiohttp",
    "package_no_platform",
    "package_httpx2",
    "package_redis",
    "aiohttp",
    "pyreqwest",
    "pyreqwest_tuned",
    "httpx2",
    "sdk",
    "ceiling",
]
LABELS = {
    "package": "assessment-asgi (AssessmentApp, defaults)",
    "package_nolimit": "assessment-asgi, rate limit off",
    "package_gc": "assessment-asgi, defaults, host gc threshold 50,000",
    "package_pyreqwest": "assessment-asgi, engine=pyreqwest (opt-in)",
    "package_pyreqwest_bare": "experiment: engine=pyreqwest, its send replaced by the hand-written call",
    "package_hand_call": "experiment: its create_session replaced by the tuned pyreqwest call",
    "package_hand_call_aiohttp": "experiment: its create_session replaced by the raw aiohttp call",
    "package_no_platform": "experiment: its create_session answering at once (no platform call)",
    "package_httpx2": "assessment-asgi, engine=httpx2",
    "package_redis": "assessment-asgi, defaults + ASSESSMENT_REDIS_URL (replica mode)",
    "aiohttp": "hand-written, raw aiohttp.ClientSession",
    "pyreqwest": "hand-written, pooled pyreqwest client",
    "pyreqwest_tuned": "hand-written, pyreqwest, body_json + default headers + sized pool",
    "httpx2": "hand-written, pooled httpx2.AsyncClient",
    "sdk": "hand-written, official SDK 2.0.4 in threadpool",
    "ceiling": "ceiling: auth + validation, no platform call",
}


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def render_markdown(report: dict[str, Any]) -> str:
    table = report["wrk"]
    conns = report["settings"]["connections"]
    variants = [v for v in ORDER if v in table]
    lines = [
        "# Benchmark results",
        "",
        f"Run {report['when']} on {report['machine']}; {report['settings']['rounds']} round(s) of "
        f"{report['settings']['duration']} s per variant and connection count, interleaved; "
        f"uvicorn (1 worker, loop={report['settings']['loop']}, "
        f"http={report['settings']['http']}); wrk -t1; load rotating through "
        f"{report['settings']['recruiters']:,} recruiter JWTs; medians over rounds. Load average "
        f"(1 min) {report['load_average']['start'][0]:.1f} at start, "
        f"{report['load_average']['end'][0]:.1f} at end (other work shares the machine).",
        f"Command: `{report['command']}`",
        "",
    ]
    for c in conns:
        key = str(c)
        rows = [v for v in variants if key in table[v]]
        if not rows:
            continue
        ref = table.get("package", {}).get(key)
        aio = table.get("aiohttp", {}).get(key)
        # The faster of the two hand-written pyreqwest builds is the anchor.
        anchors = [table.get(n, {}).get(key) for n in ("pyreqwest", "pyreqwest_tuned")]
        prq = max((a for a in anchors if a), key=lambda a: a["rps"], default=None)
        sdk = table.get("sdk", {}).get(key)
        ceil = table.get("ceiling", {}).get(key)
        lines += [
            f"## {c} connection{'s' if c != 1 else ''}",
            "",
            "| variant | req/s | p50 ms | p99 ms | server CPU µs/req (loop thread) | package ÷ this (req/s) "
            "| this ÷ aiohttp | this ÷ faster pyreqwest | this ÷ SDK | this ÷ ceiling | errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for v in rows:
            r = table[v][key]
            lines.append(
                f"| {LABELS[v]} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                f"{r.get('cpu_us', float('nan')):.0f} ({r.get('loop_cpu_us', float('nan')):.0f}) | "
                f"{ratio(ref['rps'], r['rps']) if ref else '-'} | "
                f"{ratio(r['rps'], aio['rps']) if aio else '-'} | "
                f"{ratio(r['rps'], prq['rps']) if prq else '-'} | "
                f"{ratio(r['rps'], sdk['rps']) if sdk else '-'} | "
                f"{ratio(r['rps'], ceil['rps']) if ceil else '-'} | {r['errors']} |"
            )
        lines.append("")
        if ref and prq:
            lines += [
                f"Defaults ÷ the faster hand-written pyreqwest endpoint at {c} connection"
                f"{'s' if c != 1 else ''}: {ratio(ref['rps'], prq['rps'])} req/s, p99 "
                f"{ratio(ref['p99_ms'], prq['p99_ms'])} ({ref['p99_ms']:.1f} vs {prq['p99_ms']:.1f} ms).",
                "",
            ]
        redis = table.get("package_redis", {}).get(key)
        if ref and redis:
            lines += [
                f"Replica mode ÷ memory mode at {c} connection{'s' if c != 1 else ''}: "
                f"{ratio(redis['rps'], ref['rps'])} req/s, p99 "
                f"{ratio(redis['p99_ms'], ref['p99_ms'])} ({redis['p99_ms']:.1f} vs "
                f"{ref['p99_ms']:.1f} ms).",
                "",
            ]
    micro = report.get("micro")
    if micro:
        lines += ["## In-process", "", "| measurement | result | target |", "|---|---:|---:|"]
        for row in micro["rows"]:
            lines.append(f"| {row['name']} | {row['value']} | {row['target']} |")
        lines.append("")
    return "\n".join(lines)


def render_chart(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = report["wrk"]
    conns = [str(c) for c in report["settings"]["connections"]]
    variants = [v for v in ORDER if v in table]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    width = 0.8 / max(1, len(conns))
    colours = ["#4c72b0", "#dd8452", "#55a868", "#c44e52"]
    for ax, metric, title in (
        (axes[0], "rps", "requests/s (higher is better, log scale)"),
        (axes[1], "p99_ms", "p99 latency, ms (lower is better, log scale)"),
    ):
        for i, c in enumerate(conns):
            values = [table[v].get(c, {}).get(metric, 0) for v in variants]
            xs = [x + i * width for x in range(len(variants))]
            bars = ax.bar(xs, values, width, label=f"{c} conn.", color=colours[i % 4])
            ax.bar_label(bars, fmt="%.0f" if metric == "rps" else "%.1f", fontsize=7)
        ax.set_xticks([x + width * (len(conns) - 1) / 2 for x in range(len(variants))])
        ax.set_xticklabels(variants, rotation=30, ha="right")
        ax.set_yscale("log")
        ax.set_title(title)
        ax.legend()
    fig.suptitle(f"POST /assessment/session on loopback — {report['when']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


