//! Shopify as a [`Destination`]: Admin GraphQL products with their options and variants,
//! stock at a location and storefront URL redirects.
//!
//! - Create and update: `productSet(synchronous: true, input:)`, one product a request
//!   (<https://shopify.dev/docs/api/admin-graphql/latest/mutations/productSet>): `title`,
//!   `descriptionHtml`, `productType` (the canonical category), `status` (`ACTIVE` /
//!   `DRAFT`), `productOptions` (one option, `Option`, whose values are the variations'
//!   names; a one-variation product without a name has Shopify's `Title` / `Default Title`)
//!   and `variants` (`optionValues`, `price` as exact decimal text in the shop currency
//!   (`Money`), `sku`, `barcode`; on create `inventoryQuantities` at the location). Variants
//!   are a list field: the ones left out are deleted, so an update sends every variant the
//!   product has (the merchant's by `id` as they are) and adds the variations it lacks.
//!   Per-product refusals come as `userErrors` (`{field, message, code}`) in a `200`
//!   answer and fail only that product ([`Action::Failed`] with the messages).
//! - Stock of existing variants: `inventorySetQuantities` with `name: "available"`,
//!   `reason: "correction"`, each quantity with `changeFromQuantity` = the quantity read
//!   (compare-and-set: `CHANGE_FROM_QUANTITY_STALE` is a conflict) and the
//!   `@idempotent(key:)` directive Shopify requires as of 2026-04
//!   (<https://shopify.dev/docs/api/admin-graphql/latest/mutations/inventorySetQuantities>,
//!   <https://shopify.dev/docs/api/usage/idempotent-requests>). One level per variant: the
//!   sum of the item's `stock_by_location`, whole units, at the shop's first location
//!   (`locations(first:)`).
//! - SEO: each of [`Parent::redirect_from`] becomes `urlRedirectCreate(urlRedirect: {path,
//!   target: "/products/<handle>"})`; the redirects' numeric ids go in
//!   [`Outcome::redirects`] and rollback removes them with `urlRedirectDelete(id:)`
//!   (<https://shopify.dev/docs/api/admin-graphql/latest/mutations/urlRedirectCreate>). A
//!   path already taken (`userErrors`) is looked up (`urlRedirects(query: "path:…")`): one
//!   pointing at our product is ours (a create whose answer was lost).
//! - Read back: `nodes(ids:)` on `Product`, 5 a request, each with its first 100 variants
//!   and their `inventoryLevels`; versions are the product's and each variant's
//!   `updatedAt` (stock moves do not change them: a sale is not an edit).
//! - Undo: `productDelete(input: {id})`; a restore is a `productSet` with the prior fields
//!   and variants (ours added since are left out, hence deleted) and an
//!   `inventorySetQuantities` back to the prior levels.
//! - Throttling by query cost and `THROTTLED` answers go through the HTTP layer (see
//!   [`crate::shopify`]); mutations reserve [`MUTATION_COST`] points.
//!
//! Idempotency: `productSet` takes no idempotency key and Shopify does not refuse duplicate
//! SKUs, so a create is sent once ([`crate::http::HttpLayer::send_once`]): a product the
//! journal does not map is first looked up by its first SKU (`productVariants(first: 1,
//! query: "sku:'…'")`); found, it is updated instead. A create whose answer was lost is
//! followed by the same lookup: found, it is the product that request made; not found, the
//! create did not land and is sent once more. Updates (`productSet` with `id`) are
//! idempotent and retried as usual. Shopify's search index lags writes by seconds: a lookup
//! right after a lost answer can miss the product; a re-run finds it.
//!
//! Limits: a product with more than 100 variants at Shopify is neither updated nor restored
//! (its outcome says so): `productSet` would delete the variants beyond the ones read.
//!
//! Conflicts: a product this migration wrote whose `updatedAt` moved since (the merchant
//! edited it) is not overwritten by a re-run (`conflict:`) and is left alone by rollback.
//!
//! Ids in the journal are the numeric tails of the global ids (as the read client's).

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use tillbridge_domain::{CatalogItem, Provider};

use super::ShopifyClient;
use super::wire::{LOCATIONS_QUERY, LocationsData, legacy_id, to_gid};
use crate::destination::shape::{price_text, whole_stock};
use crate::destination::{
    Action, Destination, Journal, Outcome, Parent, PriorState, Snapshot, Undo, UndoResult,
    WriteReport, failed, idempotency_key,
};
use crate::error::{ConnectorError, Result};
use crate::http::CallStats;

const V: Provider = Provider::Shopify;
/// Points a mutation reserves from the cost bucket (Shopify charges 10 per mutation).
pub const MUTATION_COST: u32 = 10;
/// Products per read-back query (5 × (1 + 100 × (2 + 5 × 1)) ≈ 3,500 requested points
/// would exceed the 1,000-point single-query maximum; Shopify charges actual cost, and the
/// limiter reserves the maximum).
const READ_CHUNK: usize = 5;
const READ_COST: u32 = 1000;
/// The option of new variants (a canonical variation has one name).
const OPTION: &str = "Option";

