//! TLS in the server: one port speaks native gRPC over HTTP/2 and gRPC-web and the app over
//! HTTP/1.1, chosen by ALPN; SIGHUP re-reads the certificate without dropping connections.
//! Certificates come from a CA made with the `openssl` command for each test.

use std::{
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use jitroles_proto::v1::{self as pb, system_service_client::SystemServiceClient};
use rustls::{ClientConfig, RootCertStore, pki_types::CertificateDer};
use tokio::net::TcpStream;
use tokio_rustls::{TlsConnector, client::TlsStream};
use tonic::transport::{Channel, Endpoint};

use crate::{
    cli::jitroles,
    crash::{Server, free_port},
    support::{INDEX_HTML, config_in},
};

/// A CA and the certificates it issues, for `localhost` and 127.0.0.1.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        openssl(
            dir.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=jitroles TLS test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        );
        Self { dir }
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server certificate named `name`: its chain file and key file.
    fn issue(&self, name: &str) -> (PathBuf, PathBuf) {
        let d = self.dir.path();
        let (cert, key) = (format!("{name}.pem"), format!("{name}.key"));
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={name}"),
                "-keyout",
                &key,
                "-out",
                "req.csr",
            ],
        );
        std::fs::write(
            d.join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "req.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
                "-out",
                &cert,
            ],
        );
        (d.join(cert), d.join(key))
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (apt install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn der(cert_file: &Path) -> CertificateDer<'static> {
    let pem = std::fs::read(cert_file).unwrap();
    rustls_pemfile::certs(&mut pem.as_slice())
        .next()
        .unwrap()
        .unwrap()
}

/// A TLS connection to `addr` as `localhost`, trusting only `ca`, offering `alpn`.
async fn connect(addr: SocketAddr, ca: &Path, alpn: &[&[u8]]) -> io::Result<TlsStream<TcpStream>> {
    let mut roots = RootCertStore::empty();
    roots.add(der(ca)).unwrap();
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(addr).await?;
    TlsConnector::from(Arc::new(config))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
}

/// A native gRPC channel over TLS (HTTP/2 by ALPN), and how many connections it has made.
pub async fn grpc_over_tls(addr: SocketAddr, ca: &Path) -> (Channel, Arc<AtomicUsize>) {
    let made = Arc::new(AtomicUsize::new(0));
    let (ca, counter) = (ca.to_owned(), made.clone());
    let channel = Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_| {
            let (ca, counter) = (ca.clone(), counter.clone());
            async move {
                let tls = connect(addr, &ca, &[b"h2"]).await?;
                assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
                counter.fetch_add(1, Ordering::SeqCst);
                Ok::<_, io::Error>(TokioIo::new(tls))
            }
        }))
        .await
        .unwrap();
    (channel, made)
}

/// One HTTP/1.1 request over TLS (ALPN `http/1.1`): status, headers and body.
async fn http1_over_tls(
    addr: SocketAddr,
    ca: &Path,
    request: http::Request<http_body_util::Full<Bytes>>,
) -> (http::response::Parts, Bytes) {
    use http_body_util::BodyExt;
    let tls = connect(addr, ca, &[b"http/1.1"]).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let response = send.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    (parts, body.collect().await.unwrap().to_bytes())
}

