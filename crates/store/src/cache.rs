//! The instances the API asked about lately, kept in memory so that
//! authenticating a request (or finding the instance of a Meta webhook's
//! account) does not cost a database round trip.
//!
//! Invariants:
//! - An entry is only ever a row as it was read from the database after
//!   the last commit that changed it on this node: the writer invalidates
//!   the instances a batch changed *after* that batch commits (see
//!   `writer::apply_batch`), and every invalidation bumps a generation: a
//!   read that started before it (and may have seen the old row) is not
//!   kept.
//! - Changes made elsewhere (another node on PostgreSQL, the CLI on the
//!   same SQLite file) are seen within [`InstanceCache::TTL`]; on
//!   PostgreSQL other nodes also announce them (NOTIFY), so in practice at
//!   once. A stale entry can let a request through for at most that long
//!   after its instance was deleted or its token replaced elsewhere; the
//!   writer checks that the instance still exists before it accepts any
//!   message, so nothing is queued for a deleted instance.
//! - Only found instances are cached; an unknown id or token always asks
//!   the database.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chatgate_core::ids::TokenHash;
use chatgate_core::{Instance, InstanceId};

/// Recently read instances, by id and by API token hash.
#[derive(Debug, Default)]
pub struct InstanceCache {
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    generation: u64,
    by_id: HashMap<InstanceId, Cached>,
    by_token: HashMap<String, InstanceId>,
    by_account: HashMap<String, InstanceId>,
}

#[derive(Debug, Clone)]
struct Cached {
    instance: Instance,
    token: TokenHash,
    read_at: Instant,
}

impl InstanceCache {
    /// How long an entry is trusted without a word from the writer.
    pub const TTL: Duration = Duration::from_secs(2);
    /// Most entries kept; beyond, expired ones are dropped, then all.
    pub const CAPACITY: usize = 100_000;

    /// The instance with this id, when read less than [`Self::TTL`] ago.
    pub fn get(&self, id: InstanceId) -> Option<(Instance, TokenHash)> {
        let entries = self.lock();
        let cached = entries.by_id.get(&id)?;
        fresh(cached).then(|| (cached.instance.clone(), cached.token.clone()))
    }

    /// The instance whose token has this hash, when read less than
    /// [`Self::TTL`] ago. The hashes are compared in constant time.
    pub fn get_by_token(&self, hash: &TokenHash) -> Option<Instance> {
        let entries = self.lock();
        let id = entries.by_token.get(hash.as_str())?;
        let cached = entries.by_id.get(id)?;
        (fresh(cached) && cached.token.matches(hash)).then(|| cached.instance.clone())
    }

    /// The generation to pass to [`Self::put`]: take it before reading the
    /// row from the database.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// The newest instance connected to this messenger account, when read
    /// less than [`Self::TTL`] ago.
    pub fn get_by_account(&self, account_id: &str) -> Option<Instance> {
        let entries = self.lock();
        let id = entries.by_account.get(account_id)?;
        let cached = entries.by_id.get(id)?;
        let still = cached.instance.account.as_ref().is_some_and(|a| a.id == account_id);
        (fresh(cached) && still).then(|| cached.instance.clone())
    }

    /// Keeps the instance just read as the one of this account.
    pub fn put_for_account(
        &self,
        generation: u64,
        account_id: &str,
        instance: &Instance,
        token: &TokenHash,
    ) {
        if self.put(generation, instance, token) {
            self.lock().by_account.insert(account_id.to_owned(), instance.id);
        }
    }

    /// Keeps an instance as just read from the database, unless something
    /// was invalidated since `generation` was taken (the row read may be
    /// older than that change). Returns whether it was kept.
    pub fn put(&self, generation: u64, instance: &Instance, token: &TokenHash) -> bool {
        let mut entries = self.lock();
        if entries.generation != generation {
            return false;
        }
        if entries.by_id.len() >= Self::CAPACITY {
            entries.by_id.retain(|_, cached| fresh(cached));
            if entries.by_id.len() >= Self::CAPACITY {
                entries.by_id.clear();
            }
            let Entries { by_id, by_token, by_account, .. } = &mut *entries;
            by_token.retain(|_, id| by_id.contains_key(id));
            by_account.retain(|_, id| by_id.contains_key(id));
        }
        let cached =
            Cached { instance: instance.clone(), token: token.clone(), read_at: Instant::now() };
        if let Some(old) = entries.by_id.insert(instance.id, cached)
            && old.token.as_str() != token.as_str()
        {
            entries.by_token.remove(old.token.as_str());
        }
        entries.by_token.insert(token.as_str().to_owned(), instance.id);
        true
    }

