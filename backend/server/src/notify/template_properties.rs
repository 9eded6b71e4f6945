//! Property tests of template rendering: an admin writes the template and a requester writes
//! the justification it shows, so whatever either sends must render within the output limit
//! or be refused, never panic or run away. They render in this process, as the render child
//! does but without its memory and CPU limits (`tests/it/notify/limits.rs` tests those). Kept
//! apart from `template.rs`, so work on the renderer and these properties do not collide.

use jitroles_domain::notify::{Email, Event, Facts, Preset, SmtpTls, Transport, Webhook};
use proptest::prelude::*;

use super::{
    render::{MAX_OUTPUT, Renderer},
    template::{Rendered, rendered, sample},
};

/// Template source from the pieces of MiniJinja's syntax: mostly well-formed (values, filters,
/// nested loops that would multiply the output, conditions, recursion), some broken (unknown
/// names, unclosed tags), and the text around them.
fn template_source() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        8 => prop::sample::select(vec![
            "{{ rule }}",
            "{{ person.name }}",
            "{{ justification }}",
            "{{ summary | slack }}",
            "{{ justification | upper | replace('A', 'AAAA') }}",
            "{% set x = justification ~ justification %}{{ x }}{{ x }}",
            "{{ '{' }}",
            "\"",
            "<b>",
            "text ",
            "\n",
            "é",
            "}",
            "%}",
            "#}",
        ]).prop_map(str::to_owned),
        1 => prop::sample::select(vec![
            "{{ nope }}",
            "{{ person.nope.deeper }}",
            "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}",
            "{{",
            "{%",
            "{#",
            "{% endfor %}",
            "{% for i in range(10) %}",
            "{% if rule %}",
        ]).prop_map(str::to_owned),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|v| v.concat()),
            (
                prop::sample::select(vec![10u32, 1_000, 100_000]),
                inner.clone()
            )
                .prop_map(|(n, body)| format!("{{% for i in range({n}) %}}{body}{{% endfor %}}")),
            (inner.clone(), inner).prop_map(|(yes, no)| format!(
                "{{% if justification %}}{yes}{{% else %}}{no}{{% endif %}}"
            )),
        ]
    })
}

/// Facts with what people typed at the limits the domain allows them.
fn facts() -> impl Strategy<Value = Facts> {
    (
        prop::collection::vec(any::<char>(), 0..=1_000),
        "[<>&\"'{}a-z ]{0,256}",
    )
        .prop_map(|(justification, name)| Facts {
            justification: justification.into_iter().collect(),
            subject_display_name: name.clone(),
            rule_name: name,
            ..sample("dave", "Dave Dba")
        })
}

fn transport(source: String, webhook: bool) -> Transport {
    if webhook {
        Transport::Webhook(Webhook {
            url: "https://x.test".into(),
            headers: vec![],
            signing_secret: None,
            preset: Preset::Generic,
            // whatever the source renders to, as one JSON string: the JSON path renders too
            template: format!("{{\"text\": {{% filter tojson %}}{source}{{% endfilter %}}}}"),
        })
    } else {
        Transport::Email(Email {
            host: "smtp.test".into(),
            port: 25,
            tls: SmtpTls::None,
            username: String::new(),
            password: None,
            sender: "a@b.test".into(),
            recipients: vec!["c@d.test".into()],
            to_requester: false,
            subject_template: source.clone(),
            body_template: source,
            to_approvers: false,
        })
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_template_renders_within_the_limit_or_is_refused(
        source in template_source(),
        webhook in any::<bool>(),
        facts in facts(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let outcome = runtime.block_on(rendered(
            &Renderer::in_process(),
            &transport(source, webhook),
            Event::Granted,
            "g1",
            &facts,
        ));
        match outcome {
            Ok(Rendered::Mail(m)) => {
                prop_assert!(m.subject.len() <= MAX_OUTPUT);
                prop_assert!(m.text.len() <= MAX_OUTPUT);
                prop_assert!(m.html.len() <= MAX_OUTPUT);
            }
            Ok(Rendered::Json(body)) => prop_assert!(body.len() <= MAX_OUTPUT),
            Err(_) => {}
        }
    }
}
