//! The DC cut off mid-test through an in-test TCP proxy (the shared DC keeps running for the
//! tests beside this one), then restored: operations fail cleanly, then recover by themselves.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use jitroles_directory::ActiveDirectory;
use jitroles_domain::{
    DomainError,
    directory::{Directory, UserLookup},
};
use tokio::{net::TcpListener, sync::Mutex, task::JoinHandle};

use crate::support::ad;

struct Proxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let links = Arc::new(Mutex::new(Vec::new()));
        let (o, l) = (open.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !o.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is closed at once
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                l.lock().await.push(link);
            }
        });
        Self { addr, open, links }
    }

    /// Drops every connection and refuses new ones.
    async fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self.links.lock().await.drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn operations_fail_cleanly_while_the_dc_is_cut_off_and_recover_after() {
    let Some(ad) = ad() else { return };
    let upstream: SocketAddr = ad.ldaps_url.trim_start_matches("ldaps://").parse().unwrap();
    let proxy = Proxy::start(upstream).await;
    let mut config = ad.config();
    config.url = format!("ldaps://{}", proxy.addr);
    config.timeout = Duration::from_secs(2);
    config.retries = 1;
    let dir = ActiveDirectory::new(config).unwrap();
    let scratch = ad.scratch_group("outage").await;
    let bob = ad.user("bob").await;
    let dave = UserLookup::SamAccountName("dave".into());
    assert!(dir.find_user(&dave).await.unwrap().is_some());

    proxy.cut().await;
    let started = std::time::Instant::now();
    let lookup = dir.find_user(&dave).await;
    let add = dir.add_member(&scratch.group.dn, &bob.sid, None).await;

    assert!(
        matches!(lookup, Err(DomainError::Unavailable(_))),
        "{lookup:?}"
    );
    assert!(matches!(add, Err(DomainError::Unavailable(_))), "{add:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "failed promptly: {:?}",
        started.elapsed()
    );
    assert!(
        ad.members_seen_by_admin(&scratch.group.dn).await.is_empty(),
        "nothing written"
    );

    proxy.restore();
    assert!(
        dir.find_user(&dave).await.unwrap().is_some(),
        "recovered without a restart"
    );
    assert_eq!(
        dir.add_member(&scratch.group.dn, &bob.sid, None)
            .await
            .unwrap(),
        jitroles_domain::directory::MembershipChange::Changed
    );
    scratch.delete().await;
}
