#!/usr/bin/env python3
"""bench/ws_report.py SAMPLES META OUT_TXT OUT_JSON

Turns bench/ws.sh's raw samples into the table (stdout and OUT_TXT) and a
machine-readable copy (OUT_JSON): the median of each figure over the rounds,
and the ratio securenet (sn_demo) / node.

SAMPLES: tab-separated lines  server  figure  round  value  [note]
         (value "nan" when a sample could not be taken; note: what went wrong)
META:    tab-separated lines  key  value
"""
import json
import math
import statistics
import sys

SERVERS = ["sn_demo", "node"]

# per connection count: figure suffix, label, unit, higher_is_better
# (None: no ratio, a property of the run rather than of the server)
PER_CONNS = [
    ("rt_per_s", "echo round trips/s", "rt/s", True),
    ("p50_us", "  p50 latency of a round trip", "us", False),
    ("p99_us", "  p99 latency of a round trip", "us", False),
    ("server_cpu_us_per_rt", "  server CPU per round trip", "us", False),
    ("server_cpu_pct", "  server CPU, % of one CPU", "%", None),
    ("client_cpu_pct", "  client (ws_load) CPU, % of one CPU", "%", None),
    ("fair_pct", "  fewest / most round trips of a conn", "%", None),
]


def read_tsv(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                rows.append(line.split("\t"))
    return rows


def fmt(v, unit):
    if v is None:
        return "n/a"
    if isinstance(v, float) and math.isnan(v):
        return "failed"
    if unit == "us" and v < 100:
        return "%.1f" % v
    return "%.0f" % v


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: ws_report.py SAMPLES META OUT_TXT OUT_JSON")
    samples_path, meta_path, out_txt, out_json = sys.argv[1:]
    meta = {}
    for row in read_tsv(meta_path):
        meta[row[0]] = row[1] if len(row) > 1 else ""
    samples = {}
    notes = []
    for row in read_tsv(samples_path):
        server, figure, rnd, value = row[0], row[1], int(row[2]), float(row[3])
        samples.setdefault((server, figure), []).append(value)
        if len(row) > 4 and row[4]:
            notes.append("round %d, %s, %s: %s" % (rnd, server, figure, row[4]))
    medians = {}
    for key, values in samples.items():
        good = [v for v in values if not math.isnan(v)]
        medians[key] = statistics.median(good) if good else float("nan")

    figures = []
    for conns in meta.get("conns", "1 50").split():
        for suffix, label, unit, higher in PER_CONNS:
            text = label.replace("echo round trips/s", "echo round trips/s, %s conn%s"
                                 % (conns, "" if conns == "1" else "s"))
            figures.append(("ws%s_%s" % (conns, suffix), text, unit, higher))
    figures.append(("rss_kib", "peak RSS (VmHWM) after the run", "KiB", False))

    lines = []
    lines.append("securenet WebSocket bench: %s round(s) x %s s per figure, alternating %s"
                 % (meta.get("rounds", "?"), meta.get("seconds", "?"),
                    ", ".join(meta.get("servers", " ".join(SERVERS)).split())))
    for key in ("cpu", "pinning", "kernel", "securenet", "node", "client", "load", "tls", "negotiated", "message"):
        if key in meta:
            lines.append("  %-11s %s" % (key + ":", meta[key]))
    lines.append("")
    head = "%-46s %10s %10s %9s" % ("figure (median)", "sn_demo", "node", "sn/node")
    lines.append(head)
    lines.append("-" * len(head))
    table = []
    for fid, label, unit, higher in figures:
        vals = [medians.get((s, fid)) for s in SERVERS]
        if all(v is None for v in vals):
            continue
        r = None
        a, b = vals
        if higher is not None and a is not None and b is not None and not math.isnan(a) \
                and not math.isnan(b) and b != 0:
            r = a / b
        lines.append("%-46s %10s %10s %9s" % ("%s [%s]" % (label, unit), fmt(a, unit), fmt(b, unit),
                                              "%.2f" % r if r is not None else "-"))
        table.append({
            "figure": fid, "label": label.strip(), "unit": unit, "higher_is_better": higher,
            "median": {s: (None if v is None or math.isnan(v) else v) for s, v in zip(SERVERS, vals)},
            "samples": {s: samples.get((s, fid)) for s in SERVERS if (s, fid) in samples},
            "ratio_sn_demo_to_node": r,
        })
    lines.append("")
    lines.append("Ratios are sn_demo / node; for latency, CPU and RSS lower is better. One round")
    lines.append("trip: the client sends a message and waits for its whole echo before the next,")
    lines.append("on every connection at once. When the client's CPU share nears 100%, the rate")
    lines.append("is the client's bound, not the server's: the server CPU per round trip is then")
    lines.append("the figure to compare servers by (node's counts all its threads).")
    if notes:
        lines.append("")
        lines.append("problems seen:")
        for n in notes:
            lines.append("  " + n)
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(out_txt, "w", encoding="utf-8") as f:
        f.write(text)
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "figures": table, "problems": notes}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