/// The fields read and returned of a product.
const PRODUCT: &str = "id title handle descriptionHtml productType status updatedAt \
     variants(first: 100) { pageInfo { hasNextPage } nodes { id title sku barcode price updatedAt \
     selectedOptions { name value } inventoryItem { id inventoryLevels(first: 5) { nodes { \
     location { id } quantities(names: [\"available\"]) { name quantity } } } } } }";

fn read_query() -> String {
    format!(
        "query ReadBack($ids: [ID!]!) {{ nodes(ids: $ids) {{ __typename ... on Product {{ {PRODUCT} }} }} }}"
    )
}

fn set_mutation() -> String {
    format!(
        "mutation ProductSet($input: ProductSetInput!) {{ productSet(synchronous: true, input: $input) {{ \
         product {{ {PRODUCT} }} userErrors {{ field message code }} }} }}"
    )
}

const FIND_QUERY: &str = "query FindBySku($query: String!) { productVariants(first: 1, query: $query) { \
     nodes { id product { id } } } }";
const STOCK_MUTATION: &str = "mutation SetStock($input: InventorySetQuantitiesInput!, $key: String!) { \
     inventorySetQuantities(input: $input) @idempotent(key: $key) { \
     inventoryAdjustmentGroup { id } userErrors { field message code } } }";
const DELETE_MUTATION: &str = "mutation ProductDelete($input: ProductDeleteInput!) { \
     productDelete(input: $input) { deletedProductId userErrors { field message } } }";
const REDIRECT_MUTATION: &str = "mutation UrlRedirectCreate($urlRedirect: UrlRedirectInput!) { \
     urlRedirectCreate(urlRedirect: $urlRedirect) { urlRedirect { id path target } \
     userErrors { field message code } } }";
const REDIRECT_FIND: &str = "query UrlRedirects($query: String!) { urlRedirects(first: 1, query: $query) { \
     nodes { id path target } } }";
const REDIRECT_DELETE: &str = "mutation UrlRedirectDelete($id: ID!) { urlRedirectDelete(id: $id) { \
     deletedUrlRedirectId userErrors { field message } } }";
const REDIRECT_READ: &str = "query RedirectsById($ids: [ID!]!) { nodes(ids: $ids) { __typename ... on UrlRedirect { id } } }";

/// Why a product with more variants than one read returns is not updated: `productSet`
/// deletes the variants an update leaves out, and those were not read.
const TOO_MANY: &str =
    "more than 100 variants at Shopify: not updated (productSet would delete the unread ones)";

/// Whether the product JSON says more variants follow the ones read.
fn more_variants(p: &Value) -> bool {
    p["variants"]["pageInfo"]["hasNextPage"].as_bool() == Some(true)
}

