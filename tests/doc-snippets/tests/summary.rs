//! The book's table of contents (`docs/SUMMARY.md`) names only pages that exist; a guide
//! under `docs/` that it does not name is reported (not failed: pages are added by parallel
//! work, and a missing table entry should not stop a CI run).

use std::{collections::BTreeSet, path::Path};

fn docs() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs"))
}

/// The `(page.md)` targets of SUMMARY.md's links.
fn summary_pages() -> Vec<String> {
    let text = std::fs::read_to_string(docs().join("SUMMARY.md")).expect("docs/SUMMARY.md");
    text.split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_page_in_the_summary_exists() {
    let pages = summary_pages();
    assert!(pages.len() >= 10, "SUMMARY.md lists {pages:?}");
    let missing: Vec<_> = pages.iter().filter(|p| !docs().join(p).is_file()).collect();
    assert!(
        missing.is_empty(),
        "SUMMARY.md names pages that do not exist: {missing:?}"
    );

    let listed: BTreeSet<String> = pages.into_iter().collect();
    let unlisted: Vec<String> = std::fs::read_dir(docs())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".md") && name != "SUMMARY.md" && !listed.contains(name))
        .collect();
    for page in &unlisted {
        eprintln!("warning: docs/{page} is not in docs/SUMMARY.md: the book does not show it");
    }
}
