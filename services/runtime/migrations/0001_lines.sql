-- The lines of every factory: known from their first valid event, or from their settings.
CREATE TABLE line (
    factory     text        NOT NULL,
    line        text        NOT NULL,
    settings    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (factory, line)
);