/// The messages of a payload's `userErrors`, joined; `None` when there are none.
fn user_errors(payload: &Value) -> Option<String> {
    let errors = payload["userErrors"].as_array()?;
    if errors.is_empty() {
        return None;
    }
    Some(
        errors
            .iter()
            .map(|e| {
                let code = e["code"]
                    .as_str()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default();
                format!("{}{code}", e["message"].as_str().unwrap_or("refused"))
            })
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// A product's snapshot from its GraphQL JSON ([`PRODUCT`]'s selection).
fn snapshot_of(p: &Value, path: &str) -> Result<Snapshot> {
    let gid = p["id"]
        .as_str()
        .ok_or_else(|| ConnectorError::malformed(V, format!("{path}.id"), "not a string"))?;
    let id = legacy_id(gid).to_owned();
    let updated = p["updatedAt"]
        .as_str()
        .ok_or_else(|| ConnectorError::malformed(V, format!("{path}.updatedAt"), "not a string"))?;
    let mut versions = BTreeMap::from([(id.clone(), updated.to_owned())]);
    let mut stock = BTreeMap::new();
    for (j, v) in variants(p).iter().enumerate() {
        let at = format!("{path}.variants.nodes[{j}]");
        let vid = v["id"]
            .as_str()
            .map(|g| legacy_id(g).to_owned())
            .ok_or_else(|| ConnectorError::malformed(V, format!("{at}.id"), "not a string"))?;
        let vu = v["updatedAt"].as_str().unwrap_or(updated);
        versions.insert(vid.clone(), vu.to_owned());
        let mut levels = BTreeMap::new();
        for level in v["inventoryItem"]["inventoryLevels"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Some(loc) = level["location"]["id"].as_str() else {
                continue;
            };
            let q: i64 = level["quantities"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|q| q["name"] == "available")
                .filter_map(|q| q["quantity"].as_i64())
                .sum();
            levels.insert(legacy_id(loc).to_owned(), Decimal::from(q));
        }
        if !levels.is_empty() {
            stock.insert(vid, levels);
        }
    }
    Ok(Snapshot {
        object_id: id,
        versions,
        body: p.clone(),
        stock,
    })
}

fn variants(p: &Value) -> &[Value] {
    p["variants"]["nodes"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
}

/// Two money texts with the same value ("4.5" and "4.50").
fn same_money(a: &Value, b: Option<&str>) -> bool {
    let parse = |s: &str| Decimal::from_str(s).ok();
    match (a.as_str().and_then(parse), b.and_then(parse)) {
        (Some(x), Some(y)) => x == y,
        (None, None) => true,
        _ => false,
    }
}

/// Text fields equal, `null` and `""` alike.
fn same_text(a: &Value, b: Option<&str>) -> bool {
    a.as_str().unwrap_or("") == b.unwrap_or("")
}

/// What we would write for one variation.
struct WantVariant {
    source: String,
    label: String,
    sku: Option<String>,
    barcode: Option<String>,
    price: Option<String>,
    stock: Option<i64>,
}

/// What we would write for one product.
struct Want {
    title: Option<String>,
    description: Option<String>,
    product_type: Option<String>,
    status: Option<&'static str>,
    /// One variation without a name: Shopify's default variant.
    plain: bool,
    variants: Vec<WantVariant>,
}

fn want(parent: &Parent, client: &ShopifyClient) -> Result<Want, String> {
    let first = parent
        .variations
        .first()
        .ok_or_else(|| "a product without variations".to_owned())?;
    let plain = parent.variations.len() == 1 && first.variant_name.is_none();
    let mut variants = Vec::new();
    for var in &parent.variations {
        variants.push(WantVariant {
            source: var.external_id.clone(),
            label: if plain {
                "Default Title".to_owned()
            } else {
                label(var)
            },
            sku: var.sku.clone(),
            barcode: var.barcode.clone(),
            price: price_text(var, client.currency)?,
            stock: whole_stock(var)?,
        });
    }
    Ok(Want {
        title: first.name.clone(),
        description: first.description.clone(),
        product_type: first.category.clone(),
        status: first.is_active.map(|a| if a { "ACTIVE" } else { "DRAFT" }),
        plain,
        variants,
    })
}

/// A variation's option value: its name, else its SKU, else its source id.
fn label(var: &CatalogItem) -> String {
    var.variant_name
        .clone()
        .or_else(|| var.sku.clone())
        .unwrap_or_else(|| var.external_id.clone())
}

fn option_name(w: &Want) -> &'static str {
    if w.plain { "Title" } else { OPTION }
}

/// The product-level fields of a `productSet` input.
fn product_input(w: &Want) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(t) = &w.title {
        m.insert("title".into(), json!(t));
    }
    if let Some(d) = &w.description {
        m.insert("descriptionHtml".into(), json!(d));
    }
    if let Some(t) = &w.product_type {
        m.insert("productType".into(), json!(t));
    }
    if let Some(s) = w.status {
        m.insert("status".into(), json!(s));
    }
    m
}

fn variant_fields(v: &WantVariant, m: &mut Map<String, Value>) {
    if let Some(p) = &v.price {
        m.insert("price".into(), json!(p));
    }
    if let Some(s) = &v.sku {
        m.insert("sku".into(), json!(s));
    }
    if let Some(b) = &v.barcode {
        m.insert("barcode".into(), json!(b));
    }
}

/// The `productSet` input creating the product (stock at `location`).
fn create_input(w: &Want, location: Option<&str>) -> Value {
    let mut input = product_input(w);
    let option = option_name(w);
    let values: Vec<Value> = w
        .variants
        .iter()
        .map(|v| json!({"name": v.label}))
        .collect();
    input.insert(
        "productOptions".into(),
        json!([{"name": option, "values": values}]),
    );
    let vars: Vec<Value> = w
        .variants
        .iter()
        .map(|v| {
            let mut m = Map::new();
            m.insert(
                "optionValues".into(),
                json!([{"optionName": option, "name": v.label}]),
            );
            variant_fields(v, &mut m);
            if let (Some(q), Some(loc)) = (v.stock, location) {
                m.insert(
                    "inventoryQuantities".into(),
                    json!([{"locationId": loc, "name": "available", "quantity": q}]),
                );
            }
            Value::Object(m)
        })
        .collect();
    input.insert("variants".into(), Value::Array(vars));
    Value::Object(input)
}

/// The vendor variant id (numeric) of each variation in `product`: the journal's, else by
/// SKU, else by option value; a one-variation product's only variant.
fn variant_ids(
    w: &Want,
    product: &Value,
    known: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let vs = variants(product);
    let id_of = |v: &Value| v["id"].as_str().map(|g| legacy_id(g).to_owned());
    let mut out = BTreeMap::new();
    for want in &w.variants {
        let by_known = known
            .and_then(|k| k.get(&want.source))
            .filter(|id| vs.iter().any(|v| id_of(v).as_ref() == Some(*id)))
            .cloned();
        let by_sku = || {
            let sku = want.sku.as_deref()?;
            vs.iter()
                .find(|v| v["sku"].as_str() == Some(sku))
                .and_then(id_of)
        };
        let by_label = || {
            vs.iter()
                .find(|v| v["selectedOptions"][0]["value"].as_str() == Some(want.label.as_str()))
                .and_then(id_of)
        };
        let only = || {
            (w.variants.len() == 1 && vs.len() == 1)
                .then(|| id_of(&vs[0]))
                .flatten()
        };
        if let Some(id) = by_known.or_else(by_sku).or_else(by_label).or_else(only) {
            out.insert(want.source.clone(), id);
        }
    }
    out
}

/// The update of `current` to what we want (`None`: it already holds it) and the stock
/// levels to set afterwards (variant id → (wanted, current)).
fn update_input(w: &Want, current: &Snapshot, ids: &BTreeMap<String, String>) -> Option<Value> {
    let p = &current.body;
    let mut differs = [
        ("title", w.title.as_deref()),
        ("descriptionHtml", w.description.as_deref()),
        ("productType", w.product_type.as_deref()),
        ("status", w.status),
    ]
    .iter()
    .any(|(f, want)| want.is_some() && !same_text(&p[*f], *want));
    let option = variants(p)
        .first()
        .and_then(|v| v["selectedOptions"][0]["name"].as_str())
        .unwrap_or(OPTION)
        .to_owned();
    let mut vars = Vec::new();
    let mut ours = BTreeSet::new();
    for want in &w.variants {
        let mut m = Map::new();
        match ids.get(&want.source) {
            Some(id) => {
                ours.insert(id.clone());
                let Some(have) = variants(p)
                    .iter()
                    .find(|v| v["id"].as_str().map(legacy_id) == Some(id.as_str()))
                else {
                    continue;
                };
                differs |= want.price.is_some()
                    && !same_money(&have["price"], want.price.as_deref())
                    || want.sku.is_some() && !same_text(&have["sku"], want.sku.as_deref())
                    || want.barcode.is_some()
                        && !same_text(&have["barcode"], want.barcode.as_deref());
                m.insert("id".into(), have["id"].clone());
                m.insert("optionValues".into(), option_values(have));
            }
            None => {
                differs = true;
                m.insert(
                    "optionValues".into(),
                    json!([{"optionName": option, "name": want.label}]),
                );
            }
        }
        variant_fields(want, &mut m);
        vars.push(Value::Object(m));
    }
    if !differs {
        return None;
    }
    // Variants are a list field: the merchant's others are kept by sending them as they are.
    for have in variants(p) {
        let id = have["id"].as_str().map(legacy_id).unwrap_or_default();
        if !ours.contains(id) {
            vars.push(json!({"id": have["id"], "optionValues": option_values(have)}));
        }
    }
    let mut input = product_input(w);
    input.insert("id".into(), p["id"].clone());
    input.insert("variants".into(), Value::Array(vars));
    Some(Value::Object(input))
}

fn option_values(variant: &Value) -> Value {
    let values: Vec<Value> = variant["selectedOptions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| json!({"optionName": o["name"], "name": o["value"]}))
        .collect();
    Value::Array(values)
}

/// One product's plan and outcome.
struct Plan<'a> {
    parent: &'a Parent,
    want: Option<Want>,
    prior: Option<PriorState>,
    current: Option<Snapshot>,
    known_ids: Option<BTreeMap<String, String>>,
    object_id: Option<String>,
    var_ids: BTreeMap<String, String>,
    versions: BTreeMap<String, String>,
    action: Action,
    sent: bool,
    redirects: BTreeMap<String, String>,
    pending: Vec<String>,
    handle: Option<String>,
}

fn outcome(p: Plan<'_>) -> Outcome {
    Outcome {
        source_id: p.parent.source_id.clone(),
        object_id: p.object_id,
        variation_ids: p.var_ids,
        action: p.action,
        versions: p.versions,
        prior: p.prior,
        sent: p.sent,
        redirects: p.redirects,
    }
}

impl Plan<'_> {
    fn settle(&mut self, s: &Snapshot) {
        self.object_id = Some(s.object_id.clone());
        self.versions.clone_from(&s.versions);
        self.handle = s.body["handle"].as_str().map(str::to_owned);
        if let Some(w) = &self.want {
            let known = self
                .known_ids
                .clone()
                .unwrap_or_else(|| self.var_ids.clone());
            self.var_ids = variant_ids(w, &s.body, Some(&known));
        }
        self.current = Some(s.clone());
    }

    fn fail(&mut self, reason: &str) {
        self.action = failed(reason);
    }
}

