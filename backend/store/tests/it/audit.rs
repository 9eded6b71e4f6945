//! Audit events written on their own (sign-ins, refusals), on SQLite and PostgreSQL alike.

use chrono::{TimeZone, Utc};
use jitroles_domain::{
    audit::{AuditAction, AuditFilter, NewAudit},
    page::PageRequest,
    ports::GrantStore,
};
use jitroles_store::Database;

use crate::databases::{self, TestDb};

async fn a_sign_in_refusal_keeps_its_source_address_and_is_listed_by_action(db: TestDb) {
    let store = Database::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    let event = |action, source: Option<&str>| NewAudit {
        at: Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap(),
        action,
        actor: "bob".into(),
        rule_id: None,
        grant_id: None,
        subject_account: Some("bob".into()),
        detail: "the provider refused the sign-in (access_denied)".into(),
        source: source.map(Into::into),
    };
    store
        .record_audit(event(AuditAction::SignInRefused, Some("2001:db8::7")))
        .await
        .unwrap();
    store
        .record_audit(event(AuditAction::SignedIn, None))
        .await
        .unwrap();
    let filter = AuditFilter {
        action: Some(AuditAction::SignInRefused),
        ..AuditFilter::default()
    };
    let found = store
        .audit_events(&filter, PageRequest::parse(10, "").unwrap())
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(
        found.items[0].event,
        event(AuditAction::SignInRefused, Some("2001:db8::7"))
    );
}

on_both!(a_sign_in_refusal_keeps_its_source_address_and_is_listed_by_action);
