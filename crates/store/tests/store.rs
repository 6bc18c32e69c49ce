//! The store on real databases — a SQLite file and a PostgreSQL schema —
//! with the same tests: group commit under concurrency, leases, the lane
//! invariant, receipts, reopening. Each test runs once per backend
//! (`…::sqlite`, `…::postgres`).

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use chatgate_core::WebhookFormat;
use chatgate_core::instance::{Account, SealedToken};
use chatgate_core::message::NewMessage;
use chatgate_core::store::{
    ClaimRequest, Enqueued, Finish, Finished, NewInstance, Receipt, ReceiptOutcome, Store,
    StoreError, WorkTotals, WorkerId,
};
use chatgate_core::webhook::WebhookSecret;
use chatgate_core::{
    ApiToken, ConnectorKind, Content, Instance, InstanceId, InstanceState, MessageId,
    MessageStatus, Recipient, Settings, Timestamp, TokenHash,
};
use chatgate_store::{Durability, PostgresOptions, PostgresStore, SqliteOptions, SqliteStore};

const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);

/// A database for one test: a SQLite file or a PostgreSQL schema.
enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl TestDb {
    fn sqlite() -> TestDb {
        TestDb::Sqlite(tempfile::tempdir().unwrap())
    }

    async fn postgres() -> Option<TestDb> {
        chatgate_store::testing::fresh_postgres_schema().await.map(TestDb::Postgres)
    }

    /// Runs one SQL statement on this database, outside the store (what an
    /// older chatgate, or someone with a copy of the database, would do).
    async fn execute(&self, sql: &str) {
        match self {
            TestDb::Sqlite(dir) => {
                use sqlx::Connection;
                let path = dir.path().join("chatgate.db");
                let mut conn =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .unwrap();
                sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.unwrap();
            }
            TestDb::Postgres(url) => {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.unwrap();
            }
        }
    }

    /// One text column of one instance row, as stored.
    async fn stored(&self, column: &str, id: InstanceId) -> Option<String> {
        let sql = format!("SELECT {column} FROM instances WHERE id = {id}");
        match self {
            TestDb::Sqlite(dir) => {
                use sqlx::Connection;
                let path = dir.path().join("chatgate.db");
                let mut conn =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .unwrap();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&mut conn).await.unwrap()
            }
            TestDb::Postgres(url) => {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&mut conn).await.unwrap()
            }
        }
    }

    /// Opens (again) the store on this database.
    async fn open(&self) -> Arc<dyn Store> {
        self.open_with(test_vault()).await
    }

    /// Opens the store with the server key of `vault`.
    async fn open_with(&self, vault: Arc<chatgate_core::vault::Vault>) -> Arc<dyn Store> {
        match self {
            TestDb::Sqlite(dir) => {
                let mut options = SqliteOptions::new(dir.path().join("chatgate.db"), vault);
                options.durability = Durability::Full;
                SqliteStore::open(options).await.unwrap()
            }
            TestDb::Postgres(url) => {
                PostgresStore::open_postgres(PostgresOptions::new(url.clone(), vault))
                    .await
                    .unwrap()
            }
        }
    }
}

/// The server key of every store in these tests (one key, so a store
/// opened again reads what it wrote).
fn test_vault() -> Arc<chatgate_core::vault::Vault> {
    Arc::new(chatgate_core::vault::Vault::new(&[9; chatgate_core::vault::KEY_LEN]))
}

/// Runs each named test once per backend.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[tokio::test]
                async fn sqlite() {
                    super::$test(super::TestDb::sqlite()).await;
                }

                #[tokio::test]
                async fn postgres() {
                    if let Some(db) = super::TestDb::postgres().await {
                        super::$test(db).await;
                    }
                }
            }
        )*
    };
}

on_both_backends!(
    concurrent_enqueues_are_all_committed_and_each_instance_keeps_its_order,
    an_instance_is_leased_to_one_worker_at_a_time,
    an_expired_lease_passes_the_message_to_another_worker_and_the_first_loses_it,
    released_leases_pass_the_work_to_another_worker_at_once,
    the_pacing_gap_counts_from_the_end_of_the_previous_attempt,
    a_not_authorized_instance_holds_its_queue_until_authorized_again,
    an_unauthorized_send_puts_the_message_back_and_holds_the_instance,
    receipts_only_move_a_message_forward,
    instances_are_found_by_token_hash_and_not_after_deletion,
    an_instance_read_before_a_change_is_read_anew_after_it,
    an_account_resolves_to_its_live_instance_as_connections_change,
    everything_is_still_there_after_reopening_the_store,
    a_closed_store_refuses_writes_as_unavailable,
    the_admin_overview_counts_backlogs_per_instance_and_lists_the_latest_events,
    the_work_totals_count_queued_messages_and_pending_notifications,
    platform_ids_and_contacts_are_matched_within_their_own_instance,
    secrets_written_in_clear_before_sealing_are_sealed_when_the_store_opens,
    pushes_finished_together_are_each_recorded_as_if_finished_alone,
    a_failing_change_in_a_group_commit_is_undone_alone,
    a_due_lane_with_nothing_to_push_does_not_hide_the_next_one,
);

