//! Progress on stderr: a bar redrawn in place on a terminal, plain lines otherwise (a line per
//! phase, and one per tenth of a large phase), nothing with `--quiet`. Notes (warnings) are
//! printed in every mode.

use std::io::{self, IsTerminal, Read, Write};
use std::time::{Duration, Instant};

/// Phases smaller than this get no percentage lines in [`Mode::Lines`].
const LARGE: u64 = 32 << 20;
/// How often the bar is redrawn at most.
const REDRAW: Duration = Duration::from_millis(100);
/// The bar's width in characters.
const WIDTH: u64 = 30;

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Nothing but notes.
    Quiet,
    /// Plain lines (stderr is not a terminal).
    Lines,
    /// A bar redrawn with `\r` (stderr is a terminal).
    Bar,
}

/// The progress of the current phase.
#[derive(Debug)]
pub struct Progress {
    mode: Mode,
    phase: String,
    total: u64,
    done: u64,
    started: Instant,
    drawn: Instant,
    next_tenth: u64,
    bar_shown: bool,
}

impl Progress {
    /// Progress for stderr: a bar on a terminal, lines otherwise, none if `quiet`.
    pub fn for_stderr(quiet: bool) -> Progress {
        let mode = if quiet {
            Mode::Quiet
        } else if io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Lines
        };
        Progress::new(mode)
    }

    /// Progress in `mode`.
    pub fn new(mode: Mode) -> Progress {
        let now = Instant::now();
        Progress {
            mode,
            phase: String::new(),
            total: 0,
            done: 0,
            started: now,
            drawn: now,
            next_tenth: 1,
            bar_shown: false,
        }
    }

    /// Starts a phase of `total` bytes.
    pub fn start(&mut self, phase: &str, total: u64) {
        self.phase = phase.to_string();
        self.total = total;
        self.done = 0;
        self.next_tenth = 1;
        self.started = Instant::now();
        match self.mode {
            Mode::Quiet => {}
            Mode::Lines => eprintln!("{phase}: {}", human(total)),
            Mode::Bar => self.draw(),
        }
    }

    /// Counts `n` more bytes of the phase.
    pub fn advance(&mut self, n: u64) {
        self.done = self.done.saturating_add(n);
        match self.mode {
            Mode::Quiet => {}
            Mode::Lines => {
                let large = self.total >= LARGE;
                while large
                    && self.next_tenth < 10
                    && self.done * 10 >= self.total * self.next_tenth
                {
                    let percent = self.next_tenth * 10;
                    eprintln!(
                        "{}: {percent}% ({} of {})",
                        self.phase,
                        human(self.done),
                        human(self.total)
                    );
                    self.next_tenth += 1;
                }
            }
            Mode::Bar => {
                if self.drawn.elapsed() >= REDRAW {
                    self.draw();
                }
            }
        }
    }

    /// Ends the phase.
    pub fn finish(&mut self) {
        let seconds = self.started.elapsed().as_secs_f64();
        match self.mode {
            Mode::Quiet => {}
            Mode::Lines => eprintln!("{}: done in {seconds:.1} s", self.phase),
            Mode::Bar => {
                self.done = self.done.max(self.total);
                self.draw();
                eprintln!(" {seconds:.1} s");
                self.bar_shown = false;
            }
        }
    }

    /// Prints a step ("reading SOURCE") unless quiet.
    pub fn step(&mut self, text: &str) {
        if self.mode != Mode::Quiet {
            self.note(text);
        }
    }

    /// Prints a line (a warning) in every mode, above the bar if one is shown.
    pub fn note(&mut self, text: &str) {
        if self.bar_shown {
            eprint!("\r\x1b[K");
        }
        eprintln!("{text}");
        if self.bar_shown {
            self.draw();
        }
    }

    fn draw(&mut self) {
        let filled = (self.done.min(self.total) * WIDTH)
            .checked_div(self.total)
            .unwrap_or(WIDTH);
        let percent = (self.done.min(self.total) * 100)
            .checked_div(self.total)
            .unwrap_or(100);
        let bar: String = (0..WIDTH)
            .map(|i| if i < filled { '#' } else { '.' })
            .collect();
        eprint!(
            "\r\x1b[K{} [{bar}] {percent:>3}% {} of {}",
            self.phase,
            human(self.done),
            human(self.total)
        );
        let _ = io::stderr().flush();
        self.drawn = Instant::now();
        self.bar_shown = true;
    }
}

/// Counts what is read through it as progress.
pub struct Counting<'p, R> {
    /// The reader.
    pub inner: R,
    /// Where the bytes are counted.
    pub progress: &'p mut Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// Bytes for people: `512 B`, `786.4 kB`, `201.3 MB`, `4.2 GB` (powers of 1000).
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS.get(unit).unwrap_or(&"TB"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0 B");
        assert_eq!(human(999), "999 B");
        assert_eq!(human(786_432), "786.4 kB");
        assert_eq!(human(201_300_000), "201.3 MB");
        assert_eq!(human(4_200_000_000), "4.2 GB");
    }
}
