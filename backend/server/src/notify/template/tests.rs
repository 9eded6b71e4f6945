//! What the built-in templates say, and how they escape, rendered in this process.
use jitroles_domain::notify::{Email, SmtpTls, Webhook};

use super::*;

fn renderer() -> Renderer {
    Renderer::in_process()
}

fn hook(preset: Preset, template: &str) -> Transport {
    Transport::Webhook(Webhook {
        url: "https://x.test".into(),
        headers: vec![],
        signing_secret: None,
        preset,
        template: template.into(),
    })
}

fn mail(body: &str) -> Transport {
    Transport::Email(Email {
        host: "smtp.test".into(),
        port: 25,
        tls: SmtpTls::None,
        username: String::new(),
        password: None,
        sender: "a@b.test".into(),
        recipients: vec!["c@d.test".into()],
        to_requester: false,
        subject_template: String::new(),
        body_template: body.into(),
        to_approvers: false,
    })
}

fn hostile() -> Facts {
    Facts {
        justification: "<script>alert(\"x\")</script> & \"quoted\"\nline two".into(),
        ..sample("dave", "Dave <Dba>")
    }
}

#[tokio::test]
async fn a_message_links_to_the_request_on_the_approvals_page() {
    let linking = Renderer::in_process().linking_to(Some("https://jit.example.com/".into()));
    let Rendered::Mail(m) = rendered(
        &linking,
        &mail(""),
        Event::ApprovalRequested,
        "g1",
        &hostile(),
    )
    .await
    .unwrap() else {
        panic!("not a mail")
    };
    let link = "https://jit.example.com/approvals/?request=g1";
    assert!(m.text.contains(link), "{}", m.text);
    assert!(
        m.html
            .contains("https:&#x2f;&#x2f;jit.example.com&#x2f;approvals&#x2f;?request=g1")
            || m.html.contains(link),
        "{}",
        m.html
    );
    let Rendered::Mail(unlinked) = rendered(
        &renderer(),
        &mail(""),
        Event::ApprovalRequested,
        "g1",
        &hostile(),
    )
    .await
    .unwrap() else {
        panic!("not a mail")
    };
    assert!(
        !unlinked.text.contains("Open in jitroles"),
        "no public URL, no link"
    );
}

#[tokio::test]
async fn html_mail_escapes_what_people_typed() {
    let Rendered::Mail(m) = rendered(&renderer(), &mail(""), Event::Granted, "g1", &hostile())
        .await
        .unwrap()
    else {
        panic!("not a mail")
    };
    assert!(m.html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;&#x2f;script&gt; &amp; &quot;quoted&quot;\nline two"), "{}", m.html);
    assert!(!m.html.contains("<script>"));
    assert!(
        m.subject.contains("Dave <Dba>"),
        "the subject is text, not HTML"
    );
    assert!(
        m.text.contains("<script>alert(\"x\")</script>"),
        "the text part is text"
    );
}

#[tokio::test]
async fn every_preset_produces_json_that_keeps_the_text_intact() {
    for preset in [Preset::Generic, Preset::Slack, Preset::Teams] {
        let Rendered::Json(body) = rendered(
            &renderer(),
            &hook(preset, ""),
            Event::Revoked,
            "g1",
            &hostile(),
        )
        .await
        .unwrap() else {
            panic!("not JSON")
        };
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        let text = value.to_string();
        assert!(text.contains("revoked"), "{preset:?}: {body}");
        if preset == Preset::Generic {
            assert_eq!(value["justification"], hostile().justification);
        }
        if preset == Preset::Slack {
            assert!(value["text"].as_str().unwrap().contains("Dave &lt;Dba&gt;"));
        }
        if preset == Preset::Teams {
            let facts = &value["attachments"][0]["content"]["body"][2]["facts"];
            assert_eq!(facts[2]["value"], "Dave <Dba> (dave)");
            assert_eq!(facts[3]["value"], hostile().justification);
        }
    }
}

#[tokio::test]
async fn a_broken_template_is_refused_with_its_line_and_column() {
    let err = check(
        &renderer(),
        &hook(Preset::Generic, "{\n  \"a\": {{ rule }\n}"),
    )
    .await
    .unwrap_err();
    let DomainError::Invalid { field, reason } = err else {
        panic!("not invalid")
    };
    assert_eq!(field, "webhook.template");
    assert!(reason.starts_with("line 2, column 16:"), "{reason}");
    let unknown = check(&renderer(), &mail("<p>{{ nobody }}</p>"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("email.body_template") && unknown.contains("line 1"),
        "{unknown}"
    );
    let runaway = check(
        &renderer(),
        &mail("{% for a in range(1000) %}{% for b in range(1000) %}x{% endfor %}{% endfor %}"),
    )
    .await
    .unwrap_err();
    assert!(
        runaway.to_string().contains("email.body_template"),
        "{runaway}"
    );
    let quoted = check(
        &renderer(),
        &hook(Preset::Generic, "{\"a\": \"{{ rule }}\"}"),
    )
    .await
    .unwrap_err();
    assert!(
        quoted.to_string().contains("does not produce JSON"),
        "{quoted}"
    );
}
