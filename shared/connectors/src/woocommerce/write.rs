//! WooCommerce as a [`Destination`]: REST API v3 product and variation batches, categories
//! by id.
//!
//! - Products: `POST /wp-json/wc/v3/products/batch` with `create` and `update` (at most 100
//!   objects a request); the answer lists each object or, for one that failed, `{"id": 0,
//!   "error": {"code", "message", "data"}}`: a partial failure fails only those products
//!   (<https://woocommerce.github.io/woocommerce-rest-api-docs/#batch-update-products>).
//!   A one-variation product without a variant name is `simple`; the others are `variable`
//!   with one attribute `Option` (`variation: true`) whose options are the variant names.
//! - Variations: `POST /products/{id}/variations/batch` (`create`, `update`, `delete`), each
//!   with `attributes: [{name, option}]`
//!   (<https://woocommerce.github.io/woocommerce-rest-api-docs/#batch-update-product-variations>).
//! - Prices: `regular_price`, decimal text in the store currency ("19.99"), exact.
//! - Stock: `manage_stock: true` and `stock_quantity` (whole units; the sum of the item's
//!   `stock_by_location`: a store has one stock level). Barcodes: `global_unique_id`
//!   (WooCommerce 9.2+). `status`: `publish`, or `draft` for an inactive item.
//! - Categories by id (`categories: [{id}]`): `GET /products/categories` (paged), missing
//!   ones created with `POST /products/categories/batch` (reported in
//!   [`WriteReport::categories`]; rollback deletes them with the same batch's `delete`);
//!   `term_exists` names the existing
//!   one in `data.resource_id`.
//!
//! Idempotency: WooCommerce takes no idempotency keys but refuses a duplicate SKU
//! (`product_invalid_sku`). A product the journal does not map is looked up first by its
//! SKU (`GET /products?sku=`); a variable product carries the SKU `tb-` + 16 hex digits of
//! its source id for that. A create whose answer was lost lands and its retry answers
//! `product_invalid_sku`: the product (or variation, `GET /products/{id}/variations?sku=`)
//! is looked up and, found now, is the one the request made. Versions are
//! `date_modified_gmt`; WooCommerce has no optimistic concurrency on updates (rollback still
//! compares versions).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Map, Value, json};
use tillbridge_domain::{CatalogItem, Currency, Provider};

use super::WooCommerceClient;
use super::undo::{self, PER, PRODUCTS, batch, object_error};
use crate::api::decode;
use crate::destination::shape::{holds, price_text, whole_stock};
use crate::destination::{
    Action, Destination, Journal, Outcome, Parent, PriorState, Snapshot, Undo, WriteReport,
    created_category, failed, token,
};
use crate::error::{ConnectorError, Result};
use crate::http::CallStats;

const V: Provider = Provider::WooCommerce;
/// The attribute variations are told apart by.
const OPTION: &str = "Option";
/// The error code of a duplicate SKU.
const DUPLICATE_SKU: &str = "product_invalid_sku";

/// One product's plan.
struct Plan<'a> {
    parent: &'a Parent,
    prior: Option<PriorState>,
    /// Create (no `object_id`) or update (with `id`) body of the product.
    product: Option<Value>,
    object_id: Option<String>,
    var_ids: BTreeMap<String, String>,
    var_create: Vec<(String, Value)>,
    var_update: Vec<Value>,
    versions: BTreeMap<String, String>,
    action: Action,
    sent: bool,
    /// The SKU the product is looked up by.
    sku: Option<String>,
}

impl Plan<'_> {
    fn failed(&self) -> bool {
        matches!(self.action, Action::Failed { .. })
    }

    fn fail(&mut self, reason: &str) {
        self.action = failed(reason);
    }
}

