//! GS1 keys (placeholder, filled by the validators work).
