//! BigCommerce as a [`Destination`]: Catalog API v3 products with their variants, categories
//! and storefront redirects.
//!
//! - Create: `POST /v3/catalog/products?include=variants`, one product a request, with its
//!   variants inline (`variants: [{sku, price, upc, inventory_level, option_values:
//!   [{option_display_name, label}]}]`; BigCommerce makes the options from the labels); a
//!   one-variation product without a variant name is a plain product (its base variant
//!   holds `sku`, `price`, `upc`, `inventory_level`). `type: physical` and `weight` are
//!   required (`weight: 0`). Answer `{"data": product, "meta": {}}`
//!   (<https://developer.bigcommerce.com/docs/rest-catalog/products#create-a-product>).
//! - Update: `PUT /v3/catalog/products?include=variants` with an array of at most 10
//!   products, each with its `id` and the variants to change by `id` (a partial update:
//!   fields left out stay as they are); a rejected batch (`409`/`422`) wrote nothing and its
//!   products are sent one by one
//!   (<https://developer.bigcommerce.com/docs/rest-catalog/products#update-products-batch>).
//! - Categories by name: `GET /v3/catalog/categories` (paged), missing ones created with
//!   `POST /v3/catalog/categories` (`{name, parent_id: 0}`); a product's `categories` is an
//!   array of ids.
//! - Stock: the variant's (or plain product's) `inventory_level` with `inventory_tracking`
//!   `variant` (or `product`): the one level of the store's default location, the sum of
//!   the item's `stock_by_location`, whole units.
//! - Prices: JSON numbers in major units of the store currency, written from exact decimal
//!   text ([`crate::destination::shape::number`]).
//! - SEO: each of [`Parent::redirect_from`] becomes a redirect to the product with `PUT
//!   /v3/storefront/redirects` (`[{site_id, from_path, to: {type: "product", entity_id}}]`,
//!   an upsert by `site_id` + `from_path`), the site being channel 1's (`GET
//!   /v3/channels/1/site`); the redirects' ids go in [`Outcome::redirects`]
//!   (<https://developer.bigcommerce.com/docs/rest-content/redirects>).
//!
//! Idempotency: BigCommerce takes no idempotency keys, but product names and SKUs are unique
//! in a store (a duplicate is `409`). A product the journal does not map is first looked up
//! by its first SKU (`GET /v3/catalog/variants?sku=`; without SKUs by `name`): found, it is
//! updated instead of created. A create whose answer was lost lands, and its retry answers
//! `409`: the product is then looked up again and, found now, is the one this request made.
//! A product found by SKU that an earlier run of this migration sent a create for
//! (journal: prior state absent, sent) is the migration's own: rollback deletes it.
//!
//! Limits: variants are not added to an existing product (its options would have to be
//! made first): such a product fails with that reason. BigCommerce has no optimistic
//! concurrency on updates: a change at the vendor between our read and our write is not
//! detected at write time (rollback still compares versions).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Map, Value, json};
use tillbridge_domain::{CatalogItem, Currency, Provider};

use super::BigCommerceClient;
use super::undo::{self, snapshot_of};
use crate::api::decode;
use crate::destination::shape::{holds, number, price_text, whole_stock};
use crate::destination::{
    Action, Destination, Journal, Outcome, Parent, PriorState, Snapshot, Undo, WriteReport,
    created_category, failed,
};
use crate::error::{ConnectorError, Result};
use crate::http::CallStats;

const V: Provider = Provider::BigCommerce;
/// Products per batch update (BigCommerce's maximum).
pub(crate) const BATCH: usize = 10;
/// Redirects per upsert request.
const REDIRECTS: usize = 50;
/// The option new variants' labels belong to (a canonical variation has one name).
const OPTION: &str = "Option";

/// One product's plan.
struct Plan<'a> {
    parent: &'a Parent,
    prior: Option<PriorState>,
    /// The create body (no `object_id` yet) or the update body (with `id`); `None`: the
    /// store holds it as we would write it.
    body: Option<Value>,
    object_id: Option<String>,
    var_ids: BTreeMap<String, String>,
    versions: BTreeMap<String, String>,
    action: Action,
    sent: bool,
    written: bool,
    /// Redirects made (by earlier runs too) and old paths still to redirect.
    redirects: BTreeMap<String, String>,
    pending: Vec<String>,
}

