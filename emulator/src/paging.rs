//! Opaque pagination tokens, the pages they continue, and the NextToken member of an answer.
//!
//! Pages are keyset-based: a token records the last key returned (an account id, a graph ARN,
//! a package name), so pages stay stable while members are added or removed between calls,
//! unlike offsets. The token is bound to the operation and graph it was issued for, checksummed
//! and scrambled so clients cannot treat it as anything but opaque; a forged, truncated or
//! foreign token is a ValidationException naming NextToken.

use serde_json::{Value, json};

use super::wire::ApiError;

const VERSION: &str = "v1";
const SEPARATOR: char = '\u{1f}';

/// Issues the token that continues a listing after `last_key` within `scope`.
pub(crate) fn encode(scope: &str, last_key: &str) -> String {
    let plain = format!("{VERSION}{SEPARATOR}{scope}{SEPARATOR}{last_key}");
    let mut bytes = plain.into_bytes();
    bytes.extend_from_slice(&fnv1a(&bytes).to_be_bytes());
    scramble(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The last key recorded in `token`, if it was issued for `scope`.
pub(crate) fn decode(scope: &str, token: &str) -> Result<String, ApiError> {
    let invalid = || ApiError::validation("NextToken", "is not a valid pagination token for this request");
    if !token.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let mut bytes = (0..token.len())
        .step_by(2)
        .map(|index| {
            token
                .get(index..index + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(invalid)?;
    scramble(&mut bytes);
    if bytes.len() < 4 {
        return Err(invalid());
    }
    let (plain, checksum) = bytes.split_at(bytes.len() - 4);
    if fnv1a(plain).to_be_bytes() != checksum {
        return Err(invalid());
    }
    let plain = std::str::from_utf8(plain).map_err(|_| invalid())?;
    let mut parts = plain.splitn(3, SEPARATOR);
    match (parts.next(), parts.next(), parts.next()) {
        (Some(VERSION), Some(token_scope), Some(last_key)) if token_scope == scope => Ok(last_key.to_owned()),
        _ => Err(invalid()),
    }
}

/// One page of `items` (already in key order) after `after`, and the token for the next page
/// when more remain. No token is returned after the last item, so paginators stop.
pub(crate) fn page<T>(
    scope: &str,
    items: impl IntoIterator<Item = (String, T)>,
    after: Option<&str>,
    max_results: usize,
) -> (Vec<T>, Option<String>) {
    let mut remaining = items
        .into_iter()
        .skip_while(|(key, _)| after.is_some_and(|after| key.as_str() <= after))
        .peekable();
    let mut page = Vec::new();
    let mut last_key = None;
    while page.len() < max_results {
        let Some((key, item)) = remaining.next() else {
            break;
        };
        page.push(item);
        last_key = Some(key);
    }
    let next = match (remaining.peek(), last_key) {
        (Some(_), Some(last_key)) => Some(encode(scope, &last_key)),
        _ => None,
    };
    (page, next)
}

/// A listing's answer `body` (an object) with `NextToken` added when there is a next page.
pub(crate) fn with_next_token(mut body: Value, next_token: Option<String>) -> Value {
    if let (Value::Object(fields), Some(token)) = (&mut body, next_token) {
        fields.insert("NextToken".into(), json!(token));
    }
    body
}

/// Resolves an optional request token to the key to continue after.
pub(crate) fn resume_after(scope: &str, token: Option<&str>) -> Result<Option<String>, ApiError> {
    token.map(|token| decode(scope, token)).transpose()
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

/// XOR with a fixed keystream: obscures, does not protect (tokens carry nothing secret). Fixed so
/// tokens stay valid across a restart with `--state-file`.
fn scramble(bytes: &mut [u8]) {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for byte in bytes {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte ^= (state >> 24) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_within_their_scope_only() {
        let token = encode("ListMembers:arn", "123456789012");
        assert!(!token.contains("123456789012"));
        assert_eq!(decode("ListMembers:arn", &token).expect("valid"), "123456789012");
        assert!(decode("ListMembers:other", &token).is_err());
        assert!(decode("ListMembers:arn", &token[..token.len() - 2]).is_err());
        let mut forged = token.clone().into_bytes();
        forged[4] = if forged[4] == b'0' { b'1' } else { b'0' };
        assert!(decode("ListMembers:arn", &String::from_utf8(forged).expect("ascii")).is_err());
        assert!(decode("ListMembers:arn", "zz").is_err());
    }

    #[test]
    fn pages_are_keyset_based() {
        let items = |range: std::ops::Range<u32>| range.map(|n| (format!("{n:03}"), n)).collect::<Vec<(String, u32)>>();
        let (first, next) = page("s", items(0..5), None, 2);
        assert_eq!(first, vec![0, 1]);
        let after = resume_after("s", next.as_deref()).expect("token");
        // An item removed before the cursor does not shift the next page.
        let (second, next) = page("s", items(1..5), after.as_deref(), 2);
        assert_eq!(second, vec![2, 3]);
        let after = resume_after("s", next.as_deref()).expect("token");
        let (last, next) = page("s", items(0..5), after.as_deref(), 2);
        assert_eq!(last, vec![4]);
        assert!(next.is_none());
        let (exact, next) = page("s", items(0..4), None, 4);
        assert_eq!(exact.len(), 4);
        assert!(next.is_none(), "no token after the last item");
    }
}
