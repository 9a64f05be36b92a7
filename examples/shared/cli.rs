//! What the examples share on the command line: `--help` and usage errors.
//!
//! Included by each example with `#[path = "shared/cli.rs"] mod cli;` (a file directly in
//! `examples/` would be taken for an example of its own).

use std::io::Write as _;
use std::process::ExitCode;

/// `-h`/`--help`: the usage on stdout, exit code 0.
pub fn help(usage: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(usage.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: cannot write output: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A usage error: one `error:` line, then the usage, on stderr; exit code 2.
pub fn usage_error(message: &str, usage: &str) -> ExitCode {
    let _ = write!(std::io::stderr().lock(), "error: {}\n\n{usage}", message.replace('\n', " "));
    ExitCode::from(2)
}
