#!/usr/bin/python3
"""Small Prometheus helpers for metrics_e2e_test.sh (standard library only).

  prom_query.py fetch URL                       print the body of GET URL
  prom_query.py value FILE NAME [k=v,...]       print the value of one sample of
                                                a text-format exposition (exit 1
                                                when absent)
  prom_query.py query BASE_URL PROMQL           print the first value of an
                                                instant query via /api/v1/query
                                                (exit 1 when the result is empty)
"""
import json
import re
import sys
import urllib.parse
import urllib.request

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def fetch(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def value(path, name, selector):
    want = dict(kv.split("=", 1) for kv in selector.split(",") if kv)
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = SAMPLE.match(line)
            if not m or m.group(1) != name:
                continue
            labels = dict(LABEL.findall(m.group(2) or ""))
            if all(labels.get(k) == v for k, v in want.items()):
                print(m.group(3))
                return 0
    return 1


def query(base, promql):
    body = json.loads(fetch(base + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})))
    if body.get("status") != "success" or not body["data"]["result"]:
        return 1
    print(body["data"]["result"][0]["value"][1])
    return 0


def main(argv):
    if argv[1] == "fetch":
        sys.stdout.write(fetch(argv[2]))
        return 0
    if argv[1] == "value":
        return value(argv[2], argv[3], argv[4] if len(argv) > 4 else "")
    if argv[1] == "query":
        try:
            return query(argv[2], argv[3])
        except OSError:
            return 1
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
