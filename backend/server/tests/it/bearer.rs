//! Bearer tokens through the auth layer: WhoAmI and AdminService.SearchDirectory with tokens
//! from the real provider and callers from the real Samba DC.

use jitroles_proto::v1::{self as pb, role_service_client::RoleServiceClient};
use jitroles_server::Running;
use serde_json::json;
use tonic::{Code, Request};

use crate::{
    oidc::{PERSON_CLIENT, Provider, real_now},
    stack::directory_and_provider,
};

struct Stack {
    running: Running,
    op: Provider,
    _dir: tempfile::TempDir,
}

/// The server configured for the test DC and provider, with ci-bot mapped to svc-ci
/// (or to nothing, when `map_ci_bot` is false).
async fn stack(map_ci_bot: bool) -> Option<Stack> {
    stack_with(map_ci_bot, |_| {}).await
}

/// [`stack`] with `configure` applied to the settings last.
async fn stack_with(
    map_ci_bot: bool,
    configure: impl FnOnce(&mut jitroles_server::config::Config),
) -> Option<Stack> {
    let dir = tempfile::tempdir().unwrap();
    let (mut config, op) = directory_and_provider(dir.path())?;
    if !map_ci_bot {
        config.oidc.as_mut().unwrap().service_accounts.clear();
    }
    configure(&mut config);
    let running = jitroles_server::start(&config).await.unwrap();
    Some(Stack {
        running,
        op,
        _dir: dir,
    })
}

impl Stack {
    async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Channel::from_shared(format!("http://{}", self.running.addr()))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    async fn who(&self, bearer: Option<&str>) -> Result<pb::WhoAmIResponse, tonic::Status> {
        RoleServiceClient::new(self.channel().await)
            .who_am_i(with_bearer(pb::WhoAmIRequest {}, bearer))
            .await
            .map(tonic::Response::into_inner)
    }

    async fn search(
        &self,
        bearer: Option<&str>,
        ask: pb::SearchDirectoryRequest,
    ) -> Result<pb::SearchDirectoryResponse, tonic::Status> {
        pb::admin_service_client::AdminServiceClient::new(self.channel().await)
            .search_directory(with_bearer(ask, bearer))
            .await
            .map(tonic::Response::into_inner)
    }
}

