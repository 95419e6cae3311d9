//! The operator and finance console: server-rendered HTML pages under `/console/…`, answered
//! by the same router as the JSON API (the deployed `api` function and `tillbridge serve`).
//!
//! Every page is a view of JSON routes: it builds the JSON route's [`Request`] with the
//! same operator and calls the same handler ([`crate::api_route`]), so authorization,
//! tenant scoping and every rule stay in one place; a form posts here, is turned into the
//! JSON route's body, and the answer is shown (a 303 back to the page, or the refusal with
//! its status). Values are escaped by [`esc`] wherever they are written into HTML.
//!
//! The CSS and the few lines of JavaScript are `&'static str` embedded with
//! `include_str!`: no initialisation, nothing read at start.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::{Api, Request, Response};

/// The console's stylesheet (embedded; served at `/console/static/console.css`).
pub const CSS: &str = include_str!("console/console.css");
/// The console's script (embedded; served at `/console/static/console.js`).
pub const JS: &str = include_str!("console/console.js");

/// The path prefix of the console.
pub const PREFIX: &str = "/console";

/// Confidence bands in the order the review shows them.
const BANDS: [(&str, &str); 4] = [
    ("high", "High (over 90 %)"),
    ("medium", "Medium (70–90 %)"),
    ("low", "Low (under 70 %)"),
    ("none", "None (no counterpart)"),
];

/// The value conversions an override may name (the mapping crate's `Conversion`).
const CONVERSIONS: [&str; 13] = [
    "as_is",
    "minor_units",
    "major_to_minor",
    "money_string",
    "epoch_millis",
    "date_time",
    "boolean",
    "inverted_boolean",
    "status",
    "fraction_to_percent",
    "number",
    "first_of_list",
    "list",
];

/// HTML-escapes text (element content and quoted attribute values).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment or query value.
pub(crate) fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decodes an `application/x-www-form-urlencoded` body (invalid escapes are kept as they are;
/// invalid UTF-8 is replaced).
pub fn form(body: &[u8]) -> Vec<(String, String)> {
    fn decode(s: &[u8]) -> String {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = s
                        .get(i + 1..i + 3)
                        .and_then(|h| std::str::from_utf8(h).ok());
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut kv = p.splitn(2, |b| *b == b'=');
            let k = decode(kv.next().unwrap_or_default());
            let v = decode(kv.next().unwrap_or_default());
            (k, v)
        })
        .collect()
}

fn field<'f>(f: &'f [(String, String)], name: &str) -> Option<&'f str> {
    f.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn html(status: u16, body: String) -> Response {
    Response {
        status,
        content_type: "text/html; charset=utf-8",
        headers: vec![
            ("cache-control", "no-store".to_owned()),
            ("x-content-type-options", "nosniff".to_owned()),
            (
                "content-security-policy",
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'".to_owned(),
            ),
        ],
        body: body.into_bytes(),
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    Response {
        status: 200,
        content_type,
        headers: vec![("cache-control", "public, max-age=300".to_owned())],
        body: body.as_bytes().to_vec(),
    }
}

fn see_other(location: String) -> Response {
    Response {
        status: 303,
        content_type: "text/plain; charset=utf-8",
        headers: vec![("location", location)],
        body: Vec::new(),
    }
}

/// A whole page around `content` (already HTML).
fn layout(title: &str, content: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{t} · tillbridge console</title>\
<link rel=\"stylesheet\" href=\"{PREFIX}/static/console.css\">\
<script src=\"{PREFIX}/static/console.js\" defer></script></head><body>\
<a class=\"skip\" href=\"#main\">Skip to content</a>\
<header><a class=\"brand\" href=\"{PREFIX}/\">tillbridge console</a>\
<nav aria-label=\"Main\"><a href=\"{PREFIX}/\">Tenants</a> · <a href=\"{PREFIX}/costs\">Costs</a></nav></header>\
<main id=\"main\"><h1>{t}</h1>{content}</main></body></html>",
        t = esc(title)
    )
}

fn page(title: &str, content: &str) -> Response {
    html(200, layout(title, content))
}

/// The refusal of a JSON route, as a page with the same status.
fn refused(status: u16, v: &Value, back: &str) -> Response {
    let msg = v
        .get("error")
        .and_then(Value::as_str)
        .map_or_else(|| v.to_string(), str::to_owned);
    html(
        status,
        layout(
            &format!("Refused ({status})"),
            &format!(
                "<p class=\"err\" role=\"alert\">{}</p><p><a href=\"{}\">Back</a></p>",
                esc(&msg),
                esc(back)
            ),
        ),
    )
}

/// A JSON route answered for the console's operator.
struct Answer {
    status: u16,
    json: Value,
    raw: Response,
}

