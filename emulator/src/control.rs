//! The `/_emulator/` endpoints: a side door for tests, demos and benchmarks to shape the world,
//! inject faults and look at what the service holds. They are not AWS calls: they are not
//! counted, not faulted and need no signature. Bodies are JSON (no content-type needed).
//! The list is documented in the module documentation of [`crate`].

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::faults::Fault;
use super::organization_seed::OrganizationSeed;
use super::shared::Shared;
use super::wire;
use super::world::{WorldConfig, WorldPatch};

type SharedState = State<Arc<Shared>>;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/health", get(|| async { ok(json!({"status": "ok"})) }))
        .route("/calls", get(get_calls).delete(reset_calls))
        .route("/calls/faulted", get(get_faulted_calls))
        .route("/calls/refused", get(get_refused_calls))
        .route("/calls/peak", get(get_peak_in_flight))
        .route("/state", get(get_state).delete(reset_state))
        .route("/graphs", post(seed_graph))
        .route("/world", get(get_world).put(put_world).patch(patch_world))
        .route("/world/organization", post(seed_organization))
        .route("/faults", get(get_faults).post(post_faults).delete(clear_faults))
        .route("/clock", get(get_clock).post(advance_clock))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "no such control endpoint; see the detective_emulator crate documentation",
            )
        })
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"message": message.into()}))).into_response()
}

/// A JSON body, or the message of a 400 answer.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|err| format!("invalid request body: {err}"))
}

fn bad_request(message: String) -> Response {
    error(StatusCode::BAD_REQUEST, message)
}

async fn get_calls(State(shared): SharedState) -> Response {
    ok(json!(shared.calls()))
}

async fn get_faulted_calls(State(shared): SharedState) -> Response {
    ok(json!(shared.faulted_calls()))
}

async fn get_refused_calls(State(shared): SharedState) -> Response {
    ok(json!(shared.refused_calls()))
}

async fn get_peak_in_flight(State(shared): SharedState) -> Response {
    ok(json!(shared.peak_in_flight()))
}

async fn reset_calls(State(shared): SharedState) -> Response {
    shared.reset_calls();
    ok(json!({}))
}

async fn get_state(State(shared): SharedState) -> Response {
    let graphs = shared.graphs();
    let (delegations, registered, trusted, roles, now_ms) = {
        let inner = shared.lock();
        (
            serde_json::to_value(&inner.state.delegations).unwrap_or(Value::Null),
            serde_json::to_value(&inner.state.registered_administrators).unwrap_or(Value::Null),
            serde_json::to_value(&inner.state.trusted_access.trusted_services).unwrap_or(Value::Null),
            serde_json::to_value(&inner.state.trusted_access.service_linked_roles).unwrap_or(Value::Null),
            inner.state.now_ms(),
        )
    };
    ok(json!({
        "now": wire::timestamp(now_ms),
        "graphs": graphs,
        "organizationAdministrators": delegations,
        "delegatedAdministrators": registered,
        "trustedServices": trusted,
        "serviceLinkedRoles": roles,
    }))
}

async fn reset_state(State(shared): SharedState) -> Response {
    shared.reset_state();
    ok(json!({}))
}

/// A graph created at a given time (`Emulator::create_graph_at`).
async fn seed_graph(State(shared): SharedState, body: Bytes) -> Response {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Seed {
        administrator_account: String,
        region: String,
        created_time: jiff::Timestamp,
    }
    let seed: Seed = match parse(&body) {
        Ok(seed) => seed,
        Err(message) => return bad_request(message),
    };
    match shared.seed_graph(
        &seed.administrator_account,
        &seed.region,
        seed.created_time.as_millisecond(),
    ) {
        Ok(arn) => ok(json!({"graphArn": arn})),
        Err(message) => bad_request(message),
    }
}

async fn get_world(State(shared): SharedState) -> Response {
    ok(json!(shared.world()))
}

async fn put_world(State(shared): SharedState, body: Bytes) -> Response {
    let world: WorldConfig = match parse(&body) {
        Ok(world) => world,
        Err(message) => return bad_request(message),
    };
    if let Err(message) = world.validate() {
        return bad_request(message);
    }
    shared.set_world(world);
    ok(json!(shared.world()))
}

async fn patch_world(State(shared): SharedState, body: Bytes) -> Response {
    let patch: WorldPatch = match parse(&body) {
        Ok(patch) => patch,
        Err(message) => return bad_request(message),
    };
    merge_world(&shared, patch)
}

fn merge_world(shared: &Shared, patch: WorldPatch) -> Response {
    match shared.merged_world(patch) {
        Ok(world) => {
            shared.set_world(world);
            ok(json!(shared.world()))
        }
        Err(message) => bad_request(message),
    }
}

/// Adds a generated organization ([`OrganizationSeed`]) to the world.
async fn seed_organization(State(shared): SharedState, body: Bytes) -> Response {
    let seed: OrganizationSeed = match parse(&body) {
        Ok(seed) => seed,
        Err(message) => return bad_request(message),
    };
    match seed.patch() {
        Ok(patch) => merge_world(&shared, patch),
        Err(message) => bad_request(message),
    }
}

async fn get_faults(State(shared): SharedState) -> Response {
    ok(json!(shared.faults()))
}

/// One fault object or an array of them.
async fn post_faults(State(shared): SharedState, body: Bytes) -> Response {
    let faults = parse::<Value>(&body).and_then(|value| {
        if value.is_array() {
            serde_json::from_value::<Vec<Fault>>(value)
        } else {
            serde_json::from_value::<Fault>(value).map(|fault| vec![fault])
        }
        .map_err(|err| format!("invalid fault: {err}"))
    });
    let faults = match faults {
        Ok(faults) => faults,
        Err(message) => return bad_request(message),
    };
    for fault in faults {
        shared.inject_fault(fault);
    }
    ok(json!(shared.faults()))
}

async fn clear_faults(State(shared): SharedState) -> Response {
    shared.clear_faults();
    ok(json!([]))
}

async fn get_clock(State(shared): SharedState) -> Response {
    let now_ms = shared.now_ms();
    ok(json!({"now": wire::timestamp(now_ms)}))
}

async fn advance_clock(State(shared): SharedState, body: Bytes) -> Response {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Advance {
        advance_ms: u64,
    }
    let advance: Advance = match parse(&body) {
        Ok(advance) => advance,
        Err(message) => return bad_request(message),
    };
    shared.advance_clock(Duration::from_millis(advance.advance_ms));
    ok(json!({"now": wire::timestamp(shared.now_ms())}))
}
