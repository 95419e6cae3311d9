"""CSV sources: header text exactly as the vendor exports it, the truth for every column, and
a value for each row. Truths were written from the vendor documentation (see SOURCES.md)
before any suggestion was looked at.
"""
from catalog import RETAIL, CANNABIS, rows_retail, upc, ean, token, slug, stamp, money, h


def T(target=None, *also, note=None):
    return dict(target=target, also=list(also), note=note)


N = T()  # no counterpart
IMG = "https://cdn.example-shop.test/files/{}.jpg"


def shopify():
    cols = [
        ("Handle", T("parent_id", "external_id", note="Rows sharing a Handle are the variants of one product."), lambda r: r["handle"]),
        ("Title", T("name"), lambda r: r["p"]["name"] if r["first"] else ""),
        ("Body (HTML)", T("description"), lambda r: f"<p>{r['p']['desc']}</p>" if r["first"] else ""),
        ("Vendor", T("vendor", "brand"), lambda r: r["p"]["brand"] if r["first"] else ""),
        ("Product Category", T("category"), lambda r: r["p"]["cat"] if r["first"] else ""),
        ("Type", T(None, "category"), lambda r: r["p"]["ptype"] if r["first"] else ""),
        ("Tags", N, lambda r: r["p"]["tags"] if r["first"] else ""),
        ("Published", T("is_active"), lambda r: "TRUE" if r["first"] else ""),
        ("Option1 Name", T(None, "variant_name", note="The option's name (Size), not the variant's."), lambda r: r["p"]["opt"] if r["first"] else ""),
        ("Option1 Value", T("variant_name"), lambda r: r["vname"]),
        ("Option2 Name", T(None, "variant_name"), lambda r: ""),
        ("Option2 Value", T("variant_name"), lambda r: ""),
        ("Variant SKU", T("sku"), lambda r: r["sku"]),
        ("Variant Grams", T("weight"), lambda r: str(r["grams"])),
        ("Variant Inventory Tracker", N, lambda r: "shopify"),
        ("Variant Inventory Qty", T("quantity_on_hand"), lambda r: str(r["qty"])),
        ("Variant Inventory Policy", N, lambda r: "deny"),
        ("Variant Fulfillment Service", N, lambda r: "manual"),
        ("Variant Price", T("price_minor", note="Decimal major units."), lambda r: money(r["price"])),
        ("Variant Compare At Price", T(None, "price_minor", note="Strike-through price."), lambda r: money(r["price"] + 600) if r["pi"] % 2 == 0 else ""),
        ("Variant Requires Shipping", N, lambda r: "TRUE"),
        ("Variant Taxable", N, lambda r: "TRUE"),
        ("Variant Barcode", T("barcode"), lambda r: upc(("shop", r["sku"]))),
        ("Image Src", T("image_url"), lambda r: IMG.format(r["handle"]) if r["first"] else ""),
        ("Image Position", N, lambda r: "1" if r["first"] else ""),
        ("Image Alt Text", N, lambda r: f"{r['p']['name']} on a white background" if r["first"] else ""),
        ("Gift Card", N, lambda r: "FALSE" if r["first"] else ""),
        ("SEO Title", T(None, "name"), lambda r: f"{r['p']['name']} | Northwind Goods" if r["first"] else ""),
        ("SEO Description", T(None, "description"), lambda r: f"Shop the {r['p']['name'].lower()} online. Free shipping over $50." if r["first"] else ""),
        ("Google Shopping / Google Product Category", N, lambda r: ""),
        ("Variant Image", T("image_url", note="The variant's own image."), lambda r: IMG.format(r["sku"].lower()) if not r["single"] else ""),
        ("Variant Weight Unit", T(None, "unit_of_measure", note="Unit of Variant Grams as displayed."), lambda r: "g" if r["grams"] < 1000 else "kg"),
        ("Variant Tax Code", N, lambda r: ""),
        ("Cost per item", T("cost_minor"), lambda r: money(r["cost"])),
        ("Included / United States", N, lambda r: "TRUE"),
        ("Price / United States", T(None, "price_minor", note="Market price override."), lambda r: ""),
        ("Compare At Price / United States", N, lambda r: ""),
        ("Status", T("is_active"), lambda r: "active" if r["first"] else ""),
    ]
    return cols, rows_retail()


