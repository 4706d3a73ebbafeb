//! The RPC API's access rules, as Kubo and go-ipfs-cmds apply them:
//! Origin/Referer/User-Agent CSRF checks, CORS from `API.HTTPHeaders`, and
//! `API.Authorizations` tokens with path scopes.

mod misc_support;

use misc_support::{Resp, TestApi};
use serde_json::json;

const DENIED: &str = "Kubo RPC Access Denied: Please provide a valid authorization token as defined in the API.Authorizations configuration.";

fn set(api: &TestApi, key: &str, v: serde_json::Value) {
    let mut cfg = api.node.config();
    cfg.set(key, v).unwrap();
    api.node
        .update_config(|c| {
            *c = cfg;
            Ok::<(), ferrite_node::Error>(())
        })
        .unwrap();
}

fn post_with(api: &TestApi, cmd: &str, headers: &[(&str, &str)]) -> Resp {
    api.request("POST", &format!("/api/v0/{cmd}"), headers, None)
}

fn assert_forbidden(r: &Resp) {
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.text(), "403 - Forbidden\n");
}

fn assert_ok_id(api: &TestApi, r: &Resp) {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["ID"], api.node.config().peer_id().unwrap());
}

#[test]
fn clients_without_origin_pass_browsers_do_not() {
    let api = TestApi::start();
    let r = post_with(&api, "id", &[("User-Agent", "curl/8.0")]);
    assert_ok_id(&api, &r);
    assert!(r.header("access-control-allow-origin").is_none());
    // A browser POST always carries Origin or Referer: without, it is CSRF.
    assert_forbidden(&post_with(&api, "id", &[("User-Agent", "Mozilla/5.0")]));
    // Electron's fetch sends neither but is allowed.
    let r = post_with(&api, "id", &[("User-Agent", "Mozilla/5.0 Electron/30")]);
    assert_ok_id(&api, &r);
}

#[test]
fn origins() {
    let api = TestApi::start();
    let port = api.port;
    let mz = ("User-Agent", "Mozilla/5.0");
    for bad in [
        "https://invalid.example.com".to_string(),
        "chrome-extension://invalidextensionid".to_string(),
        // Loopback, but another port: another origin.
        format!("http://127.0.0.1:{}", port.wrapping_add(1)),
        "null".to_string(),
    ] {
        assert_forbidden(&post_with(&api, "id", &[mz, ("Origin", &bad)]));
    }
    for good in [
        format!("http://127.0.0.1:{port}"),
        format!("http://[::1]:{port}"),
        format!("http://localhost:{port}"),
        format!("https://localhost:{port}"),
        "chrome-extension://nibjojkomfdiaoajekhjakgkdhaomnch".to_string(),
        "chrome-extension://hjoieblefckbooibpepigmacodalfndh".to_string(),
    ] {
        let r = post_with(&api, "id", &[mz, ("Origin", &good)]);
        assert_ok_id(&api, &r);
        assert_eq!(r.header("access-control-allow-origin"), Some(good.as_str()));
        assert!(r.header_all("vary").contains(&"Origin"));
        assert_eq!(
            r.header("access-control-expose-headers"),
            Some("X-Stream-Output, X-Chunked-Output, X-Content-Length")
        );
    }
    // Foreign origins are refused on every command, and before any work.
    let r = api.request(
        "POST",
        "/api/v0/block/rm?arg=bafkqaaa",
        &[("Origin", "https://evil.example")],
        None,
    );
    assert_forbidden(&r);
}

#[test]
fn referers() {
    let api = TestApi::start();
    let port = api.port;
    let mz = ("User-Agent", "Mozilla/5.0");
    let own = format!("http://127.0.0.1:{port}/webui/#/files");
    assert_ok_id(&api, &post_with(&api, "id", &[mz, ("Referer", &own)]));
    for bad in [
        "https://evil.example/page".to_string(),
        format!("http://127.0.0.1:{}/", port.wrapping_add(1)),
        "not a url".to_string(),
    ] {
        assert_forbidden(&post_with(&api, "id", &[mz, ("Referer", &bad)]));
    }
    // Both must pass.
    assert_forbidden(&post_with(
        &api,
        "id",
        &[
            ("Origin", &format!("http://127.0.0.1:{port}")),
            ("Referer", "https://evil.example/"),
        ],
    ));
}

