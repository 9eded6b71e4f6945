//! Notification templates (MiniJinja): what each event says, escaped for where it goes. HTML
//! mail bodies escape values as HTML and webhook bodies as JSON strings, so a justification
//! with markup, quotes or line breaks arrives as text. A template is checked when its channel
//! is saved: a syntax error, an unknown variable or (for webhooks) output that is not JSON is
//! refused with its line and column.

use jitroles_domain::{
    DomainError,
    notify::{Event, Facts, Preset, Transport},
};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use super::render::{Capped, Failure, Job, MAX_OUTPUT, Outcome, Renderer};

pub const EMAIL_SUBJECT: &str = "[jitroles] {{ rule }}: {{ event_title }} for {{ person.name }}";

pub const EMAIL_BODY: &str = r#"<!doctype html>
<html><body style="font-family: sans-serif">
<p>{{ summary }}</p>
<table>
<tr><th align="left">Role</th><td>{{ rule }} ({{ group }})</td></tr>
<tr><th align="left">Person</th><td>{{ person.name }} ({{ person.account }})</td></tr>
{% if justification %}<tr><th align="left">Justification</th><td>{{ justification }}</td></tr>
{% endif %}{% if expires_at %}<tr><th align="left">Expires</th><td>{{ expires_at_text }}</td></tr>
{% endif %}{% if detail %}<tr><th align="left">Detail</th><td>{{ detail }}</td></tr>
{% endif %}<tr><th align="left">By</th><td>{{ actor }}</td></tr>
</table>
{% if link %}<p><a href="{{ link }}">Open in jitroles</a></p>
{% endif %}
</body></html>
"#;

/// The plain-text part of every mail (next to the HTML body).
const EMAIL_TEXT: &str = "{{ summary }}

Role: {{ rule }} ({{ group }})
Person: {{ person.name }} ({{ person.account }})
{% if justification %}Justification: {{ justification }}
{% endif %}{% if expires_at %}Expires: {{ expires_at_text }}
{% endif %}{% if detail %}Detail: {{ detail }}
{% endif %}By: {{ actor }}
{% if link %}
Open in jitroles: {{ link }}
{% endif %}";

pub const GENERIC_JSON: &str = r#"{
  "event": {{ event }},
  "summary": {{ summary }},
  "grant_id": {{ grant_id }},
  "rule": {{ rule }},
  "group": {{ group }},
  "person": {"account": {{ person.account }}, "name": {{ person.name }}, "sid": {{ person.sid }}},
  "requested_by": {{ requested_by }},
  "justification": {{ justification }},
  "expires_at": {{ expires_at }},
  "actor": {{ actor }},
  "detail": {{ detail }},
  "link": {{ link }}
}"#;

/// A Slack incoming webhook: mrkdwn text (`slack` escapes `&`, `<` and `>` as Slack asks).
pub const SLACK_JSON: &str = r#"{"text": {{ summary | slack }}}"#;

/// A Microsoft Teams Workflows webhook ("post to a channel when a webhook request is
/// received"): a message with one Adaptive Card.
pub const TEAMS_JSON: &str = r#"{
  "type": "message",
  "attachments": [{
    "contentType": "application/vnd.microsoft.card.adaptive",
    "contentUrl": null,
    "content": {
      "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
      "type": "AdaptiveCard",
      "version": "1.4",
      "body": [
        {"type": "TextBlock", "text": {{ event_title }}, "weight": "Bolder", "size": "Medium", "wrap": true},
        {"type": "TextBlock", "text": {{ summary }}, "wrap": true},
        {"type": "FactSet", "facts": [
          {"title": "Role", "value": {{ rule }}},
          {"title": "Group", "value": {{ group }}},
          {"title": "Person", "value": {{ person.name ~ " (" ~ person.account ~ ")" }}},
          {"title": "Justification", "value": {{ justification }}},
          {"title": "Expires", "value": {{ expires_at_text }}},
          {"title": "By", "value": {{ actor }}}
        ]}
      ]
    }
  }]
}"#;

#[derive(Serialize)]
struct Person<'a> {
    account: &'a str,
    name: &'a str,
    sid: &'a str,
}

/// What a template can use.
#[derive(Serialize)]
struct Context<'a> {
    event: &'static str,
    event_title: String,
    summary: String,
    /// Where in the web app to look (empty without `server.public_url`).
    link: String,
    grant_id: &'a str,
    rule: &'a str,
    group: &'a str,
    person: Person<'a>,
    requested_by: &'a str,
    justification: &'a str,
    expires_at: Option<String>,
    expires_at_text: String,
    actor: &'a str,
    detail: &'a str,
}

