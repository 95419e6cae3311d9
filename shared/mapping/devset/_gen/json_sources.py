"""JSON sources: API payloads as records, the truth for every leaf path."""
from catalog import RETAIL, upc, slug, stamp, money
from csv_sources import T, N


def bigcommerce_api():
    records = []
    for i, p in enumerate(RETAIL):
        pid = 112 + i
        multi = len(p["variants"]) > 1
        base_price = p["variants"][0][1] / 100
        variants = []
        for vi, (vname, price, cost, qty, grams) in enumerate(p["variants"]):
            variants.append({
                "id": 400 + i * 10 + vi,
                "product_id": pid,
                "sku": f"BC-{i:03d}-{vi}" if multi else f"BC-{i:03d}",
                "price": price / 100 if price / 100 != base_price else None,
                "calculated_price": price / 100,
                "sale_price": None,
                "retail_price": None,
                "cost_price": cost / 100,
                "weight": grams / 1000,
                "inventory_level": qty,
                "inventory_warning_level": 5,
                "upc": upc(("bca", i, vi)),
                "image_url": f"https://cdn11.bigcommerce.test/s-abc123/products/{pid}/images/{500 + i * 10 + vi}/{slug(vname)}.jpg" if multi else "",
                "purchasing_disabled": False,
                "option_values": [{"id": 70 + vi, "label": vname, "option_id": 30 + i, "option_display_name": p["opt"]}] if multi else [],
            })
        records.append({
            "id": pid,
            "name": p["name"],
            "type": "physical",
            "sku": f"BC-{i:03d}",
            "description": f"<p>{p['desc']}</p>",
            "weight": p["variants"][0][4] / 1000,
            "width": 10, "depth": 3, "height": 12,
            "price": base_price,
            "cost_price": p["variants"][0][2] / 100,
            "retail_price": round(base_price + 5, 2),
            "sale_price": round(base_price - 2, 2) if i == 3 else 0,
            "map_price": 0,
            "tax_class_id": 0,
            "product_tax_code": "",
            "calculated_price": base_price,
            "categories": [23 + i % 3, 40],
            "brand_id": 35 + (i % 4),
            "option_set_id": 12 + i if multi else None,
            "inventory_level": sum(v[3] for v in p["variants"]),
            "inventory_warning_level": 5,
            "inventory_tracking": "variant" if multi else "product",
            "fixed_cost_shipping_price": 0,
            "is_free_shipping": False,
            "is_visible": i != 4,
            "is_featured": i == 0,
            "warranty": "",
            "bin_picking_number": f"A{i + 1}",
            "upc": upc(("bca", i)),
            "mpn": f"MPN-{4400 + i}",
            "gtin": "",
            "search_keywords": p["tags"],
            "availability": "available",
            "sort_order": i,
            "condition": "New",
            "page_title": f"{p['name']} - Northwind Goods",
            "meta_keywords": [t.strip() for t in p["tags"].split(",")],
            "meta_description": p["desc"][:80],
            "date_created": f"2023-0{1 + i % 9}-1{i}T10:2{i}:00+00:00",
            "date_modified": f"2024-1{i % 3}-0{1 + i}T08:4{i}:13+00:00",
            "custom_url": {"url": f"/{slug(p['name'])}/", "is_customized": False},
            "open_graph_title": p["name"],
            "open_graph_description": p["desc"][:60],
            "open_graph_use_meta_description": True,
            "total_sold": 10 + i * 7,
            "base_variant_id": 400 + i * 10 if not multi else None,
            "variants": variants,
            "images": [{
                "id": 300 + i,
                "product_id": pid,
                "is_thumbnail": True,
                "sort_order": 0,
                "description": f"{p['name']} front view",
                "url_zoom": f"https://cdn11.bigcommerce.test/s-abc123/images/stencil/1280x1280/products/{pid}/{300 + i}/{slug(p['name'])}.jpg",
                "url_standard": f"https://cdn11.bigcommerce.test/s-abc123/images/stencil/500x659/products/{pid}/{300 + i}/{slug(p['name'])}.jpg",
                "url_thumbnail": f"https://cdn11.bigcommerce.test/s-abc123/images/stencil/100x100/products/{pid}/{300 + i}/{slug(p['name'])}.jpg",
            }],
        })
    truth = {
        "id": T("external_id"), "name": T("name"), "type": N, "sku": T("sku"), "description": T("description"),
        "weight": T("weight"), "width": N, "depth": N, "height": N, "price": T("price_minor"),
        "cost_price": T("cost_minor"), "retail_price": T(None, "price_minor", note="MSRP."),
        "sale_price": T(None, "price_minor"), "map_price": N, "tax_class_id": T(None, "tax_rate_percent"),
        "product_tax_code": N, "calculated_price": T(None, "price_minor", note="Price after rules/sales; derived."),
        "categories[]": T("category"), "brand_id": T("brand"), "option_set_id": N,
        "inventory_level": T("quantity_on_hand"), "inventory_warning_level": N, "inventory_tracking": N,
        "fixed_cost_shipping_price": N, "is_free_shipping": N, "is_visible": T("is_active"), "is_featured": N,
        "warranty": N, "bin_picking_number": N, "upc": T("barcode"), "mpn": N, "gtin": T("barcode"),
        "search_keywords": N, "availability": T(None, "is_active"), "sort_order": N, "condition": N,
        "page_title": T(None, "name"), "meta_keywords[]": N, "meta_description": T(None, "description"),
        "date_created": T("created_at"), "date_modified": T("updated_at"), "custom_url.url": N,
        "custom_url.is_customized": N, "open_graph_title": T(None, "name"),
        "open_graph_description": T(None, "description"), "open_graph_use_meta_description": N,
        "total_sold": N, "base_variant_id": T(None, "external_id"),
        "variants[].id": T("external_id"), "variants[].product_id": T("parent_id"), "variants[].sku": T("sku"),
        "variants[].price": T("price_minor", note="Null when the variant inherits the product's price."),
        "variants[].calculated_price": T(None, "price_minor"), "variants[].sale_price": T(None, "price_minor"),
        "variants[].retail_price": T(None, "price_minor"), "variants[].cost_price": T("cost_minor"),
        "variants[].weight": T("weight"), "variants[].inventory_level": T("quantity_on_hand"),
        "variants[].inventory_warning_level": N, "variants[].upc": T("barcode"), "variants[].image_url": T("image_url"),
        "variants[].purchasing_disabled": T(None, "is_active"),
        "variants[].option_values[].id": N, "variants[].option_values[].label": T("variant_name"),
        "variants[].option_values[].option_id": N,
        "variants[].option_values[].option_display_name": T(None, "variant_name", note="The option's name (Size)."),
        "images[].id": T(None, "image_url"), "images[].product_id": N, "images[].is_thumbnail": N,
        "images[].sort_order": N, "images[].description": N, "images[].url_zoom": T(None, "image_url"),
        "images[].url_standard": T("image_url"), "images[].url_thumbnail": T(None, "image_url"),
    }
    return records, truth


JSON_SOURCES = {"bigcommerce_catalog_api": bigcommerce_api}
