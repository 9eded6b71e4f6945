//! Property tests of what a requester sends: the duration (from any client, any number) and
//! the justification (free text that ends up in mails, webhooks and the admin pages).

use std::time::Duration;

use chrono::TimeDelta;
use proptest::prelude::*;

use super::{check_justification, extend};
use crate::{
    DomainError,
    grant::{Ask, MAX_JUSTIFICATION_CHARS, fixtures::*},
    rule::{JustificationPolicy, MAX_DURATION},
};

fn field(e: &DomainError) -> &str {
    match e {
        DomainError::Invalid { field, .. } => field,
        _ => "(not invalid)",
    }
}

/// A duration anywhere, with extra weight at the edges that matter: zero, just under and over
/// one second, the rule's maximum, the absolute maximum, and absurd values.
fn duration_near(edges: Vec<Duration>) -> impl Strategy<Value = Duration> {
    let nanos = 0u32..1_000_000_000;
    prop_oneof![
        (any::<u64>(), nanos.clone()).prop_map(|(s, n)| Duration::new(s, n)),
        (0u64..=MAX_DURATION.as_secs() * 2, nanos).prop_map(|(s, n)| Duration::new(s, n)),
        (prop::sample::select(edges), -3i64..=3).prop_map(|(edge, nanos_off)| {
            let n = i128::try_from(edge.as_nanos()).unwrap_or(i128::MAX) + i128::from(nanos_off);
            Duration::from_nanos(u64::try_from(n.max(0)).unwrap_or(u64::MAX))
        }),
    ]
}

fn policy() -> impl Strategy<Value = JustificationPolicy> {
    prop::sample::select(vec![
        JustificationPolicy::Required,
        JustificationPolicy::Optional,
        JustificationPolicy::Hidden,
    ])
}

/// Text a hostile or careless client might send as a justification: any string, runs of
/// whitespace and control characters (terminal escapes, NUL, bidi and zero-width marks), and
/// lengths around the limit.
fn justification() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just(" ".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("\t".to_owned()),
        Just("\0".to_owned()),
        Just("\u{1b}[2J".to_owned()),
        Just("\u{7f}".to_owned()),
        Just("\u{85}".to_owned()),
        Just("\u{a0}".to_owned()),
        Just("\u{202e}".to_owned()),
        Just("\u{200b}".to_owned()),
        Just("<b>\"x\"</b>".to_owned()),
        Just("é".to_owned()),
        Just("🦀".to_owned()),
        "[a-zA-Z0-9 ]{1,20}",
    ];
    prop_oneof![
        any::<String>(),
        prop::collection::vec(piece, 0..40).prop_map(|v| v.concat()),
        (
            MAX_JUSTIFICATION_CHARS - 3..MAX_JUSTIFICATION_CHARS + 3,
            prop::sample::select(vec!['x', 'é', '🦀']),
            "[ \n\t]{0,3}",
        )
            .prop_map(|(n, c, pad)| format!("{pad}{}{pad}", c.to_string().repeat(n))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_request_is_granted_exactly_for_one_second_to_the_rules_maximum(
        (max, asked) in (1u64..=MAX_DURATION.as_secs(), 0u32..1_000_000_000)
            .prop_map(|(s, n)| Duration::new(s, n).min(MAX_DURATION))
            .prop_flat_map(|max| (Just(max), duration_near(vec![
                Duration::ZERO, Duration::from_secs(1), max, MAX_DURATION,
            ]))),
    ) {
        let mut r = rule(JustificationPolicy::Optional);
        r.spec.max_duration = max;
        let ask = Ask { duration: Some(asked), justification: String::new(), client_request_id: None, ..Ask::default() };
        match request(&r, ask, t0()) {
            Ok(g) => {
                prop_assert!(asked >= Duration::from_secs(1) && asked <= max, "{:?} granted", asked);
                prop_assert_eq!(g.expires_at, t0() + TimeDelta::from_std(asked).unwrap());
            }
            Err(e) => {
                prop_assert!(asked < Duration::from_secs(1) || asked > max, "{:?} refused: {:?}", asked, e);
                prop_assert_eq!(field(&e), "duration");
            }
        }
    }

    #[test]
    fn an_extension_never_runs_past_what_was_asked_the_maximum_or_the_total_cap(
        asked in duration_near(vec![Duration::ZERO, Duration::from_secs(1), Duration::from_secs(3600), MAX_DURATION]),
        after_ms in 0i64..600_000,
    ) {
        // the fixture's rule: at most 1 h per request, 2 h in all; the grant ends at t0 + 10 min
        let r = rule(JustificationPolicy::Optional);
        let g = active(&r);
        let now = t0() + TimeDelta::milliseconds(after_ms);
        match extend(&g, &r, Some(asked), now) {
            Ok(e) => {
                prop_assert!(asked >= Duration::from_secs(1) && asked <= r.spec.max_duration);
                prop_assert!(e.expires_at > g.expires_at);
                prop_assert!(e.expires_at <= now + TimeDelta::from_std(asked).unwrap());
                prop_assert!(e.expires_at <= g.requested_at + TimeDelta::hours(2));
                prop_assert_eq!(e.extension_count, g.extension_count + 1);
            }
            Err(DomainError::FailedPrecondition(_)) => {
                // in range, but it would not move the end later
                prop_assert!(now + TimeDelta::from_std(asked).unwrap() <= g.expires_at);
            }
            Err(e) => {
                prop_assert!(asked < Duration::from_secs(1) || asked > r.spec.max_duration, "{:?}", e);
                prop_assert_eq!(field(&e), "duration");
            }
        }
    }

    #[test]
    fn a_kept_justification_is_trimmed_bounded_and_free_of_control_characters(
        text in justification(),
        policy in policy(),
    ) {
        let trimmed = text.trim();
        let printable = !trimmed
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'));
        let fits = trimmed.chars().count() <= MAX_JUSTIFICATION_CHARS;
        match check_justification(&text, policy) {
            Ok(kept) => {
                prop_assert!(printable && fits, "{:?} accepted", text);
                if policy == JustificationPolicy::Hidden {
                    prop_assert_eq!(kept, "");
                } else {
                    prop_assert_eq!(kept.as_str(), trimmed);
                    prop_assert!(policy == JustificationPolicy::Optional || !kept.is_empty());
                }
            }
            Err(e) => {
                prop_assert_eq!(field(&e), "justification");
                // refused only when it is too long, has control characters, or is missing
                let missing = policy == JustificationPolicy::Required && trimmed.is_empty();
                prop_assert!(!printable || !fits || missing, "{:?} refused: {:?}", text, e);
            }
        }
    }
}
