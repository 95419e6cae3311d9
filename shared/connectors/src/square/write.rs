//! Square as a [`Destination`]: catalog writes with temporary ids, optimistic versions and
//! idempotency keys; stock as physical counts.
//!
//! - `POST /v2/catalog/batch-upsert` with `idempotency_key` and `batches: [{objects}]`
//!   (<https://developer.squareup.com/reference/square/catalog-api/batch-upsert-catalog-objects>).
//!   New objects get ids starting with `#` (a variation's `item_id` may name its ITEM's `#id`);
//!   the answer's `id_mappings` `[{client_object_id, object_id}]` give the real ids. "The
//!   objects within a batch will be inserted in an all-or-nothing fashion", so each request
//!   carries ONE batch: a rejected request wrote nothing and its products are retried one by
//!   one. An update must carry the current `version` of the ITEM and of each variation, or
//!   Square answers `VERSION_MISMATCH`
//!   (<https://developer.squareup.com/docs/working-with-apis/optimistic-concurrency>). An
//!   upsert replaces the whole object, so updates start from the object as read and change
//!   only our fields, keeping every variation.
//! - `POST /v2/inventory/changes/batch-create` with `idempotency_key`, at most 100 `changes`
//!   of `type: PHYSICAL_COUNT` (`catalog_object_id`, `location_id`, `state: IN_STOCK`,
//!   `quantity` as text, `occurred_at`)
//!   (<https://developer.squareup.com/reference/square/inventory-api/batch-change-inventory>).
//! - `GET /v2/catalog/list?types=CATEGORY` to find categories by name; missing ones are
//!   created in a request of their own before the products that refer to them, and
//!   reported in [`WriteReport::categories`] so a rollback deletes them.
//! - `GET /v2/locations`: a quantity without a location (`quantity_on_hand`, no
//!   `stock_by_location`) is counted at the first ACTIVE location, the main one.
//!
//! Idempotency: "If you're unsure whether a particular request was successful, you can
//! reattempt it with the same idempotency key without worrying about creating duplicate
//! objects" (<https://developer.squareup.com/docs/build-basics/common-api-patterns/idempotency>).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tillbridge_domain::Provider;

use super::SquareClient;
use super::undo;
use crate::destination::{
    Action, Destination, Journal, Outcome, Parent, PriorState, Snapshot, Undo, WriteReport,
    created_category, idempotency_key, token,
};
use crate::error::{ConnectorError, Result};
use crate::http::CallStats;

const V: Provider = Provider::Square;
/// Products per batch-upsert request (Square allows 10,000 objects per request).
const CHUNK: usize = 50;
/// Changes per inventory batch-create (Square's maximum).
const STOCK_CHUNK: usize = 100;

/// One product's plan.
struct Plan<'a> {
    parent: &'a Parent,
    prior: Option<PriorState>,
    /// The ITEM to upsert; `None`: the catalog already holds it as we would write it.
    body: Option<Value>,
    /// The product's vendor id, or its temporary id before the write.
    object_id: Option<String>,
    /// Source variation id → vendor or temporary id.
    var_ids: BTreeMap<String, String>,
    versions: BTreeMap<String, String>,
    action: Action,
    /// A write for it was sent.
    sent: bool,
    /// Its catalog write was answered.
    written: bool,
}

#[async_trait]
impl Destination for SquareClient {
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
        let (mut plans, current, created) = self.plans(migration, parents, journal, true).await?;
        let mut report = WriteReport {
            categories: created,
            ..WriteReport::default()
        };
        let mut tried = plans.len();
        for (k, chunk) in plans.chunks_mut(CHUNK).enumerate() {
            if let Err(e) = self.write_chunk(migration, chunk).await {
                // Products of a one-by-one retry answered before the failure stay written.
                for p in chunk.iter_mut().filter(|p| p.body.is_some() && !p.written) {
                    p.action = failed(&e.to_string());
                }
                report.stopped = Some(e);
                tried = (k + 1) * CHUNK;
                break;
            }
        }
        plans.truncate(tried);
        if report.stopped.is_none()
            && let Err(e) = self.write_stock(migration, &mut plans, &current).await
        {
            report.stopped = Some(e);
        }
        report.outcomes = plans.into_iter().map(outcome).collect();
        Ok(report)
    }

    async fn dry_run(
        &self,
        migration: &str,
        parents: &[Parent],
        journal: &Journal,
    ) -> Result<Vec<Outcome>> {
        let (mut plans, current, _) = self.plans(migration, parents, journal, false).await?;
        let main = self.main_location_for(&plans).await?;
        for (i, _) in stock_changes(&mut plans, &current, main.as_deref()) {
            if plans[i].action == Action::Unchanged {
                plans[i].action = Action::Updated;
            }
        }
        Ok(plans.into_iter().map(outcome).collect())
    }

    async fn read_back(&self, object_ids: &[String]) -> Result<BTreeMap<String, Snapshot>> {
        undo::read_back(self, object_ids).await
    }

    async fn delete(&self, migration: &str, created: &[Outcome]) -> Result<Vec<Undo>> {
        undo::delete(self, migration, created).await
    }

    async fn restore(&self, migration: &str, changed: &[Outcome]) -> Result<Vec<Undo>> {
        undo::restore(self, migration, changed).await
    }

    async fn delete_categories(&self, migration: &str, created: &[Outcome]) -> Result<Vec<Undo>> {
        undo::delete_categories(self, migration, created).await
    }
}

