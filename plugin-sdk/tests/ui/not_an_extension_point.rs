// Only traits declared with `#[extension_point]` can be listed; the error points at the entry.
use plugrack_sdk::prelude::*;

struct Hello;

impl Plugin for Hello {
    type Instance = NoInstance;
    fn load(_services: &Services) -> Result<Self> {
        Ok(Hello)
    }
}

trait Formatter {
    fn format(&self, text: &str) -> String;
}

impl Formatter for Hello {
    fn format(&self, text: &str) -> String {
        text.to_owned()
    }
}

export_plugin!(Hello, extensions = [Formatter]);

fn main() {}
