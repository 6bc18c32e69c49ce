//! The admin pages: sign-in, the instances list, one instance (settings,
//! queue, messages, events, deliveries) and the actions on them.

use std::collections::HashMap;
use std::time::Duration;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chatgate_core::event::EventId;
use chatgate_core::gateway::CreateInstance;
use chatgate_core::{
    ConnectorKind, DelayPolicy, InstanceId, Settings, SettingsPatch, WebhookFormat,
};
use serde::Deserialize;

use super::page::{AdminError, AdminResult, render, when};
use super::session::{self, AdminForm, AdminSession};
use super::views::{
    CreatedPage, DeletePage, DeliveryRow, EventRow, InstancePage, InstanceRow, InstancesPage,
    LoginPage, MessageRow, switches,
};
use crate::AppState;

/// How far back the recent messages reach.
const RECENT_MESSAGES: Duration = Duration::from_secs(30 * 24 * 3600);
/// How many events and deliveries an instance page shows.
const RECENT_ROWS: usize = 50;

/// `/admin`: the instances, or the sign-in page.
pub async fn home() -> Redirect {
    Redirect::to("/admin/instances")
}

/// `GET /admin/login`.
pub async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    login_form(&state, &headers, StatusCode::OK, None)
}

fn login_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let (nonce, login_csrf) = session::login_form(&state.partner);
    let page = LoginPage { csrf: String::new(), login_csrf, error };
    let mut response = (status, render(&page)).into_response();
    response.headers_mut().append(header::SET_COOKIE, session::login_cookie(headers, &nonce));
    response
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
    csrf: String,
}

/// `POST /admin/login`: the partner token buys a session.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "The form is too large."
            } else {
                "The form could not be read."
            };
            return login_form(&state, &headers, status, Some(message.into()));
        }
    };
    let nonce = session::cookie(&headers, session::LOGIN_COOKIE).unwrap_or_default();
    if !session::login_form_genuine(&state.partner, nonce, &form.csrf) {
        return login_form(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            Some("The sign-in form expired. Try again.".into()),
        );
    }
    if !state.partner.may_sign_in() {
        tracing::warn!("admin sign-in refused: too many attempts");
        return login_form(
            &state,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many sign-in attempts. Wait a minute and try again.".into()),
        );
    }
    if !state.partner.matches(form.token.trim()) {
        tracing::warn!("an admin sign-in with a wrong partner token");
        return login_form(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            Some("That is not the partner token.".into()),
        );
    }
    let (value, _) = session::issue(&state.partner, state.gateway.clock().now());
    tracing::info!("the operator signed in to the admin UI");
    let mut response = Redirect::to("/admin/instances").into_response();
    let headers_out = response.headers_mut();
    headers_out.append(header::SET_COOKIE, session::session_cookie(&headers, &value));
    headers_out
        .append(header::SET_COOKIE, session::set_cookie(&headers, session::LOGIN_COOKIE, "", 0));
    response
}

/// `POST /admin/logout`.
pub async fn logout(headers: HeaderMap, _: AdminForm<Empty>) -> Response {
    let mut response = Redirect::to("/admin/login").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, session::set_cookie(&headers, session::SESSION_COOKIE, "", 0));
    response
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Deserialize)]
pub struct Empty {}

/// How many instances one page of the list shows.
const PAGE_SIZE: usize = 100;

/// `?q=&page=` of the instances list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Part of an id or a name (case-insensitive).
    #[serde(default)]
    q: String,
    /// From 1.
    page: Option<usize>,
}

/// `GET /admin/instances`: a page of instances, filtered by `q`.
pub async fn instances(
    State(state): State<AppState>,
    session: AdminSession,
    Query(query): Query<ListQuery>,
) -> AdminResult<Response> {
    let needle = query.q.trim().to_lowercase();
    let mut instances = state.gateway.instances().await?;
    if !needle.is_empty() {
        instances.retain(|i| {
            i.id.to_string().contains(&needle) || i.name.to_lowercase().contains(&needle)
        });
    }
    let total = instances.len();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = query.page.unwrap_or(1).clamp(1, pages);
    let instances: Vec<_> =
        instances.into_iter().skip((page - 1) * PAGE_SIZE).take(PAGE_SIZE).collect();
    let backlogs: HashMap<InstanceId, (u64, u64)> = state
        .gateway
        .store()
        .backlogs()
        .await
        .map_err(|e| AdminError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?
        .into_iter()
        .map(|b| (b.instance, (b.queued, b.pending_notifications)))
        .collect();
    let rows = instances
        .iter()
        .map(|i| {
            let (queued, pending) = backlogs.get(&i.id).copied().unwrap_or_default();
            InstanceRow {
                id: i.id.to_string(),
                name: i.name.clone(),
                kind: i.kind.to_string(),
                state: i.state.to_string(),
                state_reason: i.state_reason.clone(),
                queued,
                pending,
                sandbox: i.kind == ConnectorKind::Sandbox,
            }
        })
        .collect();
    let link = |page: usize| {
        let query =
            serde_urlencoded::to_string([("q", query.q.as_str()), ("page", &page.to_string())])
                .unwrap_or_default();
        format!("/admin/instances?{query}")
    };
    Ok(render(&InstancesPage {
        csrf: session.csrf().to_owned(),
        rows,
        q: query.q.clone(),
        total,
        page,
        pages,
        previous: (page > 1).then(|| link(page - 1)),
        next: (page < pages).then(|| link(page + 1)),
    }))
}

/// The new-instance form.
#[derive(Debug, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    kind: String,
}

