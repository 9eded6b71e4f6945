//! Property tests of the durations clients send: any pair of numbers a protobuf `Duration`
//! can carry is read as exactly that duration or refused, never wrapped or panicked on.

use std::time::Duration;

use proptest::prelude::*;

use super::{duration, proto_duration};

const NANOS_PER_SECOND: i32 = 1_000_000_000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn a_duration_is_read_exactly_or_refused(
        seconds in prop_oneof![any::<i64>(), -2i64..=2, (i64::MAX - 2)..=i64::MAX],
        nanos in prop_oneof![
            any::<i32>(),
            -2i32..=2,
            (NANOS_PER_SECOND - 2)..=(NANOS_PER_SECOND + 1),
        ],
    ) {
        let asked = prost_types::Duration { seconds, nanos };
        let well_formed = seconds >= 0 && (0..NANOS_PER_SECOND).contains(&nanos);
        match duration("duration", Some(&asked)) {
            Ok(Some(d)) => {
                prop_assert!(well_formed, "{:?} read as {:?}", asked, d);
                prop_assert_eq!(u64::try_from(seconds).ok(), Some(d.as_secs()));
                prop_assert_eq!(i32::try_from(d.subsec_nanos()).ok(), Some(nanos));
            }
            Ok(None) => prop_assert!(false, "a duration that was sent is never absent"),
            Err(e) => prop_assert!(!well_formed, "{:?} refused: {:?}", asked, e),
        }
    }

    #[test]
    fn every_duration_the_server_writes_reads_back_the_same(
        secs in 0..=u64::try_from(i64::MAX).expect("positive"),
        nanos in 0u32..1_000_000_000,
    ) {
        let d = Duration::new(secs, nanos);
        prop_assert_eq!(duration("duration", Some(&proto_duration(d))).ok(), Some(Some(d)));
    }
}
