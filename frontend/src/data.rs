//! How pages load and show data: [`Loaded`] renders loading / error / empty / content for a
//! `LocalResource`, and [`Paged`] reads a list page by page. Both rest on `LocalResource`,
//! whose newest run always wins over an older one still in flight, so an answer to a filter
//! someone already changed never replaces the answer to the current one.
//!
//! An ended session needs nothing here: the API client the shell provides sends the browser
//! to sign in on any `Unauthenticated` answer (`app.rs`).

use std::{future::Future, pin::Pin, rc::Rc};

use leptos::{prelude::*, task::spawn_local};

use crate::api::{
    Api, ApiError, ChannelSpec, DirectoryStatus, Page, PersonAccess, Rule, RuleAccess,
};

/// The API client the shell provided.
pub fn use_api() -> Api {
    expect_context::<Api>()
}

/// Data a page may show as "nothing here" instead of its content.
pub trait Listing {
    fn is_empty_listing(&self) -> bool {
        false
    }
}

impl<T> Listing for Vec<T> {
    fn is_empty_listing(&self) -> bool {
        self.is_empty()
    }
}

impl Listing for DirectoryStatus {}
impl Listing for Rule {}
impl Listing for ChannelSpec {}
impl Listing for RuleAccess {}
impl Listing for PersonAccess {}

/// What the content is showing: the last good answer stays while a reload runs or fails.
#[derive(Clone, PartialEq)]
enum Phase {
    Failed(ApiError),
    Empty,
    Ready,
}

/// Shows a resource: `loading` until the first answer, the error (with Try again) when the
/// call failed, `empty` when the answer is an empty list, else `view`. `view` is built once
/// and given the data as a signal, so a reload updates what is on screen (keyed `<For>`
/// lists keep their rows, and whatever someone is typing in them) instead of rebuilding it.
#[component]
pub fn Loaded<T, V, F>(
    data: LocalResource<Result<T, ApiError>>,
    /// Says what is coming, e.g. "Loading rules…".
    loading: &'static str,
    /// Shown instead of `view` when the answer is an empty list.
    #[prop(optional, into)]
    empty: ViewFn,
    view: F,
) -> impl IntoView
where
    T: Listing + Clone + PartialEq + Default + Send + Sync + 'static,
    F: Fn(Signal<T>) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    // the last good answer: an identical reload notifies nobody
    let value = Memo::new(move |last: Option<&Option<T>>| {
        data.with(|d| match d {
            Some(Ok(v)) => Some(v.clone()),
            _ => last.cloned().flatten(),
        })
    });
    let phase = Memo::new(move |_| {
        data.with(|d| match d {
            None => None,
            Some(Err(e)) => Some(Phase::Failed(e.clone())),
            Some(Ok(v)) if v.is_empty_listing() => Some(Phase::Empty),
            Some(Ok(_)) => Some(Phase::Ready),
        })
    });
    let content = Signal::derive(move || value.get().unwrap_or_default());
    let view = StoredValue::new(view);
    view! {
        <Transition fallback=move || view! { <p class="loading">{loading}</p> }>
            // reading the resource here registers it with the Transition (its fallback shows
            // until the first answer); the content below re-renders only when `phase` changes
            {move || data.with(|_| ())}
            {move || match phase.get() {
                None => Some(view! { <p class="loading">{loading}</p> }.into_any()),
                Some(Phase::Failed(e)) => Some(view! { <Failure error=e retry=Callback::new(move |()| data.refetch()) /> }.into_any()),
                Some(Phase::Empty) => Some(empty.run()),
                Some(Phase::Ready) => Some(view.with_value(|v| v(content)).into_any()),
            }}
        </Transition>
    }
}

/// A failed call as every page shows it, with a way to try again.
#[component]
pub fn Failure(error: ApiError, #[prop(optional)] retry: Option<Callback<()>>) -> impl IntoView {
    view! {
        <div class="failure" role="alert">
            <p class="field-error">{error.to_string()}</p>
            {retry.map(|retry| view! {
                <button type="button" class="secondary" on:click=move |_| retry.run(())>"Try again"</button>
            })}
        </div>
    }
}

type Fetch<Q, T> =
    Rc<dyn Fn(Q, String) -> Pin<Box<dyn Future<Output = Result<Page<T>, ApiError>>>>>;

/// The first page of a list, with the query it answers and which load it was.
#[derive(Clone, PartialEq, Default)]
pub struct Listed<Q, T> {
    load: u64,
    query: Q,
    pub page: Page<T>,
}

impl<Q, T> Listing for Listed<Q, T> {
    fn is_empty_listing(&self) -> bool {
        self.page.items.is_empty()
    }
}

/// The pages after the first that belong to first-page load `load`.
#[derive(Clone)]
struct More<T> {
    load: u64,
    items: Vec<T>,
    /// The token after the last page read; `None` until one was read.
    next: Option<Option<String>>,
    busy: bool,
    error: Option<ApiError>,
}