async fn instance(store: &dyn Store, delay_ms: u32) -> (Instance, ApiToken) {
    let token = ApiToken::generate();
    let settings =
        Settings { delay_send_messages_milliseconds: delay_ms, ..Settings::switches_on() };
    let instance = store
        .create_instance(NewInstance {
            id: InstanceId::generate(),
            kind: ConnectorKind::Sandbox,
            name: "t".into(),
            token_hash: token.hash(),
            token_sealed: String::new(),
            state: InstanceState::Authorized,
            settings,
            webhook_format: WebhookFormat::Native,
            webhook_secret: WebhookSecret::generate(),
            account: None,
            service_secret_sealed: String::new(),
            created_at: T0,
        })
        .await
        .unwrap();
    (instance, token)
}

fn new_message(instance: InstanceId, text: &str, at: Timestamp) -> NewMessage {
    NewMessage {
        id: MessageId::generate(),
        instance_id: instance,
        recipient: Recipient::User("u1".into()),
        content: Content::text(text),
        idempotency_key: None,
        request_fingerprint: None,
        recipient_username: None,
        callback: None,
        created_at: at,
    }
}

fn claim_at(now: Timestamp, owner: &str) -> ClaimRequest {
    ClaimRequest {
        now,
        lease_until: now.plus(Duration::from_secs(60)),
        owner: WorkerId(owner.into()),
        limit: 10,
        expire_created_before: now.minus(Duration::from_secs(86_400)),
    }
}

fn sent() -> Finish {
    Finish::Sent {
        provider_message_id: format!("mid.{}", MessageId::generate()),
        simulated_receipts: vec![],
    }
}

async fn concurrent_enqueues_are_all_committed_and_each_instance_keeps_its_order(db: TestDb) {
    let store = db.open().await;
    let mut instances = Vec::new();
    for _ in 0..10 {
        instances.push(instance(&*store, 0).await.0);
    }
    // 10 instances × 50 messages, every instance's messages sent from its
    // own task in order, all tasks at once: the writer batches them.
    let mut tasks = Vec::new();
    for instance in &instances {
        let store = store.clone();
        let id = instance.id;
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..50 {
                match store.enqueue(new_message(id, &format!("{n}"), T0)).await.unwrap() {
                    Enqueued::Accepted(m) => ids.push(m.id),
                    other => panic!("{other:?}"),
                }
            }
            ids
        }));
    }
    let mut sent_order = Vec::new();
    for task in tasks {
        sent_order.push(task.await.unwrap());
    }
    for (instance, ids) in instances.iter().zip(&sent_order) {
        assert_eq!(store.queue_count(instance.id).await.unwrap(), 50);
        let queued: Vec<_> =
            store.queue(instance.id, 100).await.unwrap().iter().map(|m| m.id).collect();
        assert_eq!(&queued, ids, "FIFO per instance");
    }
    // Every lane is ready: one claim takes the head of each instance.
    let claims =
        store.claim_outbound(ClaimRequest { limit: 100, ..claim_at(T0, "w") }).await.unwrap();
    assert_eq!(claims.len(), 10);
    for claim in &claims {
        let i = instances.iter().position(|x| x.id == claim.instance.id).unwrap();
        assert_eq!(claim.message.id, sent_order[i][0]);
    }
}

async fn an_instance_is_leased_to_one_worker_at_a_time(db: TestDb) {
    let store = db.open().await;
    let (instance, _) = instance(&*store, 0).await;
    store.enqueue(new_message(instance.id, "a", T0)).await.unwrap();
    store.enqueue(new_message(instance.id, "b", T0)).await.unwrap();
    let first = store.claim_outbound(claim_at(T0, "w1")).await.unwrap();
    assert_eq!(first.len(), 1);
    let second = store.claim_outbound(claim_at(T0, "w2")).await.unwrap();
    assert!(second.is_empty(), "the second message waits for the first to finish");
    assert_eq!(
        store.next_outbound_at().await.unwrap(),
        Some(T0.plus(Duration::from_secs(60))),
        "a leased lane is next looked at when its lease runs out"
    );
}