#[async_trait]
impl Destination for BigCommerceClient {
    fn provider(&self) -> Provider {
        V
    }

    fn stats(&self) -> CallStats {
        self.http.stats()
    }

    async fn upsert(
        &self,
        _migration: &str,
        parents: &[Parent],
        journal: &Journal,
    ) -> Result<WriteReport> {
        let (mut plans, created) = self.plans(parents, journal, true).await?;
        let mut report = WriteReport {
            categories: created,
            ..WriteReport::default()
        };
        let total = plans.len();
        let mut tried = total;
        for (k, chunk) in plans.chunks_mut(BATCH).enumerate() {
            if let Err(e) = self.write_chunk(chunk).await {
                for p in chunk.iter_mut().filter(|p| p.body.is_some() && !p.written) {
                    p.action = failed(&e.to_string());
                }
                report.stopped = Some(e);
                tried = ((k + 1) * BATCH).min(total);
                break;
            }
        }
        plans.truncate(tried);
        if report.stopped.is_none()
            && let Err(e) = self.write_redirects(&mut plans).await
        {
            report.stopped = Some(e);
        }
        report.outcomes = plans.into_iter().map(outcome).collect();
        Ok(report)
    }

    async fn delete_categories(&self, _migration: &str, created: &[Outcome]) -> Result<Vec<Undo>> {
        undo::delete_categories(self, created).await
    }

    async fn dry_run(
        &self,
        _migration: &str,
        parents: &[Parent],
        journal: &Journal,
    ) -> Result<Vec<Outcome>> {
        let (mut plans, _) = self.plans(parents, journal, false).await?;
        for p in &mut plans {
            if !p.pending.is_empty() && p.action == Action::Unchanged {
                p.action = Action::Updated;
            }
        }
        Ok(plans.into_iter().map(outcome).collect())
    }

    async fn read_back(&self, object_ids: &[String]) -> Result<BTreeMap<String, Snapshot>> {
        undo::read_back(self, object_ids).await
    }

    async fn delete(&self, _migration: &str, created: &[Outcome]) -> Result<Vec<Undo>> {
        undo::delete(self, created).await
    }

