//! OAuth 2.0 client credentials: API clients, token issue and verification.
