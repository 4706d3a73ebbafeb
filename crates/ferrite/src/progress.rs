//! Progress bars on stderr, only when stderr is a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

fn target() -> ProgressDrawTarget {
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A byte progress bar with a known or unknown total.
pub(crate) fn bytes(total: Option<u64>, label: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(total, target());
    let style = if total.is_some() {
        "{msg} {bytes}/{total_bytes} [{bar:30}] {percent}% {bytes_per_sec} {eta}"
    } else {
        "{msg} {bytes} {bytes_per_sec} {elapsed}"
    };
    bar.set_style(
        ProgressStyle::with_template(style)
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(label.to_string());
    bar
}

/// A counter for long walks (`repo verify`).
pub(crate) fn counter(label: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, target());
    bar.set_style(ProgressStyle::with_template("{msg} {pos} {per_sec}").expect("valid template"));
    bar.set_message(label.to_string());
    bar
}
