//! The OpenAPI 3.1 document of the native API, built from the routes' own
//! `#[utoipa::path]` annotations (a route and its documentation are one
//! declaration, see [`crate::native::router`]), served at
//! `GET /api/openapi.json`, and Swagger UI at `/api/docs` with its assets
//! embedded in the binary: the page loads nothing from another host.
//!
//! Both are public documentation: no token is needed.

use axum::Router;
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{InfoBuilder, OpenApi, RefOr, Required};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::AppState;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/openapi.json";
/// Where Swagger UI is served (`/api/docs` redirects to `/api/docs/`).
pub const UI_PATH: &str = "/api/docs";

const DESCRIPTION: &str = "chatgate's own REST API: instances, settings, \
sending, the queue, chats, events (pull, journal, replay), webhook \
deliveries and the sandbox customer. Errors are \
`{\"code\", \"detail\", \"field\"?}` with the matching status. \
Authorization is `Bearer <token>`: the partner token for the admin \
routes, an instance's API token (or the partner token) for that \
instance's routes.";

/// The areas of the API, in the order Swagger UI shows them.
const TAGS: [(&str, &str); 7] = [
    ("instances", "Create, list, show, delete and connect instances (partner token)"),
    ("settings", "An instance's settings, its webhook signing secret and service secret"),
    ("messages", "Sending and the outbound queue"),
    ("chats", "Marking read, typing, and what is known of a contact"),
    ("events", "Pulling notifications, the journal, redelivery and replay"),
    ("deliveries", "Webhook pushes of notifications, with every attempt"),
    ("sandbox", "Playing the customer of a sandbox instance"),
];

/// The complete document: the routes' paths and schemas with the API's
/// info, tags and security schemes.
pub fn document(routes: OpenApi) -> OpenApi {
    let mut doc = routes;
    doc.info = InfoBuilder::new()
        .title("chatgate")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(DESCRIPTION))
        .build();
    doc.tags = Some(
        TAGS.iter()
            .map(|(name, description)| {
                TagBuilder::new().name(*name).description(Some(*description)).build()
            })
            .collect(),
    );
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme("partnerToken", bearer("The operator's partner token"));
    components.add_security_scheme(
        "instanceToken",
        bearer("The instance's API token, shown once when the instance is created"),
    );
    optional_bodies_are_absent(&mut doc);
    doc
}

/// An optional body (`request_body = Option<T>`) comes out as "T or null";
/// such a body may be left out, but `null` is refused like any other
/// value that is not a T: the schema is T.
fn optional_bodies_are_absent(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        for operation in operations.into_iter().flatten() {
            let Some(RefOr::T(body)) = &mut operation.request_body else { continue };
            if matches!(body.required, Some(Required::True)) {
                continue;
            }
            for content in body.content.values_mut() {
                let RefOr::T(content) = content else { continue };
                if let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema {
                    let mut not_null = one_of.items.iter().filter(|s| !is_null(s)).cloned();
                    if let (Some(only), None) = (not_null.next(), not_null.next()) {
                        content.schema = Some(only);
                    }
                }
            }
        }
    }
}

fn is_null(schema: &RefOr<Schema>) -> bool {
    matches!(schema, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null))
}

fn bearer(description: &str) -> SecurityScheme {
    SecurityScheme::Http(
        HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some(description)).build(),
    )
}

/// `GET /api/openapi.json` and Swagger UI, for the document of `routes`.
pub fn router(routes: OpenApi) -> Router<AppState> {
    let config = Config::new([DOCUMENT_PATH]).validator_url("none");
    SwaggerUi::new(UI_PATH).url(DOCUMENT_PATH, document(routes)).config(config).into()
}
