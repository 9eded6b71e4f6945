//! Property tests of the return path after sign-in: `/auth/login?return_to=…` is a public
//! link anyone can send, so no value may send a person to another site (an open redirect
//! dressed in jitroles' address) or back into the sign-in routes. Checked the way a browser
//! reads the answer: the `Location` header resolved with a WHATWG URL parser against the app.

use axum::http::{Uri, header};
use proptest::prelude::*;
use reqwest::Url;

use super::{query_param, safe_return_path};
use crate::auth::pages::redirect;

const APP: &str = "https://jit.example.com/admin/rules";

/// What an attacker puts after `return_to=`: slashes and backslashes in every spelling,
/// schemes, userinfo, dot segments, whitespace browsers strip, look-alike Unicode.
fn return_to() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "/",
        "//",
        "\\",
        "/\\",
        "%2f",
        "%2F",
        "%5c",
        "%5C",
        "%252f",
        ".",
        "..",
        "%2e",
        "%2E%2e",
        "./",
        "../",
        "auth",
        "auth/",
        "login",
        "evil.example",
        "@",
        ":",
        "http:",
        "https://",
        "javascript:",
        "data:",
        "\t",
        "\n",
        "\r",
        "%09",
        "%0a",
        "%0d",
        "%00",
        " ",
        "%20",
        "?",
        "#",
        "&",
        "=",
        "+",
        "%",
        "é",
        "\u{ff0f}",
        "\u{2215}",
        "\u{3002}",
        "\u{202e}",
        "\u{feff}",
        "\u{a0}",
        "admin",
        "rules",
    ]);
    // paths of segments, so dot segments and `auth` meet often enough to matter
    let separator = prop::sample::select(vec!["/", "/", "/", "//", "\\", "%2f", "%5c"]);
    let segment = prop::sample::select(vec![
        "",
        ".",
        "..",
        "..",
        "%2e",
        "%2e%2E",
        ".%2e",
        "auth",
        "auth",
        "auth",
        "login",
        "callback",
        "admin",
        "evil.example",
        "@evil.example",
        "\t",
        "é",
    ]);
    prop_oneof![
        any::<String>(),
        prop::collection::vec(piece, 1..10).prop_map(|v| v.concat()),
        prop::collection::vec((separator, segment), 1..6).prop_map(|v| {
            v.into_iter()
                .map(|(sep, seg)| format!("{sep}{seg}"))
                .collect::<String>()
        }),
    ]
}

/// `value` as the query's own text (so `%2f` reaches the decoder), or form-encoded (so what
/// the decoder yields is exactly `value`).
fn login_uris(value: &str) -> Vec<Uri> {
    let mut encoded = Url::parse("http://local/auth/login").expect("a URL");
    encoded.query_pairs_mut().append_pair("return_to", value);
    let encoded = format!("/auth/login?{}", encoded.query().unwrap_or_default());
    [format!("/auth/login?return_to={value}"), encoded]
        .into_iter()
        .filter_map(|u| u.parse().ok())
        .collect()
}

fn assert_stays_on_the_app(returned: &str) -> Result<(), TestCaseError> {
    let response = redirect(returned);
    let location = response
        .headers()
        .get(header::LOCATION)
        .ok_or_else(|| TestCaseError::fail(format!("{returned:?}: no Location")))?;
    let location = String::from_utf8_lossy(location.as_bytes()).into_owned();
    let app = Url::parse(APP).expect("the app's URL");
    let target = app
        .join(&location)
        .map_err(|e| TestCaseError::fail(format!("{location:?} does not resolve: {e}")))?;
    prop_assert_eq!(
        target.origin(),
        app.origin(),
        "{:?} leaves the app",
        location
    );
    prop_assert!(
        !target.path().starts_with("/auth/"),
        "{:?} resolves into the sign-in routes: {}",
        location,
        target
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn the_path_after_sign_in_never_leaves_the_app(value in return_to()) {
        // straight into the check, and through the query as a browser would send it
        let direct = safe_return_path(Some(&value));
        prop_assert!(direct == value || direct == "/", "{:?} became {:?}", value, direct);
        assert_stays_on_the_app(&direct)?;
        for uri in login_uris(&value) {
            let returned = safe_return_path(query_param(&uri, "return_to").as_deref());
            assert_stays_on_the_app(&returned)?;
        }
    }
}

#[test]
fn ordinary_app_paths_are_kept() {
    for path in [
        "/",
        "/admin/rules?q=dba#top",
        "/admin/grants?person=S-1-5-21-1-2-3-1104",
    ] {
        assert_eq!(safe_return_path(Some(path)), path);
    }
}
