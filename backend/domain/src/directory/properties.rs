//! Property tests of SID parsing: SIDs come from tokens, ACL entries, filters and operators,
//! so no text may panic the parser, and what it keeps is one canonical spelling per principal.

use proptest::prelude::*;

use super::Sid;

/// The text of a SID, written the way AD writes it.
fn text(authority: u64, subs: &[u32]) -> String {
    let mut s = format!("S-1-{authority}");
    for sub in subs {
        s.push_str(&format!("-{sub}"));
    }
    s
}

/// Text that looks like a SID, with the mistakes and tricks an attacker would try.
fn sid_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("S".to_owned()),
        Just("s".to_owned()),
        Just("-".to_owned()),
        Just("1".to_owned()),
        Just("0".to_owned()),
        Just("+".to_owned()),
        Just(" ".to_owned()),
        Just("*".to_owned()),
        Just(")(".to_owned()),
        Just("\0".to_owned()),
        Just("٣".to_owned()), // an Arabic-Indic digit: not ASCII
        any::<u32>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        "[0-9]{1,25}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| format!("S-1-{}", v.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_sid_in_range_round_trips_through_its_text(
        authority in 0u64..(1 << 48),
        subs in prop::collection::vec(any::<u32>(), 0..=15),
    ) {
        let written = text(authority, &subs);
        let sid: Sid = written.parse().expect("a SID in range parses");
        prop_assert_eq!(sid.as_str(), written.as_str());
        prop_assert_eq!(sid.to_string().parse::<Sid>().ok(), Some(sid));
    }

    #[test]
    fn leading_zeros_never_make_a_second_spelling_of_a_principal(
        authority in 0u64..(1 << 48),
        subs in prop::collection::vec((any::<u32>(), 0usize..4), 0..=15),
        authority_zeros in 0usize..4,
    ) {
        let mut padded = format!("S-1-{}{authority}", "0".repeat(authority_zeros));
        for (sub, zeros) in &subs {
            padded.push_str(&format!("-{}{sub}", "0".repeat(*zeros)));
        }
        let plain: Vec<u32> = subs.iter().map(|(s, _)| *s).collect();
        let sid: Sid = padded.parse().expect("zero-padded numbers in range parse");
        let expected = text(authority, &plain);
        prop_assert_eq!(sid.as_str(), expected.as_str());
    }

    #[test]
    fn out_of_range_sids_are_refused(
        authority in (1u64 << 48)..,
        subs in prop::collection::vec(any::<u32>(), 16..20),
        big_sub in (u64::from(u32::MAX) + 1)..,
    ) {
        prop_assert!(text(authority, &[]).parse::<Sid>().is_err());
        prop_assert!(text(5, &subs).parse::<Sid>().is_err());
        let too_big = format!("S-1-5-21-{big_sub}");
        prop_assert!(too_big.parse::<Sid>().is_err());
    }

    #[test]
    fn any_text_either_is_refused_or_parses_to_canonical_text(
        s in prop_oneof![any::<String>(), sid_like()],
    ) {
        if let Ok(sid) = s.parse::<Sid>() {
            let canonical = sid.as_str();
            let mut parts = canonical.split('-');
            prop_assert_eq!(parts.next(), Some("S"));
            prop_assert_eq!(parts.next(), Some("1"));
            let numbers: Vec<&str> = parts.collect();
            prop_assert!(!numbers.is_empty() && numbers.len() <= 16, "{}", canonical);
            for n in &numbers {
                // ASCII digits without leading zeros: nothing else reaches a filter or a DN
                prop_assert!(!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()), "{}", canonical);
                prop_assert!(*n == "0" || !n.starts_with('0'), "{}", canonical);
            }
            // parsing the canonical text again changes nothing
            let again = canonical.parse::<Sid>().ok();
            prop_assert_eq!(again.as_ref(), Some(&sid));
        }
    }
}