async fn an_expired_lease_passes_the_message_to_another_worker_and_the_first_loses_it(db: TestDb) {
    let store = db.open().await;
    let (instance, _) = instance(&*store, 0).await;
    store.enqueue(new_message(instance.id, "a", T0)).await.unwrap();
    let a = store.claim_outbound(claim_at(T0, "a")).await.unwrap().remove(0);
    let later = T0.plus(Duration::from_secs(61));
    let b = store.claim_outbound(claim_at(later, "b")).await.unwrap().remove(0);
    assert_eq!(b.message.id, a.message.id);
    assert_eq!(b.message.attempts, 2);

    assert_eq!(
        store.finish_outbound(&a, &WorkerId("a".into()), sent(), Vec::new(), later).await.unwrap(),
        Finished::LeaseLost
    );
    assert_eq!(
        store.finish_outbound(&b, &WorkerId("b".into()), sent(), Vec::new(), later).await.unwrap(),
        Finished::Applied
    );
    let message = store.message(instance.id, a.message.id).await.unwrap().unwrap();
    assert_eq!(message.status, MessageStatus::Sent);
}

async fn released_leases_pass_the_work_to_another_worker_at_once(db: TestDb) {
    let store = db.open().await;
    let (first, _) = instance(&*store, 0).await;
    let (second, _) = instance(&*store, 0).await;
    let (other, _) = instance(&*store, 0).await;
    for i in [&first, &second, &other] {
        store.enqueue(new_message(i.id, "a", T0)).await.unwrap();
    }
    let a = store.claim_outbound(ClaimRequest { limit: 2, ..claim_at(T0, "a") }).await.unwrap();
    assert_eq!(a.len(), 2);
    let b = store.claim_outbound(claim_at(T0, "b")).await.unwrap();
    assert_eq!(b.len(), 1, "the third instance went to b");

    // a stops: its two lanes are free now, not after the lease; b's stays b's.
    assert_eq!(store.release_leases(&WorkerId("a".into())).await.unwrap(), 2);
    assert_eq!(store.release_leases(&WorkerId("a".into())).await.unwrap(), 0, "idempotent");
    assert_eq!(store.next_outbound_at().await.unwrap(), Some(T0));
    let c = store.claim_outbound(claim_at(T0, "c")).await.unwrap();
    let mut taken: Vec<_> = c.iter().map(|claim| claim.message.id).collect();
    let mut released: Vec<_> = a.iter().map(|claim| claim.message.id).collect();
    taken.sort();
    released.sort();
    assert_eq!(taken, released, "c takes over exactly a's messages, b's lease holds");
    assert!(c.iter().all(|claim| claim.message.attempts == 2));

    // a's late answer no longer counts; c's does, once.
    assert_eq!(
        store.finish_outbound(&a[0], &WorkerId("a".into()), sent(), Vec::new(), T0).await.unwrap(),
        Finished::LeaseLost
    );
    for claim in &c {
        assert_eq!(
            store
                .finish_outbound(claim, &WorkerId("c".into()), sent(), Vec::new(), T0)
                .await
                .unwrap(),
            Finished::Applied
        );
    }
    assert_eq!(
        store.finish_outbound(&b[0], &WorkerId("b".into()), sent(), Vec::new(), T0).await.unwrap(),
        Finished::Applied
    );
}

async fn the_pacing_gap_counts_from_the_end_of_the_previous_attempt(db: TestDb) {
    let store = db.open().await;
    let (instance, _) = instance(&*store, 1000).await;
    store.enqueue(new_message(instance.id, "a", T0)).await.unwrap();
    store.enqueue(new_message(instance.id, "b", T0)).await.unwrap();
    let claim = store.claim_outbound(claim_at(T0, "w")).await.unwrap().remove(0);
    let finished_at = T0.plus(Duration::from_millis(250));
    store
        .finish_outbound(&claim, &WorkerId("w".into()), sent(), Vec::new(), finished_at)
        .await
        .unwrap();
    assert_eq!(
        store.next_outbound_at().await.unwrap(),
        Some(finished_at.plus(Duration::from_millis(1000)))
    );
    let early = finished_at.plus(Duration::from_millis(999));
    assert!(store.claim_outbound(claim_at(early, "w")).await.unwrap().is_empty());
    let due = finished_at.plus(Duration::from_millis(1000));
    assert_eq!(store.claim_outbound(claim_at(due, "w")).await.unwrap().len(), 1);
}

