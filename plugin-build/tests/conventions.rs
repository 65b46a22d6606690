//! The cargo and shell conventions of the two tools, with the real programs: `cargo plugin`
//! through real cargo (which finds `cargo-plugin` on the `PATH`), the completion scripts of
//! `plugin-build` and `plugin-host` loaded into real bash, fish and zsh, and their man pages
//! rendered by `man`. PowerShell is not installable here: its script is checked as text.

mod support;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::OnceLock,
};
use support::{shared_target_dir, workspace_root};

fn show(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn succeeds(cmd: &mut Command, what: &str) -> String {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(output.status.success(), "{what} failed\n{}", show(&output));
    String::from_utf8(output.stdout).unwrap()
}

/// A program the tests need: CI installs it (scripts/setup.sh), so it is never skipped.
fn tool(name: &str) -> PathBuf {
    which::which(name).unwrap_or_else(|_| {
        panic!("`{name}` is not installed: run scripts/setup.sh (it installs it)")
    })
}

fn plugin_build() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_plugin-build"))
}

/// The `plugin-host` tool, built into the shared target directory (the same command as the
/// other plugin-build tests use).
fn plugin_host() -> &'static Path {
    static HOST: OnceLock<PathBuf> = OnceLock::new();
    HOST.get_or_init(|| {
        succeeds(
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(workspace_root())
                .env("CARGO_TARGET_DIR", shared_target_dir())
                .args(["build", "-p", "plugrack-host", "--bin", "plugin-host"]),
            "building plugin-host",
        );
        shared_target_dir().join("debug/plugin-host")
    })
}

/// Real cargo with the folder of `cargo-plugin` first on the `PATH`, as after
/// `cargo install plugrack-build`.
fn cargo_with_plugin() -> Command {
    let bin = Path::new(env!("CARGO_BIN_EXE_cargo-plugin"))
        .parent()
        .unwrap()
        .to_owned();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin];
    dirs.extend(std::env::split_paths(&path));
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.env("PATH", std::env::join_paths(dirs).unwrap());
    cmd
}