fn outcome(p: Plan<'_>) -> Outcome {
    let real = |id: &String| !id.starts_with('#');
    Outcome {
        source_id: p.parent.source_id.clone(),
        object_id: p.object_id.filter(real),
        variation_ids: p.var_ids.into_iter().filter(|(_, v)| real(v)).collect(),
        action: p.action,
        versions: p.versions,
        prior: p.prior,
        sent: p.sent,
        redirects: BTreeMap::new(),
    }
}

/// Decides what to send for one product.
fn plan<'a>(
    parent: &'a Parent,
    entry: Option<&Outcome>,
    current: Option<&Snapshot>,
    categories: &HashMap<String, String>,
) -> Plan<'a> {
    let mut p = Plan {
        parent,
        prior: Some(current.map_or(PriorState::Absent, |s| PriorState::Existed {
            snapshot: Box::new(s.clone()),
        })),
        body: None,
        object_id: current.map(|s| s.object_id.clone()),
        var_ids: BTreeMap::new(),
        versions: current.map(|s| s.versions.clone()).unwrap_or_default(),
        action: Action::Unchanged,
        sent: false,
        written: false,
    };
    let Some(first) = parent.variations.first() else {
        p.action = failed("a product without variations");
        return p;
    };
    if let Some(v) = parent
        .variations
        .iter()
        .find(|v| v.price_minor.is_some() && v.currency.is_none() && v.open_price != Some(true))
    {
        p.action = failed(&format!(
            "variation {}: a price without currency",
            v.external_id
        ));
        return p;
    }
    let category = first.category.as_ref().and_then(|c| categories.get(c));
    let item_id = p
        .object_id
        .clone()
        .unwrap_or_else(|| format!("#p-{}", token(&[&parent.source_id])));
    let mut item = current.map_or_else(
        || json!({"type": "ITEM", "id": item_id, "item_data": {"variations": []}}),
        |s| s.body.clone(),
    );
    overlay_item(&mut item, first, category.map(String::as_str));
    let known_vars = entry.map(|e| &e.variation_ids);
    for var in &parent.variations {
        let id = variation_slot(&mut item, parent, var, known_vars);
        if let Some(obj) = variation_mut(&mut item, &id) {
            overlay_variation(obj, var, &item_id);
        }
        p.var_ids.insert(var.external_id.clone(), id);
    }
    p.object_id = Some(item_id);
    let unchanged = current.is_some_and(|s| s.body == item);
    if !unchanged {
        p.action = if current.is_some() {
            Action::Updated
        } else {
            Action::Created
        };
        p.body = Some(item);
    }
    p
}

fn failed(reason: &str) -> Action {
    Action::Failed {
        reason: reason.to_owned(),
    }
}

fn overlay_item(item: &mut Value, first: &tillbridge_domain::CatalogItem, category: Option<&str>) {
    let data = &mut item["item_data"];
    if let Some(name) = &first.name {
        data["name"] = json!(name);
    }
    if let Some(d) = &first.description {
        data["description"] = json!(d);
    }
    if let Some(active) = first.is_active {
        // Absent means not archived: an active item's absent flag stays absent.
        if !active || data.get("is_archived").is_some() {
            data["is_archived"] = json!(!active);
        }
    }
    if let Some(cat) = category {
        let current = data["categories"][0]["id"].as_str();
        if current != Some(cat) {
            data["categories"] = json!([{ "id": cat }]);
        }
    }
    if !data["variations"].is_array() {
        data["variations"] = json!([]);
    }
}

