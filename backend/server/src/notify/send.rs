//! Sending: mail over SMTP (lettre, rustls) and webhooks over HTTP (reqwest), each bounded by
//! a timeout. Errors come back as sentences for the admin pages, never as a panic.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};

use hmac::{Hmac, Mac};
use jitroles_domain::notify::{Email, SecretSource, SmtpTls, Webhook};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
    transport::smtp::{
        authentication::Credentials,
        client::{Certificate, Tls, TlsParameters},
    },
};
use sha2::Sha256;

use super::{
    network::{Network, Resolver},
    template::Mail,
};
use crate::config::NotificationsSection;

/// How long one delivery may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
pub const SIGNATURE_HEADER: &str = "x-jitroles-signature";
pub const TIMESTAMP_HEADER: &str = "x-jitroles-timestamp";
/// The most of a failed webhook's reply that is read (the excerpt shown is shorter).
const MAX_REPLY_READ: usize = 1024;
/// Characters of a failed webhook's reply shown on the Deliveries page.
const REPLY_EXCERPT: usize = 200;

/// Environment variables a channel may read its secret from start with this, so a channel
/// cannot send the server's own secrets (its directory password, say) anywhere.
pub const SECRET_ENV_PREFIX: &str = "JITROLES_NOTIFY_";

/// `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" under key>`: the timestamp (Unix seconds,
/// sent as `X-Jitroles-Timestamp`) is signed with the body, so a receiver can refuse replays.
pub fn signature(key: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The name of a secret reference in `notifications.secret_hosts`: `file:PATH` or `env:NAME`.
pub fn reference(source: &SecretSource) -> String {
    match source {
        SecretSource::File(path) => format!("file:{path}"),
        SecretSource::Env(name) => format!("env:{name}"),
    }
}

/// How the server reaches out: extra CA certificates (PEM) it trusts for SMTP and webhooks,
/// the one folder channel secrets may be read from, the hosts each secret may be sent to, and
/// the addresses nothing is sent to.
#[derive(Clone, Default)]
pub struct Outbound {
    pem: Vec<u8>,
    secrets_dir: Option<std::path::PathBuf>,
    secret_hosts: BTreeMap<String, Vec<String>>,
    network: Arc<Network>,
}

impl Outbound {
    pub fn new(settings: &NotificationsSection) -> anyhow::Result<Self> {
        let pem = match &settings.ca_file {
            Some(p) => std::fs::read(p)
                .map_err(|e| anyhow::anyhow!("notifications.ca_file {}: {e}", p.display()))?,
            None => Vec::new(),
        };
        let secrets_dir = settings
            .secrets_dir
            .as_ref()
            .map(|d| {
                d.canonicalize()
                    .map_err(|e| anyhow::anyhow!("notifications.secrets_dir {}: {e}", d.display()))
            })
            .transpose()?;
        for key in settings.secret_hosts.keys() {
            anyhow::ensure!(
                key.starts_with("file:") || key.starts_with("env:"),
                "notifications.secret_hosts: {key:?} is not a secret reference \
                 (file:/path/to/secret or env:JITROLES_NOTIFY_NAME)"
            );
        }
        let secret_hosts = settings
            .secret_hosts
            .iter()
            .map(|(k, hosts)| (k.clone(), hosts.iter().map(|h| h.to_lowercase()).collect()))
            .collect();
        Ok(Self {
            pem,
            secrets_dir,
            secret_hosts,
            network: Arc::new(
                Network::new(&settings.allowed_networks).map_err(anyhow::Error::msg)?,
            ),
        })
    }

    /// Why a channel may not use `source` to reach `host`, if it may not: files only from
    /// `notifications.secrets_dir`, variables only named `JITROLES_NOTIFY_…`, and only to the
    /// hosts `notifications.secret_hosts` binds the secret to (when it names the secret).
    pub fn refuses(&self, source: &SecretSource, host: &str) -> Option<String> {
        let refused = match source {
            SecretSource::Env(name) if !name.starts_with(SECRET_ENV_PREFIX) => Some(format!(
                "a channel's secret comes from a variable named {SECRET_ENV_PREFIX}…, not {name}"
            )),
            SecretSource::File(path) => {
                let Some(dir) = &self.secrets_dir else {
                    return Some(
                        "secret files need notifications.secrets_dir in the server's configuration"
                            .into(),
                    );
                };
                let inside = std::path::Path::new(path).canonicalize().map_or_else(
                    // not there (yet): judge the path as written
                    |_| {
                        std::path::Path::new(path).starts_with(dir)
                            && !path.split('/').any(|part| part == "..")
                    },
                    |real| real.starts_with(dir),
                );
                (!inside).then(|| format!("secret files must be in {}", dir.display()))
            }
            SecretSource::Env(_) => None,
        };
        refused.or_else(|| {
            let key = reference(source);
            let hosts = self.secret_hosts.get(&key)?;
            let host = host.to_lowercase();
            (!hosts.contains(&host)).then(|| {
                format!(
                    "the secret {key} may only be sent to {} (notifications.secret_hosts), not {host}",
                    hosts.join(", ")
                )
            })
        })
    }

    /// A secret from its source (a file's trailing newline trimmed), to be sent to `host`.
    pub fn secret(&self, source: &SecretSource, host: &str) -> Result<String, String> {
        if let Some(why) = self.refuses(source, host) {
            return Err(why);
        }
        match source {
            SecretSource::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
                .map_err(|e| format!("the secret file {path} cannot be read: {e}")),
            SecretSource::Env(name) => std::env::var(name)
                .map_err(|_| format!("the environment variable {name} is not set on the server")),
        }
    }

    /// The addresses nothing is sent to.
    pub fn network(&self) -> &Network {
        &self.network
    }

    pub fn http_client(&self) -> anyhow::Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(Resolver(self.network.clone())))
            .user_agent(concat!("jitroles/", env!("CARGO_PKG_VERSION")));
        if !self.pem.is_empty() {
            for cert in reqwest::Certificate::from_pem_bundle(&self.pem)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(builder.build()?)
    }
}