def woocommerce():
    rows = []
    nid = 100
    for p_index, p in enumerate(RETAIL):
        variable = len(p["variants"]) > 1
        pid = nid
        nid += 1
        base = dict(p=p, pi=p_index)
        if variable:
            rows.append(dict(base, id=pid, type="variable", parent="", name=p["name"], sku=f"{slug(p['name'])[:3].upper()}-{p_index:02d}",
                             price=None, cost=None, qty=None, grams=None, vname="", first=True))
            for vi, (vname, price, cost, qty, grams) in enumerate(p["variants"]):
                rows.append(dict(base, id=nid, type="variation", parent=f"id:{pid}", name=f"{p['name']} - {vname}",
                                 sku=f"{slug(p['name'])[:3].upper()}-{p_index:02d}{vi:02d}", price=price, cost=cost, qty=qty,
                                 grams=grams, vname=vname, first=False))
                nid += 1
        else:
            vname, price, cost, qty, grams = p["variants"][0]
            rows.append(dict(base, id=pid, type="simple", parent="", name=p["name"], sku=f"{slug(p['name'])[:3].upper()}-{p_index:02d}",
                             price=price, cost=cost, qty=qty, grams=grams, vname="", first=True))
    m = lambda v: money(v) if v is not None else ""
    cols = [
        ("ID", T("external_id"), lambda r: str(r["id"])),
        ("Type", N, lambda r: r["type"]),
        ("SKU", T("sku"), lambda r: r["sku"]),
        ("GTIN, UPC, EAN, or ISBN", T("barcode"), lambda r: ean(("woo", r["sku"])) if r["type"] != "variable" else ""),
        ("Name", T("name"), lambda r: r["name"]),
        ("Published", T("is_active"), lambda r: "1"),
        ("Is featured?", N, lambda r: "1" if r["pi"] == 0 and r["first"] else "0"),
        ("Visibility in catalog", T(None, "is_active"), lambda r: "visible"),
        ("Short description", T(None, "description"), lambda r: r["p"]["desc"].split(".")[0] + "." if r["first"] else ""),
        ("Description", T("description"), lambda r: r["p"]["desc"] if r["first"] else ""),
        ("Date sale price starts", N, lambda r: "2024-11-29" if r["pi"] == 1 and not r["first"] else ""),
        ("Date sale price ends", N, lambda r: "2024-12-02" if r["pi"] == 1 and not r["first"] else ""),
        ("Tax status", N, lambda r: "taxable"),
        ("Tax class", T(None, "tax_rate_percent"), lambda r: "" if r["pi"] != 2 else "reduced-rate"),
        ("In stock?", N, lambda r: "1"),
        ("Stock", T("quantity_on_hand"), lambda r: str(r["qty"]) if r["qty"] is not None else ""),
        ("Low stock amount", N, lambda r: "5" if r["qty"] is not None else ""),
        ("Backorders allowed?", N, lambda r: "0"),
        ("Sold individually?", N, lambda r: "0"),
        ("Weight (kg)", T("weight"), lambda r: f"{r['grams'] / 1000:g}" if r["grams"] else ""),
        ("Length (cm)", N, lambda r: "24" if r["first"] else ""),
        ("Width (cm)", N, lambda r: "18" if r["first"] else ""),
        ("Height (cm)", N, lambda r: "4" if r["first"] else ""),
        ("Allow customer reviews?", N, lambda r: "1"),
        ("Purchase note", N, lambda r: ""),
        ("Sale price", T(None, "price_minor", note="Temporary sale price."), lambda r: m(r["price"] - 300) if r["pi"] == 1 and r["price"] else ""),
        ("Regular price", T("price_minor"), lambda r: m(r["price"])),
        ("Categories", T("category"), lambda r: r["p"]["cat"] if r["first"] else ""),
        ("Tags", N, lambda r: r["p"]["tags"] if r["first"] else ""),
        ("Shipping class", N, lambda r: ""),
        ("Images", T("image_url"), lambda r: IMG.format(slug(r["name"])) if r["first"] else ""),
        ("Download limit", N, lambda r: ""),
        ("Download expiry days", N, lambda r: ""),
        ("Parent", T("parent_id"), lambda r: r["parent"]),
        ("Grouped products", N, lambda r: ""),
        ("Upsells", N, lambda r: ""),
        ("Cross-sells", N, lambda r: ""),
        ("External URL", N, lambda r: ""),
        ("Button text", N, lambda r: ""),
        ("Position", N, lambda r: "0"),
        ("Brands", T("brand"), lambda r: r["p"]["brand"] if r["first"] else ""),
        ("Attribute 1 name", T(None, "variant_name"), lambda r: r["p"]["opt"] if r["p"]["opt"] != "Title" else ""),
        ("Attribute 1 value(s)", T("variant_name"), lambda r: (r["vname"] or ", ".join(v[0] for v in r["p"]["variants"])) if r["p"]["opt"] != "Title" else ""),
        ("Attribute 1 visible", N, lambda r: "1" if r["p"]["opt"] != "Title" and r["first"] else ""),
        ("Attribute 1 global", N, lambda r: "1" if r["p"]["opt"] != "Title" else ""),
        ("Meta: _wpcom_is_markdown", N, lambda r: "1"),
    ]
    return cols, rows