fn with_bearer<T>(message: T, bearer: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = bearer {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

#[tokio::test]
async fn the_ci_bot_client_credentials_token_over_native_grpc_resolves_to_svc_ci() {
    let Some(stack) = stack(true).await else {
        return;
    };
    let token = stack.op.ci_bot_token().await;

    let me = stack.who(Some(&token)).await.unwrap();

    assert_eq!(me.account_name, "svc-ci");
    assert_eq!(me.authenticated_by, "bearer token of client ci-bot");
    assert!(!me.is_admin);
    assert!(me.sid.starts_with("S-1-5-21-"));
    assert!(
        me.group_count >= 2,
        "dba-oncall and Domain Users at least: {}",
        me.group_count
    );
    stack.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_persons_token_resolves_to_their_account_and_admin_right() {
    let Some(stack) = stack(true).await else {
        return;
    };

    let alice = stack
        .who(Some(&stack.op.person_token("alice")))
        .await
        .unwrap();
    let dave = stack
        .who(Some(&stack.op.person_token("dave")))
        .await
        .unwrap();

    assert_eq!(
        (alice.account_name.as_str(), alice.is_admin),
        ("alice", true)
    );
    assert_eq!(alice.display_name, "Alice Admin");
    assert_eq!((dave.account_name.as_str(), dave.is_admin), ("dave", false));
    stack.running.shutdown().await.unwrap();
}

/// How long `who` takes to reach `want` (polled every 100 ms, for up to 10 s).
async fn time_until(stack: &Stack, token: &str, want: Code) -> std::time::Duration {
    let started = std::time::Instant::now();
    loop {
        let got = match stack.who(Some(token)).await {
            Ok(_) => Code::Ok,
            Err(status) => status.code(),
        };
        if got == want || started.elapsed() > std::time::Duration::from_secs(10) {
            return started.elapsed();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn disabling_and_re_enabling_an_account_take_effect_within_the_caller_cache_lifetime() {
    let Some(samba) = crate::samba::Samba::up() else {
        return;
    };
    let Some(stack) = stack_with(true, |c| c.access.caller_cache_seconds = Some(2)).await else {
        return;
    };
    // an account of this test's own, disabled; enabled with "no password required", since
    // the provider signs it in, not the DC
    let account = format!("jt{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let dn = format!("CN={account},CN=Users,{}", crate::samba::env("AD_BASE_DN"));
    let uac = |value: u32| {
        assert!(samba.modify(&format!(
            "dn: {dn}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: {value}\n"
        )));
    };
    assert!(samba.modify(&format!(
        "dn: {dn}\nchangetype: add\nobjectClass: user\nsAMAccountName: {account}\n\
         userAccountControl: 546\n"
    )));
    let token = stack.op.person_token(&account);
    let refused = stack.who(Some(&token)).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    // callers keep trying the whole time, as a person retrying does
    uac(544);
    let enabled = time_until(&stack, &token, Code::Ok).await;
    uac(546);
    let disabled = time_until(&stack, &token, Code::PermissionDenied).await;
    samba.modify(&format!("dn: {dn}\nchangetype: delete\n"));
    assert!(
        enabled < std::time::Duration::from_millis(3500),
        "re-enabled after {enabled:?}, with a 2 s caller cache"
    );
    assert!(
        disabled < std::time::Duration::from_millis(3500),
        "disabled after {disabled:?}, with a 2 s caller cache"
    );
    stack.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn callers_without_a_usable_identity_are_refused_with_the_reason() {
    let Some(stack) = stack(true).await else {
        return;
    };
    let expect = |result: Result<pb::WhoAmIResponse, tonic::Status>, code: Code, text: &str| {
        let status = result.unwrap_err();
        assert_eq!(status.code(), code, "{status:?}");
        assert!(
            status.message().contains(text),
            "{:?} lacks {text:?}",
            status.message()
        );
    };

    expect(
        stack.who(None).await,
        Code::Unauthenticated,
        "sign in first",
    );
    let good = stack.op.ci_bot_token().await;
    // one character in the middle of the signature changed
    let at = good.rfind('.').unwrap() + 20;
    let swapped = if &good[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{swapped}{}", &good[..at], &good[at + 1..]);
    expect(
        stack.who(Some(&forged)).await,
        Code::Unauthenticated,
        "signature",
    );
    expect(
        stack.who(Some("not-a-jwt")).await,
        Code::Unauthenticated,
        "not a well-formed JWT",
    );
    expect(
        stack.who(Some(&stack.op.person_token("erin"))).await,
        Code::PermissionDenied,
        "disabled",
    );
    expect(
        stack.who(Some(&stack.op.person_token("nobody"))).await,
        Code::Unauthenticated,
        "no directory account nobody",
    );
    stack.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_client_with_no_account_mapping_is_refused() {
    let Some(stack) = stack(false).await else {
        return;
    };
    let token = stack.op.ci_bot_token().await;
    let status = stack.who(Some(&token)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(
        status.message().contains("client ci-bot is not mapped"),
        "{}",
        status.message()
    );
    stack.running.shutdown().await.unwrap();
}

fn ask(query: &str, kind: pb::DirectoryObjectKind, page_size: u32) -> pb::SearchDirectoryRequest {
    pb::SearchDirectoryRequest {
        query: query.into(),
        kind: kind.into(),
        page_size,
    }
}

#[tokio::test]
async fn an_admin_searches_the_directory_for_the_pickers() {
    let Some(stack) = stack(true).await else {
        return;
    };
    let alice = stack.op.person_token("alice");

    let groups = stack
        .search(Some(&alice), ask("dba", pb::DirectoryObjectKind::Group, 0))
        .await
        .unwrap();
    let names: Vec<&str> = groups
        .entries
        .iter()
        .map(|e| e.account_name.as_str())
        .collect();
    assert_eq!(names, ["dba-approvers", "dba-oncall", "dba-team"]);
    assert!(
        groups
            .entries
            .iter()
            .all(|e| e.kind() == pb::DirectoryObjectKind::Group && e.sid.starts_with("S-1-5-21-"))
    );

    let erin = stack
        .search(Some(&alice), ask("erin", pb::DirectoryObjectKind::User, 0))
        .await
        .unwrap();
    assert!(
        matches!(erin.entries.as_slice(), [e] if e.disabled && e.display_name == "Erin Disabled")
    );

    let bounded = stack
        .search(
            Some(&alice),
            ask("", pb::DirectoryObjectKind::Unspecified, 2),
        )
        .await
        .unwrap();
    assert_eq!(bounded.entries.len(), 2);
    assert!(bounded.more);
    let capped = stack
        .search(
            Some(&alice),
            ask("", pb::DirectoryObjectKind::Unspecified, 100_000),
        )
        .await
        .unwrap();
    assert!(capped.entries.len() <= 100);
    stack.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn non_admins_and_bad_queries_are_refused() {
    let Some(stack) = stack(true).await else {
        return;
    };
    let dba = || ask("dba", pb::DirectoryObjectKind::Group, 0);

    let bob = stack
        .search(Some(&stack.op.person_token("bob")), dba())
        .await
        .unwrap_err();
    assert_eq!(bob.code(), Code::PermissionDenied);
    assert!(
        bob.message()
            .contains("bob is not a jitroles administrator"),
        "{}",
        bob.message()
    );
    let service = stack
        .search(Some(&stack.op.ci_bot_token().await), dba())
        .await
        .unwrap_err();
    assert_eq!(service.code(), Code::PermissionDenied);
    let anonymous = stack.search(None, dba()).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    let alice = stack.op.person_token("alice");
    let control = stack
        .search(
            Some(&alice),
            ask("dba\0", pb::DirectoryObjectKind::Group, 0),
        )
        .await
        .unwrap_err();
    assert_eq!(control.code(), Code::InvalidArgument);
    assert!(
        control.message().contains("control characters"),
        "{}",
        control.message()
    );
    let long = stack
        .search(
            Some(&alice),
            ask(&"a".repeat(300), pb::DirectoryObjectKind::Group, 0),
        )
        .await
        .unwrap_err();
    assert_eq!(long.code(), Code::InvalidArgument);
    stack.running.shutdown().await.unwrap();
}

/// `account`'s token as `client` would get it from the provider (`client_id`, or `azp` when
/// `by_azp`).
fn persons_token_of(op: &Provider, account: &str, client: Option<&str>, by_azp: bool) -> String {
    let mut claims = op.claims(real_now());
    let object = claims.as_object_mut().unwrap();
    object.remove("client_id");
    object.insert("sub".into(), json!(account));
    object.insert("preferred_username".into(), json!(account));
    if let Some(client) = client {
        object.insert(
            (if by_azp { "azp" } else { "client_id" }).into(),
            json!(client),
        );
    }
    op.sign(&claims)
}

#[tokio::test]
async fn a_persons_token_counts_only_from_an_allowed_client() {
    let Some(stack) = stack(true).await else {
        return;
    };
    let op = &stack.op;

    let refused = stack
        .who(Some(&persons_token_of(op, "dave", Some("portal"), false)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(
        refused.message().contains("client portal")
            && refused.message().contains("oidc.allowed_clients"),
        "{refused:?}"
    );
    let nameless = stack
        .who(Some(&persons_token_of(op, "dave", None, false)))
        .await
        .unwrap_err();
    assert_eq!(nameless.code(), Code::Unauthenticated);
    assert!(
        nameless.message().contains("names no client"),
        "{nameless:?}"
    );

    for by_azp in [false, true] {
        let token = persons_token_of(op, "dave", Some(PERSON_CLIENT), by_azp);
        assert_eq!(stack.who(Some(&token)).await.unwrap().account_name, "dave");
    }
    stack.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_client_credentials_token_that_also_names_a_person_is_refused() {
    let Some(stack) = stack(true).await else {
        return;
    };
    // ci-bot's own token (sub = client_id, RFC 9068), with alice's name added to it
    let mut claims = stack.op.claims(real_now());
    claims["preferred_username"] = json!("alice");
    let status = stack.who(Some(&stack.op.sign(&claims))).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(
        status
            .message()
            .contains("client-credentials token of client ci-bot")
            && status.message().contains("alice"),
        "{status:?}"
    );
    // the same for a provider that marks such tokens (Auth0's gty), whatever its sub
    let mut marked = stack.op.claims(real_now());
    marked["sub"] = json!("alice");
    marked["gty"] = json!("client-credentials");
    marked["preferred_username"] = json!("alice");
    let status = stack.who(Some(&stack.op.sign(&marked))).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    stack.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_id_token_sent_as_a_bearer_token_is_refused() {
    let Some(stack) = stack(true).await else {
        return;
    };
    let op = &stack.op;
    let mut id_token = op.claims(real_now());
    let object = id_token.as_object_mut().unwrap();
    object.remove("client_id");
    object.insert("sub".into(), json!("dave"));
    object.insert("preferred_username".into(), json!("dave"));
    object.insert("azp".into(), json!(PERSON_CLIENT));
    object.insert("nonce".into(), json!("n-0S6_WzA2Mj"));
    for token in [
        op.sign(&id_token),
        op.sign_typed(&id_token, Some("JWT"), &op.kid),
    ] {
        let status = stack.who(Some(&token)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert!(
            status.message().contains("not an access token"),
            "{status:?}"
        );
    }
    id_token.as_object_mut().unwrap().remove("nonce");
    let status = stack
        .who(Some(&op.sign_typed(&id_token, Some("JWT"), &op.kid)))
        .await
        .unwrap_err();
    assert!(status.message().contains("not at+jwt"), "{status:?}");
    stack.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_configuration_whose_audience_is_the_browser_client_is_refused_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut config, _op)) = directory_and_provider(dir.path()) else {
        return;
    };
    let oidc = config.oidc.as_mut().unwrap();
    oidc.client_id = Some(oidc.audience.clone());
    oidc.client_secret = Some("secret".to_owned().into());
    let Err(err) = jitroles_server::start(&config).await else {
        panic!("the server started with oidc.audience = oidc.client_id");
    };
    assert!(
        err.to_string()
            .contains("oidc.audience must not equal oidc.client_id"),
        "{err:#}"
    );
}
