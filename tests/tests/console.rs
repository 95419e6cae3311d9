//! The console in a real headless browser: Debian's Chromium driven over the DevTools
//! protocol (headless_chrome) against `tillbridge serve`. An operator reviews, previews,
//! approves, watches and rolls back a CSV migration; replays a delivery from quarantine; a
//! finance reviewer reads a month's costs whose totals equal `GET /v1/costs`'s. Screenshots of
//! every page go to target/console-screenshots/.
//!
//! Chromium: `apt-get install chromium` (tests/run.sh installs it when missing); the browser
//! tests say so and skip when it is absent (`TILLBRIDGE_REQUIRE_BROWSER=1` makes that a
//! failure). The hostile-string test needs no browser.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};
use support::{Server, post_shopify, product, temp_state};

const WAIT: Duration = Duration::from_secs(30);

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A headless Chromium at `width`×`height`, or None (skip) when Chromium is not installed.
fn browser(width: u32, height: u32) -> Option<Browser> {
    let Some(path) = chromium() else {
        assert!(
            std::env::var_os("TILLBRIDGE_REQUIRE_BROWSER").is_none(),
            "Chromium is required (apt-get install chromium)"
        );
        eprintln!("SKIPPED: no Chromium (apt-get install chromium)");
        return None;
    };
    let options = LaunchOptions::default_builder()
        .path(Some(path))
        .headless(true)
        // Containers run tests as root, where Chromium's sandbox cannot start.
        .sandbox(false)
        .window_size(Some((width, height)))
        .idle_browser_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    Some(Browser::new(options).unwrap())
}

fn shots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let dir = target.join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A full-page PNG (beyond the viewport) of what the tab shows, and a half-scale copy
/// (`name.small.png`, at most 1,600 CSS pixels tall) for the README.
fn shot(tab: &Tab, name: &str) {
    use base64::Engine as _;
    use headless_chrome::protocol::cdp::Page;
    let size = |js: &str| eval(tab, js).as_f64().unwrap_or(1000.0);
    let width = size("document.documentElement.scrollWidth");
    let height = size("document.documentElement.scrollHeight").min(6000.0);
    for (file, scale, height) in [
        (format!("{name}.png"), 1.0, height),
        (format!("{name}.small.png"), 0.5, height.min(1600.0)),
    ] {
        let png = tab
            .call_method(Page::CaptureScreenshot {
                format: Some(CaptureScreenshotFormatOption::Png),
                quality: None,
                clip: Some(Page::Viewport {
                    x: 0.0,
                    y: 0.0,
                    width,
                    height,
                    scale,
                }),
                from_surface: Some(true),
                capture_beyond_viewport: Some(true),
                optimize_for_speed: None,
            })
            .unwrap();
        let png = base64::engine::general_purpose::STANDARD
            .decode(png.data)
            .unwrap();
        std::fs::write(shots_dir().join(file), png).unwrap();
    }
}

fn open(tab: &Arc<Tab>, s: &Server, path: &str) {
    tab.navigate_to(&format!("http://{}{path}", s.addr))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
}

