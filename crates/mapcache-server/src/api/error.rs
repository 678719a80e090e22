//! The API's one error shape, the Go server's: `{"message": "..."}`, with mapcache's
//! more precise explanation, when it has one, in a second field `detail` (a client
//! written for the Go server reads `message` and ignores the rest).

use hyper::StatusCode;

/// An API failure: the HTTP status, the Go server's message for it, and optionally a
/// precise detail. Handlers return it; the router renders it
/// ([`ApiError::into_response`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub detail: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            detail: None,
        }
    }

    /// The same error with a precise explanation in `detail`.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// 400: the request is malformed (JSON, path, payload shape).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 400 `invalid json payload` (Go's words for a body it cannot bind).
    pub fn invalid_json(detail: impl Into<String>) -> Self {
        Self::bad_request("invalid json payload").detail(detail)
    }

    /// 400 `validation failed` (Go's words for a payload that binds but is wrong).
    pub fn validation(detail: impl Into<String>) -> Self {
        Self::bad_request("validation failed").detail(detail)
    }

    /// 404: no such cache, key or endpoint.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: the request conflicts with what is stored.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// The JSON body of this error.
    pub fn body(&self) -> Vec<u8> {
        let detail = self.detail.as_deref().unwrap_or("");
        let mut out = Vec::with_capacity(32 + self.message.len() + detail.len());
        out.extend_from_slice(b"{\"message\":");
        mapcache_store::json::write_string(self.message.as_bytes(), &mut out);
        if let Some(d) = &self.detail {
            out.extend_from_slice(b",\"detail\":");
            mapcache_store::json::write_string(d.as_bytes(), &mut out);
        }
        out.push(b'}');
        out
    }

    pub fn into_response(self) -> super::Resp {
        super::json_response(self.status, self.body())
    }
}

impl From<mapcache_store::JsonError> for ApiError {
    fn from(e: mapcache_store::JsonError) -> Self {
        ApiError::invalid_json(e.to_string())
    }
}

impl From<mapcache_store::CacheError> for ApiError {
    fn from(e: mapcache_store::CacheError) -> Self {
        use mapcache_store::CacheError as E;
        let status = match e {
            E::Exists(_) => StatusCode::CONFLICT,
            E::NotFound(_) => StatusCode::NOT_FOUND,
            E::InvalidName(_) | E::Numbered(_) => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_escapes_the_message_and_carries_the_detail() {
        let e = ApiError::not_found("key not found");
        assert_eq!(
            String::from_utf8(e.body()).unwrap(),
            r#"{"message":"key not found"}"#
        );
        let e = ApiError::not_found("key not found").detail("key 'a\"b' not found");
        assert_eq!(
            String::from_utf8(e.body()).unwrap(),
            r#"{"message":"key not found","detail":"key 'a\"b' not found"}"#
        );
    }
}
