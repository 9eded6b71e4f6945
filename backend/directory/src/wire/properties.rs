//! Property tests of what jitroles reads from and writes to the directory: binary SIDs and
//! GUIDs from the DC, and LDAP filters built from what people type or tokens claim. The filter
//! properties parse the filter with ldap3's own parser (the one that encodes it for the wire)
//! and require exactly the structure of the same filter built with a harmless value, with the
//! value, byte for byte, where the harmless one was.

use ldap3::asn1::{ASNTag, PL, StructureTag};
use proptest::{prelude::*, test_runner::TestCaseError};

use super::*;

/// A stand-in value no test input equals: where it lands in a filter is where a value belongs.
const HARMLESS: &str = "harmlessvalue";

fn parsed(filter: &str) -> Result<StructureTag, TestCaseError> {
    ldap3::parse_filter(filter)
        .map(|t| t.into_structure())
        .map_err(|()| TestCaseError::fail(format!("{filter:?} does not parse")))
}

fn substitute(tag: StructureTag, from: &[u8], to: &[u8]) -> StructureTag {
    let payload = match tag.payload {
        PL::P(v) if v == from => PL::P(to.to_vec()),
        PL::P(v) => PL::P(v),
        PL::C(children) => PL::C(
            children
                .into_iter()
                .map(|c| substitute(c, from, to))
                .collect(),
        ),
    };
    StructureTag { payload, ..tag }
}

/// `build(value)` parses to exactly `build(HARMLESS)` with `value` in its place(s).
pub(crate) fn value_cannot_change_the_filter(
    build: impl Fn(&str) -> String,
    value: &str,
) -> Result<(), TestCaseError> {
    let expected = substitute(
        parsed(&build(HARMLESS))?,
        HARMLESS.as_bytes(),
        value.as_bytes(),
    );
    let filter = build(value);
    prop_assert_eq!(parsed(&filter)?, expected, "{}", filter);
    Ok(())
}

/// Text an attacker would put into a filter: LDAP's special characters, escapes that are
/// already escaped, NUL, filter fragments, non-ASCII, and plain text around them.
pub(crate) fn filter_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("*".to_owned()),
        Just("\\".to_owned()),
        Just("\0".to_owned()),
        Just("\\2a".to_owned()),
        Just("\\5c".to_owned()),
        Just("\\".to_owned()),
        Just("=".to_owned()),
        Just("|".to_owned()),
        Just("&".to_owned()),
        Just("!".to_owned()),
        Just(":".to_owned()),
        Just(">=".to_owned()),
        Just("~=".to_owned()),
        Just(":1.2.840.113556.1.4.1941:=".to_owned()),
        Just(")(objectClass=*".to_owned()),
        Just("*)(|(objectClass=*".to_owned()),
        Just("émile".to_owned()),
        Just("\u{10ffff}".to_owned()),
        Just(",".to_owned()),
        Just("<SID=S-1-5-32-544>".to_owned()),
        "[a-zA-Z0-9 ]{1,8}",
    ];
    prop_oneof![
        any::<String>(),
        prop::collection::vec(piece, 1..16).prop_map(|v| v.concat()),
    ]
}

/// MS-DTYP 2.4.2.2: revision, count, 48-bit big-endian authority, little-endian sub-authorities.
fn sid_bytes(authority: u64, subs: &[u32]) -> Vec<u8> {
    let mut b = vec![
        1,
        u8::try_from(subs.len()).expect("at most 255 sub-authorities"),
    ];
    b.extend_from_slice(&authority.to_be_bytes()[2..]);
    for sub in subs {
        b.extend_from_slice(&sub.to_le_bytes());
    }
    b
}

fn sid_text(authority: u64, subs: &[u32]) -> String {
    let mut s = format!("S-1-{authority}");
    for sub in subs {
        s.push_str(&format!("-{sub}"));
    }
    s
}

