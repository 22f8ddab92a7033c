#!/usr/bin/env python3
"""Turns the results of bench/run.sh into Markdown tables and PNG charts.

Usage: report.py OUTDIR

Reads OUTDIR/{machine.txt, startup.jsonl, serve.jsonl, wrk.jsonl, pull.jsonl, push.jsonl,
idle.jsonl};
writes OUTDIR/report.md (also printed) and, when gnuplot is installed, OUTDIR/serving.png and
OUTDIR/startup.png. Every figure is the median over the rounds. Only the standard library.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict

NAMES = {
    "ours": "zarf-injector",
    "dist": "zarf-injector (dist)",
    "nginx": "nginx (sendfile)",
    "registry": "docker-registry 2.8",
    "tar": "cat chunks \\| tar xzf",
    "tar+nginx": "tar xzf, then nginx",
    "serve": "zarf-injector serve",
}
SCENARIOS = {
    "head-tag": "HEAD manifest by tag",
    "get-tag": "GET manifest by tag",
    "get-digest": "GET manifest by digest",
    "head-digest": "HEAD manifest by digest",
    "blob": "GET ~20 MB blob",
    "range": "Range GET, 1 MiB slices of the ~20 MB blob",
}
# Labels for `ours` and `dist` when they are not the stable and the nightly build of one commit
# (e.g. issue 14: INJECTOR=<the binary before>, DIST=<the binary after>).
NAMES["ours"] = os.environ.get("NAME_OURS", NAMES["ours"])
NAMES["dist"] = os.environ.get("NAME_DIST", NAMES["dist"])
ORDER = ["ours", "dist", "nginx", "registry"]
MANIFEST_SCENARIOS = ["get-tag", "head-tag", "get-digest", "head-digest"]


def load(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "–"


def latency(us):
    if not us:
        return "–"
    if us < 1000:
        return f"{us:.0f} µs"
    if us < 100_000:
        return f"{us / 1000:.1f} ms"
    return f"{us / 1000:.0f} ms"


def number(x, digits=0):
    return "–" if x is None else f"{x:,.{digits}f}"


def main():
    out = sys.argv[1]
    lines = []
    emit = lines.append
    machine = open(os.path.join(out, "machine.txt")).read().strip().splitlines()
    emit("Machine and run:\n")
    for line in machine:
        emit(f"- {line}")
    emit("")

    # --- start-up
    startup = load(os.path.join(out, "startup.jsonl"))
    by = defaultdict(list)
    for row in startup:
        by[(row["size"], row["system"])].append(row["r"])
    systems = [s for s in ["ours", "dist", "tar", "tar+nginx", "serve", "nginx", "registry"]
               if any(k[1] == s for k in by)]
    start_data = {}
    if startup:
        emit("### Start-up: exec to the first 200 on `GET /v2/`\n")
        emit("| seed | system | seconds | peak RSS (KiB) | × tar xzf | × tar xzf, then nginx |")
        emit("|---|---|---|---|---|---|")
        for size in ["small", "big"]:
            tar = med([r.get("seconds") for r in by[(size, "tar")]])
            tn = med([r.get("seconds") for r in by[(size, "tar+nginx")]])
            for s in systems:
                rs = by[(size, s)]
                sec = med([r.get("seconds") for r in rs])
                rss = med([r.get("hwm_kib") for r in rs])
                start_data[(size, s)] = sec
                label = {"small": f"~{mb(out, 'small')} MB", "big": f"~{mb(out, 'big')} MB"}[size]
                note = ""
                if s == "tar":
                    note = " (unpack only, no server)"
                elif s in ("nginx", "serve"):
                    note = " (files already unpacked)"
                elif s == "registry":
                    note = " (image pushed beforehand)"
                fails = sum(1 for r in rs if "error" in r)
                if fails:
                    note += f" ({fails} failed)"
                emit(f"| {label} | {NAMES[s]}{note} | {number(sec, 3)} | {number(rss)} | "
                     f"{ratio(sec, tar) if s in ('ours', 'dist', 'tar+nginx') else ''} | "
                     f"{ratio(sec, tn) if s in ('ours', 'dist') else ''} |")
        emit("")
    push = load(os.path.join(out, "push.jsonl"))
    if push:
        emit("Filling the reference registry by `skopeo copy oci:... docker://...` took "
             + ", ".join(f"{p['seconds']:.1f} s (~{mb(out, p['size'])} MB seed)" for p in push)
             + ".\n")

    # --- serving
    serve = load(os.path.join(out, "serve.jsonl"))
    cells = defaultdict(list)
    rounds = {}  # (scenario, conns, system, round) -> the cell's req/s (blob cells: from MB/s)
    for row in serve:
        cells[(row["scenario"], row["conns"], row["system"])].append(row["r"])
        r = row["r"]
        rps = r.get("rps")
        if row["scenario"] in ("blob", "range") and r.get("body_mbps"):
            rps = r["body_mbps"]  # the ratio is the same whichever unit
        rounds[(row["scenario"], row["conns"], row["system"], row.get("round"))] = rps
    systems = [s for s in ORDER if any(k[2] == s for k in cells)]
    chart = {}
    summary = {}
    for sc, title in SCENARIOS.items():
        if not any(k[0] == sc for k in cells):
            continue
        emit(f"### {title}\n")
        emit("| conns | system | req/s | MB/s | p50 | p99 | server CPU per request | context switches per request | peak RSS (KiB) | × nginx | × registry |")
        emit("|---|---|---|---|---|---|---|---|---|---|---|")
        for c in sorted({k[1] for k in cells if k[0] == sc}):
            got = {}
            for s in systems:
                rs = cells[(sc, c, s)]
                got[s] = {k: med([r.get(k) for r in rs]) for k in
                          ["rps", "body_mbps", "p50_us", "p99_us", "rss_kib", "cpu_us_per_req", "switches_per_req"]}
                got[s]["bad"] = sum(r.get("bad", 0) + r.get("errors", 0) for r in rs)
                if sc in ("blob", "range") and got[s]["body_mbps"]:
                    # requests/s from the bytes received in the window: at 64 connections a
                    # ~20 MB response takes most of a second, so few complete in a window
                    per = blob_size(out) if sc == "blob" else 1048576
                    got[s]["rps"] = got[s]["body_mbps"] * 1e6 / per
                    n = got[s]["rps"] * (med([r.get("seconds") for r in rs]) or 1)
                    got[s]["cpu_us_per_req"] = med([r.get("cpu_s") for r in rs]) * 1e6 / n
                    if all("switches" in r for r in rs):
                        got[s]["switches_per_req"] = med([r["switches"] for r in rs]) / n
                chart[(sc, c, s)] = got[s]["rps"]
                summary[(sc, c, s)] = got[s]
            for s in systems:
                g = got[s]
                flag = f" ({g['bad']} errors)" if g["bad"] else ""
                mbps = number(g["body_mbps"], 1) if sc.startswith(("blob", "range", "get")) else "–"
                emit(f"| {c} | {NAMES[s]}{flag} | {number(g['rps'])} | {mbps} | "
                     f"{latency(g['p50_us'])} | {latency(g['p99_us'])} | {latency(g['cpu_us_per_req'])} | {number(g['switches_per_req'], 2)} | {number(g['rss_kib'])} | "
                     f"{ratio(g['rps'], got.get('nginx', {}).get('rps')) if s != 'nginx' else ''} | "
                     f"{ratio(g['rps'], got.get('registry', {}).get('rps')) if s != 'registry' else ''} |")
        emit("")

    sys_rows = load(os.path.join(out, "syscalls.jsonl"))
    if sys_rows:
        emit("### System calls per request (strace -c -f, one connection, one second)\n")
        emit("| request | system | requests traced | syscalls per request | the most frequent (per request) |")
        emit("|---|---|---|---|---|")
        for row in sys_rows:
            n = row["requests"] or 0
            calls = row["calls"]
            total = sum(calls.values())
            top = sorted(calls.items(), key=lambda kv: -kv[1])[:7]
            detail = ", ".join(f"{name} {count / n:.2f}" for name, count in top) if n else "–"
            emit(f"| {SCENARIOS[row['scenario']]} | {NAMES[row['system']]} | {n:,} | "
                 f"{total / n:.1f} | {detail} |" if n else
                 f"| {SCENARIOS[row['scenario']]} | {NAMES[row['system']]} | 0 | – | – |")
        emit("")

    wrk = load(os.path.join(out, "wrk.jsonl"))
    if wrk:
        emit("### Cross-check with wrk (8 connections, one run each)\n")
        emit("| request | system | wrk req/s | wrk p50 | wrk p99 | loadgen req/s (median) |")
        emit("|---|---|---|---|---|---|")
        for row in wrk:
            lg = med([r.get("rps") for r in cells[(row["scenario"], 8, row["system"])]])
            non = f" ({row['non2xx']} non-2xx)" if row.get("non2xx") not in ("0", "", None) else ""
            emit(f"| {SCENARIOS[row['scenario']]} | {NAMES[row['system']]}{non} | "
                 f"{number(float(row['rps'] or 0))} | {row['p50']} | {row['p99']} | {number(lg)} |")
        emit("")

    # --- pull
    pull = load(os.path.join(out, "pull.jsonl"))
    if pull:
        emit("### Full pull of the ~%s MB seed image\n" % mb(out, "small"))
        emit("| client | system | wall (s) | × nginx | × registry |")
        emit("|---|---|---|---|---|")
        by = defaultdict(list)
        for row in pull:
            by[(row["tool"], row["system"])].append(row)
        for tool in ["skopeo", "ctr"]:
            walls = {s: med([r["seconds"] for r in by[(tool, s)] if r["ok"]]) for s in systems}
            for s in systems:
                rs = by[(tool, s)]
                if not rs:
                    continue
                fails = sum(1 for r in rs if not r["ok"])
                flag = f" ({fails} of {len(rs)} failed)" if fails else ""
                name = "skopeo copy" if tool == "skopeo" else "ctr images pull"
                emit(f"| {name} | {NAMES[s]}{flag} | {number(walls[s], 2)} | "
                     f"{ratio(walls[s], walls.get('nginx')) if s != 'nginx' else ''} | "
                     f"{ratio(walls[s], walls.get('registry')) if s != 'registry' else ''} |")
        emit("(for wall time, a ratio below 1 is faster)\n")

    idle = load(os.path.join(out, "idle.jsonl"))
    if idle:
        emit("### Idle keep-alive connections\n")
        emit("| system | connections asked | held open | 200 on a new connection | RSS before (KiB) | RSS holding them (KiB) | peak RSS (KiB) | descriptors | seconds to open |")
        emit("|---|---|---|---|---|---|---|---|---|")
        for row in idle:
            r = row.get("r") or {}
            err = f" ({r['error']})" if r.get("error") else ""
            emit(f"| {NAMES[row['system']]}{err} | {number(r.get('asked'))} | {number(r.get('opened'))} | "
                 f"{'yes' if r.get('new_client_status') == 200 else 'no (' + str(r.get('new_client_status')) + ')'} | "
                 f"{number(r.get('rss_before_kib'))} | {number(r.get('rss_kib'))} | {number(r.get('hwm_kib'))} | "
                 f"{number(r.get('fds'))} | {r.get('seconds', '–')} |")
        emit("(RSS: VmRSS and VmHWM from /proc, nginx: master + worker; descriptors: the most held by "
             "one server process)\n")

    if "ours" in systems and "dist" in systems:
        against_ours(emit, summary, start_data, rounds)
    goals(lines, summary, start_data, [s for s in ("ours", "dist") if s in systems], rounds, idle)
    text = "\n".join(lines)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    if shutil.which("gnuplot"):
        charts(out, chart, systems, start_data)


def round_ratios(rounds, sc, c, s, peer="nginx"):
    """The ratio of `s` to `peer` in each round of cell (sc, c): side by side, same round."""
    out = []
    for (sc2, c2, s2, rnd), v in sorted(rounds.items(), key=lambda kv: str(kv[0])):
        if (sc2, c2, s2) == (sc, c, s):
            p = rounds.get((sc, c, peer, rnd))
            if v and p:
                out.append(v / p)
    return out


def against_ours(emit, summary, start_data, rounds):
    """`dist` against `ours`, cell by cell: a change of build measured side by side."""
    emit(f"### {NAMES['dist']} against {NAMES['ours']}\n")
    emit("Each round measures both one after the other, so the ratio of a round is paired: the "
         "table gives the median of the rounds' ratios of `dist` over `ours` (req/s; blob and "
         "range: MB/s), the lowest and highest in brackets, and the ratio of the median req/s; "
         "start-up: seconds of `ours` over `dist` (above 1: `dist` is faster).\n")
    emit("| cell | connections | median of round ratios [range] | ratio of medians | more than 5% slower |")
    emit("|---|---|---|---|---|")
    for sc, title in SCENARIOS.items():
        for c in sorted({k[1] for k in summary if k[0] == sc}):
            a = (summary.get((sc, c, "dist")) or {}).get("rps")
            b = (summary.get((sc, c, "ours")) or {}).get("rps")
            if a and b:
                rr = round_ratios(rounds, sc, c, "dist", peer="ours")
                paired = med(rr) or a / b
                band = f" [{min(rr):.2f}–{max(rr):.2f}]" if len(rr) > 1 else ""
                emit(f"| {title} | {c} | {paired:.2f}x{band} | {a / b:.2f}x | "
                     f"{'yes' if paired < 0.95 else 'no'} |")
    for size in ("small", "big"):
        a, b = start_data.get((size, "dist")), start_data.get((size, "ours"))
        if a and b:
            emit(f"| start-up, {size} seed | – | – | {b / a:.2f}x ({b:.3f} s vs {a:.3f} s) | "
                 f"{'yes' if a > 1.05 * b else 'no'} |")
    emit("")


def goals(lines, summary, start_data, ours, rounds, idle):
    """The issues' goals, measured: inserted right after the machine notes."""
    out = ["### The goals of issue 11 (event loop)\n",
           "Ratios: median req/s of the rounds against nginx's, and in brackets the lowest and "
           "highest ratio of a single round (both measured in the same round, one after the other).\n",
           "| goal | system | measured | met |", "|---|---|---|---|"]

    def get(sc, c, s, key):
        return (summary.get((sc, c, s)) or {}).get(key)

    def spread(sc, c, s):
        rr = round_ratios(rounds, sc, c, s)
        return f" [{min(rr):.2f}–{max(rr):.2f}]" if len(rr) > 1 else ""

    for s in ours:
        name = NAMES[s]
        for sc in MANIFEST_SCENARIOS:
            for c in (1, 8, 64):
                a, b = get(sc, c, s, "rps"), get(sc, c, "nginx", "rps")
                if a and b:
                    out.append(f"| {SCENARIOS[sc]} ≥ 1.0x nginx, {c} connections | {name} | "
                               f"{a:,.0f} vs {b:,.0f} req/s = {a / b:.2f}x{spread(sc, c, s)} | "
                               f"{'yes' if a >= b else 'no'} |")
        for c in (8, 64):
            a, b = get("blob", c, s, "body_mbps"), get("blob", c, "nginx", "body_mbps")
            if a and b:
                out.append(f"| blob GET ≥ 1.0x nginx, {c} connections | {name} | "
                           f"{a:,.0f} vs {b:,.0f} MB/s = {a / b:.2f}x{spread('blob', c, s)} | "
                           f"{'yes' if a >= b else 'no'} |")
        rss = [get(sc, 64, s, "rss_kib") for sc in SCENARIOS]
        rss = [r for r in rss if r]
        if rss:
            out.append(f"| server RSS under 64 connections ≤ 4 MiB | {name} | at most "
                       f"{max(rss):,.0f} KiB | {'yes' if max(rss) <= 4096 else 'no'} |")
        for row in idle:
            r = row.get("r") or {}
            if row.get("system") == s and r:
                ok = (r.get("opened", 0) >= 10_000 and r.get("new_client_status") == 200
                      and max(r.get("rss_kib", 0), r.get("hwm_kib", 0)) <= 32768)
                out.append(f"| 10,000 idle keep-alive connections, RSS ≤ 32 MiB | {name} | "
                           f"{r.get('opened', 0):,} held, RSS {r.get('rss_kib', 0):,} KiB "
                           f"(peak {r.get('hwm_kib', 0):,}), new client "
                           f"{r.get('new_client_status')} | {'yes' if ok else 'no'} |")
    out += ["", "The other goals of issue 6, still measured:\n",
            "| goal | system | measured | met |", "|---|---|---|---|"]
    for s in ours:
        name = NAMES[s]
        worst = None
        for sc in MANIFEST_SCENARIOS:
            for c in (1, 8, 64):
                a, b = get(sc, c, s, "rps"), get(sc, c, "registry", "rps")
                if a and b and (worst is None or a / b < worst[0]):
                    worst = (a / b, sc, c)
        if worst:
            out.append(f"| manifest req/s ≥ 2x the reference registry's | {name} | lowest "
                       f"{worst[0]:.1f}x ({SCENARIOS[worst[1]]}, {worst[2]} connections) | "
                       f"{'yes' if worst[0] >= 2 else 'no'} |")
        a, b = start_data.get(("small", s)), start_data.get(("small", "tar"))
        if a and b:
            out.append(f"| start-up, ~25 MB seed, ≤ 1.2x `tar xzf` | {name} | {a:.3f} s vs "
                       f"{b:.3f} s = {a / b:.2f}x | {'yes' if a <= 1.2 * b else 'no'} |")
    out.append("")
    at = next((i for i, l in enumerate(lines) if l.startswith("### ")), len(lines))
    lines[at:at] = out