#[async_trait]
impl Destination for WooCommerceClient {
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
        for (k, chunk) in plans.chunks_mut(PER).enumerate() {
            let mut result = self.write_products(chunk).await;
            if result.is_ok() {
                result = self.write_variations(chunk).await;
            }
            if let Err(e) = result {
                for p in chunk.iter_mut().filter(|p| p.sent && !p.failed()) {
                    p.fail(&e.to_string());
                }
                report.stopped = Some(e);
                tried = ((k + 1) * PER).min(total);
                break;
            }
        }
        plans.truncate(tried);
        if let Err(e) = self.settle_versions(&mut plans).await {
            report.stopped.get_or_insert(e);
        }
        report.outcomes = plans.into_iter().map(outcome).collect();
        Ok(report)
    }

    async fn dry_run(
        &self,
        _migration: &str,
        parents: &[Parent],
        journal: &Journal,
    ) -> Result<Vec<Outcome>> {
        let (plans, _) = self.plans(parents, journal, false).await?;
        Ok(plans.into_iter().map(outcome).collect())
    }

    async fn read_back(&self, object_ids: &[String]) -> Result<BTreeMap<String, Snapshot>> {
        undo::read_back(self, object_ids).await
    }

    async fn delete(&self, _migration: &str, created: &[Outcome]) -> Result<Vec<Undo>> {
        undo::delete(self, created).await
    }

    async fn delete_categories(&self, _migration: &str, created: &[Outcome]) -> Result<Vec<Undo>> {
        undo::delete_categories(self, created).await
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
        redirects: BTreeMap::new(),
    }
}

/// What we would write: the product's fields and, for a variable product, each
/// variation's (source id, fields).
struct Want {
    product: Map<String, Value>,
    variations: Vec<(String, Map<String, Value>)>,
    variable: bool,
}

fn label(var: &CatalogItem) -> String {
    var.variant_name
        .clone()
        .or_else(|| var.sku.clone())
        .unwrap_or_else(|| var.external_id.clone())
}

fn item_fields(var: &CatalogItem, store: Currency) -> Result<Map<String, Value>, String> {
    let mut m = Map::new();
    if let Some(sku) = &var.sku {
        m.insert("sku".into(), json!(sku));
    }
    if let Some(price) = price_text(var, store)? {
        m.insert("regular_price".into(), json!(price));
    }
    if let Some(q) = whole_stock(var)? {
        m.insert("manage_stock".into(), json!(true));
        m.insert("stock_quantity".into(), json!(q));
    }
    if let Some(b) = &var.barcode {
        m.insert("global_unique_id".into(), json!(b));
    }
    Ok(m)
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
    let variable = !(parent.variations.len() == 1 && first.variant_name.is_none());
    let mut product = Map::new();
    if let Some(name) = &first.name {
        product.insert("name".into(), json!(name));
    }
    product.insert(
        "type".into(),
        json!(if variable { "variable" } else { "simple" }),
    );
    if let Some(d) = &first.description {
        product.insert("description".into(), json!(d));
    }
    if let Some(active) = first.is_active {
        product.insert(
            "status".into(),
            json!(if active { "publish" } else { "draft" }),
        );
    }
    if let Some(id) = first.category.as_ref().and_then(|c| categories.get(c)) {
        product.insert("categories".into(), json!([{ "id": id }]));
    }
    let mut variations = Vec::new();
    if variable {
        product.insert(
            "sku".into(),
            json!(format!("tb-{}", token(&[&parent.source_id]))),
        );
        let options: Vec<String> = parent.variations.iter().map(label).collect();
        product.insert(
            "attributes".into(),
            json!([{"name": OPTION, "options": options, "variation": true, "visible": true}]),
        );
        for var in &parent.variations {
            let mut fields = item_fields(var, store)?;
            fields.insert(
                "attributes".into(),
                json!([{"name": OPTION, "option": label(var)}]),
            );
            variations.push((var.external_id.clone(), fields));
        }
    } else {
        product.extend(item_fields(first, store)?);
    }
    Ok(Want {
        product,
        variations,
        variable,
    })
}

