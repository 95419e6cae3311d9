//! The fake Shopify's write side, with Shopify's semantics (sources in
//! [`crate::shopify`]'s write module):
//!
//! - `productSet(input:)`: without `id` creates a product (gid ids for the product, its
//!   variants and their inventory items; a handle from the title, made unique with `-1`,
//!   `-2`, …); with `id` updates it: product fields given replace, `variants` is a list
//!   field (variants with `id` updated, without created, the ones left out deleted). A
//!   missing title on create, an unknown product or variant id, or a non-decimal `price` are
//!   `userErrors` (nothing written). Duplicate SKUs are allowed, as at Shopify. Every write
//!   moves `updatedAt` (of the product and of the variants it touched; one second a write).
//! - `productVariants(query: "sku:'…'")`, `productDelete`, `inventorySetQuantities`
//!   (compare-and-set on `changeFromQuantity`: `CHANGE_FROM_QUANTITY_STALE`; an
//!   idempotency key seen before answers as the first time without applying again),
//!   `urlRedirectCreate` (a taken path is a `userError`), `urlRedirectDelete`,
//!   `urlRedirects(query: "path:…")`, `nodes` of `UrlRedirect` ids.
//!
//! [`FakeShopify::lose_responses`] makes the next mutations' answers get lost after the
//! mutation was applied (a 502 instead), [`FakeShopify::down_after_loss`] keeps the
//! connection down for the requests after; [`FakeShopify::edit_product`] is the merchant editing in the
//! Shopify admin.

use std::collections::HashMap;

use serde_json::{Value, json};
use tillbridge_domain::Timestamp;

use super::shopify::{FakeShopify, Shop};

/// Write state: id counter, the write clock, redirects, idempotency keys, scripted losses.
#[derive(Debug, Default)]
pub struct Writes {
    next_id: u64,
    last: i64,
    pub(super) lose: usize,
    /// Requests answered 502 without being applied once an answer was lost.
    pub(super) down: usize,
    /// Redirects: `{id, path, target}` (gid ids).
    pub redirects: Vec<Value>,
    /// Write requests applied.
    pub applied: usize,
    keys: HashMap<String, Value>,
}

impl Writes {
    fn tick(&mut self) -> String {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
        self.last = wall.max(self.last + 1);
        Timestamp::from_unix_seconds(self.last)
            .unwrap_or_else(|| Timestamp::from_unix_nanos(0))
            .to_rfc3339()
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        7_000_000 + self.next_id
    }
}

impl FakeShopify {
    /// The answers of the next `n` mutations are lost after the mutation was applied (a
    /// 502 instead).
    pub fn lose_responses(&self, n: usize) {
        self.with_writes(|w| w.lose = n);
    }

    /// After the next lost answer, the `k` requests that follow are answered 502 without
    /// being applied (the connection stays down a while).
    pub fn down_after_loss(&self, k: usize) {
        self.with_writes(|w| w.down = k);
    }

    /// Write requests applied so far.
    pub fn writes_applied(&self) -> usize {
        self.with_writes(|w| w.applied)
    }

    /// The redirects the shop holds.
    pub fn redirects(&self) -> Vec<Value> {
        self.with_writes(|w| w.redirects.clone())
    }

    /// The merchant edits product `gid` in the admin: `edit` runs on its JSON and its
    /// `updatedAt` moves.
    pub fn edit_product(&self, gid: &str, edit: impl FnOnce(&mut Value)) {
        self.with_shop(|shop, w| {
            let now = w.tick();
            if let Some(p) = shop.products.iter_mut().find(|p| p["id"] == gid) {
                edit(p);
                p["updatedAt"] = json!(now);
            }
        });
    }
}

fn errors(messages: &[(&str, &str)]) -> Value {
    let list: Vec<Value> = messages
        .iter()
        .map(|(m, code)| json!({"field": ["input"], "message": m, "code": code}))
        .collect();
    Value::Array(list)
}

