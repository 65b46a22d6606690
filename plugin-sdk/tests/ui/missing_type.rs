// The macro needs the plugin type.
use plugrack_sdk::prelude::*;

export_plugin!();

fn main() {}
