#!/usr/bin/env python3
"""Clean sample catalogs in canonical JSONL (what a finished mapping produces).
Deterministic; run: python3 samples/catalog/generate.py"""
import json, os

HERE = os.path.dirname(os.path.abspath(__file__))

def gtin13(n):
    body = f"{200000000000 + n:012d}"
    s = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - s % 10) % 10)

def write(name, lines):
    with open(os.path.join(HERE, name), "w") as f:
        for l in lines:
            f.write(json.dumps(l, ensure_ascii=False) + "\n")

# A cafe in Portland (USD): coffee with modifier groups, pastries, sandwiches, beans, merch.
cafe, n = [], 0
cafe.append({"kind": "modifier_group", "id": "mg-milk", "name": "Milk", "min_selections": 0, "max_selections": 1,
             "options": [{"id": "whole", "name": "Whole", "price_delta_minor": 0}, {"id": "oat", "name": "Oat", "price_delta_minor": 75},
                         {"id": "almond", "name": "Almond", "price_delta_minor": 75}]})
cafe.append({"kind": "modifier_group", "id": "mg-shots", "name": "Extra shots", "min_selections": 0, "max_selections": 2,
             "options": [{"id": "one", "name": "One extra", "price_delta_minor": 100}, {"id": "two", "name": "Two extra", "price_delta_minor": 200}]})
