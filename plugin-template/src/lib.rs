//! A plugin made from the template: one `execute` operation, `hello`, that greets its input.

use plugin_sdk::prelude::*;

/// The plugin.
pub struct TemplatePlugin;

/// One user's instance.
pub struct TemplateInstance {
    user: User,
}

impl Plugin for TemplatePlugin {
    type Instance = TemplateInstance;

    fn load(_services: &Services) -> Result<Self> {
        log::info!("loaded");
        Ok(TemplatePlugin)
    }

    fn new_instance(&self, user: &User, _services: Services) -> Result<TemplateInstance> {
        Ok(TemplateInstance { user: user.clone() })
    }
}

impl Instance for TemplateInstance {}

impl Executor for TemplateInstance {
    fn execute(&self, label: &str, input: Values) -> Result<Values> {
        match label {
            "hello" => {
                let name = input
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(&self.user.name);
                let mut out = Values::new();
                out.insert("message".into(), format!("hello, {name}").into());
                Ok(out)
            }
            other => Err(Error::not_found(format!("no operation labelled `{other}`"))),
        }
    }
}

plugin_sdk::export_plugin!(TemplatePlugin);

#[cfg(test)]
mod tests {
    use plugin_sdk::testing::Harness;

    use super::*;

    #[test]
    fn hello_greets_by_name() {
        let harness = Harness::<TemplatePlugin>::load().unwrap();
        let instance = harness.instance(User::new(1, "ada")).unwrap();
        let out = instance.execute("hello", Values::new()).unwrap();
        assert_eq!(out["message"], Value::from("hello, ada"));
    }
}
