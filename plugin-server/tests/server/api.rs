//! The REST API over real HTTP: authentication and its refusals, users and tokens,
//! per-user instances and their webhooks, configuration, display, messages and events,
//! metrics, the OpenAPI document, and a panicking plugin.

use reqwest::Method;

use crate::support::{example_plugins, json, refused, EventStream, TestServer, ADMIN_PASSWORD};

fn showcase_server() -> TestServer {
    let examples = example_plugins();
    TestServer::start(&[
        ("showcase.so", &examples.showcase),
        ("panicky.so", &examples.panicky),
        ("template.so", &examples.template),
    ])
}

#[test]
fn every_credential_kind_works_and_every_refusal_is_clear() {
    let server = showcase_server();
    let none = server
        .anonymous(Method::GET, "/api/plugins")
        .send()
        .unwrap();
    assert_eq!(
        none.headers()["www-authenticate"],
        "Basic realm=\"plugin-server\", charset=\"UTF-8\""
    );
    refused(none, 401, "the request has none");
    // The page marks its requests: no challenge, so the browser opens no password dialog.
    let page = server
        .anonymous(Method::GET, "/api/plugins")
        .header("x-requested-with", "plugin-server-page")
        .send()
        .unwrap();
    assert!(page.headers().get("www-authenticate").is_none());
    let wrong = server
        .anonymous(Method::GET, "/api/plugins")
        .basic_auth("admin", Some("not the password"))
        .send()
        .unwrap();
    refused(wrong, 401, "wrong user name or password");
    let unknown = server
        .anonymous(Method::GET, "/api/plugins")
        .basic_auth("nobody", Some(ADMIN_PASSWORD))
        .send()
        .unwrap();
    refused(unknown, 401, "wrong user name or password");
    let scheme = server
        .anonymous(Method::GET, "/api/plugins")
        .header("authorization", "Digest abc")
        .send()
        .unwrap();
    refused(scheme, 401, "`Digest` is not supported");

    let me = json(server.admin(Method::GET, "/api/user").send().unwrap());
    assert_eq!(
        (me["name"].as_str(), me["admin"].as_bool()),
        (Some("admin"), Some(true))
    );

    // Tokens: created, used both ways, listed without their secret, revoked.
    let created = json(
        server
            .admin(Method::POST, "/api/tokens")
            .json(&serde_json::json!({"name": "laptop"}))
            .send()
            .unwrap(),
    );
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("prt_"), "{created}");
    let bearer = server
        .with_token(&token, Method::GET, "/api/user")
        .send()
        .unwrap();
    assert_eq!(json(bearer)["name"], "admin");
    let header = server
        .anonymous(Method::GET, "/api/user")
        .header("x-plugin-token", &token)
        .send()
        .unwrap();
    assert_eq!(json(header)["name"], "admin");
    let listed = json(
        server
            .with_token(&token, Method::GET, "/api/tokens")
            .send()
            .unwrap(),
    );
    assert_eq!(listed[0]["name"], "laptop");
    assert!(
        listed[0].get("token").is_none(),
        "a token is shown only when created: {listed}"
    );
    let id = created["id"].as_i64().unwrap();
    let revoked = server
        .admin(Method::DELETE, &format!("/api/tokens/{id}"))
        .send()
        .unwrap();
    assert_eq!(revoked.status(), 204);
    refused(
        server
            .with_token(&token, Method::GET, "/api/user")
            .send()
            .unwrap(),
        401,
        "the token is not valid",
    );

    // A user who is not an administrator: 403 on every admin route.
    let bob = server.user("bob");
    for (method, path) in [
        (Method::GET, "/api/users"),
        (Method::POST, "/api/users"),
        (Method::DELETE, "/api/users/1"),
        (Method::POST, "/api/plugins"),
        (Method::POST, "/api/plugins/install"),
        (Method::DELETE, "/api/plugins/showcase"),
        (Method::POST, "/api/plugins/showcase/reload"),
        (Method::GET, "/metrics"),
    ] {
        let response = server
            .with_token(&bob, method.clone(), path)
            .send()
            .unwrap();
        refused(response, 403, "user `bob` is not one");
    }
    // bob cannot revoke the administrator's tokens.
    let admins = json(server.admin(Method::POST, "/api/tokens").send().unwrap());
    let path = format!("/api/tokens/{}", admins["id"]);
    refused(
        server
            .with_token(&bob, Method::DELETE, &path)
            .send()
            .unwrap(),
        404,
        "you have no token",
    );

    // Users: refusals, then a deletion that takes the user's credentials with it.
    let create = |body: serde_json::Value| {
        server
            .admin(Method::POST, "/api/users")
            .json(&body)
            .send()
            .unwrap()
    };
    refused(
        create(serde_json::json!({"name": "BOB", "password": "long enough"})),
        409,
        "user `BOB` exists",
    );
    refused(
        create(serde_json::json!({"name": "carol", "password": "short"})),
        400,
        "shorter than 8",
    );
    refused(
        create(serde_json::json!({"name": "no spaces", "password": "long enough"})),
        400,
        "not a valid user name",
    );
    let users = json(server.admin(Method::GET, "/api/users").send().unwrap());
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "bob"]);
    assert!(users[0].get("password_hash").is_none());
    refused(
        server.admin(Method::DELETE, "/api/users/1").send().unwrap(),
        409,
        "cannot delete yourself",
    );
    let bob_id = users[1]["id"].as_i64().unwrap();
    let deleted = server
        .admin(Method::DELETE, &format!("/api/users/{bob_id}"))
        .send()
        .unwrap();
    assert_eq!(deleted.status(), 204);
    refused(
        server
            .with_token(&bob, Method::GET, "/api/user")
            .send()
            .unwrap(),
        401,
        "not valid",
    );
    let basic = server
        .anonymous(Method::GET, "/api/user")
        .basic_auth("bob", Some("bob-password"))
        .send()
        .unwrap();
    refused(basic, 401, "wrong user name or password");
    refused(
        server
            .admin(Method::DELETE, &format!("/api/users/{bob_id}"))
            .send()
            .unwrap(),
        404,
        "no user",
    );
}