async fn a_not_authorized_instance_holds_its_queue_until_authorized_again(db: TestDb) {
    let store = db.open().await;
    let (instance, _) = instance(&*store, 0).await;
    store.enqueue(new_message(instance.id, "a", T0)).await.unwrap();
    let held = store
        .set_state(instance.id, InstanceState::NotAuthorized, Some("token expired"), T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.state, InstanceState::NotAuthorized);
    assert_eq!(held.state_reason.as_deref(), Some("token expired"));
    assert!(store.claim_outbound(claim_at(T0, "w")).await.unwrap().is_empty());
    assert_eq!(store.next_outbound_at().await.unwrap(), None);
    store.set_state(instance.id, InstanceState::Authorized, None, T0).await.unwrap();
    assert_eq!(store.claim_outbound(claim_at(T0, "w")).await.unwrap().len(), 1);
}

async fn an_unauthorized_send_puts_the_message_back_and_holds_the_instance(db: TestDb) {
    let store = db.open().await;
    let (instance, _) = instance(&*store, 0).await;
    store.enqueue(new_message(instance.id, "a", T0)).await.unwrap();
    let claim = store.claim_outbound(claim_at(T0, "w")).await.unwrap().remove(0);
    let finish = Finish::Unauthorized { reason: "Error validating access token".into() };
    store.finish_outbound(&claim, &WorkerId("w".into()), finish, Vec::new(), T0).await.unwrap();
    let (held, _) = store.instance(instance.id).await.unwrap().unwrap();
    assert_eq!(held.state, InstanceState::NotAuthorized);
    assert_eq!(store.queue_count(instance.id).await.unwrap(), 1);
    assert!(store.claim_outbound(claim_at(T0, "w")).await.unwrap().is_empty());
}

async fn receipts_only_move_a_message_forward(db: TestDb) {
    let store = db.open().await;
    let (instance, _) = instance(&*store, 0).await;
    store.enqueue(new_message(instance.id, "a", T0)).await.unwrap();
    let claim = store.claim_outbound(claim_at(T0, "w")).await.unwrap().remove(0);
    let finish = Finish::Sent { provider_message_id: "mid.1".into(), simulated_receipts: vec![] };
    store.finish_outbound(&claim, &WorkerId("w".into()), finish, Vec::new(), T0).await.unwrap();
    let receipt = |status, provider: &str| Receipt {
        instance_id: instance.id,
        provider_message_id: provider.into(),
        status,
        at: T0,
        detail: None,
    };
    let outcome = |r| store.record_receipt(r);
    assert_eq!(
        outcome(receipt(MessageStatus::Delivered, "mid.unknown")).await.unwrap(),
        ReceiptOutcome::Unknown
    );
    assert_eq!(
        outcome(receipt(MessageStatus::Read, "mid.1")).await.unwrap(),
        ReceiptOutcome::Applied
    );
    assert_eq!(
        outcome(receipt(MessageStatus::Delivered, "mid.1")).await.unwrap(),
        ReceiptOutcome::Stale
    );
    let message = store.message(instance.id, claim.message.id).await.unwrap().unwrap();
    assert_eq!(message.status, MessageStatus::Read);
}

async fn instances_are_found_by_token_hash_and_not_after_deletion(db: TestDb) {
    let store = db.open().await;
    let (instance, token) = instance(&*store, 0).await;
    let found = store.instance_by_token(&TokenHash::of(token.reveal())).await.unwrap();
    assert_eq!(found.map(|i| i.id), Some(instance.id));
    assert!(store.instance_by_token(&TokenHash::of("nope")).await.unwrap().is_none());
    assert!(store.delete_instance(instance.id, T0, "gone").await.unwrap());
    assert!(store.instance_by_token(&token.hash()).await.unwrap().is_none());
    let late = store.enqueue(new_message(instance.id, "late", T0)).await;
    assert_eq!(late.unwrap_err(), StoreError::InstanceGone);
}

/// Reads are served from the instance cache; every change made through the
/// store is seen by the very next read (the writer forgets what it changed).
async fn an_instance_read_before_a_change_is_read_anew_after_it(db: TestDb) {
    let store = db.open().await;
    let (instance, token) = instance(&*store, 0).await;
    let (before, _) = store.instance(instance.id).await.unwrap().unwrap();
    assert_eq!(before.settings.delay_send_messages_milliseconds, 0);
    let by_token = store.instance_by_token(&token.hash()).await.unwrap().unwrap();
    assert_eq!(by_token.state, InstanceState::Authorized);

    let settings = Settings { delay_send_messages_milliseconds: 1500, ..before.settings.clone() };
    store.update_settings(instance.id, &settings).await.unwrap().unwrap();
    let (after, _) = store.instance(instance.id).await.unwrap().unwrap();
    assert_eq!(after.settings.delay_send_messages_milliseconds, 1500);

    store
        .set_state(instance.id, InstanceState::NotAuthorized, Some("token expired"), T0)
        .await
        .unwrap();
    let by_token = store.instance_by_token(&token.hash()).await.unwrap().unwrap();
    assert_eq!(by_token.state, InstanceState::NotAuthorized);
    assert_eq!(by_token.state_reason.as_deref(), Some("token expired"));
}

