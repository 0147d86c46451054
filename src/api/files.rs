//! A session's files over HTTP (issue 15), for every protocol's sessions (ids are shared):
//! `GET /v1/sessions/{id}/files` lists them, `POST` uploads one (multipart with a `file` field,
//! or JSON `{name, contentBase64}`), `GET …/files/{name}` fetches one, `DELETE` removes it.
//! Uploads have their own body cap (`max_file_bytes`), larger than other requests'.

use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::auth::Tenant;
use super::errors::{session_failure, ApiError};
use super::AppState;
use crate::engine::files::{FileEntry, SessionFiles};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions/{id}/files", get(list).post(upload))
        .route("/v1/sessions/{id}/files/{name}", get(fetch).delete(remove))
}

/// The largest upload body: the file cap in base64 (4/3) plus room for the JSON or the
/// multipart envelope.
pub fn upload_body_limit(max_file_bytes: u64) -> usize {
    let b64 = max_file_bytes.saturating_mul(4) / 3;
    usize::try_from(b64.saturating_add(64 * 1024)).unwrap_or(usize::MAX)
}

/// A file as the list answers it, with where to fetch it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct Listed {
    #[serde(flatten)]
    file: FileEntry,
    url: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct FileList {
    success: bool,
    files: Vec<Listed>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct FileAnswer {
    success: bool,
    file: Listed,
}

fn listed(id: &str, file: FileEntry) -> Listed {
    let url = format!(
        "/v1/sessions/{id}/files/{}",
        url::form_urlencoded::byte_serialize(file.name.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    );
    Listed { file, url }
}

async fn files_of(
    st: &AppState,
    tenant: &str,
    id: &str,
) -> Result<std::sync::Arc<SessionFiles>, ApiError> {
    st.sessions.files(tenant, id).await.map_err(session_failure)
}

#[utoipa::path(operation_id = "files_list", get, path = "/v1/sessions/{id}/files", tag = "files", security(("bearer" = [])), params(("id" = String, Path, description = "The session id")),
    responses((status = 200, description = "The session's files", body = FileList), super::openapi::SessionErrors))]
async fn list(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<FileList>, ApiError> {
    let files = files_of(&st, &tenant, &id).await?;
    let files = files.list().into_iter().map(|f| listed(&id, f)).collect();
    Ok(Json(FileList {
        success: true,
        files,
    }))
}

/// An upload as JSON.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsonUpload {
    /// The file's name in the session (a name, never a path).
    name: String,
    /// Its bytes, base64.
    content_base64: String,
}

#[utoipa::path(operation_id = "files_upload", post, path = "/v1/sessions/{id}/files", tag = "files", security(("bearer" = [])), params(("id" = String, Path, description = "The session id")),
    request_body(content = JsonUpload, description = "JSON {name, contentBase64}, or multipart/form-data with a `file` field (its filename is the name; a `name` field overrides it)"),
    responses((status = 201, description = "The stored file", body = FileAnswer), super::openapi::SessionErrors))]
async fn upload(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    req: axum::extract::Request,
) -> Result<(StatusCode, Json<FileAnswer>), ApiError> {
    let files = files_of(&st, &tenant, &id).await?;
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (name, bytes) = if kind.starts_with("multipart/form-data") {
        let mut parts = <Multipart as axum::extract::FromRequest<()>>::from_request(req, &())
            .await
            .map_err(|e| ApiError::bad_request(format!("invalid multipart body: {e}")))?;
        let (mut name, mut file) = (None, None);
        while let Some(field) = parts.next_field().await.map_err(|e| multipart_error(&e))? {
            match field.name() {
                Some("file") => {
                    let filename = field.file_name().map(str::to_string);
                    let data = field.bytes().await.map_err(|e| multipart_error(&e))?;
                    file = Some((filename, data));
                }
                Some("name") => {
                    name = Some(field.text().await.map_err(|e| multipart_error(&e))?);
                }
                _ => {}
            }
        }
        let Some((filename, data)) = file else {
            return Err(ApiError::bad_request(
                "the multipart body has no `file` field",
            ));
        };
        let name = name.or(filename).ok_or_else(|| {
            ApiError::bad_request("the `file` field has no filename: add a `name` field")
        })?;
        (name, data.to_vec())
    } else {
        let body: Bytes = axum::body::to_bytes(req.into_body(), usize::MAX)
            .await
            .map_err(|e| ApiError::bad_request(format!("cannot read the body: {e}")))?;
        let up: JsonUpload = super::errors::parse_json(&body, "upload")?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(up.content_base64.as_bytes())
            .map_err(|e| ApiError::bad_request(format!("invalid upload: contentBase64: {e}")))?;
        (up.name, bytes)
    };
    let entry = files.put(&name, bytes, "upload").await?;
    Ok((
        StatusCode::CREATED,
        Json(FileAnswer {
            success: true,
            file: listed(&id, entry),
        }),
    ))
}

fn multipart_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    let status = e.status();
    ApiError::new(
        if status.is_client_error() {
            status
        } else {
            StatusCode::BAD_REQUEST
        },
        format!("invalid multipart body: {}", e.body_text()),
    )
}

#[utoipa::path(operation_id = "files_fetch", get, path = "/v1/sessions/{id}/files/{name}", tag = "files", security(("bearer" = [])),
    params(("id" = String, Path, description = "The session id"), ("name" = String, Path, description = "The file's name")),
    responses((status = 200, description = "The file's bytes (its MIME type; X-Content-SHA256 its hash)"), super::openapi::SessionErrors))]
async fn fetch(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let files = files_of(&st, &tenant, &id).await?;
    let (entry, bytes) = files.read(&name).await?;
    let disposition = format!("attachment; filename=\"{}\"", entry.name);
    Ok((
        [
            (header::CONTENT_TYPE, entry.mime_type.clone()),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::HeaderName::from_static("x-content-sha256"),
                entry.sha256.clone(),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        bytes,
    )
        .into_response())
}

#[utoipa::path(operation_id = "files_delete", delete, path = "/v1/sessions/{id}/files/{name}", tag = "files", security(("bearer" = [])),
    params(("id" = String, Path, description = "The session id"), ("name" = String, Path, description = "The file's name")),
    responses((status = 200, description = "The deleted file", body = FileAnswer), super::openapi::SessionErrors))]
async fn remove(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    Path((id, name)): Path<(String, String)>,
) -> Result<Json<FileAnswer>, ApiError> {
    let files = files_of(&st, &tenant, &id).await?;
    let entry = files.delete(&name).await?;
    Ok(Json(FileAnswer {
        success: true,
        file: listed(&id, entry),
    }))
}
