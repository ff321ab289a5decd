//! The HTTP side: one handler for every AWS API request (so call counting, fault injection and
//! routing see the same operation names) and caller identity from the SigV4 credential scope.
//! The state it serves from is [`Shared`], which the control endpoints use too.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::Response;

use super::control;
use super::faults::{Caller, TokenBucket};
use super::iam::authorization::{self, Authorization};
use super::iam::{self, policy::Principal};
use super::iam_api::{self, IamAction, IamContext};
use super::operations::{self, Context, Reply, Request};
use super::organizations_api::{self, OrganizationsContext, OrganizationsOperation};
use super::prng::SplitMix64;
use super::query_protocol::{self, QueryAction, QueryError};
use super::regions::{self, RegionRefusal};
use super::routes::{Kind, Operation, Route};
use super::shared::{Inner, Shared};
use super::sts::{self, StsAction};
use super::validate;
use super::wire::{self, ApiError};

/// Key under which requests that match no operation are counted.
pub(crate) const UNKNOWN_OPERATION: &str = "UnknownOperation";

/// What a caller whose account is not ACTIVE is told ([`Shared::inactive_caller`]).
const INACTIVE_CALLER_MESSAGE: &str = "The security token included in the request is invalid.";

/// Region assumed for unsigned requests (curl, `--no-sign-request`).
const UNSIGNED_REGION: &str = "us-east-1";

/// Serving one AWS request from the shared state (here, beside the request types it needs).
impl Shared {
    /// The account a request acts as: its 12-digit access key id, or else the default account.
    fn caller_account(&self, inner: &Inner, credential: &Credential) -> String {
        credential
            .account_id()
            .map_or_else(|| self.effective_default_account(inner), str::to_owned)
    }

    /// What a Detective call meets in its signed Region under `strictRegions`.
    fn region_refusal(&self, credential: &Credential) -> Option<RegionRefusal> {
        let inner = self.lock();
        if !inner.world.realism().strict_regions {
            return None;
        }
        let account = self.caller_account(&inner, credential);
        regions::refusal(&credential.region, inner.world.enabled_regions(&account))
    }

    /// Under `refuseInactiveCallers`, the refusal of a call signed with the credentials of an
    /// account that is not ACTIVE in its organization: a suspended or closed account "will no
    /// longer be able to access AWS services"; the error, the same invalid-token answer as an
    /// account meets in an opt-in Region it has not enabled, is **unverified**.
    fn inactive_caller(&self, credential: &Credential) -> Option<String> {
        let inner = self.lock();
        if !inner.world.realism().refuse_inactive_callers {
            return None;
        }
        let account = self.caller_account(&inner, credential);
        let state = inner.world.account_state(&account);
        (!state.is_active()).then(|| {
            tracing::debug!(%account, state = state.as_str(), "call of an account that is not ACTIVE refused");
            INACTIVE_CALLER_MESSAGE.to_owned()
        })
    }

