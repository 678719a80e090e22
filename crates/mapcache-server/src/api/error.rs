//! The API's one error shape: `{"error":{"code":<HTTP status>,"message":"..."}}`.

use hyper::StatusCode;

/// An API failure: the HTTP status and a message for people. Handlers return it; the
/// dispatcher renders it ([`ApiError::into_response`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400: the request is malformed (JSON, path, payload shape).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
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
        let mut out = Vec::with_capacity(48 + self.message.len());
        out.extend_from_slice(b"{\"error\":{\"code\":");
        out.extend_from_slice(itoa::Buffer::new().format(self.status.as_u16()).as_bytes());
        out.extend_from_slice(b",\"message\":");
        mapcache_store::json::write_string(self.message.as_bytes(), &mut out);
        out.extend_from_slice(b"}}");
        out
    }

    pub fn into_response(self) -> super::Resp {
        super::json_response(self.status, self.body())
    }
}

impl From<mapcache_store::JsonError> for ApiError {
    fn from(e: mapcache_store::JsonError) -> Self {
        ApiError::bad_request(e.to_string())
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
    fn error_body_escapes_the_message() {
        let e = ApiError::not_found("key 'a\"b' not found");
        assert_eq!(
            String::from_utf8(e.body()).unwrap(),
            r#"{"error":{"code":404,"message":"key 'a\"b' not found"}}"#
        );
    }
}
