//! The DSL's compile-time contract: every mistake is an error naming its clause and the accepted
//! form (`tests/ui/fail`, each with the exact message in its `.stderr`), and the documented forms
//! expand without a warning (`tests/ui/pass`).
//!
//! Regenerate the `.stderr` files after an intended message change with
//! `TRYBUILD=overwrite cargo test --test ui`, then review the diff.

#[test]
fn dsl_mistakes_are_compile_errors_that_name_the_clause() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
