//! Zettle as a [`Destination`]: Product Library products with their variants, categories,
//! and Inventory v3 stock movements; read back, delete and restore for rollback.
//!
//! - Create: `POST /organizations/self/products` with a client-chosen `uuid` for the product
//!   and each variant; `201` with `ETag` and `Location`, no body (operation `createProduct`,
//!   <https://products.izettle.com/openapi.json> as mirrored by APIs-guru
//!   `APIs/izettle.com/products/1.0.0/openapi.yaml`; request shape from
//!   <https://github.com/iZettle/api-documentation/blob/master/product-library.adoc>).
//!   Zettle's UUIDs are time-based (version 1); ours are derived from the migration id and
//!   the source ids (SHA-256, version nibble `1`, RFC 4122 variant), so a retry or a re-run
//!   sends the same product again and a product with our UUID is one this migration made.
//! - Update: `PUT /organizations/self/products/v2/{productUuid}`, a JSON merge patch
//!   (RFC 7396) with `If-Match: <ETag>`; `204` with the new `ETag`, `412 Precondition
//!   Failed` (empty body) when the product changed since it was read (`updateProduct`).
//!   `variants` lists the product's variants by `uuid` (the doc's example lists unchanged
//!   ones by uuid alone): a variant left out is removed.
//! - Read: `GET /organizations/self/products/{productUuid}` (`404` when gone); the body's
//!   `etag` is the version the journal keeps (`ProductResponse.etag`).
//! - Delete: `DELETE /organizations/self/products?uuid=…&uuid=…` (`deleteProducts`, `204`).
//! - Categories: `GET /organizations/self/categories/v2` → `{"categories": [{uuid, name}]}`,
//!   missing ones created with `POST /organizations/self/categories/v2` `{"categories":
//!   [{uuid, name}]}` (UUIDs derived from the name); a product names its `category: {uuid,
//!   name}`. The ones a migration created are reported in [`WriteReport::categories`];
//!   rollback deletes them after the products (`DELETE
//!   /organizations/self/categories/v2/{uuid}`), unless renamed since.
//! - Prices: `price: {"amount": minor units, "currencyId"}` (integers, exact); a variant
//!   without price is priced at the till. `vatPercentage` from the item's tax rate.
//! - Stock: Inventory v3. Inventories from `GET /v3/inventories` (`[{inventoryUuid, name,
//!   type: STORE|SUPPLIER|BIN|SOLD}]`); balances from `GET /v3/stock` (see [`crate::zettle`]).
//!   A balance is changed by moving units: `POST /v3/movements` `{"identifier", "movements":
//!   [{productUuid, variantUuid, from, to, change}]}`, from `SUPPLIER` to a `STORE` to add
//!   and from the `STORE` to `BIN` to remove (<https://developer.zettle.com/docs/api/inventory/concepts/how-inventories-work>:
//!   SUPPLIER holds infinite stock, BIN takes discarded items). The `identifier` is derived
//!   from the migration and the request, so a retried request is the same movement; a
//!   re-run computes the movements from the balances read then, so a movement that landed is
//!   not repeated. A location of the item that is a `STORE` inventory's UUID is that
//!   inventory; with one `STORE` inventory every other location is counted into it; else
//!   the product fails. Not verified against Zettle: that `identifier` de-duplicates
//!   movements, and whether v3 needs tracking started first (Zettle documents `POST
//!   /organizations/self/v2/inventory/bulk` for that); the fake tracks a variant on its
//!   first movement.
//! - Errors: `{"developerMessage", "errorType", "violations": [{propertyName,
//!   developerMessage, constraintType}]}` (`ErrorResponse`); a `400` fails that product only.
//!   `429` is waited out by the HTTP layer (`Retry-After` when given; 4 requests/s).
//!
//! Lost answers: a create retried after its answer was lost finds the product there (Zettle
//! does not document its answer to a second create with the same UUID); an update retried
//! after its answer was lost gets `412` (the `ETag` moved with our own write). Both are
//! settled by reading the product back: holding what we would write, it is ours.
//!
//! Versions are the product's ETag (`{uuid: etag}`): a change made in the Zettle back
//! office moves it, and undo leaves such a product alone. Stock sold meanwhile does not
//! move it (stock is put back as it was).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use reqwest::Method;
use reqwest::header::{HeaderValue, IF_MATCH};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tillbridge_domain::{CatalogItem, Provider};

use super::ZettleClient;
use crate::api::{decode, found, join_url};
use crate::destination::shape::{holds, number};
use crate::destination::{
    Action, Destination, Journal, Outcome, Parent, PriorState, Snapshot, Undo, UndoResult,
    WriteReport, created_category, failed, idempotency_key,
};
use crate::error::{ConnectorError, Result};
use crate::http::{CallStats, Request, Response};

