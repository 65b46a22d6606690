//! A text-pipeline plugin built against `text-pipeline-api` 1.1: it implements both of the
//! pipeline's extension points on its plugin type, and offers a word count through the
//! toolkit's own `execute` capability.
//!
//! - `Formatter`: capitalises the first letter of every word; its name is `title-case`, or
//!   `title-case+<flavour>` when the build sets `TP_TITLE_CASE_FLAVOUR` (the tests tell two
//!   builds apart by it);
//! - `Linter`: reports lines longer than 60 characters, and refuses empty text with an error;
//! - `execute("stats")`: `words` = the number of words in `text`.

use plugrack_sdk::prelude::*;
use text_pipeline_api::{
    std_types::{RStr, RString, RVec},
    Error as PluginError, ErrorKind, Finding, Formatter, Linter,
};

/// The plugin.
pub struct TitleCase {
    name: String,
}

/// The formatter's name for this build.
pub fn name() -> String {
    match option_env!("TP_TITLE_CASE_FLAVOUR") {
        Some(flavour) => format!("title-case+{flavour}"),
        None => "title-case".into(),
    }
}

/// Its instance (for `execute`).
pub struct Stats;

impl Plugin for TitleCase {
    type Instance = Stats;

    fn load(_services: &Services) -> Result<Self> {
        let name = name();
        log::info!("title-case loaded as `{name}`");
        Ok(TitleCase { name })
    }

    fn new_instance(&self, _user: &User, _services: Services) -> Result<Stats> {
        Ok(Stats)
    }
}

impl Formatter for TitleCase {
    fn format(&self, text: RStr<'_>) -> RString {
        let mut out = String::with_capacity(text.len());
        let mut at_word_start = true;
        for c in text.as_str().chars() {
            if at_word_start && c.is_alphabetic() {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            at_word_start = c.is_whitespace();
        }
        out.into()
    }

    fn name(&self) -> RString {
        self.name.as_str().into()
    }
}

/// Lines longer than this are reported.
pub const MAX_LINE: usize = 60;

impl Linter for TitleCase {
    fn lint(&self, text: RStr<'_>) -> std::result::Result<RVec<Finding>, PluginError> {
        if text.is_empty() {
            return Err(PluginError::new(
                ErrorKind::INVALID_INPUT,
                "there is no text to check",
            ));
        }
        Ok(text
            .as_str()
            .lines()
            .enumerate()
            .filter(|(_, line)| line.chars().count() > MAX_LINE)
            .map(|(index, line)| Finding {
                line: index as u32 + 1,
                message: format!(
                    "line is {} characters long; keep it to {MAX_LINE}",
                    line.chars().count()
                )
                .into(),
            })
            .collect())
    }
}

impl Instance for Stats {}

impl Executor for Stats {
    fn execute(&self, label: &str, input: Values) -> Result<Values> {
        match label {
            "stats" => {
                let words = match input.get("text") {
                    Some(Value::Str(text)) => text.split_whitespace().count(),
                    _ => return Err(Error::invalid_input("`stats` needs a `text` value")),
                };
                Ok([("words".to_owned(), Value::Int(words as i64))].into())
            }
            other => Err(Error::not_found(format!("no operation `{other}`"))),
        }
    }
}

plugrack_sdk::export_plugin!(TitleCase, extensions = [Formatter, Linter]);