/// The variation of `var` among `current` (the journal's id, else by SKU, else by option).
fn matching<'v>(
    var: &CatalogItem,
    current: &'v [Value],
    known: Option<&BTreeMap<String, String>>,
) -> Option<&'v Value> {
    let id = |v: &Value| v["id"].as_u64().map(|n| n.to_string());
    let by_known = known
        .and_then(|k| k.get(&var.external_id))
        .and_then(|k| current.iter().find(|v| id(v).as_ref() == Some(k)));
    by_known
        .or_else(|| {
            let sku = var.sku.as_deref()?;
            current.iter().find(|v| v["sku"].as_str() == Some(sku))
        })
        .or_else(|| {
            let l = label(var);
            current
                .iter()
                .find(|v| v["attributes"][0]["option"].as_str() == Some(l.as_str()))
        })
}

fn plan<'a>(
    parent: &'a Parent,
    entry: Option<&Outcome>,
    current: Option<&Snapshot>,
    ours: bool,
    categories: &HashMap<String, Value>,
    store: Currency,
) -> Plan<'a> {
    let prior = match current {
        Some(s) if !ours => PriorState::Existed {
            snapshot: Box::new(s.clone()),
        },
        _ => PriorState::Absent,
    };
    let mut p = Plan {
        parent,
        prior: Some(prior),
        product: None,
        object_id: current.map(|s| s.object_id.clone()),
        var_ids: BTreeMap::new(),
        var_create: Vec::new(),
        var_update: Vec::new(),
        versions: current.map(|s| s.versions.clone()).unwrap_or_default(),
        action: Action::Unchanged,
        sent: false,
        sku: None,
    };
    let w = match want(parent, categories, store) {
        Ok(w) => w,
        Err(reason) => {
            p.fail(&reason);
            return p;
        }
    };
    p.sku = w
        .product
        .get("sku")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(s) = current else {
        p.product = Some(Value::Object(w.product));
        p.var_create = w
            .variations
            .into_iter()
            .map(|(k, v)| (k, Value::Object(v)))
            .collect();
        p.action = Action::Created;
        return p;
    };
    let mut body = w.product;
    body.insert("id".into(), s.body["product"]["id"].clone());
    let body = Value::Object(body);
    if !holds(&s.body["product"], &body) {
        p.product = Some(body);
    }
    if w.variable {
        let have = s.body["variations"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        let known = entry.map(|e| &e.variation_ids);
        for (var, (source, fields)) in parent.variations.iter().zip(w.variations) {
            match matching(var, have, known) {
                Some(v) => {
                    p.var_ids
                        .insert(source, v["id"].as_u64().unwrap_or_default().to_string());
                    let mut fields = fields;
                    fields.insert("id".into(), v["id"].clone());
                    let fields = Value::Object(fields);
                    if !holds(v, &fields) {
                        p.var_update.push(fields);
                    }
                }
                None => p.var_create.push((source, Value::Object(fields))),
            }
        }
    } else {
        p.var_ids.insert(first_id(parent), s.object_id.clone());
    }
    let changed = p.product.is_some() || !p.var_create.is_empty() || !p.var_update.is_empty();
    p.action = match (ours, changed) {
        (true, _) => Action::Created,
        (false, true) => Action::Updated,
        (false, false) => Action::Unchanged,
    };
    p
}

fn first_id(parent: &Parent) -> String {
    parent
        .variations
        .first()
        .map(|v| v.external_id.clone())
        .unwrap_or_default()
}

fn id_text(v: &Value) -> Option<String> {
    v["id"].as_u64().filter(|n| *n > 0).map(|n| n.to_string())
}

