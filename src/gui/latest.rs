//! "Newest request wins": the tag every background request carries, so that a result that
//! arrives after a newer request was made is dropped (or shown as stale).

/// Tags requests with increasing numbers; only the newest tag is current.
///
/// The first tag is 1; before any request the current tag is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latest(u64);

impl Latest {
    /// Tags a new request: the results of every earlier one are stale from now on.
    pub fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }

    /// The tag of the newest request.
    pub fn current(&self) -> u64 {
        self.0
    }

    /// Whether a result with this tag answers the newest request.
    pub fn is_current(&self, id: u64) -> bool {
        id == self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Latest;

    #[test]
    fn only_the_newest_request_is_current() {
        let mut l = Latest::default();
        assert_eq!(l.current(), 0);
        assert!(l.is_current(0));
        let a = l.next();
        assert_eq!(a, 1);
        assert!(l.is_current(a));
        let b = l.next();
        assert_eq!((b, l.current()), (2, 2));
        assert!(!l.is_current(a));
        assert!(l.is_current(b));
    }

    #[test]
    fn a_copy_keeps_counting_where_the_original_was() {
        let mut l = Latest::default();
        l.next();
        let mut kept = l;
        assert_eq!(kept.next(), 2);
        assert!(!kept.is_current(1));
    }
}
