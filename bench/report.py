#!/usr/bin/env python3
"""bench/report.py SAMPLES META OUT_TXT OUT_JSON

Turns bench/run.sh's raw samples into the table (stdout and OUT_TXT) and a
machine-readable copy (OUT_JSON): the median of each figure over the rounds,
and sn_demo's ratio to each peer.

SAMPLES: tab-separated lines  server  figure  round  value  [note]
         (value "nan" when a sample could not be taken; note: what went wrong)
META:    tab-separated lines  key  value   (machine, tools, settings)
"""
import json
import math
import statistics
import sys

SERVERS = ["sn_demo", "ssl_server2", "nginx"]

# figure id, label, unit, higher_is_better (None: not the server's figure,
# no ratio)
FIGURES = [
    ("ka1_rps", "keep-alive req/s, 1 conn", "req/s", True),
    ("ka1_p99_ms", "  p99 latency, 1 conn", "ms", False),
    ("ka50_rps", "keep-alive req/s, 50 conns", "req/s", True),
    ("ka50_p99_ms", "  p99 latency, 50 conns", "ms", False),
    ("ka50_cpu_us", "  server CPU per request, 50 conns", "us", False),
    ("full12_hs", "full handshakes/s, TLS 1.2", "hs/s", True),
    ("full12_cpu_us", "  server CPU per full handshake, TLS 1.2", "us", False),
    ("full13_hs", "full handshakes/s, TLS 1.3", "hs/s", True),
    ("full13_cpu_us", "  server CPU per full handshake, TLS 1.3", "us", False),
    ("res12_hs", "resumed handshakes/s, TLS 1.2", "hs/s", True),
    ("res12_cpu_us", "  server CPU per resumed handshake, TLS 1.2", "us", False),
    ("res13_hs", "resumed handshakes/s, TLS 1.3", "hs/s", True),
    ("res13_cpu_us", "  server CPU per resumed handshake, TLS 1.3", "us", False),
    ("dl_mbps", "1 MiB download, 1 conn", "MB/s", True),
    ("ul_mbps", "streamed upload, 1 conn", "MB/s", True),
    ("ul_cpu_us", "  server CPU per MB uploaded", "us", False),
    ("ul_client_pct", "  client (curl) CPU, % of its time", "%", None),
    ("ota_mbps", "signed update (PUT /api/firmware), 1 conn", "MB/s", True),
    ("ota_plain_mbps", "  plain upload of the same size", "MB/s", True),
    ("ota_ratio", "  update / plain (the verifier and slot cost)", "%", True),
    ("auth_check_us", "password check (sn_user_check), CPU", "us", None),
    ("auth_hs_us", "  server's share of a TLS 1.3 handshake", "us", None),
    ("auth_hs_total_us", "  the whole handshake, client too (wall)", "us", None),
    ("auth_ratio", "  check / handshake (server's share)", "x", None),
    ("auth_ratio_s_time", "  check / s_time's CPU per TLS 1.3 hs", "x", None),
    ("auth_iter_eq", "  iterations that cost one handshake", "iter", None),
    ("rss_kib", "peak RSS (VmHWM) after the run", "KiB", False),
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
    if unit == "ms":
        return "%.2f" % v
    if unit == "x":
        return "%.2f" % v
    if unit == "MB/s":
        return "%.1f" % v
    return "%.0f" % v


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: report.py SAMPLES META OUT_TXT OUT_JSON")
    samples_path, meta_path, out_txt, out_json = sys.argv[1:]
    meta = {}
    for row in read_tsv(meta_path):
        meta[row[0]] = row[1] if len(row) > 1 else ""
    samples = {}   # (server, figure) -> [values]
    notes = []
    for row in read_tsv(samples_path):
        server, figure, rnd, value = row[0], row[1], int(row[2]), float(row[3])
        samples.setdefault((server, figure), []).append(value)
        if len(row) > 4 and row[4]:
            notes.append("round %d, %s, %s: %s" % (rnd, server, figure, row[4]))

    medians = {}
    for (server, figure), values in samples.items():
        good = [v for v in values if not math.isnan(v)]
        medians[(server, figure)] = statistics.median(good) if good else float("nan")
    # The auth figure's check beside sn_demo's own server CPU per full TLS 1.3
    # handshake (s_time, figure handshake), when both were measured.
    chk, hs13 = medians.get(("sn_demo", "auth_check_us")), medians.get(("sn_demo", "full13_cpu_us"))
    if chk is not None and hs13 is not None and not math.isnan(chk) and not math.isnan(hs13) and hs13 > 0:
        medians[("sn_demo", "auth_ratio_s_time")] = chk / hs13

    def ratio(figure, peer):
        a, b = medians.get(("sn_demo", figure)), medians.get((peer, figure))
        if a is None or b is None or math.isnan(a) or math.isnan(b) or b == 0:
            return None
        return a / b

    lines = []
    lines.append("securenet bench: %s round(s) x %s s per figure, alternating %s"
                 % (meta.get("rounds", "?"), meta.get("seconds", "?"),
                    ", ".join(meta.get("servers", " ".join(SERVERS)).split())))
    for key in ("cpu", "pinning", "kernel", "compiler", "mbedtls", "openssl", "wrk", "curl", "nginx",
                "securenet", "load", "tls", "upload", "auth", "figures"):
        if key in meta:
            lines.append("  %-10s %s" % (key + ":", meta[key]))
    lines.append("")
    head = "%-44s %10s %12s %10s %8s %9s" % ("figure (median)", "sn_demo", "ssl_server2", "nginx",
                                             "sn/s2", "sn/nginx")
    lines.append(head)
    lines.append("-" * len(head))
    table = []
    for fid, label, unit, higher in FIGURES:
        vals = [medians.get((s, fid)) for s in SERVERS]
        if all(v is None for v in vals):
            continue
        r_s2, r_ng = (None, None) if higher is None else (ratio(fid, "ssl_server2"), ratio(fid, "nginx"))
        cells = [fmt(v, unit) for v in vals]
        lines.append("%-44s %10s %12s %10s %8s %9s" % (
            "%s [%s]" % (label, unit), cells[0], cells[1], cells[2],
            "%.2f" % r_s2 if r_s2 is not None else "-",
            "%.2f" % r_ng if r_ng is not None else "-"))
        table.append({
            "figure": fid, "label": label.strip(), "unit": unit, "higher_is_better": higher,
            "median": {s: (None if v is None or math.isnan(v) else v) for s, v in zip(SERVERS, vals)},
            "samples": {s: samples.get((s, fid)) for s in SERVERS if (s, fid) in samples},
            "ratio_sn_demo_to_ssl_server2": r_s2,
            "ratio_sn_demo_to_nginx": r_ng,
        })
    lines.append("")
    lines.append("n/a: the server cannot do it (ssl_server2 serves one connection at a time, one")
    lines.append("HTTP/1.0 reply without a length, at most 16 KiB). Ratios are sn_demo / peer; for")
    lines.append("latency, CPU and RSS lower is better. Handshake rates are bound by the one-CPU")
    lines.append("OpenSSL client; the server CPU per handshake is the figure to compare servers by.")
    if any(f["figure"] == "ul_mbps" for f in table):
        lines.append("The upload's client is curl on one CPU: near 100% of its time on CPU, it is the")
        lines.append("bound, and the server CPU per MB is the figure to compare by. sn_demo also")
        lines.append("computes the body's SHA-256 (its answer is checked); nginx discards the body.")
    if any(f["figure"] == "auth_ratio" for f in table):
        lines.append("auth: a check's time over a handshake's, both on the server's CPU, alternated in")
        lines.append("one process (bench/auth_cost.c); a check blocks the manager as long as that many")
        lines.append("handshakes would. The s_time line divides by sn_demo's CPU per full TLS 1.3")
        lines.append("handshake from the handshake figure (schedstat, each with one HTTP/1.0 request).")
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