def square_items():
    rows = rows_retail()
    loc = "Main Street"
    cols = [
        ("Token", T("external_id", note="The variation's catalog object id."), lambda r: token(("sq", r["sku"]))),
        ("Item Name", T("name"), lambda r: r["p"]["name"]),
        ("Variation Name", T("variant_name"), lambda r: "Regular" if r["single"] else r["vname"]),
        ("Unit and Precision", T("unit_of_measure"), lambda r: "Per Kilogram (0.001)" if r["pi"] == 2 and r["vi"] == 1 else ""),
        ("SKU", T("sku"), lambda r: r["sku"]),
        ("Description", T("description"), lambda r: r["p"]["desc"]),
        ("Reporting Category", T("category"), lambda r: r["p"]["cat"].split(" > ")[0]),
        ("Categories", T("category"), lambda r: r["p"]["cat"].replace(" > ", ", ")),
        ("SEO Title", T(None, "name"), lambda r: r["p"]["name"]),
        ("SEO Description", T(None, "description"), lambda r: r["p"]["desc"][:80]),
        ("Permalink", N, lambda r: r["handle"]),
        ("GTIN", T("barcode"), lambda r: upc(("sq", r["sku"]))),
        ("Square Online Item Visibility", T(None, "is_active"), lambda r: "visible"),
        ("Item Type", N, lambda r: "Physical good"),
        ("Weight (lb)", T("weight"), lambda r: f"{r['grams'] / 453.6:.2f}"),
        ("Social Media Link Title", N, lambda r: ""),
        ("Social Media Link Description", T(None, "description"), lambda r: ""),
        ("Shipping Enabled", N, lambda r: "Y"),
        ("Self-serve Ordering Enabled", N, lambda r: "N"),
        ("Delivery Enabled", N, lambda r: "N"),
        ("Pickup Enabled", N, lambda r: "Y"),
        ("Price", T("price_minor"), lambda r: money(r["price"])),
        ("Online Sale Price", T(None, "price_minor"), lambda r: money(r["price"] - 200) if r["pi"] == 0 else ""),
        ("Archived", T("is_active", note="Inverted."), lambda r: "N"),
        ("Sellable", T("is_active"), lambda r: "Y"),
        ("Contains Alcohol", N, lambda r: "N"),
        ("Stockable", N, lambda r: "Y"),
        ("Skip Detail Screen in POS", N, lambda r: "N"),
        ("Option Name 1", T(None, "variant_name"), lambda r: "" if r["single"] else r["p"]["opt"]),
        ("Option Value 1", T("variant_name"), lambda r: "" if r["single"] else r["vname"]),
        ("Default Unit Cost", T("cost_minor"), lambda r: money(r["cost"])),
        ("Default Vendor Name", T("vendor"), lambda r: r["p"]["vendor"]),
        ("Default Vendor Code", N, lambda r: f"V-{h('vc', r['sku']) % 90000 + 10000}"),
        (f"Current Quantity {loc}", T("quantity_on_hand"), lambda r: str(r["qty"])),
        (f"New Quantity {loc}", N, lambda r: ""),
        (f"Stock Alert Enabled {loc}", N, lambda r: "Y" if r["qty"] < 15 else "N"),
        (f"Stock Alert Count {loc}", N, lambda r: "5" if r["qty"] < 15 else ""),
        ("Tax - Sales Tax (8.875%)", T(None, "tax_rate_percent", note="Y/N: whether this tax applies."), lambda r: "Y"),
    ]
    return cols, rows


def bigcommerce_bulk():
    rows = [dict(p=p, pi=i, first=True, single=True, sku=f"BC-{i:03d}", price=p["variants"][0][1],
                 cost=p["variants"][0][2], qty=sum(v[3] for v in p["variants"]), grams=p["variants"][0][4])
            for i, p in enumerate(RETAIL)]
    cols = [
        ("Item Type", N, lambda r: "Product"),
        ("Product ID", T("external_id"), lambda r: str(112 + r["pi"])),
        ("Product Name", T("name"), lambda r: r["p"]["name"]),
        ("Product Type", N, lambda r: "P"),
        ("Product Code/SKU", T("sku"), lambda r: r["sku"]),
        ("Bin Picking Number", N, lambda r: f"A{r['pi'] + 1}-0{r['pi'] % 3 + 1}"),
        ("Brand Name", T("brand"), lambda r: r["p"]["brand"]),
        ("Option Set", N, lambda r: r["p"]["opt"] if len(r["p"]["variants"]) > 1 else ""),
        ("Option Set Align", N, lambda r: "Right"),
        ("Product Description", T("description"), lambda r: f"<p>{r['p']['desc']}</p>"),
        ("Price", T("price_minor"), lambda r: money(r["price"])),
        ("Cost Price", T("cost_minor"), lambda r: money(r["cost"])),
        ("Retail Price", T(None, "price_minor", note="MSRP shown struck through."), lambda r: money(r["price"] + 500)),
        ("Sale Price", T(None, "price_minor"), lambda r: money(r["price"] - 200) if r["pi"] == 3 else "0.00"),
        ("Fixed Shipping Cost", N, lambda r: "0.00"),
        ("Free Shipping", N, lambda r: "N"),
        ("Product Warranty", N, lambda r: ""),
        ("Product Weight", T("weight"), lambda r: f"{r['grams'] / 1000:.2f}"),
        ("Product Width", N, lambda r: "10.00"),
        ("Product Height", N, lambda r: "12.00"),
        ("Product Depth", N, lambda r: "3.00"),
        ("Allow Purchases?", T(None, "is_active"), lambda r: "Y"),
        ("Product Visible?", T("is_active"), lambda r: "Y" if r["pi"] != 4 else "N"),
        ("Product Availability", N, lambda r: "Usually ships in 2 days"),
        ("Track Inventory", N, lambda r: "by product"),
        ("Current Stock Level", T("quantity_on_hand"), lambda r: str(r["qty"])),
        ("Low Stock Level", N, lambda r: "5"),
        ("Category", T("category"), lambda r: r["p"]["cat"].replace(" > ", "/")),
        ("Product Image ID - 1", T(None, "image_url"), lambda r: str(300 + r["pi"])),
        ("Product Image URL - 1", T("image_url"), lambda r: f"https://cdn11.bigcommerce.test/s-abc123/products/{112 + r['pi']}/images/{300 + r['pi']}/{slug(r['p']['name'])}.jpg"),
        ("Product Image Description - 1", N, lambda r: f"{r['p']['name']} front view"),
        ("Product Image Is Thumbnail - 1", N, lambda r: "Y"),
        ("Product Image Sort - 1", N, lambda r: "0"),
        ("Search Keywords", N, lambda r: r["p"]["tags"]),
        ("Page Title", T(None, "name"), lambda r: f"{r['p']['name']} - Northwind Goods"),
        ("Meta Keywords", N, lambda r: r["p"]["tags"]),
        ("Meta Description", T(None, "description"), lambda r: r["p"]["desc"][:70]),
        ("Product Condition", N, lambda r: "New"),
        ("Show Product Condition?", N, lambda r: "N"),
        ("Sort Order", N, lambda r: str(r["pi"])),
        ("Product Tax Class", T(None, "tax_rate_percent"), lambda r: "Default Tax Class"),
        ("Product UPC/EAN", T("barcode"), lambda r: upc(("bc", r["sku"]))),
        ("Manufacturer Part Number", N, lambda r: f"MPN-{4400 + r['pi']}"),
        ("Product URL", N, lambda r: f"/{slug(r['p']['name'])}/"),
        ("Redirect Old URL?", N, lambda r: "N"),
    ]
    return cols, rows


