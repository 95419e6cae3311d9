#!/usr/bin/env python3
"""Fetch on notify under bursts (README "Performance"): API calls per 1,000 thin webhooks and the
time from a thin webhook to the fetched items being in the catalog.

    cargo build --release -p tillbridge-cli
    cargo build --release -p tillbridge-connectors --features fake --example fake_square
    python3 tests/bench/thin_webhooks.py target/release/tillbridge target/release/examples/fake_square

Starts a fake Square (ITEMS items × 2 variations, Square's wire format) and `serve` with a tenant
whose Square entry has `api`, then posts 1,000 signed `catalog.version.updated` webhooks in 10
bursts of 100 (one burst a second) and reports the fake's request count, the 202 latencies and
when every variation was visible.
"""
import base64, hashlib, hmac, json, os, subprocess, sys, tempfile, threading, time, urllib.request

BIN, FAKE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
ITEMS = int(sys.argv[3]) if len(sys.argv) > 3 else 200
KEY, URL = "bench-square-key", "https://hooks.example/v1/webhooks/square/bench"


def call(addr, method, path, body=b"", headers=None):
    req = urllib.request.Request(f"http://{addr}{path}", data=body if method != "GET" else None, method=method)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main():
    fake = subprocess.Popen([FAKE, str(ITEMS), "2", "tok"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = fake.stdout.readline().strip()
    requests = {"n": 0}

    def count():
        for line in fake.stderr:
            if line.startswith("requests answered:"):
                requests["n"] = int(line.split(":")[1])

    threading.Thread(target=count, daemon=True).start()
    state = tempfile.mkdtemp(prefix="tb-thin-")
    tenants = os.path.join(state, "tenants.json")
    json.dump({"tenants": [{"tenant_id": "bench", "currency": "USD", "providers": {"square": {
        "secret": KEY, "notification_url": URL, "api": {"base_url": base, "access_token": "tok"}}}}]},
        open(tenants, "w"))
    serve = subprocess.Popen([BIN, "serve", "--addr", "127.0.0.1:0", "--state", os.path.join(state, "s"),
                              "--tenants", tenants, "--log-format", "text"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    addr = serve.stdout.readline().strip().removeprefix("listening on http://")
    latencies, first_post = [], None
    try:
        for burst in range(10):
            for i in range(100):
                body = json.dumps({"merchant_id": "M", "type": "catalog.version.updated",
                                   "event_id": f"evt-{burst}-{i}", "created_at": "2026-03-01T10:00:00Z",
                                   "data": {"type": "catalog", "id": "", "object": {"catalog_version": {
                                       "updated_at": "2026-03-01T10:00:00Z"}}}}).encode()
                sig = base64.b64encode(hmac.new(KEY.encode(), URL.encode() + body, hashlib.sha256).digest()).decode()
                t = time.perf_counter()
                status, _ = call(addr, "POST", "/v1/webhooks/square/bench", body,
                                 {"x-square-hmacsha256-signature": sig, "content-type": "application/json"})
                latencies.append((time.perf_counter() - t) * 1000)
                first_post = first_post or t
                assert status == 202, status
            if burst == 0:
                # How long until the last variation of the fake catalog is visible.
                last = f"VAR{ITEMS - 1:06}-1"
                while call(addr, "GET", f"/v1/tenants/bench/items/{last}")[0] != 200:
                    time.sleep(0.02)
                visible = time.perf_counter() - first_post
            time.sleep(1)
        time.sleep(3)
        latencies.sort()
        pct = lambda p: latencies[min(len(latencies) - 1, int(len(latencies) * p))]
        status, body = call(addr, "GET", "/v1/tenants/bench/items")
        items = len(json.loads(body))
        print(json.dumps({
            "thin_webhooks": len(latencies), "vendor_api_requests": requests["n"],
            "items_in_catalog": items, "first_burst_to_all_items_visible_s": round(visible, 3),
            "202_ms": {"p50": round(pct(0.5), 2), "p99": round(pct(0.99), 2), "max": round(latencies[-1], 2)},
        }, indent=1))
    finally:
        serve.terminate(); fake.terminate()


main()
