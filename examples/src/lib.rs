//! Examples live in this directory as `[[example]]` targets.
