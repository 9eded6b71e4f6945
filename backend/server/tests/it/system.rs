use jitroles_proto::v1::{self as pb, system_service_client::SystemServiceClient};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::support::{TestServer, sqlite_file, start_in};

#[tokio::test]
async fn server_info_over_native_grpc_reports_version_and_sqlite() {
    let server = TestServer::start().await;
    let mut client = SystemServiceClient::new(server.channel().await);

    let info = client
        .server_info(pb::ServerInfoRequest {})
        .await
        .unwrap()
        .into_inner();

    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info.database(), pb::DatabaseKind::Sqlite);
    assert_eq!(
        info.installation_id.len(),
        36,
        "a UUID: {}",
        info.installation_id
    );
    assert!(!info.git_commit.is_empty());
    assert!(info.build.contains("rustc"), "{}", info.build);
    assert!(info.started_at.is_some());
    server.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn server_info_over_grpc_web_on_http1_matches_native_grpc() {
    let server = TestServer::start().await;
    let http1 = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let grpc_web = tonic_web::GrpcWebClientService::new(http1);
    let mut web_client = SystemServiceClient::with_origin(grpc_web, server.url().parse().unwrap());
    let mut native_client = SystemServiceClient::new(server.channel().await);

    let over_web = web_client
        .server_info(pb::ServerInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    let native = native_client
        .server_info(pb::ServerInfoRequest {})
        .await
        .unwrap()
        .into_inner();

    assert_eq!(over_web, native);
    server.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn health_reports_serving_for_the_server_and_system_service() {
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel().await);

    for service in ["", "jitroles.v1.SystemService"] {
        let answer = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            answer.status(),
            ServingStatus::Serving,
            "service {service:?}"
        );
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "no.Such".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    server.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_the_jitroles_and_health_services() {
    use tokio_stream::StreamExt;
    let server = TestServer::start().await;

    let mut v1 = tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(
        server.channel().await,
    );
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            tonic_reflection::pb::v1::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            ),
        ),
    };
    let mut answers = v1
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.next().await.unwrap().unwrap();
    let Some(
        tonic_reflection::pb::v1::server_reflection_response::MessageResponse::ListServicesResponse(
            list,
        ),
    ) = answer.message_response
    else {
        panic!("expected a service list, got {answer:?}");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"jitroles.v1.SystemService"), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");

    let mut v1alpha =
        tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient::new(
            server.channel().await,
        );
    let request = tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "jitroles.v1.SystemService".into(),
            ),
        ),
    };
    let mut answers = v1alpha
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.next().await.unwrap().unwrap();
    assert!(
        matches!(
            answer.message_response,
            Some(tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(ref f))
                if !f.file_descriptor_proto.is_empty()
        ),
        "{answer:?}"
    );
    server.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn installation_id_survives_a_restart_on_the_same_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let id_of = |running: &jitroles_server::Running| {
        let url = format!("http://{}", running.addr());
        async move {
            let channel = tonic::transport::Channel::from_shared(url)
                .unwrap()
                .connect()
                .await
                .unwrap();
            SystemServiceClient::new(channel)
                .server_info(pb::ServerInfoRequest {})
                .await
                .unwrap()
                .into_inner()
                .installation_id
        }
    };

    let first = start_in(dir.path()).await;
    let before = id_of(&first).await;
    first.shutdown().await.unwrap();
    assert!(sqlite_file(dir.path()).exists());
    let second = start_in(dir.path()).await;
    let after = id_of(&second).await;
    second.shutdown().await.unwrap();

    assert_eq!(before, after);
}

#[tokio::test]
async fn a_port_in_use_is_a_clear_error() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::support::config_in(dir.path());
    config.server.listen = taken.local_addr().unwrap();

    let err = jitroles_server::start(&config)
        .await
        .err()
        .expect("must not start");

    let message = format!("{err:#}");
    assert!(
        message.contains(&format!("cannot listen on {}", config.server.listen)),
        "{message}"
    );
    assert!(
        message.to_lowercase().contains("address already in use"),
        "{message}"
    );
}

#[tokio::test]
async fn an_unreachable_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::support::config_in(dir.path());
    // a closed port on loopback: refused at once
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    config.database.url = Some(format!("postgres://jit:secret@{closed}/jitroles").into());

    let err = jitroles_server::start(&config)
        .await
        .err()
        .expect("must not start");

    let message = format!("{err:#}");
    assert!(message.contains("cannot open the database"), "{message}");
    assert!(
        !message.contains("secret"),
        "the password leaked: {message}"
    );
}

#[tokio::test]
async fn metrics_count_rpcs_by_method_and_status_code() {
    let server = TestServer::start().await;
    let mut client = SystemServiceClient::new(server.channel().await);
    client.server_info(pb::ServerInfoRequest {}).await.unwrap();
    // a call that fails: no caller
    let refused =
        jitroles_proto::v1::role_service_client::RoleServiceClient::new(server.channel().await)
            .who_am_i(pb::WhoAmIRequest {})
            .await
            .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    let text = reqwest::get(format!("{}/metrics", server.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            r#"jitroles_rpc_requests_total{method="/jitroles.v1.SystemService/ServerInfo",code="0"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"jitroles_rpc_requests_total{method="/jitroles.v1.RoleService/WhoAmI",code="16"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("jitroles_rpc_seconds_bucket"), "{text}");
    server.running.shutdown().await.unwrap();
}

/// tonic routes `/jitroles.v1.RoleService/<anything>` to the service: labelling by the raw path
/// would let anyone grow `/metrics` without bound.
#[tokio::test]
async fn made_up_method_names_share_one_metric_series() {
    use futures_util::StreamExt;
    let server = TestServer::start().await;
    SystemServiceClient::new(server.channel().await)
        .server_info(pb::ServerInfoRequest {})
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let calls = futures_util::stream::iter(0..10_000).map(|n| {
        let (http, url) = (http.clone(), server.url());
        async move {
            http.post(format!("{url}/jitroles.v1.RoleService/Made{n}Up"))
                .header("content-type", "application/grpc-web+proto")
                .body(vec![0u8; 5]) // one empty message
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let answered = calls.buffer_unordered(32).collect::<Vec<_>>().await;
    assert!(
        answered.iter().all(|s| s.is_success()),
        "gRPC answers in trailers"
    );

    let text = reqwest::get(format!("{}/metrics", server.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut methods: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("jitroles_rpc_requests_total{method=\""))
        .filter_map(|l| l.split('"').next())
        .collect();
    methods.sort_unstable();
    methods.dedup();
    assert_eq!(
        methods,
        ["/jitroles.v1.SystemService/ServerInfo", "unknown"],
        "one series for every made-up name"
    );
    let unknown: u64 = text
        .lines()
        .filter(|l| l.starts_with(r#"jitroles_rpc_requests_total{method="unknown""#))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(unknown, 10_000, "every made-up call counted once");
    server.running.shutdown().await.unwrap();
}
