//! The one place that reads the clock. certslot takes every instant as an argument; the fleet's
//! programs take them from here: the system clock, a fixed instant (`--now` of an admin
//! command), or the system clock shifted to start at a given instant (`--now` of an agent or a
//! coordinator, for tests).

use certslot::{OffsetDateTime, Store};
use time::Duration;

/// Where instants come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// Always this instant.
    Fixed(OffsetDateTime),
    /// The system clock plus this offset.
    Shifted(Duration),
}

impl Clock {
    /// How far a running clock may be behind the store's before the store's is used: another
    /// machine's clock a little ahead must not make every operation fail as going back in time.
    pub const MAX_SKEW: Duration = Duration::minutes(5);

    /// The system clock shifted so that it reads `at` now.
    pub fn starting_at(at: OffsetDateTime) -> Self {
        Self::Shifted(at - OffsetDateTime::now_utc())
    }

    /// The current instant.
    pub fn now(&self) -> OffsetDateTime {
        match self {
            Self::System => OffsetDateTime::now_utc(),
            Self::Fixed(at) => *at,
            Self::Shifted(offset) => OffsetDateTime::now_utc().saturating_add(*offset),
        }
    }

    /// The instant for an operation on `store`: [`Clock::now`], except that a running clock up
    /// to [`Clock::MAX_SKEW`] behind the store's latest instant gives that instant (clocks of
    /// different machines differ a little; the store refuses instants before its own). A fixed
    /// instant is used as it is.
    pub fn instant_for(&self, store: &Store) -> OffsetDateTime {
        let now = self.now();
        match (self, store.clock()) {
            (Self::Fixed(_), _) | (_, None) => now,
            (_, Some(last)) if last > now && last - now <= Self::MAX_SKEW => last,
            _ => now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_clock_a_little_behind_the_store_uses_the_stores_instant() {
        let mut store = Store::new();
        let ahead = OffsetDateTime::now_utc() + Duration::minutes(2);
        store.add_site("redmond").unwrap();
        store.add_pool("pool01.contoso.com", "redmond").unwrap();
        store.add_server("fe01.contoso.com", "pool01.contoso.com").unwrap();
        store.record_holdings("fe01.contoso.com", [], ahead).unwrap();
        assert_eq!(Clock::System.instant_for(&store), ahead);
        let far = OffsetDateTime::now_utc() + Duration::hours(1);
        store.record_holdings("fe01.contoso.com", [], far).unwrap();
        assert!(Clock::System.instant_for(&store) < far);
        let fixed = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(Clock::Fixed(fixed).instant_for(&store), fixed);
    }

    #[test]
    fn a_shifted_clock_starts_at_the_given_instant() {
        let at = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let clock = Clock::starting_at(at);
        let now = clock.now();
        assert!(now >= at && now - at < Duration::seconds(5), "{now}");
    }
}
