use leptos::prelude::*;

use crate::api::ServerInfo;

/// The server's version and database, as it reported them.
#[component]
pub fn ServerFooter(#[prop(into)] info: Signal<Option<ServerInfo>>) -> impl IntoView {
    view! {
        <footer class="server-footer">
            {move || match info.get() {
                Some(info) => {
                    let database = match info.database() {
                        jitroles_proto::v1::DatabaseKind::Sqlite => "SQLite",
                        jitroles_proto::v1::DatabaseKind::Postgres => "PostgreSQL",
                        jitroles_proto::v1::DatabaseKind::Unspecified => "unknown database",
                    };
                    view! {
                        <span class="server-footer__version" data-testid="server-version">
                            {format!("jitroles {}", info.version)}
                        </span>
                        <span class="server-footer__detail">
                            {format!(" · build {} · {database}", info.git_commit)}
                        </span>
                    }
                        .into_any()
                }
                None => view! { <span class="server-footer__version">"jitroles"</span> }.into_any(),
            }}
        </footer>
    }
}