#[test]
fn cors_from_api_http_headers() {
    let api = TestApi::start();
    set(
        &api,
        "API.HTTPHeaders",
        json!({
            "Access-Control-Allow-Origin": ["https://valid.example.com"],
            "Access-Control-Allow-Methods": ["POST"],
            "X-Custom": ["one", "two"],
        }),
    );
    let valid = ("Origin", "https://valid.example.com");
    let r = post_with(&api, "id", &[("User-Agent", "Mozilla/5.0"), valid]);
    assert_ok_id(&api, &r);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://valid.example.com")
    );
    assert_eq!(r.header_all("x-custom"), ["one", "two"]);
    // The listed origins replace nothing: loopback and Companion still work.
    let companion = "chrome-extension://nibjojkomfdiaoajekhjakgkdhaomnch";
    assert_ok_id(&api, &post_with(&api, "id", &[("Origin", companion)]));
    assert_forbidden(&post_with(
        &api,
        "id",
        &[("Origin", "https://other.example")],
    ));

    // Preflight: 204 with the grants.
    let pre = |origin: &str, method: &str, headers: &str| {
        api.request(
            "OPTIONS",
            "/api/v0/id",
            &[
                ("User-Agent", "Mozilla/5.0"),
                ("Origin", origin),
                ("Access-Control-Request-Method", method),
                ("Access-Control-Request-Headers", headers),
            ],
            None,
        )
    };
    let r = pre(
        "https://valid.example.com",
        "POST",
        "origin, x-requested-with",
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://valid.example.com")
    );
    assert_eq!(r.header("access-control-allow-methods"), Some("POST"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("origin, x-requested-with")
    );
    assert!(r
        .header_all("vary")
        .contains(&"Access-Control-Request-Method"));
    // Refused preflights still get 204, without grants.
    for (o, m, h) in [
        ("https://other.example", "POST", ""),
        ("https://valid.example.com", "DELETE", ""),
        ("https://valid.example.com", "POST", "x-secret"),
    ] {
        let r = pre(o, m, h);
        assert_eq!(r.status, 204);
        assert!(
            r.header("access-control-allow-origin").is_none(),
            "{o} {m} {h}"
        );
    }
    // A plain OPTIONS lists the methods.
    let r = api.request("OPTIONS", "/api/v0/id", &[], None);
    assert_eq!(r.status, 204);
    assert_eq!(r.header("allow"), Some("OPTIONS, POST"));
}

#[test]
fn cors_wildcard_and_credentials() {
    let api = TestApi::start();
    set(
        &api,
        "API.HTTPHeaders.Access-Control-Allow-Origin",
        json!(["*"]),
    );
    let r = post_with(&api, "id", &[("Origin", "https://anything.example")]);
    assert_ok_id(&api, &r);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    set(
        &api,
        "API.HTTPHeaders.Access-Control-Allow-Credentials",
        json!(["true"]),
    );
    let r = post_with(&api, "id", &[("Origin", "https://anything.example")]);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://anything.example")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
}

#[test]
fn authorizations() {
    let api = TestApi::start();
    set(
        &api,
        "API.Authorizations",
        json!({
            "alice": {"AuthSecret": "bearer:alice-secret", "AllowedPaths": ["/api/v0/id"]},
            "bob": {"AuthSecret": "basic:bob:pass", "AllowedPaths": ["/api/v0/config"]},
            "carol": {"AuthSecret": "carolToken", "AllowedPaths": ["/api/v0"]},
            "dave": {"AuthSecret": "bearer:dave", "AllowedPaths": []},
            "eve": {"AuthSecret": "digest:whatever", "AllowedPaths": ["/api/v0"]},
        }),
    );
    let denied = |r: &Resp| {
        assert_eq!(r.status, 403, "{}", r.text());
        assert_eq!(r.text(), format!("{DENIED}\n"));
    };
    let auth = |v: &str, cmd: &str| post_with(&api, cmd, &[("Authorization", v)]);

    denied(&api.post("id"));
    denied(&api.post("version"));
    denied(&auth("Bearer invalid", "id"));
    // An unknown secret type matches nothing.
    denied(&auth("digest:whatever", "id"));

    assert_ok_id(&api, &auth("Bearer alice-secret", "id"));
    denied(&auth("Bearer alice-secret", "config/show"));
    // version is always allowed to a valid token.
    assert_eq!(auth("Bearer alice-secret", "version").status, 200);

    // basic:user:pass is sent base64-encoded.
    let bob = "Basic Ym9iOnBhc3M=";
    assert_eq!(auth(bob, "config/show").status, 200);
    assert_eq!(auth(bob, "config?arg=Addresses.API").status, 200);
    denied(&auth(bob, "id"));

    // No type: bearer. "/api/v0" opens everything.
    assert_ok_id(&api, &auth("Bearer carolToken", "id"));
    assert_eq!(auth("Bearer carolToken", "config/show").status, 200);
    assert_eq!(auth("Bearer carolToken", "no/such/cmd").status, 404);

    // Empty AllowedPaths: only version.
    denied(&auth("Bearer dave", "id"));
    assert_eq!(auth("Bearer dave", "version").status, 200);

    // Auth comes first: even a preflight is refused without a token.
    let r = api.request(
        "OPTIONS",
        "/api/v0/id",
        &[
            ("Origin", "https://x.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        None,
    );
    denied(&r);

    // The token does not lift the CSRF checks.
    let r = post_with(
        &api,
        "id",
        &[
            ("Authorization", "Bearer carolToken"),
            ("Origin", "https://evil.example"),
        ],
    );
    assert_forbidden(&r);

    // An empty map turns authorization off.
    set(&api, "API.Authorizations", json!({}));
    assert_ok_id(&api, &api.post("id"));
}

#[test]
fn config_show_hides_authorizations() {
    let api = TestApi::start();
    set(
        &api,
        "API.Authorizations",
        json!({"a": {"AuthSecret": "bearer:t", "AllowedPaths": ["/api/v0"]}}),
    );
    let r = post_with(&api, "config/show", &[("Authorization", "Bearer t")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["API"]["Authorizations"], json!({}));
}
