#!/usr/bin/python3
"""promcheck.py: read a Prometheus text exposition (0.0.4) on stdin, parse it
with the official client's parser, and apply the stricter rules a scraper
relies on. Prints "name{labels} value" per sample on success; exits 1 with
the reason otherwise."""
import math
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

NAME = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*$')


def fail(msg):
    print("promcheck: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    text = sys.stdin.read()
    if not text.endswith("\n"):
        fail("exposition must end with a newline")
    typed, helped = {}, set()
    for line in text.splitlines():
        if not line.strip():
            fail("blank line")
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            if name in typed:
                fail("TYPE given twice for " + name)
            typed[name] = kind
        elif line.startswith("# HELP "):
            helped.add(line.split(" ", 3)[2])
    out = []
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's own verdict
        fail("parser: %s" % e)
    for fam in families:
        if fam.name not in typed and fam.name + "_total" not in typed:
            fail("no TYPE for " + fam.name)
        if fam.name not in helped and fam.name + "_total" not in helped:
            fail("no HELP for " + fam.name)
        buckets = {}
        for s in fam.samples:
            if not NAME.match(s.name):
                fail("bad name " + s.name)
            if math.isnan(s.value) or s.value < 0:
                fail("bad value for " + s.name)
            labels = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
            out.append("%s{%s} %g" % (s.name, labels, s.value))
            if fam.type == "histogram" and s.name.endswith("_bucket"):
                key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                buckets.setdefault(key, []).append((float(s.labels["le"]), s.value))
            if fam.type == "histogram" and s.name.endswith("_count"):
                key = tuple(sorted(s.labels.items()))
                buckets.setdefault(key + (("count", ""),), []).append(s.value)
        for key, series in buckets.items():
            if key and key[-1] == ("count", ""):
                continue
            series.sort()
            vals = [v for _, v in series]
            if vals != sorted(vals):
                fail("buckets not cumulative: %s" % (key,))
            if series[-1][0] != math.inf:
                fail("no +Inf bucket: %s" % (key,))
            count = buckets.get(key + (("count", ""),))
            if count is None or count[0] != series[-1][1]:
                fail("+Inf bucket differs from _count: %s" % (key,))
    print("\n".join(out))


main()