    async fn restore(&self, _migration: &str, changed: &[Outcome]) -> Result<Vec<Undo>> {
        undo::restore(self, changed).await
    }
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

/// What we would write for a product: its own fields and, for a product with options, each
/// variation's (source id, fields).
struct Want {
    product: Map<String, Value>,
    variants: Vec<(String, Map<String, Value>)>,
    /// One variation without a name: a plain product.
    plain: bool,
}

fn want(
    parent: &Parent,
    categories: &HashMap<String, Value>,
    store: Currency,
) -> Result<Want, String> {
    let first = parent
        .variations
        .first()
        .ok_or_else(|| "a product without variations".to_owned())?;
    let plain = parent.variations.len() == 1 && first.variant_name.is_none();
    let mut product = Map::new();
    if let Some(name) = &first.name {
        product.insert("name".into(), json!(name));
    }
    if let Some(d) = &first.description {
        product.insert("description".into(), json!(d));
    }
    if let Some(active) = first.is_active {
        product.insert("is_visible".into(), json!(active));
    }
    if let Some(id) = first.category.as_ref().and_then(|c| categories.get(c)) {
        product.insert("categories".into(), json!([id]));
    }
    let mut variants = Vec::new();
    let mut tracked = false;
    for var in &parent.variations {
        let fields = variant_fields(var, store)?;
        tracked |= fields.contains_key("inventory_level");
        if plain {
            product.extend(fields);
        } else {
            variants.push((var.external_id.clone(), fields));
        }
    }
    if tracked {
        let by = if plain { "product" } else { "variant" };
        product.insert("inventory_tracking".into(), json!(by));
    }
    Ok(Want {
        product,
        variants,
        plain,
    })
}

fn variant_fields(var: &CatalogItem, store: Currency) -> Result<Map<String, Value>, String> {
    let mut m = Map::new();
    if let Some(sku) = &var.sku {
        m.insert("sku".into(), json!(sku));
    }
    if let Some(b) = &var.barcode {
        m.insert("upc".into(), json!(b));
    }
    if let Some(text) = price_text(var, store)? {
        let n = number(&text).ok_or_else(|| format!("price {text} does not fit a JSON number"))?;
        m.insert("price".into(), Value::Number(n));
    }
    if let Some(level) = whole_stock(var)? {
        m.insert("inventory_level".into(), json!(level));
    }
    Ok(m)
}

/// A variation's option label: its name, else its SKU, else its source id.
fn label(var: &CatalogItem) -> String {
    var.variant_name
        .clone()
        .or_else(|| var.sku.clone())
        .unwrap_or_else(|| var.external_id.clone())
}

fn create_body(parent: &Parent, w: &Want) -> Value {
    let mut body = w.product.clone();
    body.insert("type".into(), json!("physical"));
    body.insert("weight".into(), json!(0));
    if !w.plain {
        let price = w.variants.iter().find_map(|(_, f)| f.get("price").cloned());
        if let Some(p) = price {
            body.insert("price".into(), p);
        }
        let variants: Vec<Value> = w
            .variants
            .iter()
            .zip(&parent.variations)
            .map(|((_, f), var)| {
                let mut v = f.clone();
                v.insert(
                    "option_values".into(),
                    json!([{"option_display_name": OPTION, "label": label(var)}]),
                );
                Value::Object(v)
            })
            .collect();
        body.insert("variants".into(), Value::Array(variants));
    }
    body.entry("price").or_insert(json!(0));
    Value::Object(body)
}

/// The vendor variant id of each variation in `product` (a product JSON with `variants`):
/// the journal's id, else by SKU, else by option label; a plain product's only variant.
fn variant_ids(
    parent: &Parent,
    product: &Value,
    known: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let variants = product["variants"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let id_of = |v: &Value| v["id"].as_u64().map(|n| n.to_string());
    let mut out = BTreeMap::new();
    for var in &parent.variations {
        let by_known = known
            .and_then(|k| k.get(&var.external_id))
            .filter(|id| variants.iter().any(|v| id_of(v).as_ref() == Some(*id)))
            .cloned();
        let by_sku = || {
            let sku = var.sku.as_deref()?;
            variants
                .iter()
                .find(|v| v["sku"].as_str() == Some(sku))
                .and_then(id_of)
        };
        let by_label = || {
            let l = label(var);
            variants
                .iter()
                .find(|v| v["option_values"][0]["label"].as_str() == Some(l.as_str()))
                .and_then(id_of)
        };
        let only = || {
            (parent.variations.len() == 1 && variants.len() == 1)
                .then(|| id_of(&variants[0]))
                .flatten()
        };
        if let Some(id) = by_known.or_else(by_sku).or_else(by_label).or_else(only) {
            out.insert(var.external_id.clone(), id);
        }
    }
    out
}

/// The update of an existing product (`current`) to what we want, with the variant ids it
/// names; `Err` when a variation has no variant to update.
fn update_body(
    parent: &Parent,
    current: &Snapshot,
    w: &Want,
    known: Option<&BTreeMap<String, String>>,
) -> Result<(Value, BTreeMap<String, String>), String> {
    let ids = variant_ids(parent, &current.body, known);
    let mut body = w.product.clone();
    body.insert("id".into(), current.body["id"].clone());
    if !w.plain {
        let mut variants = Vec::new();
        for (source, fields) in &w.variants {
            let id = ids.get(source).ok_or_else(|| {
                format!(
                    "variation {source}: adding variants to an existing BigCommerce product \
                     is not supported"
                )
            })?;
            let mut v = fields.clone();
            v.insert("id".into(), json!(id.parse::<u64>().unwrap_or_default()));
            variants.push(Value::Object(v));
        }
        body.insert("variants".into(), Value::Array(variants));
    }
    Ok((Value::Object(body), ids))
}

fn plan<'a>(
    parent: &'a Parent,
    entry: Option<&Outcome>,
    current: Option<&Snapshot>,
    ours: bool,
    categories: &HashMap<String, Value>,
    store: Currency,
) -> Plan<'a> {
    let redirects = entry.map(|e| e.redirects.clone()).unwrap_or_default();
    let pending = parent
        .redirect_from
        .iter()
        .filter(|path| !redirects.values().any(|p| p == *path))
        .cloned()
        .collect();
    let prior = match current {
        Some(s) if !ours => PriorState::Existed {
            snapshot: Box::new(s.clone()),
        },
        _ => PriorState::Absent,
    };
    let mut p = Plan {
        parent,
        prior: Some(prior),
        body: None,
        object_id: current.map(|s| s.object_id.clone()),
        var_ids: BTreeMap::new(),
        versions: current.map(|s| s.versions.clone()).unwrap_or_default(),
        action: if ours {
            Action::Created
        } else {
            Action::Unchanged
        },
        sent: false,
        written: false,
        redirects,
        pending,
    };
    let w = match want(parent, categories, store) {
        Ok(w) => w,
        Err(reason) => {
            p.action = failed(&reason);
            return p;
        }
    };
    let Some(s) = current else {
        p.body = Some(create_body(parent, &w));
        p.action = Action::Created;
        return p;
    };
    match update_body(parent, s, &w, entry.map(|e| &e.variation_ids)) {
        Ok((body, ids)) => {
            p.var_ids = ids;
            if !holds(&s.body, &body) {
                p.body = Some(body);
                if !ours {
                    p.action = Action::Updated;
                }
            }
        }
        Err(reason) => p.action = failed(&reason),
    }
    p
}