/// `POST /admin/instances`: creates an instance and sends the browser on
/// to the page that shows its token once. The token travels there sealed in
/// a short-lived cookie of that page's path, so reloading that page or going
/// back never posts the form again (no second instance) and never shows the
/// token twice.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    AdminForm { form, .. }: AdminForm<CreateForm>,
) -> AdminResult<Response> {
    let kind = form
        .kind
        .parse::<ConnectorKind>()
        .map_err(|e| AdminError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let settings = SettingsPatch::default()
        .apply(&Settings::switches_on(), DelayPolicy::Native)
        .map_err(chatgate_core::Error::Invalid)?;
    let created = state
        .gateway
        .create_instance(CreateInstance {
            kind,
            name: form.name.trim().to_owned(),
            settings,
            webhook_format: WebhookFormat::Native,
        })
        .await?;
    let id = created.instance.id;
    tracing::info!(instance = %id, kind = %kind, "instance created in the admin UI");
    let sealed = state.gateway.policy().vault.seal(created.token.reveal(), &created_context(id));
    let path = format!("/admin/instances/{id}/created");
    let mut response = Redirect::to(&path).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie_at(&headers, session::CREATED_COOKIE, &sealed, &path, 300),
    );
    Ok(response)
}

fn created_context(id: InstanceId) -> String {
    format!("admin-created:{id}")
}

/// `GET /admin/instances/{id}/created`: the new instance's token, once.
pub async fn created(
    State(state): State<AppState>,
    session: AdminSession,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> AdminResult<Response> {
    let id = instance_id(&raw)?;
    let token = session::cookie(&headers, session::CREATED_COOKIE)
        .and_then(|sealed| state.gateway.policy().vault.open(sealed, &created_context(id)));
    let Some(api_token) = token else {
        // Shown already (or never made here): the instance page it is.
        return Ok(Redirect::to(&format!("/admin/instances/{id}")).into_response());
    };
    let instance = state.gateway.instance(id).await?;
    let page = CreatedPage {
        csrf: session.csrf().to_owned(),
        id: id.to_string(),
        name: instance.name.clone(),
        kind: instance.kind.to_string(),
        api_token,
        sandbox: instance.kind == ConnectorKind::Sandbox,
    };
    let mut response = render(&page);
    let path = format!("/admin/instances/{id}/created");
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie_at(&headers, session::CREATED_COOKIE, "", &path, 0),
    );
    Ok(response)
}

/// An instance id from the path.
pub(crate) fn instance_id(raw: &str) -> AdminResult<InstanceId> {
    raw.parse::<u64>()
        .ok()
        .and_then(InstanceId::new)
        .ok_or_else(|| AdminError::not_found(format!("There is no instance {raw}.")))
}

/// What the instance page says after an action (`?done=`).
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// `GET /admin/instances/{id}`.
pub async fn instance(
    State(state): State<AppState>,
    session: AdminSession,
    Path(raw): Path<String>,
    Query(done): Query<Done>,
) -> AdminResult<Response> {
    let id = instance_id(&raw)?;
    let gateway = &state.gateway;
    let instance = gateway.instance(id).await?;
    let store = gateway.store();
    let unavailable = |e: chatgate_core::store::StoreError| {
        AdminError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    };
    // The page shows the heads of the lists (each message's timeline is
    // read with it), so it stays quick on a busy instance.
    let queue = store.queue(id, RECENT_ROWS).await.map_err(unavailable)?;
    let since = gateway.clock().now().minus(RECENT_MESSAGES);
    let messages = store.messages_since(id, since, RECENT_ROWS).await.map_err(unavailable)?;
    let events = store.latest_events(id, RECENT_ROWS).await.map_err(unavailable)?;
    let deliveries = gateway.deliveries(id, None, RECENT_ROWS).await?;
    let notice = done.done.as_deref().and_then(|done| match done {
        "settings" => Some(String::from("Settings saved.")),
        "redelivered" => Some(String::from("Queued for delivery again.")),
        _ => None,
    });
    let page = InstancePage {
        csrf: session.csrf().to_owned(),
        id: id.to_string(),
        name: instance.name.clone(),
        kind: instance.kind.to_string(),
        state: instance.state.to_string(),
        state_reason: instance.state_reason.clone(),
        account: instance.account.as_ref().map(|a| match &a.username {
            Some(username) => format!("{} (@{username})", a.id),
            None => a.id.clone(),
        }),
        created_at: when(instance.created_at),
        sandbox: instance.kind == ConnectorKind::Sandbox,
        notice,
        webhook_url: instance.settings.webhook_url.clone().unwrap_or_default(),
        webhook_token_set: instance.settings.webhook_url_token.is_some(),
        delay_ms: instance.settings.delay_send_messages_milliseconds,
        switches: switches(&instance),
        queue: queue.iter().map(MessageRow::from).collect(),
        messages: messages.iter().map(MessageRow::from).collect(),
        events: events.iter().map(EventRow::from).collect(),
        deliveries: deliveries.iter().map(DeliveryRow::from).collect(),
    };
    Ok(render(&page))
}

