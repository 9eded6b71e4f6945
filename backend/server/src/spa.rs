//! The web app's files. The web app is two apps (`frontend/build`): the requesters' one in the
//! web root and the admin one in `admin/` beneath it, so requesters never download the admin
//! pages. Unknown paths under `/admin` get `admin/index.html`, other unknown paths
//! `index.html`, so deep links such as `/admin/rules` load the right app and its router picks
//! the page. gRPC calls to unknown services are answered
//! as gRPC (UNIMPLEMENTED), not with HTML, and `/auth/…` without browser sign-in gets a 404
//! that says so.

use std::{convert::Infallible, path::Path};

use http::{HeaderValue, Request, Response, header};
use tonic::body::Body;
use tower::{Service, ServiceExt, service_fn};
use tower_http::services::{ServeDir, ServeFile};

use crate::api::error::no_such_service;

pub fn service<B>(
    web_root: &Path,
) -> impl Service<Request<B>, Response = Response<Body>, Error = Infallible, Future: Send>
+ Clone
+ Send
+ Sync
+ 'static
where
    B: Send + 'static,
{
    let app = ServeDir::new(web_root).fallback(ServeFile::new(web_root.join("index.html")));
    // `/admin` itself is a directory: serve the app, never a redirect to `/admin/`
    let admin = ServeDir::new(web_root)
        .append_index_html_on_directories(false)
        .fallback(ServeFile::new(web_root.join("admin").join("index.html")));
    service_fn(move |request: Request<B>| {
        let files = if is_admin(request.uri().path()) {
            admin.clone()
        } else {
            app.clone()
        };
        async move {
            if is_grpc(&request) {
                return Ok(no_such_service(request.uri().path()).into_http());
            }
            // only reached when browser sign-in is off: never answer with the app, which would
            // send the browser straight back here
            if request.uri().path().starts_with("/auth/") {
                let mut response = Response::new(Body::new(
                    "Browser sign-in is not configured on this jitroles server \
                     (set oidc.client_id and oidc.client_secret).\n"
                        .to_owned(),
                ));
                *response.status_mut() = http::StatusCode::NOT_FOUND;
                return Ok(response);
            }
            let response = files.oneshot(request).await?.map(Body::new);
            let mut response = with_page_policy(response).await;
            // Revalidate every time: index.html names the hashed assets of the current build.
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            Ok(response)
        }
    })
}

/// An HTML page gets the policy that allows its own inline loader (its hash changes with every
/// build, so it is read from the page as served).
async fn with_page_policy(response: Response<Body>) -> Response<Body> {
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // a page of the app is a few KB; far more is not a page to trust with a policy
    match axum::body::to_bytes(axum::body::Body::new(body), 1 << 20).await {
        Ok(bytes) => {
            let policy = crate::headers::page_policy(&String::from_utf8_lossy(&bytes));
            parts
                .headers
                .insert(header::CONTENT_SECURITY_POLICY, policy);
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::new(axum::body::Body::from(bytes)))
        }
        Err(e) => {
            tracing::error!(error = %e, "reading a page of the web app");
            let mut response = Response::new(Body::empty());
            *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    }
}

/// A path of the admin app.
fn is_admin(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

fn is_grpc<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}
