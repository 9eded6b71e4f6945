//! Security headers on every response. Pages of the web app get a Content-Security-Policy that
//! allows exactly their own inline scripts (Trunk's loader, which changes with every build) by
//! hash, computed from the page as it is served; every other response gets one that allows
//! nothing. Nothing may frame jitroles.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use http::{HeaderValue, header};
use sha2::{Digest, Sha256};

/// For anything that is not a page: it runs nothing and is framed by nobody.
const NOTHING: &str = "default-src 'none'; frame-ancestors 'none'";

/// One year, subdomains included; sent only when the public address is https.
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Adds the headers (a layer on the whole router). `hsts`: the public URL is https.
pub async fn add(State(hsts): State<bool>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    // a 304 keeps the policy the browser stored with the page it revalidated (browsers merge
    // a 304's headers into the cached ones: "nothing" here would stop the cached app)
    let revalidated = response.status() == http::StatusCode::NOT_MODIFIED;
    let headers = response.headers_mut();
    if !revalidated {
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static(NOTHING));
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}

/// The policy for a page (the web app's, or one the server renders): its own origin for
/// everything, WebAssembly compiled by the browser, and its inline scripts and styles by hash
/// (never `unsafe-inline`).
pub fn page_policy(html: &str) -> HeaderValue {
    let hashes = |element| -> String {
        inline(html, element)
            .map(|body| format!(" 'sha256-{}'", STANDARD.encode(Sha256::digest(body))))
            .collect()
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{}; style-src 'self'{}; \
         img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
         object-src 'none'; frame-ancestors 'none'",
        hashes("script"),
        hashes("style"),
    );
    HeaderValue::from_str(&policy).expect("a policy of ASCII text is a header value")
}

/// The bodies of the `<script>` or `<style>` elements without a `src`, exactly as the browser
/// hashes them.
fn inline<'a>(html: &'a str, element: &'a str) -> impl Iterator<Item = &'a str> {
    let (open_tag, close_tag) = (format!("<{element}"), format!("</{element}>"));
    let mut rest = html;
    std::iter::from_fn(move || {
        loop {
            let open = rest.find(&open_tag)?;
            let after = &rest[open..];
            let tag_end = after.find('>')?;
            let tag = &after[..tag_end];
            let body_start = &after[tag_end + 1..];
            let close = body_start.find(&close_tag)?;
            let body = &body_start[..close];
            rest = &body_start[close + close_tag.len()..];
            if !tag.contains(" src=") {
                return Some(body);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_allows_its_inline_scripts_by_hash_and_nothing_inline_else() {
        let html = "<html><head><script src=\"/a.js\"></script>\
                    <script type=\"module\">import init from '/app.js';\ninit();</script>\
                    </head><body></body></html>";
        let policy = page_policy(html);
        let policy = policy.to_str().unwrap();
        let expected = STANDARD.encode(Sha256::digest("import init from '/app.js';\ninit();"));
        assert!(policy.contains(&format!("'sha256-{expected}'")), "{policy}");
        assert_eq!(policy.matches("'sha256-").count(), 1, "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    }

    #[test]
    fn inline_styles_are_allowed_by_hash_too() {
        let policy = page_policy("<style>p{color:red}</style>");
        let expected = STANDARD.encode(Sha256::digest("p{color:red}"));
        assert!(
            policy
                .to_str()
                .unwrap()
                .contains(&format!("style-src 'self' 'sha256-{expected}'")),
            "{policy:?}"
        );
    }

    #[test]
    fn a_page_without_inline_scripts_allows_none() {
        let policy = page_policy("<p>hi</p><script src=x></script>");
        assert!(!policy.to_str().unwrap().contains("sha256"));
    }
}
