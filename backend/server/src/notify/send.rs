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

/// A secret from its source (a file's trailing newline trimmed).
pub fn secret(source: &SecretSource) -> Result<String, String> {
    match source {
        SecretSource::File(path) => std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
            .map_err(|e| format!("the secret file {path} cannot be read: {e}")),
        SecretSource::Env(name) => std::env::var(name)
            .map_err(|_| format!("the environment variable {name} is not set on the server")),
    }
}

/// `sha256=<hex HMAC-SHA256 of body under key>`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Extra CA certificates (PEM) the server trusts for SMTP and webhooks.
#[derive(Clone, Default)]
pub struct Trust {
    pem: Vec<u8>,
}

impl Trust {
    pub fn from_file(path: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let pem = match path {
            Some(p) => std::fs::read(p)
                .map_err(|e| anyhow::anyhow!("notifications.ca_file {}: {e}", p.display()))?,
            None => Vec::new(),
        };
        Ok(Self { pem })
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

pub async fn email(e: &Email, trust: &Trust, to: &[String], mail: &Mail) -> Result<String, String> {
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
        if !trust.pem.is_empty() {
            let cert = Certificate::from_pem(&trust.pem)
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
        transport = transport.credentials(Credentials::new(e.username.clone(), secret(source)?));
    }
    let sent = tokio::time::timeout(TIMEOUT, transport.build().send(message))
        .await
        .map_err(|_| format!("{}:{} did not answer within {TIMEOUT:?}", e.host, e.port))?
        .map_err(|err| format!("SMTP {}:{}: {err}", e.host, e.port))?;
    Ok(format!("accepted: {}", sent.code()))
}

pub async fn webhook(
    w: &Webhook,
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
            signature(secret(source)?.as_bytes(), body.as_bytes()),
        );
    }
    let response = request.body(body).send().await.map_err(|e| {
        let why = if e.is_timeout() {
            "did not answer in time".to_owned()
        } else if e.is_connect() {
            format!("cannot be reached ({})", root_cause(&e))
        } else {
            root_cause(&e)
        };
        format!("{}: {why}", w.url)
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(format!("HTTP {status}"));
    }
    let text = response.text().await.unwrap_or_default();
    let excerpt: String = text.chars().take(200).collect();
    Err(format!("{} answered HTTP {status}: {excerpt}", w.url))
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
    fn the_signature_is_hmac_sha256_of_the_body_in_hex() {
        // RFC 4231, test case 2
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