impl<T> Default for More<T> {
    fn default() -> Self {
        Self {
            load: 0,
            items: Vec::new(),
            next: None,
            busy: false,
            error: None,
        }
    }
}

/// A list read page by page: the first page follows `query` (a new query, or a reload, starts
/// over), and [`Paged::load_more`] appends the next page of the list on screen. An answer for a
/// list no longer on screen is dropped.
pub struct Paged<Q: 'static, T: 'static> {
    pub first: LocalResource<Result<Listed<Q, T>, ApiError>>,
    more: RwSignal<More<T>, LocalStorage>,
    fetch: StoredValue<Fetch<Q, T>, LocalStorage>,
}

impl<Q, T> Clone for Paged<Q, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<Q, T> Copy for Paged<Q, T> {}

impl<Q, T> Paged<Q, T>
where
    Q: Clone + 'static,
    T: Clone + 'static,
{
    pub fn new<Fut>(
        query: impl Fn() -> Q + 'static,
        fetch: impl Fn(Q, String) -> Fut + 'static,
    ) -> Self
    where
        Fut: Future<Output = Result<Page<T>, ApiError>> + 'static,
    {
        let fetch: Fetch<Q, T> = Rc::new(move |q, token| Box::pin(fetch(q, token)));
        let loads = StoredValue::new(0_u64);
        let first_fetch = fetch.clone();
        let first = LocalResource::new(move || {
            let query = query();
            loads.update_value(|n| *n += 1);
            let load = loads.get_value();
            let fetch = first_fetch.clone();
            async move {
                let page = fetch(query.clone(), String::new()).await?;
                Ok(Listed { load, query, page })
            }
        });
        Self {
            first,
            more: RwSignal::new_local(More::default()),
            fetch: StoredValue::new_local(fetch),
        }
    }

    /// Every item on screen: the first page and the pages after it.
    pub fn items(&self) -> Vec<T> {
        let more = self.more;
        self.first.with(|f| match f {
            Some(Ok(listed)) => {
                let mut all = listed.page.items.clone();
                more.with(|m| {
                    if m.load == listed.load {
                        all.extend(m.items.iter().cloned());
                    }
                });
                all
            }
            _ => Vec::new(),
        })
    }

    /// What the next page continues: (load, query, token), if there is a next page.
    fn next(&self) -> Option<(u64, Q, String)> {
        let more = self.more;
        self.first.with(|f| {
            let listed = f.as_ref()?.as_ref().ok()?;
            let token = more.with(|m| match (&m.next, m.load == listed.load) {
                (Some(next), true) => next.clone(),
                _ => listed.page.next.clone(),
            })?;
            Some((listed.load, listed.query.clone(), token))
        })
    }

    pub fn has_more(&self) -> bool {
        self.next().is_some()
    }

    pub fn busy(&self) -> bool {
        self.more.with(|m| m.busy)
    }

    pub fn more_error(&self) -> Option<ApiError> {
        self.more.with(|m| m.error.clone())
    }

    /// Reads the first page again (the pages after it are dropped).
    pub fn reload(&self) {
        self.first.refetch();
    }

    /// Shows the list for `query` (a filter form's submit): a changed query replaces the
    /// `applied` one, which the list follows; the same query submitted again reloads it.
    pub fn apply(&self, applied: RwSignal<Q>, query: Q)
    where
        Q: PartialEq + Send + Sync,
    {
        if applied.with_untracked(|a| *a == query) {
            self.reload();
        } else {
            applied.set(query);
        }
    }

    /// Appends the next page of the list on screen.
    pub fn load_more(&self) {
        let Some((load, query, token)) = self.next() else {
            return;
        };
        let (more, first) = (self.more, self.first);
        more.update(|m| {
            if m.load != load {
                *m = More {
                    load,
                    ..More::default()
                };
            }
            m.busy = true;
            m.error = None;
        });
        let fetch = self.fetch.get_value();
        spawn_local(async move {
            let answer = fetch(query, token).await;
            let current =
                first.with_untracked(|f| f.as_ref().and_then(|r| r.as_ref().ok()).map(|l| l.load));
            if current != Some(load) {
                return; // the list was reloaded meanwhile: this page belongs to an older one
            }
            more.update(|m| {
                m.busy = false;
                match answer {
                    Ok(page) => {
                        m.items.extend(page.items);
                        m.next = Some(page.next);
                    }
                    Err(e) => m.error = Some(e),
                }
            });
        });
    }
}

/// The "show more" button of a [`Paged`] list, and what went wrong loading more.
#[component]
pub fn MoreButton<Q: Clone + 'static, T: Clone + 'static>(
    paged: Paged<Q, T>,
    label: &'static str,
) -> impl IntoView {
    view! {
        <Show when=move || paged.has_more()>
            <button type="button" class="more-button" disabled=move || paged.busy() on:click=move |_| paged.load_more()>
                {move || if paged.busy() { "Loading…" } else { label }}
            </button>
        </Show>
        {move || paged.more_error().map(|e| view! { <Failure error=e /> })}
    }
}
