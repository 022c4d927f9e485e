//! Always-visible progress: a live view of stages and of items inside long stages (indicatif) on a
//! terminal; plain, throttled lines on stderr otherwise (CI logs, pipes).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Counters of the stage-level view.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    /// Stages computed in this run.
    pub done: usize,
    /// Stages taken from the cache.
    pub cached: usize,
    /// Stages queued on a cluster, waiting for resources.
    pub queued: usize,
    /// Stages running now.
    pub running: usize,
    /// Stages that failed.
    pub failed: usize,
    /// Stages skipped because an upstream stage failed.
    pub skipped: usize,
}

/// The progress display of one `mexp run`.
pub struct ProgressView {
    multi: Option<MultiProgress>,
    overall: Option<ProgressBar>,
    tally: Mutex<Tally>,
    total: usize,
    quiet: bool,
}

impl ProgressView {
    /// A view for `total` stages; live bars only when stderr is a terminal and not `quiet`.
    pub fn new(total: usize, quiet: bool) -> Self {
        let live = !quiet && std::io::stderr().is_terminal();
        let (multi, overall) = if live {
            let m = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8));
            let bar = m.add(ProgressBar::new(total as u64));
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} stages {pos}/{len} {wide_msg} [{elapsed_precise}]",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            (Some(m), Some(bar))
        } else {
            (None, None)
        };
        ProgressView {
            multi,
            overall,
            tally: Mutex::new(Tally::default()),
            total,
            quiet,
        }
    }

    /// A view that shows nothing (tests, `--json`).
    pub fn hidden(total: usize) -> Self {
        ProgressView::new(total, true)
    }

    /// Prints a line above the live bars (or to stderr).
    pub fn println(&self, line: &str) {
        if self.quiet {
            return;
        }
        match &self.multi {
            Some(m) => {
                let _ = m.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// Updates the counters and the overall bar.
    pub fn update(&self, f: impl FnOnce(&mut Tally)) {
        let t = {
            let Ok(mut t) = self.tally.lock() else { return };
            f(&mut t);
            *t
        };
        if let Some(bar) = &self.overall {
            bar.set_position((t.done + t.cached + t.failed + t.skipped) as u64);
            let queued = if t.queued > 0 {
                format!("queued {} · ", t.queued)
            } else {
                String::new()
            };
            bar.set_message(format!(
                "{queued}done {} · cached {} · running {} · failed {}",
                t.done, t.cached, t.running, t.failed
            ));
        }
    }

    /// Current counters.
    pub fn tally(&self) -> Tally {
        self.tally.lock().map(|t| *t).unwrap_or_default()
    }

    /// Total stages in the view.
    pub fn total(&self) -> usize {
        self.total
    }

    /// A bar for the items of one stage.
    pub fn item_bar(&self, stage: &str, label: &str, total: u64) -> ItemBar {
        let bar = self.multi.as_ref().map(|m| {
            let b = m.add(ProgressBar::new(total));
            b.set_style(
                ProgressStyle::with_template("  {prefix:.bold} {bar:30} {pos}/{len} {msg} ({eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.set_prefix(format!("{stage}: {label}"));
            b
        });
        ItemBar {
            bar,
            label: format!("{stage}: {label}"),
            total,
            pos: Mutex::new((0, Instant::now(), 0)),
            quiet: self.quiet,
        }
    }

    /// Removes the live bars.
    pub fn finish(&self) {
        if let Some(b) = &self.overall {
            b.finish_and_clear();
        }
    }
}

/// Progress of items inside one stage. Plain mode prints a line at most every 10 s and at the end.
pub struct ItemBar {
    bar: Option<ProgressBar>,
    label: String,
    total: u64,
    pos: Mutex<(u64, Instant, u64)>,
    quiet: bool,
}

impl ItemBar {
    /// Advances by `n` items.
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
            return;
        }
        let Ok(mut p) = self.pos.lock() else { return };
        p.0 += n;
        let done = p.0 >= self.total;
        if !self.quiet && (done || p.1.elapsed() >= Duration::from_secs(10)) && p.2 != p.0 {
            eprintln!("  {} {}/{}", self.label, p.0, self.total);
            p.1 = Instant::now();
            p.2 = p.0;
        }
    }

    /// Sets a short status message (e.g. the current loss).
    pub fn message(&self, msg: impl Into<String>) {
        if let Some(b) = &self.bar {
            b.set_message(msg.into());
        }
    }
}

impl Drop for ItemBar {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
