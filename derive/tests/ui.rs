//! Compile-time behaviour of the derives: every error message as the compiler shows it
//! (`tests/ui/*.rs` + `.stderr`), and inputs that must compile (`tests/ui/pass/*.rs`).
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test -p pgrepo-derive --test ui`,
//! then read every changed `.stderr` before keeping it.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
