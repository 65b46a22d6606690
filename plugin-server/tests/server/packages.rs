//! Installing plugins over HTTP: uploads of good and bad packages (a refused one leaves the
//! plugins folder byte-identical), downloads from a URL with a required checksum, removal,
//! and what the host refuses after an install.

use std::{net::SocketAddr, thread, time::Duration};

use reqwest::Method;

use crate::support::{
    deploy_file, example_plugins, json, manifest_for, package, refused, snapshot, tar_gz, upload,
    with_raw_entry, SigningKey, TestServer,
};

const TEMPLATE: (&str, &str) = ("plugin-template", "0.1.0");

fn template_package() -> Vec<u8> {
    package(TEMPLATE.0, TEMPLATE.1, &example_plugins().template)
}

#[test]
fn a_good_upload_is_installed_and_loaded_and_bad_ones_change_nothing() {
    let server = TestServer::start(&[]);
    let good = template_package();
    let so = std::fs::read(&example_plugins().template).unwrap();
    let file = "plugin-template-amd64.so";
    let manifest = manifest_for(TEMPLATE.0, TEMPLATE.1, &[("amd64", file, &so)]);

    let mut tampered_so = so.clone();
    let middle = tampered_so.len() / 2;
    tampered_so[middle] ^= 0x01;
    let mut changed_stream = good.clone();
    let at = changed_stream.len() / 2;
    changed_stream[at] ^= 0x20;
    let arm_only = manifest_for(
        TEMPLATE.0,
        TEMPLATE.1,
        &[("arm64", "plugin-template-arm64.so", &so)],
    );
    let entries: [(&str, &[u8]); 2] = [("plugin.toml", manifest.as_bytes()), (file, &so)];

    let before = snapshot(&server.plugins);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "tampered.plg",
            tar_gz(&[("plugin.toml", manifest.as_bytes()), (file, &tampered_so)]),
            "does not match plugin.toml",
        ),
        ("changed-byte.plg", changed_stream, "damaged"),
        (
            "truncated.plg",
            good[..good.len() / 2].to_vec(),
            "damaged or truncated",
        ),
        (
            "dot-dot.plg",
            with_raw_entry(&entries, "../evil.so", tar::EntryType::Regular, ""),
            "climbs out of the folder",
        ),
        (
            "symlink.plg",
            with_raw_entry(&entries, "link.so", tar::EntryType::Symlink, "/etc/passwd"),
            "is a link",
        ),
        (
            "extra.plg",
            with_raw_entry(&entries, "extra.so", tar::EntryType::Regular, ""),
            "not listed in plugin.toml",
        ),
        (
            "no-manifest.plg",
            tar_gz(&[(file, &so)]),
            "has no `plugin.toml`",
        ),
        (
            "arm-only.plg",
            tar_gz(&[
                ("plugin.toml", arm_only.as_bytes()),
                ("plugin-template-arm64.so", &so),
            ]),
            "has no amd64 build; it has: arm64",
        ),
        (
            "notes.plg",
            b"just some text".to_vec(),
            "damaged or truncated",
        ),
    ];
    for (name, bytes, expected) in cases {
        let body = refused(upload(&server, name, bytes), 400, expected);
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(name), "{name}: the package is named: {body}");
        assert!(body["hint"].is_string(), "{name}: {body}");
        assert!(
            snapshot(&server.plugins) == before,
            "{name}: the plugins folder changed"
        );
    }
    let no_field = server
        .admin(Method::POST, "/api/plugins")
        .multipart(reqwest::blocking::multipart::Form::new().text("other", "x"))
        .send()
        .unwrap();
    refused(no_field, 400, "has no `package` field");
    assert_eq!(server.statuses(), []);

    let installed = upload(&server, "plugin-template-0.1.0.plg", good.clone());
    assert_eq!(installed.status(), 201);
    let view = json(installed);
    assert_eq!(
        (view["id"].as_str(), view["status"].as_str()),
        (Some(TEMPLATE.0), Some("active"))
    );
    assert_eq!(view["file"], TEMPLATE.0, "installed as a plugin folder");
    let folder = server.plugins.join(TEMPLATE.0);
    assert!(folder.join("plugin.toml").is_file() && folder.join(file).is_file());
    let hook = server.enable(TEMPLATE.0);
    let answer = server
        .client
        .post(format!("{hook}webhook"))
        .body("hi")
        .send()
        .unwrap();
    assert_eq!(answer.text().unwrap(), "Hello, admin! Message sent.");

    // The same package again replaces the folder and reloads the plugin.
    let again = upload(&server, "plugin-template-0.1.0.plg", good);
    assert_eq!(again.status(), 200);
    assert_eq!(
        server.statuses(),
        [(TEMPLATE.0.to_owned(), "active".to_owned())]
    );
    let left: Vec<String> = std::fs::read_dir(&server.plugins)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, [TEMPLATE.0], "no temporary folder stays behind");

    let removed = server
        .admin(Method::DELETE, "/api/plugins/plugin-template")
        .send()
        .unwrap();
    assert_eq!(removed.status(), 204);
    assert!(!folder.exists());
    assert_eq!(server.statuses(), []);
    refused(
        server
            .admin(Method::DELETE, "/api/plugins/plugin-template")
            .send()
            .unwrap(),
        404,
        "no plugin",
    );
    assert!(
        std::fs::read_dir(&server.plugins).unwrap().next().is_none(),
        "nothing stays behind"
    );
}