/// Text that looks like a GUID: hex digits, dashes, and what would break out of `<GUID=…>`.
fn guid_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[0-9a-fA-F]{1,12}",
        Just("-".to_owned()),
        Just(">".to_owned()),
        Just(",".to_owned()),
        Just(";".to_owned()),
        Just("=".to_owned()),
        Just(" ".to_owned()),
        Just("０".to_owned()), // a full-width digit
        Just("é".to_owned()),
    ];
    prop_oneof![
        prop::collection::vec(piece, 1..12).prop_map(|v| v.concat()),
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn binary_and_text_sids_agree_both_ways(
        authority in 0u64..(1 << 48),
        subs in prop::collection::vec(any::<u32>(), 0..=15),
    ) {
        let sid = sid_from_bytes(&sid_bytes(authority, &subs)).expect("a well-formed SID");
        prop_assert_eq!(sid.as_str(), sid_text(authority, &subs));
        let parsed: Sid = sid.as_str().parse().expect("its text parses");
        prop_assert_eq!(parsed, sid);
    }

    #[test]
    fn only_exactly_well_formed_sid_bytes_are_read(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..80),
            // well-formed but for one byte
            (0u64..(1 << 48), prop::collection::vec(any::<u32>(), 0..=16), any::<usize>(), any::<u8>())
                .prop_map(|(a, subs, at, to)| {
                    let mut b = sid_bytes(a, &subs);
                    let at = at % b.len();
                    b[at] = to;
                    b
                }),
        ],
    ) {
        if let Some(sid) = sid_from_bytes(&bytes) {
            // whatever is accepted writes back to the very bytes it was read from
            let text = sid.as_str().strip_prefix("S-1-").expect("S-1- prefix").to_owned();
            let mut numbers = text.split('-');
            let authority: u64 = numbers.next().and_then(|a| a.parse().ok()).expect("authority");
            let subs: Vec<u32> = numbers.map(|s| s.parse().expect("sub-authority")).collect();
            prop_assert_eq!(sid_bytes(authority, &subs), bytes);
        }
    }

    #[test]
    fn binary_guids_read_as_the_canonical_text_that_names_them(bytes in any::<[u8; 16]>()) {
        let text = guid_from_bytes(&bytes).expect("16 bytes are a GUID");
        // the mixed-endian layout, checked against uuid's reading of it
        prop_assert_eq!(text.clone(), uuid::Uuid::from_bytes_le(bytes).to_string());
        prop_assert_eq!(parse_guid(&text), Some(text.clone()));
        prop_assert_eq!(parse_guid(&text.to_ascii_uppercase()), Some(text));
    }

    #[test]
    fn guid_bytes_of_another_length_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
        prop_assert_eq!(guid_from_bytes(&bytes).is_some(), bytes.len() == 16);
    }

    #[test]
    fn a_guid_base_is_only_ever_canonical_hex(s in guid_like()) {
        if let Some(g) = parse_guid(&s) {
            // nothing else can reach `<GUID=…>`: no `>`, `,`, `;`, non-ASCII or upper case
            prop_assert!(g.eq_ignore_ascii_case(&s));
            prop_assert_eq!(g.len(), 36);
            for (i, c) in g.chars().enumerate() {
                if [8, 13, 18, 23].contains(&i) {
                    prop_assert_eq!(c, '-');
                } else {
                    prop_assert!(c.is_ascii_hexdigit() && !c.is_ascii_uppercase(), "{}", g);
                }
            }
            prop_assert!(uuid::Uuid::parse_str(&g).is_ok());
        }
    }

    #[test]
    fn search_text_never_changes_the_search_filter(
        text in filter_text(),
        class in prop::sample::select(vec![
            "(objectClass=group)",
            "(&(objectCategory=person)(objectClass=user))",
        ]),
    ) {
        if text.is_empty() {
            // nothing typed: every name matches (`cn=*` is a presence filter)
            prop_assert!(ldap3::parse_filter(prefix_filter(class, &text)).is_ok());
        } else {
            value_cannot_change_the_filter(|t| prefix_filter(class, t), &text)?;
        }
    }

    #[test]
    fn a_dn_never_changes_the_nested_groups_filter(dn in filter_text()) {
        value_cannot_change_the_filter(containing_groups_filter, &dn)?;
    }

    #[test]
    fn ttl_member_values_read_back_what_was_written(
        secs in any::<u64>(),
        dn in filter_text(),
    ) {
        prop_assert_eq!(
            parse_member(&format!("<TTL={}>,{}", secs, dn)),
            (dn.clone(), Some(Duration::from_secs(secs)))
        );
        if !dn.starts_with("<TTL=") {
            prop_assert_eq!(parse_member(&dn), (dn.clone(), None));
        }
    }

    #[test]
    fn attribute_names_from_the_server_never_panic_the_range_reader(name in filter_text()) {
        let _ = next_range_start(&name);
        let _ = next_range_start(&format!("member;range={name}"));
    }
}
