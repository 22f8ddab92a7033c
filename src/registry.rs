//! The registry: a request in, a response out, over the seed layout.
//!
//! For now it answers only the API version check `GET /v2/`, which is the pod's readiness
//! probe; the distribution spec's pull endpoints come with the registry issue.

use crate::http::{Body, Request, Response};

/// The header every registry response carries (spec: end-1).
const API_VERSION: (&str, &str) = ("Docker-Distribution-API-Version", "registry/2.0");

/// Answers one request.
pub fn handle(request: &Request) -> Response {
    let path = request.target.split('?').next().unwrap_or_default();
    let readable = request.method == "GET" || request.method == "HEAD";
    let (status, body) = match (readable, path) {
        (true, "/v2/" | "/v2") => (200, "{}"),
        (false, _) => (
            405,
            r#"{"errors":[{"code":"UNSUPPORTED","message":"the registry is read-only"}]}"#,
        ),
        _ => (
            404,
            r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#,
        ),
    };
    let mut headers = vec![
        (API_VERSION.0, API_VERSION.1.to_string()),
        ("Content-Type", "application/json".to_string()),
    ];
    if status == 405 {
        headers.push(("Allow", "GET, HEAD".to_string()));
    }
    Response {
        status,
        headers,
        body: Body::Bytes(body.as_bytes().to_vec()),
    }
}
