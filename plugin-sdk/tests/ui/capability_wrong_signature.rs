// A capability method with the wrong signature is rustc's error at the author's method.
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

impl Executor for HelloInstance {
    fn execute(&self, label: String, input: Values) -> Result<Values> {
        let _ = label;
        Ok(input)
    }
}

export_plugin!(Hello);

fn main() {}