menu = {
    "Coffee": [("Espresso", 325), ("Americano", 375), ("Cortado", 425), ("Cappuccino", 475), ("Flat White", 475), ("Latte", 500),
               ("Mocha", 550), ("Cold Brew", 475), ("Chai Latte", 525), ("Matcha Latte", 575)],
    "Pastry": [("Croissant", 395), ("Pain au Chocolat", 450), ("Almond Croissant", 495), ("Morning Bun", 425), ("Blueberry Muffin", 375),
               ("Cinnamon Roll", 450), ("Scone", 395), ("Banana Bread", 375), ("Kouign-Amann", 495)],
    "Sandwiches": [("Egg & Cheese", 850), ("BLT", 1150), ("Turkey Club", 1295), ("Caprese", 1095), ("Smoked Salmon Bagel", 1395),
                   ("Avocado Toast", 1050), ("Ham & Gruyère", 1195), ("Veggie Wrap", 1050)],
    "Beans": [("House Blend 12oz", 1700), ("Ethiopia Guji 12oz", 2100), ("Colombia Huila 12oz", 1900), ("Decaf 12oz", 1800),
              ("Espresso Blend 12oz", 1800), ("Kenya AA 12oz", 2300), ("Guatemala 12oz", 1900), ("Seasonal 12oz", 2000)],
    "Merch": [("Logo Mug", 1800), ("Travel Tumbler", 3200), ("Tote Bag", 2200), ("T-Shirt", 2800), ("Enamel Pin", 1200),
              ("Hoodie", 5500), ("Cap", 2600), ("Pour-over Dripper", 3000)],
}
for cat, items in menu.items():
    for name, price in items:
        n += 1
        item = {"external_id": f"cafe-{n:03d}", "sku": f"PDX-{n:03d}", "name": name, "category": cat, "price_minor": price, "currency": "USD",
                "cost_minor": price * 3 // 10, "tax_rate_percent": 0, "is_active": True, "updated_at": "2026-11-01T08:00:00Z"}
        if cat in ("Beans", "Merch"):
            item["barcode"] = gtin13(n)
        if cat == "Coffee":
            item["modifier_group_ids"] = ["mg-milk", "mg-shots"] if name not in ("Espresso", "Americano") else ["mg-shots"]
        cafe.append(item)
write("cafe.jsonl", cafe)

# A dispensary in Denver (USD): flower variants by weight, edibles, vapes, prerolls.
disp, n = [], 0
strains = [("Blue Dream", 21.5, 0.1), ("OG Kush", 24.0, 0.2), ("Sour Diesel", 22.3, 0.1), ("Girl Scout Cookies", 25.1, 0.3),
           ("Granddaddy Purple", 19.8, 0.2), ("Jack Herer", 20.4, 0.1), ("Wedding Cake", 26.2, 0.2), ("Harlequin", 7.5, 10.2),
           ("Pineapple Express", 21.0, 0.1), ("Gelato", 24.6, 0.2)]
for strain, thc, cbd in strains:
    parent = f"disp-p{len(disp):03d}"
    for grams, price in (("3.5g", 3500), ("7g", 6500)):
        n += 1
        disp.append({"external_id": f"disp-{n:03d}", "parent_id": parent, "sku": f"DEN-F{n:03d}", "barcode": gtin13(5000 + n), "name": strain,
                     "variant_name": grams, "category": "Flower", "brand": "Front Range Farms", "price_minor": price + (n % 5) * 100,
                     "currency": "USD", "cost_minor": price // 2, "thc_percent": thc, "cbd_percent": cbd, "unit_of_measure": "g",
                     "weight": float(grams[:-1]), "tax_rate_percent": 15, "is_active": True, "quantity_on_hand": 20 + n})
for i, (name, price) in enumerate([("Gummies 10pk Mango", 1800), ("Gummies 10pk Berry", 1800), ("Chocolate Bar 100mg", 2000),
                                    ("Mints 20pk", 1600), ("Caramels 10pk", 2200), ("Sparkling Water 5mg", 900), ("Honey Sticks 5pk", 1500),
                                    ("Cookies 2pk", 1400), ("Sour Bites 10pk", 1900)]):
    n += 1
    disp.append({"external_id": f"disp-{n:03d}", "sku": f"DEN-E{n:03d}", "barcode": gtin13(5000 + n), "name": name, "category": "Edibles",
                 "brand": "Mile High Treats", "price_minor": price, "currency": "USD", "cost_minor": price * 45 // 100, "thc_percent": 0.5,
                 "tax_rate_percent": 15, "is_active": True, "quantity_on_hand": 40})
for i, (name, price) in enumerate([("Live Resin Cart 0.5g", 4500), ("Distillate Cart 1g", 4000), ("Disposable Pen 0.3g", 3000),
                                    ("Rosin Cart 0.5g", 5500), ("Sativa Cart 1g", 4200), ("Indica Cart 1g", 4200), ("CBD Cart 0.5g", 3500),
                                    ("Hybrid Cart 0.5g", 3800)]):
    n += 1
    disp.append({"external_id": f"disp-{n:03d}", "sku": f"DEN-V{n:03d}", "barcode": gtin13(5000 + n), "name": name, "category": "Vapes",
                 "brand": "Altitude Extracts", "price_minor": price, "currency": "USD", "cost_minor": price // 2, "thc_percent": 82.5,
                 "tax_rate_percent": 15, "is_active": True})
write("dispensary.jsonl", disp)

# A shop in Stockholm (SEK, VAT 25/12/6 %): food at 12 %, books at 6 %, goods at 25 %.
sth, n = [], 0
sth.append({"kind": "modifier_group", "id": "mg-storlek", "name": "Storlek", "min_selections": 1, "max_selections": 1,
            "options": [{"id": "liten", "name": "Liten", "price_delta_minor": 0}, {"id": "stor", "name": "Stor", "price_delta_minor": 1000}]})
groups = {
    ("Kaffe", 12): [("Bryggkaffe", 3500), ("Cappuccino", 4500), ("Latte", 4900), ("Espresso", 3200), ("Cortado", 4200), ("Te", 3500),
                    ("Varm choklad", 4500), ("Iskaffe", 4900)],
    ("Bageri", 12): [("Kanelbulle", 3900), ("Kardemummabulle", 4200), ("Semla", 5500), ("Chokladboll", 2900), ("Mazarin", 3200),
                     ("Prinsesstårta bit", 5900), ("Surdegsbröd", 6500), ("Knäckebröd", 4500)],
    ("Böcker", 6): [("Kokbok Fika", 29900), ("Baka med surdeg", 27900), ("Kaffets historia", 24900), ("Svenska bullar", 22900),
                    ("Nordisk mat", 34900), ("Te för alla", 19900), ("Choklad", 25900), ("Kakboken", 21900)],
    ("Presenter", 25): [("Mugg", 17900), ("Termos", 34900), ("Tygpåse", 14900), ("Kaffeburk", 24900), ("Kökshandduk", 12900),
                        ("Presentkort 200", 20000), ("Ljusstake", 29900), ("Bricka", 27900)],
}
for (cat, vat), items in groups.items():
    for name, price in items:
        n += 1
        item = {"external_id": f"sth-{n:03d}", "sku": f"STH-{n:03d}", "name": name, "category": cat, "price_minor": price, "currency": "SEK",
                "cost_minor": price * 35 // 100, "tax_rate_percent": vat, "is_active": True, "updated_at": "2026-10-15T07:30:00Z"}
        if cat in ("Böcker", "Presenter"):
            item["barcode"] = gtin13(9000 + n)
        if cat == "Kaffe":
            item["modifier_group_ids"] = ["mg-storlek"]
        sth.append(item)
write("stockholm.jsonl", sth)
print(len(cafe), len(disp), len(sth))
