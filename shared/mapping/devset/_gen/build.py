"""Regenerates every source folder of the dev set: `python3 _gen/build.py` from devset/."""
import csv
import io
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from catalog import h  # noqa: E402
from csv_sources import SOURCES  # noqa: E402
from json_sources import JSON_SOURCES  # noqa: E402

CANONICAL = [
    "external_id", "sku", "name", "description", "category", "price_minor", "currency", "cost_minor",
    "barcode", "tax_rate_percent", "quantity_on_hand", "is_active", "image_url", "brand", "vendor",
    "variant_name", "parent_id", "modifier_group_ids", "unit_of_measure", "weight", "created_at",
    "updated_at", "thc_percent", "cbd_percent",
]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def truth_entry(t):
    e = {"target": t["target"]}
    if t["also"]:
        e["also_acceptable"] = t["also"]
    if t["note"]:
        e["note"] = t["note"]
    for name in [e["target"], *e.get("also_acceptable", [])]:
        assert name is None or name in CANONICAL, name
    return e


def write(name, fmt, sample_text, records, fields):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"sample.{fmt}"), "w", encoding="utf-8", newline="") as f:
        f.write(sample_text)
    truth = {"source": name, "format": fmt, "sample_file": f"sample.{fmt}", "record_count": records,
             "canonical_fields": CANONICAL, "fields": fields}
    with open(os.path.join(d, "truth.json"), "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=2, ensure_ascii=False)
        f.write("\n")


def main():
    for name, build in SOURCES.items():
        cols, rows = build()
        headers = [c[0] for c in cols]
        assert len(set(headers)) == len(headers), name
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(headers)
        for r in rows:
            w.writerow([c[2](r) for c in cols])
        write(name, "csv", buf.getvalue(), len(rows), {c[0]: truth_entry(c[1]) for c in cols})
    for name, build in JSON_SOURCES.items():
        records, truth = build()
        write(name, "json", json.dumps(records, indent=2, ensure_ascii=False) + "\n", len(records),
              {p: truth_entry(t) for p, t in truth.items()})


if __name__ == "__main__":
    main()
