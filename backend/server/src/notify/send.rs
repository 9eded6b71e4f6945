//! Sending: mail over SMTP (lettre, rustls) and webhooks over HTTP (reqwest), each bounded by
//! a timeout. Errors come back as sentences for the admin pages, never as a panic.

use std::time::Duration;

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

use super::template::Mail;

/// How long one delivery may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
pub const SIGNATURE_HEADER: &str = "x-jitroles-signature";

/// Environment variables a channel may read its secret from start with this, so a channel
/// cannot send the server's own secrets (its directory password, say) anywhere.
pub const SECRET_ENV_PREFIX: &str = "JITROLES_NOTIFY_";

/// `sha256=<hex HMAC-SHA256 of body under key>`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// How the server reaches out: extra CA certificates (PEM) it trusts for SMTP and webhooks,
/// and the one folder channel secrets may be read from.
#[derive(Clone, Default)]
pub struct Outbound {
    pem: Vec<u8>,
    secrets_dir: Option<std::path::PathBuf>,
}

impl Outbound {
    pub fn new(
        ca_file: Option<&std::path::Path>,
        secrets_dir: Option<&std::path::Path>,
    ) -> anyhow::Result<Self> {
        let pem = match ca_file {
            Some(p) => std::fs::read(p)
                .map_err(|e| anyhow::anyhow!("notifications.ca_file {}: {e}", p.display()))?,
            None => Vec::new(),
        };
        let secrets_dir = secrets_dir
            .map(|d| {
                d.canonicalize()
                    .map_err(|e| anyhow::anyhow!("notifications.secrets_dir {}: {e}", d.display()))
            })
            .transpose()?;
        Ok(Self { pem, secrets_dir })
    }

    /// Why a channel may not use `source`, if it may not: files only from
    /// `notifications.secrets_dir`, variables only named `JITROLES_NOTIFY_…`.
    pub fn refuses(&self, source: &SecretSource) -> Option<String> {
        match source {
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
        }
    }

    /// A secret from its source (a file's trailing newline trimmed).
    pub fn secret(&self, source: &SecretSource) -> Result<String, String> {
        if let Some(why) = self.refuses(source) {
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

    pub fn http_client(&self) -> anyhow::Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("jitroles/", env!("CARGO_PKG_VERSION")));
        if !self.pem.is_empty() {
            for cert in reqwest::Certificate::from_pem_bundle(&self.pem)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(builder.build()?)
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
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(e.host.as_str())
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
            outbound.secret(source)?,
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
    body: String,
) -> Result<String, String> {
    let mut request = http
        .post(&w.url)
        .header("content-type", "application/json")
        .header("x-jitroles-event", event)
        .header("x-jitroles-delivery", delivery);
    for (name, value) in &w.headers {
        request = request.header(name, value);
    }
    if let Some(source) = &w.signing_secret {
        request = request.header(
            SIGNATURE_HEADER,
            signature(outbound.secret(source)?.as_bytes(), body.as_bytes()),
        );
    }
    let site = site(&w.url);
    let response = request.body(body).send().await.map_err(|e| {
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
    let text = response.text().await.unwrap_or_default();
    let excerpt: String = text.chars().take(200).collect();
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

    #[test]
    fn secrets_come_only_from_the_secrets_folder_or_jitroles_notify_variables() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("smtp");
        std::fs::write(&inside, "pw\n").unwrap();
        let none = Outbound::new(None, None).unwrap();
        let file = SecretSource::File(inside.display().to_string());
        assert!(none.refuses(&file).is_some(), "no folder configured");
        let with_dir = Outbound::new(None, Some(dir.path())).unwrap();
        assert_eq!(with_dir.secret(&file).unwrap(), "pw");
        let escape = format!("{}/../etc/passwd", dir.path().display());
        assert!(with_dir.refuses(&SecretSource::File(escape)).is_some());
        assert!(
            with_dir
                .refuses(&SecretSource::File("/proc/self/environ".into()))
                .is_some()
        );
        assert!(
            with_dir
                .refuses(&SecretSource::Env(
                    "JITROLES_DIRECTORY_BIND_PASSWORD".into()
                ))
                .is_some()
        );
        assert!(
            with_dir
                .refuses(&SecretSource::Env("JITROLES_NOTIFY_SMTP".into()))
                .is_none()
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body_in_hex() {
        // RFC 4231, test case 2
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
