//! A tenant's saved profiles over REST, whichever protocol saved them: `GET /v1/profiles`
//! lists them, `GET /v1/profiles/{name}` describes one, `DELETE /v1/profiles/{name}` removes
//! it. Saving is an action of a session (Capture `save_profile`, the agent API's
//! `POST /sessions/{id}/profiles`); starting from one is each protocol's create option
//! `profile`. Another tenant's profile is not found, exactly like an unknown name.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::auth::Tenant;
use super::errors::ApiError;
use super::AppState;
use crate::engine::actions::output::SavedProfile;
use crate::engine::EngineError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/profiles", get(list))
        .route("/v1/profiles/{name}", get(read).delete(remove))
}

#[derive(Serialize, utoipa::ToSchema)]
struct ProfileList {
    success: bool,
    profiles: Vec<SavedProfile>,
}

/// One profile: what `GET /v1/profiles/{name}` and the agent API's save answer.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ProfileAnswer {
    pub success: bool,
    pub profile: SavedProfile,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Deleted {
    success: bool,
    deleted: String,
}

fn failed(e: crate::sessions::profiles::ProfileError) -> ApiError {
    EngineError::from(e).into()
}

#[utoipa::path(operation_id = "profiles_list", get, path = "/v1/profiles", tag = "profiles", security(("bearer" = [])),
    responses((status = 200, description = "Your saved profiles, by name", body = ProfileList), super::openapi::ProfileErrors))]
async fn list(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
) -> Result<Json<ProfileList>, ApiError> {
    let all = st.sessions.profiles().list(&tenant).await.map_err(failed)?;
    Ok(Json(ProfileList {
        success: true,
        profiles: all.into_iter().map(SavedProfile::from).collect(),
    }))
}

#[utoipa::path(operation_id = "profiles_read", get, path = "/v1/profiles/{name}", tag = "profiles", security(("bearer" = [])), params(("name" = String, Path, description = "The profile's name")),
    responses((status = 200, description = "The profile", body = ProfileAnswer), super::openapi::ProfileErrors))]
async fn read(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
) -> Result<Json<ProfileAnswer>, ApiError> {
    let name = crate::sessions::profiles::checked_name(&name).map_err(failed)?;
    let all = st.sessions.profiles().list(&tenant).await.map_err(failed)?;
    let found = all.into_iter().find(|m| m.name == name).ok_or_else(|| {
        failed(crate::sessions::profiles::ProfileError::NotFound(
            name.to_string(),
        ))
    })?;
    Ok(Json(ProfileAnswer {
        success: true,
        profile: found.into(),
    }))
}

#[utoipa::path(operation_id = "profiles_delete", delete, path = "/v1/profiles/{name}", tag = "profiles", security(("bearer" = [])), params(("name" = String, Path, description = "The profile's name")),
    responses((status = 200, description = "Deleted", body = Deleted), super::openapi::ProfileErrors))]
async fn remove(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
) -> Result<Json<Deleted>, ApiError> {
    st.sessions
        .profiles()
        .delete(&tenant, &name)
        .await
        .map_err(failed)?;
    Ok(Json(Deleted {
        success: true,
        deleted: name,
    }))
}
