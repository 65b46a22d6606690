// Anything after the arguments is refused with the two accepted forms.
use plugrack_sdk::prelude::*;

struct Hello;

impl Plugin for Hello {
    type Instance = NoInstance;
    fn load(_services: &Services) -> Result<Self> {
        Ok(Hello)
    }
}

export_plugin!(Hello, extensions = [] Formatter);

fn main() {}
