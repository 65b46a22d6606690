//! Plugin route tables: the routes an instance declares, matched with `matchit`.
//!
//! Patterns are go-plugin's (`/item/:id`, and `*rest` for the remainder), translated to
//! matchit's syntax (`/item/{id}`, `{*rest}`). One table per plugin and user (routes are an
//! instance's answer), built on first use and dropped when the plugin is loaded, reloaded or
//! unloaded, or the user's configuration changes, so the table follows the plugin without a
//! restart.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use plugrack_host::Route;

/// One instance's routes.
#[derive(Debug)]
pub struct RouteTable {
    router: matchit::Router<usize>,
    /// Per path pattern: the methods and their labels.
    methods: Vec<Vec<(String, String)>>,
}

/// Why a request matched no route.
#[derive(Debug, PartialEq, Eq)]
pub enum Miss {
    /// No pattern matches the path.
    NotFound,
    /// A pattern matches, with other methods.
    Method(Vec<String>),
}

/// Translates a go-plugin style pattern to matchit's.
pub fn to_matchit(pattern: &str) -> Result<String, String> {
    if !pattern.starts_with('/') {
        return Err(format!("route `{pattern}` does not start with `/`"));
    }
    let segments: Vec<&str> = pattern.split('/').skip(1).collect();
    let mut out = String::new();
    for (i, segment) in segments.iter().enumerate() {
        out.push('/');
        if let Some(name) = segment.strip_prefix(':') {
            out.push_str(&format!("{{{name}}}"));
        } else if let Some(name) = segment.strip_prefix('*') {
            if i + 1 != segments.len() {
                return Err(format!(
                    "route `{pattern}`: `*{name}` must be the last segment"
                ));
            }
            out.push_str(&format!("{{*{name}}}"));
        } else {
            out.push_str(&segment.replace('{', "{{").replace('}', "}}"));
        }
    }
    Ok(out)
}

impl RouteTable {
    /// Builds the table of `plugin`'s routes; conflicting or malformed patterns are refused
    /// with a message naming them.
    pub fn build(plugin: &str, routes: &[Route]) -> Result<Self, String> {
        let mut router = matchit::Router::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut methods: Vec<Vec<(String, String)>> = Vec::new();
        for route in routes {
            let pattern = to_matchit(&route.path).map_err(|e| format!("plugin `{plugin}`: {e}"))?;
            let index = match patterns.iter().position(|p| *p == pattern) {
                Some(index) => index,
                None => {
                    router
                        .insert(pattern.clone(), patterns.len())
                        .map_err(|e| {
                            format!(
                                "plugin `{plugin}`: route `{}` cannot be mounted: {e}",
                                route.path
                            )
                        })?;
                    patterns.push(pattern);
                    methods.push(Vec::new());
                    patterns.len() - 1
                }
            };
            let method = route.method.to_ascii_uppercase();
            if methods[index].iter().any(|(m, _)| *m == method) {
                return Err(format!(
                    "plugin `{plugin}`: route `{method} {}` is declared twice",
                    route.path
                ));
            }
            methods[index].push((method, route.label.clone()));
        }
        Ok(Self { router, methods })
    }

    /// The label of the route for `method` and `path`.
    pub fn find(&self, method: &str, path: &str) -> Result<&str, Miss> {
        let matched = self.router.at(path).map_err(|_| Miss::NotFound)?;
        let methods = &self.methods[*matched.value];
        methods
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, label)| label.as_str())
            .ok_or_else(|| Miss::Method(methods.iter().map(|(m, _)| m.clone()).collect()))
    }
}

/// The route tables built so far, per plugin (lower-case) and user id.
#[derive(Default)]
pub struct RouteTables {
    tables: RwLock<HashMap<(String, u64), Arc<RouteTable>>>,
}

impl RouteTables {
    /// The table for a plugin and user, if built.
    pub fn get(&self, plugin: &str, user: u64) -> Option<Arc<RouteTable>> {
        self.tables
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(plugin.to_ascii_lowercase(), user))
            .cloned()
    }

    /// Keeps a built table.
    pub fn insert(&self, plugin: &str, user: u64, table: RouteTable) -> Arc<RouteTable> {
        let table = Arc::new(table);
        self.tables
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((plugin.to_ascii_lowercase(), user), Arc::clone(&table));
        table
    }

    /// Drops a plugin's tables (it was loaded, reloaded or unloaded).
    pub fn forget_plugin(&self, plugin: &str) {
        let plugin = plugin.to_ascii_lowercase();
        self.tables
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(p, _), _| *p != plugin);
    }

    /// Drops one user's table of a plugin (their configuration changed).
    pub fn forget(&self, plugin: &str, user: u64) {
        self.tables
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(plugin.to_ascii_lowercase(), user));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str, label: &str) -> Route {
        Route {
            method: method.into(),
            path: path.into(),
            label: label.into(),
        }
    }

    #[test]
    fn patterns_translate() {
        let table = [
            ("/hello", Ok("/hello")),
            ("/item/:id", Ok("/item/{id}")),
            ("/files/*rest", Ok("/files/{*rest}")),
            ("/a/:b/c", Ok("/a/{b}/c")),
            ("/odd{x}", Ok("/odd{{x}}")),
            ("hello", Err("does not start with `/`")),
            ("/*rest/x", Err("must be the last segment")),
        ];
        for (input, expected) in table {
            match (to_matchit(input), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{input}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{input}: {got}"),
                (got, want) => panic!("{input}: {got:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn matching_distinguishes_path_and_method() {
        let table = RouteTable::build(
            "p",
            &[
                route("GET", "/hello", "hello"),
                route("POST", "/hello", "hello-post"),
                route("GET", "/item/:id", "item"),
            ],
        )
        .unwrap();
        assert_eq!(table.find("GET", "/hello"), Ok("hello"));
        assert_eq!(table.find("POST", "/hello"), Ok("hello-post"));
        assert_eq!(table.find("GET", "/item/42"), Ok("item"));
        assert_eq!(
            table.find("DELETE", "/item/42"),
            Err(Miss::Method(vec!["GET".into()]))
        );
        assert_eq!(table.find("GET", "/nothing"), Err(Miss::NotFound));
        let twice = RouteTable::build("p", &[route("GET", "/a", "x"), route("get", "/a", "y")]);
        assert!(twice.unwrap_err().contains("declared twice"));
        let conflict = RouteTable::build(
            "p",
            &[route("GET", "/a/:x", "x"), route("GET", "/a/:y", "y")],
        );
        assert!(conflict.unwrap_err().contains("cannot be mounted"));
    }
}
