// The exported type must implement `Plugin`; the error points at the type in the macro call.
use plugrack_sdk::prelude::*;

struct Hello;

export_plugin!(Hello);

fn main() {}