    /// The realistic profile's Organizations rate limit (`organizationsRateLimit`): the calls
    /// of one account beyond it a second answer 400 TooManyRequestsException, which the SDKs
    /// retry. A throttled call takes no token, as for the fault of the same shape.
    fn organizations_throttled(&self, credential: &Credential) -> Option<ApiError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let per_second = inner.world.realism().organizations_rate_limit?;
        let account = self.caller_account(inner, credential);
        let now = Instant::now();
        let bucket = inner
            .organizations_buckets
            .entry(account)
            .or_insert_with(|| TokenBucket::full(per_second, now));
        (!bucket.take(per_second, now)).then(|| {
            ApiError::organizations(
                "TooManyRequestsException",
                "You have sent too many requests in too short a period of time. Try again later.",
            )
        })
    }

    /// The caller as IAM sees it: a session of an assumed role, or the account itself.
    fn principal(&self, inner: &Inner, credential: &Credential) -> Principal {
        iam::principal(
            &self.caller_account(inner, credential),
            credential.session_token.as_deref(),
        )
    }

    /// Under `enforceIam`, refuses (and counts under `operation`) a call whose caller does not
    /// pass every one of the `checks` made for it (from the caller, and whether
    /// on-behalf checks are on); `refusal` shapes the protocol's error.
    fn authorize(
        &self,
        credential: &Credential,
        operation: &str,
        checks: impl FnOnce(&Principal, bool) -> Vec<Authorization>,
        refusal: fn(String) -> ApiError,
    ) -> Result<(), ApiError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let iam = inner.world.iam();
        if !iam.enforced() {
            return Ok(());
        }
        let principal = self.principal(inner, credential);
        let checks = checks(&principal, iam.on_behalf_checks());
        match iam.authorize_all(&principal, &checks) {
            Ok(()) => Ok(()),
            Err(message) => {
                *inner.refused.entry(operation.to_owned()).or_default() += 1;
                Err(refusal(message))
            }
        }
    }

    /// Counts the call and decides its faults (`None`: a request that matches no operation).
    fn admit(&self, operation: Option<&str>, credential: &Credential) -> (String, super::faults::FaultOutcome) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let name = operation.unwrap_or(UNKNOWN_OPERATION);
        *inner.calls.entry(name.to_owned()).or_default() += 1;
        let request_id = request_id(&mut inner.rng);
        let account = self.caller_account(inner, credential);
        let caller = Caller {
            account: &account,
            region: &credential.region,
        };
        let outcome = inner.faults.on_call(operation, caller, Instant::now());
        if outcome.error.is_some() {
            *inner.faulted.entry(name.to_owned()).or_default() += 1;
        }
        (request_id, outcome)
    }

    /// Answers an Organizations call from the world and the service state (trusted access is
    /// the only write: persisted).
    fn dispatch_organizations(
        &self,
        operation: OrganizationsOperation,
        credential: &Credential,
        body: &[u8],
    ) -> (Result<serde_json::Value, ApiError>, String) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let caller = self.caller_account(inner, credential);
        let now_ms = inner.settle_now();
        let mut ctx = OrganizationsContext {
            state: &mut inner.state,
            world: &inner.world,
            caller: &caller,
            now_ms,
            rng: &mut inner.rng,
        };
        let result = organizations_api::handle(operation, &mut ctx, body);
        if result.is_ok() && operation.is_write() {
            self.persist(inner);
        }
        (result, caller)
    }

    /// Answers a query-protocol call: IAM's when signed for `iam`, else STS's.
    fn query_call(&self, credential: &Credential, body: &[u8]) -> Response {
        let form = query_protocol::parse(body);
        let action = form.get("Action").map(String::as_str).unwrap_or_default();
        let request_id = request_id(&mut self.lock().rng);
        let call = QueryCall {
            credential,
            action,
            form: &form,
            request_id: &request_id,
        };
        let (namespace, answer) = if credential.service.as_deref() == Some("iam") {
            (iam_api::NAMESPACE, self.iam(&call))
        } else {
            (sts::NAMESPACE, self.sts(&call))
        };
        let (status, document) = match answer {
            Ok(document) => (200, document),
            Err(error) => {
                tracing::info!(action, code = error.code, request_id = %request_id, "query call refused");
                tracing::debug!(request_id = %request_id, message = %error.message, "error detail");
                (error.status, error.to_xml(namespace, &request_id))
            }
        };
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/xml")
            .header("x-amzn-RequestId", request_id.as_str())
            .body(axum::body::Body::from(document))
            .expect("a static response builds")
    }

    /// The action `requested` of service `A`, counted under its name; one the emulator does not
    /// serve is counted as `Unknown<Service>Action` and answers 400 `InvalidAction`.
    fn query_action<A: QueryAction>(&self, requested: &str) -> Result<A, QueryError> {
        let action = A::from_action_name(requested);
        let counted = action.map_or_else(
            || format!("Unknown{}Action", A::SERVICE),
            |a| a.action_name().to_owned(),
        );
        *self.lock().calls.entry(counted).or_default() += 1;
        action.ok_or_else(|| {
            let served: Vec<&str> = A::SERVED.iter().map(|a| a.action_name()).collect();
            let message = format!(
                "the emulator serves only {} {}, not {requested:?}",
                A::SERVICE.to_uppercase(),
                served.join(", ")
            );
            QueryError::new(400, "InvalidAction", message)
        })
    }

    /// An STS call (AssumeRole, GetCallerIdentity), counted under its action name.
    fn sts(&self, call: &QueryCall<'_>) -> Result<String, QueryError> {
        let (credential, form) = (call.credential, call.form);
        let action: StsAction = self.query_action(call.action)?;
        refuse_inactive(self.inactive_caller(credential))?;
        let mut inner = self.lock();
        let caller = self.caller_account(&inner, credential);
        let principal = self.principal(&inner, credential);
        let partition = regions::partition(&credential.region);
        let result = match action {
            // "No permissions are required to perform this operation."
            StsAction::GetCallerIdentity => Ok(sts::caller_identity_xml(&principal, partition)),
            StsAction::AssumeRole => match sts::assume_role(&inner.world, &principal, form, partition) {
                Ok(assumed) => {
                    let expiration = jiff::Timestamp::now()
                        .checked_add(jiff::SignedDuration::from_hours(1))
                        .unwrap_or(jiff::Timestamp::MAX)
                        .strftime("%Y-%m-%dT%H:%M:%SZ")
                        .to_string();
                    tracing::info!(caller = %caller, account = %assumed.account_id, role = %assumed.role_name, "sts AssumeRole");
                    Ok(sts::assume_role_xml(&assumed, &expiration, partition))
                }
                Err(error) => {
                    if inner.world.iam().enforced() {
                        *inner.refused.entry(action.name().to_owned()).or_default() += 1;
                    }
                    Err(error)
                }
            },
        };
        result.map(|xml| sts::response_xml(action, &xml, call.request_id))
    }

    /// An IAM call (GetRole, CreateServiceLinkedRole), counted under its action name and
    /// authorized under `enforceIam` like every other call.
    fn iam(&self, call: &QueryCall<'_>) -> Result<String, QueryError> {
        let (credential, form) = (call.credential, call.form);
        let action: IamAction = self.query_action(call.action)?;
        refuse_inactive(self.inactive_caller(credential))?;
        let partition = regions::partition(&credential.region);
        let checks = |caller: &Principal, _| iam_api::authorizations(action, form, caller.account(), partition);
        self.authorize(credential, action.name(), checks, ApiError::access_denied)
            .map_err(|refused| QueryError::new(403, "AccessDenied", refused.message))?;
        let mut guard = self.lock();
        let inner = &mut *guard;
        let caller = self.caller_account(inner, credential);
        let now_ms = inner.settle_now();
        let mut ctx = IamContext {
            state: &mut inner.state,
            caller: &caller,
            partition,
            now_ms,
            rng: &mut inner.rng,
        };
        let result = iam_api::handle(action, &mut ctx, form);
        if result.is_ok() && action == IamAction::CreateServiceLinkedRole {
            self.persist(inner);
        }
        tracing::info!(caller = %caller, action = action.name(), ok = result.is_ok(), "iam call");
        result.map(|xml| iam_api::response_xml(action, &xml, call.request_id))
    }

    /// Runs one operation against the model, with the lazy transitions settled first.
    fn dispatch(
        &self,
        route: &Route,
        credential: &Credential,
        query: &[(String, String)],
        resource_arn: Option<&str>,
        body: &[u8],
    ) -> (Result<Reply, ApiError>, String) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let caller = self.caller_account(inner, credential);
        let now_ms = inner.settle_now();
        let mut ctx = Context {
            state: &mut inner.state,
            world: &inner.world,
            rng: &mut inner.rng,
            caller: &caller,
            region: &credential.region,
            now_ms,
        };
        let request = Request {
            body,
            resource_arn,
            query,
        };
        let result = operations::handle(route.operation, &mut ctx, &request);
        if result.is_ok() && route.operation.kind() == Kind::Write {
            self.persist(inner);
        }
        (result, caller)
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .nest("/_emulator", control::router())
        .fallback(aws_api)
        .with_state(shared)
}