impl Answer {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

async fn call(
    api: &Api,
    outer: &Request<'_>,
    method: &str,
    path: &str,
    query: &[(String, String)],
    content_type: &str,
    body: &[u8],
) -> Answer {
    let headers = [("content-type".to_owned(), content_type.to_owned())];
    let inner = Request {
        method,
        path,
        query,
        headers: &headers,
        operator: outer.operator,
        body,
    };
    let raw = crate::api_route(api, &inner).await;
    let json = if raw.content_type.starts_with("application/json") {
        serde_json::from_slice(&raw.body).unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    Answer {
        status: raw.status,
        json,
        raw,
    }
}

async fn get(api: &Api, outer: &Request<'_>, path: &str, query: &[(String, String)]) -> Answer {
    call(api, outer, "GET", path, query, "application/json", b"").await
}

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn s<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A scalar as text (strings as they are, null as an empty string).
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Any JSON value as HTML: objects as definition lists, arrays of objects as tables (numbers
/// right-aligned), everything escaped.
fn render(out: &mut String, v: &Value, depth: usize) {
    if depth > 4 {
        let _ = write!(out, "<code>{}</code>", esc(&v.to_string()));
        return;
    }
    match v {
        Value::Null => out.push_str("<span class=\"muted\">—</span>"),
        Value::Bool(b) => out.push_str(if *b { "yes" } else { "no" }),
        Value::Number(n) => {
            let _ = write!(out, "<span class=\"num\">{}</span>", esc(&n.to_string()));
        }
        Value::String(s) => out.push_str(&esc(s)),
        Value::Array(a) if a.is_empty() => out.push_str("<span class=\"muted\">none</span>"),
        Value::Array(a) if a.iter().all(Value::is_object) => {
            let mut keys: Vec<&str> = Vec::new();
            for row in a {
                for k in row.as_object().into_iter().flat_map(|o| o.keys()) {
                    if !keys.contains(&k.as_str()) {
                        keys.push(k);
                    }
                }
            }
            out.push_str("<div class=\"table-wrap\"><table><thead><tr>");
            for k in &keys {
                let _ = write!(out, "<th scope=\"col\">{}</th>", esc(k));
            }
            out.push_str("</tr></thead><tbody>");
            for row in a {
                out.push_str("<tr>");
                for k in &keys {
                    let cell = row.get(*k).unwrap_or(&Value::Null);
                    // Amounts (`…_usd`, exact decimal strings) and percentages: right-aligned
                    // with their unit.
                    let unit = if k.ends_with("_usd") {
                        " USD"
                    } else if k.ends_with("_percent") {
                        " %"
                    } else {
                        ""
                    };
                    if cell.is_string() && !unit.is_empty() {
                        let _ = write!(out, "<td class=\"num\">{}{unit}</td>", esc(&text(cell)));
                        continue;
                    }
                    let class = if cell.is_number() {
                        " class=\"num\""
                    } else {
                        ""
                    };
                    let _ = write!(out, "<td{class}>");
                    render(out, cell, depth + 1);
                    out.push_str("</td>");
                }
                out.push_str("</tr>");
            }
            out.push_str("</tbody></table></div>");
        }
        Value::Array(a) => {
            out.push_str("<ul>");
            for x in a {
                out.push_str("<li>");
                render(out, x, depth + 1);
                out.push_str("</li>");
            }
            out.push_str("</ul>");
        }
        Value::Object(o) if o.is_empty() => out.push_str("<span class=\"muted\">none</span>"),
        Value::Object(o) => {
            out.push_str("<dl>");
            for (k, x) in o {
                let _ = write!(out, "<dt>{}</dt><dd>", esc(k));
                render(out, x, depth + 1);
                out.push_str("</dd>");
            }
            out.push_str("</dl>");
        }
    }
}

fn rendered(v: &Value) -> String {
    let mut out = String::new();
    render(&mut out, v, 0);
    out
}

/// A `?msg=` notice after a form (escaped).
fn notice(req: &Request<'_>) -> String {
    req.param("msg")
        .filter(|m| !m.is_empty())
        .map(|m| {
            format!(
                "<p class=\"msg\" role=\"status\">{}</p>",
                esc(&m.chars().take(300).collect::<String>())
            )
        })
        .unwrap_or_default()
}

/// Money as its exact decimal string with the currency, right-aligned.
fn money(amount: &Value, currency: &str) -> String {
    match amount {
        Value::Null => "<td class=\"num\">—</td>".to_owned(),
        v => format!("<td class=\"num\">{} {}</td>", esc(&text(v)), esc(currency)),
    }
}

/// Answers a request under `/console`.
pub(crate) async fn route(api: &Api, req: &Request<'_>) -> Response {
    // Forms are only taken from pages of this origin.
    if req.method == "POST"
        && let (Some(origin), Some(host)) = (req.header("origin"), req.header("host"))
        && origin
            .split_once("://")
            .is_none_or(|(_, h)| !h.eq_ignore_ascii_case(host))
    {
        return html(
            403,
            layout("Refused (403)", "<p class=\"err\">cross-origin form</p>"),
        );
    }
    let rest = req.path.strip_prefix(PREFIX).unwrap_or_default();
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match (req.method, segs.as_slice()) {
        ("GET", []) => tenants(api, req).await,
        ("GET", ["static", "console.css"]) => asset("text/css; charset=utf-8", CSS),
        ("GET", ["static", "console.js"]) => asset("text/javascript; charset=utf-8", JS),
        ("GET", ["tenants", t]) => tenant(api, req, t).await,
        ("GET", ["tenants", t, "migrations"]) => migrations(api, req, t).await,
        ("POST", ["tenants", t, "migrations"]) => start(api, req, t).await,
        ("GET", ["tenants", t, "quarantine"]) => quarantine(api, req, t).await,
        ("POST", ["tenants", t, "quarantine", id, "replay"]) => replay(api, req, t, id).await,
        ("GET", ["tenants", t, "deliveries"]) => match req.param("id") {
            Some(id) if !id.is_empty() => see_other(format!(
                "{PREFIX}/tenants/{}/deliveries/{}",
                enc(t),
                enc(id)
            )),
            _ => delivery_log(api, req, t).await,
        },
        ("GET", ["tenants", t, "stats"]) => provider_stats(api, req, t).await,
        ("GET", ["tenants", t, "deliveries", id]) => delivery(api, req, t, id).await,
        ("GET", ["migrations", id]) => migration(api, req, id).await,
        ("GET", ["migrations", id, "mapping.csv"]) => export(api, req, id, false).await,
        ("GET", ["migrations", id, "mapping.json"]) => export(api, req, id, true).await,
        ("GET", ["migrations", id, "mapping.xlsx"]) => export_xlsx(api, req, id).await,
        ("POST", ["migrations", id, "mappings"]) => override_one(api, req, id).await,
        ("POST", ["migrations", id, "accept"]) => accept(api, req, id).await,
        ("POST", ["migrations", id, action]) => act(api, req, id, action).await,
        ("GET", ["costs"]) => costs(api, req).await,
        (_, _) => html(404, layout("Not found", "<p>No such console page.</p>")),
    }
}

async fn tenants(api: &Api, req: &Request<'_>) -> Response {
    let a = get(api, req, "/v1/tenants", &[]).await;
    if !a.ok() {
        return refused(a.status, &a.json, PREFIX);
    }
    let mut out = notice(req);
    out.push_str(
        "<div class=\"table-wrap\"><table><caption class=\"muted\">Tenants you may read</caption>\
<thead><tr><th scope=\"col\">Tenant</th><th scope=\"col\">Currency</th><th scope=\"col\">Providers</th>\
<th scope=\"col\" class=\"num\">Monthly AI budget</th><th scope=\"col\">Pages</th></tr></thead><tbody>",
    );
    for t in a.json["tenants"].as_array().into_iter().flatten() {
        let id = s(t, "tenant_id");
        let providers: Vec<String> = t["providers"]
            .as_object()
            .map(|o| o.keys().map(|k| esc(k)).collect())
            .unwrap_or_default();
        let _ = write!(
            out,
            "<tr><td><a href=\"{PREFIX}/tenants/{e}\">{h}</a></td><td>{cur}</td><td>{prov}</td>{budget}\
<td><a href=\"{PREFIX}/tenants/{e}/migrations\">Migrations</a> · \
<a href=\"{PREFIX}/tenants/{e}/deliveries\">Delivery log</a> · \
<a href=\"{PREFIX}/tenants/{e}/quarantine\">Quarantine</a> · \
<a href=\"{PREFIX}/tenants/{e}/stats\">Stats &amp; SLA</a></td></tr>",
            e = enc(id),
            h = esc(id),
            cur = esc(s(t, "currency")),
            prov = providers.join(", "),
            budget = money(&t["monthly_budget_usd"], "USD"),
        );
    }
    out.push_str("</tbody></table></div>");
    page("Tenants", &out)
}

async fn tenant(api: &Api, req: &Request<'_>, t: &str) -> Response {
    let a = get(api, req, &format!("/v1/tenants/{t}"), &[]).await;
    if !a.ok() {
        return refused(a.status, &a.json, PREFIX);
    }
    let mut out = notice(req);
    let _ = write!(
        out,
        "<p><a href=\"{PREFIX}/tenants/{e}/migrations\">Migrations</a> · \
<a href=\"{PREFIX}/tenants/{e}/deliveries\">Delivery log</a> · \
<a href=\"{PREFIX}/tenants/{e}/quarantine\">Quarantine</a> · \
<a href=\"{PREFIX}/tenants/{e}/stats\">Stats &amp; SLA</a> · \
<a href=\"{PREFIX}/costs\">Costs</a></p>",
        e = enc(t)
    );
    let _ = write!(
        out,
        "<dl><dt>Currency</dt><dd>{}</dd><dt>Country</dt><dd>{}</dd><dt>Time zone (business calendar)</dt><dd>{}</dd>\
<dt>Largest webhook body</dt><dd>{} bytes</dd></dl>",
        esc(&text(&a.json["currency"])),
        esc(&text(&a.json["country"])),
        esc(&text(&a.json["time_zone"])),
        esc(&text(&a.json["max_body_bytes"])),
    );
    let _ = write!(
        out,
        "<form method=\"get\" action=\"{PREFIX}/tenants/{e}\" class=\"actions\"><div class=\"field\">\
<label for=\"period\">Month of the cost charts (YYYY-MM)</label><input id=\"period\" name=\"period\" value=\"{p}\"></div>\
<div class=\"field\"><span>&nbsp;</span><button type=\"submit\" class=\"secondary\">Show</button></div></form>",
        e = enc(t),
        p = esc(req.param("period").unwrap_or_default()),
    );
    out.push_str("<h2>Providers</h2><div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">Provider</th>\
<th scope=\"col\">Webhook URL</th><th scope=\"col\">Webhook secret</th><th scope=\"col\">Previous secret</th>\
<th scope=\"col\">API credentials</th></tr></thead><tbody>");
    for (p, c) in a.json["providers"].as_object().into_iter().flatten() {
        let yes = |v: &Value| {
            if v.as_bool() == Some(true) {
                "set"
            } else {
                "not set"
            }
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(p),
            esc(s(c, "webhook_url")),
            yes(&c["webhook_secret"]),
            yes(&c["previous_secret"]),
            rendered(&c["api"]["credentials"]),
        );
    }
    out.push_str("</tbody></table></div><p class=\"muted\">Secrets are never shown: only whether they are set.</p>");
    let month: Vec<(String, String)> = req
        .param("period")
        .filter(|p| !p.is_empty())
        .map(|p| ("period".to_owned(), p.to_owned()))
        .into_iter()
        .collect();
    let b = get(api, req, &format!("/v1/tenants/{t}/budget"), &month).await;
    out.push_str("<h2>AI budget and thresholds</h2>");
    if b.ok() {
        out.push_str(&rendered(&b.json));
    } else {
        let _ = write!(out, "<p class=\"muted\">{}</p>", esc(s(&b.json, "error")));
    }
    for (group, title) in [("day", "AI cost per day"), ("model", "AI cost per model")] {
        let mut query = q(&[("group_by", group)]);
        if let Some(p) = req.param("period").filter(|p| !p.is_empty()) {
            query.push(("period".into(), p.to_owned()));
        }
        let c = get(api, req, &format!("/v1/tenants/{t}/costs"), &query).await;
        let _ = write!(out, "<h2>{title}</h2>");
        if c.ok() {
            out.push_str(&bars(&c.json, group));
        } else {
            let _ = write!(out, "<p class=\"muted\">{}</p>", esc(s(&c.json, "error")));
        }
    }
    page(&format!("Tenant {t}"), &out)
}

/// A bar chart of a tenant's grouped costs (`GET …/costs?group_by=`): one labelled bar per
/// row, its width the row's share of the largest (exact decimals; the amount is written
/// beside it, so the chart reads without colour or length).
fn bars(v: &Value, group: &str) -> String {
    use rust_decimal::Decimal;
    let rows: Vec<(String, String, Decimal)> = v["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let cost = text(&r["cost_usd"]);
            let amount = cost.parse::<Decimal>().unwrap_or_default();
            (text(&r[group]), cost, amount)
        })
        .collect();
    if rows.is_empty() {
        return format!(
            "<p class=\"muted\">No usage in {}.</p>",
            esc(&text(&v["period"]))
        );
    }
    let max = rows
        .iter()
        .map(|(_, _, a)| *a)
        .max()
        .unwrap_or_default()
        .max(Decimal::new(1, 9));
    let mut out = format!(
        "<div class=\"table-wrap\"><table class=\"chart\"><caption class=\"muted\">{} (USD)</caption><tbody>",
        esc(&text(&v["period"]))
    );
    for (label, cost, amount) in rows {
        let width = (amount * Decimal::from(100) / max)
            .round_dp(1)
            .max(Decimal::ZERO)
            .min(Decimal::from(100));
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{l}</th><td class=\"bar\"><progress max=\"100\" value=\"{width}\" aria-hidden=\"true\"></progress></td>\
<td class=\"num\">{c} USD</td></tr>",
            l = esc(&label),
            c = esc(&cost),
        );
    }
    let _ = write!(
        out,
        "</tbody><tfoot><tr class=\"total\"><th scope=\"row\">Total</th><td></td><td class=\"num\">{} USD</td></tr></tfoot></table></div>",
        esc(&text(&v["totals"]["cost_usd"]))
    );
    out
}

/// Rows per page of the console's long lists.
const PAGE: &str = "25";

/// The page query of a long list: `limit` and the `cursor` the page was asked with.
fn paged(req: &Request<'_>, mut query: Vec<(String, String)>) -> Vec<(String, String)> {
    query.push((
        "limit".into(),
        req.param("limit").unwrap_or(PAGE).to_owned(),
    ));
    if let Some(c) = req.param("cursor").filter(|c| !c.is_empty()) {
        query.push(("cursor".into(), c.to_owned()));
    }
    query
}

/// The `cursor` of a JSON route's `Link: <…>; rel="next"` header, as it was encoded there.
fn next_cursor(a: &Answer) -> Option<String> {
    let link = a.raw.headers.iter().find(|(k, _)| *k == "link")?.1.as_str();
    let at = link.find("cursor=")? + "cursor=".len();
    let rest = &link[at..];
    let end = rest.find(['&', '>']).unwrap_or(rest.len());
    Some(rest[..end].to_owned()).filter(|c| !c.is_empty())
}

/// "Next page" (and "First page" when not on it) links of a long list: `base` is the page's
/// address with its filters (already encoded), `cursor` the encoded cursor of the next page.
fn pager(req: &Request<'_>, base: &str, cursor: Option<&str>) -> String {
    let sep = if base.contains('?') { "&" } else { "?" };
    let mut out = String::from("<nav class=\"pager\" aria-label=\"Pages\">");
    if req.param("cursor").is_some_and(|c| !c.is_empty()) {
        let _ = write!(out, "<a href=\"{}\">First page</a> ", esc(base));
    }
    match cursor {
        Some(c) => {
            let _ = write!(
                out,
                "<a rel=\"next\" data-next href=\"{}\">Next page</a>",
                esc(&format!("{base}{sep}cursor={c}"))
            );
        }
        None => out.push_str("<span class=\"muted\">Last page</span>"),
    }
    out.push_str("</nav>");
    out
}

async fn migrations(api: &Api, req: &Request<'_>, t: &str) -> Response {
    let a = get(
        api,
        req,
        "/v1/migrations",
        &paged(req, q(&[("tenant_id", t)])),
    )
    .await;
    if !a.ok() {
        return refused(a.status, &a.json, PREFIX);
    }
    let mut out = notice(req);
    out.push_str("<div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">Migration</th><th scope=\"col\">Source</th>\
<th scope=\"col\">Status</th><th scope=\"col\" class=\"num\">Progress</th><th scope=\"col\">Created</th></tr></thead><tbody>");
    for m in a.json.as_array().into_iter().flatten() {
        let _ = write!(
            out,
            "<tr><td><a href=\"{PREFIX}/migrations/{e}\">{h}</a></td><td>{src}</td><td>{st}</td>\
<td class=\"num\">{pct} %</td><td>{at}</td></tr>",
            e = enc(s(m, "id")),
            h = esc(s(m, "id")),
            src = esc(s(m, "source_name")),
            st = esc(s(m, "status")),
            pct = esc(&text(&m["percent"])),
            at = esc(&text(&m["created_at"])),
        );
    }
    out.push_str("</tbody></table></div>");
    out.push_str(&pager(
        req,
        &format!("{PREFIX}/tenants/{}/migrations", enc(t)),
        next_cursor(&a).as_deref(),
    ));
    let _ = write!(
        out,
        "<h2>Start a migration</h2>\
<form method=\"post\" action=\"{PREFIX}/tenants/{e}/migrations\">\
<div class=\"field\"><label for=\"source_name\">Source system</label>\
<input id=\"source_name\" name=\"source_name\" required placeholder=\"lightspeed\"></div>\
<div class=\"field\"><label for=\"export-file\">Export file (CSV; read in the browser into the box below)</label>\
<input id=\"export-file\" type=\"file\" accept=\".csv,text/csv\" data-read-into=\"export\"></div>\
<div class=\"field\"><label for=\"export\">Export (CSV text)</label>\
<textarea id=\"export\" name=\"export\" rows=\"6\" required></textarea></div>\
<button type=\"submit\">Upload and suggest a mapping</button></form>",
        e = enc(t)
    );
    page(&format!("Migrations of {t}"), &out)
}

async fn start(api: &Api, req: &Request<'_>, t: &str) -> Response {
    let f = form(req.body);
    let back = format!("{PREFIX}/tenants/{}/migrations", enc(t));
    let body = json!({
        "tenant_id": t,
        "source_name": field(&f, "source_name").unwrap_or_default(),
        "export": field(&f, "export").unwrap_or_default().replace("\r\n", "\n"),
    });
    let a = call(
        api,
        req,
        "POST",
        "/v1/migrations",
        &[],
        "application/json",
        body.to_string().as_bytes(),
    )
    .await;
    if !a.ok() {
        return refused(a.status, &a.json, &back);
    }
    see_other(format!("{PREFIX}/migrations/{}", enc(s(&a.json, "id"))))
}

/// A review row's reason and its sample values (escaped; a personal-data field says so
/// instead of showing values).
fn reason_and_samples(f: &Value) -> String {
    let mut out = esc(s(f, "reason"));
    if f["pii"].as_bool() == Some(true) {
        out.push_str("<div class=\"samples muted\" data-samples=\"pii\">Samples not shown: personal data</div>");
        return out;
    }
    let samples: Vec<String> = f["samples"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| format!("<code>{}</code>", esc(&text(v))))
        .collect();
    if !samples.is_empty() {
        let _ = write!(
            out,
            "<div class=\"samples\" data-samples>Samples: {}</div>",
            samples.join(", ")
        );
    }
    out
}

fn band_badge(band: &str) -> String {
    let name = BANDS
        .iter()
        .find(|(b, _)| *b == band)
        .map_or(band, |(_, n)| n);
    format!(
        "<span class=\"band band-{b}\">{n}</span>",
        b = esc(band),
        n = esc(name)
    )
}

async fn migration(api: &Api, req: &Request<'_>, id: &str) -> Response {
    let path = format!("/v1/migrations/{id}");
    let m = get(api, req, &path, &[]).await;
    if !m.ok() {
        return refused(m.status, &m.json, PREFIX);
    }
    let e = enc(id);
    let status = s(&m.json, "status");
    let tenant = s(&m.json, "tenant_id");
    let mut out = notice(req);
    let _ = write!(
        out,
        "<p><a href=\"{PREFIX}/tenants/{te}/migrations\">← Migrations of {th}</a></p>\
<dl><dt>Status</dt><dd><strong data-status>{st}</strong></dd><dt>Source</dt><dd>{src}</dd>\
<dt>Tenant</dt><dd>{th}</dd><dt>Currency</dt><dd>{cur}</dd></dl>",
        te = enc(tenant),
        th = esc(tenant),
        st = esc(status),
        src = esc(s(&m.json, "source_name")),
        cur = esc(s(&m.json, "currency")),
    );
    let busy = matches!(
        status,
        "pending" | "validating" | "applying" | "rolling_back"
    );
    let pct = text(&m.json["percent"]);
    let _ = write!(
        out,
        "<h2>Progress</h2><div id=\"progress\" {poll}><label for=\"bar\">{what}</label> \
<progress id=\"bar\" max=\"100\" value=\"{p}\">{p} %</progress> <span data-percent aria-live=\"polite\">{p} %</span></div>",
        poll = if busy {
            format!("data-poll=\"/v1/migrations/{e}\"")
        } else {
            String::new()
        },
        p = esc(&pct),
        what = if matches!(status, "rolling_back" | "rolled_back") {
            "Rolled back"
        } else {
            "Applied"
        },
    );
    // The counters in one row (nested ones, such as a destination's, below).
    let counters: Vec<(&String, &Value)> = m.json["progress"]
        .as_object()
        .into_iter()
        .flatten()
        .collect();
    out.push_str("<div class=\"table-wrap\"><table><thead><tr>");
    for (k, _) in counters.iter().filter(|(_, v)| !v.is_object()) {
        let _ = write!(out, "<th scope=\"col\" class=\"num\">{}</th>", esc(k));
    }
    out.push_str("</tr></thead><tbody><tr>");
    for (_, v) in counters.iter().filter(|(_, v)| !v.is_object()) {
        let _ = write!(out, "<td class=\"num\">{}</td>", esc(&text(v)));
    }
    out.push_str("</tr></tbody></table></div>");
    for (k, v) in counters.iter().filter(|(_, v)| v.is_object()) {
        if v.as_object()
            .is_some_and(|o| o.values().any(|x| x.as_u64() != Some(0)))
        {
            let _ = write!(out, "<h3>{}</h3>", esc(k));
            out.push_str(&rendered(v));
        }
    }
    if let Some(err) = m.json.get("error").and_then(Value::as_str) {
        let _ = write!(out, "<p class=\"err\">{}</p>", esc(err));
    }
    // Actions by status.
    let button = |action: &str, label: &str, class: &str| {
        format!(
            "<form class=\"inline\" method=\"post\" action=\"{PREFIX}/migrations/{e}/{action}\">\
<button type=\"submit\" class=\"{class}\">{label}</button></form>"
        )
    };
    out.push_str("<div class=\"actions\">");
    match status {
        "mapping_review" => {
            out.push_str(&button(
                "preview",
                "Preview (validate without applying)",
                "",
            ));
            out.push_str(&button("approve", "Approve and apply", "secondary"));
            out.push_str(&button("cancel", "Cancel", "danger"));
        }
        "previewed" => {
            out.push_str(&button("approve", "Approve and apply", ""));
            out.push_str(&button("cancel", "Cancel", "danger"));
        }
        "applying" => {
            out.push_str(&button("pause", "Pause", "secondary"));
            out.push_str(&button("resume", "Resume", "secondary"));
        }
        "completed" | "failed" | "cancelled" => {
            out.push_str(&button("rollback", "Roll back", "danger"));
        }
        _ => {}
    }
    out.push_str("</div>");

    // The mapping review.
    let maps = get(api, req, &format!("{path}/mappings"), &[]).await;
    let low_only = req.param("low") == Some("1");
    let editable = status == "mapping_review";
    let _ = write!(
        out,
        "<h2>Mapping</h2><p><a href=\"{PREFIX}/migrations/{e}/mapping.csv\">Export as CSV</a> · \
<a href=\"{PREFIX}/migrations/{e}/mapping.json\">Export as JSON</a> · \
<a href=\"{PREFIX}/migrations/{e}/mapping.xlsx\">Export as XLSX</a></p>\
<form method=\"get\" action=\"{PREFIX}/migrations/{e}\"><label><input type=\"checkbox\" name=\"low\" value=\"1\"{c}> \
Show only low confidence</label> <button type=\"submit\" class=\"secondary\">Filter</button></form>",
        c = if low_only { " checked" } else { "" }
    );
    let fields: Vec<Value> = maps.json["fields"].as_array().cloned().unwrap_or_default();
    if editable {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"{PREFIX}/migrations/{e}/accept\">"
        );
    }
    for (band, name) in BANDS {
        if low_only && band != "low" {
            continue;
        }
        let rows: Vec<&Value> = fields.iter().filter(|f| s(f, "band") == band).collect();
        let _ = write!(
            out,
            "<h3>{} <span class=\"muted\">({} {})</span></h3>",
            band_badge(band),
            rows.len(),
            if rows.len() == 1 { "field" } else { "fields" }
        );
        if rows.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "<div class=\"table-wrap\"><table><caption class=\"muted\">{}</caption><thead><tr>{}<th scope=\"col\">Source field</th>\
<th scope=\"col\">Target</th><th scope=\"col\">Conversion</th><th scope=\"col\" class=\"num\">Confidence</th>\
<th scope=\"col\">Band</th><th scope=\"col\">Reason and samples</th><th scope=\"col\">Decided by</th></tr></thead><tbody>",
            esc(name),
            if editable {
                "<th scope=\"col\">Accept</th>"
            } else {
                ""
            }
        );
        for f in rows {
            let src = s(f, "source");
            let pct = f["confidence"].as_f64().map_or_else(String::new, |c| {
                format!("{:.0} %", (c * 100.0).clamp(0.0, 100.0))
            });
            out.push_str("<tr>");
            if editable {
                let _ = write!(
                    out,
                    "<td><input type=\"checkbox\" name=\"accept\" value=\"{v}\" aria-label=\"Accept {v}\"></td>",
                    v = esc(src)
                );
            }
            let _ = write!(
                out,
                "<td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(src),
                esc(&text(&f["target"])),
                esc(&text(&f["conversion"])),
                esc(&pct),
                band_badge(s(f, "band")),
                reason_and_samples(f),
                esc(s(f, "decided_by")),
            );
        }
        out.push_str("</tbody></table></div>");
    }
    if editable {
        out.push_str(
            "<p><label><input type=\"checkbox\" data-select-all> Select all shown</label></p>\
<button type=\"submit\">Accept selected suggestions</button></form>",
        );
        // One override, with its conversion.
        let _ = write!(
            out,
            "<h3>Override a field</h3><form method=\"post\" action=\"{PREFIX}/migrations/{e}/mappings\">\
<div class=\"field\"><label for=\"ov-source\">Source field</label><select id=\"ov-source\" name=\"source\" required>"
        );
        for f in &fields {
            let _ = write!(out, "<option>{}</option>", esc(s(f, "source")));
        }
        out.push_str(
            "</select></div><div class=\"field\"><label for=\"ov-target\">Target field</label>\
<select id=\"ov-target\" name=\"target\"><option value=\"\">(do not migrate)</option>",
        );
        for t in tillbridge_domain::item::CANONICAL_FIELDS {
            let _ = write!(out, "<option>{}</option>", esc(t));
        }
        out.push_str(
            "</select></div><div class=\"field\"><label for=\"ov-conversion\">Conversion</label>\
<select id=\"ov-conversion\" name=\"conversion\"><option value=\"\">(as suggested)</option>",
        );
        for c in CONVERSIONS {
            let _ = write!(out, "<option>{c}</option>");
        }
        out.push_str("</select></div><div class=\"field\"><label for=\"ov-reason\">Reason</label>\
<input id=\"ov-reason\" name=\"reason\" required></div><button type=\"submit\">Save override</button></form>");
    }

    // The validation preview / report.
    if matches!(
        status,
        "previewed" | "applying" | "completed" | "failed" | "rolling_back" | "rolled_back"
    ) {
        let r = get(api, req, &format!("{path}/report"), &[]).await;
        let _ = write!(
            out,
            "<h2>Validation report</h2><p><a href=\"/v1/migrations/{e}/report?format=csv\">Download the report as CSV</a></p>"
        );
        if r.ok() {
            out.push_str(&rendered(&r.json));
        } else {
            let _ = write!(out, "<p class=\"muted\">{}</p>", esc(s(&r.json, "error")));
        }
    }
    if matches!(status, "rolling_back" | "rolled_back") {
        let r = get(api, req, &format!("{path}/rollback-report"), &[]).await;
        out.push_str("<h2>Rollback and its verification</h2>");
        if r.ok() {
            out.push_str(&rendered(&r.json));
        } else {
            let _ = write!(out, "<p class=\"muted\">{}</p>", esc(s(&r.json, "error")));
        }
    }
    out.push_str("<h2>History</h2>");
    out.push_str(&rendered(&m.json["history"]));
    page(&format!("Migration {id}"), &out)
}