def magento():
    rows = rows_retail()
    cols = [
        ("sku", T("sku"), lambda r: r["sku"]),
        ("store_view_code", N, lambda r: ""),
        ("attribute_set_code", N, lambda r: "Default"),
        ("product_type", N, lambda r: "simple"),
        ("categories", T("category"), lambda r: "Default Category/" + r["p"]["cat"].replace(" > ", "/")),
        ("product_websites", N, lambda r: "base"),
        ("name", T("name"), lambda r: r["p"]["name"] if r["single"] else f"{r['p']['name']}-{r['vname']}"),
        ("description", T("description"), lambda r: f"<p>{r['p']['desc']}</p>"),
        ("short_description", T(None, "description"), lambda r: r["p"]["desc"].split(".")[0]),
        ("weight", T("weight"), lambda r: f"{r['grams'] / 1000:.4f}"),
        ("product_online", T("is_active"), lambda r: "1"),
        ("tax_class_name", T(None, "tax_rate_percent"), lambda r: "Taxable Goods"),
        ("visibility", T(None, "is_active"), lambda r: "Catalog, Search" if r["single"] else "Not Visible Individually"),
        ("price", T("price_minor"), lambda r: f"{r['price'] / 100:.6f}"),
        ("special_price", T(None, "price_minor"), lambda r: f"{(r['price'] - 250) / 100:.6f}" if r["pi"] == 2 else ""),
        ("special_price_from_date", N, lambda r: "11/29/24" if r["pi"] == 2 else ""),
        ("special_price_to_date", N, lambda r: "12/2/24" if r["pi"] == 2 else ""),
        ("url_key", N, lambda r: slug(r["p"]["name"] + ("" if r["single"] else "-" + r["vname"]))),
        ("meta_title", T(None, "name"), lambda r: r["p"]["name"]),
        ("meta_keywords", N, lambda r: r["p"]["tags"]),
        ("meta_description", T(None, "description"), lambda r: r["p"]["desc"][:90]),
        ("base_image", T("image_url", note="Path under pub/media/catalog/product."), lambda r: f"/{r['handle'][0]}/{r['handle'][1]}/{r['handle']}.jpg"),
        ("base_image_label", N, lambda r: r["p"]["name"]),
        ("small_image", T(None, "image_url"), lambda r: f"/{r['handle'][0]}/{r['handle'][1]}/{r['handle']}.jpg"),
        ("small_image_label", N, lambda r: r["p"]["name"]),
        ("thumbnail_image", T(None, "image_url"), lambda r: f"/{r['handle'][0]}/{r['handle'][1]}/{r['handle']}.jpg"),
        ("thumbnail_image_label", N, lambda r: r["p"]["name"]),
        ("swatch_image", N, lambda r: ""),
        ("created_at", T("created_at"), lambda r: "3/14/24, 9:12 AM"),
        ("updated_at", T("updated_at"), lambda r: f"10/{r['pi'] + 2}/24, 4:0{r['vi']} PM"),
        ("new_from_date", N, lambda r: ""),
        ("country_of_manufacture", N, lambda r: "Portugal" if r["pi"] == 0 else ""),
        ("msrp_price", T(None, "price_minor"), lambda r: ""),
        ("qty", T("quantity_on_hand"), lambda r: f"{r['qty']:.4f}"),
        ("out_of_stock_qty", N, lambda r: "0.0000"),
        ("use_config_min_qty", N, lambda r: "1"),
        ("is_qty_decimal", N, lambda r: "0"),
        ("allow_backorders", N, lambda r: "0"),
        ("min_cart_qty", N, lambda r: "1.0000"),
        ("max_cart_qty", N, lambda r: "10000.0000"),
        ("is_in_stock", N, lambda r: "1"),
        ("notify_on_stock_below", N, lambda r: "1.0000"),
        ("manage_stock", N, lambda r: "1"),
        ("additional_images", T(None, "image_url"), lambda r: f"/{r['handle'][0]}/{r['handle'][1]}/{r['handle']}-2.jpg"),
        ("additional_image_labels", N, lambda r: "Detail"),
        ("additional_attributes", N, lambda r: f"manufacturer={r['p']['brand']}" if r["single"] else f"{r['p']['opt'].lower()}={r['vname']},manufacturer={r['p']['brand']}"),
        ("configurable_variations", N, lambda r: ""),
        ("configurable_variation_labels", N, lambda r: ""),
    ]
    return cols, rows


