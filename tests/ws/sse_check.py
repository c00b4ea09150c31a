#!/usr/bin/python3
"""Checks what `curl -N -D HEADERS -o BODY` read from sn_demo's /api/events
(server-sent events, WS_DEMO.md) for a few seconds:

  sse_check.py HEADERS BODY FIRST_ID WHAT

HEADERS: the response head(s) curl wrote; BODY: the stream as curl passed it on
(de-chunked). Parsed as the HTML Living Standard's event stream
(9.2.6 "Interpreting an event stream": lines end in LF, CR LF or CR; "field:
value" with one leading space dropped; a blank line dispatches; lines starting
with ":" are comments). Checks: 200 with Content-Type text/event-stream; at
least 2 events; the first id is FIRST_ID, each next one the one before + 1; each
event's data is one JSON object; no "event:" field (EventSource's onmessage
gets them). Prints "ok - ..." / "not ok - ...: why" lines.
"""
import json
import re
import sys

hdr_file, body_file, first, what = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
failed = 0


def report(cond, name, why=""):
    global failed
    if cond:
        print("ok - %s: %s" % (what, name))
    else:
        failed += 1
        print("not ok - %s: %s: %s" % (what, name, why))


head = open(hdr_file, "rb").read().decode("latin-1")
body = open(body_file, "rb").read()
# the last response head curl saw (there is one: no redirects are followed)
status = re.findall(r"^HTTP/\S+ (\d{3})", head, re.M)
ctype = re.findall(r"^content-type:\s*([^\r\n]*)", head, re.M | re.I)
report(status[-1:] == ["200"] and ctype and ctype[-1].split(";")[0].strip().lower() == "text/event-stream",
       "200 with Content-Type: text/event-stream", "status %s, Content-Type %s" % (status, ctype))
cc = re.findall(r"^cache-control:\s*([^\r\n]*)", head, re.M | re.I)
print("# %s: Cache-Control %s, %d bytes in the stream" % (what, cc or "(none)", len(body)))

try:
    text = body.decode("utf-8")  # the stream is UTF-8 (9.2.5)
    why = ""
except UnicodeDecodeError as e:
    text, why = body.decode("utf-8", "replace"), "not UTF-8: %s" % e
events, cur, fields = [], {"data": []}, set()
for line in re.split(r"\r\n|\r|\n", text):
    if line == "":
        if cur["data"] or "id" in cur:
            events.append(cur)
        cur = {"data": []}
        continue
    if line.startswith(":"):
        continue
    name, _, value = line.partition(":")
    if value.startswith(" "):
        value = value[1:]
    fields.add(name)
    if name == "data":
        cur["data"].append(value)
    else:
        cur[name] = value
# an event cut off by curl's --max-time (no blank line yet) is not dispatched, as in a browser
if events:
    print("# %s: first event id %s data %s" % (what, events[0].get("id"), "\n".join(events[0]["data"])[:200]))
report(why == "" and len(events) >= 2, "at least 2 events in the stream", why or "%d events" % len(events))
ids = [e.get("id") for e in events]
want = [str(first + i) for i in range(len(events))]
report(len(ids) >= 1 and ids == want, "ids are %d, %d, ... (each the one before + 1)" % (first, first + 1),
       "ids %s" % ids)
bad = []
for e in events:
    try:
        if not isinstance(json.loads("\n".join(e["data"])), dict):
            bad.append(e["data"])
    except ValueError:
        bad.append(e["data"])
report(events and not bad, "every event's data is one JSON object", "not JSON: %r" % (bad[:2],))
report(events and "event" not in fields, "no event: field (EventSource's onmessage gets every event)",
       "event: %s" % [e.get("event") for e in events if "event" in e])
sys.exit(1 if failed else 0)
