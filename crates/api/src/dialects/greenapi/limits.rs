//! GREEN-API's per-instance, per-method request limits (requests per
//! second; beyond them a 429) and its monthly quota (466).

use std::num::NonZeroU32;

use chatgate_core::InstanceId;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The documented limits, requests per second per instance.
pub fn rate_of(method: &str) -> u32 {
    match method {
        "getsettings"
        | "setsettings"
        | "getstateinstance"
        | "getwasettings"
        | "reboot"
        | "logout"
        | "getchathistory"
        | "lastincomingmessages"
        | "lastoutgoingmessages"
        | "getcontactinfo"
        | "clearmessagesqueue"
        | "showmessagesqueue"
        | "getincomingstatuses"
        | "getoutgoingstatuses" => 1,
        "downloadfile" | "uploadfile" => 5,
        "getmessage" | "readchat" | "getmessagescount" | "getwebhookscount"
        | "clearwebhooksqueue" => 10,
        "receivenotification" | "deletenotification" => 100,
        // Sending and everything else.
        _ => 50,
    }
}

/// One keyed limiter per documented rate, keyed by instance and method:
/// each method has its own budget.
pub struct Limits {
    limiters: Vec<(u32, DefaultKeyedRateLimiter<(InstanceId, String)>)>,
}

impl Limits {
    /// The documented limits.
    pub fn new() -> Self {
        let limiters = [1, 5, 10, 50, 100]
            .into_iter()
            .filter_map(|rate| {
                let quota = Quota::per_second(NonZeroU32::new(rate)?);
                Some((rate, RateLimiter::keyed(quota)))
            })
            .collect();
        Self { limiters }
    }

    /// Whether the instance may call `method` (lowercase) now.
    pub fn allow(&self, instance: InstanceId, method: &str) -> bool {
        let rate = rate_of(method);
        self.limiters
            .iter()
            .find(|(r, _)| *r == rate)
            .is_none_or(|(_, limiter)| limiter.check_key(&(instance, method.to_owned())).is_ok())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::new()
    }
}

/// The sending methods the monthly quota counts.
pub fn counts_against_quota(method: &str) -> bool {
    matches!(
        method,
        "sendmessage"
            | "sendfilebyurl"
            | "sendfilebyupload"
            | "sendlocation"
            | "sendcontact"
            | "sendinteractivebuttons"
            | "sendinteractivebuttonsreply"
            | "sendlistmessage"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_settings_call_in_a_second_is_refused_but_sending_is_not() {
        let limits = Limits::new();
        let id = InstanceId::generate();
        assert!(limits.allow(id, "getsettings"));
        assert!(!limits.allow(id, "getsettings"));
        for _ in 0..10 {
            assert!(limits.allow(id, "sendmessage"));
        }
        assert!(limits.allow(InstanceId::generate(), "getsettings"), "per instance");
        assert!(limits.allow(id, "getstateinstance"), "per method");
    }
}