    /// Forgets instances that were changed.
    pub fn invalidate(&self, ids: impl IntoIterator<Item = InstanceId>) {
        let mut entries = self.lock();
        entries.generation += 1;
        let mut any = false;
        for id in ids {
            any = true;
            if let Some(old) = entries.by_id.remove(&id) {
                entries.by_token.remove(old.token.as_str());
            }
        }
        // A change to one instance (connecting it to an account) can make
        // another the one an account resolves to: forget all of those.
        if any {
            entries.by_account.clear();
        }
    }

    /// Forgets everything (e.g. when the announcements from other nodes
    /// may have been missed).
    pub fn clear(&self) {
        let mut entries = self.lock();
        entries.generation += 1;
        entries.by_id.clear();
        entries.by_token.clear();
        entries.by_account.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn fresh(cached: &Cached) -> bool {
    cached.read_at.elapsed() < InstanceCache::TTL
}

#[cfg(test)]
mod tests {
    use chatgate_core::instance::{InstanceState, WebhookSecrets};
    use chatgate_core::webhook::WebhookSecret;
    use chatgate_core::{ConnectorKind, Settings, Timestamp, WebhookFormat};

    use super::*;

    fn id(n: u64) -> InstanceId {
        InstanceId::new(1_000_000_000 + n).unwrap()
    }

    fn instance(n: u64) -> Instance {
        Instance {
            id: id(n),
            kind: ConnectorKind::Sandbox,
            name: String::new(),
            state: InstanceState::Authorized,
            state_reason: None,
            active: true,
            settings: Settings::switches_on(),
            webhook_format: WebhookFormat::Native,
            webhook_secrets: WebhookSecrets { current: WebhookSecret::generate(), previous: None },
            account: None,
            access_token: None,
            created_at: Timestamp::EPOCH,
        }
    }

    #[test]
    fn a_cached_instance_is_found_by_id_and_by_its_token_only() {
        let cache = InstanceCache::default();
        let token = TokenHash::of("right");
        assert!(cache.put(cache.generation(), &instance(1), &token));
        assert!(cache.get(id(1)).is_some());
        assert!(cache.get_by_token(&token).is_some());
        assert!(cache.get_by_token(&TokenHash::of("wrong")).is_none());
        assert!(cache.get(id(2)).is_none());
    }

    #[test]
    fn a_read_that_started_before_an_invalidation_is_not_kept() {
        let cache = InstanceCache::default();
        let token = TokenHash::of("t");
        let before = cache.generation();
        cache.invalidate([id(1)]);
        assert!(!cache.put(before, &instance(1), &token));
        assert!(cache.get(id(1)).is_none());
    }

    #[test]
    fn an_invalidated_instance_is_forgotten_by_id_token_and_account() {
        let cache = InstanceCache::default();
        let token = TokenHash::of("t");
        cache.put_for_account(cache.generation(), "acct", &instance(1), &token);
        cache.invalidate([id(1)]);
        assert!(cache.get(id(1)).is_none());
        assert!(cache.get_by_token(&token).is_none());
        assert!(cache.get_by_account("acct").is_none());
    }

    #[test]
    fn an_entry_older_than_its_lifetime_is_not_used() {
        let cache = InstanceCache::default();
        let token = TokenHash::of("t");
        cache.put(cache.generation(), &instance(1), &token);
        let long_ago = Instant::now().checked_sub(InstanceCache::TTL * 2);
        let Some(long_ago) = long_ago else { return };
        for cached in cache.lock().by_id.values_mut() {
            cached.read_at = long_ago;
        }
        assert!(cache.get(id(1)).is_none());
        assert!(cache.get_by_token(&token).is_none());
    }
}
