//! Exit codes and the CLI's error type: every failure maps to one documented code.
//!
//! 0 ok · 1 failure · 2 usage (bad flags, bad input file) · 3 rejected by a validator rule ·
//! 4 node unavailable (unreachable, syncing, busy).
use std::fmt;

pub const FAILURE: i32 = 1;
pub const USAGE: i32 = 2;
pub const REJECTED: i32 = 3;
pub const UNAVAILABLE: i32 = 4;

#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
    pub fn failure(m: impl Into<String>) -> CliError {
        CliError {
            code: FAILURE,
            message: m.into(),
        }
    }
    pub fn usage(m: impl Into<String>) -> CliError {
        CliError {
            code: USAGE,
            message: m.into(),
        }
    }
    pub fn rejected(m: impl Into<String>) -> CliError {
        CliError {
            code: REJECTED,
            message: m.into(),
        }
    }
    pub fn unavailable(m: impl Into<String>) -> CliError {
        CliError {
            code: UNAVAILABLE,
            message: m.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;
