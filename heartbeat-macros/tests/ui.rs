//! Compile-time behaviour of `#[job]`: what compiles, and the error (with
//! its span) for every kind of bad argument.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
