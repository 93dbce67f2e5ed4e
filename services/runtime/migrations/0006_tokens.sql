-- API tokens with roles (issue 7). A token is `fs_<id>_<secret>`: the id is public (listed,
-- revoked by), the secret is 32 random bytes of which only the SHA-256 is kept. A fast hash is
-- right for a secret of that strength: there is nothing to guess, so nothing to slow down.
--
-- `factories` is empty for an admin token (all factories) and holds one or more factories for
-- every other role; a revoked token keeps its row (and its id) so that listing shows it.
CREATE TABLE api_token (
    id           text        PRIMARY KEY CHECK (id ~ '^[a-z0-9]{12}$'),
    secret_hash  bytea       NOT NULL CHECK (length(secret_hash) = 32),
    role         text        NOT NULL CHECK (role IN ('admin', 'manager', 'integrator', 'board')),
    factories    text[]      NOT NULL DEFAULT '{}',
    label        text        NOT NULL DEFAULT '' CHECK (length(label) <= 200),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    CHECK ((role = 'admin') = (cardinality(factories) = 0))
);