/// The host of a webhook URL, or why it has none jitroles sends to: a literal address is
/// judged here, since the HTTP client resolves only names.
pub fn webhook_host(url: &str, network: &Network) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{url:?} is not an http or https URL"));
    }
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Err(format!("{url:?} names no host"));
    };
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    match literal.parse().ok().and_then(|ip| network.refuses(ip)) {
        Some(why) => Err(why),
        None => Ok(host.to_owned()),
    }
}

/// Parses a mailbox ("Name <a@b>" or "a@b").
pub fn mailbox(field: &str, value: &str) -> Result<Mailbox, String> {
    value
        .parse::<Mailbox>()
        .map_err(|e| format!("{field}: {value:?} is not a mail address ({e})"))
}

pub async fn email(
    e: &Email,
    outbound: &Outbound,
    to: &[String],
    mail: &Mail,
) -> Result<String, String> {
    let mut builder = Message::builder()
        .from(mailbox("sender", &e.sender)?)
        .subject(mail.subject.clone());
    for address in to {
        builder = builder.to(mailbox("recipient", address)?);
    }
    let message = builder
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| format!("the mail cannot be built: {e}"))?;
    let tls = || {
        let mut params = TlsParameters::builder(e.host.clone());
        if !outbound.pem.is_empty() {
            let cert = Certificate::from_pem(&outbound.pem)
                .map_err(|err| format!("notifications.ca_file: {err}"))?;
            params = params.add_root_certificate(cert);
        }
        params
            .build_rustls()
            .map_err(|err| format!("TLS settings: {err}"))
    };
    // connect to an address that passed, never to what a second lookup might say
    let address = outbound
        .network
        .resolve(&e.host, e.port)
        .await?
        .first()
        .map(|a| a.ip().to_string())
        .ok_or_else(|| format!("{} has no address", e.host))?;
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address)
        .port(e.port)
        .timeout(Some(TIMEOUT))
        .tls(match e.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(tls()?),
            SmtpTls::Implicit => Tls::Wrapper(tls()?),
        });
    if let Some(source) = &e.password {
        transport = transport.credentials(Credentials::new(
            e.username.clone(),
            outbound.secret(source, &e.host)?,
        ));
    }
    let sent = tokio::time::timeout(TIMEOUT, transport.build().send(message))
        .await
        .map_err(|_| format!("{}:{} did not answer within {TIMEOUT:?}", e.host, e.port))?
        .map_err(|err| format!("SMTP {}:{}: {err}", e.host, e.port))?;
    Ok(format!("accepted: {}", sent.code()))
}