#[test]
fn a_package_whose_manifest_disagrees_with_its_library_is_refused_before_install() {
    let server = TestServer::start(&[]);
    let before = snapshot(&server.plugins);
    // The manifest says 9.9.9; the library's descriptor section says 0.1.0: refused as
    // `plugin-build deploy` refuses it, before anything is written.
    let lying = package(TEMPLATE.0, "9.9.9", &example_plugins().template);
    let body = refused(
        upload(&server, "lying.plg", lying),
        400,
        "plugin.toml says version `9.9.9`, the descriptor section of `plugin-template-amd64.so` says `0.1.0`",
    );
    assert!(
        body["hint"].as_str().unwrap().contains("package it again"),
        "{body}"
    );
    assert!(snapshot(&server.plugins) == before, "nothing was installed");
    assert_eq!(server.statuses(), []);
}

#[test]
fn what_the_host_refuses_after_an_install_is_a_422_with_its_lines() {
    // The package is sound, but this host is 2.0.0 and the template wants `>=1.0.0, <2.0.0`:
    // only loading it can tell.
    let server = TestServer::start_with(&[], &["--host-version", "2.0.0"]);
    let body = refused(
        upload(&server, "t.plg", template_package()),
        422,
        "plugin rejected",
    );
    assert!(
        body["error"].as_str().unwrap().contains("2.0.0"),
        "the refusal names the host version: {body}"
    );
    assert!(
        body["hint"].as_str().is_some_and(|h| !h.is_empty()),
        "{body}"
    );
    let view = server.plugin(TEMPLATE.0);
    assert_eq!(view["status"], "invalid");
    assert!(
        view["messages"][0]
            .as_str()
            .unwrap()
            .starts_with("plugin rejected"),
        "{view}"
    );
    // An administrator removes it again.
    assert_eq!(
        server
            .admin(Method::DELETE, "/api/plugins/plugin-template")
            .send()
            .unwrap()
            .status(),
        204
    );
    assert!(std::fs::read_dir(&server.plugins).unwrap().next().is_none());
}