impl WooCommerceClient {
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
            if known.is_none() {
                let probe = plan(p, entry, None, false, &categories, self.currency);
                if let Some(found) = self.find(probe.sku.as_deref()).await? {
                    ours = entry
                        .is_some_and(|e| e.sent && matches!(e.prior, Some(PriorState::Absent)));
                    known = Some(found);
                }
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

    /// The product with this SKU (`GET /products?sku=`).
    async fn find(&self, sku: Option<&str>) -> Result<Option<Snapshot>> {
        let Some(sku) = sku else {
            return Ok(None);
        };
        let response = self
            .call(Method::GET, PRODUCTS, &[("sku", sku.to_owned())], None)
            .await?;
        let found: Vec<Value> = decode(V, &response.body)?;
        let Some(id) = found.first().and_then(id_text) else {
            return Ok(None);
        };
        Ok(undo::read_back(self, std::slice::from_ref(&id))
            .await?
            .remove(&id))
    }

    /// Category name → id, creating the missing ones (or naming them `new:<name>`), and the
    /// journal entries of those created (not those `term_exists` names: they existed).
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
        let missing: Vec<&str> = wanted
            .into_iter()
            .filter(|n| !known.contains_key(*n))
            .collect();
        if !create {
            for n in missing {
                known.insert(n.to_owned(), json!(format!("new:{n}")));
            }
            return Ok((known, Vec::new()));
        }
        let mut created = Vec::new();
        for chunk in missing.chunks(PER) {
            let create: Vec<Value> = chunk.iter().map(|n| json!({ "name": n })).collect();
            let path = format!("{PRODUCTS}/categories/batch");
            let answer = batch(self, &path, &json!({ "create": create })).await?;
            let made = answer["create"].as_array().map_or(&[][..], Vec::as_slice);
            for (name, a) in chunk.iter().zip(made) {
                let ours = id_text(a);
                if let Some(id) = &ours {
                    created.push(created_category(name, id, None));
                }
                let id = ours.or_else(|| {
                    let existing = &a["error"]["data"]["resource_id"];
                    existing.as_u64().map(|n| n.to_string())
                });
                if let Some(id) = id.and_then(|i| i.parse::<u64>().ok()) {
                    known.insert((*name).to_owned(), json!(id));
                }
            }
        }
        Ok((known, created))
    }

    /// Every category, name → id.
    async fn categories(&self) -> Result<HashMap<String, Value>> {
        let mut out = HashMap::new();
        let mut page = 1u32;
        loop {
            let query = [("per_page", PER.to_string()), ("page", page.to_string())];
            let path = format!("{PRODUCTS}/categories");
            let response = self.call(Method::GET, &path, &query, None).await?;
            let list: Vec<Value> = decode(V, &response.body)?;
            for c in &list {
                if let (Some(name), Some(id)) = (c["name"].as_str(), c["id"].as_u64()) {
                    out.entry(name.to_owned()).or_insert(json!(id));
                }
            }
            if page >= super::total_pages(&response) {
                return Ok(out);
            }
            page += 1;
        }
    }

