//! What the person sees while targets build: when stderr is a terminal, an indicatif line per
//! target with its status and elapsed time (the backend's own output is then captured, and
//! shown if it fails); otherwise plain cargo-style status lines, with the backend's
//! diagnostics passed straight through.

use std::{io::IsTerminal, time::Duration};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::targets::Target;

/// The progress display of one `build` run.
#[derive(Debug)]
pub enum Progress {
    /// A line per target (stderr is a terminal).
    Bars {
        /// The bars' container (messages go through it so they do not tear the bars).
        multi: MultiProgress,
        /// One bar per target, by target name.
        bars: Vec<(&'static str, ProgressBar)>,
    },
    /// Plain status lines.
    Plain,
}

impl Progress {
    /// Bars when `human` output goes to a terminal, plain lines otherwise.
    pub fn new(targets: &[Target], human: bool) -> Self {
        if !(human && std::io::stderr().is_terminal()) {
            return Progress::Plain;
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{prefix:>12.bold} {spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bars = targets
            .iter()
            .map(|t| {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(style.clone());
                bar.set_prefix(t.name);
                bar.set_message("waiting");
                (t.name, bar)
            })
            .collect();
        Progress::Bars { multi, bars }
    }

    /// Whether the backend's stderr must be captured (it would tear the bars).
    pub fn captures_stderr(&self) -> bool {
        matches!(self, Progress::Bars { .. })
    }

    /// A cargo-style status line: `word` right-aligned, then the message.
    pub fn status(&self, word: &str, message: &str) {
        let line = format!("{word:>12} {message}");
        match self {
            Progress::Bars { multi, .. } => {
                let _ = multi.println(line);
            }
            Progress::Plain => eprintln!("{line}"),
        }
    }

    fn bar(&self, target: &Target) -> Option<&ProgressBar> {
        match self {
            Progress::Bars { bars, .. } => bars
                .iter()
                .find(|(name, _)| *name == target.name)
                .map(|(_, b)| b),
            Progress::Plain => None,
        }
    }

    /// The targets of one backend invocation start.
    pub fn start(&self, targets: &[Target], what: &str) {
        match self {
            Progress::Bars { .. } => {
                for target in targets {
                    if let Some(bar) = self.bar(target) {
                        bar.reset_elapsed();
                        bar.set_message(format!("building {what}"));
                        bar.enable_steady_tick(Duration::from_millis(120));
                    }
                }
            }
            Progress::Plain => self.status("Building", what),
        }
    }

    /// The next step of one target's work (its line changes, its clock keeps running); a
    /// plain status line with `word` when there are no bars.
    pub fn step(&self, target: &Target, word: &str, message: &str) {
        match self.bar(target) {
            Some(bar) => {
                bar.set_message(message.to_owned());
                bar.enable_steady_tick(Duration::from_millis(120));
            }
            None => self.status(word, &format!("{}: {message}", target.name)),
        }
    }

    /// A target is built and checked.
    pub fn finish(&self, target: &Target, message: &str) {
        self.finish_as(target, "Finished", message);
    }

    /// A target's work is over; `word` is the plain status word (`Finished`, `Fresh`).
    pub fn finish_as(&self, target: &Target, word: &str, message: &str) {
        match self.bar(target) {
            Some(bar) => bar.finish_with_message(format!("done: {message}")),
            None => self.status(word, &format!("{}: {message}", target.name)),
        }
    }

    /// All invocations are over: leave the cursor below the bars, so what follows (the summary
    /// table on stdout, an error) starts on a line of its own.
    pub fn done(&self) {
        if let Progress::Bars { bars, .. } = self {
            for (_, bar) in bars {
                if !bar.is_finished() {
                    bar.abandon();
                }
            }
            eprintln!();
        }
    }

    /// The targets of a failed invocation.
    pub fn fail(&self, targets: &[Target]) {
        for target in targets {
            if let Some(bar) = self.bar(target) {
                bar.abandon_with_message("failed");
            }
        }
    }
}