def blob_size(out):
    for line in open(os.path.join(out, "machine.txt")):
        if line.startswith("blob:"):
            return int(line.split()[1])
    return 20_000_000


def mb(out, size):
    for line in open(os.path.join(out, "machine.txt")):
        if line.startswith(f"seed {size}:"):
            return round(int(line.split()[2]) / 1e6)
    return "?"


def charts(out, chart, systems, start_data):
    colours = {"ours": "#1f77b4", "dist": "#6baed6", "nginx": "#2ca02c", "registry": "#d62728",
               "tar": "#7f7f7f", "tar+nginx": "#98df8a"}
    plot = ["set terminal pngcairo noenhanced size 1200,1150 font 'sans,10'",
            f"set output '{out}/serving.png'",
            "set multiplot layout 3,2 title 'Requests per second (median; server on 1 CPU, client on the other)'",
            "set style data histograms", "set style histogram clustered gap 1",
            "set style fill solid 0.9 border -1", "set boxwidth 0.9", "set grid ytics",
            "set key top left", "set yrange [0:*]", "set xlabel 'connections'"]
    for sc, title in SCENARIOS.items():
        data = os.path.join(out, f"serving-{sc}.dat")
        with open(data, "w") as f:
            for c in (1, 8, 64):
                f.write(f"{c} " + " ".join(str(chart.get((sc, c, s)) or 0) for s in systems) + "\n")
        cols = ", ".join(
            f"'{data}' using {i + 2}:xtic(1) title '{NAMES[s]}' lc rgb '{colours[s]}'"
            for i, s in enumerate(systems))
        plot += [f"set title '{title}'", f"plot {cols}"]
    plot.append("unset multiplot")
    if start_data:
        data = os.path.join(out, "startup.dat")
        names = [s for s in ["ours", "dist", "tar", "tar+nginx"]
                 if any(k[1] == s for k in start_data)]
        with open(data, "w") as f:
            for size in ("small", "big"):
                f.write(f"~{mb(out, size)}MB " + " ".join(str(start_data.get((size, s)) or 0) for s in names) + "\n")
        cols = ", ".join(
            f"'{data}' using {i + 2}:xtic(1) title '{NAMES[s].replace(chr(92), '')}' lc rgb '{colours[s]}'"
            for i, s in enumerate(names))
        plot += ["set terminal pngcairo noenhanced size 900,450 font 'sans,10'",
                 f"set output '{out}/startup.png'",
                 "set title 'Start-up: exec to first 200 on /v2/ (seconds, median; lower is better)'",
                 "set xlabel 'seed payload'", "set key top left",
                 f"plot {cols}"]
    script = os.path.join(out, "charts.gp")
    with open(script, "w") as f:
        f.write("\n".join(plot) + "\n")
    subprocess.run(["gnuplot", script], check=False)


if __name__ == "__main__":
    main()
