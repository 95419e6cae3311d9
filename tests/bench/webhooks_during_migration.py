#!/usr/bin/env python3
"""Webhook 202 latency of `tillbridge serve` while a large migration validates, applies and
rolls back (README "Performance").

    python3 tests/bench/webhooks_during_migration.py target/release/tillbridge [RECORDS]

Starts serve on a fresh state directory with the sample tenants, puts a generated Square
export of RECORDS records (default 40,000 = 100,000 catalog items) in its blob store, starts
the migration over HTTP, approves the suggested mapping, then rolls it back — while 4 senders
post signed Shopify deliveries the whole time. Prints the 202 latencies (p50 / p99 / max)
before the migration, during it, and the migration's percent as it was polled.
"""
import base64, hashlib, hmac, json, os, subprocess, sys, tempfile, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.abspath(sys.argv[1])
RECORDS = int(sys.argv[2]) if len(sys.argv) > 2 else 40000
SECRET = b"demo-shopify-client-secret"


def call(addr, method, path, body=None, headers=None):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    req = urllib.request.Request(f"http://{addr}{path}", data=data, method=method)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    if isinstance(body, (dict, list)):
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def webhook(addr, n):
    body = json.dumps({"id": 1000 + n % 50, "title": f"Tee {n}", "updated_at": "2026-01-01T00:00:00Z",
                       "variants": [{"id": 5000 + n % 50, "price": "19.99", "sku": f"T{n % 50}",
                                     "updated_at": "2026-01-01T00:00:00Z"}]}).encode()
    sig = base64.b64encode(hmac.new(SECRET, body, hashlib.sha256).digest()).decode()
    t = time.perf_counter()
    status, _ = call(addr, "POST", "/v1/webhooks/shopify/demo-cafe", body,
                     {"X-Shopify-Hmac-Sha256": sig, "X-Shopify-Topic": "products/update",
                      "X-Shopify-Webhook-Id": f"bench-{n}", "content-type": "application/json"})
    return status, (time.perf_counter() - t) * 1000


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def main():
    state = tempfile.mkdtemp(prefix="tillbridge-bench-")
    export_dir = os.path.join(state, "store", "blobs", "exports", "demo-cafe")
    os.makedirs(export_dir)
    with open(os.path.join(export_dir, "large.json"), "w") as f:
        subprocess.run([sys.executable, os.path.join(ROOT, "samples/exports/generate_large.py"), str(RECORDS)],
                       stdout=f, check=True)
    serve = subprocess.Popen([BIN, "serve", "--addr", "127.0.0.1:0", "--state", os.path.join(state, "store"),
                              "--tenants", os.path.join(ROOT, "samples/tenants.json"), "--log-format", "text"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env=dict(os.environ, RUST_LOG="warn"))
    addr = serve.stdout.readline().strip().removeprefix("listening on http://")
    phase = {"name": "idle"}
    lat = {"idle": [], "migrating": [], "rolling back": []}
    bad = []
    stop = threading.Event()

    def sender(k):
        n = k
        while not stop.is_set():
            status, ms = webhook(addr, n)
            if status != 202:
                bad.append(status)
            if phase["name"] in lat:
                lat[phase["name"]].append(ms)
            n += 4
            time.sleep(0.005)

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    phase["name"] = "migrating"
    started = time.time()
    status, body = call(addr, "POST", "/v1/migrations",
                        {"tenant_id": "demo-cafe", "source_name": "square", "export_key": "exports/demo-cafe/large.json"})
    assert status == 202, body
    mid = json.loads(body)["id"]
    seen = []

    def wait(until):
        while True:
            _, b = call(addr, "GET", f"/v1/migrations/{mid}")
            m = json.loads(b)
            mark = (m["status"], m.get("percent"))
            if not seen or seen[-1][1:] != mark:
                seen.append((round(time.time() - started, 1),) + mark)
            if m["status"] in until:
                return m
            time.sleep(0.2)

    wait({"mapping_review"})
    assert call(addr, "POST", f"/v1/migrations/{mid}/approve", b"")[0] == 202
    m = wait({"completed", "failed"})
    applied_s = time.time() - started
    phase["name"] = "rolling back"
    assert call(addr, "POST", f"/v1/migrations/{mid}/rollback", b"")[0] == 202
    wait({"rolled_back", "failed"})
    stop.set()
    for t in threads:
        t.join()
    serve.terminate()
    serve.wait()
    print(f"migration {mid}: {m['status']} after {applied_s:.1f} s ({m.get('progress', {}).get('items')} items)")
    print("status / percent as polled (s since start):", " ".join(f"{t}s:{s}/{p}" for t, s, p in seen))
    for name, xs in lat.items():
        print(f"{name:13s} {len(xs):6d} deliveries  202 p50 {pct(xs, .5):7.1f} ms  p99 {pct(xs, .99):7.1f} ms  max {max(xs or [0]):7.1f} ms")
    print("non-202 answers:", len(bad))


if __name__ == "__main__":
    main()