#[test]
fn with_a_trusted_key_only_packages_and_folders_it_signed_are_installed_and_loaded() {
    let keys = tempfile::tempdir().unwrap();
    let trusted = SigningKey::new(keys.path(), "release");
    let other = SigningKey::new(keys.path(), "other");
    let key_arg = trusted.public_file.to_str().unwrap().to_owned();
    let server = TestServer::start_with(&[], &["--trusted-key", &key_arg]);
    let so_path = &example_plugins().template;
    let so = std::fs::read(so_path).unwrap();
    let file = "plugin-template-amd64.so";
    let manifest = manifest_for(TEMPLATE.0, TEMPLATE.1, &[("amd64", file, &so)]);
    // Signed, then one byte of the manifest changed (a comment added after signing).
    let signature = trusted.sign(manifest.as_bytes());
    let changed = format!("{manifest}# added after signing\n");

    let before = snapshot(&server.plugins);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "unsigned.plg",
            template_package(),
            "it is not signed, and this host only accepts plugins signed by a trusted key",
        ),
        (
            "other-key.plg",
            other.package(TEMPLATE.0, TEMPLATE.1, so_path),
            "which is not a trusted key",
        ),
        (
            "changed.plg",
            tar_gz(&[
                ("plugin.toml", changed.as_bytes()),
                ("plugin.toml.minisig", signature.as_bytes()),
                (file, &so),
            ]),
            "refusing package `changed.plg`",
        ),
    ];
    for (name, bytes, expected) in cases {
        let body = refused(upload(&server, name, bytes), 400, expected);
        assert!(body["error"].as_str().unwrap().contains(name), "{body}");
        assert!(
            body["hint"].as_str().unwrap().contains("trust")
                || body["hint"].as_str().unwrap().contains("sign"),
            "{name}: the hint says how to get it trusted: {body}"
        );
        assert!(
            snapshot(&server.plugins) == before,
            "{name}: the plugins folder changed"
        );
    }
    assert_eq!(server.statuses(), []);

    let installed = upload(
        &server,
        "signed.plg",
        trusted.package(TEMPLATE.0, TEMPLATE.1, so_path),
    );
    assert_eq!(installed.status(), 201);
    assert_eq!(json(installed)["status"], "active");
    assert!(
        server
            .plugins
            .join("plugin-template/plugin.toml.minisig")
            .is_file(),
        "the signature is installed beside plugin.toml"
    );

    // The host applies the same policy to the folder: an unsigned library dropped in is
    // refused before it is opened, and listed with the refusal.
    deploy_file(&example_plugins().showcase, &server.plugins, "showcase.so");
    let refusal = || -> Option<serde_json::Value> {
        let list = json(server.admin(Method::GET, "/api/plugins").send().unwrap());
        list.as_array()?
            .iter()
            .find(|p| p["status"] == "invalid")
            .cloned()
    };
    server.eventually("the unsigned showcase is listed as refused", || {
        refusal().is_some()
    });
    let refused_view = refusal().unwrap();
    assert!(
        refused_view["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m.as_str().unwrap().contains("not signed")),
        "{refused_view}"
    );
    assert_eq!(
        server.plugin(TEMPLATE.0)["status"],
        "active",
        "the signed plugin stays"
    );
    assert!(
        server.stderr().contains("trusting signatures by key"),
        "the server says which keys it trusts: {}",
        server.stderr()
    );
}

#[test]
fn bundled_plugins_win_and_cannot_be_replaced_or_removed_over_http() {
    let examples = example_plugins();
    let bundled = tempfile::tempdir().unwrap();
    std::fs::copy(&examples.template, bundled.path().join("template.so")).unwrap();
    let dir = bundled.path().to_str().unwrap().to_owned();
    let server = TestServer::start_with(&[], &["--bundled-dir", &dir]);
    assert_eq!(server.plugin(TEMPLATE.0)["origin"], "bundled");
    let before = snapshot(&server.plugins);
    refused(
        upload(&server, "t.plg", template_package()),
        409,
        "is bundled with the server",
    );
    assert!(snapshot(&server.plugins) == before);
    refused(
        server
            .admin(Method::DELETE, "/api/plugins/plugin-template")
            .send()
            .unwrap(),
        409,
        "is bundled",
    );
}

