-- Failed-credential counters of the login and token endpoints (src/auth/throttle.rs): one row per
-- (scope, subject) — a submitted username, a client id or a source address — counted in the
-- database by one INSERT … ON CONFLICT … RETURNING per attempt, before the credential is
-- checked, so that parallel requests and several replicas share one count.
-- scope: login_user | login_address | token_client | token_address.
-- window_start: the first attempt of the current window (epoch ms); attempts: attempts counted
-- in it that have not proved right; locked_until: set when attempts reach the scope's limit.
CREATE TABLE auth_throttle (
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    locked_until BIGINT,
    PRIMARY KEY (scope, subject)
);
CREATE INDEX auth_throttle_window ON auth_throttle (window_start);