def prestashop():
    rows = [dict(p=p, pi=i, sku=f"PS-{i + 1:04d}", price=p["variants"][0][1], cost=p["variants"][0][2],
                 qty=sum(v[3] for v in p["variants"]), grams=p["variants"][0][4]) for i, p in enumerate(RETAIL)]
    cols = [
        ("Product ID", T("external_id"), lambda r: str(r["pi"] + 21)),
        ("Active (0/1)", T("is_active"), lambda r: "1"),
        ("Name *", T("name"), lambda r: r["p"]["name"]),
        ("Categories (x,y,z...)", T("category"), lambda r: r["p"]["cat"].replace(" > ", ",")),
        ("Price tax excluded", T("price_minor"), lambda r: f"{r['price'] / 100 / 1.2:.6f}"),
        ("Price tax included", T(None, "price_minor"), lambda r: money(r["price"])),
        ("Tax rules ID", T(None, "tax_rate_percent"), lambda r: "1"),
        ("Wholesale price", T("cost_minor"), lambda r: f"{r['cost'] / 100:.6f}"),
        ("On sale (0/1)", N, lambda r: "0"),
        ("Discount amount", N, lambda r: ""),
        ("Discount percent", N, lambda r: "10" if r["pi"] == 2 else ""),
        ("Discount from (yyyy-mm-dd)", N, lambda r: "2024-11-29" if r["pi"] == 2 else ""),
        ("Discount to (yyyy-mm-dd)", N, lambda r: "2024-12-02" if r["pi"] == 2 else ""),
        ("Reference #", T("sku"), lambda r: r["sku"]),
        ("Supplier reference #", N, lambda r: f"SUP-{h('sr', r['sku']) % 9000 + 1000}"),
        ("Supplier", T("vendor"), lambda r: r["p"]["vendor"]),
        ("Manufacturer", T("brand"), lambda r: r["p"]["brand"]),
        ("EAN13", T("barcode"), lambda r: ean(("ps", r["sku"]))),
        ("UPC", T("barcode"), lambda r: ""),
        ("Ecotax", N, lambda r: "0.000000"),
        ("Width", N, lambda r: "10.000000"),
        ("Height", N, lambda r: "12.000000"),
        ("Depth", N, lambda r: "3.000000"),
        ("Weight", T("weight"), lambda r: f"{r['grams'] / 1000:.6f}"),
        ("Quantity", T("quantity_on_hand"), lambda r: str(r["qty"])),
        ("Minimal quantity", N, lambda r: "1"),
        ("Low stock level", N, lambda r: "3"),
        ("Send me an email when the quantity is under this level", N, lambda r: "0"),
        ("Visibility", N, lambda r: "both"),
        ("Additional shipping cost", N, lambda r: "0.00"),
        ("Unity", T(None, "unit_of_measure", note="The unit of 'Unit price'."), lambda r: "per kg" if r["pi"] == 2 else ""),
        ("Unit price", T(None, "price_minor", note="Price per Unity, for comparison."), lambda r: "58.00" if r["pi"] == 2 else "0.00"),
        ("Summary", T(None, "description"), lambda r: f"<p>{r['p']['desc'].split('.')[0]}.</p>"),
        ("Description", T("description"), lambda r: f"<p>{r['p']['desc']}</p>"),
        ("Tags (x,y,z...)", N, lambda r: r["p"]["tags"].replace(" ", "")),
        ("Meta title", T(None, "name"), lambda r: r["p"]["name"]),
        ("Meta keywords", N, lambda r: r["p"]["tags"]),
        ("Meta description", T(None, "description"), lambda r: r["p"]["desc"][:100]),
        ("URL rewritten", N, lambda r: slug(r["p"]["name"])),
        ("Text when in stock", N, lambda r: "In stock"),
        ("Text when backorder allowed", N, lambda r: ""),
        ("Available for order (0 = No, 1 = Yes)", T(None, "is_active"), lambda r: "1"),
        ("Product available date", N, lambda r: "0000-00-00"),
        ("Product creation date", T("created_at"), lambda r: stamp(("ps", r["pi"]), 2023)),
        ("Show price (0 = No, 1 = Yes)", N, lambda r: "1"),
        ("Image URLs (x,y,z...)", T("image_url"), lambda r: f"https://shop.example-presta.test/img/p/{r['pi'] + 1}/{r['pi'] + 1}.jpg"),
        ("Image alt texts (x,y,z...)", N, lambda r: r["p"]["name"]),
        ("Delete existing images (0 = No, 1 = Yes)", N, lambda r: "0"),
        ("Feature(Name:Value:Position)", N, lambda r: "Material:Cotton:1" if r["pi"] in (0, 4) else ""),
        ("Available online only (0 = No, 1 = Yes)", N, lambda r: "0"),
        ("Condition", N, lambda r: "new"),
        ("Customizable (0 = No, 1 = Yes)", N, lambda r: "0"),
    ]
    return cols, rows