/// Handles the write-side operations; `None` for queries the read side answers.
pub(super) fn handle(shop: &mut Shop, w: &mut Writes, query: &str, vars: &Value) -> Option<Value> {
    let data = if query.contains("productSet(") {
        w.applied += 1;
        json!({"productSet": product_set(shop, w, &vars["input"])})
    } else if query.contains("productVariants(") {
        json!({"productVariants": {"nodes": find_sku(shop, vars["query"].as_str().unwrap_or(""))}})
    } else if query.contains("productDelete(") {
        w.applied += 1;
        let gid = vars["input"]["id"].as_str().unwrap_or("");
        let before = shop.products.len();
        shop.products.retain(|p| p["id"] != gid);
        if shop.products.len() == before {
            json!({"productDelete": {"deletedProductId": null,
                   "userErrors": errors(&[("Product does not exist", "NOT_FOUND")])}})
        } else {
            json!({"productDelete": {"deletedProductId": gid, "userErrors": []}})
        }
    } else if query.contains("inventorySetQuantities(") {
        let key = vars["key"].as_str().unwrap_or("").to_owned();
        if let Some(answer) = w.keys.get(&key) {
            answer.clone()
        } else {
            w.applied += 1;
            let answer = json!({"inventorySetQuantities": set_quantities(shop, w, &vars["input"])});
            w.keys.insert(key, answer.clone());
            answer
        }
    } else if query.contains("urlRedirectCreate(") {
        w.applied += 1;
        let path = vars["urlRedirect"]["path"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let target = vars["urlRedirect"]["target"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if w.redirects.iter().any(|r| r["path"] == path.as_str()) {
            json!({"urlRedirectCreate": {"urlRedirect": null,
                   "userErrors": errors(&[("Path has already been taken", "TAKEN")])}})
        } else {
            let id = w.id();
            let r = json!({"id": format!("gid://shopify/UrlRedirect/{id}"), "path": path, "target": target});
            w.redirects.push(r.clone());
            json!({"urlRedirectCreate": {"urlRedirect": r, "userErrors": []}})
        }
    } else if query.contains("urlRedirectDelete(") {
        w.applied += 1;
        let id = vars["id"].as_str().unwrap_or("");
        w.redirects.retain(|r| r["id"] != id);
        json!({"urlRedirectDelete": {"deletedUrlRedirectId": id, "userErrors": []}})
    } else if query.contains("urlRedirects(") {
        let path = vars["query"]
            .as_str()
            .and_then(|q| q.strip_prefix("path:"))
            .unwrap_or("");
        let found: Vec<&Value> = w.redirects.iter().filter(|r| r["path"] == path).collect();
        json!({"urlRedirects": {"nodes": found}})
    } else if query.contains("on UrlRedirect") {
        let nodes: Vec<Value> = vars["ids"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|id| {
                w.redirects.iter().find(|r| &r["id"] == id).map_or(
                    Value::Null,
                    |r| json!({"__typename": "UrlRedirect", "id": r["id"]}),
                )
            })
            .collect();
        json!({ "nodes": nodes })
    } else {
        return None;
    };
    Some(data)
}

fn find_sku(shop: &Shop, query: &str) -> Vec<Value> {
    let sku = query
        .strip_prefix("sku:'")
        .and_then(|s| s.strip_suffix('\''))
        .map(|s| s.replace("\\'", "'").replace("\\\\", "\\"))
        .unwrap_or_default();
    shop.products
        .iter()
        .flat_map(|p| {
            p["variants"]["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| v["sku"].as_str() == Some(sku.as_str()))
                .map(move |v| json!({"id": v["id"], "product": {"id": p["id"]}}))
        })
        .take(1)
        .collect()
}

fn handle_of(shop: &Shop, title: &str) -> String {
    let base: String = title
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let taken = |h: &str| shop.products.iter().any(|p| p["handle"] == h);
    if !taken(&base) {
        return base;
    }
    (1..)
        .map(|n| format!("{base}-{n}"))
        .find(|h| !taken(h))
        .unwrap_or(base)
}

fn valid_price(v: &Value) -> bool {
    v.is_null()
        || v.as_str()
            .is_some_and(|s| rust_decimal::Decimal::from_str_exact(s).is_ok())
}

fn selected(input: &Value) -> Value {
    let list: Vec<Value> = input["optionValues"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| json!({"name": o["optionName"], "value": o["name"]}))
        .collect();
    Value::Array(list)
}

fn new_variant(w: &mut Writes, input: &Value, now: &str) -> Value {
    let id = w.id();
    let levels: Vec<Value> = input["inventoryQuantities"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| {
            json!({"location": {"id": q["locationId"]},
                   "quantities": [{"name": "available", "quantity": q["quantity"]}]})
        })
        .collect();
    let title = input["optionValues"][0]["name"].clone();
    json!({
        "id": format!("gid://shopify/ProductVariant/{id}"), "title": title,
        "sku": input.get("sku").cloned().unwrap_or(Value::Null),
        "barcode": input.get("barcode").cloned().unwrap_or(Value::Null),
        "price": input.get("price").cloned().unwrap_or(json!("0.00")),
        "createdAt": now, "updatedAt": now, "selectedOptions": selected(input),
        "inventoryItem": {"id": format!("gid://shopify/InventoryItem/{id}"),
                          "inventoryLevels": {"nodes": levels}},
    })
}

fn product_set(shop: &mut Shop, w: &mut Writes, input: &Value) -> Value {
    let refuse = |m: &str, code: &str| json!({"product": null, "userErrors": errors(&[(m, code)])});
    let vars = input["variants"].as_array().cloned().unwrap_or_default();
    if vars.iter().any(|v| !valid_price(&v["price"])) {
        return refuse("Price is not a valid decimal", "INVALID");
    }
    let now = w.tick();
    let fields = [
        "title",
        "descriptionHtml",
        "productType",
        "status",
        "vendor",
    ];
    match input["id"].as_str() {
        None => {
            let Some(title) = input["title"].as_str().filter(|t| !t.is_empty()) else {
                return refuse("Title can't be blank", "BLANK");
            };
            let id = w.id();
            let handle = handle_of(shop, title);
            let nodes: Vec<Value> = vars.iter().map(|v| new_variant(w, v, &now)).collect();
            let mut p = json!({
                "id": format!("gid://shopify/Product/{id}"), "title": title, "handle": handle,
                "descriptionHtml": "", "productType": "", "vendor": "tillbridge", "status": "ACTIVE",
                "createdAt": now, "updatedAt": now,
                "variants": {"pageInfo": {"hasNextPage": false, "endCursor": null}, "nodes": nodes},
            });
            for f in fields {
                if let Some(v) = input.get(f) {
                    p[f] = v.clone();
                }
            }
            shop.products.push(p.clone());
            json!({"product": p, "userErrors": []})
        }
        Some(gid) => {
            let Some(idx) = shop.products.iter().position(|p| p["id"] == gid) else {
                return refuse("Product does not exist", "PRODUCT_DOES_NOT_EXIST");
            };
            let mut p = shop.products[idx].clone();
            for f in fields {
                if let Some(v) = input.get(f) {
                    p[f] = v.clone();
                }
            }
            p["updatedAt"] = json!(now);
            if input.get("variants").is_some() {
                let old: Vec<Value> = p["variants"]["nodes"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let mut nodes = Vec::new();
                for v in &vars {
                    match v["id"].as_str() {
                        Some(vid) => {
                            let Some(mut have) = old.iter().find(|o| o["id"] == vid).cloned()
                            else {
                                return refuse(
                                    "Product variant does not exist",
                                    "PRODUCT_VARIANT_DOES_NOT_EXIST",
                                );
                            };
                            let mut changed = false;
                            for f in ["price", "sku", "barcode"] {
                                if let Some(x) = v.get(f)
                                    && have[f] != *x
                                {
                                    have[f] = x.clone();
                                    changed = true;
                                }
                            }
                            if changed {
                                have["updatedAt"] = json!(now);
                            }
                            nodes.push(have);
                        }
                        None => nodes.push(new_variant(w, v, &now)),
                    }
                }
                p["variants"]["nodes"] = Value::Array(nodes);
            }
            shop.products[idx] = p.clone();
            json!({"product": p, "userErrors": []})
        }
    }
}

fn set_quantities(shop: &mut Shop, _w: &mut Writes, input: &Value) -> Value {
    let qs = input["quantities"].as_array().cloned().unwrap_or_default();
    // Check every compare-and-set first: all or nothing.
    let mut plan: Vec<(usize, usize, String, i64)> = Vec::new();
    for q in &qs {
        let item = q["inventoryItemId"].as_str().unwrap_or("");
        let loc = q["locationId"].as_str().unwrap_or("").to_owned();
        let Some(quantity) = q["quantity"].as_i64() else {
            return json!({"inventoryAdjustmentGroup": null,
                          "userErrors": errors(&[("Quantity is invalid", "INVALID_QUANTITY")])});
        };
        let found = shop.products.iter().enumerate().find_map(|(pi, p)| {
            p["variants"]["nodes"]
                .as_array()?
                .iter()
                .position(|v| v["inventoryItem"]["id"] == item)
                .map(|vi| (pi, vi))
        });
        let Some((pi, vi)) = found else {
            return json!({"inventoryAdjustmentGroup": null,
                          "userErrors": errors(&[("The inventory item could not be found", "INVALID_INVENTORY_ITEM")])});
        };
        let have = level(&shop.products[pi]["variants"]["nodes"][vi], &loc);
        let from = &q["changeFromQuantity"];
        if q.get("changeFromQuantity").is_none() {
            return json!({"inventoryAdjustmentGroup": null,
                          "userErrors": errors(&[("changeFromQuantity is required", "INVALID")])});
        }
        if !from.is_null() && from.as_i64() != Some(have.unwrap_or(0)) {
            return json!({"inventoryAdjustmentGroup": null,
                          "userErrors": errors(&[("The specified compare quantity does not match the current quantity", "CHANGE_FROM_QUANTITY_STALE")])});
        }
        plan.push((pi, vi, loc, quantity));
    }
    for (pi, vi, loc, quantity) in plan {
        let v = &mut shop.products[pi]["variants"]["nodes"][vi];
        let levels = &mut v["inventoryItem"]["inventoryLevels"]["nodes"];
        if !levels.is_array() {
            *levels = json!([]);
        }
        let entry = json!({"location": {"id": loc}, "quantities": [{"name": "available", "quantity": quantity}]});
        if let Some(list) = levels.as_array_mut() {
            match list
                .iter_mut()
                .find(|l| l["location"]["id"] == loc.as_str())
            {
                Some(l) => *l = entry,
                None => list.push(entry),
            }
        }
    }
    json!({"inventoryAdjustmentGroup": {"id": "gid://shopify/InventoryAdjustmentGroup/1"}, "userErrors": []})
}

fn level(variant: &Value, loc: &str) -> Option<i64> {
    variant["inventoryItem"]["inventoryLevels"]["nodes"]
        .as_array()?
        .iter()
        .find(|l| l["location"]["id"] == loc)?["quantities"]
        .as_array()?
        .iter()
        .find(|q| q["name"] == "available")?["quantity"]
        .as_i64()
}