/// One CSV field: quoted when needed, and a leading `=`, `+`, `-` or `@` neutralised so a
/// spreadsheet does not run it as a formula.
fn csv_field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@']) {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

async fn export(api: &Api, req: &Request<'_>, id: &str, as_json: bool) -> Response {
    let a = get(api, req, &format!("/v1/migrations/{id}/mappings"), &[]).await;
    if !a.ok() || as_json {
        let mut r = a.raw;
        if r.status == 200 {
            r.headers.push((
                "content-disposition",
                format!("attachment; filename=\"mapping-{}.json\"", enc(id)),
            ));
        }
        return r;
    }
    let mut csv = EXPORT_COLUMNS.join(",");
    csv.push_str("\r\n");
    for f in a.json["fields"].as_array().into_iter().flatten() {
        let cells = [
            text(&f["source"]),
            text(&f["target"]),
            text(&f["conversion"]),
            text(&f["confidence"]),
            text(&f["band"]),
            text(&f["reason"]),
            text(&f["decided_by"]),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
        csv.push_str(&line.join(","));
        csv.push_str("\r\n");
    }
    Response::csv(csv, &format!("mapping-{}", enc(id)))
}

/// The columns of a mapping export.
const EXPORT_COLUMNS: [&str; 7] = [
    "source",
    "target",
    "conversion",
    "confidence",
    "band",
    "reason",
    "decided_by",
];

/// The mapping as an XLSX workbook: text cells are written as strings (never formulas), the
/// confidence as a number.
async fn export_xlsx(api: &Api, req: &Request<'_>, id: &str) -> Response {
    let a = get(api, req, &format!("/v1/migrations/{id}/mappings"), &[]).await;
    if !a.ok() {
        return a.raw;
    }
    let fields: Vec<Value> = a.json["fields"].as_array().cloned().unwrap_or_default();
    let book = (|| -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        ws.set_name("mapping")?;
        let bold = rust_xlsxwriter::Format::new().set_bold();
        for (c, name) in (0u16..).zip(EXPORT_COLUMNS) {
            ws.write_string_with_format(0, c, name, &bold)?;
        }
        for (r, f) in (1u32..).zip(&fields) {
            for (c, name) in (0u16..).zip(EXPORT_COLUMNS) {
                match &f[name] {
                    Value::Number(n) => {
                        ws.write_number(r, c, n.as_f64().unwrap_or_default())?;
                    }
                    v => {
                        ws.write_string(r, c, text(v))?;
                    }
                }
            }
        }
        ws.set_freeze_panes(1, 0)?;
        wb.save_to_buffer()
    })();
    match book {
        Ok(bytes) => Response {
            status: 200,
            content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers: vec![(
                "content-disposition",
                format!("attachment; filename=\"mapping-{}.xlsx\"", enc(id)),
            )],
            body: bytes,
        },
        Err(e) => {
            tracing::error!(error = %e, "xlsx export failed");
            Response::error(500, "internal error")
        }
    }
}