def odoo():
    rows = [dict(p=p, pi=i, sku=f"FURN_{i + 7:04d}" if False else f"NW-{i + 7:04d}", price=p["variants"][0][1],
                 cost=p["variants"][0][2], qty=sum(v[3] for v in p["variants"]), grams=p["variants"][0][4]) for i, p in enumerate(RETAIL)]
    cols = [
        ("ID", T("external_id", note="Odoo external id (xml id)."), lambda r: f"__export__.product_template_{41 + r['pi']}_{token(('od', r['pi']), 8, 'abcdef0123456789')}"),
        ("Name", T("name"), lambda r: r["p"]["name"]),
        ("Internal Reference", T("sku"), lambda r: r["sku"]),
        ("Barcode", T("barcode"), lambda r: ean(("od", r["sku"]))),
        ("Sales Price", T("price_minor"), lambda r: money(r["price"])),
        ("Cost", T("cost_minor"), lambda r: money(r["cost"])),
        ("Product Category", T("category"), lambda r: "All / Saleable / " + r["p"]["cat"].split(" > ")[0]),
        ("Product Type", N, lambda r: "Storable Product"),
        ("Unit of Measure", T("unit_of_measure"), lambda r: "kg" if r["pi"] == 2 else "Units"),
        ("Purchase Unit of Measure", T(None, "unit_of_measure"), lambda r: "kg" if r["pi"] == 2 else "Units"),
        ("Quantity On Hand", T("quantity_on_hand"), lambda r: f"{r['qty']:.2f}"),
        ("Forecasted Quantity", T(None, "quantity_on_hand"), lambda r: f"{r['qty'] + 12:.2f}"),
        ("Can be Sold", T(None, "is_active"), lambda r: "True"),
        ("Can be Purchased", N, lambda r: "True"),
        ("Active", T("is_active"), lambda r: "True"),
        ("Sales Description", T("description"), lambda r: r["p"]["desc"]),
        ("Purchase Description", T(None, "description"), lambda r: f"Order in cases of 6 from {r['p']['vendor']}." if r["pi"] % 2 else ""),
        ("Weight", T("weight"), lambda r: f"{r['grams'] / 1000:.2f}"),
        ("Volume", N, lambda r: "0.00"),
        ("Customer Taxes", T("tax_rate_percent"), lambda r: "15%" if r["pi"] != 2 else "5%"),
        ("Vendor Taxes", N, lambda r: "15%"),
        ("Company", N, lambda r: "Northwind Goods"),
        ("Available in POS", T(None, "is_active"), lambda r: "True"),
        ("Point of Sale Category", T(None, "category"), lambda r: r["p"]["cat"].split(" > ")[0]),
        ("Product Tags", N, lambda r: r["p"]["tags"]),
        ("Vendors/Vendor", T("vendor"), lambda r: r["p"]["vendor"]),
        ("Vendors/Price", T(None, "cost_minor"), lambda r: money(r["cost"])),
        ("Created on", T("created_at"), lambda r: stamp(("od-c", r["pi"]), 2023)),
        ("Last Updated on", T("updated_at"), lambda r: stamp(("od-u", r["pi"]), 2024)),
    ]
    return cols, rows


def lightspeed_ecom():
    rows = rows_retail()
    cols = [
        ("Internal_Product-ID", T("parent_id", "external_id"), lambda r: str(48211000 + r["pi"] * 37)),
        ("Internal_Variant-ID", T("external_id"), lambda r: str(80457100 + r["pi"] * 100 + r["vi"])),
        ("Visible", T("is_active"), lambda r: "Y"),
        ("Brand", T("brand"), lambda r: r["p"]["brand"]),
        ("Supplier", T("vendor"), lambda r: r["p"]["vendor"]),
        ("EN_Title_Short", T("name"), lambda r: r["p"]["name"]),
        ("EN_Title_Long", T(None, "name"), lambda r: f"{r['p']['brand']} {r['p']['name']}"),
        ("EN_Description", T("description"), lambda r: r["p"]["desc"].split(".")[0] + "."),
        ("EN_Content", T("description"), lambda r: f"<p>{r['p']['desc']}</p>"),
        ("EN_Url", N, lambda r: r["handle"]),
        ("EN_Variant", T("variant_name"), lambda r: r["vname"]),
        ("Price", T("price_minor"), lambda r: money(r["price"])),
        ("Price_Old", T(None, "price_minor", note="Former price shown struck through."), lambda r: money(r["price"] + 400) if r["pi"] % 3 == 0 else "0.00"),
        ("Price_Cost", T("cost_minor"), lambda r: money(r["cost"])),
        ("Price_Unit", T(None, "price_minor", note="Price per Unit for comparison."), lambda r: "58.00" if r["pi"] == 2 else "0.00"),
        ("Unit", T(None, "unit_of_measure", note="Unit of Price_Unit."), lambda r: "kg" if r["pi"] == 2 else ""),
        ("Tax", T("tax_rate_percent"), lambda r: "9" if r["pi"] in (2, 5) else "21"),
        ("Stock_Tracking", N, lambda r: "enabled"),
        ("Stock_Level", T("quantity_on_hand"), lambda r: str(r["qty"])),
        ("Stock_Min", N, lambda r: "0"),
        ("Stock_Alert", N, lambda r: "5"),
        ("Article_Code", T(None, "sku"), lambda r: f"{r['pi'] + 1:03d}-{r['vi'] + 1:02d}"),
        ("EAN", T("barcode"), lambda r: ean(("ls", r["sku"]))),
        ("SKU", T("sku"), lambda r: r["sku"]),
        ("Weight", T("weight"), lambda r: str(r["grams"])),
        ("Volume", N, lambda r: "0"),
        ("Colli", N, lambda r: "1"),
        ("Size_X", N, lambda r: "10"),
        ("Size_Y", N, lambda r: "12"),
        ("Size_Z", N, lambda r: "3"),
        ("Images", T("image_url"), lambda r: f"https://cdn.webshopapp.test/shops/301254/files/{430000 + r['pi'] * 11}/{r['handle']}.jpg"),
    ]
    return cols, rows


