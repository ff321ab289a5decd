//! `detective-operator`: parse the command line, install the TLS provider, dispatch.

use std::process::ExitCode;

use clap::Parser;
use detective_operator::{cli, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    // kube and the AWS SDK both use rustls; one process-wide provider avoids a panic at client
    // creation when two are compiled in.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args = cli::Cli::parse();
    let default_level = match args.command {
        cli::Command::Run(_) => "info",
        _ => "warn",
    };
    telemetry::init(args.log_format, default_level);
    cli::run(args).await
}
