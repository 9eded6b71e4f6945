//! The small pages and redirects the sign-in flow answers with: outcomes a person reads, with
//! the details of failures in the log under an error id, never on the page.

use axum::{
    body::Body,
    http::{HeaderValue, StatusCode, header},
    response::Response,
};
use jitroles_domain::DomainError;

use super::error::AuthError;

pub(super) fn redirect(to: &str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    no_store(response)
}

/// The one place the sign-in pages choose an HTTP status for an authentication failure:
/// a refusal is 403 with its reason, an outage 503 with its sentence, anything else 500 with
/// the details in the log under an id (`doing` says what failed, for the page and the log).
pub(super) fn refused(title: &str, doing: &str, error: AuthError) -> Response {
    match error {
        AuthError::Unauthenticated(why)
        | AuthError::Refused(why)
        | AuthError::Disabled { why, .. } => page(StatusCode::FORBIDDEN, title, &format!("{why}.")),
        AuthError::Failed(DomainError::Unavailable(why)) => {
            page(StatusCode::SERVICE_UNAVAILABLE, title, &format!("{why}."))
        }
        AuthError::Failed(e) => internal(doing, &e.to_string()),
    }
}

/// The provider cannot be discovered: the detail (its URL, its answer) goes to the log.
pub(super) fn provider_unavailable(detail: &str) -> Response {
    let id = uuid::Uuid::new_v4();
    tracing::warn!(error_id = %id, error = %detail, "sign-in: provider discovery failed");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in is unavailable",
        &format!(
            "The sign-in provider cannot be reached right now; try again in a minute (error {id})."
        ),
    )
}

pub(super) fn internal(what: &str, detail: &str) -> Response {
    let id = uuid::Uuid::new_v4();
    tracing::error!(%id, error = %detail, "{what}");
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        &format!("{what}. The server log has the details under {id}."),
    )
}

/// A small server-rendered page for the sign-in flow's outcomes.
pub(super) fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{t} · jitroles</title><style>body{{font-family:system-ui,sans-serif;background:#f7f8fa;color:#1c2330}}main{{max-width:36rem;margin:3rem auto;padding:1.5rem;background:#fff;border:1px solid #d9dde5;border-radius:6px}}</style></head><body><main><h1>{t}</h1><p>{m}</p><p><a href=\"/auth/login\">Sign in</a> · <a href=\"/\">jitroles</a></p></main></body></html>",
        t = escape(title),
        m = escape(message)
    );
    let policy = crate::headers::page_policy(&html);
    let mut response = Response::new(Body::from(html));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    no_store(response)
}

/// Never cached: these answers carry cookies and outcomes of one sign-in. (That the callback's
/// URL, which carries the code, is never passed on is `Referrer-Policy: no-referrer`, which
/// `crate::headers` sets on every response.)
pub(super) fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
