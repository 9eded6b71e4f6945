//! The sign-in provider as the browser flow sees it: its discovery document and keys, cached,
//! read once at a time and again (bounded) when an ID token names a key they lack.

use std::{sync::Arc, time::Duration};

use jitroles_domain::secret::Secret;
use openidconnect::{
    ClientId, ClientSecret, EndSessionUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IssuerUrl, ProviderMetadataWithLogout, RedirectUrl, core::CoreClient,
};
use tokio::time::Instant;

use super::browser::BrowserSettings;

pub(super) type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The provider, as its discovery document describes it.
pub(super) struct Provider {
    pub client: OidcClient,
    pub end_session: Option<EndSessionUrl>,
}

/// Least time between two readings of the provider's discovery document and keys caused by an
/// ID token whose key they lack (the same bound as the bearer tokens' JWKS).
pub const PROVIDER_REFRESH: Duration = Duration::from_secs(30);
/// Least time between two attempts to discover a provider that has not answered yet, so a
/// flood of `/auth/login` during an outage is not passed on to the provider.
const DISCOVERY_RETRY: Duration = Duration::from_secs(1);

/// The provider as last discovered, the last failed discovery (when it ended, why), and when
/// the provider was last read again for a key it lacked.
#[derive(Default)]
struct Discovered {
    provider: Option<Arc<Provider>>,
    failed: Option<(Instant, String)>,
    last_refresh: Option<Instant>,
}

/// The provider's discovery document and keys, read on first need and again when an ID token
/// names a key they lack; one reading at a time, the others wait for its outcome.
pub(super) struct Providers {
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: Secret,
    redirect: RedirectUrl,
    http: reqwest::Client,
    discovered: std::sync::Mutex<Discovered>,
    /// Held by the one discovery under way.
    discovering: tokio::sync::Mutex<()>,
}

impl Providers {
    pub fn new(settings: &BrowserSettings, http: reqwest::Client) -> anyhow::Result<Self> {
        Ok(Self {
            issuer: IssuerUrl::new(settings.issuer.clone())
                .map_err(|e| anyhow::anyhow!("oidc.issuer is not a URL: {e}"))?,
            client_id: ClientId::new(settings.client_id.clone()),
            client_secret: settings.client_secret.clone(),
            redirect: RedirectUrl::new(format!("{}/auth/callback", settings.public_url))
                .map_err(|e| anyhow::anyhow!("the callback URL is not valid: {e}"))?,
            http,
            discovered: std::sync::Mutex::new(Discovered::default()),
            discovering: tokio::sync::Mutex::new(()),
        })
    }

    fn discovered(&self) -> std::sync::MutexGuard<'_, Discovered> {
        self.discovered
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The provider as discovered, discovering it on first need (at most once per
    /// [`DISCOVERY_RETRY`] while it does not answer).
    pub async fn current(&self) -> Result<Arc<Provider>, String> {
        if let Some(provider) = &self.discovered().provider {
            return Ok(provider.clone());
        }
        let _flight = self.discovering.lock().await;
        {
            let discovered = self.discovered();
            if let Some(provider) = &discovered.provider {
                return Ok(provider.clone());
            }
            if let Some((at, error)) = &discovered.failed
                && at.elapsed() < DISCOVERY_RETRY
            {
                return Err(error.clone());
            }
        }
        self.discover().await
    }

    /// The provider read again because `stale` lacked an ID token's key: `None` when it was read
    /// again for that reason less than [`PROVIDER_REFRESH`] ago (or cannot be read now), so
    /// made-up keys cannot make jitroles fetch more often.
    pub async fn refreshed(&self, stale: &Arc<Provider>) -> Option<Arc<Provider>> {
        let _flight = self.discovering.lock().await;
        {
            let discovered = self.discovered();
            match &discovered.provider {
                // refreshed while this caller waited
                Some(current) if !Arc::ptr_eq(current, stale) => return Some(current.clone()),
                _ => {}
            }
            if discovered
                .last_refresh
                .is_some_and(|at| at.elapsed() < PROVIDER_REFRESH)
            {
                return None;
            }
        }
        self.discovered().last_refresh = Some(Instant::now());
        self.discover().await.ok()
    }

    /// Reads the discovery document and keys; call with `discovering` held.
    async fn discover(&self) -> Result<Arc<Provider>, String> {
        let outcome = self.read_provider().await;
        let mut discovered = self.discovered();
        match outcome {
            Ok(provider) => {
                let provider = Arc::new(provider);
                discovered.provider = Some(provider.clone());
                discovered.failed = None;
                Ok(provider)
            }
            Err(e) => {
                // counted from the end: a discovery that hung for its whole timeout must not
                // let every caller queued behind it discover again in turn
                discovered.failed = Some((Instant::now(), e.clone()));
                Err(e)
            }
        }
    }

    async fn read_provider(&self) -> Result<Provider, String> {
        let metadata = ProviderMetadataWithLogout::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| format!("the sign-in provider cannot be reached: {e}"))?;
        let end_session = metadata.additional_metadata().end_session_endpoint.clone();
        let client = CoreClient::from_provider_metadata(
            metadata,
            self.client_id.clone(),
            Some(ClientSecret::new(self.client_secret.expose().to_owned())),
        )
        .set_redirect_uri(self.redirect.clone());
        Ok(Provider {
            client,
            end_session,
        })
    }
}
