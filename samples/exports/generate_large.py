#!/usr/bin/env python3
"""A large Square-shaped catalog export for the migration benchmark (README "Migrations").

    python3 samples/exports/generate_large.py ITEMS [--reprice] > export.json

ITEMS items, each with one or two variations (about 1.5 catalog items per record); with
--reprice every price is 10 % higher (a second migration that changes every item).
Deterministic: the same arguments give the same file.
"""
import json, random, sys

n = int(sys.argv[1])
reprice = "--reprice" in sys.argv
rng = random.Random(7)
categories = ["Coffee", "Tea", "Bakery", "Retail", "Sandwiches", "Juice"]
out = sys.stdout
out.write("[")
for i in range(n):
    base = rng.randint(150, 1500)
    if reprice:
        base = base * 11 // 10
    variations = []
    for v, (size, mult) in enumerate([("Regular", 1.0), ("Large", 1.25)][: 1 + (i % 2)]):
        variations.append({
            "type": "ITEM_VARIATION",
            "id": f"VAR{i:07d}{v}",
            "item_variation_data": {
                "item_id": f"ITEM{i:07d}",
                "name": size,
                "sku": f"SKU-{i:07d}-{v}",
                "pricing_type": "FIXED_PRICING",
                "price_money": {"amount": int(base * mult), "currency": "USD"},
            },
        })
    record = {
        "type": "ITEM",
        "id": f"ITEM{i:07d}",
        "updated_at": "2026-01-15T10:00:00.000Z",
        "is_deleted": False,
        "item_data": {
            "name": f"Product {i}",
            "description": f"House product number {i}",
            "category_name": categories[i % len(categories)],
            "variations": variations,
        },
    }
    if i:
        out.write(",")
    out.write(json.dumps(record, separators=(",", ":")))
out.write("]\n")
