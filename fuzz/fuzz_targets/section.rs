//! The descriptor section reader: any bytes either read into a section that renders and reads
//! back to itself, or are refused; never a panic. Also through the ELF lookup.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plugrack_descriptor::{elf, section};

fuzz_target!(|data: &[u8]| {
    if let Ok(read) = section::parse(data) {
        let again =
            section::parse(read.render().as_bytes()).expect("a rendered section reads back");
        assert_eq!(again, read);
    }
    let _ = elf::read(data);
});
