//! Output formatting: human text by default, JSON with `--output json`.
use clap::ValueEnum;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

pub struct Output {
    pub format: Format,
    pub quiet: bool,
}

impl Output {
    /// Print a value: as pretty JSON, or through `text` for humans.
    pub fn print(&self, value: &serde_json::Value, text: impl FnOnce(&serde_json::Value) -> String) {
        match self.format {
            Format::Json => println!("{}", serde_json::to_string_pretty(value).unwrap_or_default()),
            Format::Text => println!("{}", text(value)),
        }
    }
    /// Progress and notes to stderr, unless quiet.
    pub fn note(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }
}