/// The settings form: every switch is a checkbox (absent = off).
#[derive(Debug, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    webhook_url: String,
    #[serde(default)]
    webhook_url_token: String,
    clear_webhook_url_token: Option<String>,
    #[serde(default)]
    delay_send_messages_milliseconds: String,
    incoming_webhook: Option<String>,
    outgoing_webhook: Option<String>,
    outgoing_message_webhook: Option<String>,
    outgoing_api_message_webhook: Option<String>,
    state_webhook: Option<String>,
    edited_message_webhook: Option<String>,
    deleted_message_webhook: Option<String>,
    mark_incoming_messages_readed: Option<String>,
    mark_incoming_messages_readed_on_reply: Option<String>,
    human_agent_tag: Option<String>,
}

impl SettingsForm {
    fn patch(self) -> AdminResult<SettingsPatch> {
        let delay = self.delay_send_messages_milliseconds.trim();
        let delay = if delay.is_empty() {
            None
        } else {
            Some(delay.parse::<i64>().map_err(|_| {
                AdminError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "The gap between sends must be a whole number of milliseconds.",
                )
            })?)
        };
        let token = if self.clear_webhook_url_token.is_some() {
            Some(None)
        } else if self.webhook_url_token.is_empty() {
            None
        } else {
            Some(Some(self.webhook_url_token))
        };
        let url = self.webhook_url.trim();
        Ok(SettingsPatch {
            webhook_url: Some((!url.is_empty()).then(|| url.to_owned())),
            webhook_url_token: token,
            delay_send_messages_milliseconds: delay,
            incoming_webhook: Some(self.incoming_webhook.is_some()),
            outgoing_webhook: Some(self.outgoing_webhook.is_some()),
            outgoing_message_webhook: Some(self.outgoing_message_webhook.is_some()),
            outgoing_api_message_webhook: Some(self.outgoing_api_message_webhook.is_some()),
            state_webhook: Some(self.state_webhook.is_some()),
            edited_message_webhook: Some(self.edited_message_webhook.is_some()),
            deleted_message_webhook: Some(self.deleted_message_webhook.is_some()),
            mark_incoming_messages_readed: Some(self.mark_incoming_messages_readed.is_some()),
            mark_incoming_messages_readed_on_reply: Some(
                self.mark_incoming_messages_readed_on_reply.is_some(),
            ),
            human_agent_tag: Some(self.human_agent_tag.is_some()),
            ..SettingsPatch::default()
        })
    }
}

/// `POST /admin/instances/{id}/settings`.
pub async fn settings(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    AdminForm { form, .. }: AdminForm<SettingsForm>,
) -> AdminResult<Redirect> {
    let id = instance_id(&raw)?;
    let patch = form.patch()?;
    state.gateway.update_settings(id, &patch, DelayPolicy::Native).await?;
    tracing::info!(instance = %id, "settings changed in the admin UI");
    Ok(Redirect::to(&format!("/admin/instances/{id}?done=settings#settings")))
}

/// `GET /admin/instances/{id}/delete`: asks first.
pub async fn confirm_delete(
    State(state): State<AppState>,
    session: AdminSession,
    Path(raw): Path<String>,
) -> AdminResult<Response> {
    let id = instance_id(&raw)?;
    let instance = state.gateway.instance(id).await?;
    Ok(render(&DeletePage {
        csrf: session.csrf().to_owned(),
        id: id.to_string(),
        name: instance.name,
    }))
}

/// `POST /admin/instances/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    _: AdminForm<Empty>,
) -> AdminResult<Redirect> {
    let id = instance_id(&raw)?;
    state.gateway.delete_instance(id).await?;
    tracing::info!(instance = %id, "instance deleted in the admin UI");
    Ok(Redirect::to("/admin/instances"))
}

/// `POST /admin/instances/{id}/deliveries/{event}/redeliver`.
pub async fn redeliver(
    State(state): State<AppState>,
    Path((raw, event)): Path<(String, String)>,
    _: AdminForm<Empty>,
) -> AdminResult<Redirect> {
    let id = instance_id(&raw)?;
    let event = event
        .parse::<EventId>()
        .map_err(|_| AdminError::not_found(format!("There is no event {event}.")))?;
    state.gateway.redeliver(id, event).await?;
    tracing::info!(instance = %id, event = %event, "event queued again in the admin UI");
    Ok(Redirect::to(&format!("/admin/instances/{id}?done=redelivered#deliveries")))
}
