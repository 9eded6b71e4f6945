//! `rules apply` of 500 rules, against the Samba DC (`scripts/ad up`):
//!
//!     eval "$(scripts/ad up)" && cargo bench -p jitroles-server --bench rules_apply
//!
//! The engine in-process on a fresh SQLite database per round (the product's settings, the
//! real directory adapter), alice as the admin. A file of 500 rules written as a person
//! would (groups and principals by name only: each is looked up), on 5 fresh role groups,
//! each with an ACL of a group, a user and a deny, and every fifth with approvals. Timed:
//! plan (parse, resolve, validate, target checks, compare), apply (the same, then one
//! transaction), export, and the plan and apply of the exported file with one field of one
//! rule changed, whose plan is printed (one line). Three rounds.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark reads the clock

mod support;

use std::{sync::Arc, time::Instant};

use jitroles_directory::ActiveDirectory;
use jitroles_domain::{
    access::{Caller, authorize_admin},
    directory::{Directory, UserLookup, find_group},
};
use jitroles_server::{
    clock::SystemClock,
    grants::{Engine, Leases, Ports, Unobserved},
};

const RULES: usize = 500;
const ROUNDS: usize = 3;

fn groups() -> Vec<String> {
    (0..5).map(|i| format!("jit-bench-rules-{i}")).collect()
}

fn file() -> String {
    let groups = groups();
    let mut text = String::from("rules:\n");
    for i in 0..RULES {
        text.push_str(&format!(
            "- name: Bench rule {i:03}\n  description: rule {i} of the bench\n  group: {{name: {}}}\n  acl:\n  - {{effect: allow, kind: group, name: dba-oncall}}\n  - {{effect: allow, kind: user, name: bob}}\n  - {{effect: deny, kind: user, name: carol}}\n  max_duration: 2h\n  default_duration: 30m\n  justification: required\n",
            groups[i % groups.len()]
        ));
        if i % 5 == 0 {
            text.push_str("  approval:\n    approvers:\n    - {effect: allow, kind: group, name: dba-approvers}\n    required: 1\n    pending_window: 1d\n");
        }
    }
    text
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    support::make_groups(&groups()).await;
    let text = file();
    println!(
        "file: {RULES} rules, {} bytes, {} lines",
        text.len(),
        text.lines().count()
    );
    for round in 1..=ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        let config = support::config(dir.path(), None);
        let ad = Arc::new(
            ActiveDirectory::new(config.directory.as_ref().unwrap().adapter_config()).unwrap(),
        );
        let db = Arc::new(support::fresh_database(&config.data_dir).await);
        let engine = Engine::new(
            Ports {
                rules: db.clone(),
                grants: db.clone(),
                notifications: db.clone(),
                approvals: db.clone(),
                directory: ad.clone(),
                clock: Arc::new(SystemClock),
            },
            Leases {
                holder: "bench".into(),
                length: std::time::Duration::from_secs(30),
                shared_database: false,
            },
            Arc::new(Unobserved),
        );
        let user = ad
            .find_user(&UserLookup::SamAccountName("alice".into()))
            .await
            .unwrap()
            .unwrap();
        let groups_of_alice = ad.token_groups(&user.dn).await.unwrap();
        let alice = Caller::new(user, groups_of_alice);
        let admins = find_group(ad.as_ref(), "jitroles-admins")
            .await
            .unwrap()
            .unwrap();
        let admin = authorize_admin(&alice, &[admins.sid]).unwrap();
        let code = &engine.rules_code;

        let t = Instant::now();
        let planned = code.plan(&admin, &text, false).await.unwrap();
        let plan_ms = ms(t);
        assert_eq!(planned.plan.steps.len(), RULES);
        let t = Instant::now();
        code.apply(&admin, &alice, &text, false).await.unwrap();
        let apply_ms = ms(t);
        let t = Instant::now();
        let exported = code.export(&admin).await.unwrap();
        let export_ms = ms(t);
        let changed = exported.replacen("max_duration: 2h", "max_duration: 3h", 1);
        let t = Instant::now();
        let one = code.plan(&admin, &changed, false).await.unwrap();
        let one_plan_ms = ms(t);
        let t = Instant::now();
        code.apply(&admin, &alice, &changed, false).await.unwrap();
        let one_apply_ms = ms(t);
        println!(
            "round {round}: plan {plan_ms:.0} ms, apply {apply_ms:.0} ms (500 created), export {export_ms:.0} ms, \
             one field changed: plan {one_plan_ms:.0} ms, apply {one_apply_ms:.0} ms"
        );
        if round == 1 {
            println!(
                "the plan of one changed field ({} line):\n{}",
                one.text().lines().count(),
                one.text()
            );
            println!("{}", one.plan.summary());
        }
    }
    support::drop_groups(&groups()).await;
}