def lightspeed_retail():
    rows = rows_retail()
    cols = [
        ("System ID", T("external_id"), lambda r: str(210000000000 + r["pi"] * 100 + r["vi"])),
        ("UPC", T("barcode"), lambda r: upc(("lr", r["sku"]))),
        ("EAN", T("barcode"), lambda r: ""),
        ("Custom SKU", T("sku"), lambda r: r["sku"]),
        ("Manufact. SKU", T(None, "sku"), lambda r: f"M{h('ms', r['sku']) % 900000 + 100000}"),
        ("Item", T("name"), lambda r: r["p"]["name"] if r["single"] else f"{r['p']['name']} {r['vname']}"),
        ("Matrix Description", T(None, "name"), lambda r: "" if r["single"] else r["p"]["name"]),
        ("Attribute 1", T("variant_name"), lambda r: "" if r["single"] else r["vname"]),
        ("Vendor ID", T(None, note="The vendor's own number for the item."), lambda r: f"{h('vid', r['sku']) % 90000 + 10000}"),
        ("Qty.", T("quantity_on_hand"), lambda r: str(r["qty"])),
        ("Price", T("price_minor"), lambda r: money(r["price"])),
        ("MSRP", T(None, "price_minor"), lambda r: money(r["price"] + 500)),
        ("Online Price", T(None, "price_minor"), lambda r: money(r["price"]) if r["pi"] % 2 else ""),
        ("Default Cost", T("cost_minor"), lambda r: money(r["cost"])),
        ("Avg. Cost", T(None, "cost_minor"), lambda r: money(r["cost"] + 12)),
        ("Tax", N, lambda r: "Yes"),
        ("Tax Class", T(None, "tax_rate_percent"), lambda r: "Item"),
        ("Brand", T("brand"), lambda r: r["p"]["brand"]),
        ("Vendor", T("vendor"), lambda r: r["p"]["vendor"]),
        ("Category", T("category"), lambda r: r["p"]["cat"].split(" > ")[0]),
        ("Subcategory 1", T(None, "category"), lambda r: r["p"]["cat"].split(" > ")[1]),
        ("Publish to eCom", N, lambda r: "No"),
        ("Reorder Point", N, lambda r: "4"),
        ("Reorder Level", N, lambda r: "12"),
        ("Season", N, lambda r: "Fall 2024" if r["pi"] == 0 else ""),
        ("Department", T(None, "category"), lambda r: "Retail"),
        ("Archived", T("is_active", note="Inverted."), lambda r: "No"),
    ]
    return cols, rows


def vend():
    rows = rows_retail()
    opt = lambda r: "" if r["single"] else r["p"]["opt"]
    cols = [
        ("id", T("external_id"), lambda r: f"0af7b240-ab{r['pi']:02d}-11ef-f{r['vi']:03d}-{token(('vend', r['sku']), 12, '0123456789abcdef')}"),
        ("handle", T("parent_id", "external_id", note="Variants share the product's handle."), lambda r: r["handle"].replace("-", "")),
        ("sku", T("sku"), lambda r: str(10000 + r["pi"] * 10 + r["vi"])),
        ("composite_handle", N, lambda r: ""),
        ("composite_sku", N, lambda r: ""),
        ("composite_quantity", N, lambda r: ""),
        ("name", T("name"), lambda r: r["p"]["name"]),
        ("description", T("description"), lambda r: f"<p>{r['p']['desc']}</p>"),
        ("product_category", T("category"), lambda r: r["p"]["cat"].replace(" > ", " / ")),
        ("variant_option_one_name", T(None, "variant_name"), opt),
        ("variant_option_one_value", T("variant_name"), lambda r: "" if r["single"] else r["vname"]),
        ("variant_option_two_name", T(None, "variant_name"), lambda r: ""),
        ("variant_option_two_value", T("variant_name"), lambda r: ""),
        ("tags", N, lambda r: r["p"]["tags"]),
        ("supply_price", T("cost_minor"), lambda r: money(r["cost"])),
        ("retail_price", T("price_minor", note="X-Series' selling price (excl. tax)."), lambda r: money(r["price"])),
        ("loyalty_value", N, lambda r: ""),
        ("loyalty_value_default", N, lambda r: "1"),
        ("tax_name", T(None, "tax_rate_percent"), lambda r: "Sales Tax"),
        ("account_code", N, lambda r: "200"),
        ("account_code_purchase", N, lambda r: "300"),
        ("brand_name", T("brand"), lambda r: r["p"]["brand"]),
        ("supplier_name", T("vendor"), lambda r: r["p"]["vendor"]),
        ("supplier_code", N, lambda r: f"{slug(r['p']['vendor'])[:4].upper()}-{r['pi'] * 10 + r['vi']}"),
        ("active", T("is_active"), lambda r: "1"),
        ("track_inventory", N, lambda r: "1"),
        ("inventory_Main_Outlet", T("quantity_on_hand"), lambda r: str(r["qty"])),
        ("reorder_point_Main_Outlet", N, lambda r: "3"),
        ("restock_level_Main_Outlet", N, lambda r: "10"),
        ("outlet_tax_Main_Outlet", T(None, "tax_rate_percent"), lambda r: "Default Tax"),
    ]
    return cols, rows