#[test]
fn an_upload_over_the_size_limit_is_refused() {
    let server = TestServer::start_with(&[], &["--max-package-mib", "1"]);
    let large = vec![0u8; 2 << 20];
    let response = upload(&server, "large.plg", large);
    assert_eq!(response.status(), 413);
    assert!(json(response)["error"]
        .as_str()
        .unwrap()
        .contains("larger than"));
}

/// A plain HTTP file server on 127.0.0.1 (axum), serving `files` until dropped.
struct FileServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FileServer {
    fn start(files: Vec<(&'static str, Vec<u8>)>) -> Self {
        Self::start_with(files, axum::Router::new())
    }

    /// Serves `files` and the routes of `extra`.
    fn start_with(files: Vec<(&'static str, Vec<u8>)>, extra: axum::Router) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut router = extra;
        for (path, bytes) in files {
            router = router.route(
                path,
                axum::routing::get(move || async move { bytes.clone() }),
            );
        }
        let thread = thread::spawn(move || {
            runtime.block_on(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            })
        });
        Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn sha256(bytes: &[u8]) -> String {
    plugrack_host::manifest::sha256_hex(bytes)
}

#[test]
fn installs_from_a_url_only_with_the_right_checksum() {
    let server = TestServer::start(&[]);
    let good = template_package();
    let files = FileServer::start(vec![
        ("/plugin-template-0.1.0.plg", good.clone()),
        ("/broken.plg", good[..100].to_vec()),
    ]);
    let install = |url: String, sha256: &str| {
        server
            .admin(Method::POST, "/api/plugins/install")
            .json(&serde_json::json!({"url": url, "sha256": sha256}))
            .send()
            .unwrap()
    };
    let before = snapshot(&server.plugins);
    let url = files.url("/plugin-template-0.1.0.plg");
    let wrong = "0".repeat(64);
    refused(
        install(url.clone(), &wrong),
        400,
        &format!("has SHA-256 {}, not the {wrong} given", sha256(&good)),
    );
    refused(install(url.clone(), "abc"), 400, "is not a SHA-256");
    refused(
        install(files.url("/missing.plg"), &sha256(&good)),
        502,
        "answered 404",
    );
    refused(
        install("ftp://127.0.0.1/x.plg".into(), &sha256(&good)),
        400,
        "not an http:// or https:// URL",
    );
    let broken = good[..100].to_vec();
    refused(
        install(files.url("/broken.plg"), &sha256(&broken)),
        400,
        "refusing package `broken.plg`",
    );
    assert!(
        snapshot(&server.plugins) == before,
        "refused downloads write nothing"
    );

    let installed = install(url, &sha256(&good).to_uppercase());
    assert_eq!(installed.status(), 201);
    assert_eq!(json(installed)["status"], "active");
    assert!(server.plugins.join("plugin-template/plugin.toml").is_file());
}

#[test]
fn downloads_have_a_size_and_a_time_limit() {
    let server = TestServer::start_with(
        &[],
        &["--max-package-mib", "1", "--fetch-timeout-secs", "1"],
    );
    // A server that answers, then takes 5 s to send the body.
    let slow = axum::Router::new().route(
        "/slow.plg",
        axum::routing::get(|| async {
            let body = futures_util::stream::once(async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"late"))
            });
            axum::body::Body::from_stream(body)
        }),
    );
    let files = FileServer::start_with(vec![("/large.plg", vec![0u8; 3 << 20])], slow);
    let started = std::time::Instant::now();
    let response = server
        .admin(Method::POST, "/api/plugins/install")
        .json(&serde_json::json!({"url": files.url("/slow.plg"), "sha256": "0".repeat(64)}))
        .send()
        .unwrap();
    refused(response, 504, "took longer than 1 s");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the limit cut the download short"
    );
    let response = server
        .admin(Method::POST, "/api/plugins/install")
        .json(&serde_json::json!({"url": files.url("/large.plg"), "sha256": "0".repeat(64)}))
        .send()
        .unwrap();
    refused(response, 413, "is larger than 1048576 bytes");
}