const V: Provider = Provider::Zettle;
const PRODUCTS: &str = "/organizations/self/products";
const CATEGORIES: &str = "/organizations/self/categories/v2";
/// Products per bulk delete (UUIDs in the query string).
const DELETE_PER: usize = 50;
/// The option variants are told apart by.
const OPTION: &str = "Option";
/// Fields of a product that restore puts back.
const RESTORED: [&str; 8] = [
    "name",
    "description",
    "category",
    "vatPercentage",
    "unitName",
    "presentation",
    "variants",
    "variantOptionDefinitions",
];

/// A UUID with the version nibble 1 from SHA-256 of `parts` (stable for the same parts).
pub fn derived_uuid(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    let mut b = [0u8; 16];
    b.copy_from_slice(&h.finalize()[..16]);
    b[6] = (b[6] & 0x0f) | 0x10;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

fn product_uuid(migration: &str, source: &str) -> String {
    derived_uuid(&["zettle-product", migration, source])
}

fn variant_uuid(migration: &str, source: &str, variation: &str) -> String {
    derived_uuid(&["zettle-variant", migration, source, variation])
}

fn category_uuid(name: &str) -> String {
    derived_uuid(&["zettle-category", name])
}

/// An ETag without quotes or weak prefix (`"abc"` and `W/"abc"` → `abc`).
fn bare(etag: &str) -> String {
    etag.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_owned()
}

/// The STORE inventories and the SUPPLIER and BIN ones.
#[derive(Debug, Default, Clone)]
struct Inventories {
    stores: Vec<String>,
    supplier: Option<String>,
    bin: Option<String>,
}

/// Per variant uuid, per inventory: the balance.
type Balances = HashMap<String, BTreeMap<String, Decimal>>;

/// What one run knows before planning: categories, inventories, and balances once a
/// product that exists already needs them (new products have none: a run of creates does
/// not read the organization's whole stock list every call).
struct Context {
    categories: HashMap<String, String>,
    /// Categories this run created.
    created: Vec<Outcome>,
    inventories: Inventories,
    stocked: bool,
    balances: Option<Balances>,
}

/// One product's plan.
struct Plan {
    source: String,
    uuid: String,
    prior: Option<PriorState>,
    /// The create body (absent product) or the merge patch (existing one).
    create: Option<Value>,
    patch: Option<Value>,
    etag: Option<String>,
    want: Value,
    movements: Vec<Value>,
    var_ids: BTreeMap<String, String>,
    action: Action,
}

#[async_trait]
impl Destination for ZettleClient {
    fn provider(&self) -> Provider {
        V
    }

    fn stats(&self) -> CallStats {
        self.http.stats()
    }

    async fn upsert(
        &self,
        migration: &str,
        parents: &[Parent],
        journal: &Journal,
    ) -> Result<WriteReport> {
        let mut cx = self.context(parents, true).await?;
        let mut report = WriteReport {
            categories: std::mem::take(&mut cx.created),
            ..WriteReport::default()
        };
        for parent in parents {
            let plan = self.plan(migration, parent, journal, &mut cx).await?;
            let mut outcome = plan_outcome(&plan);
            if let Err(e) = self.write(migration, plan, &mut outcome).await {
                outcome.action = failed(&e.to_string());
                report.outcomes.push(outcome);
                report.stopped = Some(e);
                break;
            }
            report.outcomes.push(outcome);
        }
        Ok(report)
    }

    async fn dry_run(
        &self,
        migration: &str,
        parents: &[Parent],
        journal: &Journal,
    ) -> Result<Vec<Outcome>> {
        let mut cx = self.context(parents, false).await?;
        let mut out = Vec::with_capacity(parents.len());
        for parent in parents {
            let plan = self.plan(migration, parent, journal, &mut cx).await?;
            out.push(plan_outcome(&plan));
        }
        Ok(out)
    }

    async fn read_back(&self, object_ids: &[String]) -> Result<BTreeMap<String, Snapshot>> {
        let balances = if object_ids.is_empty() {
            Balances::new()
        } else {
            self.stock_map(true).await?
        };
        let mut out = BTreeMap::new();
        for id in object_ids {
            if let Some(s) = self.snapshot(id, &balances).await? {
                out.insert(id.clone(), s);
            }
        }
        Ok(out)
    }

    async fn delete_categories(&self, _migration: &str, created: &[Outcome]) -> Result<Vec<Undo>> {
        self.remove_categories(created).await
    }

    async fn delete(&self, _migration: &str, created: &[Outcome]) -> Result<Vec<Undo>> {
        let ids: Vec<String> = created.iter().filter_map(|o| o.object_id.clone()).collect();
        let now = self.read_back(&ids).await?;
        let mut out = Vec::new();
        let mut doomed = Vec::new();
        for o in created {
            match o.object_id.as_ref().and_then(|id| now.get(id)) {
                None => out.push(undo(o, UndoResult::Nothing, true)),
                Some(s) => match conflict(o, s) {
                    Some(c) => out.push(undo(o, c, false)),
                    None => doomed.push(o),
                },
            }
        }
        let mut deleted: Vec<&Outcome> = Vec::new();
        for chunk in doomed.chunks(DELETE_PER) {
            let query: Vec<(&str, String)> = chunk
                .iter()
                .filter_map(|o| Some(("uuid", o.object_id.clone()?)))
                .collect();
            let url = join_url(V, &self.products, PRODUCTS, &query)?;
            match self.call(Method::DELETE, url, None, None).await {
                Ok(_) | Err(ConnectorError::NotFound { .. }) => deleted.extend(chunk),
                Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                    out.extend(chunk.iter().map(|o| failed_undo(o, vendor_reason.clone())));
                }
                Err(e) => return Err(e),
            }
        }
        let gone_ids: Vec<String> = deleted.iter().filter_map(|o| o.object_id.clone()).collect();
        let after = self.read_back(&gone_ids).await?;
        for o in deleted {
            let gone = o
                .object_id
                .as_ref()
                .is_some_and(|id| !after.contains_key(id));
            out.push(undo(o, UndoResult::Deleted, gone));
        }
        Ok(out)
    }

    async fn restore(&self, migration: &str, changed: &[Outcome]) -> Result<Vec<Undo>> {
        let mut out = Vec::new();
        let mut inventories = None;
        for o in changed {
            let (Some(id), Some(PriorState::Existed { snapshot })) = (&o.object_id, &o.prior)
            else {
                out.push(undo(o, UndoResult::Nothing, true));
                continue;
            };
            if inventories.is_none() {
                inventories = Some(self.inventories().await?);
            }
            let inv = inventories.clone().unwrap_or_default();
            match self.restore_one(migration, o, id, snapshot, &inv).await {
                Ok(u) => out.push(u),
                Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                    out.push(failed_undo(o, vendor_reason));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

fn plan_outcome(p: &Plan) -> Outcome {
    let versions = p
        .etag
        .as_ref()
        .map(|e| BTreeMap::from([(p.uuid.clone(), e.clone())]))
        .unwrap_or_default();
    Outcome {
        source_id: p.source.clone(),
        object_id: Some(p.uuid.clone()),
        variation_ids: p.var_ids.clone(),
        action: p.action.clone(),
        versions,
        prior: p.prior.clone(),
        sent: false,
        redirects: BTreeMap::new(),
    }
}

fn undo(o: &Outcome, result: UndoResult, verified: bool) -> Undo {
    Undo {
        source_id: o.source_id.clone(),
        object_id: o.object_id.clone(),
        result,
        verified,
    }
}

fn failed_undo(o: &Outcome, reason: String) -> Undo {
    undo(o, UndoResult::Failed { reason }, false)
}

fn conflict(o: &Outcome, now: &Snapshot) -> Option<UndoResult> {
    (now.versions != o.versions).then(|| UndoResult::Conflict {
        recorded: o.versions.clone(),
        found: now.versions.clone(),
    })
}

/// The variant body of `var` (without its uuid).
fn variant_fields(
    var: &CatalogItem,
    multi: bool,
) -> std::result::Result<Map<String, Value>, String> {
    let mut m = Map::new();
    let label = var
        .variant_name
        .clone()
        .or_else(|| multi.then(|| var.sku.clone().unwrap_or_else(|| var.external_id.clone())));
    m.insert("name".into(), json!(label.clone().unwrap_or_default()));
    if let Some(sku) = &var.sku {
        m.insert("sku".into(), json!(sku));
    }
    if let Some(b) = &var.barcode {
        m.insert("barcode".into(), json!(b));
    }
    if var.open_price != Some(true)
        && let Some(amount) = var.price_minor
    {
        let currency = var
            .currency
            .ok_or_else(|| format!("variation {}: a price without currency", var.external_id))?;
        if amount < 0 {
            return Err(format!("variation {}: a negative price", var.external_id));
        }
        m.insert(
            "price".into(),
            json!({"amount": amount, "currencyId": currency.code()}),
        );
    }
    if let Some(cost) = var.cost_minor.filter(|c| *c >= 0)
        && let Some(currency) = var.currency
    {
        m.insert(
            "costPrice".into(),
            json!({"amount": cost, "currencyId": currency.code()}),
        );
    }
    if multi && let Some(l) = label {
        m.insert("options".into(), json!([{"name": OPTION, "value": l}]));
    }
    Ok(m)
}

/// The product as we would write it, with each variation's variant uuid.
fn want_body(
    uuid: &str,
    parent: &Parent,
    var_uuids: &[String],
    categories: &HashMap<String, String>,
) -> std::result::Result<Value, String> {
    let first = parent
        .variations
        .first()
        .ok_or_else(|| "a product without variations".to_owned())?;
    if parent.variations.len() > 99 {
        return Err(format!(
            "{} variations: Zettle takes 1–99 variants a product",
            parent.variations.len()
        ));
    }
    let name = first
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| "a product without a name".to_owned())?;
    let mut m = Map::new();
    m.insert("uuid".into(), json!(uuid));
    m.insert("name".into(), json!(name));
    if let Some(d) = &first.description {
        m.insert("description".into(), json!(d));
    }
    if let Some(c) = &first.category {
        let cu = categories
            .get(c)
            .cloned()
            .unwrap_or_else(|| category_uuid(c));
        m.insert("category".into(), json!({"uuid": cu, "name": c}));
    }
    if let Some(vat) = first.tax_rate_percent {
        let n = number(&vat.normalize().to_string())
            .ok_or_else(|| format!("VAT {vat} cannot be sent exactly"))?;
        m.insert("vatPercentage".into(), Value::Number(n));
    }
    if let Some(u) = &first.unit_of_measure {
        m.insert("unitName".into(), json!(u));
    }
    let multi = parent.variations.len() > 1 || first.variant_name.is_some();
    let mut variants = Vec::new();
    let mut labels = Vec::new();
    for (var, vu) in parent.variations.iter().zip(var_uuids) {
        let mut f = variant_fields(var, multi)?;
        if let Some(l) = f.get("options").and_then(|o| o[0]["value"].as_str()) {
            labels.push(json!({"value": l}));
        }
        f.insert("uuid".into(), json!(vu));
        variants.push(Value::Object(f));
    }
    m.insert("variants".into(), Value::Array(variants));
    if multi {
        m.insert(
            "variantOptionDefinitions".into(),
            json!({"definitions": [{"name": OPTION, "properties": labels}]}),
        );
    }
    Ok(Value::Object(m))
}

/// The variant uuid of each variation: the journal's, else the current product's variant
/// with the same SKU, else a new derived one.
fn variant_uuids(
    migration: &str,
    parent: &Parent,
    entry: Option<&Outcome>,
    current: Option<&Value>,
) -> Vec<String> {
    let have: &[Value] = current
        .and_then(|c| c["variants"].as_array())
        .map_or(&[], Vec::as_slice);
    parent
        .variations
        .iter()
        .map(|var| {
            let known = entry.and_then(|e| e.variation_ids.get(&var.external_id));
            let by_sku = || {
                let sku = var.sku.as_deref()?;
                have.iter()
                    .find(|v| v["sku"].as_str() == Some(sku))
                    .and_then(|v| v["uuid"].as_str())
                    .map(str::to_owned)
            };
            known
                .cloned()
                .or_else(by_sku)
                .unwrap_or_else(|| variant_uuid(migration, &parent.source_id, &var.external_id))
        })
        .collect()
}

/// The whole balance of `q` (Zettle counts in numbers; tillbridge moves whole units).
fn whole(q: Decimal, what: &str) -> std::result::Result<Decimal, String> {
    if q.fract().is_zero() {
        Ok(q)
    } else {
        Err(format!("{what}: stock {q} is not a whole number"))
    }
}

/// The STORE balances `var` should have, by inventory.
fn wanted_stock(
    var: &CatalogItem,
    inv: &Inventories,
) -> std::result::Result<BTreeMap<String, Decimal>, String> {
    let mut out = BTreeMap::new();
    let levels: Vec<(String, Decimal)> = if var.stock_by_location.is_empty() {
        match (var.quantity_on_hand, inv.stores.as_slice()) {
            (None, _) => return Ok(out),
            (Some(q), [only]) => vec![(only.clone(), q)],
            (Some(_), _) => {
                return Err(format!(
                    "variation {}: stock without a location and {} store inventories",
                    var.external_id,
                    inv.stores.len()
                ));
            }
        }
    } else {
        var.stock_by_location
            .iter()
            .map(|(k, q)| (k.clone(), *q))
            .collect()
    };
    for (loc, q) in levels {
        let target = if inv.stores.contains(&loc) {
            loc
        } else if let [only] = inv.stores.as_slice() {
            only.clone()
        } else {
            return Err(format!(
                "variation {}: location {loc} is not one of the {} STORE inventories",
                var.external_id,
                inv.stores.len()
            ));
        };
        *out.entry(target).or_insert(Decimal::ZERO) += q;
    }
    for q in out.values() {
        whole(*q, &var.external_id)?;
        if q.is_sign_negative() {
            return Err(format!("variation {}: negative stock", var.external_id));
        }
    }
    Ok(out)
}

/// The movements that take `have` to `want` for one variant.
fn movements(
    product: &str,
    variant: &str,
    have: Option<&BTreeMap<String, Decimal>>,
    want: &BTreeMap<String, Decimal>,
    inv: &Inventories,
) -> std::result::Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for (store, target) in want {
        let now = have.and_then(|h| h.get(store)).copied().unwrap_or_default();
        let delta = *target - now;
        if delta.is_zero() {
            continue;
        }
        let (from, to) = if delta.is_sign_positive() {
            (inv.supplier.clone(), Some(store.clone()))
        } else {
            (Some(store.clone()), inv.bin.clone())
        };
        let (Some(from), Some(to)) = (from, to) else {
            return Err("the organization has no SUPPLIER or BIN inventory".into());
        };
        let change = number(&delta.abs().normalize().to_string())
            .ok_or_else(|| format!("stock change {delta} cannot be sent exactly"))?;
        out.push(json!({"productUuid": product, "variantUuid": variant,
                        "from": from, "to": to, "change": change}));
    }
    Ok(out)
}

impl ZettleClient {
    /// One call: `body` as JSON, `if_match` as `If-Match: "<etag>"`.
    async fn call(
        &self,
        method: Method,
        url: String,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Response> {
        let mut headers = self.headers.clone();
        if let Some(etag) = if_match {
            let v = HeaderValue::from_str(&format!("\"{etag}\""))
                .map_err(|_| ConnectorError::malformed(V, "etag", "not a header value"))?;
            headers.insert(IF_MATCH, v);
        }
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| ConnectorError::malformed(V, "request", e.to_string()))?;
        let request = Request {
            method,
            url,
            headers,
            body,
            cost: 1,
        };
        self.http.send(&request).await
    }

    /// The product `id` now, or `None` when Zettle has none (or it is not a UUID).
    async fn product_json(&self, id: &str) -> Result<Option<Value>> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return Ok(None);
        }
        let url = join_url(V, &self.products, &format!("{PRODUCTS}/{id}"), &[])?;
        let Some(response) = found(self.call(Method::GET, url, None, None).await)? else {
            return Ok(None);
        };
        let v: Value = decode(V, &response.body)?;
        Ok(Some(v))
    }

    async fn snapshot(&self, id: &str, balances: &Balances) -> Result<Option<Snapshot>> {
        let Some(body) = self.product_json(id).await? else {
            return Ok(None);
        };
        let etag = body["etag"]
            .as_str()
            .map(bare)
            .ok_or_else(|| ConnectorError::malformed(V, "etag", "not a string"))?;
        let mut stock = BTreeMap::new();
        for v in body["variants"].as_array().into_iter().flatten() {
            if let Some(vu) = v["uuid"].as_str()
                && let Some(b) = balances.get(vu)
            {
                stock.insert(vu.to_owned(), b.clone());
            }
        }
        Ok(Some(Snapshot {
            object_id: id.to_owned(),
            versions: BTreeMap::from([(id.to_owned(), etag)]),
            body,
            stock,
        }))
    }

    /// `GET /v3/inventories`.
    async fn inventories(&self) -> Result<Inventories> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Inventory {
            inventory_uuid: String,
            #[serde(rename = "type")]
            kind: String,
        }
        let url = join_url(V, &self.inventory, "/v3/inventories", &[])?;
        let response = self.call(Method::GET, url, None, None).await?;
        let list: Vec<Inventory> = decode(V, &response.body)?;
        let mut out = Inventories::default();
        for i in list {
            match i.kind.as_str() {
                "STORE" => out.stores.push(i.inventory_uuid),
                "SUPPLIER" => out.supplier = Some(i.inventory_uuid),
                "BIN" => out.bin = Some(i.inventory_uuid),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Every category: uuid → name.
    async fn category_names(&self) -> Result<HashMap<String, String>> {
        let url = join_url(V, &self.products, CATEGORIES, &[])?;
        let response = self.call(Method::GET, url, None, None).await?;
        let listed: Value = decode(V, &response.body)?;
        Ok(listed["categories"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some((
                    c["uuid"].as_str()?.to_owned(),
                    c["name"].as_str()?.to_owned(),
                ))
            })
            .collect())
    }

    /// Deletes the categories the migration created (`source_id` = the name it gave them),
    /// unless renamed since, one `DELETE …/categories/v2/{uuid}` each, and reads them back.
    async fn remove_categories(&self, created: &[Outcome]) -> Result<Vec<Undo>> {
        let now = self.category_names().await?;
        let mut out = Vec::new();
        let mut deleted = Vec::new();
        for o in created {
            let Some(uuid) = &o.object_id else {
                out.push(undo(o, UndoResult::Nothing, true));
                continue;
            };
            match now.get(uuid) {
                None => out.push(undo(o, UndoResult::Nothing, true)),
                Some(name) if *name != o.source_id => {
                    let conflict = UndoResult::Conflict {
                        recorded: o.versions.clone(),
                        found: BTreeMap::new(),
                    };
                    out.push(undo(o, conflict, false));
                }
                Some(_) => {
                    let url = join_url(V, &self.products, &format!("{CATEGORIES}/{uuid}"), &[])?;
                    match self.call(Method::DELETE, url, None, None).await {
                        Ok(_) | Err(ConnectorError::NotFound { .. }) => deleted.push(o),
                        Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                            out.push(failed_undo(o, vendor_reason));
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        if deleted.is_empty() {
            return Ok(out);
        }
        let after = self.category_names().await?;
        for o in deleted {
            let gone = o.object_id.as_ref().is_some_and(|u| !after.contains_key(u));
            out.push(undo(o, UndoResult::Deleted, gone));
        }
        Ok(out)
    }

    /// Categories by name (creating the missing ones when `create`), inventories and
    /// balances when any product has stock.
    async fn context(&self, parents: &[Parent], create: bool) -> Result<Context> {
        let url = join_url(V, &self.products, CATEGORIES, &[])?;
        let response = self.call(Method::GET, url.clone(), None, None).await?;
        let listed: Value = decode(V, &response.body)?;
        let mut categories: HashMap<String, String> = listed["categories"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some((
                    c["name"].as_str()?.to_owned(),
                    c["uuid"].as_str()?.to_owned(),
                ))
            })
            .collect();
        let mut missing: Vec<Value> = Vec::new();
        for p in parents {
            if let Some(c) = p.variations.first().and_then(|v| v.category.as_ref())
                && !categories.contains_key(c)
            {
                let u = category_uuid(c);
                missing.push(json!({"uuid": u, "name": c}));
                categories.insert(c.clone(), u);
            }
        }
        let mut created = Vec::new();
        if create && !missing.is_empty() {
            let body = json!({ "categories": missing });
            let made = |listed: &HashMap<String, String>| -> Vec<Outcome> {
                missing
                    .iter()
                    .filter_map(|c| {
                        let (name, uuid) = (c["name"].as_str()?, c["uuid"].as_str()?);
                        (listed.get(uuid).map(String::as_str) == Some(name))
                            .then(|| created_category(name, uuid, None))
                    })
                    .collect()
            };
            match self.call(Method::POST, url, Some(&body), None).await {
                Ok(_) => {
                    created = missing
                        .iter()
                        .filter_map(|c| {
                            Some(created_category(
                                c["name"].as_str()?,
                                c["uuid"].as_str()?,
                                None,
                            ))
                        })
                        .collect();
                }
                // A retry after a lost answer: "Category already exists". Ours are those
                // with the uuid we derive from the name.
                Err(ConnectorError::Rejected { status: 400, .. }) => {
                    created = made(&self.category_names().await?);
                }
                Err(e) => return Err(e),
            }
        }
        let stocked = parents
            .iter()
            .flat_map(|p| &p.variations)
            .any(|v| !v.stock_by_location.is_empty() || v.quantity_on_hand.is_some());
        let inventories = if stocked {
            self.inventories().await?
        } else {
            Inventories::default()
        };
        Ok(Context {
            categories,
            created,
            inventories,
            stocked,
            balances: None,
        })
    }

    async fn plan(
        &self,
        migration: &str,
        parent: &Parent,
        journal: &Journal,
        cx: &mut Context,
    ) -> Result<Plan> {
        let entry = journal.entries.get(&parent.source_id);
        let derived = product_uuid(migration, &parent.source_id);
        let uuid = journal
            .object_id(&parent.source_id)
            .map(str::to_owned)
            .or_else(|| parent.existing_id.clone())
            .unwrap_or_else(|| derived.clone());
        let current = self.product_json(&uuid).await?;
        if current.is_some() && cx.stocked && cx.balances.is_none() {
            cx.balances = Some(self.stock_map(true).await?);
        }
        let none = Balances::new();
        let balances = cx.balances.as_ref().unwrap_or(&none);
        // A product with our derived UUID can only be this migration's.
        let ours = uuid == derived
            || entry.is_some_and(|e| {
                e.sent
                    && matches!(e.prior, Some(PriorState::Absent) | None)
                    && e.object_id.as_deref() == Some(uuid.as_str())
            });
        let mut plan = Plan {
            source: parent.source_id.clone(),
            uuid: uuid.clone(),
            prior: Some(PriorState::Absent),
            create: None,
            patch: None,
            etag: current.as_ref().and_then(|c| c["etag"].as_str()).map(bare),
            want: Value::Null,
            movements: Vec::new(),
            var_ids: BTreeMap::new(),
            action: Action::Unchanged,
        };
        if let (Some(c), false) = (&current, ours) {
            let stock = parent_stock(c, balances);
            plan.prior = Some(PriorState::Existed {
                snapshot: Box::new(Snapshot {
                    object_id: uuid.clone(),
                    versions: plan
                        .etag
                        .iter()
                        .map(|e| (uuid.clone(), e.clone()))
                        .collect(),
                    body: c.clone(),
                    stock,
                }),
            });
        }
        let vu = variant_uuids(migration, parent, entry, current.as_ref());
        for (var, u) in parent.variations.iter().zip(&vu) {
            plan.var_ids.insert(var.external_id.clone(), u.clone());
        }
        let want = match want_body(&uuid, parent, &vu, &cx.categories) {
            Ok(w) => w,
            Err(reason) => {
                plan.action = failed(&reason);
                return Ok(plan);
            }
        };
        for (var, u) in parent.variations.iter().zip(&vu) {
            let target = match wanted_stock(var, &cx.inventories) {
                Ok(t) => t,
                Err(reason) => {
                    plan.action = failed(&reason);
                    return Ok(plan);
                }
            };
            match movements(&uuid, u, balances.get(u), &target, &cx.inventories) {
                Ok(m) => plan.movements.extend(m),
                Err(reason) => {
                    plan.action = failed(&reason);
                    return Ok(plan);
                }
            }
        }
        match &current {
            None => {
                plan.create = Some(want.clone());
                plan.action = Action::Created;
            }
            Some(c) => {
                if !holds(c, &want) {
                    plan.patch = Some(want.clone());
                }
                let changed = plan.patch.is_some() || !plan.movements.is_empty();
                // Ours and changed: finishing a create an earlier run began; the journal
                // keeps "created" for an unchanged re-run too (it merges).
                plan.action = match (ours, changed) {
                    (true, true) => Action::Created,
                    (false, true) => Action::Updated,
                    (_, false) => Action::Unchanged,
                };
            }
        }
        plan.want = want;
        Ok(plan)
    }

    /// Sends one product's plan; a vendor's refusal of this product fails only it.
    async fn write(&self, migration: &str, plan: Plan, outcome: &mut Outcome) -> Result<()> {
        if matches!(plan.action, Action::Failed { .. }) {
            return Ok(());
        }
        let uuid = plan.uuid.clone();
        if let Some(body) = &plan.create {
            outcome.sent = true;
            let url = join_url(V, &self.products, PRODUCTS, &[])?;
            match self.call(Method::POST, url, Some(body), None).await {
                Ok(r) => {
                    self.settle(outcome, &uuid, Some(&r), &plan.want).await?;
                }
                Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                    // Our UUID may be there already (a create whose answer was lost).
                    if !self.settle(outcome, &uuid, None, &plan.want).await? {
                        outcome.action = failed(&vendor_reason);
                        return Ok(());
                    }
                }
                Err(e) => return Err(e),
            }
        } else if let Some(patch) = &plan.patch {
            outcome.sent = true;
            let url = join_url(V, &self.products, &format!("{PRODUCTS}/v2/{uuid}"), &[])?;
            match self
                .call(Method::PUT, url, Some(patch), plan.etag.as_deref())
                .await
            {
                Ok(r) => {
                    self.settle(outcome, &uuid, Some(&r), &plan.want).await?;
                }
                Err(ConnectorError::Rejected {
                    status: 412,
                    vendor_reason,
                    ..
                }) => {
                    if !self.settle(outcome, &uuid, None, &plan.want).await? {
                        outcome.action = failed(&format!(
                            "conflict: the product changed at Zettle since it was read \
                             (412 {vendor_reason})"
                        ));
                        return Ok(());
                    }
                }
                Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                    outcome.action = failed(&vendor_reason);
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        if !plan.movements.is_empty() {
            outcome.sent = true;
            if let Err(reason) = self.move_stock(migration, &plan.movements).await? {
                outcome.action = failed(&format!("stock: {reason}"));
            }
        }
        Ok(())
    }

    /// Records the ETag after a write: from the answer's `ETag`, else read back. Without an
    /// answer: whether the product now holds `want` (then the write landed).
    async fn settle(
        &self,
        outcome: &mut Outcome,
        uuid: &str,
        answer: Option<&Response>,
        want: &Value,
    ) -> Result<bool> {
        let header = answer
            .and_then(|r| r.headers.get(reqwest::header::ETAG))
            .and_then(|v| v.to_str().ok())
            .map(bare);
        let etag = match header {
            Some(e) => Some(e),
            None => {
                let now = self.product_json(uuid).await?;
                match now {
                    Some(p) if answer.is_some() || holds(&p, want) => p["etag"].as_str().map(bare),
                    _ => None,
                }
            }
        };
        match etag {
            Some(e) => {
                outcome.versions = BTreeMap::from([(uuid.to_owned(), e)]);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// `POST /v3/movements`; `Ok(Err(reason))` when Zettle refused them.
    async fn move_stock(
        &self,
        migration: &str,
        movements: &[Value],
    ) -> Result<std::result::Result<(), String>> {
        let content = serde_json::to_vec(movements)
            .map_err(|e| ConnectorError::malformed(V, "movements", e.to_string()))?;
        let key = idempotency_key(migration, "zettle-movements", &content);
        let body = json!({"identifier": derived_uuid(&[&key]), "movements": movements});
        let url = join_url(V, &self.inventory, "/v3/movements", &[])?;
        match self.call(Method::POST, url, Some(&body), None).await {
            Ok(_) => Ok(Ok(())),
            Err(ConnectorError::Rejected { vendor_reason, .. }) => Ok(Err(vendor_reason)),
            Err(e) => Err(e),
        }
    }

    async fn restore_one(
        &self,
        migration: &str,
        o: &Outcome,
        id: &str,
        prior: &Snapshot,
        inv: &Inventories,
    ) -> Result<Undo> {
        let ids = [id.to_owned()];
        let now = self.read_back(&ids).await?;
        let Some(current) = now.get(id) else {
            return Ok(undo(o, UndoResult::Nothing, true));
        };
        if let Some(c) = conflict(o, current) {
            return Ok(undo(o, c, false));
        }
        if as_before(current, prior) {
            return Ok(undo(o, UndoResult::Nothing, true));
        }
        let mut patch = Map::new();
        for f in RESTORED {
            if f == "variants" {
                patch.insert(f.into(), restored_variants(&prior.body, &current.body));
                continue;
            }
            match prior.body.get(f) {
                Some(v) => {
                    patch.insert(f.into(), v.clone());
                }
                None if current.body.get(f).is_some() => {
                    patch.insert(f.into(), Value::Null);
                }
                None => {}
            }
        }
        let etag = current.versions.get(id).cloned();
        let url = join_url(V, &self.products, &format!("{PRODUCTS}/v2/{id}"), &[])?;
        self.call(
            Method::PUT,
            url,
            Some(&Value::Object(patch)),
            etag.as_deref(),
        )
        .await?;
        let mut moves = Vec::new();
        for (variant, levels) in &prior.stock {
            let have = current.stock.get(variant);
            match movements(id, variant, have, levels, inv) {
                Ok(m) => moves.extend(m),
                Err(reason) => return Ok(failed_undo(o, reason)),
            }
        }
        if !moves.is_empty()
            && let Err(reason) = self.move_stock(migration, &moves).await?
        {
            return Ok(failed_undo(o, format!("stock: {reason}")));
        }
        let after = self.read_back(&ids).await?;
        let verified = after.get(id).is_some_and(|s| as_before(s, prior));
        Ok(undo(o, UndoResult::Restored, verified))
    }
}

/// The prior variants as a merge patch over the current ones: each prior variant, with
/// `null` for the fields the current one has and the prior one had not.
fn restored_variants(prior: &Value, current: &Value) -> Value {
    let now = current["variants"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let list: Vec<Value> = prior["variants"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|pv| {
            let mut out = pv.as_object().cloned().unwrap_or_default();
            if let Some(cv) = now
                .iter()
                .find(|c| c["uuid"] == pv["uuid"])
                .and_then(Value::as_object)
            {
                for k in cv.keys() {
                    out.entry(k.clone()).or_insert(Value::Null);
                }
            }
            Value::Object(out)
        })
        .collect();
    Value::Array(list)
}

/// The balances of `product`'s variants.
fn parent_stock(
    product: &Value,
    balances: &Balances,
) -> BTreeMap<String, BTreeMap<String, Decimal>> {
    product["variants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let u = v["uuid"].as_str()?;
            Some((u.to_owned(), balances.get(u)?.clone()))
        })
        .collect()
}

/// Whether `now` holds the prior content: the restored fields and the prior stock.
fn as_before(now: &Snapshot, prior: &Snapshot) -> bool {
    let same_fields = RESTORED.iter().all(|f| {
        let a = now.body.get(*f).unwrap_or(&Value::Null);
        let b = prior.body.get(*f).unwrap_or(&Value::Null);
        holds(a, b) && holds(b, a)
    });
    let same_stock = prior.stock.iter().all(|(v, levels)| {
        levels
            .iter()
            .all(|(inv, q)| now.stock.get(v).and_then(|l| l.get(inv)) == Some(q))
    });
    same_fields && same_stock
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_uuids_are_stable_version_1_shaped_and_differ_by_migration() {
        let a = product_uuid("m1", "P1");
        assert_eq!(a, product_uuid("m1", "P1"));
        assert_ne!(a, product_uuid("m2", "P1"));
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'1');
        assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
    }

    #[test]
    fn movements_add_from_supplier_and_remove_to_bin() {
        let inv = Inventories {
            stores: vec!["S".into()],
            supplier: Some("SUP".into()),
            bin: Some("BIN".into()),
        };
        let have = BTreeMap::from([("S".to_owned(), Decimal::from(5))]);
        let up = movements(
            "p",
            "v",
            Some(&have),
            &BTreeMap::from([("S".into(), Decimal::from(7))]),
            &inv,
        )
        .expect("movements");
        assert_eq!(up[0]["from"], "SUP");
        assert_eq!(up[0]["change"], 2);
        let down = movements(
            "p",
            "v",
            Some(&have),
            &BTreeMap::from([("S".into(), Decimal::from(1))]),
            &inv,
        )
        .expect("movements");
        assert_eq!(
            (down[0]["to"].as_str(), down[0]["change"].as_i64()),
            (Some("BIN"), Some(4))
        );
        assert!(
            movements("p", "v", Some(&have), &have, &inv)
                .expect("none")
                .is_empty()
        );
    }
}