pub async fn webhook(
    w: &Webhook,
    outbound: &Outbound,
    http: &reqwest::Client,
    delivery: &str,
    event: &str,
    at: DateTime<Utc>,
    body: String,
) -> Result<String, String> {
    let host = webhook_host(&w.url, &outbound.network)?;
    let timestamp = at.timestamp();
    let mut request = http
        .post(&w.url)
        .header("content-type", "application/json")
        .header("x-jitroles-event", event)
        .header("x-jitroles-delivery", delivery)
        .header(TIMESTAMP_HEADER, timestamp);
    for (name, value) in &w.headers {
        request = request.header(name, value);
    }
    if let Some(source) = &w.signing_secret {
        let key = outbound.secret(source, &host)?;
        request = request.header(
            SIGNATURE_HEADER,
            signature(key.as_bytes(), timestamp, body.as_bytes()),
        );
    }
    let site = site(&w.url);
    let mut response = request.body(body).send().await.map_err(|e| {
        let why = if e.is_timeout() {
            "did not answer in time".to_owned()
        } else if e.is_connect() {
            format!("cannot be reached ({})", root_cause(&e))
        } else {
            root_cause(&e)
        };
        format!("{site}: {why}")
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(format!("HTTP {status}"));
    }
    // the start of the reply, never all of it
    let mut reply = Vec::new();
    while reply.len() < MAX_REPLY_READ {
        match response.chunk().await {
            Ok(Some(chunk)) => reply.extend_from_slice(&chunk),
            _ => break,
        }
    }
    reply.truncate(MAX_REPLY_READ);
    let excerpt: String = String::from_utf8_lossy(&reply)
        .chars()
        .take(REPLY_EXCERPT)
        .collect();
    Err(format!("{site} answered HTTP {status}: {excerpt}"))
}

/// `scheme://host[:port]` of `url`: what errors and logs may show (Slack and Teams put their
/// credentials in the path and query).
fn site(url: &str) -> String {
    reqwest::Url::parse(url).map_or_else(
        |_| "the webhook URL".into(),
        |u| {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!(
                "{}://{}{port}",
                u.scheme(),
                u.host_str().unwrap_or_default()
            )
        },
    )
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "hooks.example.test";

    fn outbound(secrets_dir: Option<&std::path::Path>) -> Outbound {
        Outbound::new(&NotificationsSection {
            secrets_dir: secrets_dir.map(Into::into),
            ..NotificationsSection::default()
        })
        .unwrap()
    }

    #[test]
    fn secrets_come_only_from_the_secrets_folder_or_jitroles_notify_variables() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("smtp");
        std::fs::write(&inside, "pw\n").unwrap();
        let none = outbound(None);
        let file = SecretSource::File(inside.display().to_string());
        assert!(none.refuses(&file, HOST).is_some(), "no folder configured");
        let with_dir = outbound(Some(dir.path()));
        assert_eq!(with_dir.secret(&file, HOST).unwrap(), "pw");
        let escape = format!("{}/../etc/passwd", dir.path().display());
        for refused in [
            SecretSource::File(escape),
            SecretSource::File("/proc/self/environ".into()),
            SecretSource::Env("JITROLES_DIRECTORY_BIND_PASSWORD".into()),
        ] {
            assert!(with_dir.refuses(&refused, HOST).is_some(), "{refused:?}");
        }
        let variable = SecretSource::Env("JITROLES_NOTIFY_SMTP".into());
        assert_eq!(with_dir.refuses(&variable, HOST), None);
    }

    #[test]
    fn a_secret_bound_to_hosts_is_sent_only_to_them() {
        let bound = Outbound::new(&NotificationsSection {
            secret_hosts: [(
                "env:JITROLES_NOTIFY_SLACK".to_owned(),
                vec!["Hooks.Slack.com".to_owned()],
            )]
            .into(),
            ..NotificationsSection::default()
        })
        .unwrap();
        let slack = SecretSource::Env("JITROLES_NOTIFY_SLACK".into());
        assert_eq!(bound.refuses(&slack, "hooks.slack.com"), None);
        let elsewhere = bound.refuses(&slack, "attacker.example").unwrap();
        assert!(
            elsewhere.contains("may only be sent to hooks.slack.com"),
            "{elsewhere}"
        );
        assert!(bound.secret(&slack, "attacker.example").is_err());
        // a secret the setting does not name goes where its channel says
        let other = SecretSource::Env("JITROLES_NOTIFY_OTHER".into());
        assert_eq!(bound.refuses(&other, "attacker.example"), None);
        let typo = Outbound::new(&NotificationsSection {
            secret_hosts: [("JITROLES_NOTIFY_SLACK".to_owned(), vec![])].into(),
            ..NotificationsSection::default()
        });
        assert!(
            typo.is_err(),
            "a key that is not a reference is refused at start"
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body_in_hex() {
        // python3: hmac.new(b"Jefe", b"1700000000.what do ya want for nothing?", sha256)
        assert_eq!(
            signature(b"Jefe", 1_700_000_000, b"what do ya want for nothing?"),
            "sha256=1cdd0650c8be1cb0974b1788d458b1e781206cfef59b85faafc582d2e182c57e"
        );
    }

    #[test]
    fn webhook_urls_at_refused_addresses_are_refused_in_every_spelling() {
        let network = Network::default();
        for refused in [
            "http://127.0.0.1/x",
            "http://2130706433/x",
            "http://0x7f.1/x",
            "http://[::1]:8080/x",
            "http://[::ffff:169.254.169.254]/latest",
            "http://169.254.169.254/latest/meta-data",
            "http://0.0.0.0:22/",
        ] {
            assert!(webhook_host(refused, &network).is_err(), "{refused}");
        }
        assert!(webhook_host("file:///etc/passwd", &network).is_err());
        assert_eq!(
            webhook_host("https://Hooks.Slack.com/services/x", &network).unwrap(),
            "hooks.slack.com"
        );
    }
}
