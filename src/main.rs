//! The `swe-sleep` binary: parse arguments, set up logging, dispatch to a
//! subcommand, and map errors to exit codes (0 ok, 1 failure, 2 usage).

use clap::Parser;

mod cli;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    if let Err(e) = cli::init_tracing(args.verbose, args.log_file.as_deref()) {
        eprintln!("error: {}", cli::error_text(&e));
        return std::process::ExitCode::from(1);
    }
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", cli::error_text(&e));
            std::process::ExitCode::from(1)
        }
    }
}
