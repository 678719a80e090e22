//! The API's documentation: the OpenAPI document (`/api/v1/openapi.yaml`, Go's path,
//! and `/api/v1/docs/openapi.yaml`) and Swagger UI on it (`/api/v1/docs`).
//!
//! Swagger UI's files are swagger-ui's own dist files at a pinned version, shipped in
//! the `swagger-ui-dist` crate and compiled into the binary (no build script, nothing
//! fetched at build or run time). That crate hands its files out only through the axum
//! router it builds; [`files`] asks that router once for each, at the first request, and
//! keeps the answers (`&'static` text, so nothing is copied).
//!
//! The core is framework-free: [`page`], [`openapi`] and [`asset`] answer a [`Doc`]
//! (content type and bytes); the `*_route` adapters below wire them into the route
//! table.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Response, StatusCode};

use super::{full, ApiError, Req, Resp};
use crate::Inner;

/// Where Swagger UI is served; its files live below it.
pub(crate) const DOCS_PATH: &str = "/api/v1/docs";
/// The OpenAPI document's path in the Go server (Swagger UI loads it from there).
pub(crate) const OPENAPI_PATH: &str = "/api/v1/openapi.yaml";

/// A documentation response: what it is and its bytes.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    pub content_type: &'static str,
    pub body: Bytes,
}

/// The OpenAPI document.
pub(crate) fn openapi() -> Doc {
    Doc {
        content_type: "application/yaml",
        body: Bytes::from_static(super::OPENAPI_YAML.as_bytes()),
    }
}

/// Swagger UI's page, loading the OpenAPI document from [`OPENAPI_PATH`].
pub(crate) fn page() -> Option<Doc> {
    files().index.clone()
}

/// One of Swagger UI's files (`swagger-ui-bundle.js`, `swagger-ui.css`, their source
/// maps, the OAuth2 redirect page), by name; `None` for any other name.
pub(crate) fn asset(name: &[u8]) -> Option<Doc> {
    files()
        .assets
        .iter()
        .find(|(n, _)| n.as_bytes() == name)
        .map(|(_, d)| d.clone())
}

/// The files Swagger UI's page loads from below [`DOCS_PATH`].
const ASSETS: &[&str] = &[
    "swagger-ui-bundle.js",
    "swagger-ui.css",
    "swagger-ui-bundle.js.map",
    "swagger-ui.css.map",
    "oauth2-redirect.html",
    "oauth2-redirect.js",
];

#[derive(Debug)]
struct Files {
    index: Option<Doc>,
    assets: Vec<(&'static str, Doc)>,
}

/// Swagger UI's page and files, taken from the crate's router on first use.
fn files() -> &'static Files {
    static FILES: OnceLock<Files> = OnceLock::new();
    FILES.get_or_init(|| {
        let router = swagger_ui_dist::generate_routes(swagger_ui_dist::ApiDefinition {
            uri_prefix: DOCS_PATH,
            api_definition: swagger_ui_dist::OpenApiSource::Uri(OPENAPI_PATH),
            title: Some("mapcache HTTP/JSON API"),
        });
        let get = |path: &str| fetch(&router, path);
        Files {
            index: get(DOCS_PATH),
            assets: ASSETS
                .iter()
                .filter_map(|name| Some((*name, get(&format!("{DOCS_PATH}/{name}"))?)))
                .collect(),
        }
    })
}

/// `GET path` answered by `router`, when it answers 200 at once (its handlers serve
/// static text and never wait).
fn fetch(router: &axum::Router, path: &str) -> Option<Doc> {
    use tower_service::Service as _;
    let req = axum::http::Request::get(path)
        .body(axum::body::Body::empty())
        .ok()?;
    let mut router = router.clone();
    let resp = now(router.call(req))?.ok()?;
    if resp.status() != StatusCode::OK {
        return None;
    }
    let content_type = match resp.headers().get(CONTENT_TYPE)?.to_str().ok()? {
        "text/javascript" => "text/javascript; charset=utf-8",
        "text/css" => "text/css; charset=utf-8",
        "text/html" => "text/html; charset=utf-8",
        _ => "application/json",
    };
    let body = now(resp.into_body().collect())?.ok()?.to_bytes();
    Some(Doc { content_type, body })
}

/// The output of a future that completes without waiting (a few polls at most).
fn now<F: Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    (0..8).find_map(|_| match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    })
}

/// A [`Doc`] as a hyper response; the pinned files may be cached by browsers.
fn respond(doc: Doc, immutable: bool) -> Resp {
    let mut resp = Response::new(full(doc.body));
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(doc.content_type));
    if immutable {
        h.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=86400"),
        );
    }
    resp
}

fn missing(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("{what} is not available from the swagger-ui-dist crate"),
    )
}

/// `GET /api/v1/openapi.yaml`, `GET /api/v1/docs/openapi.yaml`.
pub(crate) fn openapi_route(_inner: &Arc<Inner>, _req: Req) -> Result<Resp, ApiError> {
    Ok(respond(openapi(), false))
}

/// `GET /api/v1/docs`.
pub(crate) fn page_route(_inner: &Arc<Inner>, _req: Req) -> Result<Resp, ApiError> {
    Ok(respond(
        page().ok_or_else(|| missing("Swagger UI's page"))?,
        false,
    ))
}

/// `GET /api/v1/docs/{file}`.
pub(crate) fn asset_route(_inner: &Arc<Inner>, req: Req) -> Result<Resp, ApiError> {
    let name = req
        .params
        .first()
        .map(|s| s.bytes.as_slice())
        .unwrap_or(b"");
    match asset(name) {
        Some(doc) => Ok(respond(doc, true)),
        None => Err(ApiError::not_found(format!(
            "no file {}/{} (Swagger UI's files: {})",
            DOCS_PATH,
            String::from_utf8_lossy(name),
            ASSETS.join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_every_file_come_from_the_crate() {
        let page = page().expect("index page");
        let html = std::str::from_utf8(&page.body).unwrap();
        assert!(html.contains("url: '/api/v1/openapi.yaml'"), "{html}");
        assert!(html.contains("/api/v1/docs/swagger-ui-bundle.js"), "{html}");
        assert!(html.contains("/api/v1/docs/swagger-ui.css"), "{html}");
        for name in ASSETS {
            let doc = asset(name.as_bytes()).unwrap_or_else(|| panic!("{name} missing"));
            assert!(doc.body.len() > 50, "{name}: {} bytes", doc.body.len());
        }
        let js = asset(b"swagger-ui-bundle.js").unwrap();
        assert!(js.body.len() > 1_000_000, "the whole bundle");
        assert!(js.content_type.starts_with("text/javascript"));
        assert!(asset(b"index.html").is_none());
        assert!(asset(b"../openapi.yaml").is_none());
    }
}
