// A capability implemented on the plugin type instead of its instance type: the capability
// traits require `Instance`, so the mistake is refused instead of the capability going missing.
use plugrack_sdk::prelude::*;

struct Hello;
struct HelloInstance;

impl Plugin for Hello {
    type Instance = HelloInstance;
    fn load(_services: &Services) -> Result<Self> {
        Ok(Hello)
    }
    fn new_instance(&self, _user: &User, _services: Services) -> Result<HelloInstance> {
        Ok(HelloInstance)
    }
}

impl Instance for HelloInstance {}

impl Displayer for Hello {
    fn display(&self, _location: &str) -> Result<String> {
        Ok("hello".into())
    }
}

export_plugin!(Hello);

fn main() {}
