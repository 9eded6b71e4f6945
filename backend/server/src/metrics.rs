//! Prometheus metrics, served as text at `/metrics` on the server's port: live grants, the due
//! backlog, how late expiries are processed, directory operations (latency, errors) and RPCs
//! (count by method and status code, latency by method).

use std::{collections::HashSet, sync::Arc, time::Duration};

use async_trait::async_trait;
use axum::{
    extract::{Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use jitroles_domain::{
    DomainError,
    directory::{
        Capabilities, Controller, Directory, DirectoryGroup, DirectoryUser, GroupRef, Member,
        MembershipChange, SearchPage, SearchScope, Sid, UserLookup, WriteAccess,
    },
};
use prometheus_client::{
    encoding::text::encode,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};
use tokio::time::Instant;

use crate::grants::Engine;

type Labels = Vec<(String, String)>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~16 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Every gRPC method path this server serves (`/package.Service/Method`), read from the
/// descriptors of the services it mounts. An RPC is labelled by its path only when the path is
/// one of these: tonic routes `/jitroles.v1.RoleService/<anything>` to the service, so a raw path
/// would let any caller, signed in or not, create series without bound.
fn known_methods() -> HashSet<String> {
    use prost::Message;
    [
        jitroles_proto::v1::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ]
    .into_iter()
    .flat_map(|set| {
        prost_types::FileDescriptorSet::decode(set)
            .expect("the descriptors compiled into this binary decode")
            .file
    })
    .flat_map(|file| {
        let package = file.package().to_owned();
        file.service.into_iter().flat_map(move |service| {
            let prefix = format!("/{package}.{}/", service.name());
            service
                .method
                .into_iter()
                .map(move |m| format!("{prefix}{}", m.name()))
        })
    })
    .collect()
}

/// The label for a request path: itself when known, else `unknown`.
const UNKNOWN_METHOD: &str = "unknown";

pub struct Metrics {
    registry: Registry,
    methods: HashSet<String>,
    live_grants: Gauge,
    due_backlog: Gauge,
    expiry_lateness: Histogram,
    directory_seconds: Histograms,
    directory_errors: Family<Labels, Counter>,
    dc_up: Family<Labels, Gauge>,
    dc_failures: Family<Labels, Counter>,
    rpc_requests: Family<Labels, Counter>,
    rpc_seconds: Histograms,
    notifications: Family<Labels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl crate::grants::Observer for Metrics {
    fn expired_late(&self, late: Duration) {
        self.expiry_lateness.observe(late.as_secs_f64());
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("jitroles");
        let live_grants = Gauge::default();
        let due_backlog = Gauge::default();
        // 10 ms … ~5 min
        let expiry_lateness = Histogram::new(exponential_buckets(0.01, 2.0, 15));
        let directory_seconds = Histograms::new_with_constructor(latency_histogram);
        let directory_errors = Family::<Labels, Counter>::default();
        let dc_up = Family::<Labels, Gauge>::default();
        let dc_failures = Family::<Labels, Counter>::default();
        let rpc_requests = Family::<Labels, Counter>::default();
        let rpc_seconds = Histograms::new_with_constructor(latency_histogram);
        registry.register(
            "live_grants",
            "Grants holding a membership (activating, active, ending)",
            live_grants.clone(),
        );
        registry.register(
            "due_backlog",
            "Grants past their expiry not yet ended",
            due_backlog.clone(),
        );
        registry.register(
            "expiry_lateness_seconds",
            "How long after its expiry a grant was ended",
            expiry_lateness.clone(),
        );
        registry.register(
            "directory_operation_seconds",
            "Directory (LDAP) operations by kind",
            directory_seconds.clone(),
        );
        registry.register(
            "directory_errors",
            "Directory operations that failed, by kind",
            directory_errors.clone(),
        );
        registry.register(
            "directory_dc_up",
            "Each configured domain controller: 1 while it answers (or was not asked yet), 0 while it is skipped",
            dc_up.clone(),
        );
        registry.register(
            "directory_dc_failures",
            "Times each domain controller was found not answering (then skipped for a while)",
            dc_failures.clone(),
        );
        registry.register(
            "rpc_requests",
            "gRPC and gRPC-web calls by method and status code",
            rpc_requests.clone(),
        );
        registry.register(
            "rpc_seconds",
            "gRPC and gRPC-web call latency by method",
            rpc_seconds.clone(),
        );
        let notifications = Family::<Labels, Counter>::default();
        registry.register(
            "notification_attempts",
            "Notification delivery attempts by outcome (sent; pending: will be retried; failed: the last attempt failed)",
            notifications.clone(),
        );
        Self {
            registry,
            methods: known_methods(),
            live_grants,
            due_backlog,
            expiry_lateness,
            directory_seconds,
            directory_errors,
            dc_up,
            dc_failures,
            rpc_requests,
            rpc_seconds,
            notifications,
        }
    }

    fn method_label(&self, path: &str) -> String {
        if self.methods.contains(path) {
            path.to_owned()
        } else {
            UNKNOWN_METHOD.to_owned()
        }
    }

    /// A delivery attempt ended with the notification in `state`.
    pub fn notification(&self, state: &str) {
        self.notifications
            .get_or_create(&vec![("outcome".to_owned(), state.to_owned())])
            .inc();
    }

    fn directory_op(&self, op: &str, took: Duration, failed: bool) {
        let labels = vec![("operation".to_owned(), op.to_owned())];
        self.directory_seconds
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        if failed {
            self.directory_errors.get_or_create(&labels).inc();
        }
    }

    /// Each DC's state as the directory adapter last found it (the URLs come from the
    /// configuration, so the series are bounded).
    fn controllers(&self, controllers: &[Controller]) {
        for c in controllers {
            let labels = vec![("url".to_owned(), c.url.clone())];
            self.dc_up.get_or_create(&labels).set(i64::from(c.up));
            let counter = self.dc_failures.get_or_create(&labels);
            counter.inc_by(c.failures.saturating_sub(counter.get()));
        }
    }

    /// The text exposition, with the grant gauges read now.
    pub async fn render(&self, engine: Option<&Engine>) -> Result<String, DomainError> {
        if let Some(engine) = engine {
            let (live, due) = engine.expiry.gauges().await?;
            self.live_grants
                .set(i64::try_from(live).unwrap_or(i64::MAX));
            self.due_backlog.set(i64::try_from(due).unwrap_or(i64::MAX));
        }
        let mut text = String::new();
        encode(&mut text, &self.registry)
            .map_err(|e| DomainError::Internal(format!("metrics encoding: {e}")))?;
        Ok(text)
    }
}

/// `GET /metrics`.
pub async fn serve(
    State((metrics, engine)): State<(Arc<Metrics>, Option<Arc<Engine>>)>,
) -> Response {
    match metrics.render(engine.as_deref()).await {
        Ok(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics unavailable");
            (http::StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response()
        }
    }
}

/// Counts and times every gRPC call (a route layer on the gRPC routes). The status code is the
/// `grpc-status` header of the response, which tonic sends for errors; a call without it
/// succeeded (its status travels in the trailers).
pub async fn rpc(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let method = metrics.method_label(request.uri().path());
    let started = Instant::now();
    let response = next.run(request).await;
    // the server's own header, but bounded all the same: 0-16, anything else `unknown`
    let code = match response.headers().get("grpc-status").map(|v| v.to_str()) {
        None => "0".to_owned(),
        Some(Ok(c)) if c.parse::<u8>().is_ok_and(|n| n <= 16) => c.to_owned(),
        Some(_) => UNKNOWN_METHOD.to_owned(),
    };
    metrics
        .rpc_seconds
        .get_or_create(&vec![("method".to_owned(), method.clone())])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .rpc_requests
        .get_or_create(&vec![
            ("method".to_owned(), method),
            ("code".to_owned(), code),
        ])
        .inc();
    response
}

/// The directory, with every operation timed and its failures counted, and ended at the
/// deadline of the call it is made for ([`crate::deadline`]).
pub struct MeteredDirectory {
    inner: Arc<dyn Directory>,
    metrics: Arc<Metrics>,
}

impl MeteredDirectory {
    pub fn new(inner: Arc<dyn Directory>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    async fn timed<T>(
        &self,
        op: &str,
        call: impl Future<Output = Result<T, DomainError>>,
    ) -> Result<T, DomainError> {
        let started = Instant::now();
        // every directory call of the server passes here: it ends at the call's deadline
        let result = crate::deadline::bounded(call).await;
        self.metrics
            .directory_op(op, started.elapsed(), result.is_err());
        self.metrics.controllers(&self.inner.controllers());
        result
    }
}

#[async_trait]
impl Directory for MeteredDirectory {
    async fn find_user(&self, by: &UserLookup) -> Result<Option<DirectoryUser>, DomainError> {
        self.timed("find_user", self.inner.find_user(by)).await
    }

    async fn token_groups(&self, user_dn: &str) -> Result<Vec<Sid>, DomainError> {
        self.timed("token_groups", self.inner.token_groups(user_dn))
            .await
    }

    async fn search(
        &self,
        text: &str,
        scope: SearchScope,
        limit: usize,
    ) -> Result<SearchPage, DomainError> {
        self.timed("search", self.inner.search(text, scope, limit))
            .await
    }

    async fn group(&self, by: &GroupRef) -> Result<Option<DirectoryGroup>, DomainError> {
        self.timed("group", self.inner.group(by)).await
    }

    async fn groups_containing(&self, group_dn: &str) -> Result<Vec<DirectoryGroup>, DomainError> {
        self.timed("groups_containing", self.inner.groups_containing(group_dn))
            .await
    }

    async fn groups_of(&self, dn: &str) -> Result<Vec<DirectoryGroup>, DomainError> {
        self.timed("groups_of", self.inner.groups_of(dn)).await
    }

    async fn direct_members(
        &self,
        group: &DirectoryGroup,
        limit: usize,
    ) -> Result<SearchPage, DomainError> {
        self.timed("direct_members", self.inner.direct_members(group, limit))
            .await
    }

    async fn add_member(
        &self,
        group_dn: &str,
        member: &Sid,
        ttl: Option<Duration>,
    ) -> Result<MembershipChange, DomainError> {
        self.timed("add_member", self.inner.add_member(group_dn, member, ttl))
            .await
    }

    async fn remove_member(
        &self,
        group_dn: &str,
        member: &Sid,
    ) -> Result<MembershipChange, DomainError> {
        self.timed("remove_member", self.inner.remove_member(group_dn, member))
            .await
    }

    async fn remove_members(
        &self,
        group_dn: &str,
        members: &[Sid],
    ) -> Result<Vec<MembershipChange>, DomainError> {
        self.timed(
            "remove_members",
            self.inner.remove_members(group_dn, members),
        )
        .await
    }

    async fn members(&self, group_dn: &str) -> Result<Vec<Member>, DomainError> {
        self.timed("members", self.inner.members(group_dn)).await
    }

    async fn member_added_times(
        &self,
        group_dn: &str,
    ) -> Result<Option<Vec<(String, chrono::DateTime<chrono::Utc>)>>, DomainError> {
        self.timed(
            "member_added_times",
            self.inner.member_added_times(group_dn),
        )
        .await
    }

    async fn capabilities(&self) -> Result<Capabilities, DomainError> {
        self.timed("capabilities", self.inner.capabilities()).await
    }

    async fn write_access(&self, group_dn: &str) -> Result<WriteAccess, DomainError> {
        self.timed("write_access", self.inner.write_access(group_dn))
            .await
    }

    fn controllers(&self) -> Vec<Controller> {
        self.inner.controllers()
    }
}
