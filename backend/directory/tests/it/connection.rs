use jitroles_directory::{ActiveDirectory, DirectoryConfig, DirectoryError};
use jitroles_domain::{
    DomainError,
    directory::{Directory, UserLookup},
};

use crate::support::ad;

async fn finds_dave(config: DirectoryConfig) -> Result<(), DomainError> {
    let dir = ActiveDirectory::new(config).unwrap();
    let dave = dir
        .find_user(&UserLookup::SamAccountName("dave".into()))
        .await?;
    assert!(dave.is_some());
    Ok(())
}

#[tokio::test]
async fn ldaps_starttls_and_explicitly_allowed_plain_ldap_all_work() {
    let Some(ad) = ad() else { return };
    finds_dave(ad.config()).await.unwrap();

    let mut starttls = ad.config();
    starttls.urls = vec![ad.url.clone()];
    starttls.starttls = true;
    finds_dave(starttls).await.unwrap();

    let mut plain = ad.config();
    plain.urls = vec![ad.url.clone()];
    plain.allow_plain = true;
    finds_dave(plain).await.unwrap();
}

#[tokio::test]
async fn plain_ldap_is_refused_unless_allowed() {
    let Some(ad) = ad() else { return };
    let mut plain = ad.config();
    plain.urls = vec![ad.url.clone()];
    let err = ActiveDirectory::new(plain).err().unwrap();
    assert!(
        matches!(err, DirectoryError::Config(ref m) if m.contains("plain LDAP")),
        "{err}"
    );
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_a_tls_error() {
    let Some(ad) = ad() else { return };
    let mut config = ad.config();
    config.ca_file = Some("/etc/ssl/certs/ca-certificates.crt".into()); // public roots only
    let err = finds_dave(config).await.unwrap_err();
    assert!(
        matches!(&err, DomainError::Unavailable(m) if m.contains("TLS")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_wrong_password_says_the_credentials_were_refused() {
    let Some(ad) = ad() else { return };
    let mut config = ad.config();
    config.bind_password = "wrong".into();
    let err = finds_dave(config).await.unwrap_err();
    assert!(
        matches!(&err, DomainError::Unavailable(m) if m.contains("refused the service account's credentials")),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unreachable_directory_says_so_promptly() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut config = DirectoryConfig::new(format!("ldaps://{closed}"), "CN=x", "y");
    config.retries = 1;
    let started = std::time::Instant::now();
    let err = finds_dave(config).await.unwrap_err();
    assert!(
        matches!(&err, DomainError::Unavailable(m) if m.contains("cannot be reached")),
        "{err:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

#[test]
fn a_missing_ca_file_is_a_configuration_error() {
    let mut config = DirectoryConfig::new("ldaps://127.0.0.1", "CN=x", "y");
    config.ca_file = Some("/nonexistent/ca.pem".into());
    let err = ActiveDirectory::new(config).err().unwrap();
    assert!(
        matches!(err, DirectoryError::Config(ref m) if m.contains("/nonexistent/ca.pem")),
        "{err}"
    );
}
