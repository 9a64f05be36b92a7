//! `certslot-fleet`: certslot's store shared through etcd, on the command line
//! (`certslot-fleet --help`, docs/fleet.md).
//!
//! `-h` or `--help` prints the help on stdout, `--version` the version, exit code 0; a usage
//! error prints an `error: ...` line and the usage on stderr, exit code 2 (also with `--json`);
//! a failure prints one `error: ...` line (with `--json`, one JSON object with `kind` and
//! `message`) on stderr, exit code 1, 3 or 4 (see the help).

#![forbid(unsafe_code)]
#![allow(
    rustdoc::invalid_html_tags,
    reason = "the doc comments of args.rs are clap's help text, plain text where <NAME> is a placeholder"
)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod args;
mod commands;
mod daemon;
mod output;

use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let (global, command) = match args::parse() {
        Ok(parsed) => parsed,
        Err(e) => {
            // The help and the version on stdout, exit 0; a usage error on stderr, exit 2.
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let json = global.json;
    daemon::init_logs(json);
    // Two worker threads: an agent's or a coordinator's lease keep-alive goes on while another
    // task waits on etcd; key generation and file writes go to the blocking pool.
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
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