async fn an_account_resolves_to_its_live_instance_as_connections_change(db: TestDb) {
    let store = db.open().await;
    let account = || Account {
        id: "17841400000000001".into(),
        username: Some("shop".into()),
        business_id: None,
    };
    let (first, _) = instance(&*store, 0).await;
    let (second, _) = instance(&*store, 0).await;
    let connect = |id| {
        store.set_connection(
            id,
            account(),
            SealedToken("sealed".into()),
            InstanceState::Authorized,
            None,
            T0,
        )
    };
    connect(first.id).await.unwrap().unwrap();
    let found = store.instance_by_account(&account().id).await.unwrap().unwrap();
    assert_eq!(found.id, first.id);
    assert!(store.delete_instance(first.id, T0, "gone").await.unwrap());
    assert!(store.instance_by_account(&account().id).await.unwrap().is_none());
    connect(second.id).await.unwrap().unwrap();
    let found = store.instance_by_account(&account().id).await.unwrap().unwrap();
    assert_eq!(found.id, second.id);
}

/// Two nodes on one PostgreSQL database: a change on one reaches the
/// other's instance cache by NOTIFY, before the wake-up for the event the
/// change journaled.
#[tokio::test]
async fn another_node_reads_a_changed_instance_afresh() {
    let Some(db) = TestDb::postgres().await else { return };
    let (a, b) = (db.open().await, db.open().await);
    let (instance, _) = instance(&*b, 0).await;
    let (cached, _) = a.instance(instance.id).await.unwrap().unwrap();
    assert_eq!(cached.state, InstanceState::Authorized);
    let signal = a.notifications_signal();
    let woken = signal.waiter(instance.id);

    b.set_state(instance.id, InstanceState::NotAuthorized, Some("token expired"), T0)
        .await
        .unwrap()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), woken.wait())
        .await
        .expect("node A is woken for the stateChanged event node B journaled");
    let (fresh, _) = a.instance(instance.id).await.unwrap().unwrap();
    assert_eq!(fresh.state, InstanceState::NotAuthorized);
}

async fn everything_is_still_there_after_reopening_the_store(db: TestDb) {
    let store = db.open().await;
    let (instance, _) = instance(&*store, 0).await;
    let Enqueued::Accepted(message) =
        store.enqueue(new_message(instance.id, "kept", T0)).await.unwrap()
    else {
        panic!()
    };
    store.close().await;
    let reopened = db.open().await;
    let kept = reopened.message(instance.id, message.id).await.unwrap().unwrap();
    assert_eq!(kept.content, Content::text("kept"));
    assert_eq!(kept.transitions.len(), 1);
    assert_eq!(reopened.claim_outbound(claim_at(T0, "w")).await.unwrap().len(), 1);
}

