//! restJson1 encoding: error responses the way the SDK classifies them, and timestamps the way it
//! parses them.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

/// `ErrorCode` values of ValidationException / AccessDeniedException.
pub(crate) const INVALID_GRAPH_ARN: &str = "INVALID_GRAPH_ARN";
pub(crate) const INVALID_REQUEST_BODY: &str = "INVALID_REQUEST_BODY";

/// An error answer of the Detective API. The SDK picks the error variant from the
/// `x-amzn-ErrorType` header, so `error_type` must be the exact shape name.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub error_type: &'static str,
    pub message: String,
    /// Extra members of the error shape (ErrorCode, Resources, ...).
    pub extra: Map<String, Value>,
}

impl ApiError {
    fn new(status: u16, error_type: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error_type,
            message: message.into(),
            extra: Map::new(),
        }
    }

    pub(crate) fn with(mut self, key: &str, value: Value) -> ApiError {
        self.extra.insert(key.to_owned(), value);
        self
    }

    /// A request member violates a documented constraint. The message names the member with
    /// its path in the request (`Accounts[3].EmailAddress`).
    pub fn validation(field: &str, reason: impl std::fmt::Display) -> ApiError {
        ApiError::constraint_violated(format!("Value at '{field}' failed to satisfy constraint: {reason}"))
    }

    /// As [`ApiError::validation`], quoting the rejected value the way the service's validation
    /// messages do (`Value 'x' at 'field' failed to satisfy constraint: ...`): for an
    /// `EmailAddress` the message then carries the address the caller sent.
    pub fn validation_of(field: &str, value: &str, reason: impl std::fmt::Display) -> ApiError {
        ApiError::constraint_violated(format!(
            "Value '{value}' at '{field}' failed to satisfy constraint: {reason}"
        ))
    }

    /// The service's one-violation ValidationException for `reason`.
    fn constraint_violated(reason: String) -> ApiError {
        let message = format!("1 validation error detected: {reason}");
        ApiError::validation_exception(message, INVALID_REQUEST_BODY, reason)
    }

    /// A well-formed request that the service refuses for what it asks (a ValidationException
    /// with `ErrorCode` INVALID_REQUEST_BODY and no member named).
    pub fn invalid_request(message: impl Into<String>) -> ApiError {
        let message = message.into();
        ApiError::validation_exception(message.clone(), INVALID_REQUEST_BODY, message)
    }

    /// The body is not a JSON object at all.
    pub fn malformed_body(reason: impl std::fmt::Display) -> ApiError {
        let reason = format!("The request body is not valid JSON: {reason}");
        ApiError::validation_exception(reason.clone(), INVALID_REQUEST_BODY, reason)
    }

    pub fn invalid_graph_arn(field: &str) -> ApiError {
        let reason = format!(
            "Value at '{field}' is not a valid behavior graph ARN \
             (arn:aws:detective:<region>:<12-digit account id>:graph:<32 lowercase hex digits>)"
        );
        ApiError::validation_exception(reason.clone(), INVALID_GRAPH_ARN, reason)
    }

    /// A ValidationException with its `ErrorCode` and the `ErrorCodeReason` beside the message.
    fn validation_exception(message: String, error_code: &str, reason: String) -> ApiError {
        ApiError::new(400, "ValidationException", message)
            .with("ErrorCode", json!(error_code))
            .with("ErrorCodeReason", json!(reason))
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "ResourceNotFoundException", message)
    }

    /// Credentials the Region does not recognize: an opt-in Region the account has not enabled.
    pub fn unrecognized_client(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "UnrecognizedClientException", message)
    }

    pub fn access_denied(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "AccessDeniedException", message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(409, "ConflictException", message)
    }

    pub fn quota_exceeded(message: impl Into<String>, resources: &[&str]) -> ApiError {
        ApiError::new(402, "ServiceQuotaExceededException", message).with("Resources", json!(resources))
    }

    pub fn throttled() -> ApiError {
        ApiError::new(
            429,
            "TooManyRequestsException",
            "Rate exceeded (injected by the emulator)",
        )
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "InternalServerException", message)
    }

    /// A real Detective operation the emulator does not model (the investigation APIs). 501 is
    /// not retried by the SDK, so a test that strays here fails at once and says why.
    pub fn not_implemented(operation: &str) -> ApiError {
        ApiError::new(
            501,
            "NotImplementedException",
            format!("{operation} is a Detective operation that the emulator does not implement"),
        )
    }

    pub fn unknown_operation(method: &str, path: &str) -> ApiError {
        ApiError::new(
            404,
            "UnknownOperationException",
            format!("No Detective operation is bound to {method} {path} (detective-emulator)"),
        )
    }

    /// An AWS Organizations error: awsJson1_1 answers every client error with 400 and names the
    /// shape in the body's `__type`.
    pub fn organizations(error_type: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(400, error_type, message)
    }

    /// The awsJson1_1 form of this error (Organizations): `{"__type": ..., "Message": ...}`.
    pub fn into_json_1_1_response(mut self, request_id: &str) -> Response {
        let error_type = Value::String(self.error_type.to_owned());
        self.extra.insert("__type".to_owned(), error_type);
        self.into_response_with(json_1_1_response, request_id)
    }

    pub fn into_response(self, request_id: &str) -> Response {
        self.into_response_with(json_response, request_id)
    }

    /// The error as `respond` writes a body, with its `Message` and the `x-amzn-ErrorType` header.
    fn into_response_with(self, respond: fn(u16, &Value, &str) -> Response, request_id: &str) -> Response {
        let mut body = self.extra;
        body.insert("Message".to_owned(), Value::String(self.message));
        let mut response = respond(self.status, &Value::Object(body), request_id);
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", HeaderValue::from_static(self.error_type));
        response
    }
}

