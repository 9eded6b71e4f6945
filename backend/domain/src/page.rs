//! Paging for List RPCs: a bounded page size and an opaque token.

use crate::DomainError;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;

/// A checked page request: `offset` rows skipped, at most `size` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub offset: u64,
    pub size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The token for the next page; `None` at the end.
    pub next: Option<String>,
}

impl PageRequest {
    /// `size` 0 means the default; above [`MAX_PAGE_SIZE`] is refused, not silently cut.
    pub fn parse(size: u32, token: &str) -> Result<Self, DomainError> {
        let size = match size {
            0 => DEFAULT_PAGE_SIZE,
            n if n > MAX_PAGE_SIZE => {
                return Err(DomainError::invalid(
                    "page_size",
                    format!("at most {MAX_PAGE_SIZE}"),
                ));
            }
            n => n,
        };
        let offset = if token.is_empty() {
            0
        } else {
            token
                .strip_prefix("o")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| {
                    DomainError::invalid("page_token", "not a token from a previous response")
                })?
        };
        Ok(Self { offset, size })
    }

    /// The page from `fetched`, which holds up to `size + 1` rows (the extra one says "more").
    pub fn page<T>(self, mut fetched: Vec<T>) -> Page<T> {
        let more = fetched.len() > self.size as usize;
        fetched.truncate(self.size as usize);
        Page {
            next: more.then(|| format!("o{}", self.offset + u64::from(self.size))),
            items: fetched,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_default_and_oversized_ones_are_refused() {
        assert_eq!(PageRequest::parse(0, "").unwrap().size, DEFAULT_PAGE_SIZE);
        assert!(PageRequest::parse(MAX_PAGE_SIZE + 1, "").is_err());
        assert!(PageRequest::parse(10, "garbage").is_err());
    }

    #[test]
    fn a_page_says_whether_more_follow() {
        let req = PageRequest::parse(2, "").unwrap();
        let page = req.page(vec![1, 2, 3]);
        assert_eq!(page.items, vec![1, 2]);
        let next = PageRequest::parse(2, page.next.as_deref().unwrap()).unwrap();
        assert_eq!(next.offset, 2);
        assert_eq!(next.page(vec![3]).next, None);
    }
}