/// Clicks what `selector` finds and waits for the next page (a new document: the marker set
/// on this one is gone, and it has loaded).
fn click(tab: &Arc<Tab>, selector: &str) {
    eval(tab, "window.__before_click = true; true");
    tab.wait_for_element(selector)
        .unwrap_or_else(|e| panic!("{selector}: {e}"))
        .click()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < WAIT {
        let loaded = eval(
            tab,
            "window.__before_click === undefined && document.readyState === 'complete'",
        );
        if loaded == serde_json::json!(true) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no new page after clicking {selector}");
}

fn eval(tab: &Tab, js: &str) -> serde_json::Value {
    tab.evaluate(js, false)
        .ok()
        .and_then(|r| r.value)
        .unwrap_or(serde_json::Value::Null)
}

fn page_text(tab: &Tab) -> String {
    eval(tab, "document.body ? document.body.innerText : ''")
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits until the page shows `status`: first by the page's own polling (it reloads when a
/// busy migration settles), then by reloading. Returns whether the page got there alone.
fn wait_status(tab: &Arc<Tab>, status: &str) -> bool {
    let start = Instant::now();
    let current = |tab: &Tab| {
        eval(
            tab,
            "document.readyState === 'complete' \
             && (document.querySelector('[data-status]') || {}).textContent || ''",
        )
    };
    while start.elapsed() < Duration::from_secs(15) {
        if current(tab) == status {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    while start.elapsed() < WAIT * 2 {
        let _ = tab
            .reload(false, None)
            .and_then(|t| t.wait_until_navigated());
        if current(tab) == status {
            return false;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("the page never showed {status}: {}", page_text(tab));
}

#[test]
fn an_operator_reviews_previews_approves_watches_and_rolls_back_a_migration_in_the_browser() {
    let Some(browser) = browser(1280, 1000) else {
        return;
    };
    let s = Server::start_with(temp_state("console-mig"), &["--operator", "ana@ops"], &[]);
    let tab = browser.new_tab().unwrap();

    open(&tab, &s, "/console/");
    assert!(page_text(&tab).contains("t1"), "{}", page_text(&tab));
    shot(&tab, "tenants");
    open(&tab, &s, "/console/tenants/t1");
    assert!(page_text(&tab).contains("shopify"));
    shot(&tab, "tenant");

    // Upload a small CSV export from the migrations page.
    open(&tab, &s, "/console/tenants/t1/migrations");
    tab.wait_for_element("#source_name")
        .unwrap()
        .click()
        .unwrap();
    tab.type_str("lightspeed").unwrap();
    // The export is picked as a file; the page reads it into the form.
    let file = s.state.join("export.csv");
    std::fs::write(
        &file,
        "Item ID,Item Name,Price,SKU,Colour code\nA1,Latte,4.50,LAT-1,R\nA2,Mocha,5.00,MOC-1,G\n",
    )
    .unwrap();
    tab.wait_for_element("#export-file")
        .unwrap()
        .set_input_files(&[file.to_str().unwrap()])
        .unwrap();
    let start = Instant::now();
    while eval(&tab, "document.getElementById('export').value.length > 0")
        != serde_json::json!(true)
    {
        assert!(
            start.elapsed() < WAIT,
            "the file was not read into the form"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    click(&tab, "form[action$='/migrations'] button[type=submit]");
    let url = tab.get_url();
    let id = url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(id.starts_with("mig"), "{url}");
    wait_status(&tab, "mapping_review");
    let text = page_text(&tab);
    // Bands with their names (not colour alone), reasons, export links.
    assert!(text.contains("High (over 90 %)"), "{text}");
    assert!(text.contains("Export as CSV"), "{text}");
    shot(&tab, "migration-review");

    // Show only low confidence, then back.
    tab.wait_for_element("input[name=low]")
        .unwrap()
        .click()
        .unwrap();
    click(&tab, "form[method=get] button[type=submit]");
    assert!(tab.get_url().contains("low=1"));
    let low = page_text(&tab);
    assert!(!low.contains("High (over 90 %)"), "{low}");
    shot(&tab, "migration-review-low");
    open(&tab, &s, &format!("/console/migrations/{id}"));

    // Bulk accept every suggestion, then override one field with a conversion.
    tab.wait_for_element("input[data-select-all]")
        .unwrap()
        .click()
        .unwrap();
    click(&tab, "form[action$='/accept'] button[type=submit]");
    assert!(
        page_text(&tab).contains("fields accepted"),
        "{}",
        page_text(&tab)
    );
    eval(
        &tab,
        "document.getElementById('ov-source').value = 'Price'; \
         document.getElementById('ov-target').value = 'price_minor'; \
         document.getElementById('ov-conversion').value = 'money_string'; \
         document.getElementById('ov-reason').value = 'prices are decimal strings'; true",
    );
    click(&tab, "form[action$='/mappings'] button[type=submit]");
    let text = page_text(&tab);
    assert!(text.contains("override saved"), "{text}");
    assert!(
        text.contains("ana@ops"),
        "the override is the operator's: {text}"
    );
    // The JSON export carries the same decisions.
    let (status, exported) = s.get(&format!("/console/migrations/{id}/mapping.json"));
    assert_eq!(status, 200);
    assert_eq!(
        json(&exported)["fields"],
        json(&s.get(&format!("/v1/migrations/{id}/mappings")).1)["fields"]
    );
    let (status, exported) = s.get(&format!("/console/migrations/{id}/mapping.csv"));
    assert_eq!(status, 200);
    assert!(
        exported.starts_with("source,target,conversion"),
        "{exported}"
    );
    let (status, xlsx) = s.get(&format!("/console/migrations/{id}/mapping.xlsx"));
    assert_eq!(status, 200);
    assert!(xlsx.starts_with("PK"), "an XLSX is a ZIP");

    // Preview: validation without applying, with per-item findings.
    click(&tab, "form[action$='/preview'] button");
    wait_status(&tab, "previewed");
    assert!(page_text(&tab).contains("Validation report"));
    shot(&tab, "migration-preview");

    // Approve; the progress bar is polled until the page shows completion.
    click(&tab, "form[action$='/approve'] button");
    let live = wait_status(&tab, "completed");
    eprintln!("completion shown by the page's own polling: {live}");
    let percent = eval(&tab, "document.getElementById('bar').value");
    assert_eq!(percent, serde_json::json!(100), "{}", page_text(&tab));
    shot(&tab, "migration-completed");

    // Roll back, with its verification.
    click(&tab, "form[action$='/rollback'] button");
    wait_status(&tab, "rolled_back");
    let text = page_text(&tab);
    assert!(text.contains("Rollback and its verification"), "{text}");
    shot(&tab, "migration-rolled-back");
    let api = json(&s.get(&format!("/v1/migrations/{id}")).1);
    assert_eq!(api["status"], "rolled_back");
    assert_eq!(api["approved_by"], "ana@ops");

    // At phone width the page does not scroll sideways (tables scroll in their own box).
    let phone = browser.new_tab().unwrap();
    phone
        .call_method(
            headless_chrome::protocol::cdp::Emulation::SetDeviceMetricsOverride {
                width: 390,
                height: 844,
                device_scale_factor: 1.0,
                mobile: true,
                scale: None,
                screen_width: None,
                screen_height: None,
                position_x: None,
                position_y: None,
                dont_set_visible_size: None,
                screen_orientation: None,
                viewport: None,
                display_feature: None,
                device_posture: None,
            },
        )
        .unwrap();
    open(&phone, &s, &format!("/console/migrations/{id}"));
    assert_eq!(
        eval(
            &phone,
            "document.documentElement.scrollWidth <= window.innerWidth + 1"
        ),
        serde_json::json!(true)
    );
    shot(&phone, "migration-phone");
}

#[test]
fn an_operator_replays_a_quarantined_delivery_in_the_browser() {
    let Some(browser) = browser(1280, 900) else {
        return;
    };
    let s = Server::start(temp_state("console-replay"));
    let (status, _) = post_shopify(
        &s.addr,
        "t1",
        "forged-1",
        &product(7, 77, "1.00", "2026-03-01T10:00:00Z"),
        "wrong-secret",
    );
    assert_eq!(status, 202);
    s.eventually("the forgery quarantined", WAIT, |s| {
        json(&s.get("/v1/tenants/t1/quarantine").1)
            .as_array()
            .is_some_and(|a| a.len() == 1)
    });
    let q = json(&s.get("/v1/tenants/t1/quarantine").1);
    let id = q[0]["delivery_id"].as_str().unwrap().to_owned();
    let tab = browser.new_tab().unwrap();
    open(&tab, &s, "/console/tenants/t1/quarantine?provider=shopify");
    assert!(page_text(&tab).contains(&id), "{}", page_text(&tab));
    shot(&tab, "quarantine");
    // Filters: another provider shows none.
    open(&tab, &s, "/console/tenants/t1/quarantine?provider=square");
    assert!(!page_text(&tab).contains(&id));
    open(&tab, &s, "/console/tenants/t1/quarantine");
    click(
        &tab,
        &format!("form[action$='/quarantine/{id}/replay'] button"),
    );
    let text = page_text(&tab);
    assert!(text.contains("replay queued"), "{text}");
    assert!(text.contains("quarantined"), "{text}");
    s.eventually("the replay in the story", WAIT, |s| {
        let story = json(&s.get(&format!("/v1/tenants/t1/deliveries/{id}")).1);
        story["history"]
            .as_array()
            .is_some_and(|h| h.iter().any(|step| step["step"] == "replayed"))
    });
    tab.reload(false, None)
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    assert!(page_text(&tab).contains("replayed"), "{}", page_text(&tab));
    shot(&tab, "delivery-story");
}

#[test]
fn the_cost_dashboard_totals_equal_the_apis_in_the_browser() {
    let Some(browser) = browser(1280, 900) else {
        return;
    };
    let s = Server::start(temp_state("console-costs"));
    for i in 0..12 {
        let tenant = if i % 3 == 0 { "t2" } else { "t1" };
        let line = format!(
            r#"{{"request_id":"c{i}","tenant_id":"{tenant}","operation":"mapping.suggest","provider":"openai","model":"{}","input_tokens":{},"output_tokens":{},"occurred_at":"2026-03-{:02}T10:00:00Z"}}"#,
            if i % 2 == 0 { "gpt-4o" } else { "gpt-4o-mini" },
            10_000 + i * 17,
            500 + i,
            1 + i
        );
        let (status, body) = s.request(
            "POST",
            &format!("/v1/tenants/{tenant}/usage"),
            &[("Content-Type", "application/json".into())],
            line.as_bytes(),
        );
        assert_eq!(status, 202, "{body}");
    }
    let total = |s: &Server| {
        json(&s.get("/v1/costs?period=2026-03&totals=true").1)
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["tenant_id"] == "(total)").cloned())
            .unwrap_or_default()
    };
    s.eventually("every call accounted", WAIT, |s| total(s)["requests"] == 12);
    let api_total = total(&s);
    let tab = browser.new_tab().unwrap();
    open(&tab, &s, "/console/costs?period=2026-03");
    // Keyboard: the first Tab reaches the "skip to content" link, the next ones the navigation.
    tab.press_key("Tab").unwrap();
    assert_eq!(
        eval(&tab, "document.activeElement.textContent"),
        serde_json::json!("Skip to content")
    );
    tab.press_key("Tab").unwrap();
    assert_eq!(
        eval(&tab, "document.activeElement.tagName"),
        serde_json::json!("A")
    );
    let shown = eval(
        &tab,
        "document.querySelector('[data-total=cost_usd]').textContent",
    );
    assert_eq!(
        shown,
        serde_json::json!(format!("{} USD", api_total["cost_usd"].as_str().unwrap())),
        "{}",
        page_text(&tab)
    );
    assert_eq!(
        eval(
            &tab,
            "document.querySelector('[data-total=requests]').textContent"
        ),
        serde_json::json!("12")
    );
    // The amounts are right-aligned.
    assert_eq!(
        eval(
            &tab,
            "getComputedStyle(document.querySelector('[data-total=cost_usd]')).textAlign"
        ),
        serde_json::json!("right")
    );
    // The download link is the API's CSV.
    let href = eval(
        &tab,
        "document.querySelector('a[href*=\"format=csv\"]').getAttribute('href')",
    );
    let href = href.as_str().unwrap().to_owned();
    let (status, csv) = s.get(&href);
    assert_eq!(status, 200);
    assert_eq!(
        csv,
        s.get("/v1/costs?period=2026-03&totals=true&format=csv").1
    );
    shot(&tab, "costs");
    // A tenant's cost per day and per model, with the same total as the API's.
    open(&tab, &s, "/console/tenants/t1?period=2026-03");
    let text = page_text(&tab);
    let by_day = json(&s.get("/v1/tenants/t1/costs?period=2026-03&group_by=day").1);
    assert!(
        text.contains("AI cost per day") && text.contains("AI cost per model"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{} USD",
            by_day["totals"]["cost_usd"].as_str().unwrap()
        )),
        "{text}"
    );
    shot(&tab, "tenant-costs");
}

/// t1 with two providers, so the delivery log's provider filter has something to leave out.
const TWO_PROVIDERS: &str = r#"{"tenants":[
 {"tenant_id":"t1","currency":"USD","providers":{"shopify":{"secret":"shp-secret"},"square":{"secret":"sq-secret"}}}]}"#;

fn rows_shown(tab: &Tab) -> Vec<(String, String, String)> {
    let v = eval(
        tab,
        "JSON.stringify([...document.querySelectorAll('#deliveries tbody tr[data-outcome]')]\
         .map(r => [r.querySelector('a').textContent, r.dataset.provider, r.dataset.outcome]))",
    );
    serde_json::from_str(v.as_str().unwrap_or("[]")).unwrap_or_default()
}

#[test]
fn the_delivery_log_filters_by_provider_and_outcome_and_opens_a_story_in_the_browser() {
    let Some(browser) = browser(1280, 900) else {
        return;
    };
    let s = Server::start_with_tenants(temp_state("console-log"), TWO_PROVIDERS, &[], &[]);
    let sent = [
        (
            "good-1",
            product(1, 11, "1.00", "2026-03-01T10:00:00Z"),
            "shp-secret",
        ),
        (
            "good-2",
            product(2, 22, "2.00", "2026-03-01T10:00:00Z"),
            "shp-secret",
        ),
        (
            "forged-1",
            product(3, 33, "3.00", "2026-03-01T10:00:00Z"),
            "wrong-secret",
        ),
    ];
    let mut ids = Vec::new();
    for (webhook, body, secret) in &sent {
        let (status, answer) = post_shopify(&s.addr, "t1", webhook, body, secret);
        assert_eq!(status, 202, "{answer}");
        ids.push(json(&answer)["delivery_id"].as_str().unwrap().to_owned());
    }
    let settled = |s: &Server, n: usize| {
        let log = json(&s.get("/v1/tenants/t1/deliveries").1);
        log["deliveries"].as_array().is_some_and(|rows| {
            rows.len() == n
                && rows
                    .iter()
                    .all(|r| !matches!(r["outcome"].as_str(), Some("received" | "published")))
        })
    };
    s.eventually("three deliveries settled", WAIT, |s| settled(s, 3));
    // An older version of product 1 (stale) and good-2 again (a duplicate), after the first
    // ones settled so the outcomes do not race.
    for (webhook, body) in [
        ("old-1", product(1, 11, "0.50", "2026-03-01T09:00:00Z")),
        ("good-2", product(2, 22, "2.00", "2026-03-01T10:00:00Z")),
    ] {
        let (status, answer) = post_shopify(&s.addr, "t1", webhook, &body, "shp-secret");
        assert_eq!(status, 202, "{answer}");
        ids.push(json(&answer)["delivery_id"].as_str().unwrap().to_owned());
    }
    s.eventually("five deliveries settled", WAIT, |s| settled(s, 5));

    // The JSON route: oldest first, the outcome of each, the filters, the cursor.
    let log = json(&s.get("/v1/tenants/t1/deliveries").1);
    let outcomes: Vec<&str> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        outcomes,
        ["applied", "applied", "quarantined", "stale", "duplicate"],
        "{log}"
    );
    let listed: Vec<&str> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["delivery_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(listed, ids, "oldest first");
    let count = |q: &str| {
        json(&s.get(&format!("/v1/tenants/t1/deliveries?{q}")).1)["deliveries"]
            .as_array()
            .map_or(0, Vec::len)
    };
    assert_eq!(count("provider=square"), 0);
    assert_eq!(count("provider=shopify&outcome=applied"), 2);
    assert_eq!(count("outcome=quarantined"), 1);
    assert_eq!(count("outcome=bogus"), 0, "a 400 has no rows");
    assert_eq!(s.get("/v1/tenants/t1/deliveries?outcome=bogus").0, 400);
    assert_eq!(s.get("/v1/tenants/t1/deliveries?cursor=%3Cx%3E").0, 400);
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = json(
            &s.get(&format!("/v1/tenants/t1/deliveries?limit=2{cursor}"))
                .1,
        );
        for r in page["deliveries"].as_array().unwrap() {
            paged.push(r["delivery_id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
        assert!(paged.len() <= 5, "{paged:?}");
    }
    assert_eq!(paged, ids, "pages of two: every delivery once, in order");

    // The page: filtered by provider and outcome.
    let tab = browser.new_tab().unwrap();
    open(
        &tab,
        &s,
        "/console/tenants/t1/deliveries?provider=shopify&outcome=quarantined",
    );
    assert_eq!(
        rows_shown(&tab),
        [(
            ids[2].clone(),
            "shopify".to_owned(),
            "quarantined".to_owned()
        )],
        "{}",
        page_text(&tab)
    );
    assert!(
        page_text(&tab).contains("signature rejected"),
        "{}",
        page_text(&tab)
    );
    shot(&tab, "delivery-log-quarantined");
    // Through the form: square has none.
    eval(
        &tab,
        "document.getElementById('f-provider').value = 'square'; \
         document.getElementById('f-outcome').value = 'all'; true",
    );
    click(&tab, "form[aria-label=Filters] button[type=submit]");
    assert!(
        tab.get_url().contains("provider=square"),
        "{}",
        tab.get_url()
    );
    assert!(rows_shown(&tab).is_empty(), "{}", page_text(&tab));
    // Every shopify delivery, two a page.
    open(
        &tab,
        &s,
        "/console/tenants/t1/deliveries?provider=shopify&limit=2",
    );
    let first = rows_shown(&tab);
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].0, ids[0]);
    shot(&tab, "delivery-log");
    click(&tab, "a[data-next]");
    let second = rows_shown(&tab);
    assert_eq!(
        second.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        ids[2..4].to_vec(),
        "{}",
        page_text(&tab)
    );
    // The applied ones, and the first one's story.
    open(&tab, &s, "/console/tenants/t1/deliveries?outcome=applied");
    let applied = rows_shown(&tab);
    assert_eq!(
        applied.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        ids[..2].to_vec()
    );
    click(
        &tab,
        &format!("#deliveries a[href$='/deliveries/{}']", ids[0]),
    );
    let story = page_text(&tab);
    assert!(tab.get_url().ends_with(&ids[0]), "{}", tab.get_url());
    for expected in ["received", "published", "applied", "good-1"] {
        assert!(story.contains(expected), "{expected}: {story}");
    }
}

#[test]
fn the_stats_page_shows_the_numbers_of_the_json_route_in_the_browser() {
    let Some(browser) = browser(1280, 700) else {
        return;
    };
    let s = Server::start_with_tenants(temp_state("console-stats"), TWO_PROVIDERS, &[], &[]);
    for (webhook, secret) in [("a", "shp-secret"), ("b", "shp-secret"), ("c", "nope")] {
        let (status, _) = post_shopify(
            &s.addr,
            "t1",
            webhook,
            &product(
                5,
                55,
                "1.00",
                &format!("2026-03-01T10:00:0{}Z", webhook.len()),
            ),
            secret,
        );
        assert_eq!(status, 202);
    }
    s.eventually("three deliveries counted", WAIT, |s| {
        let st = json(&s.get("/v1/tenants/t1/stats/providers?window=1h").1);
        st["providers"]
            .as_array()
            .and_then(|p| p.iter().find(|r| r["provider"] == "shopify"))
            .is_some_and(|r| r["received"] == 3)
    });
    // Both published deliveries carry the same product version: one applies, the other is a
    // catalog duplicate (not a column here). Let both land so the page and the route agree.
    s.eventually("both applies counted", WAIT, |s| {
        let st = json(&s.get("/v1/tenants/t1/stats").1);
        let n = |k: &str| st[k].as_i64().unwrap_or(0);
        n("shopify.applied") + n("shopify.duplicate") + n("shopify.stale") == 2
    });
    let api = json(&s.get("/v1/tenants/t1/stats/providers?window=1h").1);
    let shopify = api["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["provider"] == "shopify")
        .unwrap()
        .clone();
    assert_eq!(shopify["quarantined"], 1);
    assert_eq!(shopify["success_percent"], "66.67");
    assert_eq!(shopify["sla_target_percent"], "98.5");
    assert_eq!(shopify["sla_met"], false);
    let tab = browser.new_tab().unwrap();
    open(&tab, &s, "/console/tenants/t1/stats?window=1h");
    for row in api["providers"].as_array().unwrap() {
        let p = row["provider"].as_str().unwrap();
        for col in [
            "received",
            "published",
            "duplicates",
            "unhandled",
            "quarantined",
            "applied",
            "stale",
            "rejected",
        ] {
            let shown = eval(
                &tab,
                &format!(
                    "document.querySelector('tr[data-provider={p}] td[data-col={col}]').textContent"
                ),
            );
            assert_eq!(shown, serde_json::json!(row[col].to_string()), "{p} {col}");
        }
        for col in ["success_percent", "sla_target_percent"] {
            let shown = eval(
                &tab,
                &format!(
                    "document.querySelector('tr[data-provider={p}] td[data-col={col}]').textContent"
                ),
            );
            let want = row[col]
                .as_str()
                .map_or_else(|| "—".to_owned(), |v| format!("{v} %"));
            assert_eq!(shown, serde_json::json!(want), "{p} {col}");
        }
    }
    assert!(page_text(&tab).contains("missed"), "{}", page_text(&tab));
    shot(&tab, "provider-stats");
}

#[test]
fn the_review_shows_sample_values_with_personal_data_masked_in_the_browser() {
    let Some(browser) = browser(1280, 1000) else {
        return;
    };
    let s = Server::start(temp_state("console-samples"));
    let csv = "Item ID,Item Name,Price,Customer Email,Notes\n\
               A1,Latte,4.50,ana@example.com,call +46 70 123 45 67\n\
               A2,Mocha,5.00,bo@example.com,ok\n\
               A3,Chai,5.50,cy@example.com,mail ana@example.com\n\
               A4,Flat white,6.00,di@example.com,ok\n";
    let (status, body) = s.request(
        "POST",
        "/v1/migrations?tenant_id=t1&source_name=lightspeed",
        &[("content-type", "text/csv".to_owned())],
        csv.as_bytes(),
    );
    assert_eq!(status, 202, "{body}");
    let id = json(&body)["id"].as_str().unwrap().to_owned();
    s.eventually("mapping review", WAIT, |s| {
        json(&s.get(&format!("/v1/migrations/{id}")).1)["status"] == "mapping_review"
    });
    // The JSON review route carries the samples; never an address or phone number.
    let (_, maps) = s.get(&format!("/v1/migrations/{id}/mappings"));
    assert!(
        !maps.contains("example.com") && !maps.contains("70 123"),
        "{maps}"
    );
    let maps = json(&maps);
    let field = |name: &str| {
        maps["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["source"] == name)
            .unwrap_or_else(|| panic!("{name}: {maps}"))
            .clone()
    };
    assert_eq!(
        field("Item Name")["samples"],
        serde_json::json!(["Latte", "Mocha", "Chai"])
    );
    assert_eq!(field("Customer Email")["pii"], true);
    assert!(field("Customer Email")["samples"].is_null());
    let tab = browser.new_tab().unwrap();
    open(&tab, &s, &format!("/console/migrations/{id}"));
    let text = page_text(&tab);
    assert!(text.contains("Samples: Latte, Mocha, Chai"), "{text}");
    assert!(text.contains("Samples not shown: personal data"), "{text}");
    assert!(text.contains("<phone>"), "{text}");
    assert!(
        !text.contains("example.com") && !text.contains("70 123"),
        "{text}"
    );
    shot(&tab, "migration-review-samples");
}

/// Hostile strings in an export (a column name, an item name) and in a notice are shown as text, never markup.
#[test]
fn hostile_strings_in_an_export_never_become_markup() {
    let s = Server::start(temp_state("console-hostile"));
    let csv = "Item ID,Item Name,<script>alert(1)</script>,Price\nA1,<img src=x onerror=alert(2)>,x,4.50\n";
    let (status, body) = s.request(
        "POST",
        "/v1/migrations?tenant_id=t1&source_name=lightspeed",
        &[("content-type", "text/csv".to_owned())],
        csv.as_bytes(),
    );
    assert_eq!(status, 202, "{body}");
    let id = json(&body)["id"].as_str().unwrap().to_owned();
    s.eventually("mapping review", WAIT, |s| {
        json(&s.get(&format!("/v1/migrations/{id}")).1)["status"] == "mapping_review"
    });
    let (status, page) = s.get(&format!("/console/migrations/{id}"));
    assert_eq!(status, 200);
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    // Previewed, the report shows the hostile item name: as text.
    let (status, body) = s.request(
        "POST",
        &format!("/v1/migrations/{id}/approve"),
        &[("content-type", "application/json".to_owned())],
        br#"{"preview": true}"#,
    );
    assert_eq!(status, 202, "{body}");
    s.eventually("previewed", WAIT, |s| {
        json(&s.get(&format!("/v1/migrations/{id}")).1)["status"] == "previewed"
    });
    let (status, page) = s.get(&format!("/console/migrations/{id}"));
    assert_eq!(status, 200);
    assert!(!page.contains("<img src=x"), "{page}");
    assert!(
        page.contains("&lt;img src=x onerror=alert(2)&gt;"),
        "{page}"
    );
    // A hostile notice is escaped too.
    let (_, page) = s.get(&format!(
        "/console/migrations/{id}?msg=%3Cscript%3Ealert(3)%3C/script%3E"
    ));
    assert!(!page.contains("<script>alert(3)"), "{page}");
    // A form from another origin is refused.
    let (status, _) = s.request(
        "POST",
        &format!("/console/migrations/{id}/cancel"),
        &[("origin", "https://evil.example".to_owned())],
        b"",
    );
    assert_eq!(status, 403);
}
