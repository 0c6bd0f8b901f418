//! The OpenAPI document (`GET /api/v1/schema`) generated from the handlers' `#[utoipa::path]` attributes,
//! and the Swagger UI page that renders it (`GET /api/v1/docs`, assets vendored in the binary: it works
//! offline). Both are public: the document holds no patient data, and a browser opening the page cannot
//! send a bearer token; the page's "Authorize" button takes one for the calls it tries.
//!
//! Adding a route to the document is one line in `paths(...)` below.

use axum::Router;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_swagger_ui::SwaggerUi;

use crate::AppState;

/// Where the document is served.
pub(crate) const SCHEMA_PATH: &str = "/api/v1/schema";
/// Where the Swagger UI page is served.
pub(crate) const DOCS_PATH: &str = "/api/v1/docs";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "idem",
        description = "idem, an Enterprise Master Patient Index: persons, their source records, potential \
                       matches for review, the audit trail, and the durable runs that import and match."
    ),
    paths(
        super::health::health_check,
        super::runs::list,
        super::runs::read,
        super::runs::resume,
        super::runs::cancel,
        super::persons::list,
        super::persons::read,
        super::events::history,
        super::potential_matches::list,
        super::potential_matches::read,
        super::events::list,
        super::configs::create,
        super::configs::list,
        super::configs::read,
        super::imports::import,
        super::imports::read_job,
        super::imports::data_sources,
        super::plugins::list,
        super::users::list,
        super::users::set_role,
        super::matches::create_match,
        super::matches::split,
        super::matches::merge,
        super::exports::person_records,
        super::exports::potential_matches,
    ),
    modifiers(&BearerAuth)
)]
pub(crate) struct ApiDoc;

/// The `bearer` security scheme every protected route names.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
    }
}

/// The error body of every error response (see `crate::error::ApiError`).
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    error: ErrorInner,
}

/// The error itself.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorInner {
    /// Machine-readable: `validation_failed`, `invalid_id`, `unauthorized`, `forbidden`, `not_found`,
    /// `conflict`, `internal`.
    code: String,
    /// For people.
    message: String,
    /// Present when not empty.
    details: Option<Vec<ErrorDetail>>,
}

/// One problem of a request.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// The dotted path of the offending field, when there is one.
    field: Option<String>,
    message: String,
}

/// The document and the docs page, mounted at their absolute paths.
pub(crate) fn routes() -> Router<AppState> {
    SwaggerUi::new(DOCS_PATH)
        .url(SCHEMA_PATH, ApiDoc::openapi())
        .into()
}