async fn a_closed_store_refuses_writes_as_unavailable(db: TestDb) {
    let store = db.open().await;
    let (instance, _) = instance(&*store, 0).await;
    store.close().await;
    let err = store.enqueue(new_message(instance.id, "late", T0)).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

async fn secrets_written_in_clear_before_sealing_are_sealed_when_the_store_opens(db: TestDb) {
    let store = db.open().await;
    let (instance, _) = instance(&*store, 0).await;
    let with_token = Settings {
        webhook_url_token: Some("url-token-0123456789abcdef".into()),
        ..instance.settings.clone()
    };
    store.update_settings(instance.id, &with_token).await.unwrap();
    store.close().await;
    // Stored sealed: neither the secret nor the URL token is readable.
    let secret = instance.webhook_secrets.current.reveal().to_owned();
    let stored_secret = db.stored("webhook_secret", instance.id).await.unwrap();
    let stored_settings = db.stored("settings", instance.id).await.unwrap();
    assert!(!stored_secret.contains(&secret[6..]) && !stored_secret.starts_with("whsec_"));
    assert!(!stored_settings.contains("url-token-0123456789abcdef"), "{stored_settings}");

    // An older chatgate wrote them in clear.
    let clear_settings = serde_json::to_string(&with_token).unwrap().replace('\'', "''");
    db.execute(&format!(
        "UPDATE instances SET webhook_secret = '{secret}', settings = '{clear_settings}' \
         WHERE id = {}",
        instance.id
    ))
    .await;
    let reopened = db.open().await;
    let (read, _) = reopened.instance(instance.id).await.unwrap().unwrap();
    assert_eq!(read.webhook_secrets.current.reveal(), secret);
    assert_eq!(read.settings, with_token);
    assert!(db.stored("webhook_secret", instance.id).await.unwrap().len() > 40);
    assert!(!db.stored("webhook_secret", instance.id).await.unwrap().starts_with("whsec_"));
    assert!(
        !db.stored("settings", instance.id).await.unwrap().contains("url-token-0123456789abcdef")
    );
    reopened.close().await;

    // Another server key cannot open them, and says so without showing them.
    let other = Arc::new(chatgate_core::vault::Vault::new(&[8; chatgate_core::vault::KEY_LEN]));
    let stranger = db.open_with(other).await;
    let error = stranger.instance(instance.id).await.unwrap_err().to_string();
    assert!(error.contains("server key"), "{error}");
    assert!(!error.contains(&secret[6..]) && !error.contains("url-token"), "{error}");
}

fn customer_text(n: usize, at: Timestamp) -> chatgate_core::event::Inbound {
    use chatgate_core::event::{EventPayload, InboundKind, IncomingMessage, Sender};
    chatgate_core::event::Inbound {
        payload: EventPayload::IncomingMessage(IncomingMessage {
            message_id: format!("mid.{n}"),
            from: Sender { id: "u1".into(), username: None, name: None },
            kind: InboundKind::Text,
            text: Some(format!("text {n}")),
            media: None,
            reply_to: None,
            quick_reply_payload: None,
            location: None,
            contact: None,
            story: None,
            referral: None,
        }),
        occurred_at: at,
        platform_time: None,
    }
}

/// Concurrent ingests of several instances are looked up together (dedupe
/// keys, known contacts), yet each pair is its own instance's: a platform
/// id one instance journaled is new to another, and a customer's name one
/// instance learned is not lent to another.
async fn platform_ids_and_contacts_are_matched_within_their_own_instance(db: TestDb) {
    use chatgate_core::store::Ingested;
    let store = db.open().await;
    let (first, _) = instance(&*store, 0).await;
    let (second, _) = instance(&*store, 0).await;
    let mut named = customer_text(1, T0);
    if let Some(sender) = named.payload.sender_mut() {
        sender.name = Some("Ann".into());
    }
    store.ingest(first.id, vec![named], T0).await.unwrap();

    let (again, elsewhere, next) = tokio::join!(
        store.ingest(first.id, vec![customer_text(1, T0)], T0),
        store.ingest(second.id, vec![customer_text(1, T0)], T0),
        store.ingest(first.id, vec![customer_text(2, T0)], T0),
    );
    assert_eq!(again.unwrap(), [Ingested::Duplicate], "a redelivery to the same instance");
    assert!(matches!(elsewhere.unwrap()[..], [Ingested::Stored(_)]), "new to the other instance");
    assert!(matches!(next.unwrap()[..], [Ingested::Stored(_)]));

    let name_in =
        |events: Vec<chatgate_core::Event>| events[0].payload.sender().and_then(|s| s.name.clone());
    let latest_first = store.latest_events(first.id, 1).await.unwrap();
    assert_eq!(name_in(latest_first), Some("Ann".into()), "the instance's own contact");
    let latest_second = store.latest_events(second.id, 1).await.unwrap();
    assert_eq!(name_in(latest_second), None, "another instance's contact is not lent");
}

async fn the_admin_overview_counts_backlogs_per_instance_and_lists_the_latest_events(db: TestDb) {
    let store = db.open().await;
    let (busy, _) = instance(&*store, 0).await;
    let (idle, _) = instance(&*store, 0).await;
    for n in 0..3 {
        store.enqueue(new_message(busy.id, &format!("{n}"), T0)).await.unwrap();
    }
    let events: Vec<_> = (0..5).map(|n| customer_text(n, T0)).collect();
    store.ingest(busy.id, events, T0).await.unwrap();

    let backlogs = store.backlogs().await.unwrap();
    let busy_backlog = backlogs.iter().find(|b| b.instance == busy.id).unwrap();
    assert_eq!(busy_backlog.queued, 3);
    assert_eq!(
        busy_backlog.pending_notifications,
        store.pending_notifications(busy.id).await.unwrap()
    );
    assert!(backlogs.iter().all(|b| b.instance != idle.id), "an idle instance has no row");

    let latest = store.latest_events(busy.id, 2).await.unwrap();
    let seqs: Vec<u64> = latest.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [5, 4], "newest first");
    assert!(store.latest_events(idle.id, 10).await.unwrap().is_empty());
}