/// One query-protocol call (STS or IAM), as its service's handler reads it.
#[derive(Clone, Copy)]
struct QueryCall<'a> {
    credential: &'a Credential,
    /// The form's `Action`.
    action: &'a str,
    form: &'a query_protocol::Form,
    request_id: &'a str,
}

/// Every request outside `/_emulator/` is an AWS API call.
async fn aws_api(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if query_protocol::is_query_request(method.as_str(), uri.path(), content_type) {
        return shared.query_call(&Credential::from_headers(&headers), &body);
    }
    if let Some(name) = headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .and_then(organizations_api::target_operation)
    {
        return organizations_call(&shared, name, &headers, &body).await;
    }
    let route = Operation::route(method.as_str(), uri.path());
    let operation = route.as_ref().map(|route| route.operation);
    let credential = Credential::from_headers(&headers);
    let _in_flight = operation.map(|operation| shared.enter(operation.name()));
    let (request_id, injected_error) = admit_after_delay(&shared, operation.map(Operation::name), &credential).await;
    let region_refusal = shared.region_refusal(&credential);
    if region_refusal == Some(RegionRefusal::NoEndpoint) {
        regions::drop_connection();
    }
    let inactive = shared.inactive_caller(&credential).map(ApiError::unrecognized_client);
    let (result, caller) = match (injected_error.or(inactive), &route) {
        (Some(err), _) => (Err(err), String::new()),
        (None, _) if region_refusal == Some(RegionRefusal::NotEnabled) => (
            Err(ApiError::unrecognized_client(regions::NOT_ENABLED_MESSAGE)),
            String::new(),
        ),
        (None, None) => (
            Err(ApiError::unknown_operation(method.as_str(), uri.path())),
            String::new(),
        ),
        (None, Some(route)) => match decode_request(route, uri.query()) {
            Ok((query, resource_arn)) => {
                let name = route.operation.name();
                let checks = |caller: &Principal, on_behalf| {
                    authorization::detective(name, resource_arn.as_deref(), &body, caller.account(), on_behalf)
                };
                match shared.authorize(&credential, name, checks, ApiError::access_denied) {
                    Ok(()) => shared.dispatch(route, &credential, &query, resource_arn.as_deref(), &body),
                    Err(err) => (Err(err), String::new()),
                }
            }
            Err(err) => (Err(err), String::new()),
        },
    };
    CallLog {
        api: "detective",
        operation: operation.map_or(UNKNOWN_OPERATION, Operation::name),
        account: &caller,
        region: Some(&credential.region),
        request_id: &request_id,
    }
    .record(&result);
    match result {
        Ok(Reply::Json(value)) => wire::json_response(200, &value, &request_id),
        Ok(Reply::Empty(status)) => wire::empty_response(status, &request_id),
        Err(err) => err.into_response(&request_id),
    }
}

