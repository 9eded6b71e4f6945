//! Property tests of the user lookup filter: its value comes from a token's claim (the
//! sign-in's `preferred_username`, say), so whatever a provider or a client puts there must
//! either be refused or match exactly that one account attribute.

use proptest::prelude::*;

use super::{MAX_TEXT, user_filter};
use crate::wire::properties::{filter_text, value_cannot_change_the_filter};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_claimed_name_is_refused_or_matches_one_attribute_exactly(
        value in prop_oneof![
            filter_text(),
            // around the length limit
            (MAX_TEXT - 2..MAX_TEXT + 3).prop_map(|n| "*".repeat(n)),
        ],
        attribute in prop::sample::select(vec!["sAMAccountName", "userPrincipalName", "mail"]),
    ) {
        match user_filter(attribute, &value) {
            Ok(_) => {
                prop_assert!(!value.is_empty() && value.chars().count() <= MAX_TEXT);
                prop_assert!(!value.chars().any(char::is_control), "{:?}", value);
                value_cannot_change_the_filter(
                    |v| user_filter(attribute, v).unwrap_or_default(),
                    &value,
                )?;
            }
            Err(_) => prop_assert!(
                value.is_empty()
                    || value.chars().count() > MAX_TEXT
                    || value.chars().any(char::is_control),
                "{:?} refused", value
            ),
        }
    }
}
