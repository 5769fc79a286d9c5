#!/usr/bin/env python3
"""A load check of `cdam serve` (not a test): N clients upload photos to /api/explain for S seconds on loopback;
reports requests, errors, p50/p95/max latency and the server's resident memory sampled each second.

    python3 scripts/serve_load.py --url http://127.0.0.1:PORT/ --pid SERVER_PID --concept NAME [--clients 8] [--seconds 60] PHOTO...
"""
import argparse
import statistics
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--concept", action="append", required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("photos", nargs="+")
    args = parser.parse_args()
    bodies = [(p.split("/")[-1], open(p, "rb").read()) for p in args.photos]
    query = "&".join("concept=" + urllib.parse.quote(c) for c in args.concept)
    latencies, errors, lock = [], [], threading.Lock()
    deadline = time.time() + args.seconds

    def client(index):
        i = index
        while time.time() < deadline:
            name, body = bodies[i % len(bodies)]
            i += 1
            start = time.time()
            try:
                request = urllib.request.Request(f"{args.url}api/explain?{query}&maps=cdam&name={urllib.parse.quote(name)}",
                                                 data=body, method="POST")
                with urllib.request.urlopen(request, timeout=600) as response:
                    response.read()
                with lock:
                    latencies.append(time.time() - start)
            except Exception as error:  # noqa: BLE001 - every failure counts
                with lock:
                    errors.append(str(error))

    memory = []
    threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        memory.append(rss_mb(args.pid))
        time.sleep(1)
    for t in threads:
        t.join()
    latencies.sort()
    def pct(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
    print(f"{args.clients} clients, {args.seconds:.0f} s: {len(latencies)} requests answered "
          f"({len(latencies) / args.seconds:.2f}/s), {len(errors)} errors")
    print(f"latency p50 {pct(0.5):.2f} s, p95 {pct(0.95):.2f} s, max {latencies[-1] if latencies else float('nan'):.2f} s")
    if memory:
        third = max(1, len(memory) // 3)
        print(f"server RSS: first third mean {statistics.mean(memory[:third]):.0f} MB, last third mean "
              f"{statistics.mean(memory[-third:]):.0f} MB, max {max(memory):.0f} MB")
    for e in errors[:5]:
        print("error:", e)


if __name__ == "__main__":
    main()
