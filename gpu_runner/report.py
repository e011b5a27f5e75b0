"""The reports of a run: ``report.json`` (everything), ``junit.xml`` (for CI), ``summary.md`` (+ a plot).

JUnit has no "blocked": a blocked line is a ``<skipped>`` test whose message starts with ``blocked:``.
The plot (``throughput.png``) needs matplotlib; without it the summary says so and has no picture.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

SYMBOL = {"passed": "✅ passed", "failed": "❌ failed", "blocked": "⛔ blocked", "skipped": "⏭️ skipped"}


def write_reports(report: dict, out_dir: Path) -> dict[str, str]:
    out_dir = Path(out_dir)
    files = {"json": out_dir / "report.json", "junit": out_dir / "junit.xml", "markdown": out_dir / "summary.md"}
    plot = write_plot(report, out_dir / "throughput.png")
    if plot:
        files["plot"] = plot
    names = {k: str(v) for k, v in files.items()}
    files["json"].write_text(json.dumps({**report, "files": names}, indent=2, default=str), encoding="utf-8")
    files["junit"].write_text(junit_xml(report), encoding="utf-8")
    files["markdown"].write_text(markdown(report, plot), encoding="utf-8")
    return names


# ---- JUnit ----------------------------------------------------------------------------------------
def junit_xml(report: dict) -> str:
    checks = report["checks"]
    count = lambda *s: str(sum(c["status"] in s for c in checks))  # noqa: E731
    suite = ET.Element("testsuite", name=f"gpu_runner ({report['mode']})", tests=str(len(checks)),
                       failures=count("failed"), errors="0", skipped=count("skipped", "blocked"),
                       time=f"{report['seconds']:.1f}", timestamp=report["started"])
    props = ET.SubElement(suite, "properties")
    for key in ("submission", "mode", "device", "status", "score", "max_score", "thresholds_file"):
        ET.SubElement(props, "property", name=key, value=str(report[key]))
    for c in checks:
        case = ET.SubElement(suite, "testcase", classname=f"gpu_runner.{c['kind']}", name=c["name"],
                             time=f"{c['seconds']:.1f}")
        if c["status"] == "failed":
            node = ET.SubElement(case, "failure", message=c["message"][:500], type="failed")
            node.text = c["message"] + ("\n\n--- output of the check process (tail) ---\n" + c["output_tail"]
                                        if c.get("output_tail") else "")
        elif c["status"] in ("skipped", "blocked"):
            prefix = "blocked: " if c["status"] == "blocked" else ""
            ET.SubElement(case, "skipped", message=prefix + c["message"][:500])
        out = ET.SubElement(case, "system-out")
        out.text = f"{c['status']}: {c['message']}" + _measure_text(c, " ")
    root = ET.Element("testsuites", name="gpu_runner", tests=suite.get("tests"), failures=suite.get("failures"))
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _measure_text(c: dict, sep: str) -> str:
    if c.get("measured") is None:
        return ""
    op = ">=" if c.get("better") == "higher" else "<="
    return f"{sep}(measured {c['measured']:.4g}, needs {op} {c['threshold']:g})"


# ---- Markdown --------------------------------------------------------------------------------------
def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(report: dict, plot: str | None) -> str:
    lines = [f"# GPU grading: `{report['submission']}`", "",
             f"**Status: {report['status'].upper()}** · score {report['score']:g} / {report['max_score']:g} · "
             f"mode `{report['mode']}` · {report['device']} · {report['started']} · {report['seconds']:.0f} s", ""]
    if report["mode"] == "cpu":
        lines += ["> **CPU mode**: tiny models and CPU thresholds (`--cpu`). This is not a GPU grade.", ""]
    elif report["mode"] == "blocked":
        lines += ["> **Blocked**: no CUDA device, and `--cpu` was not given; nothing was measured. "
                  "Blocked is not a failure.", ""]
    lines += ["| check | kind | status | measured | threshold | points | details |",
              "|---|---|---|---:|---:|---:|---|"]
    for c in report["checks"]:
        measured = f"{c['measured']:.4g}" if c.get("measured") is not None else ""
        threshold = ""
        if c.get("threshold") is not None:
            threshold = f"{'≥' if c.get('better') == 'higher' else '≤'} {c['threshold']:g}"
        points = f"{c['points']:g} / {c['max_points']:g}" if c["max_points"] else ""
        lines.append(f"| {c['name']} | {c['kind']} | {SYMBOL[c['status']]} | {measured} | {threshold} | {points} | "
                     f"{_cell(c['message'])} |")
    perf = next((c for c in report["checks"] if c["name"] == "throughput_vs_reference"
                 and "tokens_per_second" in c.get("details", {})), None)
    if perf:
        d = perf["details"]
        lines += ["", "## Throughput", "",
                  f"{d['num_requests']} requests, {d['useful_tokens']} output tokens, greedy; engine "
                  f"{', '.join(f'{k}={v}' for k, v in d['engine'].items())}; transformers static batches of {d['hf_batch_size']}; median of "
                  f"{d['repeats']} interleaved rounds after a warm-up.", "",
                  "| system | median s | tokens/s | submission / system |", "|---|---:|---:|---:|"]
        tps = d["tokens_per_second"]
        for name, seconds in d["median_seconds"].items():
            lines.append(f"| {name} | {seconds:.3f} | {tps[name]:.0f} | {tps['submission'] / tps[name]:.2f}x |")
        lines += ["", f"![throughput]({Path(plot).name})" if plot else
                  "_(no plot: matplotlib is not installed on this host)_"]
    if report["parts"]:
        lines += ["", "## Parts from the submission", "", "| exercise | from |", "|---|---|"]
        lines += [f"| {e} | `{_cell(o)}` |" for e, o in report["parts"].items()]
    lines += ["", f"Thresholds: `{report['thresholds_file']}`. Full data: `report.json`; check logs: `logs/`.", ""]
    return "\n".join(lines)


# ---- plot ------------------------------------------------------------------------------------------
def write_plot(report: dict, path: Path) -> str | None:
    perf = {c["name"]: c for c in report["checks"] if "tokens_per_second" in c.get("details", {})}
    if not perf:
        return None
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    tps = next(iter(perf.values()))["details"]["tokens_per_second"]
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    names = list(tps)
    colors = ["#9e9e9e" if n != "submission" else "#1f77b4" for n in names]
    ax.bar(names, [tps[n] for n in names], color=colors)
    for entry, c in perf.items():
        base = "reference" if entry.endswith("reference") else "transformers"
        need = c["threshold"] * tps[base]
        ax.axhline(need, linestyle="--", linewidth=1, color="#d62728" if c["status"] == "failed" else "#2ca02c")
        ax.text(len(names) - 0.5, need, f"needed vs {base} ({c['threshold']:g}x)", ha="right", va="bottom",
                fontsize=8)
    ax.set_ylabel("output tokens / s")
    ax.set_title(f"throughput, {report['mode']} mode (median of interleaved rounds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
