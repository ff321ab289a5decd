//! The AWS query protocol, which STS and IAM speak: `POST /` with a form body
//! (`Action=GetRole&Version=2010-05-08&RoleName=...`), answered in XML; an error is an
//! `<ErrorResponse>` with the HTTP status that classifies it. The two services share the
//! endpoint here, told apart by the SigV4 credential scope's service name.

use std::collections::BTreeMap;

/// The actions a query-protocol service answers (an `operations!` enum, which gives them
/// their names).
pub(crate) trait QueryAction: Copy + 'static {
    /// The service, as the calls of an action it does not serve are counted
    /// (`Unknown<SERVICE>Action`) and refused.
    const SERVICE: &'static str;
    const SERVED: &'static [Self];
    fn action_name(self) -> &'static str;
    fn from_action_name(name: &str) -> Option<Self>;
}

/// Form field values of one request.
pub(crate) type Form = BTreeMap<String, String>;

/// Whether a request is a query-protocol call: a form-encoded `POST /` (Detective's paths are
/// never `/`; Organizations' awsJson1_1 calls carry JSON).
pub(crate) fn is_query_request(method: &str, path: &str, content_type: Option<&str>) -> bool {
    method == "POST"
        && (path == "/" || path.is_empty())
        && content_type.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
}

/// Decodes the form body.
pub(crate) fn parse(body: &[u8]) -> Form {
    form_urlencoded::parse(body).into_owned().collect()
}

/// A query-protocol service's failure: the HTTP status and the error code the SDK classifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl QueryError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// The `ErrorResponse` document, in the service's XML namespace.
    pub fn to_xml(&self, namespace: &str, request_id: &str) -> String {
        format!(
            "<ErrorResponse xmlns=\"{namespace}\">\
<Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error>\
<RequestId>{request_id}</RequestId>\
</ErrorResponse>",
            self.code,
            escape(&self.message)
        )
    }
}

/// A successful answer: `<{action}Response><{action}Result>{result}</...>` with the request id.
pub(crate) fn response_xml(namespace: &str, action: &str, result: &str, request_id: &str) -> String {
    format!(
        "<{action}Response xmlns=\"{namespace}\">\
<{action}Result>{result}</{action}Result>\
<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\
</{action}Response>"
    )
}

/// XML-escapes text content.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_form_posts_to_the_root_are_query_calls() {
        assert!(is_query_request(
            "POST",
            "/",
            Some("application/x-www-form-urlencoded; charset=utf-8")
        ));
        assert!(!is_query_request(
            "POST",
            "/graph",
            Some("application/x-www-form-urlencoded")
        ));
        assert!(!is_query_request("POST", "/", Some("application/json")));
        assert!(!is_query_request("GET", "/", Some("application/x-www-form-urlencoded")));
    }

    #[test]
    fn documents_wrap_results_and_escape_errors() {
        let ok = response_xml("urn:x", "GetRole", "<Role/>", "req-1");
        assert_eq!(
            ok,
            "<GetRoleResponse xmlns=\"urn:x\"><GetRoleResult><Role/></GetRoleResult>\
<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></GetRoleResponse>"
        );
        let error = QueryError::new(404, "NoSuchEntity", "a <b> & c").to_xml("urn:x", "req-2");
        assert!(
            error.contains("<Code>NoSuchEntity</Code><Message>a &lt;b&gt; &amp; c</Message>"),
            "{error}"
        );
    }
}