#[test]
fn instances_are_per_user_and_webhooks_follow_their_switch() {
    let server = showcase_server();
    let bob = server.user("bob");
    let listed = json(server.admin(Method::GET, "/api/plugins").send().unwrap());
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["panicky", "showcase", "plugin-template"],
        "load order: file names"
    );
    let showcase = server.plugin("showcase");
    assert_eq!(showcase["status"], "active");
    assert_eq!(showcase["version"], "1.2.0");
    assert_eq!(
        showcase["api_version"],
        plugrack_host::API_VERSION,
        "built against this checkout's plugrack-api"
    );
    assert_eq!(
        showcase["capabilities"],
        serde_json::json!(["execute", "http", "config", "display"])
    );
    assert_eq!(
        showcase["enabled"], false,
        "gotify's default: a user enables a plugin"
    );

    let admin_hook = showcase["webhook_url"].as_str().unwrap().to_owned();
    let bob_view = json(
        server
            .with_token(&bob, Method::GET, "/api/plugins/showcase")
            .send()
            .unwrap(),
    );
    let bob_hook = bob_view["webhook_url"].as_str().unwrap().to_owned();
    assert_ne!(
        admin_hook, bob_hook,
        "each user has their own instance and token"
    );
    assert!(
        admin_hook.starts_with(&server.url("/plugin/showcase/custom/")),
        "{admin_hook}"
    );

    // Disabled: the webhook does not exist.
    let hello = |hook: &str| server.client.get(format!("{hook}hello")).send().unwrap();
    refused(
        hello(&admin_hook),
        404,
        "no route of plugin `showcase` here",
    );
    assert_eq!(
        server.enable("showcase"),
        admin_hook,
        "enabling keeps the token"
    );
    let answer = hello(&admin_hook);
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-security-policy"], "sandbox");
    assert_eq!(answer.text().unwrap(), "Hello, admin!");
    refused(hello(&bob_hook), 404, "no route");
    let enabled = server
        .with_token(&bob, Method::POST, "/api/plugins/showcase/enable")
        .send()
        .unwrap();
    assert_eq!(json(enabled)["enabled"], true);
    assert_eq!(hello(&bob_hook).text().unwrap(), "Hello, bob!");

    // A token names one plugin's instance: not another plugin's, not a made-up one.
    let elsewhere = admin_hook.replace("/plugin/showcase/", "/plugin/plugin-template/");
    refused(
        server
            .client
            .post(format!("{elsewhere}webhook"))
            .send()
            .unwrap(),
        404,
        "no route",
    );
    let made_up = server.url("/plugin/showcase/custom/00000000000000000000000000000000/hello");
    refused(server.client.get(made_up).send().unwrap(), 404, "no route");

    // Route matching: parameters, methods, paths.
    let item = server
        .client
        .get(format!("{admin_hook}items/42"))
        .send()
        .unwrap();
    assert_eq!(json(item), serde_json::json!({"item": "42"}));
    let wrong_method = server
        .client
        .delete(format!("{admin_hook}hello"))
        .send()
        .unwrap();
    assert_eq!(wrong_method.headers()["allow"], "GET");
    refused(
        wrong_method,
        405,
        "`DELETE` is not one of this route's methods (GET)",
    );
    refused(
        server
            .client
            .get(format!("{admin_hook}nothing"))
            .send()
            .unwrap(),
        404,
        "has no route `/nothing`",
    );
    let echo = server
        .client
        .post(format!("{admin_hook}echo"))
        .header("content-type", "application/json")
        .body("{\"x\":1}")
        .send()
        .unwrap();
    assert_eq!(echo.headers()["content-type"], "application/json");
    assert_eq!(echo.text().unwrap(), "{\"x\":1}");

    // The same routes for a logged-in user, answered by their own instance.
    let own = server
        .with_token(&bob, Method::GET, "/plugin/showcase/hello")
        .send()
        .unwrap();
    assert_eq!(own.text().unwrap(), "Hello, bob!");
    refused(
        server
            .anonymous(Method::GET, "/plugin/showcase/hello")
            .send()
            .unwrap(),
        401,
        "has none",
    );

    // bob turns his off: his webhook is gone, the administrator's stays.
    let off = server
        .with_token(&bob, Method::POST, "/api/plugins/showcase/disable")
        .send()
        .unwrap();
    assert_eq!(json(off)["enabled"], false);
    refused(hello(&bob_hook), 404, "no route");
    assert_eq!(hello(&admin_hook).text().unwrap(), "Hello, admin!");
    let on = server
        .with_token(&bob, Method::POST, "/api/plugins/showcase/enable")
        .send()
        .unwrap();
    assert_eq!(on.status(), 200);
    assert_eq!(hello(&bob_hook).text().unwrap(), "Hello, bob!");
    refused(
        server
            .admin(Method::POST, "/api/plugins/nothing/enable")
            .send()
            .unwrap(),
        404,
        "no plugin `nothing`",
    );
}