async fn put_overrides(api: &Api, req: &Request<'_>, id: &str, overrides: Vec<Value>) -> Answer {
    let body = json!({ "overrides": overrides }).to_string();
    call(
        api,
        req,
        "PUT",
        &format!("/v1/migrations/{id}/mappings"),
        &[],
        "application/json",
        body.as_bytes(),
    )
    .await
}

async fn override_one(api: &Api, req: &Request<'_>, id: &str) -> Response {
    let f = form(req.body);
    let back = format!("{PREFIX}/migrations/{}", enc(id));
    let mut line = json!({
        "source": field(&f, "source").unwrap_or_default(),
        "target": field(&f, "target"),
        "reason": field(&f, "reason").unwrap_or_default(),
    });
    if let Some(c) = field(&f, "conversion") {
        line["conversion"] = json!(c);
    }
    let a = put_overrides(api, req, id, vec![line]).await;
    if !a.ok() {
        return refused(a.status, &a.json, &back);
    }
    see_other(format!("{back}?msg=override+saved"))
}

/// Bulk accept: each selected field is decided as suggested (target and conversion kept),
/// through the same overrides as one edit.
async fn accept(api: &Api, req: &Request<'_>, id: &str) -> Response {
    let f = form(req.body);
    let back = format!("{PREFIX}/migrations/{}", enc(id));
    let chosen: Vec<&str> = f
        .iter()
        .filter(|(k, _)| k == "accept")
        .map(|(_, v)| v.as_str())
        .collect();
    if chosen.is_empty() {
        return see_other(format!("{back}?msg=nothing+selected"));
    }
    let maps = get(api, req, &format!("/v1/migrations/{id}/mappings"), &[]).await;
    if !maps.ok() {
        return refused(maps.status, &maps.json, &back);
    }
    let overrides: Vec<Value> = maps.json["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| chosen.contains(&s(d, "source")))
        .map(|d| {
            let mut o = json!({
                "source": d["source"],
                "target": d["target"],
                "reason": "accepted as suggested in the console",
            });
            if !d["conversion"].is_null() {
                o["conversion"] = d["conversion"].clone();
            }
            o
        })
        .collect();
    let n = overrides.len();
    let a = put_overrides(api, req, id, overrides).await;
    if !a.ok() {
        return refused(a.status, &a.json, &back);
    }
    see_other(format!("{back}?msg={n}+fields+accepted"))
}

async fn act(api: &Api, req: &Request<'_>, id: &str, action: &str) -> Response {
    let back = format!("{PREFIX}/migrations/{}", enc(id));
    let asked = action;
    let (action, body) = match action {
        "preview" => ("approve", r#"{"preview":true}"#),
        "approve" | "pause" | "resume" | "cancel" | "rollback" => (action, ""),
        _ => return html(404, layout("Not found", "<p>No such action.</p>")),
    };
    let a = call(
        api,
        req,
        "POST",
        &format!("/v1/migrations/{id}/{action}"),
        &[],
        "application/json",
        body.as_bytes(),
    )
    .await;
    if !a.ok() {
        return refused(a.status, &a.json, &back);
    }
    see_other(format!("{back}?msg={asked}+requested"))
}

async fn quarantine(api: &Api, req: &Request<'_>, t: &str) -> Response {
    let back = format!("{PREFIX}/tenants/{}", enc(t));
    let provider = req.param("provider").unwrap_or_default();
    let outcome = req.param("outcome").unwrap_or("all");
    let from = req.param("from").unwrap_or_default();
    let to = req.param("to").unwrap_or_default();
    let keep = |r: &Value, at_key: &str| {
        (provider.is_empty() || s(r, "provider") == provider)
            && (from.is_empty() || s(r, at_key) >= from)
            && (to.is_empty() || s(r, at_key) <= to)
    };
    let mut out = notice(req);
    let _ = write!(
        out,
        "<form method=\"get\" action=\"{PREFIX}/tenants/{e}/quarantine\" class=\"actions\" aria-label=\"Filters\">\
<div class=\"field\"><label for=\"f-provider\">Provider</label><input id=\"f-provider\" name=\"provider\" value=\"{p}\"></div>\
<div class=\"field\"><label for=\"f-outcome\">Outcome</label><select id=\"f-outcome\" name=\"outcome\">{opts}</select></div>\
<div class=\"field\"><label for=\"f-from\">From (RFC 3339)</label><input id=\"f-from\" name=\"from\" value=\"{f}\" placeholder=\"2026-11-01T00:00:00Z\"></div>\
<div class=\"field\"><label for=\"f-to\">To</label><input id=\"f-to\" name=\"to\" value=\"{to}\"></div>\
<div class=\"field\"><span>&nbsp;</span><button type=\"submit\">Filter</button></div></form>\
<form method=\"get\" action=\"{PREFIX}/tenants/{e}/deliveries\" class=\"actions\">\
<div class=\"field\"><label for=\"d-id\">A delivery's story, by delivery id</label><input id=\"d-id\" name=\"id\"></div>\
<div class=\"field\"><span>&nbsp;</span><button type=\"submit\" class=\"secondary\">Show</button></div></form>",
        e = enc(t),
        p = esc(provider),
        f = esc(from),
        to = esc(to),
        opts = ["all", "quarantined", "rejected"]
            .iter()
            .map(|o| format!(
                "<option{}>{o}</option>",
                if *o == outcome { " selected" } else { "" }
            ))
            .collect::<String>(),
    );
    if outcome != "rejected" {
        let a = get(
            api,
            req,
            &format!("/v1/tenants/{t}/quarantine"),
            &paged(req, Vec::new()),
        )
        .await;
        if !a.ok() {
            return refused(a.status, &a.json, &back);
        }
        out.push_str(
            "<h2>Quarantined deliveries</h2><div class=\"table-wrap\"><table><thead><tr>\
<th scope=\"col\">Delivery</th><th scope=\"col\">Provider</th><th scope=\"col\">Received</th>\
<th scope=\"col\">Reason</th><th scope=\"col\">Replay</th></tr></thead><tbody>",
        );
        for r in a
            .json
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| keep(r, "received_at"))
        {
            let d = s(r, "delivery_id");
            let _ = write!(
                out,
                "<tr><td><a href=\"{PREFIX}/tenants/{e}/deliveries/{de}\">{dh}</a></td><td>{p}</td><td>{at}</td><td>{why}</td>\
<td><form class=\"inline\" method=\"post\" action=\"{PREFIX}/tenants/{e}/quarantine/{de}/replay\">\
<button type=\"submit\" aria-label=\"Replay {dh}\">Replay</button></form></td></tr>",
                e = enc(t),
                de = enc(d),
                dh = esc(d),
                p = esc(s(r, "provider")),
                at = esc(&text(&r["received_at"])),
                why = esc(s(r, "reason")),
            );
        }
        out.push_str("</tbody></table></div>");
        let mut base = format!(
            "{PREFIX}/tenants/{}/quarantine?outcome={}",
            enc(t),
            enc(outcome)
        );
        for (k, v) in [("provider", provider), ("from", from), ("to", to)] {
            if !v.is_empty() {
                let _ = write!(base, "&{k}={}", enc(v));
            }
        }
        out.push_str(&pager(req, &base, next_cursor(&a).as_deref()));
        out.push_str("<p class=\"muted\">The filters apply to the page shown; the delivery log filters the whole window.</p>");
    }
    if outcome != "quarantined" {
        let a = get(api, req, &format!("/v1/tenants/{t}/rejected"), &[]).await;
        out.push_str("<h2>Rejected by validation</h2>");
        if a.ok() {
            let rows: Vec<Value> = a
                .json
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| keep(r, "received_at") || keep(r, "at"))
                .cloned()
                .collect();
            out.push_str(&rendered(&Value::Array(rows)));
        } else {
            let _ = write!(out, "<p class=\"muted\">{}</p>", esc(s(&a.json, "error")));
        }
    }
    // The webhook counters over the same window (the stats route's from/to).
    let mut window = Vec::new();
    for (k, v) in [("from", from), ("to", to)] {
        if !v.is_empty() {
            window.push((k.to_owned(), v.to_owned()));
        }
    }
    let st = get(api, req, &format!("/v1/tenants/{t}/stats"), &window).await;
    out.push_str("<h2>Webhook counters</h2>");
    if st.ok() {
        out.push_str(&rendered(&st.json));
    } else {
        let _ = write!(out, "<p class=\"muted\">{}</p>", esc(s(&st.json, "error")));
    }
    page(&format!("Quarantine of {t}"), &out)
}

