//! What every server test needs: the real example plugins (built once per run, shared with
//! the end-to-end crate), the real `plugin-server` binary started on 127.0.0.1 in fresh
//! folders, an HTTP client, and `.plg` packages made the way `plugin-build package` makes
//! them (good ones and damaged ones).

#![expect(
    dead_code,
    reason = "each test module uses its own part of this toolbox"
)]

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Read, Write},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{mpsc, Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use plugrack_host::manifest::{self, Manifest, ManifestPlugin, ManifestTarget, FORMAT};
use reqwest::blocking::{Client, RequestBuilder, Response};

#[path = "../../../tests/src/examples.rs"]
mod examples;

#[path = "../../../tests/src/manifest_schema.rs"]
pub mod manifest_schema;

pub use examples::example_plugins;

/// The first administrator's password in every test server.
pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// An HTTP client for the tests (no proxy: everything is on 127.0.0.1).
pub fn client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client")
}

/// A running `plugin-server` process.
pub struct TestServer {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The folder holding `plugins/` and `data/` (kept for a restart).
    pub root: Arc<tempfile::TempDir>,
    /// The watched plugins folder.
    pub plugins: PathBuf,
    /// The data folder.
    pub data: PathBuf,
    stderr: Arc<Mutex<String>>,
    /// The thread copying stderr: done once the process has ended and its pipe is drained.
    stderr_reader: Option<thread::JoinHandle<()>>,
    extra: Vec<String>,
    env: Vec<(String, String)>,
    pub client: Client,
}

impl TestServer {
    /// A server over a fresh plugins folder holding copies of `plugins` (file name, source).
    pub fn start(plugins: &[(&str, &Path)]) -> Self {
        Self::start_with(plugins, &[])
    }

    /// The same, with extra command-line arguments.
    pub fn start_with(plugins: &[(&str, &Path)], extra: &[&str]) -> Self {
        Self::start_with_env(plugins, extra, &[])
    }

    /// The same, with environment variables for the server process.
    pub fn start_with_env(plugins: &[(&str, &Path)], extra: &[&str], env: &[(&str, &str)]) -> Self {
        let root = Arc::new(tempfile::tempdir().expect("a temporary folder"));
        let dir = root.path().join("plugins");
        std::fs::create_dir_all(&dir).unwrap();
        for (name, source) in plugins {
            std::fs::copy(source, dir.join(name))
                .unwrap_or_else(|e| panic!("copy {} to {name}: {e}", source.display()));
        }
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::spawn(root, extra.iter().map(|s| s.to_string()).collect(), env)
    }