def ecwid():
    rows = [dict(p=p, pi=i, sku=f"00{i + 41}", price=p["variants"][0][1], cost=p["variants"][0][2],
                 qty=sum(v[3] for v in p["variants"]), grams=p["variants"][0][4]) for i, p in enumerate(RETAIL)]
    cols = [
        ("type", N, lambda r: "product"),
        ("product_internal_id", T("external_id"), lambda r: str(604331000 + r["pi"] * 13)),
        ("product_sku", T("sku"), lambda r: r["sku"]),
        ("product_name", T("name"), lambda r: r["p"]["name"]),
        ("product_is_available", T("is_active"), lambda r: "true"),
        ("product_is_featured", N, lambda r: "false"),
        ("product_price", T("price_minor"), lambda r: money(r["price"])),
        ("product_compare_to_price", T(None, "price_minor"), lambda r: money(r["price"] + 500) if r["pi"] == 0 else ""),
        ("product_cost_price", T("cost_minor"), lambda r: money(r["cost"])),
        ("product_is_inventory_tracked", N, lambda r: "true"),
        ("product_quantity", T("quantity_on_hand"), lambda r: str(r["qty"])),
        ("product_quantity_low_stock_notification", N, lambda r: "3"),
        ("product_weight", T("weight"), lambda r: f"{r['grams'] / 1000:.3f}"),
        ("product_description", T("description"), lambda r: f"<p>{r['p']['desc']}</p>"),
        ("product_subtitle", N, lambda r: r["p"]["desc"].split(",")[0]),
        ("product_brand", T("brand"), lambda r: r["p"]["brand"]),
        ("product_upc", T("barcode"), lambda r: upc(("ec", r["sku"]))),
        ("product_seo_title", T(None, "name"), lambda r: r["p"]["name"]),
        ("product_seo_description", T(None, "description"), lambda r: r["p"]["desc"][:90]),
        ("product_category_1", T("category"), lambda r: r["p"]["cat"].replace(" > ", "/")),
        ("product_category_2", T(None, "category"), lambda r: "Gifts" if r["pi"] in (1, 3) else ""),
        ("product_media_main_image_url", T("image_url"), lambda r: f"https://d2j6dbq0eux0bg.cloudfront.test/images/{604331000 + r['pi'] * 13}/{h('img', r['pi']) % 10**9}.jpg"),
        ("product_media_gallery_image_url_1", T(None, "image_url"), lambda r: f"https://d2j6dbq0eux0bg.cloudfront.test/images/{604331000 + r['pi'] * 13}/{h('img2', r['pi']) % 10**9}.jpg"),
        ("product_tax_class_code", N, lambda r: "DEFAULT"),
        ("product_is_shipping_required", N, lambda r: "true"),
    ]
    return cols, rows


def dutchie():
    rows = [dict(p=p, pi=i) for i, p in enumerate(CANNABIS)]
    cols = [
        ("Product ID", T("external_id"), lambda r: str(1847300 + r["pi"] * 7)),
        ("Product Name", T("name"), lambda r: r["p"]["name"]),
        ("Abbreviation", T(None, "name"), lambda r: "".join(w[0] for w in r["p"]["name"].split()).upper()),
        ("SKU", T("sku"), lambda r: f"{r['p']['cat'][:3].upper()}{1000 + r['pi']}"),
        ("Master Category", T(None, "category"), lambda r: r["p"]["master"]),
        ("Category", T("category"), lambda r: r["p"]["cat"]),
        ("Brand", T("brand"), lambda r: r["p"]["brand"]),
        ("Vendor", T("vendor"), lambda r: r["p"]["vendor"]),
        ("Strain", N, lambda r: r["p"]["strain"]),
        ("Strain Type", N, lambda r: r["p"]["stype"]),
        ("Description", T("description"), lambda r: r["p"]["desc"]),
        ("Price", T("price_minor"), lambda r: money(r["p"]["price"])),
        ("Med Price", T(None, "price_minor", note="Medical customers' price."), lambda r: money(r["p"]["med"])),
        ("Unit Cost", T("cost_minor"), lambda r: money(r["p"]["cost"])),
        ("Unit of Measure", T("unit_of_measure"), lambda r: r["p"]["uom"]),
        ("Net Weight", T("weight"), lambda r: f"{r['p']['w']:g}"),
        ("Net Weight Unit", T(None, "unit_of_measure"), lambda r: r["p"]["wu"]),
        ("Grams/Concentration", N, lambda r: f"{r['p']['w'] if r['p']['wu'] == 'g' else 0:g}"),
        ("Flower Equivalent", N, lambda r: f"{r['p']['w'] if r['p']['wu'] == 'g' else 3.5:g}"),
        ("THC Content", T("thc_percent"), lambda r: f"{r['p']['thc']:g}"),
        ("THC Content Unit", N, lambda r: "%"),
        ("CBD Content", T("cbd_percent"), lambda r: f"{r['p']['cbd']:g}"),
        ("CBD Content Unit", N, lambda r: "%"),
        ("Is Cannabis", N, lambda r: "Yes"),
        ("Regulatory Category", T(None, "category"), lambda r: "Usable Marijuana" if r["p"]["master"] == "Flower" else "Marijuana Infused Product"),
        ("Available on POS", T("is_active"), lambda r: "Yes"),
        ("Available Online", T(None, "is_active"), lambda r: "Yes" if r["pi"] != 3 else "No"),
        ("Online Title", T(None, "name"), lambda r: r["p"]["name"].replace("3.5g", "Eighth")),
        ("Online Description", T(None, "description"), lambda r: r["p"]["desc"]),
        ("Low Inventory Threshold", N, lambda r: "10"),
        ("Created Date", T("created_at"), lambda r: stamp(("du-c", r["pi"]), 2023)),
        ("Last Modified", T("updated_at"), lambda r: stamp(("du-u", r["pi"]), 2024)),
    ]
    return cols, rows


SOURCES = {
    "shopify_product_csv": shopify,
    "woocommerce_product_csv": woocommerce,
    "square_item_library_csv": square_items,
    "bigcommerce_bulk_edit_csv": bigcommerce_bulk,
    "magento2_catalog_export": magento,
    "prestashop_product_csv": prestashop,
    "odoo_product_export": odoo,
    "lightspeed_ecom_export": lightspeed_ecom,
    "lightspeed_retail_items": lightspeed_retail,
    "vend_xseries_products": vend,
    "ecwid_catalog_csv": ecwid,
    "dutchie_catalog_export": dutchie,
}