async fn the_work_totals_count_queued_messages_and_pending_notifications(db: TestDb) {
    let store = db.open().await;
    let nothing = store.work_totals().await.unwrap();
    assert_eq!(nothing, WorkTotals::default());
    let (first, _) = instance(&*store, 0).await;
    let (second, _) = instance(&*store, 0).await;
    store.enqueue(new_message(first.id, "a", T0)).await.unwrap();
    store.enqueue(new_message(first.id, "b", T0)).await.unwrap();
    store.enqueue(new_message(second.id, "c", T0)).await.unwrap();
    let queued = store.work_totals().await.unwrap();
    assert_eq!(queued.queued_messages, 3);

    // A sent message leaves the queue and its status event waits for the
    // consumer.
    let later = T0.plus(Duration::from_secs(5));
    let claims = store.claim_outbound(claim_at(later, "w")).await.unwrap();
    let claim = claims.into_iter().find(|c| c.instance.id == second.id).unwrap();
    let owner = WorkerId("w".into());
    let done = store.finish_outbound(&claim, &owner, sent(), vec![], later).await.unwrap();
    assert_eq!(done, Finished::Applied);
    let totals = store.work_totals().await.unwrap();
    assert_eq!(totals.queued_messages, 2, "the other instance's claimed head still counts");
    assert!(totals.pending_notifications >= 1, "{totals:?}");
    let oldest = totals.oldest_pending_notification.unwrap();
    assert!(oldest >= T0 && oldest <= later, "{totals:?}");
}

/// An instance with a webhook URL: its notifications are pushed.
async fn pushing_instance(store: &dyn Store) -> InstanceId {
    let (instance, _) = instance(store, 0).await;
    let settings =
        Settings { webhook_url: Some("http://hook.test/in".into()), ..instance.settings };
    store.update_settings(instance.id, &settings).await.unwrap().unwrap();
    instance.id
}

/// The hook worker's concurrent pushes reach the writer together and are
/// finished in one batch: each outcome still lands on its own notification
/// and lane, and a finish whose lease is gone changes nothing.
async fn pushes_finished_together_are_each_recorded_as_if_finished_alone(db: TestDb) {
    use chatgate_core::store::{DeliveryAttempt, HookFinish, NotificationState};
    let store = db.open().await;
    let mut instances = Vec::new();
    for _ in 0..4 {
        let instance = pushing_instance(&*store).await;
        // Two events each: the second waits behind the first.
        let events = vec![customer_text(1, T0), customer_text(2, T0)];
        store.ingest(instance, events, T0).await.unwrap();
        instances.push(instance);
    }
    let worker = claim_at(T0, "w1");
    let claims = store.claim_hooks(worker.clone()).await.unwrap();
    assert_eq!(claims.len(), 4, "one head per instance");
    let claim_of = |id: InstanceId| claims.iter().find(|c| c.instance.id == id).unwrap();
    let attempt = |status: u16| DeliveryAttempt {
        attempt: 1,
        at: T0,
        url: "http://hook.test/in".into(),
        status_code: Some(status),
        latency_ms: 20,
        error: None,
    };
    let retry_at = T0.plus(Duration::from_secs(30));
    let stranger = WorkerId("w2".into());
    let (delivered, retried, dead, lost) = tokio::join!(
        store.finish_hook(
            claim_of(instances[0]),
            &worker.owner,
            attempt(200),
            HookFinish::Delivered
        ),
        store.finish_hook(
            claim_of(instances[1]),
            &worker.owner,
            attempt(503),
            HookFinish::Retry { at: retry_at }
        ),
        store.finish_hook(claim_of(instances[2]), &worker.owner, attempt(500), HookFinish::Dead),
        store.finish_hook(claim_of(instances[3]), &stranger, attempt(200), HookFinish::Delivered),
    );
    assert_eq!(delivered.unwrap(), Finished::Applied);
    assert_eq!(retried.unwrap(), Finished::Applied);
    assert_eq!(dead.unwrap(), Finished::Applied);
    assert_eq!(lost.unwrap(), Finished::LeaseLost, "another worker's finish changes nothing");

    let head_of = |id: InstanceId| {
        let store = store.clone();
        async move {
            let mut all = store.deliveries(id, None, 10).await.unwrap();
            all.sort_by_key(|d| d.receipt_id);
            all
        }
    };
    let first = head_of(instances[0]).await;
    assert_eq!(first[0].state, NotificationState::Delivered);
    assert_eq!(first[0].attempts.len(), 1);
    assert_eq!(first[0].attempts[0].status_code, Some(200));
    let second = head_of(instances[1]).await;
    assert_eq!(second[0].state, NotificationState::Pending);
    assert_eq!(second[0].next_attempt_at, Some(retry_at));
    assert_eq!(second[0].attempts[0].status_code, Some(503));
    let third = head_of(instances[2]).await;
    assert_eq!(third[0].state, NotificationState::Dead);
    let fourth = head_of(instances[3]).await;
    assert_eq!(fourth[0].state, NotificationState::Pending);
    assert!(fourth[0].attempts.is_empty(), "a lost lease records no attempt");

    // The finished lanes are free again: the delivered and the dead one
    // offer their next event now, the retried one its head at its time;
    // the fourth lane is still leased to w1 until its lease ends.
    let now = T0.plus(Duration::from_millis(20));
    let next = store.claim_hooks(claim_at(now, "w1")).await.unwrap();
    let mut got: Vec<(InstanceId, u64)> =
        next.iter().map(|c| (c.instance.id, c.receipt_id)).collect();
    got.sort();
    let mut want = vec![(instances[0], first[1].receipt_id), (instances[2], third[1].receipt_id)];
    want.sort();
    assert_eq!(got, want);
    let later = store.claim_hooks(claim_at(retry_at, "w1")).await.unwrap();
    let retried: Vec<_> = later.iter().filter(|c| c.instance.id == instances[1]).collect();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].receipt_id, second[0].receipt_id);
    assert_eq!(retried[0].attempt, 2);
}

