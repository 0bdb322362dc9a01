//! API clients for tests: made through the store of an app state, with a token its `Auth` issued
//! for all their scopes.

use rosterhub::auth::Scopes;
use rosterhub::http::AppState;
use rosterhub::storage::clients::ClientSettings;

/// A new API client: its id, its secret (for `/oauth/token`) and a token.
pub struct TestClient {
    pub id: String,
    pub secret: String,
    pub token: String,
}

/// A new client of `tenant` with `scopes` and no restrictions.
pub async fn client(state: &AppState, tenant: &str, scopes: Scopes) -> TestClient {
    client_with(state, tenant, scopes, ClientSettings::default()).await
}

/// A new client of `tenant` with `scopes` and `settings` (allow-list, rate limit, org scope).
pub async fn client_with(
    state: &AppState,
    tenant: &str,
    scopes: Scopes,
    settings: ClientSettings,
) -> TestClient {
    // Named "test": the clients API tests list a server's own client under that name.
    let new = state
        .store
        .create_client_with(tenant, "test", scopes, settings)
        .await
        .unwrap();
    let token = state
        .auth
        .issue(tenant, &new.record.client_id, scopes)
        .unwrap()
        .access_token;
    TestClient {
        id: new.record.client_id,
        secret: new.client_secret,
        token,
    }
}
