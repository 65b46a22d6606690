//! What the export macro needs to write the `.plugin_descriptor` ELF section: the capability
//! flags as constants, and the assembly of the section's bytes at compile time.
//!
//! The section's format belongs to `plugrack-descriptor` (the macro renders its text there);
//! two of its values are only known to the compiler, not to the macro: the plugrack-api version
//! the plugin is compiled against and the capability traits its instance type implements. The
//! macro leaves those as constant expressions, and [`concat_len`] / [`concat`] join the pieces
//! into one byte array in a `static` placed in the section.

use std::marker::PhantomData;

use crate::{Configurer, Displayer, Executor, HttpHandler};

/// Answers, as constants, which capability traits `I` implements.
///
/// `<CapConst<I>>::EXECUTE` resolves to the inherent constant when `I: Executor` holds and to
/// the trait constant of [`ExecuteAbsent`] otherwise (inherent items win, and an inherent item
/// whose bounds fail is not a candidate). It only works where `I` is concrete, which is why the
/// export macro, not generic code, asks. The capability table of [`crate::__private::CapFns`]
/// answers from the same traits, so the section and the root module agree.
pub struct CapConst<I>(PhantomData<I>);

macro_rules! cap_const {
    ($trait:ident, $absent:ident, $name:ident) => {
        impl<I: $trait> CapConst<I> {
            /// True: `I` implements the trait.
            pub const $name: bool = true;
        }
        #[doc(hidden)]
        pub trait $absent {
            /// False: the type lacks the trait.
            const $name: bool = false;
        }
        impl<T> $absent for T {}
    };
}

cap_const!(Executor, ExecuteAbsent, EXECUTE);
cap_const!(HttpHandler, HttpAbsent, HTTP);
cap_const!(Configurer, ConfigAbsent, CONFIG);
cap_const!(Displayer, DisplayAbsent, DISPLAY);

/// The total length of `pieces`.
pub const fn concat_len(pieces: &[&str]) -> usize {
    let mut len = 0;
    let mut i = 0;
    while i < pieces.len() {
        len += pieces[i].len();
        i += 1;
    }
    len
}

/// `pieces` joined into an array of exactly `N` bytes (`N` = [`concat_len`]; compilation fails
/// on a mismatch).
pub const fn concat<const N: usize>(pieces: &[&str]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut at = 0;
    let mut i = 0;
    while i < pieces.len() {
        let bytes = pieces[i].as_bytes();
        let mut j = 0;
        while j < bytes.len() {
            out[at] = bytes[j];
            at += 1;
            j += 1;
        }
        i += 1;
    }
    assert!(at == N, "the section pieces do not add up to its length");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Instance, Result, Values};

    struct Exec;
    impl Instance for Exec {}
    impl Executor for Exec {
        fn execute(&self, _label: &str, input: Values) -> Result<Values> {
            Ok(input)
        }
    }
    struct Bare;
    impl Instance for Bare {}

    #[test]
    fn capability_constants_follow_the_traits() {
        const FLAGS: [[bool; 4]; 2] = [
            [
                <CapConst<Exec>>::EXECUTE,
                <CapConst<Exec>>::HTTP,
                <CapConst<Exec>>::CONFIG,
                <CapConst<Exec>>::DISPLAY,
            ],
            [
                <CapConst<Bare>>::EXECUTE,
                <CapConst<Bare>>::HTTP,
                <CapConst<Bare>>::CONFIG,
                <CapConst<Bare>>::DISPLAY,
            ],
        ];
        assert_eq!(FLAGS, [[true, false, false, false], [false; 4]]);
    }

    #[test]
    fn pieces_join_at_compile_time() {
        const PIECES: &[&str] = &["a = \"", crate::API_VERSION, "\"\n"];
        const BYTES: [u8; concat_len(PIECES)] = concat(PIECES);
        assert_eq!(
            BYTES.as_slice(),
            format!("a = \"{}\"\n", crate::API_VERSION).as_bytes()
        );
    }
}
