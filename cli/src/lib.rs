//! `sio`: a Socket.IO command-line client, on the `socketio-tokio` client.
//!
//! - `sio listen URL [options]` prints every received event as one JSON line,
//!   `{"nsp":"/","event":"auth","args":[{"t":1}]}`, until `--count` events were printed.
//! - `sio emit URL EVENT [ARG_JSON…] [--ack]` emits one event; with `--ack` it prints the ack's
//!   arguments as one compact JSON array, `[1,"x",{"y":[1]}]`.
//!
//! Binary values are written `{"$bin":"<base64>"}` both ways (see [`values`]). Exit codes are in
//! [`exit`]. The binary is a thin wrapper over [`main_with`], which tests call in-process with
//! their own output sinks.

pub mod args;
pub mod exit;
mod run;
pub mod values;

use std::ffi::OsString;
use std::io::Write;

use clap::Parser as _;

pub use args::Cli;
pub use exit::Failure;

/// Where `sio` writes: stdout (events, acks) and stderr (progress, errors). Both are flushed
/// after every line.
pub struct Output {
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
}

impl Output {
    /// The process's stdout and stderr.
    pub fn stdio() -> Output {
        Output::new(std::io::stdout(), std::io::stderr())
    }

    /// Custom sinks (tests).
    pub fn new(out: impl Write + Send + 'static, err: impl Write + Send + 'static) -> Output {
        Output {
            out: Box::new(out),
            err: Box::new(err),
        }
    }

    /// One line on stdout. A closed stdout (`sio listen | head -1`) is not an error worth
    /// reporting; the caller stops when this returns `false`.
    pub fn line(&mut self, line: &str) -> bool {
        writeln!(self.out, "{line}")
            .and_then(|()| self.out.flush())
            .is_ok()
    }

    /// One line on stderr, prefixed with `sio: `.
    pub fn note(&mut self, line: &str) {
        let _ = writeln!(self.err, "sio: {line}").and_then(|()| self.err.flush());
    }
}

/// Parses `args` (the first item is the program name) and runs the command, writing to
/// `output`; returns the exit code. Usage errors and `--help` are handled here too (code 2, 0).
pub async fn main_with<I, T>(args: I, mut output: Output) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let text = error.render().to_string();
            if error.use_stderr() {
                let _ = output.err.write_all(text.as_bytes());
                let _ = output.err.flush();
            } else {
                let _ = output.out.write_all(text.as_bytes());
                let _ = output.out.flush();
            }
            return code;
        }
    };
    match run::run(cli, &mut output).await {
        Ok(()) => exit::OK,
        Err(failure) => {
            for line in failure.to_string().lines() {
                output.note(line);
            }
            failure.code()
        }
    }
}