/// One sentence for people, in plain text (escaped where it goes).
fn summary(event: Event, f: &Facts, until: &str) -> String {
    let who = format!("{} ({})", f.subject_display_name, f.subject_account);
    let role = format!("{} ({})", f.rule_name, f.group);
    match event {
        Event::Granted => format!("{who} was granted {role} until {until}."),
        Event::Extended => format!("{who}'s grant of {role} was extended until {until}."),
        Event::Failed => format!("{who} could not be granted {role}: {}", f.detail),
        Event::ExpiringSoon => format!("{who}'s grant of {role} expires at {until}."),
        Event::Expired => format!("{who}'s grant of {role} expired."),
        Event::Released => format!("{who} released {role}."),
        Event::Revoked => format!("{} revoked {who}'s grant of {role}.", f.actor),
        Event::ApprovalRequested => format!(
            "{who} asks for {role}: {}. Approve or reject it on the Approvals page of jitroles.",
            f.detail
        ),
        Event::Approved => format!(
            "{} approved {who}'s request for {role} ({}).",
            f.actor, f.detail
        ),
        Event::Rejected => format!(
            "{} rejected {who}'s request for {role} ({}).",
            f.actor, f.detail
        ),
        Event::Cancelled => format!("{who} cancelled the request for {role}."),
        Event::Lapsed => format!("{who}'s request for {role} lapsed: {}.", f.detail),
        Event::BreakGlassUsed => format!(
            "{who} took {role} through break-glass, without approval, until {until}: {}. An approver must review it.",
            f.detail
        ),
    }
}

fn context<'a>(event: Event, grant_id: &'a str, f: &'a Facts, link: String) -> Context<'a> {
    let until = f
        .expires_at
        .map(|at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    let mut title = event.human().to_owned();
    if let Some(first) = title.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    Context {
        event: event.as_str(),
        event_title: title,
        summary: summary(event, f, &until),
        link,
        grant_id,
        rule: &f.rule_name,
        group: &f.group,
        person: Person {
            account: &f.subject_account,
            name: &f.subject_display_name,
            sid: &f.subject_sid,
        },
        requested_by: &f.requested_by,
        justification: &f.justification,
        expires_at: f.expires_at.map(|at| at.to_rfc3339()),
        expires_at_text: until,
        actor: &f.actor,
        detail: &f.detail,
    }
}

/// Template instructions per render: plenty for any message, and a runaway loop stops.
const FUEL: u64 = 100_000;

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else if name.ends_with(".json") {
            AutoEscape::Json
        } else {
            AutoEscape::None
        }
    });
    env.add_filter("slack", |s: String| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    });
    env
}

/// Renders one job (in the render child, see [`render`]).
pub fn render_job(job: &Job) -> Outcome {
    let failure = |e: &minijinja::Error| Failure {
        what: e
            .detail()
            .map_or_else(|| e.kind().to_string(), str::to_owned),
        line: e.line(),
        start: e.range().map(|r| r.start),
    };
    let env = environment();
    let template = env
        .template_from_named_str(&job.name, &job.source)
        .map_err(|e| failure(&e))?;
    let mut out = Capped::default();
    match template.render_captured_to(&job.context, &mut out) {
        Ok(_) => String::from_utf8(out.out).map_err(|e| Failure {
            what: e.to_string(),
            line: None,
            start: None,
        }),
        Err(_) if out.overflowed => Err(Failure {
            what: format!("the message would be longer than {MAX_OUTPUT} bytes"),
            line: None,
            start: None,
        }),
        Err(e) => Err(failure(&e)),
    }
}

/// `failure` as people read it, with the line and column in `source`.
fn explain(field: &str, source: &str, failure: &Failure) -> DomainError {
    let Failure { what, line, start } = failure;
    let reason = match (line, start) {
        (Some(line), Some(start)) => {
            let before = source.get(..*start).unwrap_or_default();
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {what}")
        }
        (Some(line), None) => format!("line {line}: {what}"),
        _ => what.clone(),
    };
    DomainError::invalid(field, reason)
}

/// One event to render: which, about which grant, with which facts.
type Case<'a> = (Event, &'a str, &'a Facts);

/// Renders `source` (named `name`: its extension picks the escaping) for every case, in one
/// render child.
async fn render(
    renderer: &Renderer,
    field: &str,
    name: &str,
    source: &str,
    cases: &[Case<'_>],
) -> Result<Vec<String>, DomainError> {
    let jobs = cases
        .iter()
        .map(|(event, grant_id, facts)| {
            let link = renderer.link(*event, grant_id);
            let context = serde_json::to_value(context(*event, grant_id, facts, link))
                .map_err(|e| DomainError::invalid(field, e.to_string()))?;
            Ok(Job {
                name: name.to_owned(),
                source: source.to_owned(),
                context,
            })
        })
        .collect::<Result<Vec<_>, DomainError>>()?;
    let outcomes = renderer
        .render(&jobs)
        .await
        .map_err(|why| DomainError::invalid(field, why))?;
    outcomes
        .into_iter()
        .map(|o| o.map_err(|f| explain(field, source, &f)))
        .collect()
}

/// A mail, rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What a channel sends for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rendered {
    Mail(Mail),
    Json(String),
}

