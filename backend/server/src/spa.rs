//! The web app's files. The web app is two apps (`frontend/build`): the requesters' one in the
//! web root and the admin one in `admin/` beneath it, so requesters never download the admin
//! pages. Unknown paths under `/admin` get `admin/index.html`, other unknown paths
//! `index.html`, so deep links such as `/admin/rules` load the right app and its router picks
//! the page. gRPC calls to unknown services are answered
//! as gRPC (UNIMPLEMENTED), not with HTML, and `/auth/…` without browser sign-in gets a 404
//! that says so.
//!
//! The files come from `server.web_root`, or, when that is not set and the binary was built
//! with the `embedded-web` feature (the Debian package), from the binary itself.

use std::{
    convert::Infallible,
    path::{Path, PathBuf},
};

use http::{HeaderValue, Request, Response, header};
use tonic::body::Body;
use tower::{Service, ServiceExt, service_fn};
use tower_http::services::{ServeDir, ServeFile};

use crate::api::error::no_such_service;

pub fn service<B>(
    web_root: Option<&Path>,
) -> impl Service<Request<B>, Response = Response<Body>, Error = Infallible, Future: Send>
+ Clone
+ Send
+ Sync
+ 'static
where
    B: Send + 'static,
{
    let files = Files::new(web_root);
    service_fn(move |request: Request<B>| {
        let files = files.clone();
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
            let response = files.serve(request).await;
            let mut response = with_page_policy(response).await;
            // Revalidate every time: index.html names the hashed assets of the current build.
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            Ok(response)
        }
    })
}

/// Where the web app's files come from.
#[derive(Clone)]
#[allow(clippy::large_enum_variant)] // one per server; the folder's services are cloned per request as before
enum Files {
    Folder {
        app: ServeDir<ServeFile>,
        admin: ServeDir<ServeFile>,
    },
    #[cfg(feature = "embedded-web")]
    Embedded,
}

impl Files {
    fn new(web_root: Option<&Path>) -> Self {
        #[cfg(feature = "embedded-web")]
        if web_root.is_none() {
            return Self::Embedded;
        }
        let root = web_root.map_or_else(|| PathBuf::from("dist"), Path::to_owned);
        Self::Folder {
            app: ServeDir::new(&root).fallback(ServeFile::new(root.join("index.html"))),
            // `/admin` itself is a directory: serve the app, never a redirect to `/admin/`
            admin: ServeDir::new(&root)
                .append_index_html_on_directories(false)
                .fallback(ServeFile::new(root.join("admin").join("index.html"))),
        }
    }

    async fn serve<B: Send + 'static>(self, request: Request<B>) -> Response<Body> {
        match self {
            Self::Folder { app, admin } => {
                let files = if is_admin(request.uri().path()) {
                    admin
                } else {
                    app
                };
                match files.oneshot(request).await {
                    Ok(response) => response.map(Body::new),
                    Err(never) => match never {},
                }
            }
            #[cfg(feature = "embedded-web")]
            Self::Embedded => embedded::serve(&request),
        }
    }
}

/// The file a path gets from `files` (names relative to the web root): the file itself, a
/// folder's `index.html`, or else the app the path belongs to.
#[cfg_attr(not(feature = "embedded-web"), allow(dead_code))]
fn resolve<'a, F>(files: &'a [F], name: impl Fn(&F) -> &str, path: &str) -> Option<&'a F> {
    let find = |wanted: &str| files.iter().find(|f| name(f) == wanted);
    let relative = path.trim_start_matches('/');
    let folder_index = (relative.is_empty() || relative.ends_with('/'))
        .then(|| format!("{relative}index.html"))
        .filter(|_| !is_admin(path));
    find(relative)
        .filter(|_| !relative.is_empty())
        .or_else(|| folder_index.and_then(|i| find(&i)))
        .or_else(|| {
            find(if is_admin(path) {
                "admin/index.html"
            } else {
                "index.html"
            })
        })
}

/// The web app built into the binary (`build.rs` writes the list).
#[cfg(feature = "embedded-web")]
mod embedded {
    use http::{HeaderValue, Method, Request, Response, StatusCode, header};
    use tonic::body::Body;

    include!(concat!(env!("OUT_DIR"), "/web_app.rs"));

    pub fn serve<B>(request: &Request<B>) -> Response<Body> {
        let status = |code: StatusCode| {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = code;
            response
        };
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return status(StatusCode::METHOD_NOT_ALLOWED);
        }
        let Some((name, bytes, etag)) = super::resolve(FILES, |f| f.0, request.uri().path()) else {
            return status(StatusCode::NOT_FOUND);
        };
        let unchanged = request
            .headers()
            .get(header::IF_NONE_MATCH)
            .is_some_and(|v| v.as_bytes() == etag.as_bytes());
        let mut response = if unchanged {
            status(StatusCode::NOT_MODIFIED)
        } else if request.method() == Method::HEAD {
            status(StatusCode::OK)
        } else {
            Response::new(Body::new(axum::body::Body::from(*bytes)))
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, HeaderValue::from_static(etag));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(super::content_type(name)),
        );
        response
    }
}

/// The media type of a file of the web app, by its extension.
#[cfg_attr(not(feature = "embedded-web"), allow(dead_code))]
fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const BUILT: &[&str] = &[
        "admin/index.html",
        "admin/app.js",
        "approvals/index.html",
        "app.wasm",
        "index.html",
    ];

    fn resolved(path: &str) -> Option<&'static str> {
        resolve(BUILT, |f| f, path).copied()
    }

    #[test]
    fn paths_resolve_to_their_file_their_folders_index_or_their_apps_index() {
        assert_eq!(resolved("/app.wasm"), Some("app.wasm"));
        assert_eq!(resolved("/admin/app.js"), Some("admin/app.js"));
        assert_eq!(resolved("/"), Some("index.html"));
        assert_eq!(resolved("/approvals/"), Some("approvals/index.html"));
        assert_eq!(resolved("/roles"), Some("index.html"));
        assert_eq!(resolved("/admin"), Some("admin/index.html"));
        assert_eq!(resolved("/admin/"), Some("admin/index.html"));
        assert_eq!(resolved("/admin/rules/7"), Some("admin/index.html"));
        assert_eq!(resolved("/../etc/passwd"), Some("index.html"));
    }

    #[test]
    fn every_file_the_web_app_build_writes_has_its_media_type() {
        for (name, kind) in [
            ("index.html", "text/html; charset=utf-8"),
            ("a-1.js", "text/javascript; charset=utf-8"),
            ("a-1_bg.wasm", "application/wasm"),
            ("main-1.css", "text/css; charset=utf-8"),
        ] {
            assert_eq!(content_type(name), kind);
        }
    }
}