/// The vendor or temporary id of `var` inside `item`, adding a new variation when needed:
/// the journal's id, else an existing variation with the same SKU, else a new one.
fn variation_slot(
    item: &mut Value,
    parent: &Parent,
    var: &tillbridge_domain::CatalogItem,
    known: Option<&BTreeMap<String, String>>,
) -> String {
    let existing = item["item_data"]["variations"]
        .as_array()
        .map(|vs| {
            let ids = |f: &dyn Fn(&Value) -> bool| {
                vs.iter()
                    .find(|v| f(v))
                    .and_then(|v| v["id"].as_str())
                    .map(str::to_owned)
            };
            let by_known = known
                .and_then(|k| k.get(&var.external_id))
                .and_then(|id| ids(&|v| v["id"].as_str() == Some(id)));
            by_known.or_else(|| {
                var.sku.as_ref().and_then(|sku| {
                    ids(&|v| v["item_variation_data"]["sku"].as_str() == Some(sku.as_str()))
                })
            })
        })
        .unwrap_or_default();
    if let Some(id) = existing {
        return id;
    }
    let id = format!("#v-{}", token(&[&parent.source_id, &var.external_id]));
    if let Some(vs) = item["item_data"]["variations"].as_array_mut() {
        vs.push(json!({"type": "ITEM_VARIATION", "id": id, "item_variation_data": {}}));
    }
    id
}

fn variation_mut<'v>(item: &'v mut Value, id: &str) -> Option<&'v mut Value> {
    item["item_data"]["variations"]
        .as_array_mut()?
        .iter_mut()
        .find(|v| v["id"].as_str() == Some(id))
}

fn overlay_variation(obj: &mut Value, var: &tillbridge_domain::CatalogItem, item_id: &str) {
    let data = &mut obj["item_variation_data"];
    data["item_id"] = json!(item_id);
    if let Some(n) = &var.variant_name {
        data["name"] = json!(n);
    }
    if let Some(s) = &var.sku {
        data["sku"] = json!(s);
    }
    if let Some(b) = &var.barcode {
        data["upc"] = json!(b);
    }
    match (var.open_price == Some(true), var.price_minor, var.currency) {
        (true, _, _) | (false, None, _) => {
            data["pricing_type"] = json!("VARIABLE_PRICING");
            if let Some(m) = data.as_object_mut() {
                m.remove("price_money");
            }
        }
        (false, Some(amount), Some(currency)) => {
            data["pricing_type"] = json!("FIXED_PRICING");
            data["price_money"] = json!({"amount": amount, "currency": currency.code()});
        }
        (false, Some(_), None) => {}
    }
}