/// An AWS Organizations call (awsJson1_1, routed by `X-Amz-Target`): counted and faulted like a
/// Detective call, under its operation name.
async fn organizations_call(shared: &Shared, name: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let operation = OrganizationsOperation::from_name(name);
    let credential = Credential::from_headers(headers);
    let _in_flight = operation.map(|operation| shared.enter(operation.name()));
    let (request_id, injected_error) =
        admit_after_delay(shared, operation.map(OrganizationsOperation::name), &credential).await;
    let throttled = operation.and_then(|_| shared.organizations_throttled(&credential));
    let inactive = shared.inactive_caller(&credential).map(ApiError::unrecognized_client);
    let (result, caller) = match (injected_error.or(inactive).or(throttled), operation) {
        (Some(err), _) => (Err(err), String::new()),
        (None, None) => (Err(organizations_api::not_implemented(name)), String::new()),
        (None, Some(operation)) => {
            let refusal = |message| ApiError::organizations("AccessDeniedException", message);
            let checks = |_: &Principal, _| authorization::organizations(operation.name(), body);
            match shared.authorize(&credential, operation.name(), checks, refusal) {
                Ok(()) => shared.dispatch_organizations(operation, &credential, body),
                Err(err) => (Err(err), String::new()),
            }
        }
    };
    CallLog {
        api: "organizations",
        operation: name,
        account: &caller,
        region: None,
        request_id: &request_id,
    }
    .record(&result);
    match result {
        Ok(value) => wire::json_1_1_response(200, &value, &request_id),
        Err(err) => err.into_json_1_1_response(&request_id),
    }
}

/// The query protocol's answer to a caller that is not ACTIVE, if it is one.
fn refuse_inactive(refusal: Option<String>) -> Result<(), QueryError> {
    refusal.map_or(Ok(()), |message| {
        Err(QueryError::new(403, "InvalidClientTokenId", message))
    })
}

/// Counts a call and decides its faults ([`Shared::admit`]), then waits out an injected delay
/// (the lock is not held while it waits): the request id, and the error a fault answers with.
async fn admit_after_delay(
    shared: &Shared,
    operation: Option<&str>,
    credential: &Credential,
) -> (String, Option<ApiError>) {
    let (request_id, faults) = shared.admit(operation, credential);
    if !faults.delay.is_zero() {
        tokio::time::sleep(faults.delay).await;
    }
    (request_id, faults.error)
}

/// One AWS API call (Detective or Organizations) as it is logged.
struct CallLog<'a> {
    /// The first word of the line: `detective` or `organizations`.
    api: &'static str,
    operation: &'a str,
    account: &'a str,
    /// The signed Region, for Detective (Organizations is a global service).
    region: Option<&'a str>,
    request_id: &'a str,
}

