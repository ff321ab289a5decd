//! The operator's binary as the tests run it: one account's credentials in a clean AWS
//! environment, so that no profile, configuration file, session token or endpoint variable of the
//! machine running the tests takes part.

/// `detective-operator` acting as `account_id` (the emulator takes the access key id for the
/// caller) in `us-east-1`, at its default log level.
pub fn operator_as(account_id: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_detective-operator"));
    command
        .env("AWS_ACCESS_KEY_ID", account_id)
        .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_DETECTIVE")
        .env_remove("RUST_LOG");
    command
}
