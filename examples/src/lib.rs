//! Examples live in this directory as `[[example]]` targets.

/// The workspace README's examples, compiled as doctests so they cannot rot
/// (here, in a crate that is never published, because the README lives
/// outside every published crate).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
