//! `plugin-worker`: the process an out-of-process plugin runs in. A plugrack host starts it
//! (see `plugrack_host::worker`); it is not run by hand.

fn main() {
    plugrack_host::worker::main()
}