#[test]
fn request_bodies_have_a_limit() {
    let examples = example_plugins();
    let server = TestServer::start_with(
        &[("showcase.so", &examples.showcase)],
        &["--max-body-kib", "1"],
    );
    let hook = server.enable("showcase");
    let post = |route: &str, size: usize| {
        server
            .client
            .post(format!("{hook}{route}"))
            .body(vec![b'a'; size])
            .send()
            .unwrap()
    };
    assert_eq!(post("echo", 1000).status(), 200);
    refused(post("echo", 4096), 413, "larger than 1024 bytes");
    // Far over the limit, and still being sent when the answer is ready: the client gets the
    // answer, not a reset connection (the server reads the rest of a refused body).
    refused(post("echo", 4 << 20), 413, "larger than 1024 bytes");
    refused(post("no-such-route", 4 << 20), 404, "has no route");
}

#[test]
fn configuration_is_validated_by_the_plugin_and_display_is_sanitised() {
    let server = showcase_server();
    let hook = server.enable("showcase");
    let config = json(
        server
            .admin(Method::GET, "/api/plugins/showcase/config")
            .send()
            .unwrap(),
    );
    assert_eq!(config["stored"], false);
    let default: serde_json::Value =
        serde_json::from_str(config["config"].as_str().unwrap()).unwrap();
    assert_eq!(
        default,
        serde_json::json!({"greeting": "Hello", "max_count": 1000})
    );

    let put = |text: &str| {
        server
            .admin(Method::PUT, "/api/plugins/showcase/config")
            .body(text.to_owned())
            .send()
            .unwrap()
    };
    let body = refused(
        put(r#"{"greeting": " ", "max_count": 5}"#),
        400,
        "`greeting` must not be empty",
    );
    assert!(
        body["hint"]
            .as_str()
            .unwrap()
            .contains("the current one stays"),
        "{body}"
    );
    refused(put("not json"), 400, "invalid config");
    assert_eq!(
        server
            .client
            .get(format!("{hook}hello"))
            .send()
            .unwrap()
            .text()
            .unwrap(),
        "Hello, admin!"
    );

    // A greeting with markup: accepted by the plugin, but the page gets no script.
    let attack = r#"{"greeting": "Hi <script>alert(1)</script><img src=x onerror=alert(2)>", "max_count": 5}"#;
    assert_eq!(put(attack).status(), 200);
    let stored = json(
        server
            .admin(Method::GET, "/api/plugins/showcase/config")
            .send()
            .unwrap(),
    );
    assert_eq!(
        (stored["stored"].as_bool(), stored["config"].as_str()),
        (Some(true), Some(attack))
    );
    let display = json(
        server
            .admin(Method::GET, "/api/plugins/showcase/display")
            .send()
            .unwrap(),
    );
    assert!(
        display["markdown"].as_str().unwrap().contains("<script>"),
        "{display}"
    );
    let html = display["html"].as_str().unwrap();
    assert!(html.contains("<h2>Showcase</h2>"), "{html}");
    for bad in ["<script", "onerror", "alert(1)"] {
        assert!(!html.contains(bad), "`{bad}` reached the page: {html}");
    }
    assert!(
        html.contains(&server.url("/plugin/showcase/hello")),
        "the display gets the server's URL: {html}"
    );

    assert_eq!(
        put(r#"{"greeting": "Howdy", "max_count": 5}"#).status(),
        200
    );
    assert_eq!(
        server
            .client
            .get(format!("{hook}hello"))
            .send()
            .unwrap()
            .text()
            .unwrap(),
        "Howdy, admin!"
    );

    // A disabled instance shows nothing.
    let off = server
        .admin(Method::POST, "/api/plugins/showcase/disable")
        .send()
        .unwrap();
    assert_eq!(off.status(), 200);
    refused(
        server
            .admin(Method::GET, "/api/plugins/showcase/display")
            .send()
            .unwrap(),
        409,
        "is disabled",
    );
    // The configuration can still be read and changed while disabled, and stays disabled.
    assert_eq!(
        put(r#"{"greeting": "Later", "max_count": 5}"#).status(),
        200
    );
    assert_eq!(server.plugin("showcase")["enabled"], false);
    refused(
        server.client.get(format!("{hook}hello")).send().unwrap(),
        404,
        "no route",
    );
    server.enable("showcase");
    assert_eq!(
        server
            .client
            .get(format!("{hook}hello"))
            .send()
            .unwrap()
            .text()
            .unwrap(),
        "Later, admin!"
    );

    // A plugin route's own error is a 500 with the plugin's message; the count stays.
    assert_eq!(
        put(r#"{"greeting": "Later", "max_count": 1}"#).status(),
        200
    );
    let count = || server.client.post(format!("{hook}count")).send().unwrap();
    assert_eq!(json(count())["count"], 1);
    let body = refused(count(), 500, "count would exceed max_count 1");
    assert_eq!(
        body["hint"], "the plugin's own error: see its log",
        "{body}"
    );
    refused(count(), 500, "count would exceed max_count 1");
}

#[test]
fn capabilities_are_checked_before_any_call() {
    let examples = example_plugins();
    let server = TestServer::start(&[("bench.so", &examples.bench)]);
    server.enable("bench-0000");
    let view = server.plugin("bench-0000");
    assert_eq!(view["capabilities"], serde_json::json!(["execute"]));
    assert!(
        view["webhook_url"].is_null(),
        "no http capability, no webhook: {view}"
    );
    refused(
        server
            .admin(Method::GET, "/api/plugins/bench-0000/display")
            .send()
            .unwrap(),
        404,
        "does not offer the `display` capability",
    );
    refused(
        server
            .admin(Method::GET, "/api/plugins/bench-0000/config")
            .send()
            .unwrap(),
        404,
        "does not offer the `config` capability",
    );
    refused(
        server
            .admin(Method::GET, "/plugin/bench-0000/x")
            .send()
            .unwrap(),
        404,
        "has no HTTP routes",
    );
}

#[test]
fn messages_are_stored_per_user_and_streamed_as_events() {
    let server = showcase_server();
    let bob = server.user("bob");
    let admin_token = json(server.admin(Method::POST, "/api/tokens").send().unwrap())["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin_events = EventStream::open(&server, &admin_token);
    let bob_events = EventStream::open(&server, &bob);
    let hook = server.enable("showcase");
    let sent = server
        .client
        .post(format!("{hook}notify?title=Backup"))
        .body("nightly backup done")
        .send()
        .unwrap();
    assert_eq!(sent.status(), 202);
    let event = admin_events.next("message");
    assert_eq!(event["message"]["title"], "Backup");
    assert_eq!(event["message"]["message"], "nightly backup done");
    assert_eq!(event["message"]["plugin_id"], "showcase");

    let messages = json(server.admin(Method::GET, "/api/messages").send().unwrap());
    assert_eq!(messages.as_array().unwrap().len(), 1, "{messages}");
    assert_eq!(messages[0]["title"], "Backup");
    let bobs = json(
        server
            .with_token(&bob, Method::GET, "/api/messages")
            .send()
            .unwrap(),
    );
    assert_eq!(
        bobs,
        serde_json::json!([]),
        "bob never sees the administrator's messages"
    );
    let since = messages[0]["id"].as_i64().unwrap();
    let newer = json(
        server
            .admin(Method::GET, &format!("/api/messages?since={since}"))
            .send()
            .unwrap(),
    );
    assert_eq!(newer, serde_json::json!([]));

    // Plugin events reach everyone; bob's stream never carried the administrator's message.
    let reload = server
        .admin(Method::POST, "/api/plugins/showcase/reload")
        .send()
        .unwrap();
    assert_eq!(reload.status(), 200);
    assert_eq!(bob_events.next("unloaded")["id"], "showcase");
    let loaded = bob_events.next("loaded");
    assert_eq!(loaded["id"], "showcase");
    assert_eq!(admin_events.next("loaded")["id"], "showcase");
    // After the reload the instance is new and still enabled for its user.
    assert_eq!(
        server
            .client
            .get(format!("{hook}hello"))
            .send()
            .unwrap()
            .text()
            .unwrap(),
        "Hello, admin!"
    );

    refused(
        server
            .anonymous(Method::GET, "/api/events?token=wrong")
            .send()
            .unwrap(),
        401,
        "not valid",
    );
}

#[test]
fn a_panicking_plugin_gives_500_and_the_server_keeps_serving() {
    let server = showcase_server();
    let showcase = server.enable("showcase");
    let panicky = server.enable("panicky");
    for _ in 0..3 {
        let body = refused(
            server.client.get(format!("{panicky}boom")).send().unwrap(),
            500,
            "panicked",
        );
        assert!(
            body["hint"]
                .as_str()
                .unwrap()
                .contains("the server kept running"),
            "{body}"
        );
        assert_eq!(
            server
                .client
                .get(format!("{showcase}hello"))
                .send()
                .unwrap()
                .text()
                .unwrap(),
            "Hello, admin!"
        );
    }
    refused(
        server
            .admin(Method::GET, "/api/plugins/panicky/display")
            .send()
            .unwrap(),
        500,
        "panicked",
    );
    refused(
        server
            .admin(Method::PUT, "/api/plugins/panicky/config")
            .body("{}")
            .send()
            .unwrap(),
        500,
        "panicked",
    );
    let health = json(server.anonymous(Method::GET, "/health").send().unwrap());
    assert_eq!(
        (health["status"].as_str(), health["active"].as_u64()),
        (Some("ok"), Some(3))
    );
    let view = server.plugin("panicky");
    assert!(view["metrics"]["panics"].as_u64().unwrap() >= 5, "{view}");

    let metrics = server.admin(Method::GET, "/metrics").send().unwrap();
    assert_eq!(
        metrics.headers()["content-type"],
        "text/plain; version=0.0.4"
    );
    let text = metrics.text().unwrap();
    let value = |line_start: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(line_start))
            .unwrap_or_else(|| panic!("no `{line_start}` in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(value("plugin_panics_total{plugin=\"panicky\"}") >= 5.0);
    assert!(value("plugin_calls_total{plugin=\"showcase\"}") >= 3.0);
    assert_eq!(
        value("plugin_http_responses_total{code=\"200\",plugin=\"showcase\"}"),
        3.0
    );
    assert_eq!(
        value("plugin_http_responses_total{code=\"500\",plugin=\"panicky\"}"),
        3.0
    );
    assert_eq!(value("plugin_server_plugins{status=\"active\"}"), 3.0);
    assert!(
        value("plugin_call_duration_seconds_count{operation=\"handle_http\",plugin=\"showcase\"}")
            >= 3.0
    );
    assert!(text.contains("plugin_call_duration_seconds_bucket{operation=\"handle_http\",plugin=\"showcase\",le=\"0.000064\"}"));
}

#[test]
fn health_page_and_openapi_document() {
    let server = showcase_server();
    let health = json(server.anonymous(Method::GET, "/health").send().unwrap());
    assert_eq!(health["watching"], true);
    let page = server.anonymous(Method::GET, "/").send().unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    assert!(page
        .text()
        .unwrap()
        .contains("<script src=\"/assets/app.js\""));
    for asset in ["/assets/app.js", "/assets/style.css"] {
        assert_eq!(
            server
                .anonymous(Method::GET, asset)
                .send()
                .unwrap()
                .status(),
            200,
            "{asset}"
        );
    }
    refused(
        server
            .anonymous(Method::GET, "/api/nothing")
            .send()
            .unwrap(),
        404,
        "no API endpoint `/api/nothing`",
    );
    refused(
        server.anonymous(Method::GET, "/elsewhere").send().unwrap(),
        404,
        "nothing at `/elsewhere`",
    );

    let doc = json(
        server
            .anonymous(Method::GET, "/api/openapi.json")
            .send()
            .unwrap(),
    );
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/api/events",
            "/api/messages",
            "/api/plugins",
            "/api/plugins/install",
            "/api/plugins/{id}",
            "/api/plugins/{id}/config",
            "/api/plugins/{id}/disable",
            "/api/plugins/{id}/display",
            "/api/plugins/{id}/enable",
            "/api/plugins/{id}/reload",
            "/api/tokens",
            "/api/tokens/{id}",
            "/api/user",
            "/api/users",
            "/api/users/{id}",
            "/health",
            "/metrics",
        ]
    );
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(
        schemes.keys().collect::<Vec<_>>(),
        ["basic", "bearer", "token"]
    );
}

/// A client that opens connections and never finishes a request head (slowloris) is cut off
/// after `--header-timeout-secs`: its connections are closed, and everyone else is served
/// meanwhile and after.
#[test]
fn a_connection_that_never_sends_its_request_head_is_closed() {
    use std::{
        io::{Read, Write},
        net::TcpStream,
        time::Duration,
    };
    let server = TestServer::start_with(&[], &["--header-timeout-secs", "1"]);
    let address = server.base.trim_start_matches("http://").to_owned();
    let health = || {
        server
            .anonymous(Method::GET, "/health")
            .send()
            .unwrap()
            .status()
    };
    // What the server sent before it closed the connection; a read that hits the client's own
    // time limit (the server did not close it) is an error.
    let until_closed = |mut stream: TcpStream, what: &str| -> String {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .unwrap_or_else(|e| panic!("the server closes {what}: {e}"));
        String::from_utf8_lossy(&answer).into_owned()
    };
    let mut slow: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut stream = TcpStream::connect(&address).unwrap();
            // The request line, and no end of the head.
            stream
                .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            stream
        })
        .collect();
    slow.push(TcpStream::connect(&address).unwrap()); // sends nothing at all
    assert_eq!(health(), 200, "served while the slow ones wait");
    for stream in slow {
        // Closed, perhaps after a 408.
        let answer = until_closed(stream, "a connection without a whole request head");
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }
    // Kept alive after a request and then idle: closed too.
    let mut kept = TcpStream::connect(&address).unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let answer = until_closed(kept, "an idle kept-alive connection");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(health(), 200);
}