/// Takes the written product's id, versions and variant ids.
fn settle(p: &mut Plan<'_>, s: &Snapshot, known: Option<&BTreeMap<String, String>>) {
    p.object_id = Some(s.object_id.clone());
    p.versions.clone_from(&s.versions);
    p.var_ids = variant_ids(p.parent, &s.body, known.or(Some(&p.var_ids)));
    p.written = true;
}

impl BigCommerceClient {
    async fn plans<'a>(
        &self,
        parents: &'a [Parent],
        journal: &Journal,
        write_categories: bool,
    ) -> Result<(Vec<Plan<'a>>, Vec<Outcome>)> {
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
        let current = undo::read_back(self, &ids).await?;
        let (categories, created) = self.ensure_categories(parents, write_categories).await?;
        let mut plans = Vec::with_capacity(parents.len());
        for (p, target) in parents.iter().zip(&targets) {
            let entry = journal.entries.get(&p.source_id);
            let mut known = target.as_ref().and_then(|t| current.get(t)).cloned();
            let mut ours = false;
            if known.is_none()
                && let Some(found) = self.find(p).await?
            {
                ours = entry.is_some_and(|e| e.sent && matches!(e.prior, Some(PriorState::Absent)));
                known = Some(found);
            }
            plans.push(plan(
                p,
                entry,
                known.as_ref(),
                ours,
                &categories,
                self.currency,
            ));
        }
        Ok((plans, created))
    }

    /// The product holding the parent's first SKU (`GET /v3/catalog/variants?sku=`), or,
    /// without SKUs, the product with its name.
    async fn find(&self, parent: &Parent) -> Result<Option<Snapshot>> {
        let sku = parent.variations.iter().find_map(|v| v.sku.clone());
        let name = parent.variations.first().and_then(|v| v.name.clone());
        let product_id = match (sku, name) {
            (Some(sku), _) => {
                let bytes = self
                    .call(Method::GET, "v3/catalog/variants", &[("sku", sku)], None)
                    .await?;
                let answer: Value = decode(V, &bytes)?;
                answer["data"][0]["product_id"].as_u64()
            }
            (None, Some(name)) => {
                let bytes = self
                    .call(Method::GET, "v3/catalog/products", &[("name", name)], None)
                    .await?;
                let answer: Value = decode(V, &bytes)?;
                answer["data"][0]["id"].as_u64()
            }
            (None, None) => None,
        };
        let Some(id) = product_id.map(|n| n.to_string()) else {
            return Ok(None);
        };
        Ok(undo::read_back(self, std::slice::from_ref(&id))
            .await?
            .remove(&id))
    }

    /// Category name → id (a JSON number), creating the missing ones (or, when `create` is
    /// false, naming them `new:<name>`), and the journal entries of those created.
    async fn ensure_categories(
        &self,
        parents: &[Parent],
        create: bool,
    ) -> Result<(HashMap<String, Value>, Vec<Outcome>)> {
        let mut wanted: Vec<&str> = parents
            .iter()
            .filter_map(|p| p.variations.first()?.category.as_deref())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        if wanted.is_empty() {
            return Ok((HashMap::new(), Vec::new()));
        }
        let mut known = self.categories().await?;
        let mut created = Vec::new();
        for name in wanted {
            if known.contains_key(name) {
                continue;
            }
            if !create {
                known.insert(name.to_owned(), json!(format!("new:{name}")));
                continue;
            }
            let body = json!({"name": name, "parent_id": 0});
            match self
                .call(Method::POST, "v3/catalog/categories", &[], Some(&body))
                .await
            {
                Ok(bytes) => {
                    let answer: Value = decode(V, &bytes)?;
                    let id = answer["data"]["id"]
                        .as_u64()
                        .ok_or_else(|| ConnectorError::malformed(V, "data.id", "not an integer"))?;
                    known.insert(name.to_owned(), json!(id));
                    created.push(created_category(name, &id.to_string(), None));
                }
                // Made by our own earlier request whose answer was lost.
                Err(ConnectorError::Rejected { status: 409, .. }) => {
                    known = self.categories().await?;
                    if let Some(id) = known.get(name).and_then(Value::as_u64) {
                        created.push(created_category(name, &id.to_string(), None));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok((known, created))
    }

    /// Every category, name → id.
    async fn categories(&self) -> Result<HashMap<String, Value>> {
        let mut out = HashMap::new();
        let mut page = 1u32;
        loop {
            let query = [("limit", "250".to_owned()), ("page", page.to_string())];
            let bytes = self
                .call(Method::GET, "v3/catalog/categories", &query, None)
                .await?;
            let answer: Value = decode(V, &bytes)?;
            for c in answer["data"].as_array().into_iter().flatten() {
                if let (Some(name), Some(id)) = (c["name"].as_str(), c["id"].as_u64()) {
                    out.entry(name.to_owned()).or_insert(json!(id));
                }
            }
            let pages = &answer["meta"]["pagination"];
            match (
                pages["current_page"].as_u64(),
                pages["total_pages"].as_u64(),
            ) {
                (Some(c), Some(t)) if c < t => page += 1,
                _ => return Ok(out),
            }
        }
    }

    /// Creates, then updates (one batch), the products of one chunk. Per-product rejections
    /// become [`Action::Failed`]; other errors stop the run.
    async fn write_chunk(&self, chunk: &mut [Plan<'_>]) -> Result<()> {
        for p in chunk.iter_mut() {
            if p.body.is_some() && p.object_id.is_none() {
                self.create(p).await?;
            }
        }
        let updates: Vec<usize> = (0..chunk.len())
            .filter(|i| {
                let p = &chunk[*i];
                p.body.is_some() && p.object_id.is_some() && !p.written && !p.sent
            })
            .collect();
        if updates.is_empty() {
            return Ok(());
        }
        let bodies: Vec<Value> = updates
            .iter()
            .filter_map(|i| chunk[*i].body.clone())
            .collect();
        for i in &updates {
            chunk[*i].sent = true;
        }
        match self.put_products(&bodies).await {
            Ok(written) => settle_all(chunk, &updates, &written),
            Err(ConnectorError::Rejected { .. }) if updates.len() > 1 => {
                for (i, body) in updates.iter().zip(bodies) {
                    match self.put_products(&[body]).await {
                        Ok(written) => settle_all(chunk, &[*i], &written)?,
                        Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                            chunk[*i].action = failed(&vendor_reason);
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
            Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                for i in &updates {
                    chunk[*i].action = failed(&vendor_reason);
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// One create; a `409` after a lost answer finds the product the request made.
    async fn create(&self, p: &mut Plan<'_>) -> Result<()> {
        let Some(body) = p.body.clone() else {
            return Ok(());
        };
        p.sent = true;
        let include = [("include", "variants".to_owned())];
        match self
            .call(Method::POST, "v3/catalog/products", &include, Some(&body))
            .await
        {
            Ok(bytes) => {
                let answer: Value = decode(V, &bytes)?;
                let s = snapshot_of(&answer["data"], "data")?;
                settle(p, &s, None);
            }
            Err(ConnectorError::Rejected {
                status: 409,
                vendor_reason,
                ..
            }) => match self.find(p.parent).await? {
                Some(s) => settle(p, &s, None),
                None => p.action = failed(&vendor_reason),
            },
            Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                p.action = failed(&vendor_reason);
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// One batch update (at most [`BATCH`] products); the written products.
    pub(crate) async fn put_products(&self, bodies: &[Value]) -> Result<Vec<Snapshot>> {
        let include = [("include", "variants".to_owned())];
        let body = Value::Array(bodies.to_vec());
        let bytes = self
            .call(Method::PUT, "v3/catalog/products", &include, Some(&body))
            .await?;
        let answer: Value = decode(V, &bytes)?;
        let data = answer["data"]
            .as_array()
            .ok_or_else(|| ConnectorError::malformed(V, "data", "not an array"))?;
        data.iter()
            .enumerate()
            .map(|(j, p)| snapshot_of(p, &format!("data[{j}]")))
            .collect()
    }

    /// Redirects from each product's old paths, after its write.
    async fn write_redirects(&self, plans: &mut [Plan<'_>]) -> Result<()> {
        let wanted: Vec<(usize, String, u64)> = plans
            .iter()
            .enumerate()
            .filter(|(_, p)| !matches!(p.action, Action::Failed { .. }))
            .filter_map(|(i, p)| {
                let id = p.object_id.as_ref()?.parse::<u64>().ok()?;
                Some(p.pending.iter().map(move |path| (i, path.clone(), id)))
            })
            .flatten()
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let site = self.site_id().await?;
        for batch in wanted.chunks(REDIRECTS) {
            let body: Vec<Value> = batch
                .iter()
                .map(|(_, path, id)| {
                    json!({"site_id": site, "from_path": path,
                           "to": {"type": "product", "entity_id": id}})
                })
                .collect();
            for (i, _, _) in batch {
                plans[*i].sent = true;
            }
            match self
                .call(
                    Method::PUT,
                    "v3/storefront/redirects",
                    &[],
                    Some(&json!(body)),
                )
                .await
            {
                Ok(bytes) => {
                    let answer: Value = decode(V, &bytes)?;
                    let made: HashMap<&str, String> = answer["data"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| Some((r["from_path"].as_str()?, id_text(&r["id"])?)))
                        .collect();
                    for (i, path, _) in batch {
                        let p = &mut plans[*i];
                        match made.get(path.as_str()) {
                            Some(id) => {
                                p.redirects.insert(id.clone(), path.clone());
                                if p.action == Action::Unchanged {
                                    p.action = Action::Updated;
                                }
                            }
                            None => p.action = failed(&format!("redirect {path}: not made")),
                        }
                    }
                }
                Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                    for (i, path, _) in batch {
                        plans[*i].action = failed(&format!("redirect {path}: {vendor_reason}"));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The site of channel 1 (the store's storefront).
    async fn site_id(&self) -> Result<u64> {
        let bytes = self
            .call(Method::GET, "v3/channels/1/site", &[], None)
            .await?;
        let answer: Value = decode(V, &bytes)?;
        answer["data"]["id"]
            .as_u64()
            .ok_or_else(|| ConnectorError::malformed(V, "data.id", "not an integer"))
    }
}

/// A redirect id (BigCommerce sends numbers; text is kept as is).
pub(crate) fn id_text(v: &Value) -> Option<String> {
    v.as_u64()
        .map(|n| n.to_string())
        .or_else(|| v.as_str().map(str::to_owned))
}

fn settle_all(chunk: &mut [Plan<'_>], idxs: &[usize], written: &[Snapshot]) -> Result<()> {
    for i in idxs {
        let p = &mut chunk[*i];
        match written
            .iter()
            .find(|s| Some(&s.object_id) == p.object_id.as_ref())
        {
            Some(s) => {
                let known = p.var_ids.clone();
                settle(p, s, Some(&known));
            }
            None => {
                let id = p.object_id.clone().unwrap_or_default();
                return Err(ConnectorError::malformed(
                    V,
                    "data",
                    format!("the written product {id} is missing"),
                ));
            }
        }
    }
    Ok(())
}
