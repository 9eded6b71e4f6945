//! The web app's files on the same port as the API.

use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;

use crate::support::{INDEX_HTML, TestServer};

async fn get(
    server: &TestServer,
    path: &str,
    content_type: Option<&str>,
) -> (StatusCode, http::HeaderMap, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<Bytes>>();
    let mut request = Request::get(format!("{}{path}", server.url()));
    if let Some(ct) = content_type {
        request = request.header(header::CONTENT_TYPE, ct);
    }
    let response = client
        .request(request.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[tokio::test]
async fn root_and_deep_links_serve_the_app_over_http1() {
    let server = TestServer::start().await;
    for path in ["/", "/roles", "/no/such/page", "/administrators"] {
        let (status, headers, body) = get(&server, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, INDEX_HTML, "{path}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache", "{path}");
    }
    server.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn admin_paths_serve_the_admin_app_and_its_files() {
    const ADMIN_HTML: &str = "<!DOCTYPE html><title>jitroles admin test app</title>";
    let server = TestServer::start().await;
    let admin = server.dir.path().join("dist/admin");
    std::fs::create_dir_all(&admin).unwrap();
    std::fs::write(admin.join("index.html"), ADMIN_HTML).unwrap();
    std::fs::write(admin.join("admin-1.wasm"), "wasm").unwrap();
    for path in ["/admin", "/admin/", "/admin/rules", "/admin/channels/new"] {
        let (status, headers, body) = get(&server, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, ADMIN_HTML, "{path}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache", "{path}");
    }
    let (status, _, body) = get(&server, "/admin/admin-1.wasm", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "wasm"));
    // the requesters' app stays the requesters'
    let (_, _, body) = get(&server, "/roles", None).await;
    assert_eq!(body, INDEX_HTML);
    server.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn existing_files_are_served_with_their_type() {
    let server = TestServer::start().await;
    std::fs::write(server.dir.path().join("dist/app.css"), "body{}").unwrap();
    let (status, headers, body) = get(&server, "/app.css", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/css");
    assert_eq!(body, "body{}");
    server.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn grpc_calls_to_unknown_services_get_unimplemented_not_html() {
    let server = TestServer::start().await;
    let (status, headers, body) = get(
        &server,
        "/no.such.Service/Call",
        Some("application/grpc-web+proto"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["grpc-status"], "12", "UNIMPLEMENTED");
    assert!(body.is_empty());
    server.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_pages_allow_only_their_own_loader() {
    let server = TestServer::start().await;
    let loader = "import init from '/app-1.js'; await init();";
    std::fs::write(
        server.dir.path().join("dist/index.html"),
        format!("<!DOCTYPE html><script type=\"module\">{loader}</script>"),
    )
    .unwrap();
    std::fs::write(server.dir.path().join("dist/app.css"), "body{}").unwrap();
    for path in ["/", "/roles", "/app.css", "/metrics", "/healthz-nope"] {
        let (_, headers, _) = get(&server, path, None).await;
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer", "{path}");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        // plain http on loopback: no HSTS
        assert!(
            !headers.contains_key(header::STRICT_TRANSPORT_SECURITY),
            "{path}"
        );
    }
    let (_, headers, _) = get(&server, "/roles", None).await;
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(loader));
    assert!(
        csp.contains(&format!(
            "script-src 'self' 'wasm-unsafe-eval' 'sha256-{hash}'"
        )),
        "the page's own loader, by hash: {csp}"
    );
    server.running.shutdown().await.unwrap();
}

/// Browsers merge a 304's headers into the page they cached: a policy on the 304 would replace
/// the page's own and stop the cached app.
#[tokio::test]
async fn a_revalidated_page_keeps_its_own_policy() {
    let server = TestServer::start().await;
    let http = reqwest::Client::new();
    let first = http
        .get(format!("{}/roles", server.url()))
        .send()
        .await
        .unwrap();
    let modified = first.headers()[header::LAST_MODIFIED.as_str()].clone();
    let again = http
        .get(format!("{}/roles", server.url()))
        .header(header::IF_MODIFIED_SINCE.as_str(), modified)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);
    assert!(
        !again
            .headers()
            .contains_key(header::CONTENT_SECURITY_POLICY.as_str()),
        "{:?}",
        again.headers()
    );
    assert_eq!(again.headers()[header::X_FRAME_OPTIONS.as_str()], "DENY");
    server.running.shutdown().await.unwrap();
}