#[tokio::test]
async fn one_tls_port_serves_native_grpc_grpc_web_and_the_app_with_hsts() {
    let pki = Pki::new();
    let (cert, key) = pki.issue("localhost");
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.server.tls_cert_file = Some(cert);
    config.server.tls_key_file = Some(key);
    config.server.public_url = Some("https://localhost".into());
    let running = jitroles_server::start(&config).await.unwrap();
    let addr = running.addr();

    let (channel, _) = grpc_over_tls(addr, &pki.ca()).await;
    let info = SystemServiceClient::new(channel)
        .server_info(pb::ServerInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));

    // gRPC-web as a browser sends it: an empty ServerInfoRequest in one frame
    let (parts, body) = http1_over_tls(
        addr,
        &pki.ca(),
        http::Request::post("/jitroles.v1.SystemService/ServerInfo")
            .header("host", "localhost")
            .header("content-type", "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .body(Bytes::from_static(&[0, 0, 0, 0, 0]).into())
            .unwrap(),
    )
    .await;
    assert_eq!(parts.status, 200);
    assert_eq!(parts.headers["content-type"], "application/grpc-web+proto");
    assert!(
        String::from_utf8_lossy(&body).contains("grpc-status:0"),
        "{body:?}"
    );

    let (parts, body) = http1_over_tls(
        addr,
        &pki.ca(),
        http::Request::get("/roles")
            .header("host", "localhost")
            .body(Bytes::new().into())
            .unwrap(),
    )
    .await;
    assert_eq!(parts.status, 200);
    assert_eq!(body, INDEX_HTML.as_bytes());
    assert!(
        parts.headers["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age="),
        "{:?}",
        parts.headers
    );

    // a client that does not trust the CA gets no answer at all
    let stranger = Pki::new();
    assert!(connect(addr, &stranger.ca(), &[b"h2"]).await.is_err());
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn plain_http_on_an_address_others_reach_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.server.listen = "0.0.0.0:0".parse().unwrap();
    let err = jitroles_server::start(&config).await.err().unwrap();
    assert!(
        err.to_string().contains("plain HTTP") && err.to_string().contains("tls_cert_file"),
        "{err}"
    );

    config.server.allow_plain_http = true;
    let running = jitroles_server::start(&config).await.unwrap();
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_key_that_is_not_the_certificates_is_refused_at_start() {
    let pki = Pki::new();
    let (cert, _) = pki.issue("one");
    let (_, other_key) = pki.issue("two");
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.server.tls_cert_file = Some(cert);
    config.server.tls_key_file = Some(other_key.clone());
    let err = jitroles_server::start(&config).await.err().unwrap();
    assert!(
        err.to_string().contains(&format!(
            "{} is not the key of the certificate",
            other_key.display()
        )),
        "{err}"
    );
}

/// The real binary with TLS from `cert`/`key`, copied into `dir` (the test replaces them).
async fn serve_tls(dir: &Path, cert: &Path, key: &Path) -> (Server, SocketAddr) {
    std::fs::copy(cert, dir.join("tls.pem")).unwrap();
    std::fs::copy(key, dir.join("tls.key")).unwrap();
    std::fs::create_dir_all(dir.join("dist")).unwrap();
    std::fs::write(dir.join("dist/index.html"), INDEX_HTML).unwrap();
    let port = free_port();
    let child = jitroles(dir)
        .env("JITROLES_SERVER_LISTEN", format!("127.0.0.1:{port}"))
        .env("JITROLES_SERVER_TLS_CERT_FILE", dir.join("tls.pem"))
        .env("JITROLES_SERVER_TLS_KEY_FILE", dir.join("tls.key"))
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let server = Server {
        child,
        url: format!("https://{addr}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "jitroles did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (server, addr)
}

fn hang_up(server: &Server) {
    let sent = Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// What certificate a new connection is shown.
async fn served_certificate(addr: SocketAddr, ca: &Path) -> CertificateDer<'static> {
    let tls = connect(addr, ca, &[b"h2"]).await.unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].clone()
}

#[tokio::test]
async fn sighup_rereads_the_certificate_and_keeps_open_connections() {
    let pki = Pki::new();
    let (first, first_key) = pki.issue("first");
    let (second, second_key) = pki.issue("second");
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = serve_tls(dir.path(), &first, &first_key).await;
    // served, so SIGHUP is watched
    assert_eq!(served_certificate(addr, &pki.ca()).await, der(&first));
    let (channel, connections) = grpc_over_tls(addr, &pki.ca()).await;
    let mut client = SystemServiceClient::new(channel);
    client.server_info(pb::ServerInfoRequest {}).await.unwrap();

    // a broken file: the certificate in use stays
    std::fs::write(dir.path().join("tls.pem"), "not a certificate").unwrap();
    hang_up(&server);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(served_certificate(addr, &pki.ca()).await, der(&first));

    std::fs::copy(&second, dir.path().join("tls.pem")).unwrap();
    std::fs::copy(&second_key, dir.path().join("tls.key")).unwrap();
    hang_up(&server);
    let deadline = Instant::now() + Duration::from_secs(5);
    while served_certificate(addr, &pki.ca()).await != der(&second) {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not load the new certificate"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // the connection opened before both hang-ups still carries calls
    client.server_info(pb::ServerInfoRequest {}).await.unwrap();
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "the channel reconnected"
    );
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "SIGHUP ended it"
    );
}

#[tokio::test]
async fn sighup_without_tls_leaves_the_server_running() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = jitroles(dir.path())
        .env("JITROLES_SERVER_LISTEN", format!("127.0.0.1:{port}"))
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "jitroles did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut client = SystemServiceClient::new(server.channel().await);
    client.server_info(pb::ServerInfoRequest {}).await.unwrap();
    hang_up(&server);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "SIGHUP ended it"
    );
    client.server_info(pb::ServerInfoRequest {}).await.unwrap();
}