impl SquareClient {
    /// Reads what the products are now and plans each write.
    async fn plans<'a>(
        &self,
        migration: &str,
        parents: &'a [Parent],
        journal: &Journal,
        write_categories: bool,
    ) -> Result<(Vec<Plan<'a>>, BTreeMap<String, Snapshot>, Vec<Outcome>)> {
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
        let (categories, created) = self
            .ensure_categories(migration, parents, write_categories)
            .await?;
        let plans = parents
            .iter()
            .zip(&targets)
            .map(|(p, target)| {
                let entry = journal.entries.get(&p.source_id);
                let known = target.as_ref().and_then(|t| current.get(t));
                plan(p, entry, known, &categories)
            })
            .collect();
        Ok((plans, current, created))
    }

    /// The ids of the categories the products name, creating the missing ones (or, when
    /// `create` is false, giving them temporary ids), and the journal entries of those it
    /// created.
    async fn ensure_categories(
        &self,
        migration: &str,
        parents: &[Parent],
        create: bool,
    ) -> Result<(HashMap<String, String>, Vec<Outcome>)> {
        let mut wanted: Vec<&str> = parents
            .iter()
            .filter_map(|p| p.variations.first()?.category.as_deref())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        if wanted.is_empty() {
            return Ok((HashMap::new(), Vec::new()));
        }
        let mut known = undo::list_categories(self).await?;
        let missing: Vec<&str> = wanted
            .into_iter()
            .filter(|n| !known.contains_key(*n))
            .collect();
        if missing.is_empty() {
            return Ok((known, Vec::new()));
        }
        if !create {
            for n in missing {
                known.insert(n.to_owned(), format!("#c-{}", token(&[n])));
            }
            return Ok((known, Vec::new()));
        }
        let objects: Vec<Value> = missing
            .iter()
            .map(|n| {
                json!({"type": "CATEGORY", "id": format!("#c-{}", token(&[n])),
                       "category_data": {"name": n}})
            })
            .collect();
        let resp = self.batch_upsert(migration, "categories", objects).await?;
        let mut created = Vec::new();
        for n in missing {
            let temp = format!("#c-{}", token(&[n]));
            if let Some(id) = resp.mapped(&temp) {
                let version = resp.categories.get(&id).cloned().flatten();
                created.push(created_category(n, &id, version));
                known.insert(n.to_owned(), id);
            }
        }
        Ok((known, created))
    }

    /// One batch-upsert request with one batch.
    pub(crate) async fn batch_upsert(
        &self,
        migration: &str,
        purpose: &str,
        objects: Vec<Value>,
    ) -> Result<undo::UpsertAnswer> {
        let batches = json!([{ "objects": objects }]);
        let key = idempotency_key(migration, purpose, batches.to_string().as_bytes());
        let body = json!({"idempotency_key": key, "batches": batches});
        let answer: Value = self
            .call(Method::POST, "/v2/catalog/batch-upsert", &[], Some(body))
            .await?;
        undo::UpsertAnswer::parse(&answer)
    }

    /// Writes one chunk: one request, or one per product when Square rejects the request.
    /// Per-product rejections become [`Action::Failed`]; other errors stop the run.
    async fn write_chunk(&self, migration: &str, chunk: &mut [Plan<'_>]) -> Result<()> {
        let objects: Vec<Value> = chunk.iter().filter_map(|p| p.body.clone()).collect();
        if objects.is_empty() {
            return Ok(());
        }
        for p in chunk.iter_mut().filter(|p| p.body.is_some()) {
            p.sent = true;
        }
        match self.batch_upsert(migration, "upsert", objects).await {
            Ok(answer) => {
                for p in chunk.iter_mut().filter(|p| p.body.is_some()) {
                    settle(p, &answer)?;
                }
                Ok(())
            }
            Err(ConnectorError::Rejected { .. }) if chunk.len() > 1 => {
                for p in chunk.iter_mut() {
                    Box::pin(self.write_chunk(migration, std::slice::from_mut(p))).await?;
                }
                Ok(())
            }
            Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                for p in chunk.iter_mut().filter(|p| p.body.is_some()) {
                    p.action = failed(&rejection(&vendor_reason));
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Sets stock where it differs from `stock_by_location`, as physical counts.
    async fn write_stock(
        &self,
        migration: &str,
        plans: &mut [Plan<'_>],
        current: &BTreeMap<String, Snapshot>,
    ) -> Result<()> {
        let main = self.main_location_for(plans).await?;
        let changes = stock_changes(plans, current, main.as_deref());
        for batch in changes.chunks(STOCK_CHUNK) {
            let body: Vec<Value> = batch.iter().map(|(_, c)| c.clone()).collect();
            for (i, _) in batch {
                plans[*i].sent = true;
            }
            match self.inventory_changes(migration, "stock", body).await {
                Ok(()) => {
                    for (i, _) in batch {
                        if plans[*i].action == Action::Unchanged {
                            plans[*i].action = Action::Updated;
                        }
                    }
                }
                Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                    for (i, _) in batch {
                        plans[*i].action = failed(&format!("stock: {vendor_reason}"));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The location stock without one (`quantity_on_hand` and no `stock_by_location`) goes
    /// to: the merchant's main location, the first ACTIVE one `GET /v2/locations` lists
    /// (<https://developer.squareup.com/reference/square/locations-api/list-locations>).
    /// Asked only when some variation needs it; `None` when the account has no active one.
    async fn main_location_for(&self, plans: &[Plan<'_>]) -> Result<Option<String>> {
        let needed = plans.iter().any(|p| {
            !matches!(p.action, Action::Failed { .. })
                && p.parent.variations.iter().any(unlocated_stock)
        });
        if !needed {
            return Ok(None);
        }
        let answer: super::wire::LocationsResponse =
            self.call(Method::GET, "/v2/locations", &[], None).await?;
        Ok(answer
            .locations
            .into_iter()
            .find(|l| l.status.as_deref().is_none_or(|s| s == "ACTIVE"))
            .map(|l| l.id))
    }

    /// One inventory batch-create.
    pub(crate) async fn inventory_changes(
        &self,
        migration: &str,
        purpose: &str,
        changes: Vec<Value>,
    ) -> Result<()> {
        let changes = json!(changes);
        let key = idempotency_key(migration, purpose, changes.to_string().as_bytes());
        let body = json!({"idempotency_key": key, "changes": changes,
                          "ignore_unchanged_counts": true});
        let _: Value = self
            .call(
                Method::POST,
                "/v2/inventory/changes/batch-create",
                &[],
                Some(body),
            )
            .await?;
        Ok(())
    }
}

/// The physical counts that would set each product's stock to its `stock_by_location` (a
/// variation with only `quantity_on_hand`: that quantity at `main`, the main location), with
/// the index of the plan each belongs to. A product with stock to set and no location to
/// set it at fails with the reason.
fn stock_changes(
    plans: &mut [Plan<'_>],
    current: &BTreeMap<String, Snapshot>,
    main: Option<&str>,
) -> Vec<(usize, Value)> {
    let mut changes: Vec<(usize, Value)> = Vec::new();
    let now = crate::destination::now_rfc3339();
    for (i, p) in plans.iter_mut().enumerate() {
        if matches!(p.action, Action::Failed { .. }) {
            continue;
        }
        let had = p
            .object_id
            .as_ref()
            .and_then(|id| current.get(id))
            .map(|s| &s.stock);
        let mut nowhere = None;
        for var in &p.parent.variations {
            let Some(vid) = p.var_ids.get(&var.external_id) else {
                continue;
            };
            let before = had.and_then(|h| h.get(vid));
            let wanted: Vec<(&str, Decimal)> = match (unlocated_stock(var), main) {
                (false, _) => var
                    .stock_by_location
                    .iter()
                    .map(|(l, q)| (l.as_str(), *q))
                    .collect(),
                (true, Some(loc)) => var.quantity_on_hand.map(|q| (loc, q)).into_iter().collect(),
                (true, None) => {
                    nowhere.get_or_insert_with(|| var.external_id.clone());
                    Vec::new()
                }
            };
            for (loc, qty) in wanted {
                let old = before.and_then(|b| b.get(loc)).copied().unwrap_or_default();
                if old != qty {
                    changes.push((i, physical_count(vid, loc, qty, &now)));
                }
            }
        }
        if let Some(var) = nowhere {
            p.action = failed(&format!(
                "stock: variation {var} has a quantity but no location, and the Square \
                 account has no active location to stock it at"
            ));
        }
    }
    changes.retain(|(i, _)| !matches!(plans[*i].action, Action::Failed { .. }));
    changes
}

/// A quantity without a location: stocked at the main location.
fn unlocated_stock(var: &tillbridge_domain::CatalogItem) -> bool {
    var.stock_by_location.is_empty() && var.quantity_on_hand.is_some()
}

/// A `PHYSICAL_COUNT` change setting `IN_STOCK` of `variation` at `location`.
pub(crate) fn physical_count(variation: &str, location: &str, qty: Decimal, at: &str) -> Value {
    json!({"type": "PHYSICAL_COUNT", "physical_count": {
        "catalog_object_id": variation, "location_id": location, "state": "IN_STOCK",
        "quantity": qty.normalize().to_string(), "occurred_at": at}})
}

fn rejection(reason: &str) -> String {
    if reason.contains("VERSION_MISMATCH") {
        format!("conflict: changed at Square since read ({reason})")
    } else {
        reason.to_owned()
    }
}

/// Takes the real ids and versions of one written product from the answer.
fn settle(p: &mut Plan<'_>, answer: &undo::UpsertAnswer) -> Result<()> {
    let Some(temp_or_id) = p.object_id.clone() else {
        return Ok(());
    };
    let id = answer.mapped(&temp_or_id).unwrap_or(temp_or_id);
    for v in p.var_ids.values_mut() {
        if let Some(real) = answer.mapped(v) {
            *v = real;
        }
    }
    let written = answer.items.get(&id).ok_or_else(|| {
        ConnectorError::malformed(V, "objects", format!("the written ITEM {id} is missing"))
    })?;
    p.versions.clone_from(&written.versions);
    p.object_id = Some(id);
    p.written = true;
    Ok(())
}
