//! Channels and the outbox: a grant transition writes its notifications in its own
//! transaction; claims are exclusive; an expiring-soon notice is written once.

use chrono::TimeDelta;
use jitroles_domain::{
    DomainError,
    audit::AuditAction,
    grant::{EndReason, Grant, Lease, begin_end},
    notify::{
        Channel, ChannelSpec, DeliveryState, Event, Facts, NewNotification, Preset, Transport,
        Webhook, sent, still_expiring,
    },
    page::PageRequest,
    rule::RoleRule,
};

use std::sync::Arc;

use crate::{
    databases,
    grants::{Stores, audit, grant, open, rule, t0},
};

fn channel(id: &str, lifecycle: Vec<Event>) -> Channel {
    Channel {
        id: id.into(),
        spec: ChannelSpec {
            name: format!("Channel {id}"),
            transport: Transport::Webhook(Webhook {
                url: format!("https://hooks.example.com/{id}"),
                headers: vec![],
                signing_secret: None,
                preset: Preset::Generic,
                template: String::new(),
            }),
            lifecycle,
            expiring_lead: None,
            enabled: true,
        },
        version: 1,
        created_at: t0(),
        updated_at: t0(),
    }
}

async fn pending(store: &Arc<dyn Stores>) -> Vec<(String, Event)> {
    let mut found: Vec<(String, Event)> = store
        .notifications(
            Some(DeliveryState::Pending),
            PageRequest::parse(0, "").unwrap(),
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|n| (n.channel_id, n.event))
        .collect();
    found.sort_by_key(|(channel, event)| (channel.clone(), event.as_str()));
    found
}

async fn grant_transitions_write_their_notifications_to_the_routed_channels(
    store: Arc<dyn Stores>,
) {
    for c in [
        channel("ok", vec![]),
        channel("bad", vec![]),
        Channel {
            spec: ChannelSpec {
                expiring_lead: Some(std::time::Duration::from_secs(300)),
                ..channel("life", vec![Event::ExpiringSoon, Event::Revoked]).spec
            },
            ..channel("life", vec![])
        },
    ] {
        store
            .create_channel(&c, audit(AuditAction::ChannelCreated, None))
            .await
            .unwrap();
    }
    let mut r: RoleRule = rule("r1", "DBA", 2000);
    r.spec.channels.success = vec!["ok".into()];
    r.spec.channels.failure = vec!["bad".into()];
    store
        .create_rule(&r, audit(AuditAction::RuleCreated, None))
        .await
        .unwrap();
    let g = grant("g1", &r, 10);
    store
        .insert_grant(&g, audit(AuditAction::Granted, Some(&g)))
        .await
        .unwrap();
    assert_eq!(
        pending(&store).await,
        [
            ("life".into(), Event::ExpiringSoon),
            ("ok".into(), Event::Granted)
        ]
    );
    assert_eq!(
        store.next_attempt().await.unwrap(),
        Some(t0()),
        "granted: at once"
    );
    let claimed = store
        .claim_due(t0(), t0() + TimeDelta::minutes(30), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "expiring soon: not yet");
    assert_eq!(claimed[0].event, Event::Granted);
    let soon = store
        .claim_due(
            t0() + TimeDelta::minutes(5),
            t0() + TimeDelta::minutes(6),
            10,
        )
        .await
        .unwrap();
    assert_eq!(soon.len(), 1, "the lead before the expiry");
    assert_eq!(soon[0].event, Event::ExpiringSoon);
    let lease = Lease {
        holder: "a".into(),
        until: t0(),
    };
    let ending = begin_end(&g, EndReason::Revoked, lease).unwrap();
    store
        .update_grant(&g, &ending, Some(audit(AuditAction::Revoked, Some(&g))))
        .await
        .unwrap();
    let before = pending(&store).await;
    assert!(
        matches!(
            store
                .update_grant(&g, &ending, Some(audit(AuditAction::Revoked, Some(&g))))
                .await,
            Err(DomainError::Conflict(_))
        ),
        "a stale copy"
    );
    assert_eq!(
        pending(&store).await,
        before,
        "a refused transition writes no notification"
    );
    assert_eq!(
        pending(&store).await,
        [
            ("life".into(), Event::ExpiringSoon),
            ("life".into(), Event::Revoked),
            ("ok".into(), Event::Granted)
        ]
    );
    let n = store
        .notifications(None, PageRequest::parse(0, "").unwrap())
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(n.facts.subject_account, "dave");
    assert_eq!(n.facts.justification, "ticket");
    assert!(matches!(
        store
            .delete_channel("bad", 1, audit(AuditAction::ChannelDeleted, None))
            .await,
        Err(DomainError::FailedPrecondition(_))
    ));
}