/// Changes that reach the writer together share a transaction; one that
/// fails (here a second instance with a taken id) is undone alone, and the
/// changes before and after it are committed.
async fn a_failing_change_in_a_group_commit_is_undone_alone(db: TestDb) {
    let store = db.open().await;
    let (taken, _) = instance(&*store, 0).await;
    let new = |id: InstanceId| {
        let token = ApiToken::generate();
        NewInstance {
            id,
            kind: ConnectorKind::Sandbox,
            name: "t".into(),
            token_hash: token.hash(),
            token_sealed: String::new(),
            state: InstanceState::Authorized,
            settings: Settings::switches_on(),
            webhook_format: WebhookFormat::Native,
            webhook_secret: WebhookSecret::generate(),
            account: None,
            service_secret_sealed: String::new(),
            created_at: T0,
        }
    };
    let (before, after) = (InstanceId::generate(), InstanceId::generate());
    let (first, clash, message, last) = tokio::join!(
        store.create_instance(new(before)),
        store.create_instance(new(taken.id)),
        store.enqueue(new_message(taken.id, "still queued", T0)),
        store.create_instance(new(after)),
    );
    assert!(clash.is_err(), "an id that is taken is refused");
    first.unwrap();
    message.unwrap();
    last.unwrap();
    store.close().await;

    let reopened = db.open().await;
    assert!(reopened.instance(before).await.unwrap().is_some());
    assert!(reopened.instance(after).await.unwrap().is_some());
    assert_eq!(reopened.queue_count(taken.id).await.unwrap(), 1);
    assert_eq!(reopened.instances().await.unwrap().len(), 3);
}

/// A lane can be due with nothing to push (its notifications were cleared
/// while a worker held it, and the lease ran out). A claim for one push
/// passes over it to the next due lane instead of coming back empty.
async fn a_due_lane_with_nothing_to_push_does_not_hide_the_next_one(db: TestDb) {
    let store = db.open().await;
    let (emptied, next) = (pushing_instance(&*store).await, pushing_instance(&*store).await);
    store.ingest(emptied, vec![customer_text(1, T0)], T0).await.unwrap();
    let mut one = claim_at(T0, "w1");
    one.limit = 1;
    assert_eq!(store.claim_hooks(one).await.unwrap().len(), 1);
    // Cleared while leased: the lane stays due at the lease's end, empty.
    store.clear_notifications(emptied).await.unwrap();
    let after_lease = T0.plus(Duration::from_secs(61));
    store.ingest(next, vec![customer_text(2, after_lease)], after_lease).await.unwrap();

    let mut one = claim_at(after_lease.plus(Duration::from_secs(1)), "w2");
    one.limit = 1;
    let claims = store.claim_hooks(one).await.unwrap();
    assert_eq!(claims.len(), 1, "the empty lane first in line is passed over");
    assert_eq!(claims[0].instance.id, next);
}
