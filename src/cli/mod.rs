//! The command line: `crd`, `plan -f`, `sync -f`; [`render`] shows their results.

pub mod crd;
pub mod demo;
pub mod manifest;
pub mod organization_admin;
pub mod plan;
pub mod render;
pub mod sync;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[cfg(feature = "emulator")]
use detective_emulator::Emulator;

use crate::aws::{AwsAccess, AwsSettings};
use crate::telemetry::LogFormat;

/// Keeps Amazon Detective behavior-graph membership exactly as declared.
#[derive(Debug, Parser)]
#[command(name = "detective-operator", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log format on stderr; the level comes from RUST_LOG (default: info for `run`, warn otherwise).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "DETECTIVE_OPERATOR_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller: keep every DetectiveGraph in the cluster true.
    Run(crate::controller::RunArgs),
    /// Print the CustomResourceDefinitions as multi-document YAML (or write them to a directory).
    Crd(CrdArgs),
    /// Show what a sync would do to the live graph, without writing anything.
    Plan(PlanArgs),
    /// Reconcile each DetectiveGraph once (no cluster needed) and print the resulting status.
    Sync(SyncArgs),
}

#[derive(Debug, Args)]
pub struct CrdArgs {
    /// Write one file per CRD into this directory instead of printing them.
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
}

/// Where AWS is.
#[derive(Debug, Args, Clone)]
pub struct AwsArgs {
    /// The default AWS Region (overrides AWS_REGION) for resources that name none.
    #[arg(long)]
    pub region: Option<String>,

    /// Send Detective calls to this URL (AWS_ENDPOINT_URL_DETECTIVE works too).
    #[arg(long, conflicts_with = "emulator")]
    pub endpoint_url: Option<String>,

    /// Run against an embedded Detective emulator seeded with a demo world: no AWS account needed.
    #[arg(long)]
    pub emulator: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A file, a directory, or - for stdin (multi-document YAML); repeatable.
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<PathBuf>,

    /// Exit 0 when there is nothing to do, 2 when there are changes, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,

    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    pub output: PlanOutput,

    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanOutput {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// A file, a directory, or - for stdin (multi-document YAML); repeatable.
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<PathBuf>,

    /// How the resulting status is printed on stdout.
    #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
    pub output: SyncOutput,

    /// Keep reconciling until every resource is Ready or Stalled, for at most this long (e.g. 2m).
    #[arg(long)]
    pub wait: Option<String>,

    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SyncOutput {
    Yaml,
    Json,
}

/// Why a command could not reach its AWS side.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[cfg(feature = "emulator")]
    #[error(transparent)]
    Demo(#[from] demo::DemoError),
    /// The flag stays so that command lines read the same for every build; the image's binary is
    /// built without the emulator, and says so.
    #[error(
        "--emulator: this detective-operator binary was built without the `emulator` feature \
         (cargo build --no-default-features); build it with default features to use the embedded emulator"
    )]
    EmulatorNotBuilt,
}

/// The AWS side of a command: the real one, or an embedded emulator that lives as long as this.
pub struct AwsBackend {
    pub access: AwsAccess,
    #[cfg(feature = "emulator")]
    pub emulator: Option<Emulator>,
}

impl AwsBackend {
    /// `organization`: whether the documents use the organization fields (the embedded emulator
    /// then adds its demo organization).
    pub async fn connect(args: &AwsArgs, organization: bool) -> Result<Self, ConnectError> {
        if args.emulator {
            return Self::embedded_emulator(args.region.as_deref(), organization).await;
        }
        let settings = AwsSettings {
            region: args.region.clone(),
            endpoint_url: args.endpoint_url.clone(),
            max_attempts: None,
        };
        Ok(Self {
            access: AwsAccess::load(&settings).await,
            #[cfg(feature = "emulator")]
            emulator: None,
        })
    }

    #[cfg(feature = "emulator")]
    async fn embedded_emulator(region: Option<&str>, organization: bool) -> Result<Self, ConnectError> {
        let (emulator, access) = demo::start(region, organization).await?;
        Ok(Self {
            access,
            emulator: Some(emulator),
        })
    }

    #[cfg(not(feature = "emulator"))]
    async fn embedded_emulator(_region: Option<&str>, _organization: bool) -> Result<Self, ConnectError> {
        Err(ConnectError::EmulatorNotBuilt)
    }

    /// Whether the calls go to the embedded emulator (which moves instantly).
    pub fn is_emulated(&self) -> bool {
        #[cfg(feature = "emulator")]
        return self.emulator.is_some();
        #[cfg(not(feature = "emulator"))]
        return false;
    }

    pub async fn shutdown(self) {
        #[cfg(feature = "emulator")]
        if let Some(emulator) = self.emulator {
            emulator.shutdown().await;
        }
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run(args) => match crate::controller::run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        },
        Command::Crd(args) => crd::run(&args),
        Command::Plan(args) => plan::run(&args).await,
        Command::Sync(args) => sync::run(&args).await,
    }
}
