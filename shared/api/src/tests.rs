use super::*;

#[test]
fn every_route_resolves_to_itself() {
    for r in ROUTES {
        let path = r
            .path
            .replace("{action}", "approve")
            .replace("{tenant}", "acme")
            .replace("{id}", "x1");
        let (found, _) = resolve(r.method, &path).unwrap_or_else(|s| panic!("{path}: {s}"));
        assert_eq!(found.id, r.id, "{} {path}", r.method);
    }
}

#[test]
fn unknown_paths_are_404_and_wrong_methods_405() {
    assert_eq!(resolve("GET", "/v1/elsewhere").err(), Some(404));
    assert_eq!(resolve("DELETE", "/v1/costs").err(), Some(405));
    assert_eq!(resolve("GET", "/v1/migrations/m1/approve").err(), Some(405));
    assert_eq!(
        resolve("POST", "/v1/migrations/m1/explode").err(),
        Some(404)
    );
    assert_eq!(resolve("GET", "/v1/tenants//items").err(), Some(404));
    let (r, params) =
        resolve("GET", "/v1/tenants/acme/items/sku-9").unwrap_or_else(|s| panic!("{s}"));
    assert_eq!((r.id, params), (RouteId::GetItem, vec!["acme", "sku-9"]));
}

#[test]
fn no_two_routes_share_method_and_path() {
    for (i, a) in ROUTES.iter().enumerate() {
        for b in &ROUTES[i + 1..] {
            assert!(
                !(a.method == b.method && a.path == b.path),
                "{} {} twice",
                a.method,
                a.path
            );
        }
    }
}