    /// One products batch for the chunk's creates and updates.
    async fn write_products(&self, chunk: &mut [Plan<'_>]) -> Result<()> {
        let todo = |p: &Plan<'_>, new: bool| {
            p.product.is_some() && !p.failed() && p.object_id.is_none() == new
        };
        let creates: Vec<usize> = (0..chunk.len())
            .filter(|i| todo(&chunk[*i], true))
            .collect();
        let updates: Vec<usize> = (0..chunk.len())
            .filter(|i| todo(&chunk[*i], false))
            .collect();
        if creates.is_empty() && updates.is_empty() {
            return Ok(());
        }
        let bodies = |idx: &[usize]| -> Vec<Value> {
            idx.iter()
                .filter_map(|i| chunk[*i].product.clone())
                .collect()
        };
        let body = json!({"create": bodies(&creates), "update": bodies(&updates)});
        for i in creates.iter().chain(&updates) {
            chunk[*i].sent = true;
        }
        let answer = match batch(self, &format!("{PRODUCTS}/batch"), &body).await {
            Ok(a) => a,
            Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                for i in creates.iter().chain(&updates) {
                    chunk[*i].fail(&vendor_reason);
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        for (k, i) in creates.iter().enumerate() {
            let a = &answer["create"][k];
            let p = &mut chunk[*i];
            match object_error(a) {
                None => match id_text(a) {
                    Some(id) => self.created(p, id),
                    None => p.fail("missing from the batch answer"),
                },
                // Our own create whose answer was lost landed first.
                Some((code, message)) if code == DUPLICATE_SKU => {
                    match self.find(p.sku.as_deref()).await? {
                        Some(s) => self.created(p, s.object_id),
                        None => p.fail(&format!("{code}: {message}")),
                    }
                }
                Some((code, message)) => p.fail(&format!("{code}: {message}")),
            }
        }
        for (k, i) in updates.iter().enumerate() {
            if let Some((code, message)) = object_error(&answer["update"][k]) {
                chunk[*i].fail(&format!("{code}: {message}"));
            }
        }
        Ok(())
    }

    fn created(&self, p: &mut Plan<'_>, id: String) {
        if p.var_create.is_empty() {
            p.var_ids.insert(first_id(p.parent), id.clone());
        }
        p.object_id = Some(id);
    }

    /// One variations batch per variable product of the chunk that needs one.
    async fn write_variations(&self, chunk: &mut [Plan<'_>]) -> Result<()> {
        for p in chunk.iter_mut() {
            let Some(id) = p.object_id.clone() else {
                continue;
            };
            if p.failed() || (p.var_create.is_empty() && p.var_update.is_empty()) {
                continue;
            }
            p.sent = true;
            let create: Vec<Value> = p.var_create.iter().map(|(_, v)| v.clone()).collect();
            let body = json!({"create": create, "update": p.var_update});
            let path = format!("{PRODUCTS}/{id}/variations/batch");
            let answer = match batch(self, &path, &body).await {
                Ok(a) => a,
                Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                    p.fail(&vendor_reason);
                    continue;
                }
                Err(e) => return Err(e),
            };
            for a in ["create", "update"]
                .iter()
                .flat_map(|k| answer[*k].as_array().into_iter().flatten())
            {
                if let (Some(vid), Some(date)) = (id_text(a), a["date_modified_gmt"].as_str()) {
                    p.versions.insert(vid, date.to_owned());
                }
            }
            let creates = std::mem::take(&mut p.var_create);
            for (k, (source, sent)) in creates.iter().enumerate() {
                let a = &answer["create"][k];
                let made = match object_error(a) {
                    None => id_text(a),
                    Some((code, _)) if code == DUPLICATE_SKU => {
                        let sku = sent["sku"].as_str().unwrap_or_default().to_owned();
                        let found = undo::variations(self, &id, &[("sku", sku)]).await?;
                        let first = found.first();
                        if let Some((vid, date)) = first.and_then(|v| {
                            Some((id_text(v)?, v["date_modified_gmt"].as_str()?.to_owned()))
                        }) {
                            p.versions.insert(vid, date);
                        }
                        first.and_then(id_text)
                    }
                    Some((code, message)) => {
                        p.fail(&format!("variation {source}: {code}: {message}"));
                        None
                    }
                };
                if let Some(vid) = made {
                    p.var_ids.insert(source.clone(), vid);
                }
            }
            for (k, _) in p.var_update.clone().iter().enumerate() {
                if let Some((code, message)) = object_error(&answer["update"][k]) {
                    p.fail(&format!("variation: {code}: {message}"));
                }
            }
        }
        Ok(())
    }

    /// The products' versions after the writes: variations' from the batch answers, the
    /// products' read back (a variation write moves its product's too).
    async fn settle_versions(&self, plans: &mut [Plan<'_>]) -> Result<()> {
        let ids: Vec<String> = plans
            .iter()
            .filter(|p| p.sent)
            .filter_map(|p| p.object_id.clone())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let now = undo::product_dates(self, &ids).await?;
        for p in plans.iter_mut() {
            if let Some((id, date)) = p.object_id.as_ref().and_then(|id| now.get_key_value(id)) {
                p.versions.insert(id.clone(), date.clone());
            }
        }
        Ok(())
    }
}
