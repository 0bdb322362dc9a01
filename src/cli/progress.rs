//! A progress line on a terminal for long imports (nothing when output is piped).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::import::Progress;
use crate::import::rows::RowProgress;

pub struct TerminalProgress {
    bar: Option<ProgressBar>,
}

impl TerminalProgress {
    pub fn new(enabled: bool) -> TerminalProgress {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        TerminalProgress { bar }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl RowProgress for TerminalProgress {
    fn rows(&self, file: &str, rows: u64, _bytes: u64) {
        if let Some(b) = &self.bar {
            b.set_message(format!("{file}: {rows} rows"));
        }
    }
}

impl Progress for TerminalProgress {
    fn phase(&self, phase: &str) {
        if let Some(b) = &self.bar {
            b.set_message(phase.to_owned());
        }
    }
}
