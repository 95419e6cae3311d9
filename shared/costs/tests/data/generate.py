#!/usr/bin/env python3
"""Usage fixtures and their expected cost tables, computed independently of the Rust code:
Python's decimal module, per-line costs summed, final amounts rounded half-even.
Covers duplicates, other months (incl. offsets that cross a month boundary in UTC), every
token class, missing cache rates, unknown models and budgets.
    python3 generate.py   (deterministic)
"""
import json, os, random
from decimal import Decimal, ROUND_HALF_EVEN, getcontext

getcontext().prec = 60
HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20261122)

prices = {
    "gpt-4o": {"input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05, "cache_read_input_token_cost": 1.25e-06, "litellm_provider": "openai", "mode": "chat"},
    "gpt-4o-mini": {"input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07, "cache_read_input_token_cost": 7.5e-08, "litellm_provider": "openai", "mode": "chat"},
    "claude-sonnet-4-5": {"input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05, "cache_read_input_token_cost": 3e-07, "cache_creation_input_token_cost": 3.75e-06, "litellm_provider": "anthropic", "mode": "chat"},
    "claude-3-5-haiku-20241022": {"input_cost_per_token": 8e-07, "output_cost_per_token": 4e-06, "cache_read_input_token_cost": 8e-08, "cache_creation_input_token_cost": 1e-06, "litellm_provider": "anthropic", "mode": "chat"},
    "odd-model": {"input_cost_per_token": 1.23456789e-07, "output_cost_per_token": 9.87654321e-07, "litellm_provider": "custom", "mode": "chat"},
}
# Exact decimal of the JSON text as written (repr of a float is its shortest text).
def d(v): return Decimal(repr(v))

def rate(model, field, fallback="input_cost_per_token"):
    p = prices[model]
    return d(p[field]) if field in p else d(p[fallback])

tenants = ["acme", "bistro-7", "cafe_du_nord", "zeta"]
models = list(prices) + ["mystery-llm-9000", "gpt-unknown"]
lines, used_ids = [], []
for i in range(3000):
    if used_ids and rng.random() < 0.05:
        # A duplicate: same request id (content may differ; the first one counts).
        rid = rng.choice(used_ids)
    else:
        rid = f"req-{i:05d}"
        used_ids.append(rid)
    month = rng.choice(["2026-03"] * 8 + ["2026-02", "2026-04"])
    day = rng.randint(1, 28)
    if rng.random() < 0.03:
        # Local time that is already the next month in UTC.
        ts = "2026-03-31T23:30:00-01:00"
    elif rng.random() < 0.03:
        ts = "2026-04-01T00:30:00+02:00"  # still March in UTC
    else:
        ts = f"{month}-{day:02d}T{rng.randint(0,23):02d}:{rng.randint(0,59):02d}:{rng.randint(0,59):02d}Z"
    rec = {"request_id": rid, "tenant_id": rng.choice(tenants), "operation": rng.choice(["mapping.suggest", "mapping.escalate"]),
           "provider": "openai", "model": rng.choice(models), "input_tokens": rng.randint(0, 200_000), "output_tokens": rng.randint(0, 8_000),
           "occurred_at": ts}
    if rng.random() < 0.7: rec["cached_input_tokens"] = rng.randint(0, 50_000)
    if rng.random() < 0.5: rec["cache_write_tokens"] = rng.randint(0, 20_000)
    if rng.random() < 0.3: rec["migration_id"] = f"mig-{rng.randint(1,5)}"
    lines.append(rec)

budgets = {"acme": "150", "bistro-7": "0.5", "zeta": 99.99}

def utc_month(ts):
    from datetime import datetime, timezone
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(timezone.utc).strftime("%Y-%m")

seen, rows = set(), {}
unpriced_models = set()
for r in lines:
    if r["request_id"] in seen: continue
    seen.add(r["request_id"])
    if utc_month(r["occurred_at"]) != "2026-03": continue
    row = rows.setdefault(r["tenant_id"], {"requests": 0, "input_tokens": 0, "cached_input_tokens": 0, "cache_write_tokens": 0, "output_tokens": 0, "cost": Decimal(0), "unpriced_requests": 0})
    row["requests"] += 1
    ci, cw = r.get("cached_input_tokens", 0), r.get("cache_write_tokens", 0)
    for k, v in (("input_tokens", r["input_tokens"]), ("cached_input_tokens", ci), ("cache_write_tokens", cw), ("output_tokens", r["output_tokens"])):
        row[k] += v
    m = r["model"]
    if m not in prices:
        row["unpriced_requests"] += 1
        unpriced_models.add(m)
        continue
    row["cost"] += (r["input_tokens"] * rate(m, "input_cost_per_token") + ci * rate(m, "cache_read_input_token_cost")
                    + cw * rate(m, "cache_creation_input_token_cost") + r["output_tokens"] * rate(m, "output_cost_per_token"))

def fixed(v, places):
    return str(v.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))

expected = []
for t in sorted(rows):
    row = rows[t]
    b = Decimal(str(budgets[t])) if t in budgets else None
    expected.append({"tenant_id": t, "requests": row["requests"], "input_tokens": row["input_tokens"], "cached_input_tokens": row["cached_input_tokens"],
                     "cache_write_tokens": row["cache_write_tokens"], "output_tokens": row["output_tokens"], "cost_usd": fixed(row["cost"], 6),
                     "unpriced_requests": row["unpriced_requests"], "budget_usd": fixed(b, 6) if b is not None else None,
                     "budget_used_percent": fixed(row["cost"] * 100 / b, 2) if b else None})

with open(os.path.join(HERE, "usage.jsonl"), "w") as f:
    for r in lines: f.write(json.dumps(r) + "\n")
json.dump(prices, open(os.path.join(HERE, "prices.json"), "w"), indent=1)
json.dump(budgets, open(os.path.join(HERE, "budgets.json"), "w"), indent=1)
json.dump({"period": "2026-03", "rows": expected, "unpriced_models": sorted(unpriced_models)}, open(os.path.join(HERE, "expected.json"), "w"), indent=1)
print(len(lines), "lines;", len(expected), "rows")