    fn spawn(root: Arc<tempfile::TempDir>, extra: Vec<String>, env: Vec<(String, String)>) -> Self {
        let plugins = root.path().join("plugins");
        let data = root.path().join("data");
        let mut child = Command::new(env!("CARGO_BIN_EXE_plugin-server"))
            .arg("--plugins-dir")
            .arg(&plugins)
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen", "127.0.0.1:0"])
            .args(&extra)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("PLUGIN_SERVER_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("PLUGIN_SERVER_LOG", "info")
            .env_remove("PLUGINS_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start plugin-server");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let collected = Arc::clone(&stderr);
        let stderr_reader = thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                collected
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                panic!(
                    "plugin-server did not say where it listens\n{}",
                    stderr.lock().unwrap()
                )
            });
        let base = line
            .strip_prefix("plugin-server listening on ")
            .unwrap_or_else(|| panic!("unexpected first line `{line}`"))
            .to_owned();
        Self {
            child: Some(child),
            base,
            root,
            plugins,
            data,
            stderr,
            stderr_reader: Some(stderr_reader),
            extra,
            env,
            client: client(),
        }
    }

    /// After the process ended: waits (at most 10 s) until everything it wrote to stderr has
    /// been read, so that its last lines are in [`Self::stderr`].
    fn drain_stderr(&mut self) {
        let Some(reader) = self.stderr_reader.take() else {
            return;
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !reader.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        if reader.is_finished() {
            let _ = reader.join();
        }
    }

    /// Stops this server (SIGTERM) and starts a new one over the same folders.
    pub fn restart(&mut self) -> ExitStatus {
        let status = self.stop();
        let next = Self::spawn(Arc::clone(&self.root), self.extra.clone(), self.env.clone());
        let old = std::mem::replace(self, next);
        drop(old);
        status
    }

    /// Sends SIGTERM and waits (at most 30 s) for the process to end.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the server runs");
        terminate(&child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.drain_stderr();
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "plugin-server did not stop within 30 s of SIGTERM\n{}",
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM without waiting.
    pub fn signal_stop(&self) {
        terminate(self.child.as_ref().expect("the server runs"));
    }

    /// Sends SIGINT (what Ctrl-C sends) without waiting.
    pub fn interrupt(&self) {
        let child = self.child.as_ref().expect("the server runs");
        // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGINT);
        }
    }

    /// Waits (at most 30 s) for the process to end by itself.
    pub fn wait(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the server runs");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.drain_stderr();
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "plugin-server did not stop\n{}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request as the administrator (basic auth).
    pub fn admin(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
    }

    /// A request without credentials.
    pub fn anonymous(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request with a client token.
    pub fn with_token(&self, token: &str, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    /// Creates a (non-admin) user and returns a client token of theirs.
    pub fn user(&self, name: &str) -> String {
        let created = self
            .admin(reqwest::Method::POST, "/api/users")
            .json(&serde_json::json!({"name": name, "password": format!("{name}-password")}))
            .send()
            .unwrap();
        assert_eq!(created.status(), 201, "{}", created.text().unwrap());
        let token = self
            .client
            .post(self.url("/api/tokens"))
            .basic_auth(name, Some(format!("{name}-password")))
            .json(&serde_json::json!({"name": "tests"}))
            .send()
            .unwrap();
        assert_eq!(token.status(), 201);
        json(token)["token"].as_str().unwrap().to_owned()
    }

    /// The administrator's view of a plugin.
    pub fn plugin(&self, id: &str) -> serde_json::Value {
        let response = self
            .admin(reqwest::Method::GET, &format!("/api/plugins/{id}"))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200, "plugin `{id}`");
        json(response)
    }

    /// Enables the administrator's instance of a plugin and returns its webhook URL.
    pub fn enable(&self, id: &str) -> String {
        let response = self
            .admin(reqwest::Method::POST, &format!("/api/plugins/{id}/enable"))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200, "enable `{id}`");
        let view = json(response);
        assert_eq!(view["enabled"], true);
        view["webhook_url"].as_str().unwrap_or_default().to_owned()
    }

    /// Polls `check` every 50 ms for at most 20 s.
    pub fn eventually(&self, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !check() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for: {what}\n{}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The ids and statuses the administrator sees.
    pub fn statuses(&self) -> Vec<(String, String)> {
        let list = json(
            self.admin(reqwest::Method::GET, "/api/plugins")
                .send()
                .unwrap(),
        );
        list.as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["id"].as_str().unwrap().to_owned(),
                    p["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&child);
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn terminate(child: &Child) {
    // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
}

/// The JSON body of a response.
pub fn json(response: Response) -> serde_json::Value {
    let status = response.status();
    let text = response.text().unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text}"))
}

/// Asserts an error response: its status, and that `error` contains `expected`; returns
/// the body.
pub fn refused(response: Response, status: u16, expected: &str) -> serde_json::Value {
    assert_eq!(
        response.status(),
        status,
        "expected {status} with `{expected}`"
    );
    let body = json(response);
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.contains(expected), "expected `{expected}` in: {body}");
    assert!(
        body.get("hint").is_some(),
        "every error has a hint field: {body}"
    );
    body
}

/// A `.plg` as `plugin-build package` makes it: `plugin.toml` then `<name>-amd64.so`.
pub fn package(id: &str, version: &str, so: &Path) -> Vec<u8> {
    let bytes = std::fs::read(so).unwrap();
    let file = format!("{id}-amd64.so");
    let manifest = manifest_for(id, version, &[("amd64", &file, &bytes)]);
    tar_gz(&[("plugin.toml", manifest.as_bytes()), (&file, &bytes)])
}

/// `plugin.toml` text for the given targets.
pub fn manifest_for(id: &str, version: &str, targets: &[(&str, &str, &[u8])]) -> String {
    let text = Manifest {
        format: FORMAT,
        plugin: ManifestPlugin {
            id: id.into(),
            name: id.into(),
            version: version.into(),
            description: String::new(),
            authors: vec![],
            homepage: String::new(),
            license: String::new(),
            host_version: ">=1.0.0, <2.0.0".into(),
            target_os: vec!["linux".into()],
            // What the library's descriptor section says: `plugin-build package` copies it.
            api_version: plugrack_host::API_VERSION.into(),
        },
        source: None,
        targets: targets
            .iter()
            .map(|(target, file, bytes)| {
                (
                    target.to_string(),
                    ManifestTarget {
                        file: file.to_string(),
                        size: bytes.len() as u64,
                        sha256: manifest::sha256_hex(bytes),
                        libs: Vec::new(),
                    },
                )
            })
            .collect::<BTreeMap<_, _>>(),
    }
    .to_toml();
    manifest_schema::assert_valid(&text);
    text
}

/// A minisign key pair made the way `plugin-build keygen` makes one, its public key written
/// to `dir/NAME.pub` for `--trusted-key`.
pub struct SigningKey {
    pair: minisign::KeyPair,
    /// The public key file.
    pub public_file: PathBuf,
}

impl SigningKey {
    pub fn new(dir: &Path, name: &str) -> Self {
        let pair = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let public_file = dir.join(format!("{name}.pub"));
        std::fs::write(&public_file, pair.pk.to_box().unwrap().to_string()).unwrap();
        Self { pair, public_file }
    }

    /// Writes the secret key, unencrypted, as `plugin-build keygen` does, to `path`.
    pub fn write_secret(&self, path: &Path) {
        std::fs::write(path, self.pair.sk.to_box(None).unwrap().to_string()).unwrap();
    }

    /// The text of `plugin.toml.minisig` for `manifest`, as `plugin-build package --sign`
    /// writes it.
    pub fn sign(&self, manifest: &[u8]) -> String {
        minisign::sign(
            Some(&self.pair.pk),
            &self.pair.sk,
            std::io::Cursor::new(manifest),
            Some("plugrack plugin.toml of a test"),
            None,
        )
        .unwrap()
        .to_string()
    }

    /// A `.plg` of `so` signed with this key.
    pub fn package(&self, id: &str, version: &str, so: &Path) -> Vec<u8> {
        let bytes = std::fs::read(so).unwrap();
        let file = format!("{id}-amd64.so");
        let manifest = manifest_for(id, version, &[("amd64", &file, &bytes)]);
        let signature = self.sign(manifest.as_bytes());
        tar_gz(&[
            ("plugin.toml", manifest.as_bytes()),
            ("plugin.toml.minisig", signature.as_bytes()),
            (&file, &bytes),
        ])
    }
}

/// A tar + gzip of plain entries.
pub fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (name, data) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_path(name).unwrap();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// A package with `first` and then one hand-written entry (a name the tar crate refuses to
/// write, such as `../evil.so`, or a link).
pub fn with_raw_entry(
    first: &[(&str, &[u8])],
    name: &str,
    kind: tar::EntryType,
    link: &str,
) -> Vec<u8> {
    let mut tar_bytes = Vec::new();
    {
        let mut builder = tar::Builder::new(&mut tar_bytes);
        for (entry, data) in first {
            let mut header = tar::Header::new_gnu();
            header.set_path(entry).unwrap();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        let mut header = tar::Header::new_gnu();
        let gnu = header.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        let data: &[u8] = if kind == tar::EntryType::Regular {
            b"evil"
        } else {
            b""
        };
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append(&header, data).unwrap();
        builder.finish().unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar_bytes).unwrap();
    gz.finish().unwrap()
}

/// Uploads `bytes` as the multipart field `package` named `name`.
pub fn upload(server: &TestServer, name: &str, bytes: Vec<u8>) -> Response {
    let part = reqwest::blocking::multipart::Part::bytes(bytes).file_name(name.to_owned());
    let form = reqwest::blocking::multipart::Form::new().part("package", part);
    server
        .admin(reqwest::Method::POST, "/api/plugins")
        .multipart(form)
        .send()
        .unwrap()
}

/// Every file under `dir` with its contents: what "untouched" is checked against.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.insert(path.clone(), Vec::new());
                stack.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// Copies `source` into `dir/name` the way a deploy does: a hidden temporary file, then a
/// rename, so the watcher never sees half a file.
pub fn deploy_file(source: &Path, dir: &Path, name: &str) {
    let hidden = dir.join(format!(".{name}.tmp"));
    std::fs::copy(source, &hidden).unwrap();
    std::fs::rename(&hidden, dir.join(name)).unwrap();
}

/// Reads server-sent events from a stream in the background; `next` waits for the next
/// event (name, data) with a time limit.
pub struct EventStream {
    events: mpsc::Receiver<(String, serde_json::Value)>,
}

impl EventStream {
    /// Opens `/api/events` with a token in the query, as the page does.
    pub fn open(server: &TestServer, token: &str) -> Self {
        let client = Client::builder().no_proxy().timeout(None).build().unwrap();
        let response = client
            .get(server.url(&format!("/api/events?token={token}")))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut name = String::new();
            for line in BufReader::new(response).lines() {
                let Ok(line) = line else { break };
                if let Some(event) = line.strip_prefix("event: ") {
                    name = event.to_owned();
                } else if let Some(data) = line.strip_prefix("data: ") {
                    let value = serde_json::from_str(data).unwrap_or(serde_json::Value::Null);
                    if tx.send((std::mem::take(&mut name), value)).is_err() {
                        break;
                    }
                }
            }
        });
        Self { events: rx }
    }

    /// The next event whose name is `kind`, skipping others (at most 20 s).
    pub fn next(&self, kind: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok((name, data)) if name == kind => return data,
                Ok(_) => continue,
                Err(_) => panic!("no `{kind}` event within 20 s"),
            }
        }
    }

    /// Every event that arrives within `wait` from now, by name.
    pub fn within(&self, wait: Duration) -> Vec<(String, serde_json::Value)> {
        let deadline = Instant::now() + wait;
        let mut seen = Vec::new();
        while let Ok(event) = self
            .events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            seen.push(event);
        }
        seen
    }
}

/// Starts `plugin-server` over fresh folders under `root` with `extra` arguments, expecting it
/// to refuse its command line: exit code 2, `expected` on stderr, nothing on stdout, no data
/// folder created. Returns the stderr.
pub fn assert_start_refused(root: &Path, extra: &[&std::ffi::OsStr], expected: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_plugin-server"))
        .arg("--plugins-dir")
        .arg(root.join("plugins"))
        .arg("--data-dir")
        .arg(root.join("data"))
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected `{expected}` in: {stderr}"
    );
    assert!(output.stdout.is_empty(), "it never listened");
    assert!(!root.join("data").exists(), "nothing was created");
    stderr.into_owned()
}