async fn extensions_within_one_second_each_schedule_an_expiring_soon_notice_that_holds(
    store: Arc<dyn Stores>,
) {
    let soon = Channel {
        id: uuid::Uuid::new_v4().to_string(),
        ..channel("soon", vec![Event::ExpiringSoon])
    };
    store
        .create_channel(&soon, audit(AuditAction::ChannelCreated, None))
        .await
        .unwrap();
    let r = rule("r1", "DBA", 2000);
    store
        .create_rule(&r, audit(AuditAction::RuleCreated, None))
        .await
        .unwrap();
    // ids as the server makes them, expiries to the microsecond
    let mut g = grant(&uuid::Uuid::new_v4().to_string(), &r, 10);
    g.expires_at += TimeDelta::microseconds(123_456);
    store
        .insert_grant(&g, audit(AuditAction::Granted, Some(&g)))
        .await
        .unwrap();
    let mut current = store.grant(&g.id).await.unwrap().unwrap();
    assert_eq!(current.expires_at, g.expires_at, "microseconds survive");
    for extra in [1, 2] {
        let extended = Grant {
            expires_at: current.expires_at + TimeDelta::microseconds(extra),
            ..current.clone()
        };
        current = store
            .update_grant(
                &current,
                &extended,
                Some(audit(AuditAction::Extended, Some(&current))),
            )
            .await
            .unwrap();
    }
    let notes = store
        .notifications(None, PageRequest::parse(0, "").unwrap())
        .await
        .unwrap()
        .items;
    assert_eq!(notes.len(), 3, "one per expiry");
    let stored = store.grant(&g.id).await.unwrap();
    let holding: Vec<_> = notes
        .iter()
        .filter(|n| still_expiring(&n.facts, stored.as_ref()))
        .collect();
    assert_eq!(
        holding.len(),
        1,
        "only the latest expiry's notice still holds"
    );
    assert_eq!(holding[0].facts.expires_at, Some(current.expires_at));
}

async fn a_due_notification_is_claimed_by_one_instance_until_its_lease_runs_out(
    store: Arc<dyn Stores>,
) {
    store
        .create_channel(
            &channel("c", vec![]),
            audit(AuditAction::ChannelCreated, None),
        )
        .await
        .unwrap();
    let soon = NewNotification {
        id: "n1".into(),
        channel_id: "c".into(),
        event: Event::ExpiringSoon,
        grant_id: "g1".into(),
        facts: Facts::default(),
        dedupe_key: Some("soon:g1:c:1".into()),
        at: t0(),
        due: t0(),
    };
    assert_eq!(store.enqueue(std::slice::from_ref(&soon)).await.unwrap(), 1);
    let again = NewNotification {
        id: "n2".into(),
        ..soon
    };
    assert_eq!(store.enqueue(&[again]).await.unwrap(), 0, "written once");
    let lease = t0() + TimeDelta::seconds(60);
    let claimed = store.claim_due(t0(), lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(
        store.claim_due(t0(), lease, 10).await.unwrap().is_empty(),
        "claimed: nobody else gets it"
    );
    assert_eq!(store.next_attempt().await.unwrap(), Some(lease));
    let stale = store
        .claim_due(lease, lease + TimeDelta::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(stale.len(), 1, "the lease ran out: claimed again");
    assert!(matches!(
        store.record(&claimed[0], &sent(&claimed[0], t0())).await,
        Err(DomainError::Conflict(_))
    ));
    store
        .record(&stale[0], &sent(&stale[0], lease))
        .await
        .unwrap();
    let done = store
        .notifications(
            Some(DeliveryState::Sent),
            PageRequest::parse(0, "").unwrap(),
        )
        .await
        .unwrap()
        .items;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].attempts, 1);
    assert_eq!(store.next_attempt().await.unwrap(), None);
}

on_all!(
    grant_transitions_write_their_notifications_to_the_routed_channels,
    extensions_within_one_second_each_schedule_an_expiring_soon_notice_that_holds,
    a_due_notification_is_claimed_by_one_instance_until_its_lease_runs_out
);
