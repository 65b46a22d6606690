// A misspelt macro argument (`extension` for `extensions`) is refused at the argument.
use plugrack_sdk::prelude::*;

struct Hello;

impl Plugin for Hello {
    type Instance = NoInstance;
    fn load(_services: &Services) -> Result<Self> {
        Ok(Hello)
    }
}

export_plugin!(Hello, extension = [Formatter]);

fn main() {}
