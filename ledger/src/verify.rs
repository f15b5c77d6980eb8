//! Offline audit (in progress).