#[test]
fn cargo_plugin_is_plugin_build_as_a_cargo_subcommand() {
    let through_cargo = succeeds(
        cargo_with_plugin().args(["plugin", "targets"]),
        "cargo plugin targets",
    );
    let direct = succeeds(
        Command::new(plugin_build()).arg("targets"),
        "plugin-build targets",
    );
    assert_eq!(through_cargo, direct);
    assert!(
        direct.contains("arm64  aarch64-unknown-linux-gnu"),
        "{direct}"
    );

    let help = succeeds(
        cargo_with_plugin().args(["plugin", "new", "--help"]),
        "cargo plugin new --help",
    );
    assert!(help.contains("Usage: cargo plugin new"), "{help}");

    // A real project, made through cargo.
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("via-cargo");
    let out = cargo_with_plugin()
        .current_dir(dir.path())
        .args(["plugin", "new", "via-cargo", "--sdk-version", "1.0.0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Created"));
    assert!(project.join("src/lib.rs").is_file());

    // A refused command line: clap's usage error, exit code 2, naming `cargo plugin`.
    let out = cargo_with_plugin()
        .args(["plugin", "no-such-command"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cargo plugin"),
        "{}",
        show(&out)
    );
}

fn completions(tool_path: &Path, shell: &str, dir: &Path) -> PathBuf {
    let script = succeeds(
        Command::new(tool_path).args(["completions", shell]),
        &format!("completions {shell}"),
    );
    let file = dir.join(format!("completions.{shell}"));
    std::fs::write(&file, script).unwrap();
    file
}

/// What bash's completion function offers for `words` (the last one being completed).
fn bash_complete(script: &Path, command: &str, words: &[&str]) -> Vec<String> {
    let words_quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        r#"source '{script}'
spec=$(complete -p {command}) || exit 3
fn=$(sed -E 's/.*-F ([^ ]+).*/\1/' <<<"$spec")
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
prev=${{COMP_WORDS[COMP_CWORD-1]}}
"$fn" {command} "${{COMP_WORDS[COMP_CWORD]}}" "$prev"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script = script.display(),
        words = words_quoted.join(" "),
    );
    let out = succeeds(
        Command::new(tool("bash")).args(["--norc", "-c", &program]),
        "bash completion",
    );
    out.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What fish offers for the command line `line`.
fn fish_complete(script: &Path, line: &str) -> Vec<String> {
    let out = succeeds(
        Command::new(tool("fish")).args([
            "--no-config",
            "-c",
            &format!("source '{}'; complete -C '{line}'", script.display()),
        ]),
        "fish completion",
    );
    out.lines()
        .map(|l| l.split('\t').next().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn completion_scripts_complete_in_real_shells() {
    let dir = tempfile::tempdir().unwrap();
    // (tool, name, a prefix and the subcommands it completes to, a subcommand, a prefix and
    // flags of that subcommand it completes to)
    type Case<'a> = (
        &'a Path,
        &'a str,
        &'a str,
        [&'a str; 2],
        &'a str,
        &'a str,
        [&'a str; 2],
    );
    let build = plugin_build();
    let cases: [Case; 2] = [
        (
            &build,
            "plugin-build",
            "d",
            ["deploy", "doctor"],
            "new",
            "--sd",
            ["--sdk-version", "--sdk-path"],
        ),
        (
            plugin_host(),
            "plugin-host",
            "c",
            ["call", "completions"],
            "call",
            "--",
            ["--plugins-dir", "--bundled-dir"],
        ),
    ];
    for (binary, name, prefix, subcommands, sub, flag_prefix, flags) in cases {
        let bash = completions(binary, "bash", dir.path());
        let offered = bash_complete(&bash, name, &[name, prefix]);
        for want in subcommands {
            assert!(
                offered.iter().any(|o| o == want),
                "bash {name} {prefix}: {offered:?}"
            );
        }
        // A subcommand's own flags (what clap-rs/clap#6421 breaks for hyphenated names).
        let offered = bash_complete(&bash, name, &[name, sub, flag_prefix]);
        for want in flags {
            assert!(
                offered.iter().any(|o| o == want),
                "bash {name} {sub} {flag_prefix}: {offered:?}"
            );
        }

        let fish = completions(binary, "fish", dir.path());
        let offered = fish_complete(&fish, &format!("{name} {prefix}"));
        for want in subcommands {
            assert!(
                offered.iter().any(|o| o == want),
                "fish {name} {prefix}: {offered:?}"
            );
        }
        let offered = fish_complete(&fish, &format!("{name} {sub} {flag_prefix}"));
        for want in flags {
            assert!(
                offered.iter().any(|o| o == want),
                "fish {name} {sub}: {offered:?}"
            );
        }

        // zsh: the script parses, and loading it defines the completion function that
        // `compdef` registered for the command.
        let zsh = completions(binary, "zsh", dir.path());
        let zdir = dir.path().join(format!("zfunc-{name}"));
        std::fs::create_dir_all(&zdir).unwrap();
        std::fs::copy(&zsh, zdir.join(format!("_{name}"))).unwrap();
        let program = format!(
            "fpath=('{}' $fpath); autoload -U compinit; compinit -u -D; print -r -- ${{_comps[{name}]}}",
            zdir.display()
        );
        let registered = succeeds(
            Command::new(tool("zsh")).args(["-f", "-c", &program]),
            "zsh compinit",
        );
        assert_eq!(registered.trim(), format!("_{name}"), "zsh");
        succeeds(Command::new(tool("zsh")).arg("-n").arg(&zsh), "zsh -n");

        let powershell =
            std::fs::read_to_string(completions(binary, "powershell", dir.path())).unwrap();
        assert!(
            powershell.contains(&format!(
                "Register-ArgumentCompleter -Native -CommandName '{name}'"
            )),
            "{powershell}"
        );
        assert!(powershell.contains(flags[0]), "powershell: no {}", flags[0]);
    }
}

#[test]
fn man_pages_render_with_man() {
    let dir = tempfile::tempdir().unwrap();
    for (binary, name, sub, flag) in [
        (plugin_build(), "plugin-build", "new", "--sdk-version"),
        (
            plugin_host().to_owned(),
            "plugin-host",
            "call",
            "--plugins-dir",
        ),
    ] {
        let out_dir = dir.path().join(name);
        let listed = succeeds(
            Command::new(&binary)
                .args(["man", "--out-dir"])
                .arg(&out_dir),
            "man --out-dir",
        );
        let page = out_dir.join(format!("{name}-{sub}.1"));
        assert!(listed.lines().any(|l| Path::new(l) == page), "{listed}");
        let rendered = succeeds(
            Command::new(tool("man"))
                .env("MANWIDTH", "100")
                .args(["-P", "cat", "-l"])
                .arg(&page),
            "man -l",
        );
        // man marks bold as `X\x08X` when not writing to a terminal, and justifies lines:
        // compare plain words.
        let mut plain = String::new();
        for c in rendered.chars() {
            if c == '\u{8}' {
                plain.pop();
            } else {
                plain.push(c);
            }
        }
        let rendered = plain.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(rendered.contains(&format!("{name}-{sub} - ")), "{rendered}");
        assert!(
            rendered.contains(&format!("{name} {sub}")),
            "synopsis:\n{rendered}"
        );
        assert!(rendered.contains(flag), "{rendered}");

        let main = succeeds(Command::new(&binary).arg("man"), "man to stdout");
        assert!(main.contains(&format!(".TH {name} 1")), "{main}");
        assert!(main.contains(sub), "{main}");
    }
}
