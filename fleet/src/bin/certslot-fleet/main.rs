//! `certslot-fleet`: certslot's store shared through etcd, on the command line. See [`USAGE`]
//! (`certslot-fleet --help`) and the repository's README.
//!
//! `-h` or `--help` prints the usage on stdout, exit code 0; a usage error prints an
//! `error: ...` line and the usage on stderr, exit code 2; a failure prints one `error: ...`
//! line (with `--json`, one JSON object with `kind` and `message`) on stderr, exit code 1, 3 or
//! 4 (see [`USAGE`]).

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod args;
mod commands;
mod output;

use std::io::Write as _;
use std::process::ExitCode;

use crate::args::{Command, USAGE};

fn main() -> ExitCode {
    let (global, command) = match args::parse(std::env::args_os().skip(1)) {
        Ok(parsed) => parsed,
        Err(message) => {
            let _ = write!(std::io::stderr().lock(), "error: {}\n\n{USAGE}", message.replace('\n', " "));
            return ExitCode::from(2);
        }
    };
    if matches!(command, Command::Help) {
        let mut stdout = std::io::stdout().lock();
        return match stdout.write_all(USAGE.as_bytes()).and_then(|()| stdout.flush()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        };
    }
    let json = global.json;
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(global, command)) {
        Ok(report) => {
            let mut stdout = std::io::stdout().lock();
            let written = if json {
                match &report.json {
                    Some(json) => writeln!(stdout, "{json}"),
                    None => Ok(()),
                }
            } else {
                stdout.write_all(report.text.as_bytes())
            };
            match written.and_then(|()| stdout.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: cannot write output: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(failure) => {
            if json {
                match serde_json::to_string(&failure.json()) {
                    Ok(error) => eprintln!("{error}"),
                    Err(_) => eprintln!("error: {}", failure.message.replace('\n', " ")),
                }
            } else {
                eprintln!("error: {}", failure.message.replace('\n', " "));
            }
            ExitCode::from(failure.code)
        }
    }
}