impl Rendered {
    /// For people (TestChannel): the subject and body, or the JSON.
    pub fn show(&self) -> String {
        match self {
            Self::Mail(m) => format!("Subject: {}\n\n{}", m.subject, m.html),
            Self::Json(j) => j.clone(),
        }
    }
}

fn or_default<'a>(custom: &'a str, default: &'a str) -> &'a str {
    if custom.trim().is_empty() {
        default
    } else {
        custom
    }
}

/// Renders what `transport` sends for `event`; `Invalid` (with the template's field, line
/// and column) if a template is broken, or runs out of memory or time.
pub async fn rendered(
    renderer: &Renderer,
    transport: &Transport,
    event: Event,
    grant_id: &str,
    facts: &Facts,
) -> Result<Rendered, DomainError> {
    let mut all = render_all(renderer, transport, &[(event, grant_id, facts)]).await?;
    all.pop()
        .ok_or_else(|| DomainError::invalid("template", "nothing was rendered"))
}

/// What `transport` sends for each case, each template in one render child.
async fn render_all(
    renderer: &Renderer,
    transport: &Transport,
    cases: &[Case<'_>],
) -> Result<Vec<Rendered>, DomainError> {
    match transport {
        Transport::Email(e) => {
            let subject = or_default(&e.subject_template, EMAIL_SUBJECT);
            let body = or_default(&e.body_template, EMAIL_BODY);
            let subjects = render(
                renderer,
                "email.subject_template",
                "subject.txt",
                subject,
                cases,
            );
            let texts = render(renderer, "email", "text.txt", EMAIL_TEXT, cases);
            let bodies = render(renderer, "email.body_template", "body.html", body, cases);
            let (subjects, texts, bodies) = tokio::try_join!(subjects, texts, bodies)?;
            Ok(subjects
                .into_iter()
                .zip(texts)
                .zip(bodies)
                .map(|((subject, text), html)| {
                    Rendered::Mail(Mail {
                        // a header is one line
                        subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
                        text,
                        html,
                    })
                })
                .collect())
        }
        Transport::Webhook(w) => {
            let preset = match w.preset {
                Preset::Generic => GENERIC_JSON,
                Preset::Slack => SLACK_JSON,
                Preset::Teams => TEAMS_JSON,
            };
            let source = or_default(&w.template, preset);
            let bodies = render(renderer, "webhook.template", "body.json", source, cases).await?;
            bodies
                .into_iter()
                .map(|body| {
                    if let Err(e) = serde_json::from_str::<serde_json::Value>(&body) {
                        return Err(DomainError::invalid(
                            "webhook.template",
                            format!(
                                "the template does not produce JSON (output line {}, column {}: {e}); \
                                 write values as {{{{ name }}}} without quotes, jitroles quotes and escapes them",
                                e.line(),
                                e.column()
                            ),
                        ));
                    }
                    Ok(Rendered::Json(body))
                })
                .collect()
        }
    }
}

/// Facts for a sample event (TestChannel, and the check on save).
pub fn sample(person: &str, display_name: &str) -> Facts {
    Facts {
        rule_id: String::new(),
        rule_name: "Sample role".into(),
        group: "jit-role-sample".into(),
        subject_account: person.into(),
        subject_display_name: display_name.into(),
        subject_sid: "S-1-5-21-0-0-0-1000".into(),
        requested_by: person.into(),
        justification: "A test from the channel editor <with \"quotes\">\nand a second line".into(),
        expires_at: Some(chrono::DateTime::UNIX_EPOCH + chrono::TimeDelta::days(20_000)),
        actor: person.into(),
        detail: String::new(),
    }
}

/// Every template of `transport` compiles, renders every event with sample facts (within the
/// render child's memory and time), and (for webhooks) produces JSON.
pub async fn check(renderer: &Renderer, transport: &Transport) -> Result<(), DomainError> {
    let facts = sample("jdoe", "Jane Doe");
    let cases = [
        Event::Granted,
        Event::Extended,
        Event::Failed,
        Event::ExpiringSoon,
        Event::Expired,
        Event::Released,
        Event::Revoked,
    ]
    .map(|event| (event, "sample", &facts));
    render_all(renderer, transport, &cases).await.map(drop)
}

#[cfg(test)]
mod tests;
