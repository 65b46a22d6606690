//! The server's life: plugins deployed into the watched folder while it runs, state that
//! survives a restart, and a graceful stop on SIGTERM.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use reqwest::Method;

use crate::support::{
    assert_start_refused, client, deploy_file, example_plugins, json, EventStream, TestServer,
};

#[test]
fn a_deployed_plugin_appears_a_replaced_one_reloads_a_removed_one_disappears() {
    let server = TestServer::start(&[]);
    let token = json(server.admin(Method::POST, "/api/tokens").send().unwrap())["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let events = EventStream::open(&server, &token);
    let template = &example_plugins().template;

    // A file that is no plugin: refused, listed with its refusal, and gone once removed.
    std::fs::write(server.plugins.join(".notes.tmp"), b"just some text").unwrap();
    std::fs::rename(
        server.plugins.join(".notes.tmp"),
        server.plugins.join("notes.so"),
    )
    .unwrap();
    let refused = events.next("refused");
    assert!(
        refused["message"].as_str().unwrap().contains("notes.so"),
        "the refusal names the file: {refused}"
    );
    // Once: the checks' own reads of the file are no reason to look at it again (the watcher
    // used to refuse it about three times a second). 3 s is ten of the server's debounce periods.
    let later = events.within(Duration::from_secs(3));
    assert!(
        later.iter().all(|(name, _)| name != "refused"),
        "an unchanged file is refused once: {later:?}"
    );
    server.eventually("the refused file is listed as invalid", || {
        server
            .statuses()
            .iter()
            .any(|(_, status)| status == "invalid")
    });
    std::fs::remove_file(server.plugins.join("notes.so")).unwrap();
    server.eventually("the refused file is no longer listed", || {
        server.statuses().is_empty()
    });

    deploy_file(template, &server.plugins, "template.so");
    assert_eq!(events.next("loaded")["id"], "plugin-template");
    server.eventually("the deployed plugin is listed", || {
        server.statuses() == [("plugin-template".to_owned(), "active".to_owned())]
    });
    let hook = server.enable("plugin-template");
    let answer = |hook: &str| server.client.post(format!("{hook}webhook")).send().unwrap();
    assert_eq!(answer(&hook).status(), 200);

    // A new build of the same file: reloaded in place, the user's instance and token stay.
    deploy_file(template, &server.plugins, "template.so");
    assert_eq!(events.next("reloaded")["id"], "plugin-template");
    let view = server.plugin("plugin-template");
    assert!(
        view["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m.as_str().unwrap().starts_with("reloaded:")),
        "{view}"
    );
    assert_eq!(view["webhook_url"].as_str(), Some(hook.as_str()));
    assert_eq!(answer(&hook).text().unwrap(), "Hello, admin! Message sent.");

    // A broken build is refused and the running one kept.
    std::fs::write(
        server.plugins.join(".cut.tmp"),
        &std::fs::read(template).unwrap()[..50_000],
    )
    .unwrap();
    std::fs::rename(
        server.plugins.join(".cut.tmp"),
        server.plugins.join("template.so"),
    )
    .unwrap();
    let refusal = events.next("reload-refused");
    assert!(
        refusal["message"]
            .as_str()
            .unwrap()
            .contains("the running one is kept"),
        "{refusal}"
    );
    assert_eq!(
        answer(&hook).status(),
        200,
        "the running build still answers"
    );

    std::fs::remove_file(server.plugins.join("template.so")).unwrap();
    assert_eq!(events.next("unloaded")["id"], "plugin-template");
    server.eventually("the removed plugin is gone", || {
        server.statuses().is_empty()
    });
    assert_eq!(answer(&hook).status(), 404);
}

#[test]
fn a_plugin_folder_installed_the_way_plugin_build_deploy_installs_it_is_followed_too() {
    use plugrack_host::package;
    let server = TestServer::start(&[]);
    let token = json(server.admin(Method::POST, "/api/tokens").send().unwrap())["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let events = EventStream::open(&server, &token);
    // `plugin-build deploy` verifies the package, then calls this installer: a staging
    // folder under a hidden name, renamed (or exchanged) into `<plugins>/<id>/`.
    let deploy = || {
        let bytes =
            crate::support::package("plugin-template", "0.1.0", &example_plugins().template);
        let verified = package::verify("template.plg".as_ref(), &bytes).unwrap();
        package::check_descriptors(&verified).unwrap();
        package::install(
            &verified,
            plugrack_host::host_target_name(),
            &server.plugins,
        )
        .unwrap()
    };
    let first = deploy();
    assert_eq!(first.replaced, None);
    assert_eq!(events.next("loaded")["id"], "plugin-template");
    server.eventually("the deployed folder is listed", || {
        server.statuses() == [("plugin-template".to_owned(), "active".to_owned())]
    });
    assert_eq!(server.plugin("plugin-template")["file"], "plugin-template");
    let hook = server.enable("plugin-template");
    let answer = || server.client.post(format!("{hook}webhook")).send().unwrap();
    assert_eq!(answer().text().unwrap(), "Hello, admin! Message sent.");

    // Deployed again: the folder is exchanged whole and the plugin reloaded in place.
    let second = deploy();
    assert_eq!(second.replaced.as_deref(), Some("0.1.0"));
    assert_eq!(events.next("reloaded")["id"], "plugin-template");
    assert_eq!(answer().text().unwrap(), "Hello, admin! Message sent.");

    std::fs::remove_dir_all(server.plugins.join("plugin-template")).unwrap();
    assert_eq!(events.next("unloaded")["id"], "plugin-template");
    server.eventually("the removed folder is gone", || {
        server.statuses().is_empty()
    });
    assert_eq!(answer().status(), 404);
}

#[test]
fn users_tokens_switches_configuration_storage_and_messages_survive_a_restart() {
    let examples = example_plugins();
    let mut server = TestServer::start(&[("showcase.so", &examples.showcase)]);
    let bob = server.user("bob");
    let hook = server.enable("showcase");
    let put = server
        .admin(Method::PUT, "/api/plugins/showcase/config")
        .body(r#"{"greeting": "Salut", "max_count": 100}"#)
        .send()
        .unwrap();
    assert_eq!(put.status(), 200);
    let count = |hook: &str| {
        json(server.client.post(format!("{hook}count")).send().unwrap())["count"].as_i64()
    };
    assert_eq!(count(&hook), Some(1));
    assert_eq!(count(&hook), Some(2));
    let sent = server
        .client
        .post(format!("{hook}notify"))
        .body("before the restart")
        .send()
        .unwrap();
    assert_eq!(sent.status(), 202);

    let status = server.restart();
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
    assert!(
        !server.stderr().contains("created the administrator"),
        "the administrator is created once"
    );

    let view = server.plugin("showcase");
    assert_eq!(view["enabled"], true);
    let token = |url: &str| url.rsplit("/custom/").next().unwrap().to_owned();
    let new_hook = view["webhook_url"].as_str().unwrap().to_owned();
    assert_eq!(
        token(&new_hook),
        token(&hook),
        "the same token after a restart (on a new port)"
    );
    let hook = new_hook;
    assert_eq!(
        server
            .client
            .get(format!("{hook}hello"))
            .send()
            .unwrap()
            .text()
            .unwrap(),
        "Salut, admin!"
    );
    let count = json(server.client.post(format!("{hook}count")).send().unwrap())["count"].as_i64();
    assert_eq!(count, Some(3), "the instance's storage survived");
    let config = json(
        server
            .admin(Method::GET, "/api/plugins/showcase/config")
            .send()
            .unwrap(),
    );
    assert_eq!(config["stored"], true);
    let messages = json(server.admin(Method::GET, "/api/messages").send().unwrap());
    assert_eq!(messages[0]["message"], "before the restart");
    let me = server
        .with_token(&bob, Method::GET, "/api/user")
        .send()
        .unwrap();
    assert_eq!(json(me)["name"], "bob", "tokens survive");
    assert!(server.data.join("logs/plugin-showcase.log").is_file());
}

#[test]
fn sigterm_lets_in_flight_requests_finish_then_unloads_the_plugins() {
    let examples = example_plugins();
    let mut server = TestServer::start(&[("showcase.so", &examples.showcase)]);
    let hook = server.enable("showcase");
    let client = server.client.clone();
    let slow = thread::spawn(move || {
        let response = client
            .get(format!("{hook}hello?delay_ms=1500"))
            .send()
            .unwrap();
        (response.status().as_u16(), response.text().unwrap())
    });
    thread::sleep(Duration::from_millis(400));
    server.signal_stop();
    let (status, body) = slow.join().unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, "Hello, admin!"),
        "the in-flight request finished"
    );
    let exit = server.wait();
    assert!(exit.success(), "{exit}");
    let stderr = server.stderr();
    assert!(stderr.contains("SIGTERM: stopping"), "{stderr}");
    assert!(stderr.contains("unloaded 1 plugins; stopped"), "{stderr}");
    let log = std::fs::read_to_string(server.data.join("logs/plugin-showcase.log")).unwrap();
    assert!(log.contains("showcase unloading"), "on_unload ran: {log}");
}

#[test]
fn ctrl_c_stops_the_server_cleanly_too() {
    let mut server = TestServer::start(&[("showcase.so", &example_plugins().showcase)]);
    server.interrupt();
    let exit = server.wait();
    assert!(exit.success(), "{exit}");
    assert!(
        server.stderr().contains("Ctrl-C: stopping"),
        "{}",
        server.stderr()
    );
}

/// The binary started by hand, for the first start (which the other tests' servers
/// configure): with or without `PLUGIN_SERVER_ADMIN_PASSWORD`.
struct Bare {
    child: std::process::Child,
    base: Option<String>,
    stderr: Arc<Mutex<String>>,
}

impl Bare {
    fn start(root: &Path, password: Option<&str>) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_plugin-server"));
        command
            .arg("--plugins-dir")
            .arg(root.join("plugins"))
            .arg("--data-dir")
            .arg(root.join("data"))
            .args(["--listen", "127.0.0.1:0"])
            .env_remove("PLUGIN_SERVER_ADMIN_PASSWORD")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(password) = password {
            command.env("PLUGIN_SERVER_ADMIN_PASSWORD", password);
        }
        let mut child = command.spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (collected, pipe) = (Arc::clone(&stderr), child.stderr.take().unwrap());
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut text = collected.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        // The first line on stdout says where it listens; none if it stopped at once.
        let first = BufReader::new(child.stdout.take().unwrap())
            .lines()
            .next()
            .and_then(Result::ok);
        let base = first.and_then(|line| {
            line.strip_prefix("plugin-server listening on ")
                .map(str::to_owned)
        });
        Self {
            child,
            base,
            stderr,
        }
    }

    /// stderr, once it holds `expected` (at most 20 s), or all of it once the process ended.
    fn stderr_with(&mut self, expected: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.stderr.lock().unwrap().clone();
            if text.contains(expected) {
                return text;
            }
            // After the process has ended, the reader may still be draining the pipe (a
            // loaded machine): keep looking until the deadline.
            assert!(
                Instant::now() < deadline,
                "no `{expected}` on stderr:\n{text}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(mut self) -> std::process::ExitStatus {
        if self.child.try_wait().unwrap().is_none() {
            // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
            unsafe {
                libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
            }
        }
        self.child.wait().unwrap()
    }
}

#[test]
fn the_first_start_creates_the_administrator_once_with_a_password_shown_once() {
    let root = tempfile::tempdir().unwrap();
    let mut first = Bare::start(root.path(), None);
    let base = first.base.clone().expect("it listens");
    let stderr = first.stderr_with("shown only this once");
    let password = stderr
        .split("with the password `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no password in:\n{stderr}"))
        .to_owned();
    assert_eq!(password.len(), 24, "{password}");
    let me = client()
        .get(format!("{base}/api/user"))
        .basic_auth("admin", Some(&password))
        .send()
        .unwrap();
    assert_eq!(json(me)["admin"], true);
    assert!(first.stop().success());
    assert!(root.path().join("data/plugin-server.sqlite3").is_file());

    // Started again: the administrator exists, nothing is printed, the password still works.
    let mut again = Bare::start(root.path(), Some("another-password"));
    let base = again.base.clone().expect("it listens");
    let me = client()
        .get(format!("{base}/api/user"))
        .basic_auth("admin", Some(&password))
        .send()
        .unwrap();
    assert_eq!(me.status(), 200);
    let stderr = again.stderr_with("plugins active");
    assert!(!stderr.contains("created the administrator"), "{stderr}");
    assert!(again.stop().success());

    // A first start with a password that is too short does not start.
    let fresh = tempfile::tempdir().unwrap();
    let mut short = Bare::start(fresh.path(), Some("short"));
    assert!(short.base.is_none(), "it must not listen");
    let stderr = short.stderr_with("shorter than 8 characters");
    assert!(
        stderr.contains("error: PLUGIN_SERVER_ADMIN_PASSWORD is shorter than 8 characters"),
        "{stderr}"
    );
    assert_eq!(short.stop().code(), Some(1));
}

#[test]
fn a_trusted_key_that_cannot_be_used_stops_the_start_with_exit_2() {
    let root = tempfile::tempdir().unwrap();
    let not_a_key = root.path().join("notes.pub");
    std::fs::write(&not_a_key, "just some text\n").unwrap();
    let missing = root.path().join("missing.pub");
    for (key, expected) in [
        (
            &missing,
            format!("cannot read trusted key `{}`", missing.display()),
        ),
        (
            &not_a_key,
            format!("`{}` is not a minisign public key", not_a_key.display()),
        ),
    ] {
        assert_start_refused(
            root.path(),
            &["--trusted-key".as_ref(), key.as_os_str()],
            &expected,
        );
    }
}