async fn replay(api: &Api, req: &Request<'_>, t: &str, id: &str) -> Response {
    let back = format!("{PREFIX}/tenants/{}/quarantine", enc(t));
    let a = call(
        api,
        req,
        "POST",
        &format!("/v1/tenants/{t}/quarantine/{id}/replay"),
        &[],
        "application/json",
        b"",
    )
    .await;
    if !a.ok() {
        return refused(a.status, &a.json, &back);
    }
    see_other(format!(
        "{PREFIX}/tenants/{}/deliveries/{}?msg=replay+queued",
        enc(t),
        enc(id)
    ))
}

/// The delivery log: a tenant's deliveries filtered by provider, outcome and time, a page
/// at a time, each linking to its story (`GET /v1/tenants/{t}/deliveries`).
async fn delivery_log(api: &Api, req: &Request<'_>, t: &str) -> Response {
    let back = format!("{PREFIX}/tenants/{}", enc(t));
    let provider = req.param("provider").unwrap_or_default();
    let outcome = req.param("outcome").unwrap_or("all");
    let from = req.param("from").unwrap_or_default();
    let to = req.param("to").unwrap_or_default();
    let mut query = Vec::new();
    for (k, v) in [
        ("provider", provider),
        ("outcome", outcome),
        ("from", from),
        ("to", to),
    ] {
        if !v.is_empty() && v != "all" {
            query.push((k.to_owned(), v.to_owned()));
        }
    }
    let a = get(
        api,
        req,
        &format!("/v1/tenants/{t}/deliveries"),
        &paged(req, query.clone()),
    )
    .await;
    if !a.ok() {
        return refused(a.status, &a.json, &back);
    }
    // The tenant's providers for the filter (a refusal leaves a text box).
    let tenant = get(api, req, &format!("/v1/tenants/{t}"), &[]).await;
    let providers: Vec<String> = tenant.json["providers"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let provider_field = if providers.is_empty() {
        format!(
            "<input id=\"f-provider\" name=\"provider\" value=\"{}\">",
            esc(provider)
        )
    } else {
        let mut sel = String::from(
            "<select id=\"f-provider\" name=\"provider\"><option value=\"\">all</option>",
        );
        for p in &providers {
            let _ = write!(
                sel,
                "<option{}>{}</option>",
                if p == provider { " selected" } else { "" },
                esc(p)
            );
        }
        sel.push_str("</select>");
        sel
    };
    let mut out = notice(req);
    let _ = write!(
        out,
        "<form method=\"get\" action=\"{PREFIX}/tenants/{e}/deliveries\" class=\"actions\" aria-label=\"Filters\">\
<div class=\"field\"><label for=\"f-provider\">Provider</label>{provider_field}</div>\
<div class=\"field\"><label for=\"f-outcome\">Outcome</label><select id=\"f-outcome\" name=\"outcome\">{opts}</select></div>\
<div class=\"field\"><label for=\"f-from\">From (RFC 3339; default 24 hours before to)</label><input id=\"f-from\" name=\"from\" value=\"{f}\" placeholder=\"2026-11-01T00:00:00Z\"></div>\
<div class=\"field\"><label for=\"f-to\">To (default now)</label><input id=\"f-to\" name=\"to\" value=\"{to}\"></div>\
<div class=\"field\"><span>&nbsp;</span><button type=\"submit\">Filter</button></div></form>\
<form method=\"get\" action=\"{PREFIX}/tenants/{e}/deliveries\" class=\"actions\">\
<div class=\"field\"><label for=\"d-id\">A delivery's story, by delivery id</label><input id=\"d-id\" name=\"id\"></div>\
<div class=\"field\"><span>&nbsp;</span><button type=\"submit\" class=\"secondary\">Show</button></div></form>",
        e = enc(t),
        f = esc(from),
        to = esc(to),
        opts = std::iter::once("all")
            .chain(crate::deliveries::OUTCOMES)
            .map(|o| format!(
                "<option{}>{o}</option>",
                if o == outcome { " selected" } else { "" }
            ))
            .collect::<String>(),
    );
    let _ = write!(
        out,
        "<div class=\"table-wrap\"><table id=\"deliveries\"><caption class=\"muted\">Received {} to {}, oldest first</caption><thead><tr>\
<th scope=\"col\">Delivery</th><th scope=\"col\">Received</th><th scope=\"col\">Provider</th><th scope=\"col\">Outcome</th>\
<th scope=\"col\">Vendor's delivery id</th><th scope=\"col\" class=\"num\">Bytes</th></tr></thead><tbody>",
        esc(&text(&a.json["from"])),
        esc(&text(&a.json["to"])),
    );
    let rows: Vec<Value> = a.json["deliveries"].as_array().cloned().unwrap_or_default();
    for r in &rows {
        let d = s(r, "delivery_id");
        let why = s(r, "reason");
        let _ = write!(
            out,
            "<tr data-outcome=\"{o}\" data-provider=\"{p}\"><td><a href=\"{PREFIX}/tenants/{e}/deliveries/{de}\">{dh}</a></td><td>{at}</td><td>{p}</td>\
<td><span class=\"outcome\">{o}</span>{why}</td><td><code>{key}</code></td><td class=\"num\">{bytes}</td></tr>",
            e = enc(t),
            de = enc(d),
            dh = esc(d),
            at = esc(&text(&r["received_at"])),
            p = esc(s(r, "provider")),
            o = esc(s(r, "outcome")),
            why = if why.is_empty() {
                String::new()
            } else {
                format!(" <span class=\"muted\">{}</span>", esc(why))
            },
            key = esc(&text(&r["vendor_delivery_key"])),
            bytes = esc(&text(&r["bytes"])),
        );
    }
    if rows.is_empty() {
        out.push_str("<tr><td colspan=\"6\" class=\"muted\">No deliveries on this page.</td></tr>");
    }
    out.push_str("</tbody></table></div>");
    // The next page keeps the filters and the window's end.
    let mut base = format!(
        "{PREFIX}/tenants/{}/deliveries?limit={}",
        enc(t),
        enc(req.param("limit").unwrap_or(PAGE))
    );
    for (k, v) in &query {
        if k != "to" {
            let _ = write!(base, "&{k}={}", enc(v));
        }
    }
    let _ = write!(base, "&to={}", enc(&text(&a.json["to"])));
    let next = a.json["next_cursor"].as_str().map(enc);
    out.push_str(&pager(req, &base, next.as_deref()));
    page(&format!("Delivery log of {t}"), &out)
}

/// Per provider: deliveries by outcome over a window and the success rate against the SLA
/// target (`GET /v1/tenants/{t}/stats/providers`).
async fn provider_stats(api: &Api, req: &Request<'_>, t: &str) -> Response {
    let back = format!("{PREFIX}/tenants/{}", enc(t));
    let window = req
        .param("window")
        .filter(|w| !w.is_empty())
        .unwrap_or("24h");
    let a = get(
        api,
        req,
        &format!("/v1/tenants/{t}/stats/providers"),
        &q(&[("window", window)]),
    )
    .await;
    if !a.ok() {
        return refused(a.status, &a.json, &back);
    }
    let mut out = String::new();
    let _ = write!(
        out,
        "<form method=\"get\" action=\"{PREFIX}/tenants/{e}/stats\" class=\"actions\"><div class=\"field\">\
<label for=\"window\">Window (ending now)</label><select id=\"window\" name=\"window\">{opts}</select></div>\
<div class=\"field\"><span>&nbsp;</span><button type=\"submit\">Show</button></div></form>\
<p class=\"muted\">From {f} to {to}. Success: published, duplicate or unhandled deliveries over those plus quarantined ones, as the SLA alarms count them (hourly buckets). \
SLA: met or missed against the provider's target; — without a target or without deliveries.</p>",
        e = enc(t),
        f = esc(&text(&a.json["from"])),
        to = esc(&text(&a.json["to"])),
        opts = ["1h", "24h", "7d", "30d"]
            .iter()
            .map(|w| format!(
                "<option{}>{w}</option>",
                if *w == window { " selected" } else { "" }
            ))
            .collect::<String>(),
    );
    const COLS: [(&str, &str); 8] = [
        ("received", "Received"),
        ("published", "Published"),
        ("duplicates", "Duplicates"),
        ("unhandled", "Unhandled"),
        ("quarantined", "Quarantined"),
        ("applied", "Applied"),
        ("stale", "Stale"),
        ("rejected", "Rejected"),
    ];
    out.push_str("<div class=\"table-wrap\"><table id=\"provider-stats\"><caption class=\"muted\">Deliveries by outcome per provider</caption><thead><tr><th scope=\"col\">Provider</th>\
<th scope=\"col\">SLA</th><th scope=\"col\" class=\"num\">Success</th><th scope=\"col\" class=\"num\">SLA target</th>");
    for (_, label) in COLS {
        let _ = write!(out, "<th scope=\"col\" class=\"num\">{label}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for r in a.json["providers"].as_array().into_iter().flatten() {
        let p = s(r, "provider");
        let pct = |v: &Value| {
            if v.is_null() {
                "—".to_owned()
            } else {
                format!("{} %", esc(&text(v)))
            }
        };
        let (sla, class) = match r["sla_met"].as_bool() {
            Some(true) => ("met", "ok"),
            Some(false) => ("missed", "err"),
            None => ("—", "muted"),
        };
        let _ = write!(
            out,
            "<tr data-provider=\"{pe}\"><th scope=\"row\">{pe}</th><td><span class=\"{class}\">{sla}</span></td>\
<td class=\"num\" data-col=\"success_percent\">{}</td><td class=\"num\" data-col=\"sla_target_percent\">{}</td>",
            pct(&r["success_percent"]),
            pct(&r["sla_target_percent"]),
            pe = esc(p),
        );
        for (key, _) in COLS {
            let _ = write!(
                out,
                "<td class=\"num\" data-col=\"{key}\">{}</td>",
                esc(&text(&r[key]))
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    page(&format!("Stats and SLA of {t}"), &out)
}

async fn delivery(api: &Api, req: &Request<'_>, t: &str, id: &str) -> Response {
    let back = format!("{PREFIX}/tenants/{}/deliveries", enc(t));
    let a = get(api, req, &format!("/v1/tenants/{t}/deliveries/{id}"), &[]).await;
    if !a.ok() {
        return refused(a.status, &a.json, &back);
    }
    let mut out = notice(req);
    let _ = write!(
        out,
        "<p><a href=\"{}\">← Delivery log</a></p><dl><dt>State</dt><dd><strong>{}</strong></dd>\
<dt>Provider</dt><dd>{}</dd><dt>Vendor's delivery id</dt><dd>{}</dd></dl><h2>Story</h2>",
        esc(&back),
        esc(&text(&a.json["state"])),
        esc(&text(&a.json["provider"])),
        esc(&text(&a.json["vendor_delivery_key"])),
    );
    out.push_str(&rendered(&a.json["history"]));
    out.push_str("<h2>Events and their outcome</h2>");
    out.push_str(&rendered(&a.json["events"]));
    page(&format!("Delivery {id}"), &out)
}

async fn costs(api: &Api, req: &Request<'_>) -> Response {
    let mut query = q(&[("totals", "true")]);
    if let Some(p) = req.param("period").filter(|p| !p.is_empty()) {
        query.push(("period".into(), p.to_owned()));
    }
    let a = get(api, req, "/v1/costs", &query).await;
    if !a.ok() {
        return refused(a.status, &a.json, PREFIX);
    }
    let period = req.param("period").unwrap_or_default();
    let mut out = String::new();
    let _ = write!(
        out,
        "<form method=\"get\" action=\"{PREFIX}/costs\" class=\"actions\"><div class=\"field\"><label for=\"period\">Month (YYYY-MM; empty: this month)</label>\
<input id=\"period\" name=\"period\" value=\"{p}\" pattern=\"[0-9]{{4}}-[0-9]{{2}}\"></div>\
<div class=\"field\"><span>&nbsp;</span><button type=\"submit\">Show</button></div></form>\
<p><a href=\"/v1/costs?totals=true&amp;format=csv{pq}\">Download as CSV</a></p>",
        p = esc(period),
        pq = if period.is_empty() {
            String::new()
        } else {
            format!("&amp;period={}", enc(period))
        },
    );
    out.push_str("<div class=\"table-wrap\"><table id=\"costs\"><caption class=\"muted\">AI cost per tenant (USD, exact)</caption><thead><tr>\
<th scope=\"col\">Tenant</th><th scope=\"col\" class=\"num\">Requests</th><th scope=\"col\" class=\"num\">Input tokens</th>\
<th scope=\"col\" class=\"num\">Output tokens</th><th scope=\"col\" class=\"num\">AI cost</th><th scope=\"col\" class=\"num\">Budget</th>\
<th scope=\"col\" class=\"num\">Budget used</th><th scope=\"col\" class=\"num\">Infrastructure</th></tr></thead><tbody>");
    let rows: Vec<Value> = a.json.as_array().cloned().unwrap_or_default();
    let mut total_row = None;
    for r in &rows {
        let id = s(r, "tenant_id");
        if id == "(total)" {
            total_row = Some(r);
            continue;
        }
        let _ = write!(
            out,
            "<tr><th scope=\"row\"><a href=\"{PREFIX}/tenants/{e}\">{h}</a></th><td class=\"num\">{req}</td>\
<td class=\"num\">{i}</td><td class=\"num\">{o}</td>{cost}{budget}<td class=\"num\">{used}</td>{infra}</tr>",
            e = enc(id),
            h = esc(id),
            req = esc(&text(&r["requests"])),
            i = esc(&text(&r["input_tokens"])),
            o = esc(&text(&r["output_tokens"])),
            cost = money(&r["cost_usd"], "USD"),
            budget = money(&r["budget_usd"], "USD"),
            used = if r["budget_used_percent"].is_null() {
                "—".to_owned()
            } else {
                format!("{} %", esc(&text(&r["budget_used_percent"])))
            },
            infra = money(&r["infra_cost_usd"], "USD"),
        );
    }
    out.push_str("</tbody>");
    if let Some(t) = total_row {
        let _ = write!(
            out,
            "<tfoot><tr class=\"total\"><th scope=\"row\">Total</th><td class=\"num\" data-total=\"requests\">{req}</td>\
<td class=\"num\">{i}</td><td class=\"num\">{o}</td><td class=\"num\" data-total=\"cost_usd\">{c} USD</td><td></td><td></td>{infra}</tr></tfoot>",
            req = esc(&text(&t["requests"])),
            i = esc(&text(&t["input_tokens"])),
            o = esc(&text(&t["output_tokens"])),
            c = esc(&text(&t["cost_usd"])),
            infra = money(&t["infra_cost_usd"], "USD"),
        );
    }
    out.push_str("</table></div>");
    let b = get(api, req, "/v1/budgets", &query).await;
    out.push_str("<h2>Budgets and thresholds</h2>");
    if b.ok() {
        out.push_str(&rendered(&b.json["budgets"]));
    } else {
        let _ = write!(out, "<p class=\"muted\">{}</p>", esc(s(&b.json, "error")));
    }
    page("Costs", &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_attribute_quotes() {
        assert_eq!(
            esc(r#"<img src=x onerror="alert('1')">&"#),
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;"
        );
        let mut out = String::new();
        render(
            &mut out,
            &json!([{ "<b>key</b>": "<script>x</script>", "n": 3 }, { "x": { "<i>": null } }]),
            0,
        );
        assert!(!out.contains("<script>") && !out.contains("<b>") && !out.contains("<i>"));
        assert!(out.contains("&lt;script&gt;x&lt;/script&gt;"), "{out}");
        assert!(
            out.contains("class=\"num\""),
            "numbers are right-aligned: {out}"
        );
    }

    #[test]
    fn form_bodies_decode_without_panicking() {
        let pairs = form(b"a=1+2&b=%3Cx%3E&c=%zz&d=%&e&=f&g=%E2%82%AC");
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("a", "1 2"),
                ("b", "<x>"),
                ("c", "%zz"),
                ("d", "%"),
                ("e", ""),
                ("", "f"),
                ("g", "€"),
            ]
        );
        assert_eq!(form(b"x=%F")[0].1, "%F");
        assert_eq!(form(b"x=%ff")[0].1, "\u{fffd}");
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }

    #[test]
    fn assets_are_static_text() {
        let css: &'static str = CSS;
        let js: &'static str = JS;
        assert!(css.contains(".band-high") && js.contains("data-poll"));
        assert!(CSS.len() + JS.len() < 16 * 1024, "a few KB");
    }
}
