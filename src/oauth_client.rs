//! The OAuth 2.0 client side, for `pagepilot token`: the client_credentials grant with the
//! `oauth2` crate against a pagepilot (or any RFC 6749) token endpoint.

use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};

/// An access token for `client_id` from `server`'s `/oauth/token`.
pub async fn client_credentials(
    server: &str,
    client_id: &str,
    secret: &str,
    scope: &str,
) -> Result<String, String> {
    let url = format!("{}/oauth/token", server.trim_end_matches('/'));
    let token_url =
        TokenUrl::new(url.clone()).map_err(|e| format!("invalid server URL `{server}`: {e}"))?;
    let client = BasicClient::new(ClientId::new(client_id.to_string()))
        .set_client_secret(ClientSecret::new(secret.to_string()))
        .set_token_uri(token_url);
    // oauth2 brings no HTTP client; redirects off, as RFC 6749 §3.1 asks of token requests.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let answer = client
        .exchange_client_credentials()
        .add_scope(Scope::new(scope.to_string()))
        .request_async(&http)
        .await
        .map_err(|e| match e {
            oauth2::RequestTokenError::ServerResponse(r) => {
                format!(
                    "{url} refused: {} ({})",
                    r.error(),
                    r.error_description().map(String::as_str).unwrap_or("")
                )
            }
            other => format!("token request to {url} failed: {other}"),
        })?;
    Ok(answer.access_token().secret().clone())
}