impl CallLog<'_> {
    /// One line at info level per call. An error's message can quote request values, so it
    /// stays at debug level.
    fn record<T>(&self, result: &Result<T, ApiError>) {
        let region = self.region.map(tracing::field::display);
        let error = result.as_ref().err();
        tracing::info!(
            operation = self.operation,
            account = %self.account,
            region,
            request_id = %self.request_id,
            status = error.map(|err| err.status),
            error = error.map(|err| err.error_type),
            "{} call {}",
            self.api,
            if error.is_some() { "failed" } else { "succeeded" }
        );
        if let Some(err) = error {
            tracing::debug!(request_id = %self.request_id, message = %err.message, "error detail");
        }
    }
}

/// The query parameters and the `{ResourceArn}` label, percent-decoded.
#[allow(clippy::type_complexity)]
fn decode_request(route: &Route, query: Option<&str>) -> Result<(Vec<(String, String)>, Option<String>), ApiError> {
    let resource_arn = route
        .resource_label
        .as_deref()
        .map(|label| {
            percent_decode(label)
                .ok_or_else(|| ApiError::validation("ResourceArn", "is not valid percent-encoded UTF-8"))
        })
        .transpose()?;
    let query = query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match (percent_decode(name), percent_decode(value)) {
                (Some(name), Some(value)) => Ok((name, value)),
                _ => Err(ApiError::validation(
                    "query string",
                    "is not valid percent-encoded UTF-8",
                )),
            }
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok((query, resource_arn))
}

/// RFC 3986 percent-decoding. `+` stays a plus: the SDK encodes spaces as `%20`, and tag keys
/// may contain `+`.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn request_id(rng: &mut SplitMix64) -> String {
    let hex = rng.hex(32);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Who signed a request, for which Region and service, from `Authorization: AWS4-HMAC-SHA256
/// Credential=<AKID>/<date>/<region>/<service>/aws4_request, ...`. Signatures are not verified: the emulator trusts the
/// scope, which is what lets tests act as any account with made-up keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Credential {
    pub access_key_id: Option<String>,
    pub region: String,
    /// The scope's service name (`detective`, `sts`, `iam`, ...).
    pub service: Option<String>,
    /// `X-Amz-Security-Token`: present on credentials from AssumeRole.
    pub session_token: Option<String>,
}

impl Credential {
    pub fn from_headers(headers: &HeaderMap) -> Credential {
        let scope = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split("Credential=").nth(1))
            .map(|rest| rest.split([',', ' ']).next().unwrap_or_default());
        let mut parts = scope.unwrap_or_default().split('/');
        let access_key_id = parts.next().filter(|key| !key.is_empty()).map(str::to_owned);
        let region = parts
            .nth(1)
            .filter(|region| !region.is_empty())
            .unwrap_or(UNSIGNED_REGION)
            .to_owned();
        let service = parts.next().filter(|service| !service.is_empty()).map(str::to_owned);
        let session_token = headers
            .get("x-amz-security-token")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        Credential {
            access_key_id,
            region,
            service,
            session_token,
        }
    }

    /// A 12-digit access key id *is* the account id; any other key is the default account.
    pub fn account_id(&self) -> Option<&str> {
        self.access_key_id.as_deref().filter(|key| validate::is_account_id(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn credential_scope_gives_account_and_region() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=111122223333/20240101/eu-west-1/detective/aws4_request, SignedHeaders=host, Signature=abc",
            ),
        );
        let credential = Credential::from_headers(&headers);
        assert_eq!(credential.account_id(), Some("111122223333"));
        assert_eq!(credential.region, "eu-west-1");
        assert_eq!(credential.service.as_deref(), Some("detective"));

        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20240101/us-west-2/detective/aws4_request",
            ),
        );
        let credential = Credential::from_headers(&headers);
        assert_eq!(credential.account_id(), None);
        assert_eq!(credential.region, "us-west-2");

        let unsigned = Credential::from_headers(&HeaderMap::new());
        assert_eq!(unsigned.account_id(), None);
        assert_eq!(unsigned.region, UNSIGNED_REGION);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("arn%3Aaws%3Adetective").as_deref(),
            Some("arn:aws:detective")
        );
        assert_eq!(percent_decode("a+b%20c").as_deref(), Some("a+b c"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
    }
}
