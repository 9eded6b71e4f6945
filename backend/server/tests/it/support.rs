//! Builders for a running test server.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use jitroles_server::{
    Running,
    config::{Config, NotificationsSection, ServerConfig},
};
use tempfile::TempDir;
use tonic::transport::Channel;

pub const INDEX_HTML: &str = "<!DOCTYPE html><title>jitroles test app</title>";

/// A server on a free loopback port with its own data directory and a tiny web app.
pub struct TestServer {
    pub running: Running,
    pub dir: TempDir,
}

impl TestServer {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let running = start_in(dir.path()).await;
        Self { running, dir }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.running.addr())
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url())
            .expect("url")
            .connect()
            .await
            .expect("connect over HTTP/2")
    }
}

pub fn config_in(dir: &Path) -> Config {
    let web_root = dir.join("dist");
    std::fs::create_dir_all(&web_root).expect("web root");
    std::fs::write(web_root.join("index.html"), INDEX_HTML).expect("index.html");
    Config {
        data_dir: dir.join("data"),
        server: ServerConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            web_root: Some(web_root),
            public_url: None,
            trusted_proxies: Vec::new(),
            ..ServerConfig::default()
        },
        notifications: NotificationsSection {
            // templates render in the real binary (the running one is this test harness)
            render_program: Some(env!("CARGO_BIN_EXE_jitroles").into()),
            // the receivers and the SMTP sink of the tests listen on loopback
            allowed_networks: vec!["127.0.0.0/8".into()],
            ..NotificationsSection::default()
        },
        ..Config::default()
    }
}

pub async fn start_in(dir: &Path) -> Running {
    jitroles_server::start(&config_in(dir))
        .await
        .expect("server starts")
}

pub fn sqlite_file(dir: &Path) -> PathBuf {
    dir.join("data").join("jitroles.db")
}

/// A fresh database on the test PostgreSQL (`scripts/postgres up`), migrated; `None` (the
/// test skips, see `service`) without one.
pub async fn postgres_database() -> Option<String> {
    let admin_url = crate::service::POSTGRES.var()?;
    let name = format!("jit_server_{}", uuid::Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(&admin_url)
        .await
        .expect("the test PostgreSQL answers");
    sea_orm::ConnectionTrait::execute_unprepared(&admin, &format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    admin.close().await.ok();
    let (base, _) = admin_url.rsplit_once('/').expect("URL ends with /DATABASE");
    let url = format!("{base}/{name}");
    let db = jitroles_store::Database::connect(&url)
        .await
        .expect("connect");
    db.migrate().await.expect("migrate");
    db.close().await;
    Some(url)
}

// ---- a browser without JavaScript, for the sign-in flow ----

/// A client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `name=value` pairs a response sets, by name.
pub fn set_cookies(response: &reqwest::Response) -> HashMap<String, String> {
    response
        .headers()
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next()?.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

pub fn location(response: &reqwest::Response, base: &reqwest::Url) -> reqwest::Url {
    base.join(response.headers()[http::header::LOCATION].to_str().unwrap())
        .unwrap()
}

pub fn cookie_header(jar: &HashMap<String, String>) -> String {
    jar.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The value of the query parameter `name` of `url`.
pub fn query_param(url: &reqwest::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

/// `/auth/login` (with `query`) at `server`: the cookies it sets and where it sends the browser.
pub async fn start_sign_in(
    http: &reqwest::Client,
    server: &str,
    query: &str,
) -> (HashMap<String, String>, reqwest::Url) {
    let start = http
        .get(format!("{server}/auth/login{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), reqwest::StatusCode::SEE_OTHER);
    let to = location(&start, &reqwest::Url::parse(server).unwrap());
    (set_cookies(&start), to)
}
