//! `detective-emulator`: the local Amazon Detective API server as its own process, for demos,
//! the AWS CLI and SDKs in other languages. All behaviour lives in this crate's library,
//! `detective_emulator`; this only parses flags, sets up logging and waits for a signal.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use detective_emulator::{Emulator, EmulatorConfig, Fault, TlsFiles, WorldConfig};
use tracing_subscriber::EnvFilter;

/// Local Amazon Detective API emulator (restJson1 over HTTP or HTTPS). Control endpoints under /_emulator/.
#[derive(Debug, Parser)]
#[command(name = "detective-emulator", version)]
struct Args {
    /// Address to listen on. Loopback by default: the emulator checks no signatures.
    #[arg(long, env = "DETECTIVE_EMULATOR_LISTEN", default_value = "127.0.0.1:4566")]
    listen: SocketAddr,

    /// World model (accounts, e-mails, GuardDuty enrolment, organizations) as YAML or JSON.
    #[arg(long, env = "DETECTIVE_EMULATOR_CONFIG")]
    config: Option<PathBuf>,

    /// Persist graphs and members here after every change, and load them at start.
    #[arg(long, env = "DETECTIVE_EMULATOR_STATE_FILE")]
    state_file: Option<PathBuf>,

    /// Account that callers act as when their access key id is not a 12-digit account id.
    /// Overrides `defaultAccount` of the config file.
    #[arg(long, env = "DETECTIVE_EMULATOR_DEFAULT_ACCOUNT")]
    default_account: Option<String>,

    /// Serve HTTPS with this certificate chain (PEM, leaf first) instead of HTTP. Needs --tls-key.
    #[arg(long, env = "DETECTIVE_EMULATOR_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "DETECTIVE_EMULATOR_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Throttle like the real service: per account and Region, AWS calls beyond this many a
    /// second answer 429 TooManyRequestsException (a token bucket with bursts of as many).
    #[arg(long, env = "DETECTIVE_EMULATOR_RATE_LIMIT", value_name = "REQUESTS_PER_SECOND")]
    rate_limit: Option<u32>,

    /// The realistic profile: propagation delays, one Detective administrator for the
    /// organization, ... at their realistic defaults (as `realistic: true` in the config file,
    /// whose own settings for each part still apply).
    #[arg(long, env = "DETECTIVE_EMULATOR_REALISTIC")]
    realistic: bool,

    /// A fault in force from the start, in the JSON form of `POST /_emulator/faults`
    /// (e.g. '{"kind":"internalError","rate":0.05,"seed":7}'). Repeatable.
    #[arg(long = "fault", value_name = "JSON", value_parser = parse_fault)]
    faults: Vec<Fault>,
}

fn parse_fault(json: &str) -> Result<Fault, String> {
    serde_json::from_str(json).map_err(|err| format!("invalid fault: {err}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("detective-emulator: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let mut world = match &args.config {
        Some(path) => WorldConfig::from_file(path)?,
        None => WorldConfig::default(),
    };
    let defaults = EmulatorConfig::default();
    if let Some(account) = &args.default_account {
        world.default_account = Some(account.clone());
    }
    world.realistic |= args.realistic;
    let config = EmulatorConfig {
        listen: args.listen,
        default_account: world.default_account.clone().unwrap_or(defaults.default_account),
        world,
        state_file: args.state_file,
        tls: args
            .tls_cert
            .zip(args.tls_key)
            .map(|(certificate_chain, private_key)| TlsFiles {
                certificate_chain,
                private_key,
            }),
    };
    config
        .world
        .validate()
        .map_err(|err| format!("invalid world model: {err}"))?;
    let emulator = Emulator::start(config)
        .await
        .map_err(|err| format!("cannot start: {err}"))?;
    for fault in args.faults.into_iter().chain(args.rate_limit.map(Fault::rate_limit)) {
        fault.validate().map_err(|err| format!("invalid fault: {err}"))?;
        emulator.inject_fault(fault);
    }
    // First line on stdout, so a parent process that asked for port 0 learns the port.
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {}", emulator.endpoint_url())
            .and_then(|()| stdout.flush())
            .map_err(|err| format!("cannot write to stdout: {err}"))?;
    }
    wait_for_signal().await;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