#[async_trait]
impl Destination for ShopifyClient {
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
        let plans = self.plans(parents, journal).await?;
        let location = self.location_if_needed(&plans).await?;
        let mut report = WriteReport::default();
        for mut p in plans {
            let step = self.write_one(migration, &mut p, location.as_deref()).await;
            let step = match step {
                Ok(()) => self.write_redirects(&mut p).await,
                Err(e) => Err(e),
            };
            if let Err(e) = step {
                // The run stopped at this product: whatever was planned for it did not finish.
                if !matches!(p.action, Action::Failed { .. }) {
                    p.fail(&e.to_string());
                }
                report.outcomes.push(outcome(p));
                report.stopped = Some(e);
                break;
            }
            report.outcomes.push(outcome(p));
        }
        Ok(report)
    }

    async fn dry_run(
        &self,
        _migration: &str,
        parents: &[Parent],
        journal: &Journal,
    ) -> Result<Vec<Outcome>> {
        let plans = self.plans(parents, journal).await?;
        Ok(plans
            .into_iter()
            .map(|mut p| {
                if p.action == Action::Unchanged && !p.pending.is_empty() {
                    p.action = Action::Updated;
                }
                outcome(p)
            })
            .collect())
    }

    async fn read_back(&self, object_ids: &[String]) -> Result<BTreeMap<String, Snapshot>> {
        let mut out = BTreeMap::new();
        let gids: Vec<String> = object_ids.iter().map(|i| to_gid("Product", i)).collect();
        for chunk in gids.chunks(READ_CHUNK) {
            let data: Value = self
                .query(&read_query(), json!({"ids": chunk}), READ_COST)
                .await?;
            for (i, node) in data["nodes"].as_array().into_iter().flatten().enumerate() {
                if node["__typename"] == "Product" {
                    let s = snapshot_of(node, &format!("data.nodes[{i}]"))?;
                    out.insert(s.object_id.clone(), s);
                }
            }
        }
        Ok(out)
    }

    async fn delete(&self, _migration: &str, created: &[Outcome]) -> Result<Vec<Undo>> {
        let ids: Vec<String> = created.iter().filter_map(|o| o.object_id.clone()).collect();
        let now = self.read_back(&ids).await?;
        let mut out = Vec::new();
        for o in created {
            let Some(id) = &o.object_id else {
                out.push(undo(o, UndoResult::Nothing, true));
                continue;
            };
            let Some(s) = now.get(id) else {
                let clean = self.delete_redirects(o).await?;
                out.push(undo(o, UndoResult::Nothing, clean));
                continue;
            };
            if let Some(c) = conflict(o, Some(s)) {
                out.push(undo(o, c, false));
                continue;
            }
            let data: Value = self
                .query(
                    DELETE_MUTATION,
                    json!({"input": {"id": to_gid("Product", id)}}),
                    MUTATION_COST,
                )
                .await?;
            if let Some(reason) = user_errors(&data["productDelete"]) {
                out.push(undo(o, UndoResult::Failed { reason }, false));
                continue;
            }
            let clean = self.delete_redirects(o).await?;
            let gone = !self
                .read_back(std::slice::from_ref(id))
                .await?
                .contains_key(id);
            out.push(undo(o, UndoResult::Deleted, gone && clean));
        }
        Ok(out)
    }

    async fn restore(&self, migration: &str, changed: &[Outcome]) -> Result<Vec<Undo>> {
        let mut out = Vec::new();
        for o in changed {
            let (Some(id), Some(PriorState::Existed { snapshot })) = (&o.object_id, &o.prior)
            else {
                out.push(undo(o, UndoResult::Nothing, true));
                continue;
            };
            out.push(self.restore_one(migration, o, id, snapshot).await?);
        }
        Ok(out)
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

fn conflict(o: &Outcome, now: Option<&Snapshot>) -> Option<UndoResult> {
    let found = now.map(|s| s.versions.clone()).unwrap_or_default();
    (found != o.versions).then(|| UndoResult::Conflict {
        recorded: o.versions.clone(),
        found,
    })
}

/// Whether the prior product's fields and its still-present variants' are back.
fn restored(prior: &Value, now: &Value) -> bool {
    let fields = ["title", "descriptionHtml", "productType", "status"];
    fields
        .iter()
        .all(|f| same_text(&now[*f], prior[*f].as_str()))
        && variants(prior).iter().all(|pv| {
            variants(now)
                .iter()
                .find(|v| v["id"] == pv["id"])
                .is_none_or(|v| {
                    same_money(&v["price"], pv["price"].as_str())
                        && same_text(&v["sku"], pv["sku"].as_str())
                        && same_text(&v["barcode"], pv["barcode"].as_str())
                })
        })
        && variants(now)
            .iter()
            .all(|v| variants(prior).iter().any(|pv| pv["id"] == v["id"]))
}

impl ShopifyClient {
    async fn plans<'a>(&self, parents: &'a [Parent], journal: &Journal) -> Result<Vec<Plan<'a>>> {
        let targets: Vec<Option<String>> = parents
            .iter()
            .map(|p| {
                journal
                    .object_id(&p.source_id)
                    .map(str::to_owned)
                    .or_else(|| p.existing_id.clone())
            })
            .collect();
        let ids: Vec<String> = targets.iter().flatten().cloned().collect();
        let current = self.read_back(&ids).await?;
        let mut plans = Vec::with_capacity(parents.len());
        for (parent, target) in parents.iter().zip(&targets) {
            let entry = journal.entries.get(&parent.source_id);
            let mut known = target.as_ref().and_then(|t| current.get(t)).cloned();
            let mut ours = entry.is_some_and(|e| {
                e.action == Action::Created || matches!(e.prior, Some(PriorState::Absent))
            }) && known.is_some();
            if known.is_none()
                && let Some(found) = self.find(parent).await?
            {
                ours = entry.is_some_and(|e| e.sent && matches!(e.prior, Some(PriorState::Absent)));
                known = Some(found);
            }
            plans.push(self.plan(parent, entry, known, ours));
        }
        Ok(plans)
    }

    fn plan<'a>(
        &self,
        parent: &'a Parent,
        entry: Option<&Outcome>,
        current: Option<Snapshot>,
        ours: bool,
    ) -> Plan<'a> {
        let redirects = entry.map(|e| e.redirects.clone()).unwrap_or_default();
        let pending = parent
            .redirect_from
            .iter()
            .filter(|path| !redirects.values().any(|p| p == *path))
            .cloned()
            .collect();
        let prior = match &current {
            Some(s) if !ours => PriorState::Existed {
                snapshot: Box::new(s.clone()),
            },
            _ => PriorState::Absent,
        };
        let mut p = Plan {
            parent,
            want: None,
            prior: Some(prior),
            object_id: current.as_ref().map(|s| s.object_id.clone()),
            versions: current
                .as_ref()
                .map(|s| s.versions.clone())
                .unwrap_or_default(),
            handle: current
                .as_ref()
                .and_then(|s| s.body["handle"].as_str().map(str::to_owned)),
            current,
            known_ids: entry.map(|e| e.variation_ids.clone()),
            var_ids: BTreeMap::new(),
            action: if ours {
                Action::Created
            } else {
                Action::Unchanged
            },
            sent: false,
            redirects,
            pending,
        };
        match want(parent, self) {
            Ok(w) => {
                if let Some(s) = &p.current {
                    if more_variants(&s.body) {
                        p.fail(TOO_MANY);
                        return p;
                    }
                    p.var_ids = variant_ids(&w, &s.body, p.known_ids.as_ref());
                    // Edited at Shopify since this migration wrote it: not ours to overwrite.
                    let wrote = entry.filter(|e| {
                        e.sent
                            && !e.versions.is_empty()
                            && !matches!(e.action, Action::Failed { .. })
                    });
                    if let Some(e) = wrote
                        && e.versions.get(&s.object_id) != s.versions.get(&s.object_id)
                    {
                        p.fail("conflict: changed at Shopify since this migration wrote it");
                        return p;
                    }
                    if update_input(&w, s, &p.var_ids).is_some() && !ours {
                        p.action = Action::Updated;
                    }
                } else {
                    p.action = Action::Created;
                }
                p.want = Some(w);
            }
            Err(reason) => p.fail(&reason),
        }
        p
    }

    /// The shop's first location's global id, when some product has stock to write.
    async fn location_if_needed(&self, plans: &[Plan<'_>]) -> Result<Option<String>> {
        let stocked = plans.iter().any(|p| {
            p.want
                .as_ref()
                .is_some_and(|w| w.variants.iter().any(|v| v.stock.is_some()))
        });
        if !stocked {
            return Ok(None);
        }
        let data: LocationsData = self.query(LOCATIONS_QUERY, json!({}), 10).await?;
        Ok(data.locations.nodes.into_iter().next().map(|l| l.id))
    }

    /// The product holding the parent's first SKU.
    async fn find(&self, parent: &Parent) -> Result<Option<Snapshot>> {
        let Some(sku) = parent.variations.iter().find_map(|v| v.sku.clone()) else {
            return Ok(None);
        };
        let escaped = sku.replace('\\', "\\\\").replace('\'', "\\'");
        let data: Value = self
            .query(FIND_QUERY, json!({"query": format!("sku:'{escaped}'")}), 10)
            .await?;
        let Some(pid) = data["productVariants"]["nodes"][0]["product"]["id"].as_str() else {
            return Ok(None);
        };
        let id = legacy_id(pid).to_owned();
        Ok(self.read_back(std::slice::from_ref(&id)).await?.remove(&id))
    }

    /// Creates or updates one product, then its stock.
    async fn write_one(
        &self,
        migration: &str,
        p: &mut Plan<'_>,
        location: Option<&str>,
    ) -> Result<()> {
        if matches!(p.action, Action::Failed { .. }) {
            return Ok(());
        }
        let Some(w) = p.want.take() else {
            return Ok(());
        };
        let result = match p.current.clone() {
            None => self.create(p, &w, location).await,
            Some(s) => self.update(migration, p, &w, &s, location).await,
        };
        if let Some(s) = &p.current {
            let known = p.known_ids.clone().unwrap_or_else(|| p.var_ids.clone());
            p.var_ids = variant_ids(&w, &s.body, Some(&known));
        }
        p.want = Some(w);
        result
    }

    async fn create(&self, p: &mut Plan<'_>, w: &Want, location: Option<&str>) -> Result<()> {
        let input = create_input(w, location);
        for attempt in 0..2 {
            p.sent = true;
            let sent: Result<Value> = self
                .graphql(
                    &set_mutation(),
                    json!({"input": input}),
                    MUTATION_COST,
                    false,
                )
                .await;
            match sent {
                Ok(data) => return self.settle_set(p, &data),
                Err(ConnectorError::Exhausted { .. }) if attempt == 0 => {
                    // The answer was lost: did the create land?
                    if let Some(s) = self.find(p.parent).await? {
                        p.settle(&s);
                        return Ok(());
                    }
                    if p.parent.variations.iter().all(|v| v.sku.is_none()) {
                        p.fail(
                            "the create's answer was lost and the product has no SKU to find it by",
                        );
                        return Ok(());
                    }
                }
                Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                    p.fail(&vendor_reason);
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn settle_set(&self, p: &mut Plan<'_>, data: &Value) -> Result<()> {
        let payload = &data["productSet"];
        if let Some(reason) = user_errors(payload) {
            p.fail(&reason);
            return Ok(());
        }
        let s = snapshot_of(&payload["product"], "data.productSet.product")?;
        p.settle(&s);
        Ok(())
    }

    async fn update(
        &self,
        migration: &str,
        p: &mut Plan<'_>,
        w: &Want,
        current: &Snapshot,
        location: Option<&str>,
    ) -> Result<()> {
        let mut now = current.clone();
        if let Some(input) = update_input(w, current, &p.var_ids) {
            p.sent = true;
            match self
                .query::<Value>(&set_mutation(), json!({"input": input}), MUTATION_COST)
                .await
            {
                Ok(data) => {
                    self.settle_set(p, &data)?;
                    if matches!(p.action, Action::Failed { .. }) {
                        return Ok(());
                    }
                    if let Some(s) = &p.current {
                        now = s.clone();
                    }
                }
                Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                    p.fail(&vendor_reason);
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        } else {
            p.settle(current);
        }
        let Some(loc) = location else {
            return Ok(());
        };
        let loc_id = legacy_id(loc);
        let mut quantities = Vec::new();
        for v in &w.variants {
            let (Some(q), Some(vid)) = (v.stock, p.var_ids.get(&v.source)) else {
                continue;
            };
            let have = now.stock.get(vid).and_then(|l| l.get(loc_id)).copied();
            if have == Some(Decimal::from(q)) {
                continue;
            }
            let Some(item) = variants(&now.body)
                .iter()
                .find(|x| x["id"].as_str().map(legacy_id) == Some(vid.as_str()))
                .and_then(|x| x["inventoryItem"]["id"].as_str())
            else {
                continue;
            };
            let from = have.and_then(|d| i64::try_from(d).ok());
            quantities.push(json!({"inventoryItemId": item, "locationId": loc,
                                   "quantity": q, "changeFromQuantity": from}));
        }
        if quantities.is_empty() {
            return Ok(());
        }
        p.sent = true;
        if let Some(reason) = self.set_stock(migration, quantities).await? {
            let reason = if reason.contains("CHANGE_FROM_QUANTITY_STALE") {
                format!("conflict: stock changed at Shopify meanwhile: {reason}")
            } else {
                reason
            };
            p.fail(&reason);
            return Ok(());
        }
        if p.action == Action::Unchanged {
            p.action = Action::Updated;
        }
        Ok(())
    }

    /// `inventorySetQuantities`; `Some(reason)` for userErrors.
    async fn set_stock(&self, migration: &str, quantities: Vec<Value>) -> Result<Option<String>> {
        let input = json!({
            "name": "available", "reason": "correction",
            "referenceDocumentUri": format!("tillbridge://migration/{}", token_of(migration)),
            "quantities": quantities,
        });
        let key = idempotency_key(
            migration,
            "inventorySetQuantities",
            input.to_string().as_bytes(),
        );
        let data: Value = self
            .query(
                STOCK_MUTATION,
                json!({"input": input, "key": key}),
                MUTATION_COST,
            )
            .await?;
        Ok(user_errors(&data["inventorySetQuantities"]))
    }

    /// Redirects from the product's old paths to its page.
    async fn write_redirects(&self, p: &mut Plan<'_>) -> Result<()> {
        if p.pending.is_empty() || matches!(p.action, Action::Failed { .. }) {
            return Ok(());
        }
        let Some(handle) = p.handle.clone() else {
            return Ok(());
        };
        let target = format!("/products/{handle}");
        for path in std::mem::take(&mut p.pending) {
            p.sent = true;
            let data: Value = self
                .query(
                    REDIRECT_MUTATION,
                    json!({"urlRedirect": {"path": path, "target": target}}),
                    MUTATION_COST,
                )
                .await?;
            let payload = &data["urlRedirectCreate"];
            let made = match user_errors(payload) {
                None => payload["urlRedirect"]["id"].as_str().map(str::to_owned),
                Some(reason) => {
                    // Taken: ours if it points at this product (a lost answer's create).
                    let found: Value = self
                        .query(REDIRECT_FIND, json!({"query": format!("path:{path}")}), 10)
                        .await?;
                    let r = &found["urlRedirects"]["nodes"][0];
                    match (r["id"].as_str(), r["target"].as_str()) {
                        (Some(id), Some(t)) if t == target => Some(id.to_owned()),
                        _ => {
                            p.fail(&format!("redirect {path}: {reason}"));
                            continue;
                        }
                    }
                }
            };
            match made {
                Some(id) => {
                    p.redirects.insert(legacy_id(&id).to_owned(), path);
                    if p.action == Action::Unchanged {
                        p.action = Action::Updated;
                    }
                }
                None => p.fail(&format!("redirect {path}: not made")),
            }
        }
        Ok(())
    }

    /// Deletes the outcome's redirects; true when none of them is left.
    async fn delete_redirects(&self, o: &Outcome) -> Result<bool> {
        if o.redirects.is_empty() {
            return Ok(true);
        }
        let gids: Vec<String> = o
            .redirects
            .keys()
            .map(|id| to_gid("UrlRedirect", id))
            .collect();
        for gid in &gids {
            let _: Value = self
                .query(REDIRECT_DELETE, json!({"id": gid}), MUTATION_COST)
                .await?;
        }
        let left: Value = self.query(REDIRECT_READ, json!({"ids": gids}), 10).await?;
        Ok(left["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .all(Value::is_null))
    }

    async fn restore_one(
        &self,
        migration: &str,
        o: &Outcome,
        id: &str,
        prior: &Snapshot,
    ) -> Result<Undo> {
        let ids = [id.to_owned()];
        let now = self.read_back(&ids).await?;
        if let Some(c) = conflict(o, now.get(id)) {
            return Ok(undo(o, c, false));
        }
        let Some(current) = now.get(id) else {
            return Ok(undo(o, UndoResult::Nothing, true));
        };
        if more_variants(&current.body) {
            let reason = TOO_MANY.to_owned();
            return Ok(undo(o, UndoResult::Failed { reason }, false));
        }
        let mut did = !o.redirects.is_empty();
        let clean = self.delete_redirects(o).await?;
        if !restored(&prior.body, &current.body) {
            let mut input = Map::new();
            input.insert("id".into(), prior.body["id"].clone());
            for f in ["title", "descriptionHtml", "productType", "status"] {
                if !prior.body[f].is_null() {
                    input.insert(f.into(), prior.body[f].clone());
                }
            }
            let vars: Vec<Value> = variants(&prior.body)
                .iter()
                .filter(|pv| variants(&current.body).iter().any(|v| v["id"] == pv["id"]))
                .map(|pv| {
                    json!({"id": pv["id"], "optionValues": option_values(pv),
                           "price": pv["price"], "sku": pv["sku"], "barcode": pv["barcode"]})
                })
                .collect();
            input.insert("variants".into(), Value::Array(vars));
            let data: Value = self
                .query(&set_mutation(), json!({"input": input}), MUTATION_COST)
                .await?;
            if let Some(reason) = user_errors(&data["productSet"]) {
                return Ok(undo(o, UndoResult::Failed { reason }, false));
            }
            did = true;
        }
        // Stock back to the prior levels.
        let mut quantities = Vec::new();
        for (vid, levels) in &prior.stock {
            let Some(item) = variants(&current.body)
                .iter()
                .find(|v| v["id"].as_str().map(legacy_id) == Some(vid.as_str()))
                .and_then(|v| v["inventoryItem"]["id"].as_str())
            else {
                continue;
            };
            for (loc, q) in levels {
                let have = current.stock.get(vid).and_then(|l| l.get(loc)).copied();
                if have == Some(*q) {
                    continue;
                }
                let (Ok(q), from) = (i64::try_from(*q), have.and_then(|d| i64::try_from(d).ok()))
                else {
                    continue;
                };
                quantities.push(json!({"inventoryItemId": item,
                    "locationId": to_gid("Location", loc), "quantity": q, "changeFromQuantity": from}));
            }
        }
        if !quantities.is_empty() {
            if let Some(reason) = self.set_stock(migration, quantities).await? {
                return Ok(undo(o, UndoResult::Failed { reason }, false));
            }
            did = true;
        }
        let after = self.read_back(&ids).await?;
        let verified = clean
            && after.get(id).is_some_and(|s| {
                restored(&prior.body, &s.body)
                    && prior.stock.iter().all(|(vid, levels)| {
                        !s.versions.contains_key(vid)
                            || levels.iter().all(|(loc, q)| {
                                s.stock.get(vid).and_then(|l| l.get(loc)) == Some(q)
                            })
                    })
            });
        let result = if did {
            UndoResult::Restored
        } else {
            UndoResult::Nothing
        };
        Ok(undo(o, result, verified))
    }
}

/// A migration id as a URI-safe token.
fn token_of(migration: &str) -> String {
    migration
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