/// A JSON answer with the headers every Detective response carries.
pub(crate) fn json_response(status: u16, body: &Value, request_id: &str) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    insert_request_id(&mut response, request_id);
    response
}

/// An awsJson1_1 answer (AWS Organizations).
pub(crate) fn json_1_1_response(status: u16, body: &Value, request_id: &str) -> Response {
    let mut response = json_response(status, body, request_id);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    response
}

/// Epoch seconds with milliseconds as a JSON number: the awsJson1_1 timestamp format.
pub(crate) fn epoch_seconds(timestamp: jiff::Timestamp) -> Value {
    json!(timestamp.as_millisecond() as f64 / 1000.0)
}

/// A success without output: no body, as the service sends for AcceptInvitation and friends.
pub(crate) fn empty_response(status: u16, request_id: &str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    insert_request_id(&mut response, request_id);
    response
}

fn insert_request_id(response: &mut Response, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-RequestId", value);
    }
}

/// ISO-8601 with milliseconds and `Z` (`2021-08-18T16:35:56.284Z`), the only form the SDK's
/// `date-time` parser takes for these members; an epoch number fails deserialization.
pub(crate) fn timestamp(epoch_ms: i64) -> String {
    let seconds = epoch_ms.div_euclid(1000);
    let millis = epoch_ms.rem_euclid(1000);
    let whole = jiff::Timestamp::from_second(seconds).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    format!("{}.{millis:03}Z", whole.strftime("%Y-%m-%dT%H:%M:%S"))
}

/// The same instant as a [`jiff::Timestamp`], for the in-process snapshots.
pub(crate) fn jiff_timestamp(epoch_ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(epoch_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_milliseconds_and_zulu() {
        assert_eq!(timestamp(1_629_304_556_284), "2021-08-18T16:35:56.284Z");
        assert_eq!(timestamp(1_629_304_556_000), "2021-08-18T16:35:56.000Z");
    }

    #[test]
    fn validation_error_names_field_and_code() {
        let err = ApiError::validation("Accounts[2].AccountId", "must be exactly 12 digits");
        assert_eq!(err.status, 400);
        assert!(err.message.contains("Accounts[2].AccountId"));
        assert_eq!(err.extra["ErrorCode"], json!("INVALID_REQUEST_BODY"));
    }
}
