//! The graph that `tests/throttling.rs` and `benches/throttling.rs` drive through rate limits,
//! outages and throttle storms: its accounts (who accept at once, so it can become Ready), its
//! spec, and one reconcile with the operator's own AWS settings (`AwsAccess::load`: its retry
//! mode, attempts and timeouts), as the controller makes it.

use detective_emulator::{AccountConfig, Emulator, WorldConfig};
use detective_operator::api::{DetectiveGraphSpec, DetectiveGraphStatus};
use detective_operator::aws::{AwsAccess, AwsSettings, SdkDetective};
use detective_operator::engine::{self, GraphOutcome, GraphTarget, Mode, Reported};
use k8s_openapi::jiff::Timestamp;

pub const REGION: &str = "us-east-1";

/// Makes the operator's credential chain (`AwsAccess::load` reads the environment) act as
/// `account`, with no profile, file, session token or instance metadata of the machine taking
/// part.
///
/// # Safety
/// Call before any other thread starts (before the runtime): it writes the environment.
pub unsafe fn act_as(account: &str) {
    // SAFETY: the caller guarantees this is the only thread.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", account);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "emulator-secret");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_CONFIG_FILE", "/dev/null");
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
        std::env::remove_var("AWS_PROFILE");
        std::env::remove_var("AWS_SESSION_TOKEN");
    }
}

pub fn account(i: u64) -> String {
    format!("{:012}", 200_000_000_000 + i)
}

pub fn spec(members: u64) -> DetectiveGraphSpec {
    let members: Vec<serde_json::Value> = (0..members)
        .map(|i| serde_json::json!({"accountId": account(i), "emailAddress": format!("root+{i}@example.com")}))
        .collect();
    serde_json::from_value(serde_json::json!({"region": REGION, "members": members})).expect("a valid spec")
}

/// Members who accept their invitations at once, so a graph can become Ready.
pub fn world(members: u64) -> WorldConfig {
    WorldConfig {
        accounts: (0..members)
            .map(|i| AccountConfig {
                account_id: account(i),
                email: format!("root+{i}@example.com"),
                auto_accept_after_ms: Some(0),
                ..AccountConfig::default()
            })
            .collect(),
        ..WorldConfig::default()
    }
}

/// The operator's own AWS configuration, pointed at an emulator, and its Detective client.
pub struct OperatorAws {
    pub access: AwsAccess,
    pub detective: SdkDetective,
}

impl OperatorAws {
    /// The credentials come from the environment, as the operator's chain reads them.
    pub async fn to(emulator: &Emulator) -> OperatorAws {
        let access = AwsAccess::load(&AwsSettings {
            region: Some(REGION.into()),
            endpoint_url: Some(emulator.endpoint_url()),
            max_attempts: None,
        })
        .await;
        let detective = access.detective(None, None).await.expect("a client");
        OperatorAws { access, detective }
    }

    /// One reconcile of `spec` after `previous`.
    pub async fn reconcile(&self, spec: &DetectiveGraphSpec, previous: Option<&DetectiveGraphStatus>) -> GraphOutcome {
        let target = GraphTarget::new(spec, previous, Some(1));
        engine::graph::reconcile(&self.detective, &self.access, target, Mode::Apply, Timestamp::now()).await
    }

    /// Reconciles `spec` until Ready, moving the emulator's clock a minute between tries (at
    /// most 10): the converged status.
    pub async fn converged(&self, emulator: &Emulator, spec: &DetectiveGraphSpec) -> DetectiveGraphStatus {
        let mut previous: Option<DetectiveGraphStatus> = None;
        for _ in 0..10 {
            let outcome = self.reconcile(spec, previous.as_ref()).await;
            let ready = outcome.is_ready();
            previous = Some(outcome.status);
            if ready {
                return previous.expect("just set");
            }
            emulator.advance_clock(std::time::Duration::from_secs(60));
        }
        panic!("the graph did not converge: {previous:?}");
    }
}
