"""A small, invented catalogue shared by the dev-set generators (no real customer data).

Retail/café goods with variants; a cannabis menu for the dispensary sources. Everything is
deterministic: ids, barcodes and timestamps derive from the product's position.
"""
from __future__ import annotations

import hashlib

RETAIL = [
    dict(name="Organic Cotton Tee", cat="Apparel > Shirts", ptype="T-Shirts", brand="Northwind",
         vendor="Northwind Textiles Ltd", opt="Size", tags="organic, cotton, summer",
         desc="Soft, breathable tee made from 100% organic cotton. Relaxed fit, pre-shrunk.",
         variants=[("Small", 2400, 950, 14, 180), ("Medium", 2400, 950, 22, 190),
                   ("Large", 2600, 1000, 9, 205)]),
    dict(name="Stoneware Mug 12oz", cat="Home > Kitchen", ptype="Mugs", brand="Fernhill Pottery",
         vendor="Fernhill Pottery Co", opt="Color", tags="ceramic, gift",
         desc="Hand-glazed stoneware mug, dishwasher and microwave safe. Holds 12 fl oz.",
         variants=[("Sand", 1800, 620, 30, 410), ("Slate", 1800, 620, 12, 410)]),
    dict(name="House Blend Coffee Beans", cat="Grocery > Coffee", ptype="Coffee", brand="Lantern Roasters",
         vendor="Lantern Roasters", opt="Weight", tags="coffee, whole bean",
         desc="Medium roast whole beans with notes of cocoa, hazelnut and dried cherry.",
         variants=[("250g", 1450, 560, 40, 250), ("1kg", 4800, 1900, 8, 1000)]),
    dict(name="Beeswax Pillar Candle", cat="Home > Candles", ptype="Candles", brand="Hive & Wick",
         vendor="Hive and Wick Supply", opt="Title", tags="candle, natural",
         desc="Pure beeswax pillar candle, cotton wick, burns for roughly 40 hours.",
         variants=[("Default Title", 1200, 300, 25, 220)]),
    dict(name="Canvas Tote Bag", cat="Accessories > Bags", ptype="Bags", brand="Northwind",
         vendor="Northwind Textiles Ltd", opt="Title", tags="bag, canvas",
         desc="Heavy 12oz canvas tote with an inside pocket and reinforced handles.",
         variants=[("Default Title", 1600, 450, 17, 150)]),
    dict(name="Dark Chocolate Bar 70%", cat="Grocery > Chocolate", ptype="Chocolate", brand="Cacao Collective",
         vendor="Cacao Collective BV", opt="Title", tags="chocolate, vegan",
         desc="Single-origin dark chocolate, 70% cacao, 100 g bar. Vegan, soy free.",
         variants=[("Default Title", 450, 160, 60, 100)]),
]

CANNABIS = [
    dict(name="Blue Dream 3.5g", cat="Flower", master="Flower", brand="Emerald Coast Farms", vendor="ECF Distribution",
         strain="Blue Dream", stype="Hybrid", price=3500, med=3000, cost=1400, uom="each", w=3.5, wu="g", thc=21.4, cbd=0.1,
         desc="Sweet berry aroma with a balanced, clear-headed high."),
    dict(name="Sour Diesel Pre-Roll 1g", cat="Pre-Rolls", master="Flower", brand="Fog City Growers", vendor="Bay Wholesale",
         strain="Sour Diesel", stype="Sativa", price=1200, med=1000, cost=450, uom="each", w=1.0, wu="g", thc=19.8, cbd=0.2,
         desc="Single pre-roll, fuel and citrus notes, energising."),
    dict(name="Calm Gummies 10pk", cat="Edibles", master="Edibles", brand="Kind Kitchen", vendor="Kind Kitchen LLC",
         strain="", stype="CBD", price=2200, med=2000, cost=800, uom="each", w=100, wu="mg", thc=0.5, cbd=10.0,
         desc="Ten fruit gummies, 1:20 THC:CBD, 5 mg CBD each."),
    dict(name="OG Kush Bulk Flower", cat="Flower", master="Flower", brand="Emerald Coast Farms", vendor="ECF Distribution",
         strain="OG Kush", stype="Indica", price=1000, med=900, cost=380, uom="g", w=1.0, wu="g", thc=24.1, cbd=0.3,
         desc="Sold by the gram; earthy pine and lemon."),
    dict(name="Live Resin Cart 0.5g", cat="Vapes", master="Concentrates", brand="Summit Extracts", vendor="Summit Extracts Inc",
         strain="Gelato", stype="Hybrid", price=4500, med=4000, cost=1900, uom="each", w=0.5, wu="g", thc=82.5, cbd=0.8,
         desc="510-thread cartridge of full-spectrum live resin."),
]


def h(*parts) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest(), 16)


def digits(n: int, seed) -> str:
    return str(h("d", seed))[:n].rjust(n, "0")


def upc(seed) -> str:
    d = "0" + digits(10, seed)
    s = sum(int(x) * (3 if i % 2 == 0 else 1) for i, x in enumerate(d))
    return d + str((10 - s % 10) % 10)


def ean(seed) -> str:
    d = "87" + digits(10, seed)
    s = sum(int(x) * (1 if i % 2 == 0 else 3) for i, x in enumerate(d))
    return d + str((10 - s % 10) % 10)


def token(seed, n=24, alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") -> str:
    v = h("t", seed)
    out = []
    for _ in range(n):
        v, r = divmod(v, len(alphabet))
        out.append(alphabet[r])
    return "".join(out)


def slug(s: str) -> str:
    out = []
    for ch in s.lower():
        if ch.isalnum():
            out.append(ch)
        elif out and out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-")


def stamp(seed, year=2024) -> str:
    v = h("s", seed)
    return f"{year}-{1 + v % 12:02d}-{1 + v % 27:02d} {v % 24:02d}:{v % 60:02d}:{(v // 7) % 60:02d}"


def money(minor: int) -> str:
    return f"{minor / 100:.2f}"


def rows_retail():
    """One dict per sellable variant with its product's fields; `first` marks the product's first row."""
    out = []
    for pi, p in enumerate(RETAIL):
        for vi, (vname, price, cost, qty, grams) in enumerate(p["variants"]):
            out.append(dict(p=p, pi=pi, vi=vi, first=vi == 0, single=len(p["variants"]) == 1,
                            vname=vname, price=price, cost=cost, qty=qty, grams=grams,
                            sku=f"{slug(p['name'])[:3].upper()}-{pi:02d}{vi:02d}",
                            handle=slug(p["name"])))
    return out
